"""Plotly figures for the notebooks, and the feature-map explorer.

Figure functions take plain data and return ``plotly.graph_objects.Figure``; :func:`save_figure`
writes HTML and JSON always and a PNG when static export works (kaleido ≥ 1 with a Chromium).
The explorer's logic is :func:`explorer_figure` (pure, testable); :func:`make_explorer` only wires
ipywidgets to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .paths import figures_dir

from .viz_results import (auc_table, comparison_table, estimate_bars, fmt_ci, layer_estimates, method_color,  # noqa: F401
                          removal_curves)

__all__ = ["save_figure", "line_figure", "training_curves", "table_figure", "map_grid", "box_figure",
           "explorer_figure", "make_explorer", "auc_table", "comparison_table", "estimate_bars", "fmt_ci",
           "method_color", "removal_curves", "layer_estimates"]  # fmt: skip


def save_figure(fig: go.Figure, name: str, png: bool = True) -> dict[str, str]:
    """Write ``figures/<name>.html`` and ``<name>.plotly.json`` (and ``.png`` if static export works).

    Returns the written paths by kind; a failed PNG export is reported under ``"png_error"``.
    """
    out: dict[str, str] = {}
    base = figures_dir() / name
    fig.write_html(str(base.with_suffix(".html")), include_plotlyjs=True)  # opens offline
    plotly_json = base.with_name(f"{name}.plotly.json")
    plotly_json.write_text(fig.to_json())
    out["html"], out["json"] = str(base.with_suffix(".html")), str(plotly_json)
    if png:
        try:
            fig.write_image(str(base.with_suffix(".png")), scale=2)
            out["png"] = str(base.with_suffix(".png"))
        except Exception as e:  # no kaleido or no Chromium: HTML/JSON are the artefacts
            out["png_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
    return out


def line_figure(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], title: str, xaxis: str, yaxis: str,
                log_y: bool = False, dash: Mapping[str, str] | None = None) -> go.Figure:  # fmt: skip
    """One line per named series ``{name: (x, y)}``."""
    fig = go.Figure()
    for name, (x, y) in series.items():
        fig.add_trace(go.Scatter(x=list(x), y=list(y), mode="lines+markers", name=name,
                                 line=dict(dash=(dash or {}).get(name, "solid"))))  # fmt: skip
    fig.update_layout(title=title, xaxis_title=xaxis, yaxis_title=yaxis, template="plotly_white", height=420)
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def training_curves(results: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Test accuracy and training loss per epoch for several training results."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("test accuracy", "training loss"))
    for r in results:
        ep = [h["epoch"] for h in r["history"]]
        name = r.get("label", r["model"])
        fig.add_trace(go.Scatter(x=ep, y=[h["test_acc"] for h in r["history"]], name=name, legendgroup=name), 1, 1)
        fig.add_trace(go.Scatter(x=ep, y=[h["train_loss"] for h in r["history"]], name=name, legendgroup=name,
                                 showlegend=False), 1, 2)  # fmt: skip
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(template="plotly_white", height=380)
    return fig


def table_figure(records: Sequence[Mapping[str, Any]], columns: Sequence[str], title: str = "") -> go.Figure:
    """A plotly table of ``records`` (floats shown with 4 decimals)."""
    fmt = lambda v: f"{v:.4f}" if isinstance(v, float) else str(v)  # noqa: E731
    cells = [[fmt(r.get(c, "")) for r in records] for c in columns]
    fig = go.Figure(go.Table(header=dict(values=list(columns)), cells=dict(values=cells)))
    fig.update_layout(title=title, height=150 + 36 * len(records), margin=dict(t=60, b=10))  # rows may wrap: room for all
    return fig


def map_grid(images: np.ndarray, rows: Mapping[str, np.ndarray], title: str = "", col_titles: Sequence[str] | None = None) -> go.Figure:
    """A grid of heatmaps: first row the images ``(N, H, W)``, then one row per named map set.

    Every map of a row shares one symmetric colour scale (blue negative, red positive) with its
    colour bar at the row's end, so maps are comparable along a row; rows (methods, layers) have
    their own scales because their units differ.
    """
    n = images.shape[0]
    names = ["image", *rows]
    fig = make_subplots(rows=len(names), cols=n, horizontal_spacing=0.01, vertical_spacing=0.02,
                        row_titles=names, column_titles=list(col_titles) if col_titles else None)  # fmt: skip
    for r, (name, maps) in enumerate([("image", images), *rows.items()], start=1):
        z_all = np.asarray(maps)
        lim = float(np.abs(z_all).max()) or 1.0
        axis = fig.get_subplot(r, 1).yaxis
        lo, hi = axis.domain
        for c in range(n):
            cs, zmin = ("gray", 0.0) if name == "image" else ("RdBu_r", -lim)
            bar = dict(len=(hi - lo) * 0.95, y=(lo + hi) / 2, yanchor="middle", x=1.0, thickness=8,
                       tickfont=dict(size=8), exponentformat="e")  # fmt: skip
            fig.add_trace(go.Heatmap(z=z_all[c][::-1], colorscale=cs, zmin=zmin, zmax=lim, colorbar=bar,
                                     showscale=c == n - 1 and name != "image"), r, c + 1)  # fmt: skip
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    for r in range(1, len(names) + 1):
        for c in range(1, n + 1):  # square pixels: each y axis anchored to its own x axis
            sub = fig.get_subplot(r, c)
            fig.update_yaxes(scaleanchor=sub.xaxis.plotly_name.replace("axis", ""), row=r, col=c)
    fig.update_annotations(font_size=10)
    fig.update_layout(title=title, height=110 * len(names) + 80, width=110 * n + 260, template="plotly_white",
                      margin=dict(l=20, r=160, t=80, b=20))  # fmt: skip
    return fig


def box_figure(groups: Mapping[str, Sequence[float]], title: str, yaxis: str) -> go.Figure:
    """Box plots of named score groups."""
    fig = go.Figure([go.Box(y=list(v), name=k, boxmean=True) for k, v in groups.items()])
    fig.update_layout(title=title, yaxis_title=yaxis, template="plotly_white", height=420, showlegend=False)
    return fig


def explorer_figure(model: Any, images: Any, index: int, layer: int, cls: int, method: str = "intrinsic",
                    **options: Any) -> go.Figure:  # fmt: skip
    """Image ``index`` beside the attribution map of class ``cls`` by ``method`` (at ``layer`` for
    "intrinsic"/"gradcam"); the explorer widget shows exactly this figure."""
    import torch

    from .attribution import make_explainer

    x = images[index : index + 1]
    if method in ("intrinsic", "gradcam"):
        options = {"layer": layer, **options}
    m = make_explainer(model, method, **options).attribute(x, cls)[0].cpu().numpy()
    with torch.no_grad():
        prob = torch.softmax(model(x), 1)[0, cls].item()
    title = f"image {index}, class {cls} (p={prob:.2f}), {method}" + (f" layer {layer}" if "layer" in options else "")
    return map_grid(x[:, 0].cpu().numpy() if x.shape[1] == 1 else x.mean(1).cpu().numpy(), {method: m[None]}, title)


def make_explorer(model: Any, images: Any, class_names: Sequence[str] | None = None):
    """An ipywidgets explorer (image, layer, class, method) around :func:`explorer_figure`."""
    import ipywidgets as w

    n_layers = getattr(model, "num_layers", 1)
    names = list(class_names or range(model.num_classes))
    image = w.IntSlider(0, 0, len(images) - 1, description="image")
    layer = w.IntSlider(n_layers - 1, 0, n_layers - 1, description="layer")
    cls = w.Dropdown(options=[(str(c), i) for i, c in enumerate(names)], value=0, description="class")
    method = w.Dropdown(options=["intrinsic", "gradcam", "occlusion", "rise"], value="intrinsic", description="method")
    fig = go.FigureWidget(explorer_figure(model, images, 0, n_layers - 1, 0))

    def update(_=None) -> None:
        opts = {"n_masks": 500} if method.value == "rise" else {}
        new = explorer_figure(model, images, image.value, layer.value, cls.value, method.value, **opts)
        with fig.batch_update():
            for tr, nt in zip(fig.data, new.data):
                tr.z = nt.z
                tr.zmin, tr.zmax = nt.zmin, nt.zmax
            fig.layout.title = new.layout.title

    for c in (image, layer, cls, method):
        c.observe(update, names="value")
    box = w.VBox([w.HBox([image, layer]), w.HBox([cls, method]), fig])
    box.update = update  # for headless tests
    return box

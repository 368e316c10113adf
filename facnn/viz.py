"""Plotly figures for the notebooks, and the feature-map explorer.

Figure functions take plain data and return ``plotly.graph_objects.Figure``; :func:`save_figure`
writes HTML and JSON always and a PNG when static export works (kaleido ≥ 1 with a Chromium).
The explorer's logic is :func:`explorer_figure` (pure, testable); :func:`make_explorer` only wires
ipywidgets to it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .paths import figures_dir
from .png_export import export_png

from .viz_theory import map_scale, morph_strip, sanity_curves, theorem2_steps  # noqa: F401
from .viz_results import (auc_quantity_name, auc_table, comparison_table, estimate_bars, fmt_ci,  # noqa: F401
                          layer_estimates, method_color, ranking_summary, removal_curves)

__all__ = ["save_figure", "figure_name", "fit_title", "line_figure", "training_curves", "table_figure", "map_grid", "box_figure",
           "explorer_figure", "make_explorer", "class_probabilities", "EXPLORER_METHODS", "auc_table", "comparison_table", "estimate_bars", "fmt_ci",
           "method_color", "removal_curves", "auc_quantity_name", "ranking_summary", "layer_estimates", "morph_strip", "theorem2_steps", "sanity_curves"]  # fmt: skip


def figure_name(base: str, *parts: str, model: str = "facnn") -> str:
    """A figure's file stem: ``base`` and ``parts`` joined by ``_``, then ``_<model>`` for an
    FA-CNN other than the default, so each model's run keeps its own figures.

    >>> figure_name("pixel_removal", "fashion_mnist", "road", model="facnn24")
    'pixel_removal_fashion_mnist_road_facnn24'
    """
    return "_".join([base, *parts] + ([] if model == "facnn" else [model]))


def fit_title(fig: go.Figure) -> go.Figure:
    """Break a long title into lines that fit the figure's width (plotly never wraps, it clips),
    and grow the top margin by a line for each added line.

    >>> f = fit_title(go.Figure(layout=dict(width=400, title="word " * 30)))
    >>> f.layout.title.text.count("<br>") >= 2
    True
    """
    text = fig.layout.title.text
    if not text or "<br>" in text:
        return fig
    width = fig.layout.width or 700  # plotly's default export width
    size = fig.layout.title.font.size or 17
    lines = textwrap.wrap(text, max(24, int(0.9 * width / (0.6 * size))))
    if len(lines) > 1:
        top = fig.layout.margin.t if fig.layout.margin.t is not None else 100
        y = 1 - 28 / (fig.layout.height or 500)  # first baseline 28 px down (plotly anchors it, not the glyph top; default height 500)
        fig.update_layout(title=dict(text="<br>".join(lines), y=y, yref="container", yanchor="top"),
                          margin_t=top + 22 * (len(lines) - 1))  # lines grow down from the top, into the added margin
    return fig


def save_figure(fig: go.Figure, name: str, png: bool = True) -> dict[str, str]:
    """Write ``<name>.html`` and ``<name>.plotly.json`` under :func:`facnn.paths.figures_dir` (and
    ``<name>.png`` where static export works: see :mod:`facnn.png_export`, which never hangs).

    Returns the written paths by kind; a PNG not written is explained under ``"png_error"``.
    """
    out: dict[str, str] = {}
    fit_title(fig)
    base = figures_dir() / name
    fig.write_html(str(base.with_suffix(".html")), include_plotlyjs=True)  # opens offline
    plotly_json = base.with_name(f"{name}.plotly.json")
    plotly_json.write_text(fig.to_json())
    out["html"], out["json"] = str(base.with_suffix(".html")), str(plotly_json)
    if png:
        error = export_png(plotly_json, base.with_suffix(".png"))
        if error is None:
            out["png"] = str(base.with_suffix(".png"))
        else:
            out["png_error"] = error
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
    from .viz_results import model_color

    for r in results:
        ep = [h["epoch"] for h in r["history"]]
        name = r.get("label", r["model"])
        line = dict(color=model_color(r["model"]))
        fig.add_trace(go.Scatter(x=ep, y=[h["test_acc"] for h in r["history"]], name=name, legendgroup=name, line=line), 1, 1)
        fig.add_trace(go.Scatter(x=ep, y=[h["train_loss"] for h in r["history"]], name=name, legendgroup=name,
                                 line=line, showlegend=False), 1, 2)  # fmt: skip
    fig.update_xaxes(title_text="epoch", dtick=1)
    fig.update_layout(template="plotly_white", height=380)
    return fig


def table_figure(records: Sequence[Mapping[str, Any]], columns: Sequence[str], title: str = "") -> go.Figure:
    """A plotly table of ``records`` (floats shown with 4 decimals)."""
    fmt = lambda v: f"{v:.4f}" if isinstance(v, float) else str(v)  # noqa: E731
    cells = [[fmt(r.get(c, "")) for r in records] for c in columns]
    # Columns get width in proportion to their longest text (within limits), but never less than
    # their longest word needs (plotly clips a word wider than its column, 7.2 px a character at
    # most); the height then counts each row's wrapped lines at 6.5 px a character (the 12-px
    # font's mean, measured on the claims table), so no row is cut off. 960 px fits a JupyterLab
    # output area (a wider figure is clipped there).
    width, char_px, mean_char_px = 960, 7.2, 6.5
    texts = [[str(c), *col] for c, col in zip(columns, cells)]
    longest_word = [max(len(w) for t in col for w in t.split() or [""]) for col in texts]
    need = [max(lw + 3, min(max(map(len, col)), 60), 6) for lw, col in zip(longest_word, texts)]
    floor = [lw * char_px + 16 for lw in longest_word]
    fixed: dict[int, float] = {}  # columns held at their floor; the others share what is left by need
    while True:
        rest = [i for i in range(len(need)) if i not in fixed]
        share = {i: (width - sum(fixed.values())) * need[i] / sum(need[j] for j in rest) for i in rest}
        low = [i for i in rest if share[i] < floor[i]]
        if not low:
            break
        fixed.update((i, floor[i]) for i in low)
    px = [fixed.get(i, share.get(i, 0.0)) for i in range(len(need))]
    lines = lambda text, w: max(1, -(-len(text) // max(int((w - 16) / mean_char_px), 1)))  # noqa: E731
    header = max(lines(str(c), w) for c, w in zip(columns, px))
    rows = [max(lines(col[i], w) for col, w in zip(cells, px)) for i in range(len(records))]
    fig = go.Figure(go.Table(columnwidth=px, header=dict(values=list(columns), height=22),
                             cells=dict(values=cells, height=22, align="left")))  # fmt: skip
    fig.update_layout(title=title, width=width, height=70 + 22 * header + sum(22 * r + 4 for r in rows) + 30,
                      margin=dict(t=60, b=10, l=10, r=10))  # fmt: skip
    return fig


def map_grid(images: np.ndarray, rows: Mapping[str, np.ndarray], title: str = "", col_titles: Sequence[str] | None = None) -> go.Figure:
    """A grid of heatmaps: first row the images ``(N, H, W)``, then one row per named map set.

    Every map of a row shares one colour scale with its colour bar at the row's end, so maps are
    comparable along a row: diverging and centred at 0 (blue negative, red positive) when the row
    has negative values, sequential from 0 (white to red) when it is non-negative; a map that is
    all zero says so. Rows (methods, layers) have their own scales because their units differ.
    """
    n = images.shape[0]
    names = ["image", *rows]
    fig = make_subplots(rows=len(names), cols=n, horizontal_spacing=0.01, vertical_spacing=0.02,
                        row_titles=names, column_titles=list(col_titles) if col_titles else None)  # fmt: skip
    for r, (name, maps) in enumerate([("image", images), *rows.items()], start=1):
        z_all = np.asarray(maps, dtype=float)
        axis = fig.get_subplot(r, 1).yaxis
        lo, hi = axis.domain
        cs, zmin, lim = map_scale(z_all)  # diverging centred at 0 for signed maps, sequential from 0 otherwise
        if name == "image":
            cs, zmin = "gray", 0.0
        for c in range(n):
            bar = dict(len=(hi - lo) * 0.95, y=(lo + hi) / 2, yanchor="middle", x=1.0, thickness=8,
                       tickfont=dict(size=8), exponentformat="e")  # fmt: skip
            fig.add_trace(go.Heatmap(z=z_all[c][::-1], colorscale=cs, zmin=zmin, zmax=lim, colorbar=bar,
                                     showscale=c == n - 1 and name != "image"), r, c + 1)  # fmt: skip
            if name != "image" and not np.any(z_all[c]):
                sub = fig.get_subplot(r, c + 1)
                fig.add_annotation(text="all zero", showarrow=False, font=dict(size=9, color="#555"),
                                   xref=f"{sub.xaxis.plotly_name.replace('axis', '')} domain",
                                   yref=f"{sub.yaxis.plotly_name.replace('axis', '')} domain", x=0.5, y=0.5)  # fmt: skip
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


EXPLORER_METHODS = {"intrinsic": "FA-CNN maps", "gradcam": "Grad-CAM", "rise": "RISE (centred)", "occlusion": "K-OCC k=4"}
_LAYERED = ("intrinsic", "gradcam")
_EXPLORER_OPTIONS = {"rise": {"n_masks": 500, "center": True}, "occlusion": {"window": 4}}


def class_probabilities(model: Any, images: Any, index: int) -> np.ndarray:
    """Softmax probabilities of every class for image ``index``."""
    import torch

    with torch.no_grad():
        return torch.softmax(model(images[index : index + 1]).float(), 1)[0].cpu().numpy()


def explorer_maps(model: Any, images: Any, index: int, layer: int, method: str, **options: Any) -> np.ndarray:
    """Every class's map of image ``index`` by ``method`` as ``(classes, H, W)``: one pass serves all
    classes (RISE's and occlusion's masked forwards are shared), so the explorer caches it."""
    import torch

    from .attribution import make_explainer

    x = images[index : index + 1]
    options = {**_EXPLORER_OPTIONS.get(method, {}), **options}
    if method in _LAYERED:
        options = {"layer": layer, **options}
    explainer = make_explainer(model, method, **options)
    k = explainer.num_classes(x)
    return explainer.attribute_classes(x, torch.arange(k, device=x.device)[None])[0].detach().cpu().numpy()


def _explorer_text(prob: np.ndarray, names: Sequence[str], index: int, cls: int, method: str, layer: int) -> tuple[str, str]:
    label = EXPLORER_METHODS.get(method, method) + (f" L{layer}" if method in _LAYERED else "")
    pred = int(prob.argmax())
    title = (f"image {index}: {names[cls]} (p={prob[cls]:.2f}) — predicted {names[pred]} (p={prob[pred]:.2f})"
             f"<br><sup>{label}</sup>")  # fmt: skip
    return label, title


def explorer_figure(model: Any, images: Any, index: int, layer: int, cls: int, method: str = "intrinsic",
                    class_names: Sequence[str] | None = None, maps: np.ndarray | None = None) -> go.Figure:  # fmt: skip
    """Image ``index`` beside the attribution map of class ``cls`` by ``method`` (at ``layer`` for
    the layered methods "intrinsic"/"gradcam"); the explorer widget shows exactly this figure.
    The row is labelled with the method (and layer) it shows; the title names the class and its
    probability and the predicted class. ``maps`` (from :func:`explorer_maps`) skips the computation."""
    prob = class_probabilities(model, images, index)
    names = list(class_names) if class_names is not None else [str(c) for c in range(len(prob))]
    if method in _LAYERED and hasattr(model, "num_layers"):
        layer = layer % model.num_layers
    m = (maps if maps is not None else explorer_maps(model, images, index, layer, method))[cls]
    label, title = _explorer_text(prob, names, index, cls, method, layer)
    x = images[index : index + 1]
    img = x[:, 0].cpu().numpy() if x.shape[1] == 1 else x.mean(1).cpu().numpy()
    fig = map_grid(img, {label: m[None]}, title)
    fig.update_layout(width=520, height=420, margin=dict(l=20, r=150, t=90, b=20))
    return fig


def make_explorer(model: Any, images: Any, class_names: Sequence[str] | None = None):
    """An ipywidgets explorer (image, layer, class, method) around :func:`explorer_figure`.

    The class list shows each class's probability for the current image and starts at the
    predicted class; the layer control is disabled for methods without layers.
    """
    import ipywidgets as w

    n_layers = getattr(model, "num_layers", 1)
    n_classes = len(class_probabilities(model, images, 0))
    names = list(class_names) if class_names is not None else [str(c) for c in range(n_classes)]

    def class_options(index: int) -> tuple[list[tuple[str, int]], int]:
        prob = class_probabilities(model, images, index)
        return [(f"{names[c]} (p={prob[c]:.2f})", c) for c in range(n_classes)], int(prob.argmax())

    opts, pred = class_options(0)
    image = w.IntSlider(0, 0, len(images) - 1, description="image")
    layer = w.IntSlider(n_layers - 1, 0, n_layers - 1, description="layer")
    cls = w.Dropdown(options=opts, value=pred, description="class")
    method = w.Dropdown(options=[(v, k) for k, v in EXPLORER_METHODS.items()], value="intrinsic", description="method")
    cache: dict[tuple[int, int, str], np.ndarray] = {}  # (image, layer, method) -> all classes' maps

    def maps_of(index: int, layer_: int, name: str) -> np.ndarray:
        key = (index, layer_ if name in _LAYERED else -1, name)
        if key not in cache:
            cache[key] = explorer_maps(model, images, index, layer_, name)
        return cache[key]

    fig = go.FigureWidget(explorer_figure(model, images, 0, n_layers - 1, pred, "intrinsic", names,
                                          maps_of(0, n_layers - 1, "intrinsic")))  # fmt: skip
    busy = [False]

    def update(_=None) -> None:
        if busy[0]:
            return
        layer.disabled = method.value not in _LAYERED
        m = maps_of(image.value, layer.value, method.value)[cls.value]
        prob = class_probabilities(model, images, image.value)
        label, title = _explorer_text(prob, names, image.value, cls.value, method.value, layer.value)
        cs, zmin, lim = map_scale(m)
        x = images[image.value : image.value + 1]
        img = (x[0, 0] if x.shape[1] == 1 else x[0].mean(0)).cpu().numpy()
        with fig.batch_update():  # patch the two heatmaps, the row label and the title: no figure rebuild
            fig.data[0].z = img[::-1]
            fig.data[1].z, fig.data[1].zmax = m[::-1], lim
            fig.data[1].zmin, fig.data[1].colorscale = zmin, cs
            fig.layout.title.text = title
            rows = [a for a in fig.layout.annotations if a.textangle == 90]
            rows[-1].text = label + ("" if np.any(m) else " (all zero)")

    def new_image(_=None) -> None:
        busy[0] = True  # one redraw for the image and its predicted class
        cls.options, cls.value = class_options(image.value)
        busy[0] = False
        update()

    image.observe(new_image, names="value")
    for c in (layer, cls, method):
        c.observe(update, names="value")
    box = w.VBox([w.HBox([image, layer]), w.HBox([cls, method]), fig])
    box.update = update  # for headless tests
    return box

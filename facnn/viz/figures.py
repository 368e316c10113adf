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

from facnn.core.paths import figures_dir
from facnn.viz.png_export import export_png
from facnn.viz.theory import map_scale

__all__ = [
    "save_figure",
    "figure_name",
    "fit_title",
    "line_figure",
    "training_curves",
    "table_figure",
    "map_grid",
    "box_figure",
]


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
        y = 1 - 28 / (
            fig.layout.height or 500
        )  # first baseline 28 px down (plotly anchors it, not the glyph top; default height 500)
        fig.update_layout(
            title=dict(text="<br>".join(lines), y=y, yref="container", yanchor="top"),
            margin_t=top + 22 * (len(lines) - 1),
        )  # lines grow down from the top, into the added margin
    return fig


def save_figure(fig: go.Figure, name: str, png: bool = True) -> dict[str, str]:
    """Write ``<name>.html`` and ``<name>.plotly.json`` under :func:`facnn.core.paths.figures_dir` (and
    ``<name>.png`` where static export works: see :mod:`facnn.viz.png_export`, which never hangs).

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


def line_figure(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
    xaxis: str,
    yaxis: str,
    log_y: bool = False,
    dash: Mapping[str, str] | None = None,
) -> go.Figure:
    """One line per named series ``{name: (x, y)}``."""
    fig = go.Figure()
    for name, (x, y) in series.items():
        fig.add_trace(
            go.Scatter(
                x=list(x), y=list(y), mode="lines+markers", name=name, line=dict(dash=(dash or {}).get(name, "solid"))
            )
        )
    fig.update_layout(title=title, xaxis_title=xaxis, yaxis_title=yaxis, template="plotly_white", height=420)
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def training_curves(results: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Test accuracy and training loss per epoch for several training results."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("test accuracy", "training loss"))
    from facnn.viz.results import model_color

    for r in results:
        ep = [h["epoch"] for h in r["history"]]
        name = r.get("label", r["model"])
        line = dict(color=model_color(r["model"]))
        fig.add_trace(
            go.Scatter(x=ep, y=[h["test_acc"] for h in r["history"]], name=name, legendgroup=name, line=line), 1, 1
        )
        fig.add_trace(
            go.Scatter(
                x=ep,
                y=[h["train_loss"] for h in r["history"]],
                name=name,
                legendgroup=name,
                line=line,
                showlegend=False,
            ),
            1,
            2,
        )
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
    fig = go.Figure(
        go.Table(
            columnwidth=px,
            header=dict(values=list(columns), height=22),
            cells=dict(values=cells, height=22, align="left"),
        )
    )
    fig.update_layout(
        title=title,
        width=width,
        height=70 + 22 * header + sum(22 * r + 4 for r in rows) + 30,
        margin=dict(t=60, b=10, l=10, r=10),
    )
    return fig


def map_grid(
    images: np.ndarray, rows: Mapping[str, np.ndarray], title: str = "", col_titles: Sequence[str] | None = None
) -> go.Figure:
    """A grid of heatmaps: first row the images ``(N, H, W)``, then one row per named map set.

    Every map of a row shares one colour scale with its colour bar at the row's end, so maps are
    comparable along a row: diverging and centred at 0 (blue negative, red positive) when the row
    has negative values, sequential from 0 (white to red) when it is non-negative; a map that is
    all zero says so. Rows (methods, layers) have their own scales because their units differ.
    """
    n = images.shape[0]
    names = ["image", *rows]
    fig = make_subplots(
        rows=len(names),
        cols=n,
        horizontal_spacing=0.01,
        vertical_spacing=0.02,
        row_titles=names,
        column_titles=list(col_titles) if col_titles else None,
    )
    for r, (name, maps) in enumerate([("image", images), *rows.items()], start=1):
        z_all = np.asarray(maps, dtype=float)
        axis = fig.get_subplot(r, 1).yaxis
        lo, hi = axis.domain
        cs, zmin, lim = map_scale(z_all)  # diverging centred at 0 for signed maps, sequential from 0 otherwise
        if name == "image":
            cs, zmin = "gray", 0.0
        for c in range(n):
            bar = dict(
                len=(hi - lo) * 0.95,
                y=(lo + hi) / 2,
                yanchor="middle",
                x=1.0,
                thickness=8,
                tickfont=dict(size=8),
                exponentformat="e",
            )
            fig.add_trace(
                go.Heatmap(
                    z=z_all[c][::-1],
                    colorscale=cs,
                    zmin=zmin,
                    zmax=lim,
                    colorbar=bar,
                    showscale=c == n - 1 and name != "image",
                ),
                r,
                c + 1,
            )
            if name != "image" and not np.any(z_all[c]):
                sub = fig.get_subplot(r, c + 1)
                fig.add_annotation(
                    text="all zero",
                    showarrow=False,
                    font=dict(size=9, color="#555"),
                    xref=f"{sub.xaxis.plotly_name.replace('axis', '')} domain",
                    yref=f"{sub.yaxis.plotly_name.replace('axis', '')} domain",
                    x=0.5,
                    y=0.5,
                )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    for r in range(1, len(names) + 1):
        for c in range(1, n + 1):  # square pixels: each y axis anchored to its own x axis
            sub = fig.get_subplot(r, c)
            fig.update_yaxes(scaleanchor=sub.xaxis.plotly_name.replace("axis", ""), row=r, col=c)
    fig.update_annotations(font_size=10)
    fig.update_layout(
        title=title,
        height=110 * len(names) + 80,
        width=110 * n + 260,
        template="plotly_white",
        margin=dict(l=20, r=160, t=80, b=20),
    )
    return fig


def box_figure(groups: Mapping[str, Sequence[float]], title: str, yaxis: str) -> go.Figure:
    """Box plots of named score groups."""
    fig = go.Figure([go.Box(y=list(v), name=k, boxmean=True) for k, v in groups.items()])
    fig.update_layout(title=title, yaxis_title=yaxis, template="plotly_white", height=420, showlegend=False)
    return fig

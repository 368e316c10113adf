"""Plotly figures for the notebooks, and tables that wrap.

Figure functions take plain data and return ``plotly.graph_objects.Figure``; :func:`save_figure`
writes HTML (plotly.js once per folder, beside it) and JSON always and a PNG when static export
works (kaleido ≥ 1 with a Chromium). Tables in notebooks are :class:`Table` (HTML that wraps in
JupyterLab, Markdown, plain text), not plotly tables, which clip at a fixed size.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from facnn.core.paths import figures_dir
from facnn.viz.png_export import export_png
from facnn.viz.style import display_maps, map_scale, model_color

__all__ = [
    "save_figure",
    "write_plotlyjs",
    "Table",
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
    >>> title = "Accuracy vs pixels removed, fill zero (fashion-mnist, 6-layer FA-CNN, 100 images, 95 % CI)"
    >>> text = fit_title(go.Figure(layout=dict(width=500, title=title))).layout.title.text
    >>> "<br>" in text and "95 % CI" in text  # wrapped, but never inside "95 % CI"
    True

    """
    text = fig.layout.title.text
    if not text or "<br>" in text:
        return fig
    width = fig.layout.width or 700  # plotly's default export width
    size = fig.layout.title.font.size or 17
    kept = text.replace(" %", "\u00a0%").replace("% CI", "%\u00a0CI")  # "95 % CI" is never broken
    lines = textwrap.wrap(kept, max(24, int(0.9 * width / (0.6 * size))), break_on_hyphens=False)  # "FA-CNN" whole
    lines = [line.replace("\u00a0", " ") for line in lines]
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


def write_plotlyjs(folder: Path) -> Path:
    """Write plotly.js (``plotly.min.js``, about 4.8 MB) into ``folder`` once: figures saved there
    load it by a relative ``<script src="plotly.min.js">``, so each HTML file stays small and opens
    offline. A bundle of another plotly.js version (its first comment lines differ) is replaced.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> js = write_plotlyjs(folder)
    >>> js.name, js.stat().st_size > 1_000_000, write_plotlyjs(folder) == js
    ('plotly.min.js', True, True)
    """
    from plotly.offline import get_plotlyjs

    path = Path(folder) / "plotly.min.js"
    bundle = get_plotlyjs()
    head = bundle[:200]  # "/**\n* plotly.js v<version>\n..."
    if not path.is_file() or path.read_text(encoding="utf-8", errors="replace")[:200] != head:
        path.write_text(bundle, encoding="utf-8")
    return path


def save_figure(fig: go.Figure, name: str, png: bool = True) -> dict[str, str]:
    """Write ``<name>.html`` and ``<name>.plotly.json`` under :func:`facnn.core.paths.figures_dir` (and
    ``<name>.png`` where static export works: see :mod:`facnn.viz.png_export`, which never hangs).

    The HTML loads plotly.js from ``plotly.min.js`` in the same folder (written once per folder by
    :func:`write_plotlyjs`), so it opens offline as long as the two stay together.

    Returns the written paths by kind (``"plotlyjs"``: the shared bundle); a PNG not written is
    explained under ``"png_error"``.

    Examples
    --------
    >>> import os, tempfile
    >>> os.environ["FACNN_OUT"] = tempfile.mkdtemp()
    >>> out = save_figure(go.Figure(go.Bar(y=[1, 2])), "demo", png=False)
    >>> sorted(out), Path(out["html"]).stat().st_size < 100_000
    (['html', 'json', 'plotlyjs'], True)
    >>> del os.environ["FACNN_OUT"]
    """
    out: dict[str, str] = {}
    fit_title(fig)
    base = figures_dir() / name
    out["plotlyjs"] = str(write_plotlyjs(base.parent))
    fig.write_html(str(base.with_suffix(".html")), include_plotlyjs="directory")  # opens offline beside it
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
    for r in results:
        ep = [h["epoch"] for h in r["history"]]
        name = r.get("label", r["model"])
        line = dict(color=model_color(r["model"]))
        fig.add_trace(
            go.Scatter(x=ep, y=[h.get("test_acc") for h in r["history"]], name=name, legendgroup=name, line=line),
            1,
            1,
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


def _cell_text(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


class Table:
    """A table for notebooks that wraps to the output's width: HTML in JupyterLab (long cells,
    such as commands, wrap instead of being clipped), Markdown (:meth:`to_markdown`) and plain
    text (``repr``). Floats are shown with 4 decimals.

    Parameters
    ----------
    rows
        One mapping per row; a missing value is shown empty; a line break in a text starts a new line
        in the cell (a space in Markdown).
    columns
        The columns, in order (default: every key of the rows, in the order first seen).
    title
        A caption above the table.
    note
        A line under the table (what the columns mean, what to read from it).
    swatches
        ``{text: colour}``: a cell whose text is a key gets a square of that colour before it (each
        method in its colour, as in the figures: :func:`facnn.viz.style.method_colors`).
    styles
        ``{(row index, column): css}``: extra CSS of single cells (a verdict's colour).
    code
        Columns shown in a monospace font that may break anywhere (commands, paths).
    bold
        Columns shown in bold (verdicts).
    formats
        ``{column: format}`` for numbers of a column (``"{:.1e}"`` for errors near 0).

    Examples
    --------
    >>> t = Table([dict(method="FA-CNN maps L6", auc=0.22222)], title="AUC", swatches={"FA-CNN maps L6": "#1f77b4"})
    >>> print(t.to_markdown())
    **AUC**
    <BLANKLINE>
    | method | auc |
    |---|---|
    | FA-CNN maps L6 | 0.2222 |
    >>> "<table" in t._repr_html_() and "#1f77b4" in t._repr_html_()
    True
    """

    def __init__(
        self,
        rows: Sequence[Mapping[str, Any]],
        columns: Sequence[str] | None = None,
        title: str = "",
        note: str = "",
        swatches: Mapping[str, str] | None = None,
        styles: Mapping[tuple[int, str], str] | None = None,
        code: Sequence[str] = (),
        bold: Sequence[str] = (),
        formats: Mapping[str, str] | None = None,
    ) -> None:
        self.rows = [dict(r) for r in rows]
        self.columns = list(columns) if columns is not None else list(dict.fromkeys(k for r in self.rows for k in r))
        self.title, self.note = title, note
        self.swatches = dict(swatches or {})
        self.styles = dict(styles or {})
        self.code, self.bold = set(code), set(bold)
        self.formats = dict(formats or {})

    def cells(self) -> list[list[str]]:
        """The shown text of every cell, row by row."""
        fmt = self.formats
        return [
            [
                fmt[c].format(r[c]) if c in fmt and isinstance(r.get(c), (int, float)) else _cell_text(r.get(c, ""))
                for c in self.columns
            ]
            for r in self.rows
        ]

    def to_html(self) -> str:
        """The table as HTML with inline styles (JupyterLab keeps them in untrusted notebooks)."""
        esc = html.escape
        pad = "padding:3px 8px;text-align:left;vertical-align:top;white-space:normal;"
        head = "".join(
            f'<th style="{pad}border-bottom:1px solid #888;font-weight:bold">{esc(c)}</th>' for c in self.columns
        )
        body = []
        for i, row in enumerate(self.cells()):
            tds = []
            for c, text in zip(self.columns, row):
                style = pad + "border-bottom:1px solid #e0e0e0;"
                if max(map(len, text.split("\n"))) <= 24:  # short lines (a number with its interval) stay whole
                    style += "white-space:nowrap;"
                if c in self.code:
                    style += "font-family:monospace;font-size:11px;overflow-wrap:anywhere;"  # breaks at spaces first
                if c in self.bold:
                    style += "font-weight:bold;"
                style += self.styles.get((i, c), "")
                swatch = self.swatches.get(text)
                mark = f'<span style="color:{esc(swatch)}">&#9632;</span>&nbsp;' if swatch else ""
                tds.append(f'<td style="{style}">{mark}{esc(text).replace(chr(10), "<br>")}</td>')
            body.append(f"<tr>{''.join(tds)}</tr>")
        caption = (
            '<caption style="caption-side:top;text-align:left;font-weight:bold;padding:4px 0">'
            f"{esc(self.title)}</caption>"
            if self.title
            else ""
        )
        note = f'<p style="font-size:12px;color:#444;margin:4px 0 0 0">{esc(self.note)}</p>' if self.note else ""
        return (
            '<div style="max-width:100%;overflow-x:auto">'
            '<table style="border-collapse:collapse;table-layout:auto;width:auto;max-width:100%;margin:0;'
            'font-size:12px">'
            f"{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}</div>"
        )

    def to_markdown(self) -> str:
        """The table as Markdown (title in bold above, note below)."""
        cell = lambda t: t.replace("|", "\\|").replace("\n", " ")  # noqa: E731
        lines = [f"**{self.title}**", ""] if self.title else []
        lines += ["| " + " | ".join(map(cell, self.columns)) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(map(cell, row)) + " |" for row in self.cells()]
        return "\n".join(lines + (["", self.note] if self.note else []))

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        rows = [self.columns, *self.cells()]
        width = [max(len(r[i]) for r in rows) for i in range(len(self.columns))]
        text = ["  ".join(t.ljust(w) for t, w in zip(r, width)).rstrip() for r in rows]
        return "\n".join(([self.title] if self.title else []) + text + ([self.note] if self.note else []))


def _wrap(text: str, width: int) -> str:
    """``text`` as is when it has at most ``width`` characters, else on two lines (``<br>``) split
    at the space that makes the longer line shortest.

    Example
    -------
    >>> _wrap("Hybrid FA-CNN maps L4", 19), _wrap("B-cos contributions", 19)
    ('Hybrid FA-CNN<br>maps L4', 'B-cos contributions')
    """
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    if len(text) <= width or not spaces:
        return text
    cut = min(spaces, key=lambda i: max(i, len(text) - i - 1))
    return f"{text[:cut]}<br>{text[cut + 1 :]}"


def map_grid(
    images: np.ndarray,
    rows: Mapping[str, np.ndarray],
    title: str = "",
    col_titles: Sequence[str] | None = None,
    normalise: bool = False,
) -> go.Figure:
    """A grid of heatmaps: first row the images ``(N, H, W)``, then one row per named map set.

    Every map of a row shares one colour scale with its colour bar at the row's end, so maps are
    comparable along a row: diverging and centred at 0 (blue negative, red positive) when the row
    has negative values, sequential from 0 (white to red) when it is non-negative; a map that is
    all zero says so. Rows (methods, layers) have their own scales because their units differ.

    ``normalise=True`` divides each map by its own largest absolute value (written in its corner), so
    maps of very different sizes in one row (a model's map beside its randomised model's, 100
    times smaller) are all visible: the row's scale then runs from −1 (or 0) to 1 and compares
    the maps' shapes, not their sizes.

    Examples
    --------
    >>> fig = map_grid(np.zeros((2, 4, 4)), {"m": np.stack([np.ones((4, 4)), 0.01 * np.ones((4, 4))])}, normalise=True)
    >>> [float(np.max(t.z)) for t in fig.data[2:]], [a.text for a in fig.layout.annotations][-2:]
    ([1.0, 1.0], ['max 1.0e+00', 'max 1.0e-02'])
    """
    n = images.shape[0]
    names = ["image", *rows]
    titles = [_wrap(name, 19) for name in names]  # rotated along a 110-px row: long names on two lines
    pad = 10 + 14 * max(t.count("<br>") for t in titles)  # colour bars right of the (widest) row title
    fig = make_subplots(
        rows=len(names),
        cols=n,
        horizontal_spacing=0.01,
        vertical_spacing=0.02,
        row_titles=titles,
        column_titles=list(col_titles) if col_titles else None,
    )
    for r, (name, maps) in enumerate([("image", images), *rows.items()], start=1):
        z_all = display_maps(maps)
        peaks = np.abs(z_all).reshape(len(z_all), -1).max(1)
        if normalise and name != "image":
            z_all = z_all / np.where(peaks > 0, peaks, 1.0).astype(np.float32)[:, None, None]
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
                xpad=pad,
                thickness=8,
                tickfont=dict(size=8),
                exponentformat="e",
                title=dict(text="÷ max" if normalise else "", font=dict(size=8), side="right"),
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
            sub = fig.get_subplot(r, c + 1)
            xref = f"{sub.xaxis.plotly_name.replace('axis', '')} domain"
            yref = f"{sub.yaxis.plotly_name.replace('axis', '')} domain"
            if name != "image" and not np.any(z_all[c]):
                fig.add_annotation(
                    text="all zero",
                    showarrow=False,
                    font=dict(size=9, color="#555"),
                    xref=xref,
                    yref=yref,
                    x=0.5,
                    y=0.5,
                )
            elif normalise and name != "image":
                fig.add_annotation(
                    text=f"max {peaks[c]:.1e}",
                    showarrow=False,
                    font=dict(size=8, color="#333"),
                    bgcolor="rgba(255,255,255,0.7)",
                    xref=xref,
                    yref=yref,
                    x=0,
                    y=0,
                    xanchor="left",
                    yanchor="bottom",
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

"""Figures and tables of results with their intervals, in one colour per method everywhere.

A method's colour depends only on its kind (FA-CNN maps, Grad-CAM, RISE, occlusion, CoDA,
random), shaded by layer, so the same method looks the same in every notebook. In line figures a
layer below its method's highest one is also dashed and the reference (FA-CNN's last layer, the
first method drawn) is thick and on top (:func:`facnn.viz.style.method_lines`). Tables are
:class:`facnn.viz.figures.Table` (HTML that wraps), each method name with its colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from facnn.evaluate.stats import fmt_ci
from facnn.explain.catalogue import method_of
from facnn.viz.figures import Table
from facnn.viz.style import interval_band, method_colors, method_lines

__all__ = [
    "removal_curves",
    "auc_table",
    "auc_quantity_name",
    "ranking_summary",
    "comparison_table",
    "comparison_matrix",
    "ranking_table",
    "verdict_styles",
    "estimate_bars",
    "layer_estimates",
]


def removal_curves(records: Sequence[Mapping[str, Any]], title: str) -> go.Figure:
    """MoRF and LeRF curves (columns), each with its 95 % band, one colour per method
    (:func:`method_lines`). Methods on the FA-CNN (its maps, Grad-CAM, RISE, occlusion) in the top
    row and other models' maps (CoDA, B-cos, hybrid) in the bottom row, so no panel holds every
    method; the reference (the first method: FA-CNN's last layer) and the random control are drawn
    in both rows, the reference thick and on top, bands under all lines.

    Examples
    --------
    >>> from facnn.explain.catalogue import Method
    >>> e = dict(percents=[0, 100], accuracy=[0.9, 0.1], accuracy_low=[0.8, 0.0], accuracy_high=[1.0, 0.2])
    >>> kinds = [("intrinsic", "facnn"), ("gradcam", "facnn"), ("contributions", "coda")]
    >>> recs = [dict(Method(k, m).fields(), order=o, **e) for k, m in kinds for o in ("morf", "lerf")]
    >>> fig = removal_curves(recs, "t")
    >>> sorted(a.text for a in fig.layout.annotations if a.textangle == 90)
    ['on the FA-CNN', "other models' maps"]
    """
    lines = method_lines(records)
    methods = list(dict.fromkeys(r["method"] for r in records))
    reference = methods[0] if methods else ""
    specs = {r["method"]: method_of(r) for r in records}
    shared = {m for m in methods if m == reference or specs[m].kind == "random"}  # drawn in both rows
    groups = [
        [m for m in methods if specs[m].model == "facnn" or m in shared],
        [m for m in methods if specs[m].model != "facnn" or m in shared],
    ]
    groups = [g for g in groups if set(g) - shared] or [methods]
    row_titles = ["on the FA-CNN", "other models' maps"] if len(groups) == 2 else None
    fig = make_subplots(
        rows=len(groups),
        cols=2,
        shared_xaxes=True,
        shared_yaxes=True,
        horizontal_spacing=0.05,
        vertical_spacing=0.08,
        column_titles=[
            "MoRF: most relevant removed first (lower is better)",
            "LeRF: least relevant first (higher is better)",
        ],
        row_titles=row_titles,
    )
    rank = {m: i for i, m in enumerate(methods)}
    cells = [
        (row, 1 if order == "morf" else 2, order) for row in range(1, len(groups) + 1) for order in ("morf", "lerf")
    ]
    for row, col, order in cells:  # every band under every line
        for r in records:
            if r["order"] == order and r["method"] in groups[row - 1]:
                band = interval_band(
                    r["percents"], r["accuracy_low"], r["accuracy_high"], lines[r["method"]]["color"], r["method"]
                )
                fig.add_trace(band, row, col)
    shown: set[str] = set()
    for row, col, order in cells:
        for r in reversed(records):  # the first method (the reference) drawn last, on top; the legend keeps the order
            if r["order"] != order or r["method"] not in groups[row - 1]:
                continue
            fig.add_trace(
                go.Scatter(
                    x=list(r["percents"]),
                    y=r["accuracy"],
                    name=r["method"],
                    legendgroup=r["method"],
                    legendrank=rank[r["method"]],
                    mode="lines+markers",
                    line=lines[r["method"]],
                    marker=dict(size=4 if r["method"] != reference else 6),
                    showlegend=r["method"] not in shown,
                ),
                row,
                col,
            )
            shown.add(r["method"])
    fig.update_xaxes(range=[0, 100], dtick=20)
    fig.update_xaxes(title_text="% pixels removed", row=len(groups))
    fig.update_yaxes(range=[0, 1.02])
    fig.update_yaxes(title_text="accuracy", col=1)
    fig.update_annotations(font_size=12)
    fig.update_layout(
        template="plotly_white",
        height=260 + 300 * len(groups),
        width=980,
        title=title,
        legend=dict(x=1.04, y=1, yanchor="top", font_size=11, tracegroupgap=2),
        margin=dict(t=110, r=210),
    )
    return fig


def auc_quantity_name(record: Mapping[str, Any]) -> str:
    """The reproduction-check name of a pixel-removal AUC: ``"<method> <order> AUC"``, with
    ``" (<fill>)"`` appended for fills other than the paper's zero."""
    fill = record.get("fill", "zero")
    return f"{record['method']} {record['order']} AUC" + ("" if fill == "zero" else f" ({fill})")


def _order_name(order: str) -> str:
    return order.replace("morf", "MoRF").replace("lerf", "LeRF")


def auc_table(records: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """One row per method: MoRF and LeRF AUC with intervals (a column pair per fill when the
    records hold several)."""
    several = len({r.get("fill", "zero") for r in records}) > 1
    rows: dict[str, dict[str, str]] = {}
    for r in records:
        row = rows.setdefault(r["method"], {"method": r["method"]})
        fill = f" ({r.get('fill', 'zero')})" if several else ""
        row[f"{_order_name(r['order'])}{fill} AUC [95% CI]"] = fmt_ci(r["auc"])
    return list(rows.values())


def comparison_table(comparisons: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Rows of paired comparisons: ``reference − other`` with interval and verdict (the order
    column names the fill where it is not zero)."""
    out = []
    for c in comparisons:
        ref, *rest = c["reference"].split("|")
        order = " ".join([_order_name(rest[0]), *(f"({f})" for f in rest[1:])]) if rest else ""
        other = c["other"].split("|")[0]
        out.append(
            {
                "order": order,
                "comparison": f"{ref} − {other}",
                "difference [95% CI]": fmt_ci(c["difference"]),
                "verdict": c["verdict"],
            }
        )
    return out


_VERDICT_CSS = {"reference": "background-color:#deebf7;", "other": "background-color:#fde0c5;", None: "color:#777;"}


def verdict_styles(rows: Sequence[Mapping[str, Any]], column: str = "verdict") -> dict[tuple[int, str], str]:
    """Cell styles for a :class:`~facnn.viz.figures.Table` of comparisons (rows of
    :func:`comparison_table`): the verdict blue where the reference is better, orange where the
    other method is, grey where the difference is not significant.

    Examples
    --------
    >>> verdict_styles([dict(comparison="A − B", verdict="A better"), dict(comparison="A − C", verdict="B better")])
    {(0, 'verdict'): 'background-color:#deebf7;', (1, 'verdict'): 'background-color:#fde0c5;'}
    """
    out = {}
    for i, r in enumerate(rows):
        ref = str(r.get("comparison", "")).split(" − ")[0]
        verdict = str(r.get(column, ""))
        side = None if verdict == "not significant" else "reference" if verdict == f"{ref} better" else "other"
        out[(i, column)] = _VERDICT_CSS[side]
    return out


def comparison_matrix(comparisons: Sequence[Mapping[str, Any]], colors: Mapping[str, str] | None = None) -> Table:
    """The paired comparisons with one reference (:func:`facnn.evaluate.protocols.comparisons`) as
    one compact table: a row per other method, a column per order and fill, each cell the
    difference ``reference − other`` [95 % CI] and who is better (blue: the reference, orange: the
    other method, grey: not significant).

    Examples
    --------
    >>> d = dict(value=0.06, low=0.03, high=0.1)
    >>> c = dict(reference_method="A", other_method="B", order="morf", fill="zero", difference=d, winner="B")
    >>> t = comparison_matrix([c, dict(c, order="lerf", winner=None)])
    >>> t.columns
    ['method', 'MoRF', 'LeRF']
    >>> t.cells()[0][1:]
    ['0.060 [0.030, 0.100]\\nmethod better', '0.060 [0.030, 0.100]\\nnot significant']
    """
    fills = list(dict.fromkeys(c.get("fill", "zero") for c in comparisons))
    columns = {}
    for c in comparisons:
        order, fill = _order_name(c.get("order", "")), c.get("fill", "zero")
        columns[(c.get("order", ""), fill)] = order + (f" ({fill})" if len(fills) > 1 else "")
    rows: dict[str, dict[str, str]] = {}
    styles: dict[tuple[int, str], str] = {}
    refs = list(dict.fromkeys(c["reference_method"] for c in comparisons))
    for c in comparisons:
        other = c["other_method"]
        row = rows.setdefault(other, {"method": other})
        i = list(rows).index(other)
        col = columns[(c.get("order", ""), c.get("fill", "zero"))]
        winner = c.get("winner")
        who = "not significant" if not winner else "ref. better" if winner == c["reference_method"] else "method better"
        row[col] = f"{fmt_ci(c['difference'], 3)}\n{who}"
        styles[(i, col)] = _VERDICT_CSS[
            None if not winner else "reference" if winner == c["reference_method"] else "other"
        ]
    ref = " / ".join(refs)
    return Table(
        list(rows.values()),
        ["method", *columns.values()],
        title=f"Paired differences {ref} − method [95 % CI] (bootstrap over images)",
        note=f"Blue: {ref} (ref.) significantly better; orange: the row's method significantly better; grey: not "
        "significant (the interval includes 0). MoRF: lower AUC is better; LeRF: higher.",
        swatches=colors,
        styles=styles,
    )


def ranking_table(
    records: Sequence[Mapping[str, Any]],
    swaps: Sequence[Mapping[str, Any]],
    fills: Sequence[str],
    colors: Mapping[str, str] | None = None,
) -> Table:
    """How the fill changes the ranking (:func:`facnn.evaluate.protocols.ranking_changes`), compactly:
    each method's rank under every fill (1 = best) per order, how many significant reversals it is
    part of (a pair whose paired difference is significant under both fills, in opposite
    directions), and a one-line count of all swaps.

    Examples
    --------
    >>> auc = lambda v: dict(value=v)
    >>> recs = [dict(method=m, order="morf", fill=f, auc=auc(v)) for m, f, v in
    ...         [("A", "zero", 0.1), ("B", "zero", 0.2), ("A", "road", 0.3), ("B", "road", 0.2)]]
    >>> swap = dict(order="morf", fills=["zero", "road"], pair=["A", "B"],
    ...             verdicts=dict(zero="A better", road="B better"))
    >>> t = ranking_table(recs, [swap], ["zero", "road"])
    >>> t.cells()
    [['A', '1 → 2', '1'], ['B', '2 → 1', '1']]
    >>> t.title
    '1 pair of methods changes order between the fills; 1 of them is a significant reversal'
    """
    orders = list(dict.fromkeys(r["order"] for r in records))
    methods = list(dict.fromkeys(r["method"] for r in records))
    rank: dict[tuple[str, str, str], int] = {}
    for order in orders:
        for f in fills:
            rs = sorted(
                (r for r in records if r["order"] == order and r.get("fill", "zero") == f),
                key=lambda r: r["auc"]["value"],
                reverse=order == "lerf",
            )
            rank.update({(order, f, r["method"]): i + 1 for i, r in enumerate(rs)})
    real = [s for s in swaps if all(v != "not significant" for v in s["verdicts"].values())]
    count = {m: sum(m in s["pair"] for s in real) for m in methods}
    rows = []
    for m in methods:
        row = {"method": m}
        for order in orders:
            ranks = [str(rank.get((order, f, m), "–")) for f in fills]
            row[f"{_order_name(order)} rank ({' → '.join(fills)})"] = " → ".join(ranks)
        row["significant reversals"] = str(count[m])
        rows.append(row)
    n, k = len(swaps), len(real)
    title = (
        f"{n} pair{'s' if n != 1 else ''} of methods change{'' if n != 1 else 's'} order between the fills; "
        f"{k} of them {'are' if k != 1 else 'is a'} significant reversal{'s' if k != 1 else ''}"
        if n
        else f"The ranking of methods is the same under every fill ({', '.join(fills)})"
    )
    note = (
        "Rank 1 = best (MoRF: lowest AUC, LeRF: highest). A significant reversal: the pair's paired difference is "
        f"significant under both fills, in opposite directions; the other {n - k} swaps involve a difference that "
        "is not significant under one fill."
    )
    return Table(
        rows, title=title, note=note if len(fills) > 1 else "Only one fill: nothing to compare.", swatches=colors
    )


def ranking_summary(
    swaps: Sequence[Mapping[str, Any]], fills: Sequence[str], records: Sequence[Mapping[str, Any]] = ()
) -> str:
    """Plain words for :func:`facnn.evaluate.protocols.ranking_changes`: the ranking under each fill
    (when ``records`` are given), the significant reversals (a pair whose paired difference is
    significant under both fills, in opposite directions), and how many other pairs swap."""
    if len(fills) < 2:
        return "Only one fill: nothing to compare."
    lines = []
    for order in dict.fromkeys(r["order"] for r in records):
        for f in fills:
            rs = sorted(
                (r for r in records if r["order"] == order and r.get("fill", "zero") == f),
                key=lambda r: r["auc"]["value"],
                reverse=order == "lerf",
            )
            lines.append(f"{_order_name(order)} ranking, fill {f} (best first): " + " > ".join(r["method"] for r in rs))
    if not swaps:
        return "\n".join([*lines, f"The ranking of methods is the same under every fill ({', '.join(fills)})."])
    real = [s for s in swaps if all(v != "not significant" for v in s["verdicts"].values())]
    lines.append(
        f"{len(swaps)} pair(s) change order between fills; {len(real)} of them are significant reversals "
        f"(the paired difference significant under both fills, in opposite directions):"
    )
    for s in real:
        fa, fb = s["fills"]
        lines.append(f"{_order_name(s['order'])}: {s['verdicts'][fa]} under {fa}, {s['verdicts'][fb]} under {fb}")
    if len(real) < len(swaps):
        lines.append(
            f"The other {len(swaps) - len(real)} swap(s) involve a difference that is not significant under one fill."
        )
    return "\n".join(lines)


def estimate_bars(
    records: Sequence[Mapping[str, Any]],
    key: str,
    title: str,
    yaxis: str,
    reference: float | None = None,
    reference_label: str = "",
) -> go.Figure:
    """A bar per record's estimate ``record[key]`` (``{"value", "low", "high"}``) with its 95 %
    interval as error bars, in its method's colour; post-hoc methods on another model hatched (the
    legend says so); a sweep's models (records under labels of their own) in their own shades
    (:func:`method_colors`).

    Examples
    --------
    >>> from facnn.explain.catalogue import Method
    >>> e = dict(value=0.5, low=0.4, high=0.6)
    >>> fig = estimate_bars([dict(Method("intrinsic").fields(), mean=e), dict(Method("gradcam", "coda").fields(),
    ...                      mean=e)], "mean", "t", "y")
    >>> [t.name for t in fig.data if t.showlegend]
    ['hatched: a post-hoc method on another model (CoDA-Net, B-cos)']
    """
    colors = method_colors(records)
    estimates = {r["method"]: r[key] for r in records}
    on_other = {
        r["method"]
        for r in records
        if method_of(r).kind not in ("intrinsic", "contributions") and method_of(r).model != "facnn"
    }
    names = list(estimates)
    vals = [estimates[n]["value"] for n in names]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=vals,
            marker_color=[colors[n] for n in names],
            marker_pattern_shape=["/" if n in on_other else "" for n in names],
            error_y=dict(
                type="data",
                symmetric=False,
                array=[estimates[n]["high"] - estimates[n]["value"] for n in names],
                arrayminus=[estimates[n]["value"] - estimates[n]["low"] for n in names],
            ),
            showlegend=False,
            name="",
        )
    )
    if on_other:  # a legend entry for what the hatching means (a bar of no height, grey, hatched)
        fig.add_trace(
            go.Bar(
                x=[names[0]],
                y=[None],
                name="hatched: a post-hoc method on another model (CoDA-Net, B-cos)",
                marker=dict(color="#bbbbbb", pattern_shape="/"),
                showlegend=True,
                hoverinfo="skip",
            )
        )
    if reference is not None:
        fig.add_hline(y=reference, line_dash="dot")  # its label in the right margin, clear of every bar
        fig.add_annotation(
            x=1.0, xref="paper", xanchor="left", y=reference, yanchor="middle", text=reference_label, showarrow=False
        )
    fig.update_layout(
        title=title,
        yaxis_title=yaxis,
        template="plotly_white",
        height=480,
        margin=dict(r=20 + 7 * len(reference_label)),
        legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom"),
        barmode="overlay",
    )
    return fig


def layer_estimates(
    series: Mapping[str, Sequence[Mapping[str, Any]]], title: str, yaxis: str, first_layer: int = 0
) -> go.Figure:
    """One line per named series of per-layer estimates, with 95 % error bars; layers named as the
    method labels name them (``L0`` … ``L6``: :class:`facnn.explain.catalogue.Method`).

    Examples
    --------
    >>> e = dict(value=0.5, low=0.4, high=0.6)
    >>> layer_estimates({"corr": [e, e]}, "t", "y", first_layer=1).layout.xaxis.tickprefix
    'L'
    """
    fig = go.Figure()
    for name, ests in series.items():
        x = list(range(first_layer, first_layer + len(ests)))
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[e["value"] for e in ests],
                name=name,
                mode="lines+markers",
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=[e["high"] - e["value"] for e in ests],
                    arrayminus=[e["value"] - e["low"] for e in ests],
                ),
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title="layer",
        yaxis_title=yaxis,
        template="plotly_white",
        height=420,
        showlegend=True,
        legend=dict(orientation="h", y=-0.2),
    )  # a single series keeps its name
    last = first_layer + max((len(e) for e in series.values()), default=1) - 1
    fig.update_xaxes(  # layers only, named L0, L1, ... as in the method labels
        dtick=1 if last - first_layer <= 12 else 2, range=[first_layer - 0.5, last + 0.5], tickprefix="L"
    )
    return fig

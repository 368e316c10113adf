"""Figures and tables of results with their intervals, in one colour per method everywhere.

A method's colour depends only on its kind (FA-CNN maps, Grad-CAM, RISE, occlusion, CoDA,
random), shaded by layer, so the same method looks the same in every notebook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from facnn.evaluate.stats import fmt_ci
from facnn.explain.catalogue import colours, method_of, model_colour

__all__ = [
    "method_colors",
    "model_color",
    "removal_curves",
    "interval_band",
    "auc_table",
    "auc_quantity_name",
    "ranking_summary",
    "comparison_table",
    "estimate_bars",
    "layer_estimates",
]


def method_colors(records: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """``{label: colour}`` for records drawn together, from their fields (kind, model, layer; see
    :mod:`facnn.explain.catalogue`): one colour per method, the highest layer of each method on
    each model in full colour and the others lighter.

    Example
    -------
    >>> from facnn.explain.catalogue import Method
    >>> method_colors([Method("intrinsic", layer=6).fields(), Method("intrinsic", layer=4).fields()])
    {'FA-CNN maps L6': '#1f77b4', 'FA-CNN maps L4': '#6baed6'}
    """
    by_label = {r["method"]: r for r in records}  # a method's records share their fields
    specs = {label: method_of(r) for label, r in by_label.items()}
    shades = colours(specs.values())
    return {label: shades[s.label] for label, s in specs.items()}


def model_color(name: str) -> str:
    """One colour per model in training figures: a model's maps' colour (FA-CNN blue, CoDA-Net
    red, B-cos cyan, hybrid olive); the ResNet baseline, which has no maps of its own, dark grey.
    ``name`` is a registry name or a config name such as ``"facnn24"``."""
    name = name.lower()
    return model_colour(next((m for m in ("facnn", "coda", "bcos", "hybrid", "resnet") if name.startswith(m)), name))


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    return f"rgba({int(h[0:2], 16)}, {int(h[2:4], 16)}, {int(h[4:6], 16)}, {alpha})"


def interval_band(
    x: Sequence[float], low: Sequence[float], high: Sequence[float], colour: str, group: str
) -> go.Scatter:
    """A 95 % band from ``low`` to ``high`` in a light shade of ``colour``, grouped with its line
    in the legend (``group``) and out of hover and legend itself."""
    x = list(x)
    return go.Scatter(
        x=x + x[::-1],
        y=list(high) + list(low)[::-1],
        fill="toself",
        mode="lines",
        fillcolor=_rgba(colour, 0.15),
        line=dict(width=0),
        hoverinfo="skip",
        showlegend=False,
        legendgroup=group,
    )


def removal_curves(records: Sequence[Mapping[str, Any]], title: str) -> go.Figure:
    """MoRF and LeRF curves side by side, each with its 95 % band, one colour per method; the first
    method (the reference, FA-CNN's last layer) is drawn on top of the others, bands under all lines."""
    colors = method_colors(records)
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(
            "MoRF: most relevant removed first<br>(lower is better)",
            "LeRF: least relevant removed first<br>(higher is better)",
        ),
    )
    rank = {m: i for i, m in enumerate(dict.fromkeys(r["method"] for r in records))}
    for r in records:  # every band under every line
        col = 1 if r["order"] == "morf" else 2
        fig.add_trace(
            interval_band(r["percents"], r["accuracy_low"], r["accuracy_high"], colors[r["method"]], r["method"]),
            1,
            col,
        )
    for r in reversed(records):  # the first method (the reference) drawn last, on top; the legend keeps the order
        col = 1 if r["order"] == "morf" else 2
        fig.add_trace(
            go.Scatter(
                x=list(r["percents"]),
                y=r["accuracy"],
                name=r["method"],
                legendgroup=r["method"],
                legendrank=rank[r["method"]],
                mode="lines+markers",
                line=dict(color=colors[r["method"]], dash="dot" if r["method"] == "random" else "solid"),
                marker=dict(size=5),
                showlegend=col == 1,
            ),
            1,
            col,
        )
    fig.update_xaxes(title_text="% pixels removed", range=[0, 100])
    fig.update_yaxes(title_text="accuracy", range=[0, 1.02])
    fig.update_layout(
        template="plotly_white", height=500, title=title, legend=dict(orientation="h", y=-0.2), margin=dict(t=120)
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
    interval as error bars, in its method's colour; post-hoc methods on another model hatched."""
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
        height=440,
        margin=dict(r=20 + 7 * len(reference_label)),
    )
    return fig


def layer_estimates(
    series: Mapping[str, Sequence[Mapping[str, Any]]], title: str, yaxis: str, first_layer: int = 0
) -> go.Figure:
    """One line per named series of per-layer estimates, with 95 % error bars."""
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
    fig.update_xaxes(dtick=1 if last - first_layer <= 12 else 2, range=[first_layer - 0.5, last + 0.5])  # layers only
    return fig

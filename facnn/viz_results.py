"""Figures and tables of results with their intervals, in one colour per method everywhere.

A method's colour depends only on its kind (FA-CNN maps, Grad-CAM, RISE, occlusion, CoDA,
random), shaded by layer, so the same method looks the same in every notebook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = ["method_color", "method_colors", "model_color", "fmt_ci", "removal_curves", "auc_table", "auc_quantity_name", "ranking_summary", "comparison_table", "estimate_bars", "layer_estimates"]

_COLORS = {"FA-CNN": "#1f77b4", "Grad-CAM": "#ff7f0e", "RISE": "#2ca02c", "K-OCC": "#9467bd",
           "CoDA": "#d62728", "B-cos": "#17becf", "Hybrid": "#bcbd22", "random": "#7f7f7f"}  # fmt: skip
_LIGHT = {"FA-CNN": "#6baed6", "Grad-CAM": "#fdae6b", "Hybrid": "#dbdb8d"}  # middle-layer shade


def method_color(label: str, last_layer: int | None = None) -> str:
    """The colour of a method label such as ``"FA-CNN maps L6"`` or ``"RISE (centred)"``; maps of
    a layer other than ``last_layer`` (when given) get a lighter shade of their method's colour."""
    for kind, color in _COLORS.items():
        if label.startswith(kind):
            if kind in _LIGHT and last_layer is not None and " L" in label and label.rsplit(" L", 1)[-1] != str(last_layer):
                return _LIGHT[kind]
            return color
    return "#8c564b"


_MODEL_KIND = {"facnn": "FA-CNN", "coda": "CoDA", "bcos": "B-cos", "hybrid": "Hybrid"}


def model_color(name: str) -> str:
    """One colour per model in training figures: a model's maps' colour (FA-CNN blue, CoDA-Net
    red, B-cos cyan, hybrid olive); the ResNet baseline, which has no maps of its own, dark grey."""
    kind = _MODEL_KIND.get(name.split()[0].lower())
    return _COLORS[kind] if kind else "#3b3b3b" if name.lower().startswith("resnet") else "#8c564b"


def _split_layer(label: str) -> tuple[str, int | None]:
    base, _, tail = label.rpartition(" L")
    return (base, int(tail)) if base and tail.isdigit() else (label, None)


def method_colors(labels: Sequence[str]) -> dict[str, str]:
    """:func:`method_color` for a set of labels drawn together: within each method on each model
    (``"FA-CNN maps"``, ``"Grad-CAM on hybrid"``, ...) the highest layer gets the full colour and
    the others the lighter shade.

    Example
    -------
    >>> method_colors(["FA-CNN maps L6", "FA-CNN maps L4", "random"])
    {'FA-CNN maps L6': '#1f77b4', 'FA-CNN maps L4': '#6baed6', 'random': '#7f7f7f'}
    """
    top: dict[str, int] = {}
    for label in labels:
        base, layer = _split_layer(label)
        if layer is not None:
            top[base] = max(top.get(base, layer), layer)
    return {label: method_color(label, top.get(_split_layer(label)[0])) for label in labels}


def fmt_ci(e: Mapping[str, Any], digits: int = 3) -> str:
    """``"0.210 [0.201, 0.219]"`` from an estimate dict."""
    return f"{e['value']:.{digits}f} [{e['low']:.{digits}f}, {e['high']:.{digits}f}]"


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    return f"rgba({int(h[0:2], 16)}, {int(h[2:4], 16)}, {int(h[4:6], 16)}, {alpha})"


def removal_curves(records: Sequence[Mapping[str, Any]], title: str) -> go.Figure:
    """MoRF and LeRF curves side by side, each with its 95 % band, one colour per method."""
    colors = method_colors(list(dict.fromkeys(r["method"] for r in records)))
    fig = make_subplots(rows=1, cols=2, subplot_titles=("MoRF: most relevant removed first<br>(lower is better)",
                                                        "LeRF: least relevant removed first<br>(higher is better)"))  # fmt: skip
    for r in records:
        col = 1 if r["order"] == "morf" else 2
        c = colors[r["method"]]
        x = list(r["percents"])
        fig.add_trace(go.Scatter(x=x + x[::-1], y=list(r["accuracy_high"]) + list(r["accuracy_low"])[::-1], fill="toself", mode="lines",
                                 fillcolor=_rgba(c, 0.15), line=dict(width=0), hoverinfo="skip", showlegend=False,
                                 legendgroup=r["method"]), 1, col)  # fmt: skip
        dash = "dot" if r["method"] == "random" else "solid"
        fig.add_trace(go.Scatter(x=x, y=r["accuracy"], name=r["method"], legendgroup=r["method"], mode="lines+markers",
                                 line=dict(color=c, dash=dash), marker=dict(size=5), showlegend=col == 1), 1, col)  # fmt: skip
    fig.update_xaxes(title_text="% pixels removed", range=[0, 100])
    fig.update_yaxes(title_text="accuracy", range=[0, 1.02])
    fig.update_layout(template="plotly_white", height=500, title=title, legend=dict(orientation="h", y=-0.2),
                      margin=dict(t=120))
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
        out.append({"order": order, "comparison": f"{ref} − {other}", "difference [95% CI]": fmt_ci(c["difference"]),
                    "verdict": c["verdict"]})  # fmt: skip
    return out


def ranking_summary(swaps: Sequence[Mapping[str, Any]], fills: Sequence[str],
                    records: Sequence[Mapping[str, Any]] = ()) -> str:  # fmt: skip
    """Plain words for :func:`facnn.map_evaluation.ranking_changes`: the ranking under each fill
    (when ``records`` are given), the significant reversals (a pair whose paired difference is
    significant under both fills, in opposite directions), and how many other pairs swap."""
    if len(fills) < 2:
        return "Only one fill: nothing to compare."
    lines = []
    for order in dict.fromkeys(r["order"] for r in records):
        for f in fills:
            rs = sorted((r for r in records if r["order"] == order and r.get("fill", "zero") == f),
                        key=lambda r: r["auc"]["value"], reverse=order == "lerf")  # fmt: skip
            lines.append(f"{_order_name(order)} ranking, fill {f} (best first): " + " > ".join(r["method"] for r in rs))
    if not swaps:
        return "\n".join([*lines, f"The ranking of methods is the same under every fill ({', '.join(fills)})."])
    real = [s for s in swaps if all(v != "not significant" for v in s["verdicts"].values())]
    lines.append(f"{len(swaps)} pair(s) change order between fills; {len(real)} of them are significant reversals "
                 f"(the paired difference significant under both fills, in opposite directions):")  # fmt: skip
    for s in real:
        fa, fb = s["fills"]
        lines.append(f"{_order_name(s['order'])}: {s['verdicts'][fa]} under {fa}, {s['verdicts'][fb]} under {fb}")
    if len(real) < len(swaps):
        lines.append(f"The other {len(swaps) - len(real)} swap(s) involve a difference that is not significant under one fill.")
    return "\n".join(lines)


def estimate_bars(estimates: Mapping[str, Mapping[str, Any]], title: str, yaxis: str, reference: float | None = None,
                  reference_label: str = "") -> go.Figure:  # fmt: skip
    """A bar per named estimate with its 95 % interval as error bars (one colour per method)."""
    names = list(estimates)
    vals = [estimates[n]["value"] for n in names]
    fig = go.Figure(go.Bar(x=names, y=vals, marker_color=[method_colors(names)[n] for n in names],
                           marker_pattern_shape=["/" if n.endswith(("on CoDA", "on B-cos", "on hybrid")) or " on hybrid L" in n else "" for n in names],
                           error_y=dict(type="data", symmetric=False,
                                        array=[estimates[n]["high"] - estimates[n]["value"] for n in names],
                                        arrayminus=[estimates[n]["value"] - estimates[n]["low"] for n in names])))  # fmt: skip
    if reference is not None:
        fig.add_hline(y=reference, line_dash="dot")  # its label in the right margin, clear of every bar
        fig.add_annotation(x=1.0, xref="paper", xanchor="left", y=reference, yanchor="middle", text=reference_label,
                           showarrow=False)  # fmt: skip
    fig.update_layout(title=title, yaxis_title=yaxis, template="plotly_white", height=440,
                      margin=dict(r=20 + 7 * len(reference_label)))
    return fig


def layer_estimates(series: Mapping[str, Sequence[Mapping[str, Any]]], title: str, yaxis: str, first_layer: int = 0) -> go.Figure:
    """One line per named series of per-layer estimates, with 95 % error bars."""
    fig = go.Figure()
    for name, ests in series.items():
        x = list(range(first_layer, first_layer + len(ests)))
        fig.add_trace(go.Scatter(x=x, y=[e["value"] for e in ests], name=name, mode="lines+markers",
                                 error_y=dict(type="data", symmetric=False, array=[e["high"] - e["value"] for e in ests],
                                              arrayminus=[e["value"] - e["low"] for e in ests])))  # fmt: skip
    fig.update_layout(title=title, xaxis_title="layer", yaxis_title=yaxis, template="plotly_white", height=420,
                      showlegend=True, legend=dict(orientation="h", y=-0.2))  # a single series keeps its name  # fmt: skip
    last = first_layer + max((len(e) for e in series.values()), default=1) - 1
    fig.update_xaxes(dtick=1 if last - first_layer <= 12 else 2, range=[first_layer - 0.5, last + 0.5])  # layers only
    return fig

"""Figures of the theorems: Theorem 1's errors against the checks' tolerance, Theorem 2's per-layer
steps against their bounds, the morph strip (one image's class map at every layer on one colour
scale), and the sanity checks' curves. Layers are named as in the method labels: ``L0`` (the
stem's maps, before the first layer) to ``L6`` (the last layer's maps, which the head reads).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from facnn.viz.style import display_maps, interval_band, map_scale, method_lines

__all__ = ["theorem1_residuals", "theorem2_steps", "morph_strip", "sanity_curves"]


def _labelled_line(
    fig: go.Figure, y: float, text: str, colour: str, dash: str, line_color: str | None = None, left: bool = False
) -> None:
    """A horizontal line at ``y`` on a log axis with its label just above it, at the left or right end."""
    fig.add_hline(y=y, line_dash=dash, line_color=line_color or colour)
    fig.add_annotation(
        x=0 if left else 1,
        xref="paper",
        xanchor="left" if left else "right",
        y=math.log10(y),
        yanchor="bottom",
        text=text,
        showarrow=False,
        font=dict(color=colour, size=11),
    )


def theorem1_residuals(
    random_errors: Sequence[float], trained_error: float, tolerance: float = 1e-5, title: str = ""
) -> go.Figure:
    """Theorem 1's error (max relative error of Grad-CAM against ``(s/hw)·ReLU(class map)``) of each
    random model and of the trained model, one marker each, on a log axis in powers of ten, with
    the tolerance the checks use (float32 rounding; ``tests/test_theory.py`` and the notebook's
    CHECK) as a dashed line. An error of exactly 0 has no place on a log axis: it is drawn as a
    cross on a dotted line marked "exactly 0", below every other value, never as a small number.

    Examples
    --------
    >>> fig = theorem1_residuals([3e-7, 0.0, 1e-6], 2e-7)
    >>> [t.name for t in fig.data]
    ['random models', 'random models: exactly 0', 'trained model']
    >>> fig.layout.yaxis.exponentformat, fig.layout.shapes[0].y0
    ('power', 1e-05)
    """
    errors = [float(e) for e in random_errors]
    values = [*errors, float(trained_error)]
    nonzero = [e for e in values if e > 0]
    lowest = math.floor(math.log10(min([*nonzero, tolerance])))
    zero_y = 10.0 ** (lowest - 1)  # the "exactly 0" line: a decade below the smallest error
    n = len(errors)
    fig = go.Figure()
    shown = [(i, e) for i, e in enumerate(errors) if e > 0]
    zeros = [i for i, e in enumerate(errors) if e <= 0]
    grey = "#7f7f7f"
    fig.add_trace(
        go.Scatter(
            x=[i for i, _ in shown],
            y=[e for _, e in shown],
            mode="markers",
            name="random models",
            marker=dict(color=grey, size=8),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=zeros,
            y=[zero_y] * len(zeros),
            mode="markers",
            name="random models: exactly 0",
            marker=dict(color=grey, size=10, symbol="x-thin-open", line=dict(width=2, color=grey)),
        )
    )
    trained_y = trained_error if trained_error > 0 else zero_y
    fig.add_trace(
        go.Scatter(
            x=[n + 1],
            y=[trained_y],
            mode="markers",
            name="trained model" + ("" if trained_error > 0 else ": exactly 0"),
            marker=dict(color="#1f77b4", size=12, symbol="diamond" if trained_error > 0 else "x-thin-open"),
        )
    )
    _labelled_line(
        fig, tolerance, f"tolerance of the checks: {_power(tolerance)} (float32 rounding)", "#d62728", "dash"
    )
    _labelled_line(fig, zero_y, "exactly 0", "#555", "dot", line_color="#bbbbbb", left=True)
    ticks = list(range(0, n, 5))
    fig.update_xaxes(
        tickvals=[*ticks, n + 1],
        ticktext=[*map(str, ticks), "trained"],
        range=[-1, n + 2],
        title_text="random FA-CNN of random shape (seeded), then the trained model",
    )
    top = math.ceil(math.log10(max([*nonzero, tolerance]))) + 1
    decades = list(range(lowest, top + 1))
    fig.update_yaxes(  # powers of ten, and "0" for the exactly-0 line a decade below (the axis is broken there)
        type="log",
        exponentformat="power",
        tickvals=[zero_y, *(10.0**k for k in decades)],
        ticktext=["0", *(_power(10.0**k) for k in decades)],
        range=[lowest - 1.5, top],
        title_text="max relative error (log)",
    )
    fig.update_layout(
        title=title, template="plotly_white", height=420, legend=dict(orientation="h", y=-0.25), margin=dict(t=80)
    )
    return fig


def _power(v: float) -> str:
    """``10<sup>−5</sup>`` for a power of ten, else ``1.5e-05``."""
    k = math.log10(v) if v > 0 else 0.5
    return f"10<sup>{'−' if k < 0 else ''}{abs(round(k))}</sup>" if k == round(k) else f"{v:.1e}"


def theorem2_steps(morph: Sequence[Mapping[str, Any]], title: str = "") -> go.Figure:
    """Left: each layer's largest class-map step ``max_c ‖M^c_{l+1} − P(M^c_l)‖`` beside the bound
    ``max (λ_l/√R)‖f_l[c]‖`` (log axis). Right: the worst ratio of step to bound per layer, which
    Lemma 3(b) keeps ≤ 1 (dotted line). ``morph`` is :func:`facnn.evaluate.theorems.morph_profile` as dicts.

    Examples
    --------
    >>> fig = theorem2_steps([dict(layer=1, class_step=0.5, class_bound=1.0, class_ratio=0.7)])
    """
    layers = [r["layer"] for r in morph]
    fig = make_subplots(
        1, 2, subplot_titles=("class-map step and its bound", "step / bound (Lemma 3(b): ≤ 1)"), horizontal_spacing=0.12
    )
    fig.add_trace(
        go.Bar(x=layers, y=[r["class_step"] for r in morph], name="max class-map step ‖ΔM_c‖", marker_color="#1f77b4"),
        1,
        1,
    )
    fig.add_trace(
        go.Bar(x=layers, y=[r["class_bound"] for r in morph], name="bound (λ/√R)‖f_c‖", marker_color="#c6dbef"), 1, 1
    )
    fig.add_trace(
        go.Scatter(
            x=layers,
            y=[r["class_ratio"] for r in morph],
            mode="lines+markers",
            name="worst step / bound",
            marker_color="#d62728",
        ),
        1,
        2,
    )
    fig.add_hline(y=1.0, line_dash="dot", row=1, col=2)
    values = [v for r in morph for v in (r["class_step"], r["class_bound"]) if v > 0]
    lo, hi = (math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))) if values else (0, 1)
    ticks = [m * 10.0**k for k in range(lo, hi + 1) for m in (1, 2, 5) if min(values or [1]) / 2 <= m * 10.0**k]
    ticks = [t for t in ticks if t <= 2 * max(values or [1])]
    fig.update_yaxes(  # 1-2-5 ticks in plain numbers (a decade or two: no SI prefixes, no lone tick)
        type="log", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks], title_text="Frobenius norm (log)", row=1, col=1
    )
    fig.update_yaxes(range=[0, 1.1], title_text="ratio", row=1, col=2)
    fig.update_xaxes(  # layer l's step takes the maps from L(l-1) to L(l); named as in the method labels
        title_text="layer (its step from the layer below)",
        tickprefix="L",
        dtick=1 if len(layers) <= 12 else 2,
        range=[min(layers) - 0.5, max(layers) + 0.5],
    )
    fig.update_layout(
        title=title,
        barmode="group",
        template="plotly_white",
        height=420,
        width=980,
        legend=dict(orientation="h", y=-0.25),
    )
    return fig


def morph_strip(
    image: np.ndarray, maps: Sequence[np.ndarray], title: str = "", first_layer: int = 0, per_row: int = 13
) -> go.Figure:
    """One image, then its class map at every layer on **one** colour scale (the layers share the
    residual stream, so their values are comparable): Theorem 2's slow morph at a glance. Panels
    wrap after ``per_row`` (a 24-layer model's 26 panels take two rows of 13).

    Examples
    --------
    >>> fig = morph_strip(np.zeros((8, 8)), [np.random.rand(8, 8) for _ in range(3)])
    >>> len(morph_strip(np.zeros((8, 8)), [np.random.rand(8, 8) for _ in range(25)]).data)
    26
    """
    n = len(maps)
    z = display_maps(np.stack([np.asarray(m, dtype=float) for m in maps]))
    cs, zmin, lim = map_scale(z)
    titles = ["image"] + [f"L{first_layer + i}" for i in range(n)]
    cols = min(n + 1, per_row)
    rows = -(-(n + 1) // cols)
    fig = make_subplots(rows, cols, horizontal_spacing=0.005, vertical_spacing=0.12 / rows, subplot_titles=titles)
    at = lambda i: (i // cols + 1, i % cols + 1)  # noqa: E731  panel i (0 = the image) -> (row, col)
    fig.add_trace(go.Heatmap(z=display_maps(image)[::-1], colorscale="gray", showscale=False), *at(0))
    for i in range(n):
        fig.add_trace(
            go.Heatmap(
                z=z[i][::-1],
                colorscale=cs,
                zmin=zmin,
                zmax=lim,
                showscale=i == n - 1,
                colorbar=dict(thickness=10, len=0.9),
            ),
            *at(i + 1),
        )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    for i in range(n + 1):  # square pixels
        sub = fig.get_subplot(*at(i))
        fig.update_yaxes(scaleanchor=sub.xaxis.plotly_name.replace("axis", ""), row=at(i)[0], col=at(i)[1])
    fig.update_annotations(font_size=10)
    fig.update_layout(
        title=title,
        template="plotly_white",
        height=80 + 130 * rows,
        width=max(500, 95 * cols + 120),
        margin=dict(l=10, r=60, t=70, b=10),
    )
    return fig


def sanity_curves(records: Sequence[Mapping[str, Any]], metric: str = "spearman_abs", title: str = "") -> go.Figure:
    """Similarity to the original map vs the fraction of layers randomised (cascading, output
    first), one line per method in its colour with 95 % bands; 0 = nothing randomised.

    Examples
    --------
    >>> e = dict(value=1.0, low=1.0, high=1.0)
    >>> fig = sanity_curves([dict(method="random", kind="random", step=0, n_layers=2, spearman_abs=e)])
    """
    lines = method_lines(records)  # the reference (the first method) thick, lower layers dashed
    methods = list(dict.fromkeys(r["method"] for r in records))
    fig = go.Figure()
    curves: list[go.Scatter] = []
    for method in methods:
        rows = sorted((r for r in records if r["method"] == method), key=lambda r: r["step"])
        x = [r["step"] / max(r["n_layers"], 1) for r in rows]
        lo, hi = [r[metric]["low"] for r in rows], [r[metric]["high"] for r in rows]
        fig.add_trace(interval_band(x, lo, hi, lines[method]["color"], method))  # every band under every line
        curves.append(
            go.Scatter(
                x=x,
                y=[r[metric]["value"] for r in rows],
                name=method,
                legendgroup=method,
                legendrank=len(curves),
                mode="lines+markers",
                line=lines[method],
            )
        )
    for curve in reversed(curves):  # the reference drawn last, on top
        fig.add_trace(curve)
    fig.add_hline(y=0, line_dash="dot", line_color="#999")
    names = {
        "spearman": "Spearman (signed)",
        "spearman_abs": "Spearman (absolute)",
        "ssim": "SSIM (absolute, normalised)",
    }
    fig.update_layout(
        title=title,
        template="plotly_white",
        height=480,
        width=800,
        legend=dict(orientation="h", y=-0.25),
        margin=dict(t=110),
        xaxis_title="fraction of layers randomised (from the output down)",
        yaxis_title=f"{names.get(metric, metric)} vs original",
    )
    fig.update_yaxes(range=[-1.05, 1.05])
    return fig

"""Figures of the theorems: Theorem 2's per-layer steps against their bounds, and the morph strip
(one image's class map at every layer on one colour scale)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = ["theorem2_steps", "morph_strip", "sanity_curves", "map_scale"]


def map_scale(values: Any) -> tuple[str, float, float]:
    """``(colorscale, zmin, zmax)`` for maps shown on one scale: diverging and centred at 0 when
    any value is negative, sequential from 0 when all are non-negative (``zmax`` = the largest |value|).

    Examples
    --------
    >>> map_scale(np.array([-1.0, 2.0]))
    ('RdBu_r', -2.0, 2.0)
    """
    z = np.asarray(values, dtype=float)
    lim = float(np.abs(z).max()) or 1.0
    return ("RdBu_r", -lim, lim) if float(z.min()) < 0 else ("Reds", 0.0, lim)


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
    fig.update_yaxes(type="log", dtick=1, title_text="Frobenius norm (log)", row=1, col=1)
    fig.update_yaxes(range=[0, 1.1], title_text="ratio", row=1, col=2)
    fig.update_xaxes(
        title_text="layer l+1", dtick=1 if len(layers) <= 12 else 2, range=[min(layers) - 0.5, max(layers) + 0.5]
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
    z = np.stack([np.asarray(m, dtype=float) for m in maps])
    cs, zmin, lim = map_scale(z)
    titles = ["image"] + [f"L{first_layer + i}" for i in range(n)]
    cols = min(n + 1, per_row)
    rows = -(-(n + 1) // cols)
    fig = make_subplots(rows, cols, horizontal_spacing=0.005, vertical_spacing=0.12 / rows, subplot_titles=titles)
    at = lambda i: (i // cols + 1, i % cols + 1)  # noqa: E731  panel i (0 = the image) -> (row, col)
    fig.add_trace(go.Heatmap(z=np.asarray(image)[::-1], colorscale="gray", showscale=False), *at(0))
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
    from facnn.viz.results import interval_band, method_colors

    colors = method_colors(records)
    fig = go.Figure()
    for method in dict.fromkeys(r["method"] for r in records):
        rows = sorted((r for r in records if r["method"] == method), key=lambda r: r["step"])
        x = [r["step"] / max(r["n_layers"], 1) for r in rows]
        c = colors[method]
        lo, hi = [r[metric]["low"] for r in rows], [r[metric]["high"] for r in rows]
        fig.add_trace(interval_band(x, lo, hi, c, method))
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[r[metric]["value"] for r in rows],
                name=method,
                legendgroup=method,
                mode="lines+markers",
                line=dict(color=c, dash="dot" if method == "random" else "solid"),
            )
        )
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

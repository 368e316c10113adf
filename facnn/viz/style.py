"""How results look, in one place: one colour per method and per model, shaded by layer
(:func:`method_colors`, :func:`method_lines`, :func:`model_color`, from
:mod:`facnn.explain.catalogue`), the 95 % band under a curve (:func:`interval_band`), and the
scale and size maps are drawn at (:func:`map_scale`, :func:`display_maps`). Every figure module
draws with these; this module imports none of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from facnn.explain.catalogue import colours, method_of, model_colour, variant_colours

__all__ = ["method_colors", "method_lines", "model_color", "interval_band", "map_scale", "display_maps", "MAX_SIDE"]


def method_colors(records: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """``{label: colour}`` for records drawn together, from their fields (kind, model, layer; see
    :mod:`facnn.explain.catalogue`): one colour per method, the highest layer of each method on
    each model in full colour and the others lighter.

    A record under a label of its own (not its method's label: the briefly trained models of a
    sweep, such as ``"CoDA T=10 (sweep)"``) is a variant of its method, drawn in graded shades of
    the catalogue's variant colours (:func:`facnn.explain.catalogue.variant_colours`), apart from
    the method's own colour.

    Examples
    --------
    >>> from facnn.explain.catalogue import Method
    >>> method_colors([Method("intrinsic", layer=6).fields(), Method("intrinsic", layer=4).fields()])
    {'FA-CNN maps L6': '#1f77b4', 'FA-CNN maps L4': '#6baed6'}
    >>> coda = Method("contributions", "coda").fields()
    >>> sweep = [dict(coda, method=f"CoDA T={t} (sweep)") for t in (10, 100)]
    >>> method_colors([coda, *sweep])
    {'CoDA contributions': '#d62728', 'CoDA T=10 (sweep)': '#fa9fb5', 'CoDA T=100 (sweep)': '#7a0177'}
    """
    by_label = {r["method"]: r for r in records}  # a method's records share their fields
    specs = {label: method_of(r) for label, r in by_label.items()}
    own = {label: s for label, s in specs.items() if s.label == label}
    shades = colours(own.values())
    out = {label: shades[s.label] for label, s in own.items()}
    variants: dict[tuple[str, str], list[str]] = {}
    for label, s in specs.items():
        if label not in own:
            variants.setdefault(s.family, []).append(label)
    for labels in variants.values():
        out.update(zip(labels, variant_colours(len(labels))))
    return {label: out[label] for label in specs}


def method_lines(records: Sequence[Mapping[str, Any]], reference: str | None = None) -> dict[str, dict[str, Any]]:
    """``{label: plotly line}`` for curves drawn together: the method's colour
    (:func:`method_colors`); the reference (``reference``, default the first method) thick; the
    random control dotted; a layer below its method's highest drawn layer dashed, so a method's two
    shades stay apart where they cross.

    Examples
    --------
    >>> from facnn.explain.catalogue import Method
    >>> lines = method_lines([Method("intrinsic", layer=6).fields(), Method("intrinsic", layer=4).fields()])
    >>> lines["FA-CNN maps L6"]
    {'color': '#1f77b4', 'width': 4, 'dash': 'solid'}
    >>> lines["FA-CNN maps L4"]["dash"]
    'dash'
    """
    colors = method_colors(records)
    specs = {r["method"]: method_of(r) for r in records}
    ref = reference if reference is not None else next(iter(specs), None)
    top: dict[tuple[str, str], int] = {}
    for s in specs.values():
        if s.layer is not None:
            top[s.family] = max(top.get(s.family, s.layer), s.layer)
    out = {}
    for label, s in specs.items():
        dash = "dot" if s.kind == "random" else "dash" if s.layer is not None and s.layer < top[s.family] else "solid"
        out[label] = dict(color=colors[label], width=4 if label == ref else 2, dash=dash)
    return out


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


MAX_SIDE = 112  # pixels a side a drawn map keeps: larger maps (224² ImageNet) are averaged over blocks


def display_maps(a: Any, max_side: int = MAX_SIDE) -> np.ndarray:
    """Maps ``(..., H, W)`` as float32 for drawing, averaged over whole ``f×f`` blocks when a side
    exceeds ``max_side`` (edges padded by repetition): a 224² map is drawn from 112² values, a
    quarter of the figure's bytes, at no visible loss in a grid cell.

    >>> display_maps(np.ones((2, 224, 224))).shape
    (2, 112, 112)
    >>> display_maps(np.ones((28, 28))).shape
    (28, 28)
    """
    a = np.asarray(a, dtype=np.float32)
    f = -(-max(a.shape[-2:]) // max_side)
    if f <= 1:
        return a
    h, w = a.shape[-2:]
    ph, pw = -h % f, -w % f
    a = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(0, ph), (0, pw)], mode="edge")
    return a.reshape(*a.shape[:-2], (h + ph) // f, f, (w + pw) // f, f).mean(axis=(-3, -1))

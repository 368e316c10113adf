"""The methods this project compares, as data: which attribution method (``kind``, a registry name),
on which model (``model``, a registry name), at which layer. Every label, colour, record and claim
is derived from these fields; nothing parses a label back.

A method's colour is its kind's (Grad-CAM orange, RISE green, K-OCC purple, the random control
grey), except for a model's own maps, which take the model's colour (FA-CNN blue, CoDA-Net red,
B-cos cyan, hybrid olive). Maps of a layer below the highest one drawn get a lighter shade (still
visible on white; line figures also dash it). The briefly trained models of a sweep (CoDA-Net's
temperatures) are variants of a method, drawn in graded shades of their own (:func:`variant_colours`).

Examples
--------
>>> spec = Method("gradcam", layer=4)
>>> spec.label, spec.colour
('Grad-CAM L4', '#ff7f0e')
>>> Method("contributions", model="coda").label
'CoDA contributions'
>>> colours([Method("intrinsic", layer=6), Method("intrinsic", layer=4), Method("random")])
{'FA-CNN maps L6': '#1f77b4', 'FA-CNN maps L4': '#6baed6', 'random': '#7f7f7f'}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "Method",
    "MODEL_NAMES",
    "KIND_NAMES",
    "LAYERED_KINDS",
    "kind_colour",
    "model_colour",
    "colours",
    "variant_colours",
    "method_of",
    "explained",
    "record_fields",
]

# How each model is named in a label ("Grad-CAM on CoDA") and each kind ("FA-CNN maps").
MODEL_NAMES = {"facnn": "FA-CNN", "hybrid": "hybrid", "coda": "CoDA", "bcos": "B-cos", "resnet": "ResNet"}
KIND_NAMES = {
    "intrinsic": "FA-CNN maps",
    "gradcam": "Grad-CAM",
    "rise": "RISE",
    "occlusion": "K-OCC",
    "random": "random",
    "contributions": "contributions",
}
LAYERED_KINDS = ("intrinsic", "gradcam")  # kinds read at a chosen layer of an aligned network
_KIND_COLOURS = {"gradcam": "#ff7f0e", "rise": "#2ca02c", "occlusion": "#9467bd", "random": "#7f7f7f"}
_MODEL_COLOURS = {"facnn": "#1f77b4", "coda": "#d62728", "bcos": "#17becf", "hybrid": "#9a9a12", "resnet": "#3b3b3b"}
_LIGHT = {"#1f77b4": "#6baed6", "#ff7f0e": "#fdae6b", "#9a9a12": "#c8c850"}  # middle-layer shades
_VARIANTS = ("#fa9fb5", "#f768a1", "#dd3497", "#ae017e", "#7a0177")  # a sweep's models, light to dark
_OTHER = "#8c564b"  # a method or model this table does not know


@dataclass(frozen=True)
class Method:
    """One method on one model at one layer.

    Parameters
    ----------
    kind
        The attribution method's registry name: ``"intrinsic"`` (a self-explaining model's own
        maps), ``"contributions"``, ``"gradcam"``, ``"rise"``, ``"occlusion"``, ``"random"``.
    model
        The explained model's registry name (``"facnn"``, ``"hybrid"``, ``"coda"``, ``"bcos"``).
    layer
        The layer read, for layered methods (FA-CNN's maps, Grad-CAM on an aligned network).
    centred, window
        RISE's centred variant; occlusion's window (both appear in the label).
    """

    kind: str
    model: str = "facnn"
    layer: int | None = None
    centred: bool = False
    window: int | None = None

    @property
    def label(self) -> str:
        """The one name tables, figures, records and claims show for this method."""
        name = MODEL_NAMES.get(self.model, self.model)
        if self.kind == "intrinsic":
            base = {"facnn": "FA-CNN maps", "hybrid": "Hybrid FA-CNN maps"}.get(self.model, f"{name} maps")
        elif self.kind == "contributions":
            base = f"{name} contributions"
        else:
            base = KIND_NAMES.get(self.kind, self.kind)
            if self.kind == "rise" and self.centred:
                base += " (centred)"
            if self.kind == "occlusion":
                base += f" k={self.window}"
            if self.model != "facnn":
                base += f" on {name}"
        return base if self.layer is None else f"{base} L{self.layer}"

    @property
    def family(self) -> tuple[str, str]:
        """What shares a colour across layers: the kind on the model."""
        return self.kind, self.model

    @property
    def colour(self) -> str:
        """The full colour of this method (see the module docstring)."""
        if self.kind in ("intrinsic", "contributions"):
            return model_colour(self.model)
        return kind_colour(self.kind)

    def fields(self) -> dict[str, Any]:
        """The fields a record stores (``method`` is the label)."""
        return dict(method=self.label, **asdict(self))


def kind_colour(kind: str) -> str:
    return _KIND_COLOURS.get(kind, _OTHER)


def variant_colours(n: int) -> list[str]:
    """``n`` graded shades (light to dark) for the variants of one method drawn together, such as
    the briefly trained models of a temperature sweep: a hue no method or model uses.

    >>> variant_colours(3)
    ['#fa9fb5', '#dd3497', '#7a0177']
    >>> len(set(variant_colours(8)))
    8
    """
    if n <= 1:
        return list(_VARIANTS[2:3])[:n]
    rgb = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in _VARIANTS]
    out = []
    for i in range(n):  # piecewise linear along the palette
        t = i * (len(rgb) - 1) / (n - 1)
        k = min(int(t), len(rgb) - 2)
        a, b = rgb[k], rgb[k + 1]
        out.append("#" + "".join(f"{round(u + (t - k) * (v - u)):02x}" for u, v in zip(a, b)))
    return out


def model_colour(model: str) -> str:
    """A model's colour (training curves, its own maps); the ResNet baseline dark grey."""
    return _MODEL_COLOURS.get(model, _OTHER)


def explained(model: Any, explainer: Any, layer: int | None) -> Method:
    """The :class:`Method` an explainer on a model is, from what they are (their registry names
    and options): what records store beside a user's own label.

    >>> from facnn.models import FACNN
    >>> from facnn.explain import GradCAM
    >>> net = FACNN(10, depth=2)
    >>> explained(net, GradCAM(net, layer=2), 2).label
    'Grad-CAM L2'
    """
    return Method(
        kind=getattr(type(explainer), "registry_name", type(explainer).__name__),
        model=getattr(type(model), "registry_name", None) or "model",
        layer=layer,
        centred=bool(getattr(explainer, "center", False)),
        window=getattr(explainer, "window", None),
    )


def record_fields(label: str, model: Any, explainer: Any, layer: int | None) -> dict[str, Any]:
    """What a record says of its method: the caller's ``label`` and the fields of
    :func:`explained` (a user's own label is kept; the fields say what was run)."""
    return {**explained(model, explainer, layer).fields(), "method": label}


def method_of(record: Mapping[str, Any]) -> Method:
    """The :class:`Method` a record (or comparison side) was made with, from its fields."""
    return Method(
        kind=record["kind"],
        model=record.get("model") or "facnn",
        layer=record.get("layer"),
        centred=bool(record.get("centred", False)),
        window=record.get("window"),
    )


def colours(methods: Iterable[Method | Mapping[str, Any]]) -> dict[str, str]:
    """``{label: colour}`` for methods drawn together: within each kind on each model the highest
    layer gets the full colour and the others the lighter shade. Takes :class:`Method` objects or
    records with the fields of :meth:`Method.fields`."""
    specs = [m if isinstance(m, Method) else method_of(m) for m in methods]
    top: dict[tuple[str, str], int] = {}
    for s in specs:
        if s.layer is not None:
            top[s.family] = max(top.get(s.family, s.layer), s.layer)
    out = {}
    for s in specs:
        c = s.colour
        if s.layer is not None and s.layer != top[s.family]:
            c = _LIGHT.get(c, c)
        out[s.label] = c
    return out

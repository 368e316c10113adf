"""The feature-map explorer: :func:`explorer_figure` is pure and testable; :func:`make_explorer`
only wires ipywidgets to it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import plotly.graph_objects as go

from facnn.explain.catalogue import LAYERED_KINDS, Method
from facnn.viz.figures import map_grid
from facnn.viz.theory import map_scale

__all__ = ["EXPLORER_METHODS", "class_probabilities", "explorer_maps", "explorer_figure", "make_explorer"]

# The explorer's methods on an FA-CNN (labels from the catalogue, as in every table and figure)
# and their options; the layered ones are read at the chosen layer.
_EXPLORER = {
    "intrinsic": Method("intrinsic"),
    "gradcam": Method("gradcam"),
    "rise": Method("rise", centred=True),
    "occlusion": Method("occlusion", window=4),
}
EXPLORER_METHODS = {kind: m.label for kind, m in _EXPLORER.items()}
_EXPLORER_OPTIONS: dict[str, dict[str, Any]] = {
    "rise": {"n_masks": 500, "center": _EXPLORER["rise"].centred},
    "occlusion": {"window": _EXPLORER["occlusion"].window},
}


def class_probabilities(model: Any, images: Any, index: int) -> np.ndarray:
    """Softmax probabilities of every class for image ``index``."""
    import torch

    with torch.no_grad():
        return torch.softmax(model(images[index : index + 1]).float(), 1)[0].cpu().numpy()


def explorer_maps(model: Any, images: Any, index: int, layer: int, method: str, **options: Any) -> np.ndarray:
    """Every class's map of image ``index`` by ``method`` as ``(classes, H, W)``: one pass serves all
    classes (RISE's and occlusion's masked forwards are shared), so the explorer caches it."""
    import torch

    from facnn.explain.api import make_explainer

    x = images[index : index + 1]
    options = {**_EXPLORER_OPTIONS.get(method, {}), **options}
    if method in LAYERED_KINDS:
        options = {"layer": layer, **options}
    explainer = make_explainer(model, method, **options)
    k = explainer.num_classes(x)
    return explainer.attribute_classes(x, torch.arange(k, device=x.device)[None])[0].detach().cpu().numpy()


def _explorer_text(
    prob: np.ndarray, names: Sequence[str], index: int, cls: int, method: str, layer: int
) -> tuple[str, str]:
    spec = _EXPLORER.get(method, Method(method))
    label = replace(spec, layer=layer if method in LAYERED_KINDS else None).label
    pred = int(prob.argmax())
    title = (
        f"image {index}: {names[cls]} (p={prob[cls]:.2f}) — predicted {names[pred]} (p={prob[pred]:.2f})"
        f"<br><sup>{label}</sup>"
    )
    return label, title


def explorer_figure(
    model: Any,
    images: Any,
    index: int,
    layer: int,
    cls: int,
    method: str = "intrinsic",
    class_names: Sequence[str] | None = None,
    maps: np.ndarray | None = None,
) -> go.Figure:
    """Image ``index`` beside the attribution map of class ``cls`` by ``method`` (at ``layer`` for
    the layered methods "intrinsic"/"gradcam"); the explorer widget shows exactly this figure.
    The row is labelled with the method (and layer) it shows; the title names the class and its
    probability and the predicted class. ``maps`` (from :func:`explorer_maps`) skips the computation."""
    prob = class_probabilities(model, images, index)
    names = list(class_names) if class_names is not None else [str(c) for c in range(len(prob))]
    if method in LAYERED_KINDS and hasattr(model, "num_layers"):
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
        key = (index, layer_ if name in LAYERED_KINDS else -1, name)
        if key not in cache:
            cache[key] = explorer_maps(model, images, index, layer_, name)
        return cache[key]

    fig = go.FigureWidget(
        explorer_figure(model, images, 0, n_layers - 1, pred, "intrinsic", names, maps_of(0, n_layers - 1, "intrinsic"))
    )
    busy = [False]

    def update(_=None) -> None:
        if busy[0]:
            return
        layer.disabled = method.value not in LAYERED_KINDS
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

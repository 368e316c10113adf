"""The feature-map explorers.

- :func:`static_explorer` needs no kernel: every class's map by every method for a few images is
  computed once and stored in one plotly figure whose own controls (an image menu and a class
  slider) switch what is shown, so a saved notebook, its HTML and the book stay interactive.
- :func:`make_explorer` is the live ipywidgets explorer (any image, layer, class and method, computed
  on demand; needs a running kernel) around the pure :func:`explorer_figure`."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from facnn.core.validation import check_int
from facnn.explain.catalogue import LAYERED_KINDS, Method
from facnn.viz.figures import map_grid
from facnn.viz.style import display_maps, map_scale

__all__ = [
    "EXPLORER_METHODS",
    "class_probabilities",
    "explorer_maps",
    "explorer_figure",
    "make_explorer",
    "static_explorer",
]

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


def explorer_maps(
    model: Any, images: Any, index: int, layer: int, method: str, classes: Sequence[int] | None = None, **options: Any
) -> np.ndarray:
    """The maps of image ``index`` by ``method`` for ``classes`` (default: every class) as
    ``(classes, H, W)``: one pass serves all classes (RISE's and occlusion's masked forwards are
    shared), so the explorer caches it."""
    import torch

    from facnn.explain.api import make_explainer

    x = images[index : index + 1]
    options = {**_EXPLORER_OPTIONS.get(method, {}), **options}
    if method in LAYERED_KINDS:
        options = {"layer": layer, **options}
    explainer = make_explainer(model, method, **options)
    wanted = torch.arange(explainer.num_classes(x)) if classes is None else torch.as_tensor(list(classes))
    return explainer.attribute_classes(x, wanted.to(x.device)[None])[0].detach().cpu().numpy()


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


def _spread_layers(num_layers: int, most: int = 7) -> list[int]:
    """Every feature layer ``0..depth`` when there are at most ``most``, else ``most`` evenly spread
    (the last always included)."""
    if num_layers <= most:
        return list(range(num_layers))
    return sorted({int(round(v)) for v in np.linspace(0, num_layers - 1, most)})


def _typed(values: np.ndarray) -> dict[str, str]:
    """plotly.js's typed-array form of an int8 array (base64): a quarter of the JSON of a list."""
    a = np.ascontiguousarray(values, dtype=np.int8)
    return {"dtype": "i1", "bdata": base64.b64encode(a.tobytes()).decode(), "shape": ", ".join(map(str, a.shape))}


MAX_CLASSES = 20  # classes a static explorer stores by default (each adds every map of every image)


def _explorer_classes(prob: np.ndarray, labels: Sequence[int] | None, classes: Sequence[int] | None) -> list[int]:
    """The slider's classes: ``classes`` checked, or all up to :data:`MAX_CLASSES`, or the images'
    true and top-3 predicted classes (sorted, at most :data:`MAX_CLASSES`)."""
    k = prob.shape[1]
    if classes is not None:
        shown = [int(c) for c in classes]
        if not shown or any(c < 0 or c >= k for c in shown) or len(set(shown)) != len(shown):
            raise ValueError(f"classes must be distinct class indices in [0, {k - 1}], got {list(classes)}")
        return shown
    if k <= MAX_CLASSES:
        return list(range(k))
    wanted = list(labels or []) + [int(c) for row in np.argsort(-prob, axis=1)[:, :3] for c in row]
    return sorted(dict.fromkeys(int(c) for c in wanted))[:MAX_CLASSES]


def _percent_of_peak(maps: np.ndarray) -> np.ndarray:
    """Each map ``(..., H, W)`` as a percentage of its own largest |value| (int8 in −100..100)."""
    peak = np.abs(maps).max(axis=(-2, -1), keepdims=True)
    return np.round(100 * maps / np.where(peak > 0, peak, 1)).astype(np.int8)


def static_explorer(
    model: Any,
    images: Any,
    class_names: Sequence[str] | None = None,
    labels: Sequence[int] | None = None,
    layers: Sequence[int] | None = None,
    rise_masks: int = 500,
    occlusion_window: int = 4,
    seed: int = 0,
    title: str = "",
    classes: Sequence[int] | None = None,
    max_side: int = 64,
) -> go.Figure:
    """An explorer that needs no kernel: every class's map of every image by every method, in one
    plotly figure with its own controls.

    The top row shows the FA-CNN's class maps at ``layers``; the bottom row the image, Grad-CAM at
    the last layer, RISE (centred) and k×k occlusion. The menu picks the image (its true and
    predicted class in the label), the slider the class whose maps are shown; each panel is titled
    with its method's label. Each map is drawn as a percentage of its own largest |value| (one
    diverging colour bar, 0 white), so maps of different units share one scale. Maps are stored as
    int8 typed arrays (about 1 KB a 28×28 map), computed once here (RISE and occlusion serve every
    class from one set of masked forwards).

    Parameters
    ----------
    model
        An FA-CNN (any network with ``num_layers`` and class maps; see :func:`explorer_maps`).
    images
        ``(N, C, H, W)`` images, a handful (every map of every class is stored).
    class_names
        Names of the classes (default ``"0"``, ``"1"``, …).
    labels
        The images' true classes, named in the menu when given.
    layers
        FA-CNN layers of the top row (default: every layer up to 7, else 7 spread out).
    rise_masks, occlusion_window, seed
        RISE's masks and seed, occlusion's window.
    title
        Figure title (default names the network's depth).
    classes
        The classes on the slider (default: all of them up to :data:`MAX_CLASSES`; beyond, the
        images' true and top-3 predicted classes, at most :data:`MAX_CLASSES`).
    max_side
        Maps and images larger than this are stored average-pooled by a whole factor to at most
        ``max_side`` pixels a side (at 224² a map is 50 KB, stored as is).

    Examples
    --------
    >>> import torch
    >>> from facnn import FACNN
    >>> net = FACNN(num_classes=3, in_channels=1, depth=2).eval()
    >>> fig = static_explorer(net, torch.rand(2, 1, 12, 12), ["a", "b", "c"], labels=[2, 0], rise_masks=8)
    >>> [b.label.split(",")[0] for b in fig.layout.updatemenus[0].buttons]
    ['image 0: c', 'image 1: a']
    >>> [s.label for s in fig.layout.sliders[0].steps]
    ['a', 'b', 'c']
    """
    import torch

    num_layers = getattr(model, "num_layers", 1)
    layers = [layer % num_layers for layer in (layers if layers is not None else _spread_layers(num_layers))]
    last = num_layers - 1
    panels: list[tuple[Method, int, dict[str, Any]]] = [  # (what, layer, options)
        (replace(_EXPLORER["intrinsic"], layer=layer), layer, {}) for layer in layers
    ]
    panels += [
        (replace(_EXPLORER["gradcam"], layer=last), last, {}),
        (_EXPLORER["rise"], last, {"n_masks": rise_masks, "seed": seed}),
        (replace(_EXPLORER["occlusion"], window=occlusion_window), last, {"window": occlusion_window}),
    ]
    n = len(images)
    with torch.no_grad():
        prob = torch.softmax(model(images).float(), 1).cpu().numpy()
    k = prob.shape[1]
    names = list(class_names) if class_names is not None else [str(c) for c in range(k)]
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries for {n} images: pass one true class per image")
    if len(names) != k:
        raise ValueError(f"class_names has {len(names)} names but the model has {k} classes: pass one name per class")
    shown = _explorer_classes(prob, labels, classes)
    maps = np.stack(  # (panel, image, class, H, W), each map in percent of its peak
        [
            np.stack([explorer_maps(model, images, i, layer, m.kind, shown, **opts) for i in range(n)])
            for m, layer, opts in panels
        ]
    )
    max_side = check_int(max_side, "max_side", 8, fix="pixels a side, e.g. 64")
    maps = _percent_of_peak(display_maps(maps, max_side))
    pictures = display_maps(images.float().mean(1).cpu().numpy(), max_side)  # grey for any number of channels
    lo = pictures.min(axis=(1, 2), keepdims=True)
    span = pictures.max(axis=(1, 2), keepdims=True) - lo
    pictures = np.round(255 * (pictures - lo) / np.where(span > 0, span, 1)).astype(np.uint8)

    top = len(layers)
    cols = max(top, len(panels) - top + 1)
    where = [(1, c + 1) for c in range(top)] + [(2, c + 2) for c in range(len(panels) - top)]
    titles = [""] * (2 * cols)
    for (r, c), (m, layer, _) in zip(where, panels):
        titles[(r - 1) * cols + c - 1] = m.label + (" (input)" if m.kind == "intrinsic" and layer == 0 else "")
    titles[cols] = "image"
    fig = make_subplots(rows=2, cols=cols, subplot_titles=titles, horizontal_spacing=0.015, vertical_spacing=0.12)
    first = shown.index(int(prob[0].argmax())) if int(prob[0].argmax()) in shown else 0
    map_traces: list[int] = []
    for i in range(n):
        fig.add_trace(
            go.Heatmap(
                z=pictures[i],
                colorscale="gray",
                showscale=False,
                visible=i == 0,
                hovertemplate="x %{x}, y %{y}: %{z}<extra>image</extra>",
            ),
            2,
            1,
        )
        for p, (r, c) in enumerate(where):
            map_traces.append(len(fig.data))
            fig.add_trace(
                go.Heatmap(
                    z=_typed(maps[p, i, first]),
                    colorscale="RdBu_r",
                    zmin=-100,
                    zmax=100,
                    showscale=p == 0,
                    colorbar=dict(title=dict(text="% of the<br>map's max |value|", side="right"), len=0.9),
                    visible=i == 0,
                    hovertemplate="x %{x}, y %{y}: %{z} %<extra>" + panels[p][0].label + "</extra>",
                ),
                r,
                c,
            )
    per_image = 1 + len(panels)
    buttons = []
    for i in range(n):
        visible = [j // per_image == i for j in range(n * per_image)]
        true = f"{names[int(labels[i])]}, " if labels is not None else ""
        label = f"image {i}: {true}predicted {names[int(prob[i].argmax())]} ({prob[i].max():.2f})"
        buttons.append(dict(label=label, method="restyle", args=[{"visible": visible}]))
    steps = [
        dict(
            label=names[c],
            method="restyle",
            args=[{"z": [_typed(maps[p, i, j]) for i in range(n) for p in range(len(panels))]}, map_traces],
        )
        for j, c in enumerate(shown)
    ]
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    for r in (1, 2):
        for c in range(1, cols + 1):  # square pixels
            sub = fig.get_subplot(r, c)
            fig.update_yaxes(scaleanchor=sub.xaxis.plotly_name.replace("axis", ""), row=r, col=c)
    fig.update_annotations(font_size=11)
    depth = f"{num_layers - 1}-layer FA-CNN" if hasattr(model, "num_layers") else "the model"
    fig.update_layout(
        title=dict(
            text=title or f"Explorer: every class's maps of {depth} — choose the image (menu) and the class (slider)",
            y=0.98,
            yref="container",
            x=0,
            xref="paper",
        ),
        template="plotly_white",
        width=118 * cols + 150,  # 7 columns fit JupyterLab's output area (~1,000 px)
        height=520,
        margin=dict(l=20, r=40, t=140, b=110),
        updatemenus=[
            dict(
                buttons=buttons,
                active=0,
                x=0,
                xanchor="left",
                y=1.1,
                yanchor="bottom",
                direction="down",
                showactive=True,
            )
        ],
        sliders=[
            dict(
                steps=steps,
                active=first,
                currentvalue=dict(prefix="maps of class: "),
                x=0,
                len=1.0,
                y=-0.02,
                yanchor="top",
                pad=dict(t=10),
            )
        ],
    )
    return fig

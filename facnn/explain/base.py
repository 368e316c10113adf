"""The base of every attribution method: input checks, eval mode, layers, upsampling, one call shape.

Explainers work on any classifier: an ``nn.Module`` (or a forward callable, for the methods that
need no layer) mapping ``(B, C, H, W)`` images to ``(B, classes)`` logits. The class count comes
from the logits, channels and size from the input; a model that declares ``in_channels``,
``min_size`` or ``num_classes`` (facnn's own do) gets them checked without an extra forward.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch
from torch import Tensor, nn

from facnn.core.modes import eval_mode  # noqa: F401  (explainers use it from here)
from facnn.core.validation import check_images, check_target

__all__ = ["Attribution", "eval_mode", "resolve_layer", "device_of", "images_per_forward", "FORWARD_PIXELS"]

# input pixels per batched forward of the perturbation methods when batch_size is left at None: 500 masked
# images at 28² to 91², 83 at 224² (an FA-CNN-24's widest activation, 400 channels at 224², then holds
# 1.7e9 values: under CUDA's 2^31-element kernels and ~7 GB in float32; 500 of them fail on a GPU)
FORWARD_PIXELS = 2**22


def images_per_forward(batch_size: int | None, size: tuple[int, int], cap: int) -> int:
    """Images per batched forward: ``batch_size`` where given, else as many as keep the batch
    within :data:`FORWARD_PIXELS` input pixels, at least 1 and at most ``cap``.

    Example
    -------
    >>> images_per_forward(None, (28, 28), 500), images_per_forward(None, (224, 224), 500)
    (500, 83)
    """
    if batch_size is not None:
        return batch_size
    return max(1, min(cap, FORWARD_PIXELS // (size[0] * size[1])))


def device_of(model: Any) -> torch.device:
    """The device of a model's first parameter or buffer (CPU for a model without any)."""
    if isinstance(model, nn.Module):
        for t in (*model.parameters(), *model.buffers()):
            return t.device
    return torch.device("cpu")


def resolve_layer(model: nn.Module, layer: int | str | nn.Module | None) -> nn.Module:
    """The module whose output a layer method reads: an ``nn.Module`` of ``model``, a dotted name
    (``"layer4"``, ``"layers.5"``), or an int feature-map index for models with
    ``feature_module`` (FA-CNN, hybrid); ``None`` is the model's own default (``feature_module(-1)``
    or ``last_conv``)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"layer methods need an nn.Module to hook, got {type(model).__name__}")
    if isinstance(layer, nn.Module):
        if not any(m is layer for m in model.modules()):
            raise ValueError(f"layer {type(layer).__name__} is not a submodule of the model: pass one of its modules")
        return layer
    if isinstance(layer, str):
        try:
            return model.get_submodule(layer)
        except AttributeError:
            names = [n for n, _ in model.named_children()]
            raise ValueError(f"model has no submodule {layer!r}; its top-level modules are {names}") from None
    if hasattr(model, "feature_module") and (layer is None or isinstance(layer, int)):
        feature_module = cast(Callable[[int], nn.Module], model.feature_module)  # FA-CNN, hybrid
        return feature_module(-1 if layer is None else layer)
    if layer is None and isinstance(getattr(model, "last_conv", None), nn.Module):
        return cast(nn.Module, model.last_conv)
    names = [n for n, _ in model.named_children()]
    if layer is None:
        raise ValueError(
            f"{type(model).__name__} has no default layer: pass layer= as a module or a dotted name, "
            f"e.g. one of {names}"
        )
    raise TypeError(
        f"layer must be a module, a dotted name (one of {names}, ...) or, for FA-CNN, an int; "
        f"got {type(layer).__name__}"
    )


class Attribution:
    """Base class: holds the model's forward, validates inputs once per call, defines :meth:`attribute`."""

    needs_module = False  # layer methods hook a module and need an nn.Module

    def __init__(self, model: nn.Module | Any):
        if not callable(model) or (self.needs_module and not isinstance(model, nn.Module)):
            want = "a torch.nn.Module" if self.needs_module else "a torch.nn.Module or a forward callable"
            raise TypeError(
                f"{type(self).__name__} needs {want} mapping (B, C, H, W) images to (B, classes) "
                f"logits, got {type(model).__name__}"
            )
        self.model = model
        self._num_classes: int | None = getattr(model, "num_classes", None)

    def num_classes(self, x: Tensor) -> int:
        """The model's class count: its ``num_classes`` or the width of its logits on ``x[:1]``."""
        if self._num_classes is None:
            with torch.no_grad(), eval_mode(self.model):
                out = self.model(x[:1])
            if not isinstance(out, Tensor) or out.dim() != 2 or out.shape[0] != 1 or out.shape[1] < 1:
                shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
                raise ValueError(
                    f"the model returned {shape} for one image: explainers need a classifier mapping "
                    f"(B, C, H, W) images to (B, classes) logits (wrap a model that returns more, "
                    f"e.g. lambda x: model(x).logits)"
                )
            self._num_classes = int(out.shape[1])
        return self._num_classes

    def _prepare(self, x: Tensor, target: Any) -> Tensor:
        check_images(x, getattr(self.model, "in_channels", None), getattr(self.model, "min_size", 1))
        return check_target(target, x.shape[0], self.num_classes(x), x.device)

    def attribute(self, x: Tensor, target: int | Tensor) -> Tensor:
        """Return ``(B, H, W)`` attribution maps of class ``target`` for images ``x``."""
        t = self._prepare(x, target)
        with eval_mode(self.model):
            return self._attribute(x, t)

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        raise NotImplementedError

    def attribute_classes(self, x: Tensor, classes: Tensor) -> Tensor:
        """Maps of several classes per image: ``classes (B, K)`` → ``(B, K, H, W)``.

        Subclasses override ``_attribute_classes`` where one pass can serve all classes
        (FA-CNN maps, RISE, occlusion).
        """
        classes = torch.as_tensor(classes, device=x.device)
        if classes.dim() != 2 or classes.shape[0] != x.shape[0]:
            raise ValueError(f"classes must be (B, K) with B={x.shape[0]}, got {tuple(classes.shape)}")
        check_images(x, getattr(self.model, "in_channels", None), getattr(self.model, "min_size", 1))
        n = self.num_classes(x)
        if classes.is_floating_point() or (classes.numel() and (int(classes.min()) < 0 or int(classes.max()) >= n)):
            raise ValueError(f"classes must hold integer class indices in [0, {n - 1}]")
        with eval_mode(self.model):
            return self._attribute_classes(x, classes)

    def _attribute_classes(self, x: Tensor, classes: Tensor) -> Tensor:
        return torch.stack([self._attribute(x, classes[:, k]) for k in range(classes.shape[1])], 1)

    # options added after records and map caches keyed by this repr existed, with their defaults:
    # left out of the repr at the default, so those keys and records stay as they were
    LATER_OPTIONS: dict[str, object] = {}
    # how a method runs, not what it computes (batch sizes): never in the repr, so not in map-cache keys
    EXECUTION_OPTIONS: tuple[str, ...] = ()

    def __repr__(self) -> str:
        later = type(self).LATER_OPTIONS
        opts = ", ".join(
            f"{k}={v!r}"
            for k, v in vars(self).items()
            if k != "model"
            and not k.startswith("_")
            and k not in type(self).EXECUTION_OPTIONS
            and not (k in later and v == later[k])
        )
        return f"{type(self).__name__}({opts})"

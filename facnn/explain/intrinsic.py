"""Intrinsic maps: a self-explaining model's own explanation, read through the protocol
``model.intrinsic_maps(x, classes, layer) -> (B, K, h, w)``.

- :class:`IntrinsicMaps` — any model with that method (FA-CNN, the hybrid, CoDA-Nets, B-cos, yours).
- :class:`ClassMaps` — FA-CNN's class maps: the mean of the class's ``R`` maps at a layer.
- :class:`Contributions` — a dynamic-linear network's contribution maps (CoDA-Nets, B-cos).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from facnn.core.registry import register_method
from facnn.core.resize import upsample
from facnn.explain.base import Attribution

__all__ = ["IntrinsicMaps", "ClassMaps", "Contributions"]


@register_method("intrinsic")
class IntrinsicMaps(Attribution):
    """A self-explaining model's own maps, through the protocol ``model.intrinsic_maps(x, classes,
    layer) -> (B, K, h, w)``: FA-CNN's (and the hybrid's) class maps at a layer, a CoDA-Net's
    contributions. No gradients for FA-CNN: one forward pass up to the layer.

    Parameters
    ----------
    model
        A model with an ``intrinsic_maps`` method (FA-CNN, hybrid FA-CNN, CoDA-Net, or yours).
    layer
        Feature-map layer for layered maps (FA-CNN: 0 = aligned input, -1 = penultimate, default).
    """

    needs_module = True
    kind: str | None = None  # a subclass that wants one kind of intrinsic map names it

    def __init__(self, model: nn.Module, layer: int | None = -1):
        super().__init__(model)
        if not callable(getattr(model, "intrinsic_maps", None)):
            raise TypeError(
                f"{type(model).__name__} has no intrinsic maps (no intrinsic_maps method): "
                f"explain it with GradCAM, RISE or Occlusion"
            )
        have = getattr(model, "intrinsic_kind", None)
        if self.kind is not None and have != self.kind:
            raise TypeError(
                f"{type(model).__name__}'s intrinsic maps are {have}, not {self.kind}: "
                f"use method 'intrinsic' (facnn.IntrinsicMaps)"
            )
        self.layer = layer

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        return self._attribute_classes(x, t[:, None])[:, 0]

    def _attribute_classes(self, x: Tensor, classes: Tensor) -> Tensor:
        with torch.no_grad() if self.model.intrinsic_kind == "class maps" else torch.enable_grad():
            return upsample(self.model.intrinsic_maps(x, classes, self.layer), x.shape[-2:]).detach()


class ClassMaps(IntrinsicMaps):
    """FA-CNN's intrinsic class maps (:class:`IntrinsicMaps` of kind "class maps"): the mean of
    the class's ``R`` maps at ``layer`` (0 = aligned input, -1 = penultimate, default)."""

    kind = "class maps"


@register_method("contributions")
class Contributions(IntrinsicMaps):
    """CoDA-Net contribution maps (:class:`IntrinsicMaps` of kind "contributions"): input ×
    gradient of the logit in explanation mode on the ``[x, 1−x]``-encoded input, summed over
    channels. They sum to ``logit − b₀`` (completeness)."""

    kind = "contributions"

    def __init__(self, model: nn.Module, layer: int | None = None):
        super().__init__(model, layer)

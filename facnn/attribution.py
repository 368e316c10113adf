"""Attribution with one call shape: ``method(model, **options).attribute(x, target) -> (B, H, W)``.

Every method explains any classifier (an ``nn.Module`` mapping images to logits; RISE, occlusion
and the random control also take a plain forward callable) and takes images ``(B, C, H, W)`` in ``[0, 1]`` and a target (an int or a ``(B,)``
tensor), runs the model in eval mode (restoring its mode afterwards), and returns maps at input
resolution on the input's device. Nothing is rectified or normalised unless asked.

- :class:`IntrinsicMaps` — a self-explaining model's own maps through ``model.intrinsic_maps``:
  FA-CNN's class maps (:class:`ClassMaps`, the mean of the class's ``R`` maps at a layer) or a
  CoDA-Net's contributions (:class:`Contributions`).
- :class:`GradCAM` — ReLU(Σ_k mean(∂y_c/∂A_k)·A_k) at any layer of any model (captum's
  ``LayerGradCam`` conventions, bilinear upsampling without corner alignment).
- :class:`RISE` — Petsiuk et al. 2018, seeded, masks generated on the device in chunks.
- :class:`Occlusion` — k×k occlusion, identical to captum's ``Occlusion`` with a full-channel
  window, evaluated in batches of occluded images.
- :class:`RandomMaps` — the control: seeded uniform noise, independent of model and target.

:func:`explain_func` wraps them all for Quantus-style evaluation code.
"""


from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .attribution_base import Attribution, device_of, eval_mode, resolve_layer
from .perturbation import RISE, Occlusion
from .registry import _METHODS, method_class, register_method
from .resize import upsample
from .validation import check_bool, check_int

__all__ = [
    "Attribution", "IntrinsicMaps", "ClassMaps", "GradCAM", "RISE", "Occlusion", "Contributions", "RandomMaps",
    "make_explainer", "explain_func", "METHODS", "eval_mode",
]  # fmt: skip


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
            raise TypeError(f"{type(model).__name__} has no intrinsic maps (no intrinsic_maps method): "
                            f"explain it with GradCAM, RISE or Occlusion")  # fmt: skip
        have = getattr(model, "intrinsic_kind", None)
        if self.kind is not None and have != self.kind:
            raise TypeError(f"{type(model).__name__}'s intrinsic maps are {have}, not {self.kind}: "
                            f"use method 'intrinsic' (facnn.IntrinsicMaps)")  # fmt: skip
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


@register_method("gradcam")
class GradCAM(Attribution):
    """Grad-CAM: ``ReLU(Σ_k α_k A_k)`` with ``α_k`` the spatial mean of ``∂y_c/∂A_k``.

    Parameters
    ----------
    model
        Any classifier ``nn.Module``.
    layer
        The module whose output is ``A``, or its dotted name (``"layer4"``); for FA-CNN also an
        int feature-map index (default -1); for facnn's ResNet the last block by default.
    relu
        Rectify the map (default True; ``False`` gives the signed map).
    upsample
        Bilinearly upsample to the input size (default True).
    normalize
        Divide each map by its maximum (default False: no min-max unless asked).
    """

    needs_module = True

    def __init__(self, model: nn.Module, layer: int | str | nn.Module | None = None, *, relu: bool = True,
                 upsample: bool = True, normalize: bool = False):  # fmt: skip
        super().__init__(model)
        relu, upsample = check_bool(relu, "relu"), check_bool(upsample, "upsample")
        normalize = check_bool(normalize, "normalize")
        self.layer, self.relu, self.upsample, self.normalize = layer, relu, upsample, normalize
        self._module = resolve_layer(model, layer)

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        store: list[Tensor] = []

        def hook(module: nn.Module, inputs: Any, output: Tensor) -> Tensor:
            # a leaf that requires grad: works even where nothing upstream does (e.g. the aligned input)
            store.append(output.detach().requires_grad_(True))
            return store[-1]

        handle = self._module.register_forward_hook(hook)
        try:
            with torch.enable_grad():
                logits = self.model(x)
                act = store[0]
                (grad,) = torch.autograd.grad(logits.gather(1, t[:, None]).sum(), act)
        finally:
            handle.remove()
        cam = (grad.mean(dim=(2, 3), keepdim=True) * act).sum(1).detach()
        if self.relu:
            cam = cam.clamp_min(0)
        if self.upsample:
            cam = upsample(cam, x.shape[-2:])
        if self.normalize:
            cam = cam / cam.flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1)
        return cam


@register_method("contributions")
class Contributions(IntrinsicMaps):
    """CoDA-Net contribution maps (:class:`IntrinsicMaps` of kind "contributions"): input ×
    gradient of the logit in explanation mode on the ``[x, 1−x]``-encoded input, summed over
    channels. They sum to ``logit − b₀`` (completeness)."""

    kind = "contributions"

    def __init__(self, model: nn.Module, layer: int | None = None):
        super().__init__(model, layer)


@register_method("random")
class RandomMaps(Attribution):
    """The control every metric is read against: maps of uniform noise, drawn from a seeded CPU
    generator and independent of the model and the target.

    Parameters
    ----------
    model
        Any model (used only to validate inputs).
    seed
        Seed of the generator; :meth:`reset` restarts the sequence, so an experiment that resets
        first draws the same maps on every run.
    """

    def __init__(self, model: nn.Module, seed: int = 0):
        super().__init__(model)
        self.seed = check_int(seed, "seed", 0)
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Restart the generator (with ``seed`` when given)."""
        if seed is not None:
            self.seed = check_int(seed, "seed", 0)
        self._generator = torch.Generator().manual_seed(self.seed)

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        return torch.rand(x.shape[0], *x.shape[-2:], generator=self._generator).to(x.device)


METHODS = _METHODS  # name -> class, filled by @register_method where each method is defined


def make_explainer(model: nn.Module, method: str, **options: Any) -> Attribution:
    """Build the attribution method named ``method`` (one of :data:`METHODS`) for ``model``."""
    return method_class(method)(model, **options)


def explain_func(model: nn.Module, inputs: Any, targets: Any, method: str = "intrinsic", **options: Any) -> np.ndarray:
    """Quantus-compatible explanation function: returns ``(B, 1, H, W)`` float32 numpy maps.

    ``inputs`` (floating-point images in ``[0, 1]``) and ``targets`` (integer classes) may be numpy
    arrays or tensors; they are moved to the model's device. ``options`` go to the method (e.g.
    ``layer=-1`` or ``layer="layer4"`` for "intrinsic"/"gradcam", ``n_masks=`` for "rise",
    ``window=`` for "occlusion"); ``device`` (as Quantus passes it) is ignored.

    Examples
    --------
    >>> import torch, facnn
    >>> maps = facnn.explain_func(facnn.FACNN(10), torch.rand(2, 1, 28, 28), [3, 4])
    >>> maps.shape
    (2, 1, 28, 28)
    """
    options.pop("device", None)
    x = inputs if isinstance(inputs, Tensor) else torch.from_numpy(np.asarray(inputs))
    if not x.is_floating_point():
        raise TypeError(f"inputs have dtype {x.dtype}: pass floating-point images in [0, 1] (uint8 pixels: x / 255)")
    t = targets if isinstance(targets, Tensor) else torch.from_numpy(np.asarray(targets))
    if t.is_floating_point() or t.dtype == torch.bool:
        raise TypeError(f"targets have dtype {t.dtype}: pass integer class indices")
    device = device_of(model)
    x, t = x.to(device, torch.float32), t.to(device)
    maps = make_explainer(model, method, **options).attribute(x, t.long() if t.dim() else int(t))
    return maps.unsqueeze(1).detach().cpu().numpy().astype(np.float32)

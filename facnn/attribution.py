"""Attribution with one call shape: ``method(model, **options).attribute(x, target) -> (B, H, W)``.

Every method takes images ``(B, C, H, W)`` in ``[0, 1]`` and a target (an int or a ``(B,)``
tensor), runs the model in eval mode (restoring its mode afterwards), and returns maps at input
resolution on the input's device. Nothing is rectified or normalised unless asked.

- :class:`ClassMaps` — FA-CNN's intrinsic maps: the mean of the class's ``R`` maps at a layer.
- :class:`GradCAM` — ReLU(Σ_k mean(∂y_c/∂A_k)·A_k) at any layer of any model (captum's
  ``LayerGradCam`` conventions, bilinear upsampling without corner alignment).
- :class:`RISE` — Petsiuk et al. 2018, seeded, masks generated on the device in chunks.
- :class:`Occlusion` — k×k occlusion, identical to captum's ``Occlusion`` with a full-channel
  window, evaluated in batches of occluded images.
- :class:`Contributions` — CoDA-Net input × gradient in explanation mode, summed over channels.
- :class:`RandomMaps` — the control: seeded uniform noise, independent of model and target.

:func:`explain_func` wraps them all for Quantus-style evaluation code.
"""


from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .attribution_base import Attribution, _upsample, _upsample_nchw, eval_mode
from .models import FACNN, class_maps, class_means
from .perturbation import RISE, Occlusion

__all__ = [
    "Attribution", "ClassMaps", "GradCAM", "RISE", "Occlusion", "Contributions", "RandomMaps",
    "make_explainer", "explain_func", "METHODS", "eval_mode",
]  # fmt: skip


class ClassMaps(Attribution):
    """FA-CNN's intrinsic class maps: one forward pass, no gradients.

    Parameters
    ----------
    model
        An :class:`~facnn.FACNN`.
    layer
        Feature-map layer (0 = aligned input, -1 = penultimate, default).
    """

    def __init__(self, model: nn.Module, layer: int = -1):
        if not isinstance(model, FACNN):
            raise TypeError(f"ClassMaps needs an FACNN, got {type(model).__name__}; use GradCAM for other models")
        super().__init__(model)
        self.layer = layer

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        with torch.no_grad():
            return class_maps(self.model, x, t, self.layer)

    def _attribute_classes(self, x: Tensor, classes: Tensor) -> Tensor:  # one forward for all classes
        with torch.no_grad():
            m = class_means(self.model, x, self.layer)  # (B, C, h, w)
            m = m.gather(1, classes[:, :, None, None].expand(-1, -1, *m.shape[-2:]))
            return _upsample_nchw(m, x.shape[-2:])


def _resolve_layer(model: nn.Module, layer: int | nn.Module | None) -> nn.Module:
    if isinstance(layer, nn.Module):
        return layer
    if isinstance(model, FACNN):
        return model.feature_module(-1 if layer is None else layer)
    if layer is None and hasattr(model, "last_conv"):
        return model.last_conv
    if layer is None and hasattr(model, "layers"):
        return model.layers[-1]
    raise TypeError(f"pass layer as an nn.Module of {type(model).__name__} (int layers are for FACNN)")


class GradCAM(Attribution):
    """Grad-CAM: ``ReLU(Σ_k α_k A_k)`` with ``α_k`` the spatial mean of ``∂y_c/∂A_k``.

    Parameters
    ----------
    model
        Any classifier.
    layer
        An ``nn.Module`` whose output is ``A``; for FA-CNN an int feature-map index (default -1);
        for the ResNet the last block by default.
    relu
        Rectify the map (default True; ``False`` gives the signed map).
    upsample
        Bilinearly upsample to the input size (default True).
    normalize
        Divide each map by its maximum (default False: no min-max unless asked).
    """

    def __init__(self, model: nn.Module, layer: int | nn.Module | None = None, *, relu: bool = True,
                 upsample: bool = True, normalize: bool = False):  # fmt: skip
        super().__init__(model)
        self.layer, self.relu, self.upsample, self.normalize = layer, relu, upsample, normalize
        self._module = _resolve_layer(model, layer)

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
            cam = _upsample(cam, x.shape[-2:])
        if self.normalize:
            cam = cam / cam.flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1)
        return cam


class Contributions(Attribution):
    """CoDA-Net contribution maps: input × gradient of the logit in explanation mode, on the
    ``[x, 1−x]``-encoded input, summed over channels. They sum to ``logit − b₀`` (completeness).
    """

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        from .coda import explanation_mode

        with torch.enable_grad(), explanation_mode(self.model):
            e = self.model.encode(x).detach().requires_grad_(True)
            logits = self.model.forward_encoded(e)
            (g,) = torch.autograd.grad(logits.gather(1, t[:, None]).sum(), e)
        return (e * g).sum(1).detach()


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
        self.seed = seed
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Restart the generator (with ``seed`` when given)."""
        if seed is not None:
            self.seed = seed
        self._generator = torch.Generator().manual_seed(self.seed)

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        return torch.rand(x.shape[0], *x.shape[-2:], generator=self._generator).to(x.device)


METHODS: dict[str, type[Attribution]] = {
    "intrinsic": ClassMaps, "gradcam": GradCAM, "rise": RISE, "occlusion": Occlusion, "contributions": Contributions,
    "random": RandomMaps,
}  # fmt: skip


def make_explainer(model: nn.Module, method: str, **options: Any) -> Attribution:
    """Build the attribution method named ``method`` (one of :data:`METHODS`) for ``model``."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {sorted(METHODS)}")
    return METHODS[method](model, **options)


def explain_func(model: nn.Module, inputs: Any, targets: Any, method: str = "intrinsic", **options: Any) -> np.ndarray:
    """Quantus-compatible explanation function: returns ``(B, 1, H, W)`` float32 numpy maps.

    ``inputs`` and ``targets`` may be numpy arrays or tensors; they are moved to the model's
    device. ``options`` go to the method (e.g. ``layer=-1`` for "intrinsic"/"gradcam",
    ``n_masks=`` for "rise", ``window=`` for "occlusion"); ``device`` (as Quantus passes) is ignored.
    """
    options.pop("device", None)
    device = next(model.parameters()).device
    x = torch.as_tensor(np.asarray(inputs) if not isinstance(inputs, Tensor) else inputs, dtype=torch.float32).to(device)
    t = torch.as_tensor(np.asarray(targets) if not isinstance(targets, Tensor) else targets).to(device)
    maps = make_explainer(model, method, **options).attribute(x, t.long() if t.dim() else int(t))
    return maps.unsqueeze(1).cpu().numpy().astype(np.float32)

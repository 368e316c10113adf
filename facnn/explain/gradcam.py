"""Grad-CAM (Selvaraju et al., ICCV 2017) at any layer of any model, with captum's ``LayerGradCam``
conventions: ReLU(Σ_k mean(∂y_c/∂A_k)·A_k), bilinear upsampling without corner alignment."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from facnn.core.registry import register_method
from facnn.core.resize import upsample
from facnn.core.validation import check_bool
from facnn.explain.base import Attribution, resolve_layer

__all__ = ["GradCAM"]


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

    def __init__(
        self,
        model: nn.Module,
        layer: int | str | nn.Module | None = None,
        *,
        relu: bool = True,
        upsample: bool = True,
        normalize: bool = False,
    ):
        super().__init__(model)
        relu, upsample = check_bool(relu, "relu"), check_bool(upsample, "upsample")
        normalize = check_bool(normalize, "normalize")
        self.layer, self.relu, self.upsample, self.normalize = layer, relu, upsample, normalize
        self._module = resolve_layer(model, layer)

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        store: list[Tensor] = []

        def hook(module: nn.Module, inputs: Any, output: Tensor) -> Tensor:
            # a leaf that requires grad: works even where nothing upstream does (e.g. the aligned input);
            # the graph starts here, so the layers before A record none
            torch.set_grad_enabled(True)
            store.append(output.detach().requires_grad_(True))
            return store[-1]

        handle = self._module.register_forward_hook(hook)
        try:
            with torch.no_grad():  # restores the caller's grad mode on exit
                score = self.model(x).gather(1, t[:, None]).sum()  # recorded: the hook turned grad on
            (grad,) = torch.autograd.grad(score, store[0])
            act = store[0]
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

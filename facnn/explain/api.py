"""Methods by name: :func:`make_explainer` and the Quantus-compatible :func:`explain_func`."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from facnn.core.registry import _METHODS, method_class
from facnn.explain.base import Attribution, device_of

__all__ = ["METHODS", "make_explainer", "explain_func"]

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

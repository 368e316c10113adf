"""Bringing maps to the input's size: the one bilinear upsampling every map in facnn goes through
(class maps, Grad-CAM, the theorem checks), so all of them are compared on the same grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor

__all__ = ["upsample"]


def upsample(maps: Tensor, size: Sequence[int] | Tensor) -> Tensor:
    """Bilinearly resize ``maps`` — ``(B, h, w)`` or ``(B, K, h, w)`` — to ``size`` (``align_corners=False``,
    as Grad-CAM implementations do); maps already at ``size`` are returned as they are.

    >>> import torch
    >>> upsample(torch.ones(2, 7, 7), (28, 28)).shape, upsample(torch.ones(2, 3, 7, 7), (28, 28)).shape
    (torch.Size([2, 28, 28]), torch.Size([2, 3, 28, 28]))
    """
    size = tuple(size)
    if tuple(maps.shape[-2:]) == size:
        return maps
    if maps.dim() == 3:
        return F.interpolate(maps.unsqueeze(1), size=size, mode="bilinear", align_corners=False).squeeze(1)
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=False)

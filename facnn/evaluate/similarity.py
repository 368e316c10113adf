"""Similarity of maps: Pearson correlation per image (shared by the theorem checks and the
randomisation tests)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["pearson"]


def pearson(a: Tensor, b: Tensor) -> Tensor:
    """Per-image Pearson correlation of two map batches ``(B, …)`` over all pixels: ``(B,)``.

    NaN where either map is constant (correlation undefined).
    """
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(
            f"pearson takes two tensors of maps, got {type(a).__name__} and {type(b).__name__}: use torch.as_tensor"
        )
    if a.shape != b.shape:
        raise ValueError(f"maps must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.dim() < 2 or a.shape[1:].numel() < 2:
        raise ValueError(
            f"pearson correlates each image's maps over their pixels: a and b must be batches (B, H, W) or "
            f"(B, N) with N ≥ 2, got shape {tuple(a.shape)}; for two single maps use a[None], b[None]"
        )
    a, b = a.flatten(1).double(), b.flatten(1).double()
    ac, bc = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    na, nb = ac.norm(dim=1), bc.norm(dim=1)
    # a map is constant when its centred norm is rounding noise relative to its magnitude
    eps = 1e-9 * a.shape[1] ** 0.5
    const = (na <= eps * a.abs().amax(1)) | (nb <= eps * b.abs().amax(1))
    r = (ac * bc).sum(1) / (na * nb).clamp_min(1e-300)
    return torch.where(const, torch.nan, r).float()

"""Model-agnostic helpers: predicted classes in batches and parameter counts."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from facnn.core.modes import eval_mode
from facnn.core.validation import check_images, check_int

__all__ = ["predict", "count_params"]


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, batch_size: int = 512) -> Tensor:
    """Predicted classes of ``x`` in eval mode (the model's mode is restored after), in batches."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"predict needs an nn.Module classifier, got {type(model).__name__}")
    check_images(x, getattr(model, "in_channels", None), getattr(model, "min_size", 1))
    batch_size = check_int(batch_size, "batch_size", 1, fix="images per forward pass, e.g. 512")
    with eval_mode(model):
        return torch.cat([model(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])

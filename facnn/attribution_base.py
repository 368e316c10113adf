"""The base of every attribution method: input checks, eval mode, upsampling, one call shape."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .validation import check_images, check_target

__all__ = ["Attribution", "eval_mode"]


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the block and restore its previous mode."""
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


def _upsample_nchw(m: Tensor, size: tuple[int, int]) -> Tensor:
    if m.shape[-2:] == size:
        return m
    return F.interpolate(m, size=size, mode="bilinear", align_corners=False)


def _upsample(m: Tensor, size: tuple[int, int]) -> Tensor:
    if m.shape[-2:] == size:
        return m
    return F.interpolate(m.unsqueeze(1), size=size, mode="bilinear", align_corners=False).squeeze(1)


class Attribution:
    """Base class: holds the model, validates inputs, and defines :meth:`attribute`."""

    def __init__(self, model: nn.Module):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model

    def _prepare(self, x: Tensor, target: Any) -> Tensor:
        check_images(x, self.model.in_channels, getattr(self.model, "min_size", 1))
        return check_target(target, x.shape[0], self.model.num_classes, x.device)

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
        for k in range(classes.shape[1]):
            self._prepare(x, classes[:, k])
        with eval_mode(self.model):
            return self._attribute_classes(x, classes)

    def _attribute_classes(self, x: Tensor, classes: Tensor) -> Tensor:
        return torch.stack([self._attribute(x, classes[:, k]) for k in range(classes.shape[1])], 1)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "model" and not k.startswith("_"))
        return f"{type(self).__name__}({opts})"

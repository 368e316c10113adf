"""What CoDA-Nets and B-cos networks share: both compute ``y(x) = W(x)·x`` on the ``[x, 1−x]``
encoding, and in *explanation mode* the dynamic weights ``W(x)`` are detached, so input ×
gradient of a logit gives contributions that sum to ``logit − b₀`` exactly.

A layer opts in by having a boolean attribute ``explain`` that it reads in ``forward``.

Example
-------
>>> import torch
>>> from facnn.models import CoDANet
>>> m = CoDANet(10).eval()
>>> with explanation_mode(m):
...     assert all(layer.explain for layer in m.layers)
>>> any(layer.explain for layer in m.layers)
False
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, cast

import torch
from torch import Tensor, nn

from facnn.core.validation import MAX_SIZE, check_images, check_ints

__all__ = ["check_layout", "explanation_mode", "contribution_maps", "DynamicLinearNetwork"]


class _Explainable(Protocol):
    """A layer with an ``explain`` flag that it reads in ``forward``."""

    explain: bool


@contextmanager
def explanation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, every layer of ``model`` with an ``explain`` flag (CoDA-Net DAU layers,
    B-cos layers) detaches its dynamic weights ``W(x)``, so gradients see the network as the
    linear map ``x ↦ W(x)·x``. The flags are restored on exit, also after an exception."""
    units = [cast(_Explainable, m) for m in model.modules() if isinstance(getattr(m, "explain", None), bool)]
    if not units:
        raise ValueError(
            f"{type(model).__name__} has no dynamic-linear layers (modules with an 'explain' flag): "
            "explanation mode applies to CoDA-Nets and B-cos networks"
        )
    before = [u.explain for u in units]
    for u in units:
        u.explain = True
    try:
        yield model
    finally:
        for u, b in zip(units, before):
            u.explain = b


def contribution_maps(
    model: nn.Module, forward_encoded: Callable[[Tensor], Tensor], e: Tensor, classes: Tensor
) -> Tensor:
    """Contribution maps ``(B, K, H, W)`` of ``classes (B, K)``: input × gradient of each logit on
    the encoded input ``e`` in explanation mode, summed over channels."""
    out = []
    with torch.enable_grad(), explanation_mode(model):
        e = e.detach().requires_grad_(True)
        logits = forward_encoded(e)
        for k in range(classes.shape[1]):
            (g,) = torch.autograd.grad(
                logits.gather(1, classes[:, k : k + 1]).sum(), e, retain_graph=k + 1 < classes.shape[1]
            )
            out.append((e * g).sum(1).detach())
    return torch.stack(out, 1)


class DynamicLinearNetwork(nn.Module):
    """What a CoDA-Net and a B-cos network share around their layers: the ``[x, 1 − x]`` input
    encoding, ``logit = pooled / T + b₀`` over ``self.layers``, and contribution maps as the
    self-explanation protocol. Subclasses set ``layers``, ``in_channels``, ``min_size``,
    ``temperature``, ``logit_bias``, and ``spatial_pool`` ("sum" or "mean")."""

    intrinsic_kind = "contributions"
    spatial_pool = "sum"
    family = "dynamic-linear"  # the name in error messages
    layers: nn.ModuleList
    in_channels: int
    min_size: int
    temperature: float
    logit_bias: float

    @staticmethod
    def encode(x: Tensor) -> Tensor:
        """``[x, 1 − x]`` along channels (no mean/std normalisation: every colour has a non-zero norm)."""
        return torch.cat([x, 1 - x], dim=1)

    def forward_encoded(self, e: Tensor) -> Tensor:
        for layer in self.layers:
            e = layer(e)
        pooled = e.sum(dim=(2, 3)) if self.spatial_pool == "sum" else e.mean(dim=(2, 3))
        return pooled / self.temperature + self.logit_bias

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.in_channels, self.min_size, finite=False)  # shapes only: no host sync
        return self.forward_encoded(self.encode(x))

    def intrinsic_maps(self, x: Tensor, classes: Tensor, layer: int | None = None) -> Tensor:
        """The self-explanation protocol: contribution maps of ``classes (B, K)`` as
        ``(B, K, H, W)`` — input × gradient of each logit in explanation mode on the ``[x, 1−x]``
        encoding, summed over channels; they sum to ``logit − b₀`` (completeness)."""
        if layer not in (None, -1):
            raise ValueError(f"{self.family} contributions are input maps: layer must be None or -1, got {layer!r}")
        check_images(x, self.in_channels, self.min_size)
        return contribution_maps(self, self.forward_encoded, self.encode(x), classes)


def check_layout(kernels: object, strides: object, channels: object) -> tuple[list[int], list[int], list[int]]:
    """A convolutional dynamic-linear network's layout, checked before any layer is built: a kernel
    size and a stride per layer, and output channels per hidden layer (one fewer than kernels)."""
    kernels = check_ints(kernels, "kernels", 1, MAX_SIZE)
    n = len(kernels)
    strides = check_ints(strides, "strides", 1, MAX_SIZE, length=n, each="one per layer: kernels has that many")
    channels = check_ints(
        channels,
        "channels",
        1,
        MAX_SIZE,
        length=n - 1,
        nonempty=False,
        each="one per hidden layer: one fewer than kernels",
    )
    return list(kernels), list(strides), list(channels)

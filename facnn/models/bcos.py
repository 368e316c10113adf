"""B-cos networks (Böhle, Fritz & Schiele, CVPR 2022; B-cos v2, TPAMI 2024), written from the
papers' definitions.

A B-cos unit with unit-norm weight ``ŵ`` maps a k×k input patch ``x_p`` to::

    B-cos(x_p; w) = |cos(x_p, ŵ)|^(B−1) · ŵᵀx_p        (B = 2 here)

so an output is large only where the weight *aligns* with the input. A layer keeps the larger of
``max_out`` such units per channel (the v1 paper's MaxOut) and multiplies by a fixed gain
``scale / √(Cin·k²)`` (v1's output scaling; it keeps activations from shrinking with depth).
There are no biases and no ReLU, and inputs are encoded as ``[x, 1 − x]`` (no normalisation),
so the whole network is ``y(x) = W(x)·x``. Logits are ``mean over positions / T + b₀`` with
``b₀ = log(1/(C−1))``; training uses binary cross-entropy (``TrainConfig(loss="bce")``).

Explanation mode (:func:`facnn.models.dynamic_linear.explanation_mode`) detaches the alignment factor
``|cos|^(B−1)``; input × gradient then gives contributions that sum to ``logit − b₀``.

Example
-------
>>> import torch
>>> m = BcosNet(10).eval()
>>> x = torch.rand(2, 1, 28, 28)
>>> maps = m.intrinsic_maps(x, torch.tensor([[3], [7]]))
>>> maps.shape
torch.Size([2, 1, 28, 28])
>>> bool(torch.allclose(maps.flatten(1).sum(1), m(x)[[0, 1], [3, 7]] - m.logit_bias, rtol=1e-3, atol=1e-5))
True
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from facnn.core.registry import register_model
from facnn.core.validation import check_float, check_int, check_size
from facnn.models.dynamic_linear import DynamicLinearNetwork, check_layout

__all__ = ["BcosConv2d", "BcosNet", "MNIST_9L"]

# Nine layers for 28×28 grey images (28 → 14 → 7), the layout of our CoDA-Net.
MNIST_9L = dict(
    kernels=(3, 3, 3, 3, 3, 3, 3, 3, 1),
    strides=(1, 1, 2, 1, 1, 2, 1, 1, 1),
    channels=(16, 16, 32, 32, 32, 64, 64, 64),
)


class BcosConv2d(nn.Module):
    """A convolutional B-cos layer (see the module docstring).

    Parameters
    ----------
    in_channels, out_channels, kernel_size, stride
        As for :class:`torch.nn.Conv2d` (padding ``k // 2``, no bias).
    b
        The alignment exponent ``B`` (1: a linear layer with unit-norm weights).
    max_out
        Units per output channel; the largest linear response is kept.
    scale
        The fixed output gain is ``scale / √(in_channels·k²)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        *,
        b: float = 2.0,
        max_out: int = 2,
        scale: float = 100.0,
    ):
        super().__init__()
        if b < 1 or max_out < 1:
            raise ValueError(f"B-cos needs b ≥ 1 and max_out ≥ 1, got b={b}, max_out={max_out}")
        self.cin, self.d, self.k, self.stride, self.b, self.max_out = (
            in_channels,
            out_channels,
            kernel_size,
            stride,
            b,
            max_out,
        )
        self.weight = nn.Parameter(torch.empty(out_channels * max_out, in_channels, kernel_size, kernel_size))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.gain = scale / math.sqrt(in_channels * kernel_size**2)
        self.explain = False

    def unit_weight(self) -> Tensor:
        """``ŵ``: each unit's weight scaled to unit norm."""
        return self.weight / self.weight.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)

    def patch_norm(self, x: Tensor) -> Tensor:
        """``‖x_p‖`` at every output position, ``(N, 1, H', W')``."""
        sq = F.avg_pool2d((x * x).sum(1, keepdim=True), self.k, self.stride, self.k // 2, count_include_pad=True)
        return (sq * self.k**2).clamp_min(0).sqrt()

    def forward(self, x: Tensor) -> Tensor:
        lin = F.conv2d(x, self.unit_weight(), stride=self.stride, padding=self.k // 2)  # ŵᵀx_p
        if self.max_out > 1:
            lin = lin.unflatten(1, (self.d, self.max_out)).amax(2)
        if self.b == 1:
            return lin * self.gain
        factor = (lin / (self.patch_norm(x) + 1e-6)).abs().pow(self.b - 1)  # |cos|^(B−1)
        if self.explain:
            factor = factor.detach()
        return lin * factor * self.gain


@register_model("bcos")
class BcosNet(DynamicLinearNetwork):
    """A plain B-cos network: B-cos layers, spatial mean pooling, ``logit = pooled / T + b₀``.

    Parameters
    ----------
    num_classes, in_channels
        Classes ``C`` and image channels; the network sees ``2·in_channels`` (``[x, 1−x]``).
    kernels, strides, channels
        Per-layer settings; ``channels`` lists the hidden layers (the last layer has ``C``).
    b, max_out, scale
        Of every :class:`BcosConv2d`.
    temperature
        ``T``: pooled outputs are divided by it.
    logit_bias
        ``b₀`` (default ``log(1/(C−1))``: every class starts at probability ``1/C``).

    Example
    -------
    >>> BcosNet(10)(torch.rand(4, 1, 28, 28)).shape
    torch.Size([4, 10])
    """

    family, spatial_pool = "B-cos", "mean"

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 1,
        kernels: Sequence[int] = MNIST_9L["kernels"],
        strides: Sequence[int] = MNIST_9L["strides"],
        channels: Sequence[int] = MNIST_9L["channels"],
        b: float = 2.0,
        max_out: int = 2,
        scale: float = 100.0,
        temperature: float = 1.0,
        logit_bias: float | None = None,
    ):
        super().__init__()
        num_classes, in_channels = check_size(num_classes, "num_classes", 2), check_size(in_channels, "in_channels")
        kernels, strides, channels = check_layout(kernels, strides, channels)
        n = len(kernels)
        b, max_out = check_float(b, "b", 1), check_int(max_out, "max_out", 1)
        scale = check_float(scale, "scale", 0, low_open=True)
        temperature = check_float(temperature, "temperature", 0, low_open=True)
        logit_bias = None if logit_bias is None else check_float(logit_bias, "logit_bias")
        if logit_bias is None:
            logit_bias = math.log(1 / (num_classes - 1))
        self.config = dict(
            num_classes=num_classes,
            in_channels=in_channels,
            kernels=list(kernels),
            strides=list(strides),
            channels=list(channels),
            b=float(b),
            max_out=int(max_out),
            scale=float(scale),
            temperature=float(temperature),
            logit_bias=float(logit_bias),
        )
        self.num_classes, self.in_channels = num_classes, in_channels
        self.temperature, self.logit_bias = float(temperature), float(logit_bias)
        widths = [2 * in_channels, *channels, num_classes]
        self.layers = nn.ModuleList(
            BcosConv2d(widths[i], widths[i + 1], kernels[i], strides[i], b=b, max_out=max_out, scale=scale)
            for i in range(n)
        )
        self.min_size = math.prod(strides)

    def bcos_layers(self) -> Iterator[BcosConv2d]:
        return iter(cast("list[BcosConv2d]", self.layers))  # every layer is a BcosConv2d (built above)

"""B-cos networks (Böhle, Fritz & Schiele, CVPR 2022; B-cos v2, TPAMI 2024), written from the
papers' definitions.

A B-cos unit with unit-norm weight ``ŵ`` maps a k×k input patch ``x_p`` to::

    B-cos(x_p; w) = |cos(x_p, ŵ)|^(B−1) · ŵᵀx_p        (B = 2 here)

so an output is large only where the weight *aligns* with the input. A layer keeps the larger of
``max_out`` such units per channel (the v1 paper's MaxOut) and multiplies by a fixed gain
``scale / √(Cin·k²)`` (v1's output scaling; it keeps activations from shrinking with depth), or by
a fixed ``gain`` the same in every layer (v1's published CIFAR-10 models: ``10**1.25``; v2: 1).
There are no biases and no ReLU, and inputs are encoded as ``[x, 1 − x]`` (no normalisation),
so the whole network is ``y(x) = W(x)·x``. Logits are ``mean over positions / T + b₀`` with
``b₀ = log(1/(C−1))``; training uses binary cross-entropy (``TrainConfig(loss="bce")``).

Explanation mode (:func:`facnn.models.dynamic_linear.explanation_mode`) detaches the alignment factor
``|cos|^(B−1)``; input × gradient then gives contributions that sum to ``logit − b₀``.

The patch norm is stabilised as ``√(‖x_p‖²) + 1e-6`` (``stabiliser="facnn"``, the default and what
the shipped weights were trained with); the authors' layers (B-cos v1 and v2) use
``√(‖x_p‖² + 1e-6)`` and, for ``B ≠ 2``, ``|cos| + 1e-6`` (``stabiliser="bcos"``). With B = 2, no
biases and MaxOut, every layer is positively homogeneous, so the per-layer gains and ``T`` act on
the logits only through ``Π gains / T`` (up to the stabilisers): see ``docs/fidelity.md``.

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

__all__ = ["BcosConv2d", "BcosNet", "MNIST_9L", "STABILISERS", "V1_CIFAR10_GAIN", "V1_CIFAR10_TEMPERATURE"]

# How the patch norm is kept away from zero: ours (√(n²) + ε) or the authors' (√(n² + ε)).
STABILISERS = ("facnn", "bcos")
EPS = 1e-6
# B-cos v1's published CIFAR-10 models (moboehle/B-cos, experiments/CIFAR10/bcos/experiment_parameters.py,
# "9L-M2-B2"): every layer divides by scale = 10**(-2 + 1.5·(2.5 − B)) = 10**-1.25, i.e. a gain of
# 10**1.25, and the logits are divided by logit_temperature = 10**2.
V1_CIFAR10_GAIN = 10**1.25
V1_CIFAR10_TEMPERATURE = 100.0

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
        The fixed output gain is ``scale / √(in_channels·k²)`` (B-cos v1's constructor default, 100).
    gain
        A fixed output gain used instead of ``scale / √(in_channels·k²)`` (None: use ``scale``).
        B-cos v1's published CIFAR-10 models use :data:`V1_CIFAR10_GAIN`; B-cos v2's layers use 1.
    stabiliser
        ``"facnn"`` (default): ``|cos| = |ŵᵀx_p| / (‖x_p‖ + 1e-6)``; ``"bcos"``: the authors'
        ``|ŵᵀx_p| / √(‖x_p‖² + 1e-6)``, plus ``1e-6`` on ``|cos|`` before the power when ``B ≠ 2``.

    Examples
    --------
    >>> layer = BcosConv2d(2, 4, 3, gain=1.0, stabiliser="bcos")  # B-cos v2's BcosConv2d(b=2, max_out=2)
    >>> layer(torch.rand(1, 2, 5, 5)).shape
    torch.Size([1, 4, 5, 5])
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
        gain: float | None = None,
        stabiliser: str = "facnn",
    ):
        super().__init__()
        if b < 1 or max_out < 1:
            raise ValueError(f"B-cos needs b ≥ 1 and max_out ≥ 1, got b={b}, max_out={max_out}")
        if stabiliser not in STABILISERS:
            raise ValueError(f"stabiliser={stabiliser!r}: choose one of {list(STABILISERS)}")
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
        self.gain = scale / math.sqrt(in_channels * kernel_size**2) if gain is None else float(gain)
        self.stabiliser = stabiliser
        self.explain = False

    def unit_weight(self) -> Tensor:
        """``ŵ``: each unit's weight scaled to unit norm."""
        return self.weight / self.weight.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)

    def patch_norm(self, x: Tensor) -> Tensor:
        """``‖x_p‖`` at every output position, ``(N, 1, H', W')``, stabilised as ``stabiliser`` says."""
        sq = F.avg_pool2d((x * x).sum(1, keepdim=True), self.k, self.stride, self.k // 2, count_include_pad=True)
        if self.stabiliser == "bcos":
            return (sq * self.k**2 + EPS).sqrt()
        return (sq * self.k**2).clamp_min(0).sqrt() + EPS

    def forward(self, x: Tensor) -> Tensor:
        lin = F.conv2d(x, self.unit_weight(), stride=self.stride, padding=self.k // 2)  # ŵᵀx_p
        if self.max_out > 1:
            lin = lin.unflatten(1, (self.d, self.max_out)).amax(2)
        if self.b == 1:
            return lin * self.gain
        cos = (lin / self.patch_norm(x)).abs()
        if self.stabiliser == "bcos" and self.b != 2:
            cos = cos + EPS
        factor = cos.pow(self.b - 1)  # |cos|^(B−1)
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
    b, max_out, scale, gain, stabiliser
        Of every :class:`BcosConv2d` (``gain`` and ``stabiliser`` enter :attr:`config` only when
        set away from their defaults, so configs and records written before they existed still match).
    temperature
        ``T``: pooled outputs are divided by it. B-cos v1's published CIFAR-10 recipe is
        ``gain=V1_CIFAR10_GAIN, temperature=V1_CIFAR10_TEMPERATURE`` (see :data:`V1_CIFAR10_GAIN`).
    logit_bias
        ``b₀`` (default ``log(1/(C−1))``: every class starts at probability ``1/C``).

    Example
    -------
    >>> BcosNet(10)(torch.rand(4, 1, 28, 28)).shape
    torch.Size([4, 10])
    >>> v1 = BcosNet(10, gain=V1_CIFAR10_GAIN, temperature=V1_CIFAR10_TEMPERATURE, stabiliser="bcos")
    >>> v1.config["gain"], v1.config["stabiliser"], "gain" in BcosNet(10).config
    (17.78279410038923, 'bcos', False)
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
        gain: float | None = None,
        stabiliser: str = "facnn",
    ):
        super().__init__()
        num_classes, in_channels = check_size(num_classes, "num_classes", 2), check_size(in_channels, "in_channels")
        kernels, strides, channels = check_layout(kernels, strides, channels)
        n = len(kernels)
        b, max_out = check_float(b, "b", 1), check_int(max_out, "max_out", 1)
        scale = check_float(scale, "scale", 0, low_open=True)
        gain = None if gain is None else check_float(gain, "gain", 0, low_open=True)
        if stabiliser not in STABILISERS:
            raise ValueError(
                f"stabiliser={stabiliser!r}: choose one of {list(STABILISERS)} "
                "('facnn': √(n²) + 1e-6, the default; 'bcos': the authors' √(n² + 1e-6))"
            )
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
        if gain is not None:  # only when set: configs and records from before these options stay equal
            self.config["gain"] = float(gain)
        if stabiliser != "facnn":
            self.config["stabiliser"] = stabiliser
        self.num_classes, self.in_channels = num_classes, in_channels
        self.temperature, self.logit_bias = float(temperature), float(logit_bias)
        widths = [2 * in_channels, *channels, num_classes]
        self.layers = nn.ModuleList(
            BcosConv2d(
                widths[i],
                widths[i + 1],
                kernels[i],
                strides[i],
                b=b,
                max_out=max_out,
                scale=scale,
                gain=gain,
                stabiliser=stabiliser,
            )
            for i in range(n)
        )
        self.min_size = math.prod(strides)

    def bcos_layers(self) -> Iterator[BcosConv2d]:
        return iter(cast("list[BcosConv2d]", self.layers))  # every layer is a BcosConv2d (built above)

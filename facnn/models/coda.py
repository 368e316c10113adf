"""CoDA-Nets: Convolutional Dynamic Alignment Networks (Böhle, Fritz & Schiele, CVPR 2021).

A Dynamic Alignment Unit (DAU) layer computes, on every k×k patch ``x_p`` (``Cin·k²`` values)
and for every output channel ``d``::

    z   = B x_p                      (shared k×k conv to rank r)
    v_d = A_d z + b_d                (A: 1×1 conv r → D·Cin·k², with bias)
    g(v) = ‖v‖²/(1+‖v‖²) · v/‖v‖     (squashing, ‖g(v)‖ < 1)
    o_d = g(v_d)ᵀ x_p

There are no other non-linearities or additive terms, so the whole network is
``y(x) = W(x) x``. The last layer (1×1, ``C`` outputs) is sum-pooled over space and
``logit = pooled / T + b₀`` (``b₀ = log(0.1/0.9)``); training uses binary cross-entropy on
one-hot targets (``TrainConfig(loss="bce")``). Inputs are encoded as ``[x, 1 − x]``.

Memory: the dynamic weights ``v`` (``D·Cin·k²`` numbers per position) are never materialised.
``v_dᵀ x_p = Σ_r z_r (A_{d,r}ᵀ x_p) + b_dᵀ x_p`` is a convolution of ``x`` with ``A`` reshaped to
``(D·r, Cin, k, k)``, and ``‖v_d‖² = zᵀ(A_dᵀA_d)z + 2 b_dᵀA_d z + ‖b_d‖²`` uses the ``r×r`` Gram
matrices; activations are ``D·r`` per position instead of ``D·Cin·k²``.

Explanation mode (:func:`explanation_mode`) detaches ``z`` and the squashing factor, i.e. the
dynamic weights ``W(x)``; input × gradient then gives contributions that sum to ``logit − b₀``.

Initialisation (``init``): ``"facnn"`` (default; what the shipped weights started from) draws
``B ~ N(0, 1/(Cin·k²))``, ``A ~ N(0, 1/r)`` and ``b = 0``; ``"reference"`` follows the authors'
layers (moboehle/CoDA-Nets ``modules/DAUs.py``: two ``nn.Conv2d`` with PyTorch's default
initialisation), ``B ~ U(±1/√(Cin·k²))``, ``A ~ U(±1/√r)`` and ``b ~ U(±1/√r)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from facnn.core.registry import register_model
from facnn.core.validation import MAX_SIZE, check_float, check_ints, check_size
from facnn.models.dynamic_linear import DynamicLinearNetwork, check_layout, explanation_mode

__all__ = ["DAUConv", "CoDANet", "explanation_mode", "CIFAR_9L", "MNIST_9L", "INITS"]

# How a DAU layer's parameters start: ours (normal, zero bias) or the authors' (PyTorch's Conv2d default).
INITS = ("facnn", "reference")

# The paper's 9-layer small CIFAR-10 model ("9L-S-CoDA-SQ"): kernels, strides, channels, ranks.
CIFAR_9L = dict(
    kernels=(3, 3, 3, 3, 3, 3, 3, 3, 1),
    strides=(1, 1, 2, 1, 1, 2, 1, 1, 1),
    channels=(16, 16, 32, 32, 32, 64, 64, 64),
    ranks=(32, 32, 64, 64, 64, 64, 64, 64, 64),
)
# Adapted to 28×28 grey images: same layout, half the ranks (28 → 14 → 7 after the strides).
MNIST_9L = dict(
    kernels=(3, 3, 3, 3, 3, 3, 3, 3, 1),
    strides=(1, 1, 2, 1, 1, 2, 1, 1, 1),
    channels=(16, 16, 32, 32, 32, 64, 64, 64),
    ranks=(16, 16, 32, 32, 32, 32, 32, 32, 32),
)


class DAUConv(nn.Module):
    """A convolutional Dynamic Alignment Unit layer (see the module docstring).

    Parameters
    ----------
    in_channels, out_channels, rank, kernel_size, stride
        ``Cin``, ``D``, ``r``, ``k`` and the stride (padding ``k // 2``).
    init
        ``"facnn"`` (default) or ``"reference"`` (the authors' PyTorch-default initialisation): see
        the module docstring.

    Examples
    --------
    >>> layer = DAUConv(2, 4, rank=3, init="reference")
    >>> bool(layer.b.abs().max() <= 1 / math.sqrt(3)), bool(DAUConv(2, 4, rank=3).b.eq(0).all())
    (True, True)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        rank: int,
        kernel_size: int = 3,
        stride: int = 1,
        init: str = "facnn",
    ):
        super().__init__()
        if init not in INITS:
            raise ValueError(f"init={init!r}: choose one of {list(INITS)}")
        self.cin, self.d, self.r, self.k, self.stride = in_channels, out_channels, rank, kernel_size, stride
        self.pad = kernel_size // 2
        fan = in_channels * kernel_size**2
        self.B = nn.Parameter(torch.randn(rank, in_channels, kernel_size, kernel_size) / math.sqrt(fan))
        self.A = nn.Parameter(torch.randn(out_channels, fan, rank) / math.sqrt(rank))  # v_d = A_d z + b_d
        self.b = nn.Parameter(torch.zeros(out_channels, fan))
        if init == "reference":  # nn.Conv2d's reset_parameters: kaiming_uniform(a=√5) = U(±1/√fan_in), same for bias
            with torch.no_grad():
                self.B.uniform_(-1 / math.sqrt(fan), 1 / math.sqrt(fan))
                self.A.uniform_(-1 / math.sqrt(rank), 1 / math.sqrt(rank))
                self.b.uniform_(-1 / math.sqrt(rank), 1 / math.sqrt(rank))
        self.explain = False

    def _conv(self, x: Tensor, w: Tensor) -> Tensor:
        return F.conv2d(x, w, stride=self.stride, padding=self.pad)

    def norms_and_dots(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(z, ‖v‖², vᵀx_p)`` per output channel and position, without materialising ``v``."""
        n, k = x.shape[0], self.k
        z = self._conv(x, self.B)  # (N, r, H, W)
        if self.explain:
            z = z.detach()
        a_kernel = self.A.permute(0, 2, 1).reshape(self.d * self.r, self.cin, k, k)
        xa = self._conv(x, a_kernel)  # A_{d,r}ᵀ x_p: (N, D·r, H, W)
        h, w = xa.shape[-2:]
        dots = (xa.view(n, self.d, self.r, h, w) * z.unsqueeze(1)).sum(2) + self._conv(
            x, self.b.view(self.d, self.cin, k, k)
        )
        gram = torch.einsum("dfr,dfs->drs", self.A, self.A)  # A_dᵀA_d
        ab = torch.einsum("dfr,df->dr", self.A, self.b)  # A_dᵀb_d
        gz = torch.einsum("drs,nshw->ndrhw", gram, z)
        sq = (
            (gz * z.unsqueeze(1)).sum(2)
            + 2 * torch.einsum("dr,nrhw->ndhw", ab, z)
            + (self.b**2).sum(1).view(1, -1, 1, 1)
        )
        return z, sq.clamp_min(0), dots

    def forward(self, x: Tensor) -> Tensor:
        _, sq, dots = self.norms_and_dots(x)
        scale = sq.sqrt() / (1 + sq)  # ‖g(v)‖/‖v‖ = ‖v‖/(1+‖v‖²)
        if self.explain:
            scale = scale.detach()
        return scale * dots

    def dynamic_weights(self, x: Tensor) -> Tensor:
        """The squashed weights ``g(v)``: ``(N, D, Cin·k², H', W')`` — for tests and small inputs only."""
        z = self._conv(x, self.B)
        v = torch.einsum("dfr,nrhw->ndfhw", self.A, z) + self.b.view(1, self.d, -1, 1, 1)
        nv = v.norm(dim=2, keepdim=True)
        return v * nv / (1 + nv**2)


@register_model("coda")
class CoDANet(DynamicLinearNetwork):
    """A CoDA-Net: DAU layers, spatial sum pooling, ``logit = pooled / T + b₀``.

    Parameters
    ----------
    num_classes, in_channels
        Classes ``C`` and image channels; the network sees ``2·in_channels`` (``[x, 1−x]``).
    kernels, strides, channels, ranks
        Per-layer settings; ``channels`` lists the hidden layers (the last layer has ``C``).
        Default: :data:`MNIST_9L`; the paper's CIFAR-10 model is :data:`CIFAR_9L`.
    temperature
        ``T`` (default 1000, the paper's "SQ-1000"): higher ``T`` forces stronger alignment.
    logit_bias
        ``b₀`` (default ``log(0.1/0.9)``).
    init
        How every :class:`DAUConv` starts: ``"facnn"`` (default) or ``"reference"`` (the authors');
        it enters :attr:`config` only when not the default, so older configs and records still match.

    Examples
    --------
    >>> CoDANet(10, init="reference").config["init"], "init" in CoDANet(10).config
    ('reference', False)
    """

    family, spatial_pool = "CoDA-Net", "sum"

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 1,
        kernels: Sequence[int] = MNIST_9L["kernels"],
        strides: Sequence[int] = MNIST_9L["strides"],
        channels: Sequence[int] = MNIST_9L["channels"],
        ranks: Sequence[int] = MNIST_9L["ranks"],
        temperature: float = 1000.0,
        logit_bias: float = math.log(0.1 / 0.9),
        init: str = "facnn",
    ):
        super().__init__()
        num_classes, in_channels = check_size(num_classes, "num_classes", 2), check_size(in_channels, "in_channels")
        kernels, strides, channels = check_layout(kernels, strides, channels)
        n = len(kernels)
        ranks = check_ints(
            ranks, "ranks", 1, MAX_SIZE, length=len(kernels), each="one per layer: kernels has that many"
        )
        temperature = check_float(temperature, "temperature", 0, low_open=True)
        logit_bias = check_float(logit_bias, "logit_bias")
        if init not in INITS:
            raise ValueError(
                f"init={init!r}: choose one of {list(INITS)} ('facnn': ours, the default; "
                "'reference': PyTorch's Conv2d default, as moboehle/CoDA-Nets)"
            )
        self.config = dict(
            num_classes=num_classes,
            in_channels=in_channels,
            kernels=list(kernels),
            strides=list(strides),
            channels=list(channels),
            ranks=list(ranks),
            temperature=float(temperature),
            logit_bias=float(logit_bias),
        )
        if init != "facnn":  # only when set: configs and records from before the option stay equal
            self.config["init"] = init
        self.num_classes, self.in_channels, self.temperature, self.logit_bias = (
            num_classes,
            in_channels,
            temperature,
            logit_bias,
        )
        widths = [2 * in_channels, *channels, num_classes]
        self.layers = nn.ModuleList(
            DAUConv(widths[i], widths[i + 1], ranks[i], kernels[i], strides[i], init=init) for i in range(n)
        )
        self.min_size = math.prod(strides)

    def dau_layers(self) -> Iterator[DAUConv]:
        return iter(cast("list[DAUConv]", self.layers))  # every layer is a DAUConv (built above)

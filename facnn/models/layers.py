"""The order-preserving building blocks of FA-CNN (docs/design.md §2).

Channel ``k`` of every feature map belongs to class ``k // R`` (``R`` maps per class). Nothing
outside a dampened residual branch mixes channels, so the identity of each channel is carried
from the input to the head.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["InputAlign", "DampenedResidual", "ClassPoolHead", "make_branch"]


class InputAlign(nn.Module):
    """Normalise the image and tile its channels to ``C·R``: channel ``k`` copies input ``k mod c_in``.

    The tiling is a fixed, order-preserving assignment (no weights). Normalisation uses the
    per-channel ``mean``/``std`` given at construction, so models take images in ``[0, 1]``.
    """

    mean: Tensor
    std: Tensor
    index: Tensor

    def __init__(self, in_channels: int, out_channels: int, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        if len(mean) != in_channels or len(std) != in_channels:
            raise ValueError(f"mean/std need {in_channels} values, got {len(mean)} and {len(std)}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("index", torch.arange(out_channels) % in_channels, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return ((x - self.mean) / self.std).index_select(1, self.index)


def make_branch(channels: int, hidden: int, kernel_size: int, style: str, zero_init: bool) -> nn.Sequential:
    """The residual branch ``f``: the only place where channels mix.

    ``style="post"``: conv → BN → ReLU → conv → BN (the last BN's scale starts at 0 when
    ``zero_init``, so the untrained network is the identity map plus pooling).
    ``style="inverted"``: 1×1 conv → BN → ReLU → depthwise k×k → BN → ReLU → 1×1 conv → BN.
    ``style="pre"``: BN → ReLU → conv → BN → ReLU → conv (pre-activation; the last conv starts
    at 0 when ``zero_init``).
    """
    pad = kernel_size // 2
    conv1 = nn.Conv2d(channels, hidden, kernel_size, padding=pad, bias=False)
    if style == "post":
        conv2 = nn.Conv2d(hidden, channels, kernel_size, padding=pad, bias=False)
        bn_out = nn.BatchNorm2d(channels)
        if zero_init:
            nn.init.zeros_(bn_out.weight)
        return nn.Sequential(conv1, nn.BatchNorm2d(hidden), nn.ReLU(inplace=True), conv2, bn_out)
    if style == "inverted":
        # MobileNetV2-style: 1×1 expand, depthwise k×k, 1×1 project; ~8× fewer FLOPs than "post".
        proj = nn.Conv2d(hidden, channels, 1, bias=False)
        bn_out = nn.BatchNorm2d(channels)
        if zero_init:
            nn.init.zeros_(bn_out.weight)
        return nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, kernel_size, padding=pad, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            proj,
            bn_out,
        )
    if style == "pre":
        conv2 = nn.Conv2d(hidden, channels, kernel_size, padding=pad, bias=True)
        if zero_init:
            assert conv2.bias is not None  # built with bias=True
            nn.init.zeros_(conv2.weight)
            nn.init.zeros_(conv2.bias)
        return nn.Sequential(
            nn.BatchNorm2d(channels), nn.ReLU(), conv1, nn.BatchNorm2d(hidden), nn.ReLU(inplace=True), conv2
        )
    raise ValueError(f"branch style must be 'post', 'pre' or 'inverted', got {style!r}")


class DampenedResidual(nn.Module):
    """``A_{l+1} = P(A_l) + λ · f(P(A_l))``, with ``P`` a per-channel 2×2 average pool or the identity.

    ``λ`` is fixed (``learn=False``) or learned and bounded: ``λ = λ_max · sigmoid(θ)``,
    initialised at ``dampening``. Channel ``k`` of the output is channel ``k`` of the (pooled)
    input plus a correction of norm exactly ``λ‖f‖`` — the morph that Theorem 2 bounds.
    """

    fixed: Tensor  # the fixed λ (a buffer) when not learned

    def __init__(
        self,
        channels: int,
        hidden: int,
        dampening: float,
        *,
        pool: bool = False,
        kernel_size: int = 3,
        style: str = "post",
        learn: bool = False,
        max_dampening: float = 1.0,
        zero_init: bool = True,
    ):
        super().__init__()
        if not 0 < dampening <= max_dampening:
            raise ValueError(f"dampening must be in (0, {max_dampening}], got {dampening}")
        self.pool = nn.AvgPool2d(2) if pool else nn.Identity()
        self.branch = make_branch(channels, hidden, kernel_size, style, zero_init)
        self.learn, self.max_dampening = learn, max_dampening
        if learn:
            p = min(dampening / max_dampening, 1 - 1e-4)
            self.theta = nn.Parameter(torch.tensor(math.log(p / (1 - p))))
        else:
            self.register_buffer("fixed", torch.tensor(float(dampening)))

    @property
    def dampening(self) -> Tensor:
        """The current ``λ`` of this layer (a 0-d tensor)."""
        return self.max_dampening * torch.sigmoid(self.theta) if self.learn else self.fixed

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(x)
        return x + self.dampening * self.branch(x)

    def parts(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(P(x), f(P(x)))``, the two terms the layer adds (for the theorem checks)."""
        x = self.pool(x)
        return x, self.branch(x)


class ClassPoolHead(nn.Module):
    """The 3D global-average-pooling head: ``logit_c = s · mean_{r,h,w} A[c·R + r, h, w]``.

    ``s`` (the logit scale, a positive temperature shared by all classes) is 1 by default;
    it is a fixed buffer or, with ``learn_scale``, a learned ``exp(log_s)``. It scales every
    logit alike, so it keeps the class order and the alignment.
    """

    def __init__(self, num_classes: int, maps_per_class: int, scale: float = 1.0, learn_scale: bool = False):
        super().__init__()
        if scale <= 0:
            raise ValueError(f"logit scale must be positive, got {scale}")
        self.num_classes, self.maps_per_class = num_classes, maps_per_class
        if learn_scale:
            self.log_scale = nn.Parameter(torch.tensor(math.log(scale)))
        else:
            self.register_buffer("log_scale", torch.tensor(math.log(scale)))

    @property
    def scale(self) -> Tensor:
        return self.log_scale.exp()

    def group(self, a: Tensor) -> Tensor:
        """View ``(B, C·R, H, W)`` maps as ``(B, C, R, H, W)``."""
        b, k, h, w = a.shape
        if k != self.num_classes * self.maps_per_class:
            raise ValueError(
                f"the head takes {self.num_classes}×{self.maps_per_class} = "
                f"{self.num_classes * self.maps_per_class} maps, got {k}"
            )
        return a.view(b, self.num_classes, self.maps_per_class, h, w)

    def class_maps(self, a: Tensor) -> Tensor:
        """The class maps of any layer's ``(B, C·R, H, W)`` maps: each class's ``R`` maps averaged,
        ``(B, C, H, W)``. This is the one place the reduction is written."""
        return self.group(a).mean(dim=2)

    def forward(self, a: Tensor) -> Tensor:
        return self.class_maps(a).mean(dim=(2, 3)) * self.scale

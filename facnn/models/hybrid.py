"""The hybrid FA-CNN (the paper's "extensions toward hybrid models"): any convolutional trunk,
one alignment step to ``C·R`` channels, then FA-CNN's dampened layers and 3D-GAP head.

The aligned tail keeps FA-CNN's contract (``feature_maps``, ``feature_module``, ``head``,
``num_layers``, ``intrinsic_maps``), so Theorem 1 (logits are the spatial means of the
penultimate class maps) and the morph identities hold from the alignment on; maps are read at the
trunk's resolution. Feature map 0 is the aligned trunk output.

Examples
--------
>>> import torch
>>> from facnn.models import HybridFACNN
>>> m = HybridFACNN(10, in_channels=1)
>>> m(torch.rand(2, 1, 28, 28)).shape
torch.Size([2, 10])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from facnn.core.registry import register_model
from facnn.core.validation import check_int, check_size, check_stats
from facnn.models.aligned import AlignedNetwork, check_aligned_args
from facnn.models.layers import ClassPoolHead, DampenedResidual
from facnn.models.resnet import ResNet

__all__ = ["HybridFACNN", "resnet_trunk"]


def resnet_trunk(in_channels: int, width: int = 16, stages: int = 2) -> tuple[nn.Module, int, int]:
    """The stem and first ``stages`` stages of facnn's ResNet: ``(module, out_channels, downsampling)``."""
    if not 1 <= stages <= 3:
        raise ValueError(f"a ResNet trunk has 1 to 3 stages, got {stages}")
    r = ResNet(2, in_channels, width=width)
    blocks = list(r.stages)[:stages]
    return nn.Sequential(r.stem, *blocks), width * 2 ** (stages - 1), 2 ** (stages - 1)


class _Align(nn.Module):
    """Normalise, run the trunk, and align its channels to ``C·R`` with a 1×1 conv and BN."""

    mean: Tensor
    std: Tensor

    def __init__(
        self, trunk: nn.Module, trunk_channels: int, out_channels: int, mean: Sequence[float], std: Sequence[float]
    ):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        self.trunk = trunk
        self.project = nn.Sequential(
            nn.Conv2d(trunk_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.project(self.trunk((x - self.mean) / self.std))


@register_model("hybrid")
class HybridFACNN(AlignedNetwork):
    """A trunk, one alignment step, FA-CNN's dampened layers and head.

    Parameters
    ----------
    num_classes, in_channels
        ``C`` and the image channels.
    trunk
        ``None`` (default): the stem and first ``trunk_stages`` stages of facnn's ResNet at
        ``trunk_width``. Or any ``nn.Module`` mapping normalised images to ``(B, trunk_channels, h, w)``
        (give ``trunk_channels`` and ``trunk_downsampling``); such a model is rebuilt from a
        checkpoint only when you pass it to ``load_checkpoint``.
    maps_per_class, depth, hidden, dampening, pool_at, kernel_size, branch
        FA-CNN's tail (see :class:`~facnn.FACNN`); default 4 layers, pooling before layer 3.
    mean, std
        Per-channel input normalisation (default 0.5).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 1,
        trunk: nn.Module | None = None,
        trunk_width: int = 16,
        trunk_stages: int = 2,
        trunk_channels: int | None = None,
        trunk_downsampling: int = 1,
        maps_per_class: int = 4,
        depth: int = 4,
        hidden: int = 64,
        dampening: float = 0.5,
        pool_at: Sequence[int] | None = None,
        kernel_size: int = 3,
        branch: str = "post",
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ):
        super().__init__()
        num_classes, in_channels, maps_per_class, depth, pool_at, kernel_size, branch, dampening = check_aligned_args(
            num_classes,
            in_channels,
            maps_per_class,
            depth,
            pool_at,
            (check_size(depth, "depth") // 2 + 1,),
            kernel_size,
            branch,
            dampening,
        )
        hidden = check_size(hidden, "hidden")
        trunk_width, trunk_stages = (
            check_size(trunk_width, "trunk_width"),
            check_int(trunk_stages, "trunk_stages", 1, 3),
        )
        trunk_downsampling = check_int(trunk_downsampling, "trunk_downsampling", 1)
        mean, std = check_stats(mean, std, in_channels)
        if isinstance(trunk, str):
            raise ValueError(
                "this hybrid was saved with a custom trunk: build HybridFACNN with your trunk module "
                "and pass it to load_checkpoint(path, model)"
            )
        custom = trunk is not None
        if custom:
            if not isinstance(trunk, nn.Module) or not isinstance(trunk_channels, int) or trunk_channels < 1:
                raise TypeError("a custom trunk must be an nn.Module with trunk_channels (its output channels) given")
            down = trunk_downsampling
        else:
            trunk, trunk_channels, down = resnet_trunk(in_channels, trunk_width, trunk_stages)
        self.config = dict(
            num_classes=num_classes,
            in_channels=in_channels,
            trunk_width=trunk_width,
            trunk_stages=trunk_stages,
            maps_per_class=maps_per_class,
            depth=depth,
            hidden=hidden,
            dampening=dampening,
            pool_at=list(pool_at),
            kernel_size=kernel_size,
            branch=branch,
            mean=list(mean),
            std=list(std),
        )
        if custom:
            self.config.update(trunk="custom", trunk_channels=trunk_channels, trunk_downsampling=down)
        self.num_classes, self.in_channels, self.maps_per_class = num_classes, in_channels, maps_per_class
        k = num_classes * maps_per_class
        self.align = _Align(trunk, trunk_channels, k, mean, std)
        self.layers = nn.ModuleList(
            DampenedResidual(k, hidden, dampening, pool=(i + 1) in pool_at, kernel_size=kernel_size, style=branch)
            for i in range(depth)
        )
        self.head = ClassPoolHead(num_classes, maps_per_class)
        self.min_size = down * 2 ** len(pool_at)

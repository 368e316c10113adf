"""A plain CIFAR-style ResNet: the baseline every self-explaining model is measured against."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from facnn.core.registry import register_model
from facnn.core.validation import check_choice, check_images, check_size, check_stats

__all__ = ["ResNet", "TorchvisionResNet"]


class _BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        nn.init.zeros_(self.bn2.weight)
        self.short = (
            nn.Identity()
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.short(x))


@register_model("resnet")
class ResNet(nn.Module):
    """A plain CIFAR-style ResNet (3×3 stem, three stages, global average pool, Linear).

    Parameters
    ----------
    num_classes, in_channels
        Classes and input channels.
    width
        Channels of the first stage (doubled in each later stage; default 16).
    blocks
        Basic blocks per stage (default 1, i.e. a ResNet-8).
    mean, std
        Per-channel input normalisation (default 0.5).
    """

    mean: Tensor
    std: Tensor

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 1,
        width: int = 16,
        blocks: int = 1,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ):
        super().__init__()
        num_classes, in_channels = check_size(num_classes, "num_classes", 2), check_size(in_channels, "in_channels", 1)
        width, blocks = check_size(width, "width", 1), check_size(blocks, "blocks", 1)
        mean, std = check_stats(mean, std, in_channels)
        self.config = dict(
            num_classes=num_classes,
            in_channels=in_channels,
            width=width,
            blocks=blocks,
            mean=list(mean),
            std=list(std),
        )
        self.num_classes, self.in_channels, self.min_size = num_classes, in_channels, 4
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        layers, cin = [], width
        for stage, cout in enumerate((width, 2 * width, 4 * width)):
            for b in range(blocks):
                layers.append(_BasicBlock(cin, cout, 2 if (stage > 0 and b == 0) else 1))
                cin = cout
        self.stages = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, num_classes)

    @property
    def last_conv(self) -> nn.Module:
        """The last residual block (the usual Grad-CAM layer)."""
        return self.stages[-1]

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.in_channels, self.min_size, finite=False)  # shapes only: no host sync
        a = self.stages(self.stem((x - self.mean) / self.std))
        return self.fc(a.mean(dim=(2, 3)))


@register_model("torchvision-resnet")
class TorchvisionResNet(nn.Module):
    """torchvision's ImageNet ResNet (``arch`` "resnet18", "resnet34" or "resnet50"; 7×7 stem,
    max pool, four stages, global average pool, Linear) with the input normalisation inside, so
    that it takes ``[0, 1]`` images like every facnn model: the field's reference baseline at
    ImageNet scale. Untrained (nothing is downloaded); ``last_conv`` is ``layer4`` for Grad-CAM.

    >>> net = TorchvisionResNet(100, arch="resnet18")
    >>> net(torch.rand(2, 3, 64, 64)).shape
    torch.Size([2, 100])
    """

    ARCHS = ("resnet18", "resnet34", "resnet50")
    mean: Tensor
    std: Tensor

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        arch: str = "resnet50",
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ):
        super().__init__()
        import torchvision

        num_classes, in_channels = check_size(num_classes, "num_classes", 2), check_size(in_channels, "in_channels", 1)
        arch = check_choice(arch, "arch", self.ARCHS)
        mean, std = check_stats(mean, std, in_channels)
        self.config = dict(num_classes=num_classes, in_channels=in_channels, arch=arch, mean=list(mean), std=list(std))
        self.num_classes, self.in_channels, self.min_size = num_classes, in_channels, 32
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))
        self.net = getattr(torchvision.models, arch)(weights=None, num_classes=num_classes)
        if in_channels != 3:
            self.net.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)

    @property
    def last_conv(self) -> nn.Module:
        """The last residual stage (the usual Grad-CAM layer)."""
        return self.net.layer4

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.in_channels, self.min_size, finite=False)  # shapes only: no host sync
        return self.net((x - self.mean) / self.std)

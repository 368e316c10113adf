"""FA-CNN (our reading of the paper, DESIGN §2) and a plain ResNet baseline.

Every model carries ``.config``: the JSON-able keyword arguments that rebuild it, stored in
checkpoints and checked before weights are loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import resize
from .modes import eval_mode
from .layers import ClassPoolHead, DampenedResidual, InputAlign
from .registry import build_model, model_name, register_model
from .validation import (check_bool, check_choice, check_float, check_floats, check_images, check_int, check_ints, check_layer,
                         check_size, check_target, MAX_SIZE)  # fmt: skip

__all__ = ["AlignedNetwork", "FACNN", "ResNet", "model_name", "class_maps", "class_means", "all_class_maps", "build_model", "count_params", "predict"]


def _stats(mean: Sequence[float] | None, std: Sequence[float] | None, channels: int) -> tuple[tuple[float, ...], ...]:
    """Per-channel normalisation statistics as float tuples (default 0.5 and 0.5); ``std`` > 0."""
    mean = (0.5,) * channels if mean is None else check_floats(mean, "mean", length=channels)
    std = (0.5,) * channels if std is None else check_floats(std, "std", 0, low_open=True, length=channels)
    return tuple(mean), tuple(std)


BRANCHES = ("post", "pre", "inverted")


def check_aligned_args(num_classes: object, in_channels: object, maps_per_class: object, depth: object, pool_at: object,
                       default_pool_at: Sequence[int], kernel_size: object, branch: object,
                       dampening: object, max_dampening: object = 1.0) -> tuple[int, int, int, int, tuple[int, ...], int, str, float]:  # fmt: skip
    """The arguments FA-CNN and the hybrid share, checked before any layer is built."""
    num_classes = check_size(num_classes, "num_classes", 2)
    in_channels = check_size(in_channels, "in_channels", 1)
    maps_per_class = check_size(maps_per_class, "maps_per_class", 1)
    depth = check_size(depth, "depth", 1)
    pool_at = tuple(sorted(set(default_pool_at if pool_at is None else
                               check_ints(pool_at, "pool_at", 1, depth, nonempty=False))))  # fmt: skip
    kernel_size = check_size(kernel_size, "kernel_size", 1)
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size={kernel_size} is even: the branch pads by kernel_size // 2 to keep each map's size, "
                         f"which only an odd kernel does; use {kernel_size - 1} or {kernel_size + 1}")  # fmt: skip
    if num_classes * maps_per_class > MAX_SIZE:
        raise ValueError(f"num_classes × maps_per_class = {num_classes * maps_per_class:,} channels is beyond any model "
                         f"facnn builds (≤ {MAX_SIZE:,}): lower maps_per_class")  # fmt: skip
    branch = check_choice(branch, "branch", BRANCHES)
    max_dampening = check_float(max_dampening, "max_dampening", 0, low_open=True)
    dampening = check_float(dampening, "dampening", 0, max_dampening, low_open=True)
    return num_classes, in_channels, maps_per_class, depth, pool_at, kernel_size, branch, dampening


class AlignedNetwork(nn.Module):
    """What FA-CNN and the hybrid share: ``align`` maps images to ``C·R`` aligned channels,
    ``layers`` are dampened residual layers, ``head`` pools each class's maps. Subclasses set
    ``align``, ``layers``, ``head``, ``num_classes``, ``in_channels``, ``maps_per_class`` and
    ``min_size``. Self-explaining: :meth:`intrinsic_maps` gives the class maps at any layer."""

    intrinsic_kind = "class maps"
    align: nn.Module
    layers: nn.ModuleList
    head: ClassPoolHead

    @property
    def num_layers(self) -> int:
        """Number of feature-map layers, ``depth + 1`` (the aligned input is layer 0)."""
        return len(self.layers) + 1

    def feature_module(self, layer: int) -> nn.Module:
        """The module whose output is feature map ``layer`` (for hooks, e.g. Grad-CAM)."""
        layer = check_layer(layer, self.num_layers)
        return self.align if layer == 0 else self.layers[layer - 1]

    def feature_maps(self, x: Tensor) -> list[Tensor]:
        """All aligned feature maps, each ``(B, C·R, h, w)``: ``[A_0 (aligned input), …, A_depth]``."""
        check_images(x, self.in_channels, self.min_size)
        maps = [self.align(x)]
        for layer in self.layers:
            maps.append(layer(maps[-1]))
        return maps

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.in_channels, self.min_size, finite=False)  # shapes only: no host sync
        a = self.align(x)
        for layer in self.layers:
            a = layer(a)
        return self.head(a)

    def intrinsic_maps(self, x: Tensor, classes: Tensor, layer: int | None = None) -> Tensor:
        """The self-explanation protocol: maps of ``classes (B, K)`` at ``layer`` (default -1)
        as ``(B, K, h, w)`` at that layer's resolution, from one forward pass up to ``layer``."""
        m = class_means(self, x, -1 if layer is None else layer)
        return m.gather(1, classes[:, :, None, None].expand(-1, -1, *m.shape[-2:]))


@register_model("facnn")
class FACNN(AlignedNetwork):
    """Feature-Alignment CNN: raw feature maps are class attribution maps.

    The input is normalised and tiled to ``K = C·R`` channels (:class:`~facnn.layers.InputAlign`);
    ``depth`` dampened residual layers ``A_{l+1} = P(A_l) + λ_l f_l(P(A_l))`` keep ``K``
    channels throughout; the head averages each class's ``R`` maps over channels and space.
    No Linear layer; channels mix only inside residual branches.

    Parameters
    ----------
    num_classes
        ``C``, the number of classes.
    in_channels
        Channels of the input images (1 grey, 3 RGB).
    maps_per_class
        ``R``, the feature maps designated to each class (default 4).
    depth
        Number of dampened residual layers (default 6); feature maps are indexed
        ``0..depth`` (0 = aligned input, ``depth`` = penultimate maps the head pools).
    hidden
        Width of the branch's hidden layer (default 64), or one width per layer (e.g. a narrow
        branch for a first layer that runs at full resolution); the residual stream stays ``C·R`` wide.
    dampening
        Initial ``λ`` of every layer (default 0.5).
    learn_dampening
        Learn ``λ_l = max_dampening · sigmoid(θ_l)`` per layer (default False: fixed ``λ``).
    max_dampening
        Upper bound of a learned ``λ`` (default 1.0).
    pool_at
        Layers (1-based) whose input is 2×2 average-pooled first; default at 1/3 and 2/3 depth.
    kernel_size
        Branch convolution kernel size (default 3).
    branch
        ``"post"`` (conv-BN-ReLU-conv-BN, default) or ``"pre"`` (BN-ReLU-conv-BN-ReLU-conv).
    zero_init
        Start each branch at zero output, so the untrained network is the identity (default True).
    logit_scale, learn_logit_scale
        Positive temperature of the head (default fixed 1.0).
    mean, std
        Per-channel input normalisation; default 0.5 for every channel.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 1,
        maps_per_class: int = 4,
        depth: int = 6,
        hidden: int | Sequence[int] = 64,
        dampening: float = 0.5,
        learn_dampening: bool = False,
        max_dampening: float = 1.0,
        pool_at: Sequence[int] | None = None,
        kernel_size: int = 3,
        branch: str = "post",
        zero_init: bool = True,
        logit_scale: float = 1.0,
        learn_logit_scale: bool = False,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ):
        super().__init__()
        depth_ = check_size(depth, "depth", 1)
        num_classes, in_channels, maps_per_class, depth, pool_at, kernel_size, branch, dampening = check_aligned_args(
            num_classes, in_channels, maps_per_class, depth, pool_at, (depth_ // 3 + 1, 2 * depth_ // 3 + 1), kernel_size,
            branch, dampening, max_dampening)  # fmt: skip
        if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
            hidden = check_size(hidden, "hidden")
            widths = [hidden] * depth
        else:
            widths = hidden = check_ints(hidden, "hidden", 1, MAX_SIZE, length=depth, each="one per layer")
        learn_dampening, zero_init = check_bool(learn_dampening, "learn_dampening"), check_bool(zero_init, "zero_init")
        learn_logit_scale = check_bool(learn_logit_scale, "learn_logit_scale")
        logit_scale = check_float(logit_scale, "logit_scale", 0, low_open=True)
        max_dampening = float(max_dampening)
        mean, std = _stats(mean, std, in_channels)
        self.config = dict(
            num_classes=num_classes, in_channels=in_channels, maps_per_class=maps_per_class, depth=depth,
            hidden=hidden, dampening=dampening, learn_dampening=learn_dampening, max_dampening=max_dampening,
            pool_at=list(pool_at), kernel_size=kernel_size, branch=branch, zero_init=zero_init,
            logit_scale=logit_scale, learn_logit_scale=learn_logit_scale, mean=list(mean), std=list(std),
        )  # fmt: skip
        self.num_classes, self.in_channels, self.maps_per_class = num_classes, in_channels, maps_per_class
        k = num_classes * maps_per_class
        self.align = InputAlign(in_channels, k, mean, std)
        self.layers = nn.ModuleList(
            DampenedResidual(
                k, widths[i], dampening, pool=(i + 1) in pool_at, kernel_size=kernel_size, style=branch,
                learn=learn_dampening, max_dampening=max_dampening, zero_init=zero_init,
            )  # fmt: skip
            for i in range(depth)
        )
        self.head = ClassPoolHead(num_classes, maps_per_class, logit_scale, learn_logit_scale)
        self.min_size = 2 ** len(pool_at)

def class_means(model: AlignedNetwork, x: Tensor, layer: int = -1) -> Tensor:
    """Every class's map at ``layer`` at that layer's resolution: ``(B, C, h, w)`` (runs the
    network only up to ``layer``)."""
    check_images(x, model.in_channels, model.min_size)
    layer = check_layer(layer, model.num_layers)
    a = model.align(x)
    for block in model.layers[:layer]:
        a = block(a)
    return model.head.class_maps(a)


def class_maps(
    model: FACNN, x: Tensor, target: int | Tensor | Sequence[int], layer: int = -1, upsample: bool = True
) -> Tensor:
    """The class attribution map of FA-CNN: the mean of class ``target``'s ``R`` maps at ``layer``.

    Parameters
    ----------
    model
        An :class:`FACNN`.
    x
        Images ``(B, c_in, H, W)`` in ``[0, 1]``.
    target
        Class index (int) or a ``(B,)`` tensor of them.
    layer
        Feature-map index (0 = aligned input, -1 = penultimate, default).
    upsample
        Bilinearly upsample to ``(H, W)`` (default); ``False`` keeps the layer's resolution.

    Returns
    -------
    Tensor
        ``(B, H, W)`` (or ``(B, h, w)`` without upsampling), not rectified or normalised.

    Raises
    ------
    TypeError, ValueError
        Bad images, ``target`` out of range, ``layer`` out of range.
    """
    if not isinstance(model, AlignedNetwork):
        raise TypeError(f"class_maps reads the class maps of an FA-CNN or a hybrid (AlignedNetwork), got "
                        f"{type(model).__name__}: for any other classifier use facnn.GradCAM(model, layer=...), "
                        "facnn.RISE or facnn.Occlusion")  # fmt: skip
    means = class_means(model, x, layer)  # validates x and layer
    t = check_target(target, x.shape[0], model.num_classes, x.device)
    m = means[torch.arange(x.shape[0], device=x.device), t]
    return resize.upsample(m, x.shape[-2:]) if upsample else m


@torch.no_grad()
def all_class_maps(model: FACNN, x: Tensor, upsample: bool = True) -> tuple[Tensor, list[Tensor]]:
    """Logits and every class's map at every layer from one forward pass.

    Returns
    -------
    logits ``(B, C)`` and a list over layers ``0..depth`` of ``(B, C, H, W)`` maps (``(B, C, h, w)``
    at each layer's resolution when ``upsample`` is False).
    """
    maps = model.feature_maps(x)
    c = model.num_classes
    out = [model.head.class_maps(a) for a in maps]
    if upsample:  # one interpolation per distinct resolution, not per layer
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, m in enumerate(out):
            by_size.setdefault(tuple(m.shape[-2:]), []).append(i)
        for size, idx in by_size.items():
            if size != tuple(x.shape[-2:]):
                up = resize.upsample(torch.cat([out[i] for i in idx], 1), x.shape[-2:])
                for j, i in enumerate(idx):
                    out[i] = up[:, j * c : (j + 1) * c]
    return model.head(maps[-1]), out


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
        mean, std = _stats(mean, std, in_channels)
        self.config = dict(
            num_classes=num_classes, in_channels=in_channels, width=width, blocks=blocks,
            mean=list(mean), std=list(std),
        )  # fmt: skip
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

"""What FA-CNN and the hybrid share: the aligned-network base class, its argument checks, and
reading class maps off it (:func:`class_maps`, :func:`all_class_maps`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from facnn.core import resize
from facnn.core.validation import (
    MAX_SIZE,
    check_choice,
    check_float,
    check_images,
    check_ints,
    check_layer,
    check_size,
    check_target,
)
from facnn.models.layers import ClassPoolHead

__all__ = ["AlignedNetwork", "class_maps", "class_means", "all_class_maps", "check_aligned_args", "BRANCHES"]


BRANCHES = ("post", "pre", "inverted")


def check_aligned_args(
    num_classes: object,
    in_channels: object,
    maps_per_class: object,
    depth: object,
    pool_at: object,
    default_pool_at: Sequence[int],
    kernel_size: object,
    branch: object,
    dampening: object,
    max_dampening: object = 1.0,
) -> tuple[int, int, int, int, tuple[int, ...], int, str, float]:
    """The arguments FA-CNN and the hybrid share, checked before any layer is built."""
    num_classes = check_size(num_classes, "num_classes", 2)
    in_channels = check_size(in_channels, "in_channels", 1)
    maps_per_class = check_size(maps_per_class, "maps_per_class", 1)
    depth = check_size(depth, "depth", 1)
    pool_at = tuple(
        sorted(set(default_pool_at if pool_at is None else check_ints(pool_at, "pool_at", 1, depth, nonempty=False)))
    )
    kernel_size = check_size(kernel_size, "kernel_size", 1)
    if kernel_size % 2 == 0:
        raise ValueError(
            f"kernel_size={kernel_size} is even: the branch pads by kernel_size // 2 to keep each map's size, "
            f"which only an odd kernel does; use {kernel_size - 1} or {kernel_size + 1}"
        )
    if num_classes * maps_per_class > MAX_SIZE:
        raise ValueError(
            f"num_classes × maps_per_class = {num_classes * maps_per_class:,} channels is beyond any model "
            f"facnn builds (≤ {MAX_SIZE:,}): lower maps_per_class"
        )
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
    num_classes: int
    in_channels: int
    maps_per_class: int
    min_size: int

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
    model: AlignedNetwork, x: Tensor, target: int | Tensor | Sequence[int], layer: int = -1, upsample: bool = True
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
        raise TypeError(
            f"class_maps reads the class maps of an FA-CNN or a hybrid (AlignedNetwork), got "
            f"{type(model).__name__}: for any other classifier use facnn.GradCAM(model, layer=...), "
            "facnn.RISE or facnn.Occlusion"
        )
    means = class_means(model, x, layer)  # validates x and layer
    t = check_target(target, x.shape[0], model.num_classes, x.device)
    m = means[torch.arange(x.shape[0], device=x.device), t]
    return resize.upsample(m, x.shape[-2:]) if upsample else m


@torch.no_grad()
def all_class_maps(model: AlignedNetwork, x: Tensor, upsample: bool = True) -> tuple[Tensor, list[Tensor]]:
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
        by_size: dict[tuple[int, ...], list[int]] = {}
        for i, m in enumerate(out):
            by_size.setdefault(tuple(m.shape[-2:]), []).append(i)
        for size, idx in by_size.items():
            if size != tuple(x.shape[-2:]):
                up = resize.upsample(torch.cat([out[i] for i in idx], 1), x.shape[-2:])
                for j, i in enumerate(idx):
                    out[i] = up[:, j * c : (j + 1) * c]
    return model.head(maps[-1]), out

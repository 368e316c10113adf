"""FA-CNN, our reading of the paper (docs/design.md §2): raw feature maps are class attribution maps.

Every model carries ``.config``: the JSON-able keyword arguments that rebuild it, stored in
checkpoints and checked before weights are loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import nn

from facnn.core.registry import register_model
from facnn.core.validation import MAX_SIZE, check_bool, check_float, check_ints, check_size, check_stats
from facnn.models.aligned import AlignedNetwork, check_aligned_args
from facnn.models.layers import ClassPoolHead, DampenedResidual, InputAlign

__all__ = ["FACNN"]


@register_model("facnn")
class FACNN(AlignedNetwork):
    """Feature-Alignment CNN: raw feature maps are class attribution maps.

    The input is normalised and tiled to ``K = C·R`` channels (:class:`~facnn.models.layers.InputAlign`);
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
            num_classes,
            in_channels,
            maps_per_class,
            depth,
            pool_at,
            (depth_ // 3 + 1, 2 * depth_ // 3 + 1),
            kernel_size,
            branch,
            dampening,
            max_dampening,
        )
        if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
            hidden = check_size(hidden, "hidden")
            widths = [hidden] * depth
        else:
            widths = hidden = check_ints(hidden, "hidden", 1, MAX_SIZE, length=depth, each="one per layer")
        learn_dampening, zero_init = check_bool(learn_dampening, "learn_dampening"), check_bool(zero_init, "zero_init")
        learn_logit_scale = check_bool(learn_logit_scale, "learn_logit_scale")
        logit_scale = check_float(logit_scale, "logit_scale", 0, low_open=True)
        max_dampening = float(max_dampening)
        mean, std = check_stats(mean, std, in_channels)
        self.config = dict(
            num_classes=num_classes,
            in_channels=in_channels,
            maps_per_class=maps_per_class,
            depth=depth,
            hidden=hidden,
            dampening=dampening,
            learn_dampening=learn_dampening,
            max_dampening=max_dampening,
            pool_at=list(pool_at),
            kernel_size=kernel_size,
            branch=branch,
            zero_init=zero_init,
            logit_scale=logit_scale,
            learn_logit_scale=learn_logit_scale,
            mean=list(mean),
            std=list(std),
        )
        self.num_classes, self.in_channels, self.maps_per_class = num_classes, in_channels, maps_per_class
        k = num_classes * maps_per_class
        self.align = InputAlign(in_channels, k, mean, std)
        self.layers = nn.ModuleList(
            DampenedResidual(
                k,
                widths[i],
                dampening,
                pool=(i + 1) in pool_at,
                kernel_size=kernel_size,
                style=branch,
                learn=learn_dampening,
                max_dampening=max_dampening,
                zero_init=zero_init,
            )
            for i in range(depth)
        )
        self.head = ClassPoolHead(num_classes, maps_per_class, logit_scale, learn_logit_scale)
        self.min_size = 2 ** len(pool_at)

"""The random control: seeded uniform noise, independent of model and target (a floor every
method should beat)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from facnn.core.registry import register_method
from facnn.core.validation import check_int
from facnn.explain.base import Attribution

__all__ = ["RandomMaps"]


@register_method("random")
class RandomMaps(Attribution):
    """The control every metric is read against: maps of uniform noise, drawn from a seeded CPU
    generator and independent of the model and the target.

    Parameters
    ----------
    model
        Any model (used only to validate inputs).
    seed
        Seed of the generator; :meth:`reset` restarts the sequence, so an experiment that resets
        first draws the same maps on every run.
    """

    def __init__(self, model: nn.Module, seed: int = 0):
        super().__init__(model)
        self.seed = check_int(seed, "seed", 0)
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Restart the generator (with ``seed`` when given)."""
        if seed is not None:
            self.seed = check_int(seed, "seed", 0)
        self._generator = torch.Generator().manual_seed(self.seed)

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        return torch.rand(x.shape[0], *x.shape[-2:], generator=self._generator).to(x.device)

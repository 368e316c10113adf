"""The random control: seeded uniform noise, independent of the model (a floor every method should
beat)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from facnn.core.registry import register_method
from facnn.core.seeding import keyed_generator
from facnn.core.validation import check_int
from facnn.explain.base import Attribution

__all__ = ["RandomMaps"]


@register_method("random")
class RandomMaps(Attribution):
    """The control every metric is read against: maps of uniform noise, independent of the model.

    The map of the ``i``-th image since :meth:`reset` for class ``c`` is drawn from a generator
    keyed by ``(seed, i, c)``: the same map whatever the batch size, the order of the classes
    asked, or the process of a sharded evaluation that draws it.

    Parameters
    ----------
    model
        Any model (used only to validate inputs).
    seed
        Seed of the maps; :meth:`reset` restarts the image count, so an experiment that resets
        first draws the same maps on every run.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    >>> x = torch.rand(4, 1, 4, 4)
    >>> a = RandomMaps(net).attribute(x, 1)
    >>> expl = RandomMaps(net); expl.reset(start=2)
    >>> bool((expl.attribute(x[2:], 1) == a[2:]).all())
    True
    """

    def __init__(self, model: nn.Module, seed: int = 0):
        super().__init__(model)
        self.seed = check_int(seed, "seed", 0)
        self.reset()

    def reset(self, seed: int | None = None, start: int = 0) -> None:
        """Restart at image ``start`` (0: the first image; a shard passes the index of its first
        image), with ``seed`` when given."""
        if seed is not None:
            self.seed = check_int(seed, "seed", 0)
        self._next = check_int(start, "start", 0)

    def _draw(self, x: Tensor, classes: Tensor) -> Tensor:
        b, k = classes.shape
        h, w = x.shape[-2:]
        out = torch.empty(b, k, h, w)
        for i in range(b):
            for j in range(k):
                out[i, j] = torch.rand(h, w, generator=keyed_generator(self.seed, self._next + i, int(classes[i, j])))
        self._next += b
        return out.to(x.device)

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        return self._draw(x, t[:, None])[:, 0]

    def _attribute_classes(self, x: Tensor, classes: Tensor) -> Tensor:
        return self._draw(x, classes)

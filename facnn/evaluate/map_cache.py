"""Maps kept on disk batch by batch, so a long evaluation that is killed resumes where it stopped.

A batch's maps are stored under a key made of the method's label and settings (its ``repr``),
the SHA-256 of the model's weights, the batch's first index and the bytes of its images and
labels: a changed model, method or image set never reads stale maps. Files are written
atomically and read back with ``weights_only=True``.

Examples
--------
>>> import tempfile, torch; from torch import nn
>>> from facnn.explain import RandomMaps
>>> net = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
>>> cache = MapCache(tempfile.mkdtemp())
>>> x, y = torch.rand(2, 1, 4, 4), torch.tensor([0, 1])
>>> a = cache.maps("random", net, RandomMaps(net), 0, x, y)
>>> bool((cache.maps("random", net, RandomMaps(net), 0, x, y) == a).all()), cache.hits
(True, 1)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from facnn.core.files import atomic_write, clean_stale_temps

__all__ = ["MapCache", "weights_digest"]


def weights_digest(model: nn.Module) -> str:
    """SHA-256 of a model's parameters and buffers (names and bytes)."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


class MapCache:
    """A folder of ``<key>.pt`` map batches (see the module docstring).

    Parameters
    ----------
    folder
        Where the batches live (created when missing); temporary files of killed runs are removed.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        clean_stale_temps(self.folder)
        self.hits = self.misses = 0
        self._weights: dict[int, str] = {}

    def weights_digest(self, model: nn.Module) -> str:
        """SHA-256 of a model's parameters and buffers (computed once per model)."""
        if id(model) not in self._weights:
            self._weights[id(model)] = weights_digest(model)
        return self._weights[id(model)]

    def key(
        self, label: str, model: nn.Module, explainer: object, start: int, x: Tensor, y: Tensor, kind: str = "maps"
    ) -> str:
        h = hashlib.sha256()
        parts = (label, repr(explainer), self.weights_digest(model), str(start), str(tuple(x.shape)))
        for part in parts + (() if kind == "maps" else (kind,)):  # maps keep the keys of earlier caches
            h.update(part.encode() + b"\0")
        h.update(x.detach().cpu().contiguous().numpy().tobytes())
        h.update(y.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:32]

    def maps(self, label: str, model: nn.Module, explainer, start: int, x: Tensor, y: Tensor) -> Tensor:
        """``explainer.attribute(x, y)``, read from the folder when this batch was computed before."""
        return self.cached(
            label, model, explainer, start, x, y, lambda: explainer.attribute(x, y), (len(x), *x.shape[-2:])
        )

    def cached(
        self,
        label: str,
        model: nn.Module,
        explainer,
        start: int,
        x: Tensor,
        y: Tensor,
        compute: Callable[[], Tensor],
        shape: tuple[int, ...],
        kind: str = "maps",
    ) -> Tensor:
        """``compute()`` (a tensor of ``shape`` computed from the batch ``x, y`` by ``explainer`` on
        ``model``), read from the folder when it was computed before; ``kind`` names what is kept
        (e.g. ``"pointing-game"`` for a batch of grids' scores) and is part of the key."""
        path = self.folder / f"{self.key(label, model, explainer, start, x, y, kind)}.pt"
        if path.exists():
            try:
                out = torch.load(path, map_location=x.device, weights_only=True)
            except Exception as e:  # noqa: BLE001 - a damaged file is recomputed, and said so
                print(f"map cache: {path} cannot be read ({type(e).__name__}); computing the batch again")
            else:
                if isinstance(out, Tensor) and tuple(out.shape) == tuple(shape):
                    self.hits += 1
                    return out
        out = compute()
        atomic_write(path, lambda tmp: torch.save(out.detach().cpu(), tmp))
        self.misses += 1
        return out

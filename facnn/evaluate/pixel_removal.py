"""Evaluation metrics: map correlation, percent pixels removed, grid pointing game.

All take and return tensors, batch first; :class:`PixelRemoval` accumulates over batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from facnn.core.modes import eval_mode
from facnn.core.seeding import keyed_generator
from facnn.core.validation import check_choice, check_float, check_floats, check_images, check_int

__all__ = ["PixelRemoval", "percent_grid", "removal_order", "DEFAULT_PERCENTS", "FILLS"]

DEFAULT_PERCENTS = (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)


def percent_grid(percents: Any) -> list[float]:
    """Percents of pixels to remove, checked: strictly increasing, in ``[0, 100]``, from a list,
    tuple, numpy array, tensor or iterable (read once); whole values stay ints (as in the records).

    >>> percent_grid(np.array([0, 12.5, 50]))
    [0, 12.5, 50]
    """
    return [int(p) if p.is_integer() else p for p in check_floats(percents, "percents", 0, 100, increasing=True)]


def removal_order(maps: Tensor, order: str) -> Tensor:
    """Rank of every pixel in the removal order: ``(B, H·W)``, rank 0 is removed first.

    ``"morf"``: most relevant first (descending map value); ``"lerf"``: least relevant first.
    Ties are broken by raster index (lower index first) through a stable sort.
    """
    flat = maps.flatten(1)
    if order == "morf":
        key = -flat
    elif order == "lerf":
        key = flat
    else:
        raise ValueError(f"order must be 'morf' or 'lerf', got {order!r}")
    idx = torch.sort(key, dim=1, stable=True).indices
    return torch.empty_like(idx).scatter_(1, idx, torch.arange(flat.shape[1], device=maps.device).expand_as(idx))


def _fill_images(x: Tensor, fill: str, mean: Sequence[float] | None, blur_sigma: float) -> Tensor:
    if fill == "zero":
        return torch.zeros_like(x)
    if fill == "mean":
        m = (
            torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
            if mean
            else x.mean((0, 2, 3), keepdim=True)
        )
        return m.expand_as(x)
    if fill == "blur":
        radius = max(1, int(3 * blur_sigma))
        k = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype) / blur_sigma) ** 2)
        k = (k / k.sum()).view(1, 1, 1, -1)
        c = x.shape[1]
        y = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), k.expand(c, 1, 1, -1), groups=c)
        return F.conv2d(
            F.pad(y, (0, 0, radius, radius), mode="replicate"), k.transpose(-1, -2).expand(c, 1, -1, 1), groups=c
        )
    raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")


FILLS = ("zero", "mean", "blur", "road")


class PixelRemoval:
    """Accuracy as the top (MoRF) or bottom (LeRF) p% of pixels are removed (FA-CNN Fig. 4).

    Protocol, per image: rank its pixels by its attribution map — the map of the class the
    caller attributed (the *true* label by convention here; pass maps of the predicted class
    for the other variant) — in the given ``order`` with ties broken by raster index; for each
    ``p`` in ``percents`` replace the ``round(p/100 · H·W)`` first-ranked pixels (all channels)
    by the ``fill`` (``"zero"``: 0; ``"mean"``: the per-channel dataset mean, or the batch mean;
    ``"blur"``: the image blurred with a Gaussian of ``blur_sigma`` pixels; ``"road"``: ROAD's noisy
    linear imputation from the remaining pixels, :mod:`facnn.evaluate.road`), classify, and count
    a hit when the prediction equals the true label. The curve is accuracy vs ``p``; its area is
    the trapezoid integral over ``p/100 ∈ [0, 1]``. Lower MoRF area and higher LeRF area mean a
    more faithful map.

    Parameters
    ----------
    model
        The classifier being evaluated (run in eval mode).
    percents
        Percent grid (default :data:`DEFAULT_PERCENTS`).
    order
        ``"morf"`` or ``"lerf"``.
    fill, mean, blur_sigma
        The baseline for removed pixels.
    road_noise, seed
        ROAD's imputation noise (default 0.01) and its seed: the noise of image ``i`` at percent
        ``k`` is keyed by ``(seed, i, k)``, so it does not depend on the batches.
    start
        Index of the first image this meter sees (a shard of a sharded evaluation passes the
        index of its first image; images are numbered in the order of :meth:`update` calls).
    batch_size
        Perturbed images per forward pass.
    """

    def __init__(
        self,
        model: nn.Module,
        percents: Sequence[float] = DEFAULT_PERCENTS,
        order: str = "morf",
        *,
        fill: str = "zero",
        mean: Sequence[float] | None = None,
        blur_sigma: float = 2.0,
        batch_size: int = 1024,
        road_noise: float = 0.01,
        seed: int = 0,
        start: int = 0,
    ):
        if not callable(model):
            raise TypeError(
                f"PixelRemoval needs the classifier (an nn.Module or a function mapping images to logits), "
                f"got {type(model).__name__}"
            )
        percents = percent_grid(percents)
        batch_size = check_int(batch_size, "batch_size", 1, fix="images per forward pass, e.g. 256")
        blur_sigma = check_float(blur_sigma, "blur_sigma", 0, low_open=True)
        order, fill = check_choice(order, "order", ("morf", "lerf")), check_choice(fill, "fill", FILLS)
        road_noise, seed = check_float(road_noise, "road_noise", 0), check_int(seed, "seed", 0)
        self.start = check_int(start, "start", 0)
        mean = None if mean is None else check_floats(mean, "mean")
        self.model, self.percents, self.order = model, percents, order
        self.fill, self.mean, self.blur_sigma, self.batch_size = fill, mean, blur_sigma, batch_size
        self.road_noise, self.seed = road_noise, seed
        self.reset()

    def reset(self) -> None:
        """Forget every image added so far."""
        self.correct = torch.zeros(len(self.percents), dtype=torch.long)
        self.count = 0
        self._hits: list[Tensor] = []

    @torch.no_grad()
    def update(self, x: Tensor, y: Tensor, maps: Tensor) -> None:
        """Add a batch: images ``(B, C, H, W)``, labels ``(B,)``, maps ``(B, H, W)``."""
        check_images(x, None)
        if not isinstance(y, Tensor) or not isinstance(maps, Tensor):
            raise TypeError(f"labels and maps must be tensors, got {type(y).__name__} and {type(maps).__name__}")
        if self.fill == "mean" and self.mean is not None and len(self.mean) != x.shape[1]:
            raise ValueError(
                f"mean has {len(self.mean)} values but the images have {x.shape[1]} channels: give one "
                f"dataset mean per channel (e.g. mean=[0.286] for Fashion-MNIST)"
            )
        if maps.shape != (x.shape[0], *x.shape[-2:]):
            raise ValueError(f"maps must be (B, H, W) = {(x.shape[0], *x.shape[-2:])}, got {tuple(maps.shape)}")
        if len(y) != len(x):
            raise ValueError(f"{len(x)} images but {len(y)} labels")
        if not bool(torch.isfinite(maps).all()):
            raise ValueError(
                "maps contain NaN or Inf: a ranking of pixels by them is undefined; fix the explainer "
                "or clean the maps (torch.nan_to_num)"
            )
        b, _, h, w = x.shape
        rank = removal_order(maps.to(x.device), self.order).view(b, 1, h, w)
        filler = None if self.fill == "road" else _fill_images(x, self.fill, self.mean, self.blur_sigma)
        counts = torch.tensor([round(p / 100 * h * w) for p in self.percents], device=x.device)
        with eval_mode(self.model):
            per_chunk = max(1, self.batch_size // b)
            hits = torch.zeros(len(counts), b, dtype=torch.bool)
            for s in range(0, len(counts), per_chunk):
                n = counts[s : s + per_chunk].view(-1, 1, 1, 1, 1)
                if filler is None:  # ROAD: each removal set imputed from the pixels that remain
                    removed = torch.stack(
                        [self._impute(x, rank[:, 0] < k, s + j) for j, k in enumerate(n.flatten().tolist())]
                    )
                else:
                    removed = torch.where(rank.unsqueeze(0) < n, filler.unsqueeze(0), x.unsqueeze(0))  # (L, B, C, H, W)
                pred = self.model(removed.flatten(0, 1)).argmax(1).view(len(n), b)
                hits[s : s + len(n)] = (pred == y.to(x.device)).cpu()
        self.correct += hits.sum(1)
        self._hits.append(hits.T)
        self.count += b

    def _impute(self, x: Tensor, removed: Tensor, percent_index: int) -> Tensor:
        from facnn.evaluate.road import noisy_linear_impute

        first = self.start + self.count
        keys = [keyed_generator(self.seed, first + i, percent_index) for i in range(len(x))]
        return noisy_linear_impute(x, removed, self.road_noise, keys)

    def per_image(self) -> np.ndarray:
        """Hits ``(n_images, n_percents)`` (1 where the image was still classified correctly)."""
        if self.count == 0:
            raise ValueError("no images: call update() first")
        return torch.cat(self._hits).double().numpy()

    def per_image_auc(self) -> np.ndarray:
        """Each image's area under its own 0/1 curve, ``(n_images,)``; their mean is the curve's AUC
        (the trapezoid is linear), so they are the units of the bootstrap interval."""
        hits = self.per_image()
        frac = np.asarray(self.percents) / 100
        return np.trapezoid(hits, frac, axis=1) if len(frac) > 1 else hits[:, 0]

    def compute(self) -> dict[str, Any]:
        """``{"percents", "accuracy", "auc", "n_images", "order", "fill"}``."""
        if self.count == 0:
            raise ValueError("no images: call update() first")
        acc = (self.correct.double() / self.count).tolist()
        frac = np.asarray(self.percents) / 100
        auc = float(np.trapezoid(acc, frac)) if len(frac) > 1 else float(acc[0])
        return dict(
            percents=self.percents, accuracy=acc, auc=auc, n_images=self.count, order=self.order, fill=self.fill
        )

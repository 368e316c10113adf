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

from .modes import eval_mode
from .validation import check_choice, check_float, check_floats, check_images, check_int

__all__ = ["pearson", "PixelRemoval", "percent_grid", "removal_order", "make_grids", "grid_shares", "pointing_game", "DEFAULT_PERCENTS"]

DEFAULT_PERCENTS = (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)


def pearson(a: Tensor, b: Tensor) -> Tensor:
    """Per-image Pearson correlation of two map batches ``(B, …)`` over all pixels: ``(B,)``.

    NaN where either map is constant (correlation undefined).
    """
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"pearson takes two tensors of maps, got {type(a).__name__} and {type(b).__name__}: "
                        "use torch.as_tensor")  # fmt: skip
    if a.shape != b.shape:
        raise ValueError(f"maps must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.dim() < 2 or a.shape[1:].numel() < 2:
        raise ValueError(f"pearson correlates each image's maps over their pixels: a and b must be batches (B, H, W) or "
                         f"(B, N) with N ≥ 2, got shape {tuple(a.shape)}; for two single maps use a[None], b[None]")  # fmt: skip
    a, b = a.flatten(1).double(), b.flatten(1).double()
    ac, bc = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    na, nb = ac.norm(dim=1), bc.norm(dim=1)
    # a map is constant when its centred norm is rounding noise relative to its magnitude
    eps = 1e-9 * a.shape[1] ** 0.5
    const = (na <= eps * a.abs().amax(1)) | (nb <= eps * b.abs().amax(1))
    r = (ac * bc).sum(1) / (na * nb).clamp_min(1e-300)
    return torch.where(const, torch.nan, r).float()

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
        m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1) if mean else x.mean((0, 2, 3), keepdim=True)
        return m.expand_as(x)
    if fill == "blur":
        radius = max(1, int(3 * blur_sigma))
        k = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype) / blur_sigma) ** 2)
        k = (k / k.sum()).view(1, 1, 1, -1)
        c = x.shape[1]
        y = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), k.expand(c, 1, 1, -1), groups=c)
        return F.conv2d(F.pad(y, (0, 0, radius, radius), mode="replicate"), k.transpose(-1, -2).expand(c, 1, -1, 1), groups=c)
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
    linear imputation from the remaining pixels, :mod:`facnn.road`), classify, and count
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
        ROAD's imputation noise (default 0.01) and the seed of its generator (:meth:`reset` restarts it).
    batch_size
        Perturbed images per forward pass.
    """

    def __init__(self, model: nn.Module, percents: Sequence[float] = DEFAULT_PERCENTS, order: str = "morf", *,
                 fill: str = "zero", mean: Sequence[float] | None = None, blur_sigma: float = 2.0,
                 batch_size: int = 1024, road_noise: float = 0.01, seed: int = 0):  # fmt: skip
        if not callable(model):
            raise TypeError(f"PixelRemoval needs the classifier (an nn.Module or a function mapping images to logits), "
                            f"got {type(model).__name__}")  # fmt: skip
        percents = percent_grid(percents)
        batch_size = check_int(batch_size, "batch_size", 1, fix="images per forward pass, e.g. 256")
        blur_sigma = check_float(blur_sigma, "blur_sigma", 0, low_open=True)
        order, fill = check_choice(order, "order", ("morf", "lerf")), check_choice(fill, "fill", FILLS)
        road_noise, seed = check_float(road_noise, "road_noise", 0), check_int(seed, "seed", 0)
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
        self._generator = torch.Generator().manual_seed(getattr(self, "seed", 0))

    @torch.no_grad()
    def update(self, x: Tensor, y: Tensor, maps: Tensor) -> None:
        """Add a batch: images ``(B, C, H, W)``, labels ``(B,)``, maps ``(B, H, W)``."""
        check_images(x, None)
        if not isinstance(y, Tensor) or not isinstance(maps, Tensor):
            raise TypeError(f"labels and maps must be tensors, got {type(y).__name__} and {type(maps).__name__}")
        if self.fill == "mean" and self.mean is not None and len(self.mean) != x.shape[1]:
            raise ValueError(f"mean has {len(self.mean)} values but the images have {x.shape[1]} channels: give one "
                             f"dataset mean per channel (e.g. mean=[0.286] for Fashion-MNIST)")  # fmt: skip
        if maps.shape != (x.shape[0], *x.shape[-2:]):
            raise ValueError(f"maps must be (B, H, W) = {(x.shape[0], *x.shape[-2:])}, got {tuple(maps.shape)}")
        if len(y) != len(x):
            raise ValueError(f"{len(x)} images but {len(y)} labels")
        if not bool(torch.isfinite(maps).all()):
            raise ValueError("maps contain NaN or Inf: a ranking of pixels by them is undefined; fix the explainer "
                             "or clean the maps (torch.nan_to_num)")  # fmt: skip
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
                    removed = torch.stack([self._impute(x, rank[:, 0] < k) for k in n.flatten().tolist()])
                else:
                    removed = torch.where(rank.unsqueeze(0) < n, filler.unsqueeze(0), x.unsqueeze(0))  # (L, B, C, H, W)
                pred = self.model(removed.flatten(0, 1)).argmax(1).view(len(n), b)
                hits[s : s + len(n)] = (pred == y.to(x.device)).cpu()
        self.correct += hits.sum(1)
        self._hits.append(hits.T)
        self.count += b

    def _impute(self, x: Tensor, removed: Tensor) -> Tensor:
        from .road import noisy_linear_impute

        return noisy_linear_impute(x, removed, self.road_noise, self._generator)

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
        return dict(percents=self.percents, accuracy=acc, auc=auc, n_images=self.count, order=self.order, fill=self.fill)


@torch.no_grad()
def make_grids(model: nn.Module, x: Tensor, y: Tensor, *, n: int = 3, n_grids: int = 50, min_confidence: float = 0.5,
               seed: int = 0, batch_size: int = 512) -> tuple[Tensor, Tensor]:  # fmt: skip
    """Build ``n×n`` image grids for the grid pointing game (CoDA-Nets' localisation metric).

    Candidates are the images that ``model`` classifies correctly with softmax confidence
    ``≥ min_confidence`` (for a BCE model: sigmoid). Each grid draws ``n²`` distinct classes
    and one candidate of each, at random positions (seeded).

    Returns
    -------
    grids ``(G, C, n·H, n·W)`` and cell classes ``(G, n²)`` in raster order.

    Raises
    ------
    ValueError
        Fewer than ``n²`` classes have a confident correct image.
    """
    n, n_grids = check_int(n, "n", 1, fix="cells per grid side, e.g. 3"), check_int(n_grids, "n_grids", 1)
    batch_size, seed = check_int(batch_size, "batch_size", 1), check_int(seed, "seed", 0)
    min_confidence = check_float(min_confidence, "min_confidence", 0, 1, fix="a probability, e.g. 0.5")
    check_images(x, None)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"make_grids needs as many labels as images (≥ 1), got {len(x)} images and {len(y)} labels")
    with eval_mode(model):
        logits = torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
    bce = getattr(model, "logit_bias", None) is not None
    conf = (logits.sigmoid() if bce else logits.softmax(1)).gather(1, y[:, None])[:, 0]
    ok = (logits.argmax(1) == y) & (conf >= min_confidence)
    pools = {int(c): torch.nonzero(ok & (y == c))[:, 0] for c in torch.unique(y[ok])}
    if len(pools) < n * n:
        raise ValueError(f"only {len(pools)} classes have confident correct images; a {n}×{n} grid needs {n * n}: "
                         f"lower min_confidence, pass more images, or use a smaller n")  # fmt: skip
    g = torch.Generator().manual_seed(seed)
    classes_avail = torch.tensor(sorted(pools))
    grids, cls = [], []
    _, c, h, w = x.shape
    for _ in range(n_grids):
        chosen = classes_avail[torch.randperm(len(classes_avail), generator=g)[: n * n]]
        imgs = [x[pools[int(k)][torch.randint(len(pools[int(k)]), (1,), generator=g)]][0] for k in chosen]
        grid = torch.stack(imgs).view(n, n, c, h, w).permute(2, 0, 3, 1, 4).reshape(c, n * h, n * w)
        grids.append(grid)
        cls.append(chosen)
    return torch.stack(grids), torch.stack(cls).to(x.device)


def grid_shares(maps: Tensor, cell: Tensor, n: int) -> Tensor:
    """Share of *positive* attribution inside the given cell: maps ``(G, n·H, n·W)``, cell ``(G,)``
    raster indices → ``(G,)`` in ``[0, 1]`` (0 where a map has no positive attribution)."""
    if maps.dim() != 3:
        raise ValueError(f"maps must be (G, n·H, n·W), got shape {tuple(maps.shape)}")
    g, hh, ww = maps.shape
    if hh % n or ww % n:
        raise ValueError(f"maps of {hh}×{ww} pixels do not split into an n×n = {n}×{n} grid of equal cells: pass the n "
                         f"the grids were made with, or crop the maps to a multiple of {n}")  # fmt: skip
    pos = maps.clamp_min(0).view(g, n, hh // n, n, ww // n).sum(dim=(2, 4)).flatten(1)  # (G, n²)
    total = pos.sum(1)
    share = pos.gather(1, cell.view(-1, 1).long())[:, 0] / total.clamp_min(1e-30)
    return torch.where(total > 0, share, torch.zeros_like(share))


def pointing_game(explainer: Any, grids: Tensor, classes: Tensor, n: int = 3) -> Tensor:
    """Grid pointing game scores ``(G, n²)``: for each cell, the share of the positive attribution
    of that cell's class that falls inside the cell. Oracle maps score 1, uniform maps ``1/n²``.

    ``explainer`` is any object with ``.attribute(x, target) -> (B, H, W)``; its
    ``.attribute_classes(x, classes) -> (B, K, H, W)`` is used when present.
    """
    n = check_int(n, "n", 1, fix="the n make_grids used, e.g. 3")
    if grids.dim() != 4 or classes.dim() != 2 or len(classes) != len(grids):
        raise ValueError(f"grids must be (G, C, H, W) and classes (G, n²), got {tuple(grids.shape)} and {tuple(classes.shape)}")
    if classes.shape[1] != n * n or grids.shape[-2] % n or grids.shape[-1] % n:
        raise ValueError(f"n={n} does not match the grids: classes has {classes.shape[1]} cells per grid and the grids "
                         f"are {grids.shape[-2]}×{grids.shape[-1]}; pass the n make_grids used")  # fmt: skip
    if hasattr(explainer, "attribute_classes"):
        maps = explainer.attribute_classes(grids, classes)  # (G, n², H, W), one pass where possible
    else:
        maps = torch.stack([explainer.attribute(grids, classes[:, k]) for k in range(n * n)], 1)
    cells = torch.arange(n * n, device=grids.device)
    return torch.stack([grid_shares(maps[:, k], cells[k].expand(len(grids)), n) for k in range(n * n)], dim=1)

"""Localisation: the grid pointing game (Böhle et al., CoDA-Nets): n×n grids of confidently
classified images of distinct classes, and the share of positive attribution in the true cell."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from facnn.core.modes import eval_mode
from facnn.core.validation import check_choice, check_float, check_images, check_int

__all__ = ["make_grids", "grid_shares", "pointing_game", "SELECTIONS"]

SELECTIONS = ("random", "confident")  # how make_grids picks each class's image


@torch.no_grad()
def make_grids(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    n: int = 3,
    n_grids: int = 50,
    min_confidence: float = 0.5,
    seed: int = 0,
    batch_size: int = 512,
    selection: str = "random",
) -> tuple[Tensor, Tensor]:
    """Build ``n×n`` image grids for the grid pointing game (CoDA-Nets' localisation metric).

    Candidates are the images that ``model`` classifies correctly with softmax confidence
    ``≥ min_confidence`` (for a BCE model: sigmoid). Each grid draws ``n²`` distinct classes
    at random positions (seeded) and one candidate of each: ``selection="random"`` (ours) draws
    it uniformly from the class's candidates, so an image may recur in other grids;
    ``"confident"`` (the CoDA-Nets authors' analysis) takes the class's most confident image not
    used yet, so each image appears once and the first grids hold the easiest images.

    Returns
    -------
    grids ``(G, C, n·H, n·W)`` and cell classes ``(G, n²)`` in raster order.

    Raises
    ------
    ValueError
        Fewer than ``n²`` classes have a confident correct image (``"confident"``: have one left
        for every grid asked for).

    Examples
    --------
    >>> import facnn
    >>> net = facnn.FACNN(10, depth=1, hidden=4).eval()
    >>> x, y = torch.rand(200, 1, 8, 8), torch.arange(200) % 10
    >>> y = net(x).argmax(1)  # every image correct
    >>> grids, classes = make_grids(net, x, y, n=1, n_grids=3, min_confidence=0.0, selection="confident")
    >>> grids.shape, classes.shape
    (torch.Size([3, 1, 8, 8]), torch.Size([3, 1]))
    """
    n, n_grids = check_int(n, "n", 1, fix="cells per grid side, e.g. 3"), check_int(n_grids, "n_grids", 1)
    batch_size, seed = check_int(batch_size, "batch_size", 1), check_int(seed, "seed", 0)
    min_confidence = check_float(min_confidence, "min_confidence", 0, 1, fix="a probability, e.g. 0.5")
    selection = check_choice(selection, "selection", SELECTIONS)
    check_images(x, None)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"make_grids needs as many labels as images (≥ 1), got {len(x)} images and {len(y)} labels")
    with eval_mode(model):
        logits = torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
    bce = getattr(model, "logit_bias", None) is not None
    conf = (logits.sigmoid() if bce else logits.softmax(1)).gather(1, y[:, None])[:, 0]
    ok = (logits.argmax(1) == y) & (conf >= min_confidence)
    pools = {int(c): torch.nonzero(ok & (y == c))[:, 0] for c in torch.unique(y[ok])}
    if selection == "confident":  # most confident first (stable: ties keep the image order)
        pools = {c: idx[torch.sort(-conf[idx], stable=True).indices] for c, idx in pools.items()}
    if len(pools) < n * n:
        raise ValueError(
            f"only {len(pools)} classes have confident correct images; a {n}×{n} grid needs {n * n}: "
            f"lower min_confidence, pass more images, or use a smaller n"
        )
    g = torch.Generator().manual_seed(seed)
    used = dict.fromkeys(pools, 0)  # "confident": images of each class taken so far
    grids, cls = [], []
    _, c, h, w = x.shape
    for i in range(n_grids):
        left = [k for k in sorted(pools) if selection == "random" or used[k] < len(pools[k])]
        if len(left) < n * n:
            raise ValueError(
                f"after {i} grids only {len(left)} classes have a confident correct image not used yet; "
                f"{n_grids} grids of {n}×{n} with selection='confident' need more: pass more images "
                f"(n_candidates), ask for fewer grids, or use selection='random'"
            )
        avail = torch.tensor(left)
        chosen = avail[torch.randperm(len(avail), generator=g)[: n * n]]
        if selection == "random":
            picks = [pools[int(k)][torch.randint(len(pools[int(k)]), (1,), generator=g)][0] for k in chosen]
        else:
            picks = [pools[int(k)][used[int(k)]] for k in chosen]
            for k in chosen:
                used[int(k)] += 1
        imgs = [x[j] for j in picks]
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
        raise ValueError(
            f"maps of {hh}×{ww} pixels do not split into an n×n = {n}×{n} grid of equal cells: pass the n "
            f"the grids were made with, or crop the maps to a multiple of {n}"
        )
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
        raise ValueError(
            f"grids must be (G, C, H, W) and classes (G, n²), got {tuple(grids.shape)} and {tuple(classes.shape)}"
        )
    if classes.shape[1] != n * n or grids.shape[-2] % n or grids.shape[-1] % n:
        raise ValueError(
            f"n={n} does not match the grids: classes has {classes.shape[1]} cells per grid and the grids "
            f"are {grids.shape[-2]}×{grids.shape[-1]}; pass the n make_grids used"
        )
    if hasattr(explainer, "attribute_classes"):
        maps = explainer.attribute_classes(grids, classes)  # (G, n², H, W), one pass where possible
    else:
        maps = torch.stack([explainer.attribute(grids, classes[:, k]) for k in range(n * n)], 1)
    cells = torch.arange(n * n, device=grids.device)
    return torch.stack([grid_shares(maps[:, k], cells[k].expand(len(grids)), n) for k in range(n * n)], dim=1)

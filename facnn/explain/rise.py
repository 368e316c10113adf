"""Perturbation methods: RISE (random masks) and k×k occlusion, for any classifier."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from facnn.core.registry import register_method
from facnn.core.validation import MAX_SIZE, check_bool, check_float, check_int
from facnn.explain.base import Attribution

__all__ = ["RISE"]


@register_method("rise")
class RISE(Attribution):
    """RISE (Petsiuk, Das & Saenko, BMVC 2018): randomised input sampling.

    ``N`` binary grids of ``s×s`` cells, each cell kept with probability ``p``, are upsampled
    bilinearly to ``(s+1)·⌈H/s⌉`` and cropped to ``H×W`` at a random shift in ``[0, ⌈H/s⌉)``;
    the saliency of class ``c`` is ``Σ_i f_c(x ⊙ M_i) · M_i / (N·p)`` with ``f_c`` the softmax
    probability. Masks are drawn from ``seed`` in chunks of ``batch_size`` on the model's device,
    so the same seed gives the same masks on every call and device.

    Parameters
    ----------
    n_masks, cells, p
        ``N`` (default 4000), ``s`` (default 7) and the keep probability (default 0.5).
    batch_size
        Masked images per forward pass (default 500).
    seed
        Mask seed (default 0).
    fill
        Value of masked-out pixels (default 0, as in the paper).
    center
        Subtract the mean score: ``Σ_i (f_c(x ⊙ M_i) − f̄_c) · M_i / (N·p)`` (default False, the
        paper's form). The paper's saliency carries a baseline ≈ ``f̄_c`` on every pixel, so any
        "share of positive attribution" metric sees it as near-uniform; centring removes that
        baseline and keeps the pixel ranking up to mask-coverage noise.
    """

    def __init__(
        self,
        model: nn.Module,
        n_masks: int = 4000,
        cells: int = 7,
        p: float = 0.5,
        *,
        batch_size: int = 500,
        seed: int = 0,
        fill: float = 0.0,
        center: bool = False,
    ):
        super().__init__(model)
        n_masks = check_int(n_masks, "n_masks", 1, MAX_SIZE, fix="the RISE paper uses 4000-8000 masks")
        cells = check_int(cells, "cells", 1, fix="mask grid cells per side, e.g. 7")
        batch_size = check_int(batch_size, "batch_size", 1, fix="masked images per forward pass, e.g. 500")
        p = check_float(p, "p", 0, 1, low_open=True, fix="the share of cells kept, e.g. 0.5")
        fill = check_float(fill, "fill", fix="RISE fills masked pixels with it, e.g. 0.0")
        seed, center = check_int(seed, "seed", 0), check_bool(center, "center")
        self.n_masks, self.cells, self.p, self.batch_size, self.seed, self.fill = (
            n_masks,
            cells,
            p,
            batch_size,
            seed,
            fill,
        )
        self.center = center

    def masks(self, size: tuple[int, int], start: int, count: int, device: torch.device) -> Tensor:
        """Masks ``start … start+count-1`` as ``(count, 1, H, W)``; mask ``i`` depends only on ``(seed, i)``."""
        h, w = size
        ch, cw = math.ceil(h / self.cells), math.ceil(w / self.cells)
        out = []
        chunk0 = start // self.batch_size
        for chunk in range(chunk0, (start + count - 1) // self.batch_size + 1):
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + chunk)
            n = min(self.batch_size, self.n_masks - chunk * self.batch_size)
            grid = (torch.rand(n, 1, self.cells, self.cells, generator=g) < self.p).float()
            shift = torch.randint(0, ch, (n,), generator=g), torch.randint(0, cw, (n,), generator=g)
            up = F.interpolate(
                grid.to(device),
                size=((self.cells + 1) * ch, (self.cells + 1) * cw),
                mode="bilinear",
                align_corners=False,
            )
            iy = (shift[0].to(device)[:, None] + torch.arange(h, device=device))[:, :, None]
            ix = (shift[1].to(device)[:, None] + torch.arange(w, device=device))[:, None, :]
            out.append(up[:, 0][torch.arange(n, device=device)[:, None, None], iy, ix].unsqueeze(1))
        m = torch.cat(out)
        off = start - chunk0 * self.batch_size
        return m[off : off + count]

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        return self._attribute_classes(x, t[:, None])[:, 0]

    def _attribute_classes(self, x: Tensor, classes: Tensor) -> Tensor:  # one set of masked forwards for all classes
        b, _, h, w = x.shape
        sal = torch.zeros(b, classes.shape[1], h, w, device=x.device)
        fsum = torch.zeros(b, classes.shape[1], device=x.device)  # Σ_i f_c(x ⊙ M_i)
        msum = torch.zeros(h, w, device=x.device)  # Σ_i M_i
        with torch.no_grad():
            for s in range(0, self.n_masks, self.batch_size):
                m = self.masks((h, w), s, min(self.batch_size, self.n_masks - s), x.device)
                msum += m[:, 0].sum(0)
                for i in range(b):
                    xi = x[i : i + 1] * m + self.fill * (1 - m)
                    prob = F.softmax(self.model(xi).float(), dim=1)[:, classes[i]]  # (n, K)
                    sal[i] += torch.einsum("nk,nhw->khw", prob, m[:, 0])
                    fsum[i] += prob.sum(0)
        if self.center:
            sal -= (fsum / self.n_masks)[:, :, None, None] * msum
        return sal / (self.n_masks * self.p)

"""Perturbation methods: RISE (random masks) and k×k occlusion, for any classifier."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from facnn.core.registry import register_method
from facnn.core.validation import MAX_SIZE, check_bool, check_choice, check_float, check_int
from facnn.explain.base import Attribution, images_per_forward

__all__ = ["RISE"]


def _reflect_resize_matrix(n: int, size: int, device: torch.device) -> Tensor:
    """``(size, n)`` weights of linear interpolation from ``n`` cells to ``size`` samples at pixel
    centres (``align_corners=False``), the cells extended by mirroring without repeating the edge
    (numpy's and skimage's ``"reflect"``: index −1 reads cell 1)."""
    pos = (torch.arange(size, dtype=torch.float64) + 0.5) * n / size - 0.5
    lo = torch.floor(pos)
    frac = pos - lo
    out = torch.zeros(size, n, dtype=torch.float64)
    for idx, wgt in ((lo, 1 - frac), (lo + 1, frac)):
        i = idx.long()
        if n > 1:
            i = torch.where(i < 0, -i, i)
            i = torch.where(i > n - 1, 2 * (n - 1) - i, i)
        else:
            i = torch.zeros_like(i)
        out.index_put_((torch.arange(size), i), wgt, accumulate=True)
    return out.float().to(device)


@register_method("rise")
class RISE(Attribution):
    """RISE (Petsiuk, Das & Saenko, BMVC 2018): randomised input sampling.

    ``N`` binary grids of ``s×s`` cells, each cell kept with probability ``p``, are upsampled
    bilinearly to ``(s+1)·⌈H/s⌉`` and cropped to ``H×W`` at a random shift in ``[0, ⌈H/s⌉)``;
    the saliency of class ``c`` is ``Σ_i f_c(x ⊙ M_i) · M_i / (N·p)`` with ``f_c`` the softmax
    probability. Masks are drawn from ``seed`` in chunks of :attr:`MASK_CHUNK` on the model's device,
    so the same seed gives the same masks on every call, device and ``batch_size``.

    Parameters
    ----------
    n_masks, cells, p
        ``N`` (default 4000), ``s`` (default 7) and the keep probability (default 0.5).
    batch_size
        Masked images per forward pass (default ``None``: 500, fewer for large images, see
        :func:`~facnn.explain.base.images_per_forward`: 83 at 224²). It changes memory, not the maps.
    seed
        Mask seed (default 0).
    fill
        Value of masked-out pixels (default 0, as in the paper).
    edges
        How the grid is extended past its border when upsampled: ``"replicate"`` (default; the
        edge cell's value, as ``F.interpolate`` does) or ``"reflect"`` (the RISE authors' masks,
        ``skimage.transform.resize(..., mode="reflect")``: the neighbouring cell mirrored, so the
        outer half-cell of a mask blends with the next cell in). Masks differ only there.
    center
        Subtract the mean score: ``Σ_i (f_c(x ⊙ M_i) − f̄_c) · M_i / (N·p)`` (default False, the
        paper's form). The paper's saliency carries a baseline ≈ ``f̄_c`` on every pixel, so any
        "share of positive attribution" metric sees it as near-uniform; centring removes that
        baseline and keeps the pixel ranking up to mask-coverage noise.
    """

    LATER_OPTIONS = {"edges": "replicate"}
    EXECUTION_OPTIONS = ("batch_size",)
    MASK_CHUNK = 500  # masks drawn per generator seed (the records' masks: 500 was the batch size then)

    def __init__(
        self,
        model: nn.Module,
        n_masks: int = 4000,
        cells: int = 7,
        p: float = 0.5,
        *,
        batch_size: int | None = None,
        seed: int = 0,
        fill: float = 0.0,
        center: bool = False,
        edges: str = "replicate",
    ):
        super().__init__(model)
        n_masks = check_int(n_masks, "n_masks", 1, MAX_SIZE, fix="the RISE paper uses 4000-8000 masks")
        cells = check_int(cells, "cells", 1, fix="mask grid cells per side, e.g. 7")
        if batch_size is not None:
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
        self.edges = check_choice(edges, "edges", ("replicate", "reflect"))

    def draws(self, chunk: int, cell: tuple[int, int]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """The random draws behind masks ``chunk·MASK_CHUNK …``: binary grids ``(n, 1, s, s)`` and
        the vertical and horizontal shifts ``(n,)`` in ``[0, cell)``, from ``(seed, chunk)`` alone."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + chunk)
        n = min(self.MASK_CHUNK, self.n_masks - chunk * self.MASK_CHUNK)
        grid = (torch.rand(n, 1, self.cells, self.cells, generator=g) < self.p).float()
        return grid, (torch.randint(0, cell[0], (n,), generator=g), torch.randint(0, cell[1], (n,), generator=g))

    def masks(self, size: tuple[int, int], start: int, count: int, device: torch.device) -> Tensor:
        """Masks ``start … start+count-1`` as ``(count, 1, H, W)``; mask ``i`` depends only on ``(seed, i)``."""
        h, w = size
        ch, cw = math.ceil(h / self.cells), math.ceil(w / self.cells)
        out = []
        chunk0 = start // self.MASK_CHUNK
        for chunk in range(chunk0, (start + count - 1) // self.MASK_CHUNK + 1):
            grid, shift = self.draws(chunk, (ch, cw))
            n = len(grid)
            size_up = ((self.cells + 1) * ch, (self.cells + 1) * cw)
            if self.edges == "replicate":
                up = F.interpolate(grid.to(device), size=size_up, mode="bilinear", align_corners=False)
            else:
                wy, wx = (_reflect_resize_matrix(self.cells, u, device) for u in size_up)
                up = torch.einsum("ys,nst,xt->nyx", wy, grid[:, 0].to(device), wx).unsqueeze(1)
            iy = (shift[0].to(device)[:, None] + torch.arange(h, device=device))[:, :, None]
            ix = (shift[1].to(device)[:, None] + torch.arange(w, device=device))[:, None, :]
            out.append(up[:, 0][torch.arange(n, device=device)[:, None, None], iy, ix].unsqueeze(1))
        m = torch.cat(out)
        off = start - chunk0 * self.MASK_CHUNK
        return m[off : off + count]

    def forward_batch(self, size: tuple[int, int]) -> int:
        """Masked images per forward pass at image size ``(H, W)``: ``batch_size``, or by default as
        many as :func:`~facnn.explain.base.images_per_forward` allows, at most :attr:`MASK_CHUNK`."""
        return images_per_forward(self.batch_size, size, self.MASK_CHUNK)

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        return self._attribute_classes(x, t[:, None])[:, 0]

    def _attribute_classes(self, x: Tensor, classes: Tensor) -> Tensor:  # one set of masked forwards for all classes
        b, _, h, w = x.shape
        sal = torch.zeros(b, classes.shape[1], h, w, device=x.device)
        fsum = torch.zeros(b, classes.shape[1], device=x.device)  # Σ_i f_c(x ⊙ M_i)
        msum = torch.zeros(h, w, device=x.device)  # Σ_i M_i
        step = self.forward_batch((h, w))
        with torch.no_grad():
            for s in range(0, self.n_masks, self.MASK_CHUNK):
                chunk = self.masks((h, w), s, min(self.MASK_CHUNK, self.n_masks - s), x.device)
                msum += chunk[:, 0].sum(0)
                for i in range(b):
                    for j in range(0, len(chunk), step):
                        m = chunk[j : j + step]
                        xi = x[i : i + 1] * m + self.fill * (1 - m)
                        prob = F.softmax(self.model(xi).float(), dim=1)[:, classes[i]]  # (n, K)
                        sal[i] += torch.einsum("nk,nhw->khw", prob, m[:, 0])
                        fsum[i] += prob.sum(0)
        if self.center:
            sal -= (fsum / self.n_masks)[:, :, None, None] * msum
        return sal / (self.n_masks * self.p)

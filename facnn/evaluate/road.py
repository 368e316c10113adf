"""ROAD's noisy linear imputation (Rong et al., "A Consistent and Efficient Evaluation Strategy for
Attribution Methods", ICML 2022): removed pixels are filled with the weighted mean of their 8
neighbours, solved jointly as one sparse linear system per image, plus small Gaussian noise.

A fixed fill (zero, mean) lets the *shape* of the removed set leak class information and makes
the perturbed images out of distribution; the imputation keeps each removed pixel close to its
surroundings, so MoRF and LeRF measure the removed information rather than the mask.

Neighbour weights are ROAD's: 1/6 for the four direct neighbours, 1/12 for the four diagonal
ones, renormalised over the neighbours inside the image. A removed pixel ``i`` satisfies
``x_i = Σ_j w_ij x_j / Σ_j w_ij``, with known neighbours moved to the right-hand side; every
channel shares the system (all pixels removed: zeros, as no information remains); a batch is one
block-diagonal system, solved at once. Without noise, any function that is linear in the pixel coordinates
is restored exactly on interior pixels (it satisfies the symmetric mean-value equations).

Examples
--------
>>> import torch
>>> from facnn.evaluate.road import noisy_linear_impute
>>> x = torch.rand(1, 1, 8, 8)
>>> removed = torch.zeros(1, 8, 8, dtype=torch.bool); removed[0, 3:5, 3:5] = True
>>> noisy_linear_impute(x, removed, noise=0.0).shape
torch.Size([1, 1, 8, 8])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import torch
from torch import Tensor

__all__ = ["noisy_linear_impute", "NEIGHBOURS"]

NEIGHBOURS = [
    (-1, 0, 1 / 6),
    (1, 0, 1 / 6),
    (0, -1, 1 / 6),
    (0, 1, 1 / 6),
    (-1, -1, 1 / 12),
    (-1, 1, 1 / 12),
    (1, -1, 1 / 12),
    (1, 1, 1 / 12),
]


def _impute_batch(imgs: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """Solve the imputation systems of a batch ``(B, C, H, W)`` with masks ``(B, H, W)`` as one
    block-diagonal sparse system (one factorisation instead of a Python loop of small ones)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import spsolve

    b, c, h, w = imgs.shape
    out = imgs.copy()
    full = cast(np.ndarray, removed.reshape(b, -1).all(1))  # (B,); numpy's stubs say "bool | ndarray"
    out[full] = 0.0  # nothing left to impute from: the system is singular; no information remains
    todo = removed & ~full[:, None, None]
    bs, ys, xs = np.nonzero(todo)
    n = len(bs)
    if n == 0:
        return out
    index = -np.ones((b, h, w), dtype=np.int64)
    index[bs, ys, xs] = np.arange(n)
    rows, cols, vals = [np.arange(n)], [np.arange(n)], [np.ones(n)]
    rhs = np.zeros((n, c))
    total = np.zeros(n)
    for dy, dx, wgt in NEIGHBOURS:
        ny, nx = ys + dy, xs + dx
        total[(ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)] += wgt
    for dy, dx, wgt in NEIGHBOURS:
        ny, nx = ys + dy, xs + dx
        i = np.nonzero((ny >= 0) & (ny < h) & (nx >= 0) & (nx < w))[0]
        j = index[bs[i], ny[i], nx[i]]
        unknown = j >= 0
        share = wgt / total[i]
        rows.append(i[unknown])
        cols.append(j[unknown])
        vals.append(-share[unknown])
        k = i[~unknown]
        rhs[k] += share[~unknown, None] * imgs[bs[k], :, ny[k], nx[k]]
    a = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)).tocsc()
    out[bs, :, ys, xs] = np.asarray(spsolve(a, rhs)).reshape(n, c)
    return out


def noisy_linear_impute(
    x: Tensor,
    removed: Tensor,
    noise: float = 0.01,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
) -> Tensor:
    """Images ``x (B, C, H, W)`` with the pixels where ``removed (B, H, W)`` is True imputed.

    Parameters
    ----------
    x, removed
        Images and the boolean mask of removed pixels (all channels).
    noise
        Standard deviation of the Gaussian noise added to the imputed pixels (ROAD: 0.01 for
        images in ``[0, 1]``); 0 gives the plain linear imputation.
    generator
        CPU generator for the noise (seeded: one seed, the same noise on every run and device), or
        one generator per image (each image's noise then does not depend on the batch it is in).

    Raises
    ------
    ValueError
        Shapes that do not match, a non-boolean mask, or a negative ``noise``.
    """
    if x.dim() != 4 or removed.shape != (x.shape[0], *x.shape[-2:]):
        raise ValueError(
            f"x must be (B, C, H, W) and removed (B, H, W), got {tuple(x.shape)} and {tuple(removed.shape)}"
        )
    if removed.dtype != torch.bool:
        raise ValueError(f"removed must be a boolean mask, got dtype {removed.dtype}")
    if not noise >= 0:
        raise ValueError(f"noise must be ≥ 0, got {noise!r}")
    imgs = x.detach().double().cpu().numpy()
    masks = removed.cpu().numpy()
    out = torch.from_numpy(_impute_batch(imgs, masks)).to(x.dtype)
    if noise > 0:
        if isinstance(generator, Sequence):
            if len(generator) != len(out):
                raise ValueError(f"{len(generator)} generators for {len(out)} images: give one per image")
            draw = torch.stack([torch.randn(out.shape[1:], generator=g, dtype=out.dtype) for g in generator])
        else:
            draw = torch.randn(out.shape, generator=generator, dtype=out.dtype)
        out = out + noise * draw * torch.from_numpy(masks)[:, None]
    return out.to(x.device)

"""Parity of the metrics and the perturbation method with their authors' code: RISE's masks and
saliency (Petsiuk et al., ``eclique/RISE`` ``explanations.py``; CoDA-Nets' copy in
``interpretability/explanation_methods/explainers/rise.py``), ROAD's noisy linear imputation
(Rong et al., ``tleemann/road_evaluation`` ``road/imputations.py``), the grid pointing game
(CoDA-Nets ``interpretability/analyses/localisation.py``) and the sanity checks' similarities (Adebayo
et al., ``adebayoj/sanity_checks_saliency`` ``notebooks/*_cascading_randomization.ipynb``).

Each reference is a short re-statement, in numpy/scipy/skimage, of what the authors' code computes
(written here, not copied); ROAD's imputation is also checked against Quantus's port of it. Where
our protocol differs from theirs (which image goes into a grid, how removal ties are broken, RISE's
fill), the difference is an option or a measurement: docs/fidelity.md "Metrics and RISE".
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from facnn import FACNN
from facnn.evaluate.localisation import grid_shares, make_grids
from facnn.evaluate.road import noisy_linear_impute
from facnn.explain.rise import RISE

# --- RISE -----------------------------------------------------------------------------------------


def reference_rise_mask(grid: np.ndarray, shift: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """The authors' mask: the s×s grid resized bilinearly (skimage, ``order=1``, ``mode='reflect'``,
    no anti-aliasing) to ``(s+1)·⌈H/s⌉`` a side, cropped to ``H×W`` at the shift."""
    from skimage.transform import resize

    s = grid.shape[-1]
    up = [(s + 1) * math.ceil(n / s) for n in size]
    big = resize(grid.astype(np.float32), up, order=1, mode="reflect", anti_aliasing=False)
    return big[shift[0] : shift[0] + size[0], shift[1] : shift[1] + size[1]]


def reference_rise_saliency(prob_of, x: torch.Tensor, masks: torch.Tensor, p1: float) -> torch.Tensor:
    """The authors' saliency of every class: ``Σ_i softmax(f(M_i ⊙ x)) M_i / N / p1`` → ``(K, H, W)``."""
    n, _, h, w = masks.shape
    p = prob_of(masks * x)  # (N, K): masked pixels become 0
    return (p.T @ masks.reshape(n, h * w)).reshape(-1, h, w) / n / p1


@pytest.mark.parametrize("size,cells", [((28, 28), 7), ((32, 32), 7), ((30, 17), 4), ((84, 84), 7)])
def test_rise_masks_with_reflected_edges_are_the_authors_resized_grids(size, cells):
    rise = RISE(torch.nn.Identity(), n_masks=40, cells=cells, seed=3, edges="reflect")
    rise.MASK_CHUNK = 16  # draws of 16 (500 by default), so that 40 masks stitch three chunks
    cell = (math.ceil(size[0] / cells), math.ceil(size[1] / cells))
    ours = rise.masks(size, 0, 40, torch.device("cpu"))[:, 0].double().numpy()
    for chunk in range(3):
        grids, (sy, sx) = rise.draws(chunk, cell)
        for i in range(len(grids)):
            ref = reference_rise_mask(grids[i, 0].numpy(), (int(sy[i]), int(sx[i])), size)
            np.testing.assert_allclose(ours[chunk * 16 + i], ref, atol=1e-6)


def test_our_default_rise_masks_differ_from_the_authors_only_in_the_outer_half_cell():
    """Default ``edges="replicate"``: the same masks, except in the outer half-cell of the upsampled
    grid (rows and columns within ``⌈H/s⌉/2`` of its border), where the authors blend in the mirrored
    neighbour cell and we hold the edge cell's value."""
    size, cells, cell = (28, 28), 7, 4
    ours = RISE(torch.nn.Identity(), n_masks=64, cells=cells, seed=3)
    theirs = RISE(torch.nn.Identity(), n_masks=64, cells=cells, seed=3, edges="reflect")
    diff = (ours.masks(size, 0, 64, torch.device("cpu")) - theirs.masks(size, 0, 64, torch.device("cpu"))).abs()
    _, (sy, sx) = ours.draws(0, (cell, cell))
    up = (cells + 1) * cell
    rows = torch.arange(28)[None, :] + sy[:, None]  # the upsampled row each mask row was cropped from
    cols = torch.arange(28)[None, :] + sx[:, None]
    edge_r = (rows < cell // 2) | (rows >= up - cell // 2)
    edge_c = (cols < cell // 2) | (cols >= up - cell // 2)
    outer = edge_r[:, :, None] | edge_c[:, None, :]
    assert diff[:, 0][~outer].max() < 1e-6
    assert diff[:, 0][outer].max() > 0.1
    assert "edges" not in repr(ours) and "edges='reflect'" in repr(theirs)  # default: the keys of old caches


def test_rise_saliency_is_the_authors_formula_on_the_same_masks():
    torch.manual_seed(0)
    model = FACNN(10, depth=2, hidden=8).eval()
    x = torch.rand(1, 1, 28, 28)
    rise = RISE(model, n_masks=64, batch_size=32, p=0.5, seed=1)
    masks = rise.masks((28, 28), 0, 64, torch.device("cpu"))
    with torch.no_grad():
        ref = reference_rise_saliency(lambda z: F.softmax(model(z), 1), x, masks, 0.5)
        classes = torch.arange(10)[None]
        ours = rise.attribute_classes(x, classes)[0]
    torch.testing.assert_close(ours, ref.float(), rtol=1e-5, atol=1e-7)


# --- ROAD -----------------------------------------------------------------------------------------

ROAD_WEIGHTS = [((1, 1), 1 / 12), ((0, 1), 1 / 6), ((-1, 1), 1 / 12), ((1, -1), 1 / 12)]
ROAD_WEIGHTS += [((0, -1), 1 / 6), ((-1, -1), 1 / 12), ((1, 0), 1 / 6), ((-1, 0), 1 / 6)]


def reference_road_impute(img: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The authors' noiseless imputation of one image ``(C, H, W)``, ``keep (H, W)`` 1 where a pixel
    stays: one unknown per removed pixel; its equation ``−(Σ of its in-image neighbours' weights)·x_i
    + Σ_{removed neighbours} w·x_j = −Σ_{kept neighbours} w·v_j``, solved for every channel."""
    from scipy.sparse import lil_matrix
    from scipy.sparse.linalg import spsolve

    c, h, w = img.shape
    flat = img.reshape(c, -1)
    holes = np.flatnonzero(keep.reshape(-1) == 0)
    var = {int(p): i for i, p in enumerate(holes)}
    a, b = lil_matrix((len(holes), len(holes))), np.zeros((len(holes), c))
    for i, p in enumerate(holes):
        y, x = divmod(int(p), w)
        total = 0.0
        for (dy, dx), wt in ROAD_WEIGHTS:
            ny, nx = y + dy, x + dx
            if not (0 <= ny < h and 0 <= nx < w):
                continue
            total += wt
            q = ny * w + nx
            if q in var:
                a[i, var[q]] = wt
            else:
                b[i] -= wt * flat[:, q]
        a[i, i] = -total
    out = flat.copy()
    out[:, holes] = np.asarray(spsolve(a.tocsc(), b)).reshape(len(holes), c).T
    return out.reshape(c, h, w)


@pytest.mark.parametrize("share,channels", [(0.1, 1), (0.5, 3), (0.9, 1), (0.97, 3)])
def test_road_imputation_is_the_authors_system_and_quantus_port(share, channels):
    from quantus.functions.perturb_func import noisy_linear_imputation

    rng = np.random.default_rng(int(share * 100))
    img = rng.random((channels, 11, 9))
    keep = (rng.random((11, 9)) >= share).astype(np.uint8)
    keep[0, 0] = 1  # at least one pixel known: the system is regular
    ours = noisy_linear_impute(torch.from_numpy(img)[None], torch.from_numpy(keep == 0)[None], noise=0.0)[0]
    np.testing.assert_allclose(ours.numpy(), reference_road_impute(img, keep), rtol=0, atol=1e-10)
    holes = np.flatnonzero(keep.reshape(-1) == 0)
    quantus = noisy_linear_imputation(img.copy(), holes, noise=0.0)
    np.testing.assert_allclose(ours.numpy(), quantus, rtol=0, atol=1e-10)


def test_road_noise_is_the_authors_gaussian_on_the_imputed_pixels_only():
    img = torch.rand(1, 3, 28, 28, dtype=torch.float64)
    removed = torch.rand(1, 28, 28) < 0.5
    plain = noisy_linear_impute(img, removed, noise=0.0)
    noisy = noisy_linear_impute(img, removed, noise=0.01, generator=torch.Generator().manual_seed(0))
    d = (noisy - plain)[0]
    assert torch.equal(d[:, ~removed[0]], torch.zeros_like(d[:, ~removed[0]]))
    assert d[:, removed[0]].std().item() == pytest.approx(0.01, rel=0.1)


# --- the grid pointing game -----------------------------------------------------------------------


def reference_localisation(attributions: np.ndarray, n: int) -> np.ndarray:
    """CoDA-Nets' localisation score of one multi-image: attributions ``(n², C, n·h, n·w)`` (one per
    cell's class, the authors' layout: image k in column k // n, row k % n), summed over channels and
    clamped at 0, average-pooled per cell; the share of image k's own cell (0 where there is none)."""
    k2, _, hh, ww = attributions.shape
    pos = np.clip(attributions.sum(1), 0, None)
    pooled = pos.reshape(k2, n, hh // n, n, ww // n).mean(axis=(2, 4))  # (n², rows, cols)
    contribs = pooled.transpose(0, 2, 1).reshape(k2, -1)  # column-major: index col·n + row = k
    total = contribs.sum(1, keepdims=True)
    share = np.where(total * contribs > 0, contribs / np.where(total > 0, total, 1), 0.0)
    return share[np.arange(k2), np.arange(k2)]


def test_pointing_game_scores_are_the_coda_authors_localisation_metric():
    rng = np.random.default_rng(0)
    n, h = 3, 8
    maps = rng.normal(size=(n * n, 1, n * h, n * h))
    maps[4] = -np.abs(maps[4])  # no positive attribution at all: the authors and we score 0
    ref = reference_localisation(maps, n)
    # the same maps in our raster layout: the authors' image k (column k // n, row k % n) is our cell
    # row · n + column
    cells = torch.tensor([(k % n) * n + k // n for k in range(n * n)])
    ours = grid_shares(torch.from_numpy(maps[:, 0]), cells, n).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    assert ours[4] == 0.0


def test_confident_selection_takes_each_class_most_confident_unused_image_first():
    y = torch.arange(60) % 6
    score = torch.linspace(0, 1, 60)  # later images more confident

    class Scored(torch.nn.Module):
        def forward(self, z):
            idx = z.flatten(1)[:, 0].round().long()
            return F.one_hot(y[idx], 6).float() * (1 + 10 * score[idx, None])

    x = torch.arange(60).float().view(60, 1, 1, 1).expand(60, 1, 2, 2).contiguous()
    grids, classes = make_grids(Scored(), x, y, n=2, n_grids=6, min_confidence=0.0, selection="confident")
    used = grids[:, 0].reshape(6, 2, 2, 2, 2)[:, :, 0, :, 0].reshape(6, 4).long()  # image index per cell
    assert len(set(used.flatten().tolist())) == 24, "each image once"
    for c in range(6):
        order = [int(i) for i in used.flatten() if int(i) % 6 == c]
        assert order == sorted(order, reverse=True), f"class {c}: most confident first"
    with pytest.raises(ValueError, match="selection='random'"):
        make_grids(Scored(), x, y, n=2, n_grids=20, min_confidence=0.0, selection="confident")


def test_localisation_experiment_scores_the_authors_grids_when_asked():
    from facnn.evaluate import localisation_experiment, pointing_game
    from facnn.explain import Occlusion

    y = torch.arange(120) % 6

    class Oracle(torch.nn.Module):  # right on every single image, confident in proportion to its index
        def forward(self, z):
            idx = z[:, 0, 0, 0].round().long().clamp(0, 119)
            return F.one_hot(y[idx], 6).float() * (1 + idx[:, None] / 10) + z.mean((1, 2, 3))[:, None]

    x = torch.arange(120).float().view(120, 1, 1, 1).expand(120, 1, 4, 4).contiguous()
    net = Oracle()
    expl = {"occ": (net, Occlusion(net, window=2), None)}
    kw = dict(n=2, n_grids=3, min_confidence=0.0, progress=False)
    recs, scores = localisation_experiment(expl, x, y, selection="confident", **kw)
    grids, classes = make_grids(net, x, y, n=2, n_grids=3, min_confidence=0.0, selection="confident")
    ref = pointing_game(Occlusion(net, window=2), grids, classes, 2).double().numpy()
    np.testing.assert_allclose(scores["occ"], ref)
    assert recs[0]["selection"] == "confident"
    assert "selection" not in localisation_experiment(expl, x, y, **kw)[0][0]  # the default's records as before


# --- the sanity checks' similarities ----------------------------------------------------------------


def reference_sanity_spearman(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Adebayo et al.'s rank correlations of two 2-D maps: scipy's ``spearmanr`` of the maps divided
    by their largest absolute value, of their absolute values (``abs_grayscale_norm``) and signed
    (``diverging_norm``)."""
    from scipy.stats import spearmanr

    absolute = spearmanr((np.abs(a) / np.abs(a).max()).ravel(), (np.abs(b) / np.abs(b).max()).ravel())[0]
    signed = spearmanr((a / np.abs(a).max()).ravel(), (b / np.abs(b).max()).ravel())[0]
    return float(absolute), float(signed)


def test_sanity_rank_correlations_are_the_authors():
    from facnn.evaluate.randomisation import similarities

    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 28, 28))
    b = a + rng.normal(scale=[[[0.1]], [[1.0]], [[3.0]], [[10.0]]], size=a.shape)
    b[3] = np.round(b[3])  # ties, ranked by their average as scipy does
    ours = similarities(torch.from_numpy(a), torch.from_numpy(b))
    ref = np.array([reference_sanity_spearman(p, q) for p, q in zip(a, b)])
    np.testing.assert_allclose(ours["spearman_abs"], ref[:, 0], atol=1e-12)
    np.testing.assert_allclose(ours["spearman"], ref[:, 1], atol=1e-12)


def test_the_authors_sanity_ssim_restated_is_scikit_images_gaussian_ssim_on_signed_maps():
    from skimage.metrics import structural_similarity

    from facnn.companion.protocol_fidelity import adebayo_ssim
    from facnn.evaluate.randomisation import similarities

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(28, 28)), rng.normal(size=(28, 28))
    b = a + b

    def unit(m: np.ndarray) -> np.ndarray:
        m = m.astype(np.float32)
        return ((m - m.min()) / (m.max() - m.min())).astype(np.float64)

    # today's scikit-image truncates its Gaussian at 3.5σ (0.15, the authors' version: scipy's 4σ)
    ref = structural_similarity(unit(a), unit(b), gaussian_weights=True, data_range=2.0)
    assert adebayo_ssim(a, b, truncate=3.5) == pytest.approx(ref, abs=1e-10)
    assert abs(adebayo_ssim(a, b) - ref) < 0.02  # the 13-tap window moves it little
    # and it is not our SSIM (absolute maps, uniform 7×7 window, data range 1): docs/fidelity.md
    ours = float(similarities(torch.from_numpy(a[None]), torch.from_numpy(b[None]))["ssim"][0])
    assert abs(adebayo_ssim(a, b) - ours) > 0.01

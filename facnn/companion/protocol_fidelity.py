"""Where our metrics and RISE differ from their authors' code, what the difference does to the
numbers: each difference is measured by running both versions on the same shipped model and images.

- **RISE mask edges**: our masks hold the edge cell's value where the authors' (skimage,
  ``mode="reflect"``) mirror the next cell in (``RISE(edges="reflect")``); MoRF/LeRF AUC, paired.
- **RISE fill**: we multiply raw pixels in ``[0, 1]`` by the masks (masked = black), the authors the
  normalised image (masked = the dataset mean); ``RISE(fill=mean)`` stands in for theirs. Also what
  it does to Figure 4's comparison (FA-CNN's last-layer maps − RISE, paired per image).
- **Removal ties**: we break ties in a map by raster index, ROAD's code adds a fixed ``1e-4·N(0, 1)``
  to the min-max-normalised map; on K-OCC and Grad-CAM maps (blocks of equal values), paired.
- **Pointing-game grids**: we draw each class's image at random, the CoDA-Nets authors take the most
  confident unused one (``make_grids(selection="confident")``); unpaired (other grids).
- **Sanity-check SSIM** (``--sanity``): we compare min-max-normalised *absolute* maps with a 7×7
  uniform window and data range 1, Adebayo et al.'s notebooks the min-max-normalised *signed* maps with
  skimage 0.15's Gaussian window and float32's data range 2 (:func:`adebayo_ssim`); each method's map
  of the trained model against the map with every layer random, paired. (Their Spearman correlations
  are ours exactly: ``tests/test_metric_parity.py``.)

``docs/fidelity.md`` ("Metrics and RISE") reports the results of::

    python -m facnn.companion.protocol_fidelity --n-images 200 --rise-n 500 --n-grids 112
    python -m facnn.companion.protocol_fidelity --sanity --n-images 200 --rise-n 200

Examples
--------
>>> rows = measure(n_images=2, rise_n=8, n_grids=1, n_candidates=100)  # doctest: +SKIP
>>> rows[0]["measure"]  # doctest: +SKIP
'RISE mask edges: reflect (authors) − replicate (ours), MoRF AUC'
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["measure", "measure_sanity", "adebayo_ssim", "markdown", "jittered", "main"]

MODEL = "fashion-mnist/facnn"
ORDERS = {"morf": "MoRF", "lerf": "LeRF"}
PEER = "fashion-mnist/coda"


def jittered(maps: Tensor, seed: int = 2) -> Tensor:
    """ROAD's tie-breaking: each map min-max normalised to ``[0, 1]`` (``/(max − min + 1e-5)``),
    plus one fixed ``1e-4·N(0, 1)`` pattern (seeded; ROAD's code seeds numpy with 2 at import).

    >>> m = torch.zeros(2, 3, 3)
    >>> bool((jittered(m)[0] == jittered(m)[1]).all()), bool(jittered(m)[0].unique().numel() == 9)
    (True, True)
    """
    flat = maps.flatten(1).double()
    lo, hi = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    noise = torch.from_numpy(np.random.default_rng(seed).standard_normal(maps.shape[1:]))
    return ((flat - lo) / (hi - lo + 1e-5)).view_as(maps) + 1e-4 * noise


def _aucs(model: nn.Module, x: Tensor, y: Tensor, maps: Tensor, order: str) -> np.ndarray:
    from facnn.evaluate.pixel_removal import PixelRemoval

    meter = PixelRemoval(model, order=order, fill="zero")
    for i in range(0, len(x), 100):
        meter.update(x[i : i + 100], y[i : i + 100], maps[i : i + 100])
    return meter.per_image_auc()


def _maps(expl: Any, x: Tensor, y: Tensor) -> Tensor:
    return torch.cat([expl.attribute(x[i : i + 50], y[i : i + 50]) for i in range(0, len(x), 50)])


def _row(
    measure: str, ours: dict[str, Any], theirs: dict[str, Any], diff: dict[str, Any], paired: bool
) -> dict[str, Any]:
    """One measured difference: both estimates, authors' − ours, and whether its interval excludes 0."""
    verdict = "not significant" if diff["low"] <= 0 <= diff["high"] else "significant"
    return dict(measure=measure, ours=ours, authors=theirs, difference=diff, paired=paired, verdict=verdict)


def measure(
    *, n_images: int = 200, rise_n: int = 500, n_grids: int = 112, n_candidates: int = 5000, seed: int = 0
) -> list[dict[str, Any]]:
    """One row per difference and order: ``measure``, ``ours`` and ``authors`` (estimates with 95 %
    intervals), ``difference`` (authors − ours), ``paired``, ``verdict``."""
    import facnn
    from facnn import evaluate
    from facnn.companion import experiments as ex
    from facnn.evaluate.stats import bootstrap, paired_difference, unpaired_difference

    net, rec = facnn.pretrained(MODEL)
    x, y = ex.test_batch(rec["dataset"], n_images, seed, "cpu")
    rows: list[dict[str, Any]] = []

    def row(measure: str, ours: np.ndarray, theirs: np.ndarray, paired: bool = True) -> None:
        diff = (paired_difference if paired else unpaired_difference)(theirs, ours, seed=seed).as_dict()
        a, b = (bootstrap(v, seed=seed).as_dict() for v in (ours, theirs))
        rows.append(_row(measure, a, b, diff, paired))

    def rise(**kw: Any) -> Tensor:
        return _maps(facnn.RISE(net, n_masks=rise_n, seed=seed, **kw), x, y)

    ours = rise()
    base = {o: _aucs(net, x, y, ours, o) for o in ORDERS}
    mean = float(net.config["mean"][0])
    variants = {
        "RISE mask edges (reflect vs replicate)": rise(edges="reflect"),
        f"RISE fill (dataset mean {mean:.3f} vs 0)": rise(fill=mean),
    }
    aucs = {name: {o: _aucs(net, x, y, maps, o) for o in ORDERS} for name, maps in variants.items()}
    for name in variants:
        for order in ORDERS:
            row(f"{name}, {ORDERS[order]} AUC", base[order], aucs[name][order])
    # what the fill does to Figure 4's comparison: FA-CNN's last-layer maps − RISE, per image
    fa = {
        o: _aucs(net, x, y, _maps(facnn.make_explainer(net, "intrinsic", layer=len(net.layers)), x, y), o)
        for o in ORDERS
    }
    filled = aucs[f"RISE fill (dataset mean {mean:.3f} vs 0)"]
    for order in ORDERS:
        row(
            f"Figure 4's FA-CNN maps L6 − RISE, {ORDERS[order]} AUC, RISE filled with the dataset mean vs 0",
            fa[order] - base[order],
            fa[order] - filled[order],
        )
    for label, expl in (
        ("K-OCC k=4", facnn.Occlusion(net, window=4)),
        ("Grad-CAM L6", facnn.make_explainer(net, "gradcam", layer=len(net.layers))),
    ):
        maps = _maps(expl, x, y)
        ties = float(np.mean([1 - m.unique().numel() / m.numel() for m in maps]))
        for order in ("morf", "lerf"):
            row(
                f"removal ties on {label} maps ({ties:.0%} of pixels tied; ROAD's jitter vs raster index), "
                f"{ORDERS[order]} AUC",
                _aucs(net, x, y, maps, order),
                _aucs(net, x, y, jittered(maps), order),
            )
    xc, yc = ex.test_batch(rec["dataset"], n_candidates, seed, "cpu")
    peer, _ = facnn.pretrained(PEER)
    for label, model, expl in (
        ("FA-CNN maps L6", net, facnn.make_explainer(net, "intrinsic", layer=len(net.layers))),
        ("CoDA contributions", peer, facnn.Contributions(peer)),
    ):
        scores = {}
        for selection in ("random", "confident"):
            grids, classes = evaluate.make_grids(model, xc, yc, n_grids=n_grids, seed=seed, selection=selection)
            scores[selection] = evaluate.pointing_game(expl, grids, classes).mean(1).double().numpy()
        row(
            f"pointing-game grids on {label}: most confident unused image (authors) vs random (ours), {n_grids} grids",
            scores["random"],
            scores["confident"],
            paired=False,
        )
    return rows


def adebayo_ssim(a: np.ndarray, b: np.ndarray, truncate: float = 4.0) -> float:
    """SSIM as Adebayo et al.'s notebooks compute it (``compare_ssim(normalize_image(m1),
    normalize_image(m2), gaussian_weights=True)``, scikit-image 0.15): each *signed* map min-max
    normalised to ``[0, 1]`` in float32 (a constant map: zeros), local statistics under a Gaussian of
    σ = 1.5 (scipy's truncation at 4σ), sample covariances over the 11×11 window, constants for a data
    range of 2 (float32's dtype range ``[−1, 1]``), the mean over the map less a 5-pixel border.
    (Today's scikit-image truncates the Gaussian at 3.5σ: ``truncate=3.5`` gives its number.)

    >>> m = np.random.default_rng(0).normal(size=(28, 28))
    >>> round(adebayo_ssim(m, m), 6), round(adebayo_ssim(m, -m), 2) < 0
    (1.0, True)
    """
    from scipy.ndimage import gaussian_filter

    def unit(m: np.ndarray) -> np.ndarray:
        m = np.asarray(m, dtype=np.float32)
        lo, hi = m.min(), m.max()
        return ((m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)).astype(np.float64)

    x, y = unit(a), unit(b)
    win, data_range = 11, 2.0
    blur = lambda z: gaussian_filter(z, sigma=1.5, truncate=truncate)  # noqa: E731
    ux, uy = blur(x), blur(y)
    norm = win**x.ndim / (win**x.ndim - 1)
    vx, vy, vxy = norm * (blur(x * x) - ux * ux), norm * (blur(y * y) - uy * uy), norm * (blur(x * y) - ux * uy)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    pad = (win - 1) // 2
    return float(s[pad:-pad, pad:-pad].mean())


def measure_sanity(*, n_images: int = 200, rise_n: int = 200, seed: int = 0) -> list[dict[str, Any]]:
    """The sanity checks' SSIM, ours against Adebayo et al.'s (:func:`adebayo_ssim`), of each method's
    map on the shipped 6-layer FA-CNN against its map with every layer random (notebook 07's methods
    and sizes: K-OCC k = 7, RISE centred), then FA-CNN's last-layer maps − each post-hoc method under
    each SSIM; rows as :func:`measure`'s, paired over the images."""
    import copy

    import facnn
    from facnn.companion import experiments as ex
    from facnn.evaluate.randomisation import layer_order, randomise, rebind, similarities
    from facnn.evaluate.stats import bootstrap, paired_difference

    net, rec = facnn.pretrained(MODEL)
    x, y = ex.test_batch(rec["dataset"], n_images, seed, "cpu")
    random_net = copy.deepcopy(net).eval()
    for k, (name, _) in enumerate(layer_order(random_net)):
        randomise(random_net.get_submodule(name), seed * 1000 + k)
    explainers = ex.build_explainers(
        net,
        [6, 4],
        ["intrinsic", "gradcam", "rise", "occlusion"],
        rise_n=rise_n,
        rise_center=True,
        occlusion_k=7,
        seed=seed,
    )
    rows: list[dict[str, Any]] = []

    def row(measure: str, ours: dict[str, Any], theirs: dict[str, Any], diff: dict[str, Any]) -> None:
        rows.append(_row(measure, ours, theirs, diff, paired=True))

    per_image = {}
    for label, (_, expl, _) in explainers.items():
        trained, rand = _maps(expl, x, y), _maps(rebind(expl, random_net), x, y)
        ours = similarities(trained, rand)["ssim"]
        theirs = np.array([adebayo_ssim(a, b) for a, b in zip(trained.numpy(), rand.numpy())])
        per_image[label] = ours, theirs
        row(
            f"sanity-check SSIM, {label}: trained vs every layer random",
            bootstrap(ours, seed=seed).as_dict(),
            bootstrap(theirs, seed=seed).as_dict(),
            paired_difference(theirs, ours, seed=seed).as_dict(),
        )
    # does the SSIM decide how FA-CNN's maps compare with the post-hoc methods? (paired per image)
    fa_ours, fa_theirs = per_image["FA-CNN maps L6"]
    for label, (ours, theirs) in per_image.items():
        if label.startswith("FA-CNN"):
            continue
        row(
            f"sanity-check SSIM, FA-CNN maps L6 − {label} (each: trained vs every layer random)",
            paired_difference(fa_ours, ours, seed=seed).as_dict(),
            paired_difference(fa_theirs, theirs, seed=seed).as_dict(),
            paired_difference(fa_theirs - theirs, fa_ours - ours, seed=seed).as_dict(),
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table (estimates with their 95 % intervals)."""

    def ci(e: dict[str, Any]) -> str:
        return f"{e['value']:.4f} [{e['low']:.4f}, {e['high']:.4f}]"

    lines = ["| difference | ours | authors' | authors' − ours | |", "|---|---|---|---|---|"]
    for r in rows:
        d = r["difference"]
        diff = f"{d['value']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}] ({'paired' if r['paired'] else 'unpaired'})"
        lines.append(f"| {r['measure']} | {ci(r['ours'])} | {ci(r['authors'])} | {diff} | {r['verdict']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m facnn.companion.protocol_fidelity [--n-images N] [--rise-n M] [--n-grids G] [--out FILE]``."""
    ap = argparse.ArgumentParser(
        prog="python -m facnn.companion.protocol_fidelity", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--n-images", type=int, default=200, help="test images for the pixel-removal measures")
    ap.add_argument("--rise-n", type=int, default=500, help="RISE masks")
    ap.add_argument("--n-grids", type=int, default=112, help="3×3 grids per selection")
    ap.add_argument("--n-candidates", type=int, default=5000, help="test images the grids are drawn from")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="also write the rows as JSON here")
    ap.add_argument("--sanity", action="store_true", help="only the sanity checks' SSIM (--n-images, --rise-n)")
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    if args.sanity:
        rows = measure_sanity(n_images=args.n_images, rise_n=args.rise_n, seed=args.seed)
    else:
        rows = measure(
            n_images=args.n_images,
            rise_n=args.rise_n,
            n_grids=args.n_grids,
            n_candidates=args.n_candidates,
            seed=args.seed,
        )
    print(markdown(rows))
    if args.out:
        args.out.write_text(json.dumps(dict(args={k: str(v) for k, v in vars(args).items()}, rows=rows), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

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

``docs/fidelity.md`` ("Metrics and RISE") reports the results of::

    python -m facnn.companion.protocol_fidelity --n-images 200 --rise-n 500 --n-grids 112

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

__all__ = ["measure", "markdown", "jittered", "main"]

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
        verdict = "not significant" if diff["low"] <= 0 <= diff["high"] else "significant"
        a, b = (bootstrap(v, seed=seed).as_dict() for v in (ours, theirs))
        rows.append(dict(measure=measure, ours=a, authors=b, difference=diff, paired=paired, verdict=verdict))

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
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
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

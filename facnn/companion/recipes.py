"""A peer as we train it against the same peer as its authors train it: what the recipe changes,
in accuracy and in the maps the tables measure.

Two shipped models of one architecture (e.g. ``fashion-mnist/bcos``, our logit scale, and
``fashion-mnist/bcos-published``, v1's gain and temperature) are compared on what every table reads
from a peer, its own contribution maps: test accuracy (paired over the test images), Figure 4's MoRF
AUC under the zero fill and under ROAD (paired over the same images), the grid pointing game (grids drawn per model,
so unpaired) and cascading randomisation (|map| rank correlation with every layer random, same images,
paired). ``docs/fidelity.md`` reports the results with this command::

    python -m facnn.companion.recipes fashion-mnist/bcos fashion-mnist/bcos-published \\
        --n-images 1000 --n-grids 112 --sanity-images 200

Examples
--------
>>> rows = compare_recipes("fashion-mnist/bcos", "fashion-mnist/bcos-published", n_images=4, n_grids=2,
...                        n_candidates=100, sanity_images=2)  # doctest: +SKIP
>>> [r["measure"] for r in rows][:2]  # doctest: +SKIP
['test accuracy', 'MoRF AUC, zero fill (lower: more faithful)']
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from facnn.evaluate.protocols import Explainers

__all__ = ["compare_recipes", "markdown", "main"]


def compare_recipes(
    ours: str,
    published: str,
    *,
    n_images: int = 1000,
    n_grids: int = 112,
    n_candidates: int = 5000,
    sanity_images: int = 200,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per measure: ``measure``, ``ours`` and ``published`` (estimates with 95 % intervals),
    ``difference`` (published − ours, with its interval), ``paired`` and ``verdict``.

    Raises
    ------
    ValueError
        The two models are not of one architecture and dataset (the comparison would not be a recipe's).
    """
    import facnn
    from facnn import evaluate
    from facnn.companion import experiments as ex
    from facnn.companion.claims import paired_accuracy
    from facnn.evaluate.randomisation import SIMILARITIES
    from facnn.evaluate.stats import bootstrap, paired_difference, unpaired_difference, wilson

    (ma, ra), (mb, rb) = facnn.pretrained(ours), facnn.pretrained(published)
    if (ra["model"], ra["dataset"]) != (rb["model"], rb["dataset"]):
        raise ValueError(
            f"{ours} is a {ra['model']} on {ra['dataset']} and {published} a {rb['model']} on {rb['dataset']}: "
            "compare two recipes of one architecture on one dataset"
        )
    expl: Explainers = {name: (m, facnn.Contributions(m), None) for name, m in ((ours, ma), (published, mb))}
    rows: list[dict[str, Any]] = []

    def row(measure: str, a: dict, b: dict, d: Any, paired: bool, better: str) -> None:
        verdict = "not significant"
        if d["low"] > 0 or d["high"] < 0:
            verdict = f"{'published' if (d['value'] > 0) == (better == 'higher') else 'ours'} better"
        rows.append(dict(measure=measure, ours=a, published=b, difference=d, paired=paired, verdict=verdict))

    pa = paired_accuracy(published, ours)
    acc = [wilson(r["test_accuracy"], r["test_images"]) for r in (ra, rb)]
    if pa:
        row("test accuracy", acc[0], acc[1], pa[0], True, "higher")

    x, y = ex.test_batch(ra["dataset"], n_images, seed, "cpu")
    recs, units = evaluate.pixel_removal_experiment(
        expl, x, y, orders=("morf",), fills=["zero", "road"], seed=seed, progress=False
    )
    for fill in ("zero", "road"):
        auc = {r["method"]: r["auc"] for r in recs if r["fill"] == fill}
        ka, kb = (evaluate.unit_key(n, "morf", fill) for n in (ours, published))
        d = paired_difference(units[kb], units[ka], seed=seed).as_dict()
        measure = f"MoRF AUC, {'zero fill' if fill == 'zero' else 'ROAD'}, {n_images} images (lower: more faithful)"
        row(measure, auc[ours], auc[published], d, True, "lower")

    xc, yc = ex.test_batch(ra["dataset"], n_candidates, seed, "cpu")
    recs, scores = evaluate.localisation_experiment(expl, xc, yc, n=3, n_grids=n_grids, seed=seed, progress=False)
    pg = {r["method"]: r["mean"] for r in recs}
    d = unpaired_difference(scores[published].mean(1), scores[ours].mean(1), seed=seed).as_dict()
    row(f"pointing game, {n_grids} 3×3 grids each (higher: better)", pg[ours], pg[published], d, False, "higher")

    xs, ys = x[:sanity_images], y[:sanity_images]
    sims = evaluate.sanity_units(expl, xs, ys, seed=seed, batch_size=32)
    final = {name: s[:, -1, SIMILARITIES.index("spearman_abs")] for name, s in sims.items()}  # every layer random
    sa, sb = (bootstrap(final[n], seed=seed).as_dict() for n in (ours, published))
    d = paired_difference(final[published], final[ours], seed=seed).as_dict()
    measure = f"cascading randomisation: \\|map\\| Spearman, every layer random, {len(xs)} images"
    row(measure + " (lower: depends more on the weights)", sa, sb, d, True, "lower")
    return rows


def markdown(rows: list[dict[str, Any]], ours: str, published: str) -> str:
    """The rows as a Markdown table (estimates with their 95 % intervals)."""

    def ci(e: dict[str, Any], digits: int = 4) -> str:
        return f"{e['value']:.{digits}f} [{e['low']:.{digits}f}, {e['high']:.{digits}f}]"

    lines = [
        f"| measure | `{ours}` | `{published}` | published − ours | |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        d = r["difference"]
        diff = f"{d['value']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"
        kind = "paired" if r["paired"] else "unpaired"
        lines.append(f"| {r['measure']} | {ci(r['ours'])} | {ci(r['published'])} | {diff} ({kind}) | {r['verdict']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m facnn.companion.recipes OURS PUBLISHED [--n-images N] [--n-grids G] [--sanity-images S]
    [--out FILE]``: print the comparison as a Markdown table."""
    ap = argparse.ArgumentParser(prog="python -m facnn.companion.recipes", description=__doc__.split("\n\n")[0])
    ap.add_argument("ours", help="shipped model trained with our recipe, e.g. fashion-mnist/bcos")
    ap.add_argument(
        "published", help="the same architecture trained as its authors do, e.g. fashion-mnist/bcos-published"
    )
    ap.add_argument("--n-images", type=int, default=1000)
    ap.add_argument("--n-grids", type=int, default=112)
    ap.add_argument("--n-candidates", type=int, default=5000)
    ap.add_argument("--sanity-images", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="also write the rows as JSON here")
    args = ap.parse_args(argv)
    import facnn

    for name in (args.ours, args.published):
        if name not in facnn.pretrained():
            ap.error(f"{name!r} is not a shipped model; shipped: {sorted(facnn.pretrained())}")
    rows = compare_recipes(
        args.ours,
        args.published,
        n_images=args.n_images,
        n_grids=args.n_grids,
        n_candidates=args.n_candidates,
        sanity_images=args.sanity_images,
        seed=args.seed,
    )
    print(markdown(rows, args.ours, args.published))
    if args.out:
        args.out.write_text(json.dumps(dict(ours=args.ours, published=args.published, rows=rows), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

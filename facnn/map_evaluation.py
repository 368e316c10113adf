"""The map experiments behind notebooks 03 and 05, with their statistics.

Each experiment returns summary records (a mean with its 95 % bootstrap interval per method) and
the per-unit values (images, or grids for the pointing game) from which :func:`comparisons`
builds the paired differences the README reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import Tensor, nn

from .attribution import Attribution, RandomMaps
from .metrics import DEFAULT_PERCENTS, PixelRemoval, make_grids, pointing_game
from .stats import bootstrap, bootstrap_curve, paired_difference, unpaired_difference

__all__ = ["pixel_removal_experiment", "localisation_experiment", "comparisons", "accuracy_estimate"]

Explainers = dict[str, tuple[nn.Module, Attribution, int | None]]


def accuracy_estimate(model: nn.Module, x: Tensor, y: Tensor, seed: int = 0) -> dict[str, Any]:
    """Test accuracy of ``model`` on ``(x, y)`` with its bootstrap interval (over images)."""
    from .models import predict

    hits = (predict(model, x) == y).double().cpu().numpy()
    return bootstrap(hits, seed=seed).as_dict()


def pixel_removal_experiment(explainers: Explainers, x: Tensor, y: Tensor, *, percents: Sequence[float] = DEFAULT_PERCENTS,
                             orders: Sequence[str] = ("morf", "lerf"), fill: str = "zero", batch_size: int = 50,
                             seed: int = 0, progress: bool = True) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:  # fmt: skip
    """Percent-pixels-removed curves (FA-CNN Fig. 4) for every explainer and order.

    Maps are those of the *true* class ``y``; see :class:`~facnn.metrics.PixelRemoval` for the
    protocol. Each record has the AUC as ``{"value", "low", "high", "n"}`` (bootstrap over images)
    and the curve with a pointwise interval (``accuracy``, ``accuracy_low``, ``accuracy_high``).

    Returns
    -------
    records, and ``{"<method>|<order>": per-image AUCs}`` (the units of paired comparisons).
    """
    from tqdm.auto import tqdm

    records, units = [], {}
    for label, (model, expl, layer) in tqdm(explainers.items(), desc="methods", disable=not progress):
        if isinstance(expl, RandomMaps):
            expl.reset(seed)
        meters = {o: PixelRemoval(model, percents, o, fill=fill, seed=seed) for o in orders}
        for s in range(0, len(x), batch_size):
            xb, yb = x[s : s + batch_size], y[s : s + batch_size]
            maps = expl.attribute(xb, yb)
            for meter in meters.values():
                meter.update(xb, yb, maps)
        for o, meter in meters.items():
            per_auc = meter.per_image_auc()
            units[f"{label}|{o}"] = per_auc
            mean, lo, hi = bootstrap_curve(meter.per_image(), seed=seed)
            records.append(dict(method=label, layer=layer, order=o, auc=bootstrap(per_auc, seed=seed).as_dict(),
                                percents=list(percents), accuracy=_r(mean), accuracy_low=_r(lo), accuracy_high=_r(hi),
                                n_images=meter.count, fill=fill, explainer=repr(expl)))  # fmt: skip
    return records, units


def localisation_experiment(explainers: Explainers, x: Tensor, y: Tensor, *, n: int = 3, n_grids: int = 50, seed: int = 0,
                            min_confidence: float = 0.5, progress: bool = True) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:  # fmt: skip
    """Grid pointing game for every explainer. Grids are built per evaluated model (each model's
    own confident, correct images), so methods on one model are paired by grid and methods on
    different models are not.

    Returns
    -------
    records (mean over grids with its bootstrap interval, median, grids) and
    ``{"<method>": per-cell scores (G, n²)}``.
    """
    from tqdm.auto import tqdm

    grids_for: dict[int, tuple[Tensor, Tensor]] = {}
    records, scores = [], {}
    for label, (model, expl, layer) in tqdm(explainers.items(), desc="methods", disable=not progress):
        if id(model) not in grids_for:
            grids_for[id(model)] = make_grids(model, x, y, n=n, n_grids=n_grids, seed=seed, min_confidence=min_confidence)
        grids, classes = grids_for[id(model)]
        if isinstance(expl, RandomMaps):
            expl.reset(seed)
        s = pointing_game(expl, grids, classes, n).cpu().double().numpy()  # (G, n²)
        scores[label] = s
        records.append(dict(method=label, layer=layer, model=type(model).__name__, mean=bootstrap(s.mean(1), seed=seed).as_dict(),
                            median=round(float(np.median(s)), 4), n_grids=len(grids), grid=n, explainer=repr(expl)))  # fmt: skip
    return records, scores


def comparisons(units: dict[str, np.ndarray], reference: str, others: Sequence[str], *, paired: bool = True,
                better: str = "lower", seed: int = 0) -> list[dict[str, Any]]:  # fmt: skip
    """``reference − other`` for each other method: mean difference, 95 % interval (paired
    bootstrap over the shared units, or unpaired where the units differ), and a verdict.

    ``better`` says which direction favours ``reference`` ("lower" for MoRF AUC, "higher" for
    LeRF AUC and the pointing game).
    """
    out = []
    for other in others:
        a, b = _unit_means(units[reference]), _unit_means(units[other])
        d = paired_difference(a, b, seed=seed) if paired else unpaired_difference(a, b, seed=seed)
        if not d.significant:
            verdict = "not significant"
        else:
            ref_better = (d.value < 0) == (better == "lower")
            verdict = f"{reference.split('|')[0]} better" if ref_better else f"{other.split('|')[0]} better"
        out.append(dict(reference=reference, other=other, difference=d.as_dict(), paired=paired, verdict=verdict))
    return out


def _unit_means(v: np.ndarray) -> np.ndarray:
    return v.mean(1) if v.ndim == 2 else v


def _r(a: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in a]

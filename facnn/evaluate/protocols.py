"""The map experiments behind notebooks 03 and 05, with their statistics.

Each experiment returns summary records (a mean with its 95 % bootstrap interval per method) and
the per-unit values (images, or grids for the pointing game) from which :func:`comparisons`
builds the paired differences RESULTS.md reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor, nn

from facnn.core.distributed import gather_arrays, shard_range
from facnn.core.validation import check_images, check_int
from facnn.evaluate.localisation import make_grids, pointing_game
from facnn.evaluate.map_cache import MapCache
from facnn.evaluate.pixel_removal import DEFAULT_PERCENTS, PixelRemoval, percent_grid
from facnn.evaluate.stats import bootstrap, bootstrap_curve, paired_difference, unpaired_difference
from facnn.explain.base import Attribution
from facnn.explain.catalogue import record_fields
from facnn.explain.control import RandomMaps

__all__ = [
    "pixel_removal_experiment",
    "localisation_experiment",
    "comparisons",
    "accuracy_estimate",
    "training_accuracy",
    "unit_key",
    "split_unit_key",
    "ranking_changes",
]

Explainers = dict[str, tuple[nn.Module, Attribution, int | None]]


def accuracy_estimate(model: nn.Module, x: Tensor, y: Tensor, seed: int = 0) -> dict[str, Any]:
    """Test accuracy of ``model`` on ``(x, y)`` with its bootstrap interval (over images)."""
    from facnn.models.inference import predict

    hits = (predict(model, x) == y).double().cpu().numpy()
    return bootstrap(hits, seed=seed).as_dict()


def training_accuracy(record: dict[str, Any]) -> dict[str, Any]:
    """The test accuracy a training run measured on its final weights (``record`` from
    :func:`facnn.train.get_or_train`) with its Wilson 95 % interval: the run already evaluated
    the whole configured test split after its last epoch, so no second pass over it is needed."""
    from facnn.data.datasets import load_dataset
    from facnn.evaluate.stats import wilson

    cfg = record["config"]
    kw = dict(image_size=cfg["image_size"]) if record["dataset"] == "imagefolder" else {}
    test = load_dataset(record["dataset"], "test", cfg.get("data_root"), **kw)
    n = len(test.subset(cfg.get("test_subset"), cfg.get("seed", 0)))
    return wilson(record["test_accuracy"], n)


def pixel_removal_experiment(
    explainers: Explainers,
    x: Tensor,
    y: Tensor,
    *,
    percents: Sequence[float] = DEFAULT_PERCENTS,
    orders: Sequence[str] = ("morf", "lerf"),
    fill: str = "zero",
    fills: Sequence[str] | None = None,
    batch_size: int = 50,
    seed: int = 0,
    progress: bool = True,
    cache: str | Path | None = None,
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Percent-pixels-removed curves (FA-CNN Fig. 4) for every explainer, order and fill.

    Maps are those of the *true* class ``y``, computed once and scored under every fill in
    ``fills`` (default ``[fill]``; e.g. ``["zero", "road"]`` for the paper's protocol beside
    ROAD's); see :class:`~facnn.evaluate.pixel_removal.PixelRemoval` for the protocol. Each record has the AUC as
    ``{"value", "low", "high", "n"}`` (bootstrap over images) and the curve with a pointwise
    interval (``accuracy``, ``accuracy_low``, ``accuracy_high``).

    Run under ``torchrun`` (a process group initialised), every process scores a contiguous run
    of whole batches (:func:`~facnn.core.distributed.shard_range`) and the per-image results are
    gathered in order: the records are those of one process (randomness is keyed by image).

    Parameters
    ----------
    cache
        A folder for each batch's maps (keyed by the explainer, the model's weights and the
        batch): a killed run started again with the same folder computes only what is missing.

    Returns
    -------
    records, and per-image AUCs (the units of paired comparisons) under :func:`unit_key`.

    Examples
    --------
    >>> import torch; from torch import nn
    >>> from facnn.explain import RandomMaps
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    >>> x, y = torch.rand(6, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2])
    >>> records, units = pixel_removal_experiment({"random": (net, RandomMaps(net), None)}, x, y, progress=False)
    >>> units["random|morf"].shape
    (6,)
    """
    from tqdm.auto import tqdm

    batch_size = check_int(batch_size, "batch_size", 1, fix="images whose maps are computed at once, e.g. 50")
    percents = percent_grid(percents)  # read once: an iterable is reused for every meter
    if isinstance(orders, str) or isinstance(fills, str):
        raise TypeError(
            f"orders and fills are lists of names, got orders={orders!r}, fills={fills!r}: e.g. orders=['morf']"
        )
    check_images(x, None)
    if not isinstance(y, Tensor) or y.shape != (len(x),):
        raise ValueError(
            f"y must be a ({len(x)},) tensor of labels, one per image, got {type(y).__name__} "
            f"{tuple(getattr(y, 'shape', ()))}"
        )
    shard = shard_range(len(x), batch_size)
    store = None if cache is None else MapCache(cache)
    records, units = [], {}
    frac = np.asarray(percents) / 100
    for label, (model, expl, layer) in tqdm(explainers.items(), desc="methods", disable=not progress):
        meters = {
            (f, o): PixelRemoval(model, percents, o, fill=f, seed=seed, start=shard.start)
            for f in fills or [fill]
            for o in orders
        }
        for s in range(shard.start, shard.stop, batch_size):
            xb, yb = x[s : min(s + batch_size, shard.stop)], y[s : min(s + batch_size, shard.stop)]
            if isinstance(expl, RandomMaps):
                expl.reset(seed, start=s)
            maps = store.maps(label, model, expl, s, xb, yb) if store else expl.attribute(xb, yb)
            for meter in meters.values():
                meter.update(xb, yb, maps)
        hits = gather_arrays({f"{f}|{o}": _shard_hits(m, len(percents)) for (f, o), m in meters.items()})
        for f, o in meters:
            per_image = hits[f"{f}|{o}"]
            per_auc = np.trapezoid(per_image, frac, axis=1) if len(frac) > 1 else per_image[:, 0]
            units[unit_key(label, o, f)] = per_auc
            mean, lo, hi = bootstrap_curve(per_image, seed=seed)
            records.append(
                dict(
                    **record_fields(label, model, expl, layer),
                    order=o,
                    auc=bootstrap(per_auc, seed=seed).as_dict(),
                    percents=list(percents),
                    accuracy=_r(mean),
                    accuracy_low=_r(lo),
                    accuracy_high=_r(hi),
                    n_images=len(per_image),
                    fill=f,
                    explainer=repr(expl),
                )
            )
    return records, units


def _shard_hits(meter: PixelRemoval, n_percents: int) -> np.ndarray:
    """A meter's per-image hits, ``(0, P)`` for a shard with no images."""
    return meter.per_image() if meter.count else np.zeros((0, n_percents))


def unit_key(method: str, order: str, fill: str = "zero") -> str:
    """``"<method>|<order>"`` under the paper's zero fill, ``"<method>|<order>|<fill>"`` otherwise."""
    return f"{method}|{order}" + ("" if fill == "zero" else f"|{fill}")


def split_unit_key(key: str) -> dict[str, str]:
    """The fields of a :func:`unit_key`: ``{"method", "order", "fill"}`` (``order`` is empty for
    units without one, such as pointing-game grids)."""
    method, order, fill = (key.split("|") + ["", "zero"])[:3]
    return dict(method=method, order=order, fill=fill or "zero")


def ranking_changes(
    records: Sequence[dict[str, Any]], units: dict[str, np.ndarray], *, seed: int = 0
) -> list[dict[str, Any]]:
    """Does the ranking of methods change between fills (e.g. zero vs ROAD)?

    For each order, methods are ranked by AUC under each fill (MoRF: lower first, LeRF: higher
    first). Every pair whose order differs between two fills is returned with the paired
    difference under each fill, so a swap can be read as significant or not.

    Returns
    -------
    list of dict
        ``order``, ``fills`` (the two compared), ``pair`` (two methods), and per fill the
        ``verdict`` of the paired comparison (``"<method> better"`` or ``"not significant"``).
        Empty when no pair changes order.
    """
    out = []
    fills = list(dict.fromkeys(r["fill"] for r in records))
    for order in dict.fromkeys(r["order"] for r in records):
        better = "lower" if order == "morf" else "higher"
        auc = {(r["fill"], r["method"]): r["auc"]["value"] for r in records if r["order"] == order}
        methods = list(dict.fromkeys(m for _, m in auc))
        for i, fa in enumerate(fills):
            for fb in fills[i + 1 :]:
                for j, a in enumerate(methods):
                    for b in methods[j + 1 :]:
                        if (auc[fa, a] - auc[fa, b]) * (auc[fb, a] - auc[fb, b]) >= 0:
                            continue
                        verdicts = {
                            f: comparisons(
                                units, unit_key(a, order, f), [unit_key(b, order, f)], better=better, seed=seed
                            )[0]["verdict"]
                            for f in (fa, fb)
                        }
                        out.append(dict(order=order, fills=[fa, fb], pair=[a, b], verdicts=verdicts))
    return out


def localisation_experiment(
    explainers: Explainers,
    x: Tensor,
    y: Tensor,
    *,
    n: int = 3,
    n_grids: int = 50,
    seed: int = 0,
    min_confidence: float = 0.5,
    batch_size: int = 16,
    progress: bool = True,
    cache: str | Path | None = None,
    selection: str = "random",
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Grid pointing game for every explainer. Grids are built per evaluated model (each model's
    own confident, correct images; ``selection="confident"``: the CoDA-Nets authors' choice of
    images, see :func:`~facnn.evaluate.localisation.make_grids`), so methods on one model are
    paired by grid and methods on different models are not. Under ``torchrun`` the grids are scored
    in shards and gathered, as in :func:`pixel_removal_experiment`. With ``cache`` (a folder) each
    batch of grids' scores is kept, keyed by the method, the model's weights and the grids: a killed
    run resumes.

    Returns
    -------
    records (mean over grids with its bootstrap interval, median, grids) and
    ``{"<method>": per-cell scores (G, n²)}``.
    """
    from tqdm.auto import tqdm

    batch_size = check_int(batch_size, "batch_size", 1, fix="grids whose maps are computed at once, e.g. 16")
    grids_for: dict[int, tuple[Tensor, Tensor]] = {}
    store = None if cache is None else MapCache(cache)
    records, scores = [], {}
    for label, (model, expl, layer) in tqdm(explainers.items(), desc="methods", disable=not progress):
        if id(model) not in grids_for:
            grids_for[id(model)] = make_grids(
                model, x, y, n=n, n_grids=n_grids, seed=seed, min_confidence=min_confidence, selection=selection
            )
        grids, classes = grids_for[id(model)]
        shard = shard_range(len(grids), batch_size)
        local = [np.zeros((0, n * n))]
        for g in range(shard.start, shard.stop, batch_size):
            if isinstance(expl, RandomMaps):
                expl.reset(seed, start=g)
            part = slice(g, min(g + batch_size, shard.stop))
            gb, cb = grids[part], classes[part]
            compute = partial(pointing_game, expl, gb, cb, n)
            sc = (
                store.cached(label, model, expl, g, gb, cb, compute, (len(gb), n * n), "pointing-game")
                if store
                else compute()
            )
            local.append(sc.cpu().double().numpy())
        s = gather_arrays({"s": np.concatenate(local)})["s"]  # (G, n²)
        scores[label] = s
        records.append(
            dict(
                **record_fields(label, model, expl, layer),
                mean=bootstrap(s.mean(1), seed=seed).as_dict(),
                median=round(float(np.median(s)), 4),
                n_grids=len(grids),
                grid=n,
                explainer=repr(expl),
                **({} if selection == "random" else {"selection": selection}),  # records of before keep their form
            )
        )
    return records, scores


def comparisons(
    units: dict[str, np.ndarray],
    reference: str,
    others: Sequence[str],
    *,
    paired: bool = True,
    better: str = "lower",
    seed: int = 0,
) -> list[dict[str, Any]]:
    """``reference − other`` for each other method: mean difference, 95 % interval (paired
    bootstrap over the shared units, or unpaired where the units differ), and a verdict.

    ``better`` says which direction favours ``reference`` ("lower" for MoRF AUC, "higher" for
    LeRF AUC and the pointing game).
    """
    out = []
    for other in others:
        a, b = _unit_means(units[reference]), _unit_means(units[other])
        d = paired_difference(a, b, seed=seed) if paired else unpaired_difference(a, b, seed=seed)
        ref, oth = split_unit_key(reference), split_unit_key(other)
        winner = None
        if d.significant:
            winner = ref["method"] if (d.value < 0) == (better == "lower") else oth["method"]
        out.append(
            dict(
                reference=reference,
                other=other,
                reference_method=ref["method"],
                other_method=oth["method"],
                order=ref["order"],
                fill=ref["fill"],
                difference=d.as_dict(),
                paired=paired,
                significant=d.significant,
                winner=winner,
                verdict=f"{winner} better" if winner else "not significant",
            )
        )
    return out


def _unit_means(v: np.ndarray) -> np.ndarray:
    return v.mean(1) if v.ndim == 2 else v


def _r(a: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in a]

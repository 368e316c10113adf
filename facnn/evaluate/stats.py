"""Confidence intervals: percentile bootstrap over images, and the paired bootstrap of a difference.

Every number the project reports is a mean over units (images, or grids for the pointing game)
and carries a 95 % interval from resampling those units with replacement. Two methods measured on
the same units are compared by resampling the per-unit *differences* (paired), so the variation
the two share (hard images) cancels; a difference is significant when its interval excludes 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "Estimate",
    "bootstrap",
    "paired_difference",
    "unpaired_difference",
    "bootstrap_curve",
    "wilson",
    "fmt_ci",
    "N_RESAMPLES",
]

N_RESAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    """A mean with its bootstrap interval: ``value`` in ``[low, high]`` at ``level``, over ``n`` units."""

    value: float
    low: float
    high: float
    n: int
    level: float = 0.95

    @property
    def significant(self) -> bool:
        """The interval excludes zero (meaningful for a difference)."""
        return self.low > 0 or self.high < 0

    def as_dict(self, digits: int = 4) -> dict[str, Any]:
        d = asdict(self)
        for k in ("value", "low", "high"):
            d[k] = round(d[k], digits)
        return d

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _as_units(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 0 or v.shape[0] == 0:
        raise ValueError(f"{name}: need at least one unit (image or grid), got an empty array")
    return v


def _resampled_means(v: np.ndarray, n_resamples: int, seed: int, chunk: int = 200) -> np.ndarray:
    """Means of ``n_resamples`` resamples of the rows of ``v`` (``(n,)`` or ``(n, k)``)."""
    rng = np.random.default_rng(seed)
    out = []
    for s in range(0, n_resamples, chunk):
        idx = rng.integers(0, len(v), size=(min(chunk, n_resamples - s), len(v)))
        out.append(v[idx].mean(axis=1))
    return np.concatenate(out)


def bootstrap(
    values: Sequence[float] | np.ndarray, *, n_resamples: int = N_RESAMPLES, level: float = 0.95, seed: int = 0
) -> Estimate:
    """Mean of per-unit ``values`` with a percentile-bootstrap interval.

    NaN units (e.g. the correlation of a constant map) are dropped; ``n`` counts the rest.

    Examples
    --------
    >>> e = bootstrap([1, 0, 1, 1, 0, 1, 1, 1], seed=0)
    >>> round(e.value, 3), e.low <= e.value <= e.high, e.n
    (0.75, True, 8)
    """
    v = _as_units(values, "bootstrap")
    v = v[~np.isnan(v)]
    if len(v) == 0:
        raise ValueError("bootstrap: every unit is NaN; there is nothing to average")
    means = _resampled_means(v, n_resamples, seed)
    a = (1 - level) / 2
    return Estimate(float(v.mean()), float(np.quantile(means, a)), float(np.quantile(means, 1 - a)), len(v), level)


def paired_difference(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    n_resamples: int = N_RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Mean of ``a − b`` over the same units, with a paired-bootstrap interval.

    Raises
    ------
    ValueError
        ``a`` and ``b`` have different lengths (they must be measured on the same units, in order).

    Examples
    --------
    >>> d = paired_difference([0.9, 0.8, 0.7, 0.95], [0.5, 0.45, 0.3, 0.6])
    >>> d.significant, round(d.value, 3)
    (True, 0.375)
    """
    a, b = _as_units(a, "paired_difference a"), _as_units(b, "paired_difference b")
    if a.shape != b.shape:
        raise ValueError(f"paired_difference needs the same units for both: got {a.shape} and {b.shape}")
    return bootstrap(a - b, n_resamples=n_resamples, level=level, seed=seed)


def unpaired_difference(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    n_resamples: int = N_RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """``mean(a) − mean(b)`` for two independent samples (different units), resampling each on its own.

    Examples
    --------
    >>> unpaired_difference([1.0, 0.9, 0.95], [0.1, 0.2, 0.15]).significant
    True
    """
    ua, ub = _as_units(a, "unpaired_difference a"), _as_units(b, "unpaired_difference b")
    ua, ub = ua[~np.isnan(ua)], ub[~np.isnan(ub)]
    diffs = _resampled_means(ua, n_resamples, seed) - _resampled_means(ub, n_resamples, seed + 1)
    q = (1 - level) / 2
    return Estimate(
        float(ua.mean() - ub.mean()),
        float(np.quantile(diffs, q)),
        float(np.quantile(diffs, 1 - q)),
        min(len(ua), len(ub)),
        level,
    )


def bootstrap_curve(
    values: np.ndarray, *, n_resamples: int = N_RESAMPLES, level: float = 0.95, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise mean and interval of per-unit curves ``(n, k)``: ``(mean, low, high)``, each ``(k,)``."""
    v = _as_units(values, "bootstrap_curve")
    if v.ndim != 2:
        raise ValueError(f"bootstrap_curve needs (units, points), got shape {v.shape}")
    means = _resampled_means(v, n_resamples, seed)
    a = (1 - level) / 2
    return v.mean(0), np.quantile(means, a, axis=0), np.quantile(means, 1 - a, axis=0)


def wilson(p: float, n: int) -> dict[str, Any]:
    """Wilson 95 % interval of an accuracy ``p`` over ``n`` images, for records that keep only the
    count (no per-image outcomes to bootstrap).

    >>> w = wilson(0.9, 10000); round(w["low"], 4), round(w["high"], 4)
    (0.894, 0.9057)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"wilson: n={n!r} must be the number of images, an int ≥ 1")
    if not 0 <= p <= 1:
        raise ValueError(f"wilson: p={p!r} must be an accuracy in [0, 1] (a share, not a count or a percent)")
    z = 1.959964
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return dict(value=p, low=round(centre - half, 6), high=round(centre + half, 6), n=n, level=0.95)


def fmt_ci(e: Mapping[str, Any], digits: int = 3) -> str:
    """``"0.210 [0.201, 0.219]"`` from an estimate dict."""
    return f"{e['value']:.{digits}f} [{e['low']:.{digits}f}, {e['high']:.{digits}f}]"

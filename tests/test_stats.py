"""Bootstrap intervals: coverage on simulated data, pairing, NaN handling and bad input."""

import numpy as np
import pytest

from facnn.evaluate import bootstrap, bootstrap_curve, paired_difference, unpaired_difference


def test_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    hits = 0
    for i in range(200):
        e = bootstrap(rng.binomial(1, 0.7, size=200), n_resamples=500, seed=i)
        hits += e.low <= 0.7 <= e.high
    assert 0.88 <= hits / 200 <= 0.99, hits


def test_paired_difference_is_tighter_than_unpaired_on_shared_units():
    rng = np.random.default_rng(1)
    difficulty = rng.normal(size=300)
    a = difficulty + 0.1 + rng.normal(scale=0.1, size=300)
    b = difficulty + rng.normal(scale=0.1, size=300)
    p, u = paired_difference(a, b), unpaired_difference(a, b)
    assert p.significant and not u.significant  # pairing removes the shared difficulty
    assert (p.high - p.low) < (u.high - u.low) / 5
    assert abs(p.value - u.value) < 1e-12


def test_identical_methods_are_not_significant_and_seeded():
    v = np.random.default_rng(2).random(100)
    d = paired_difference(v, v.copy())
    assert d.value == 0 and not d.significant
    assert bootstrap(v, seed=3) == bootstrap(v, seed=3)


def test_nan_units_are_dropped_and_counted():
    e = bootstrap([1.0, np.nan, 0.0, 1.0])
    assert e.n == 3 and abs(e.value - 2 / 3) < 1e-12
    with pytest.raises(ValueError, match="every unit is NaN"):
        bootstrap([np.nan, np.nan])


def test_bad_input_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="at least one unit"):
        bootstrap([])
    with pytest.raises(ValueError, match="same units"):
        paired_difference([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="units, points"):
        bootstrap_curve(np.zeros(5))


def test_curve_band_contains_the_mean_curve():
    curves = np.random.default_rng(4).binomial(1, [0.9, 0.5, 0.1], size=(80, 3)).astype(float)
    m, lo, hi = bootstrap_curve(curves)
    assert np.all(lo <= m) and np.all(m <= hi) and np.allclose(m, curves.mean(0))

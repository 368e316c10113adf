"""ROAD's noisy linear imputation: exact on linear images, seeded noise, and as a PixelRemoval fill."""

import numpy as np
import pytest
import torch

from facnn import FACNN
from facnn.evaluate import PixelRemoval, noisy_linear_impute


def ramp(h=12, w=10, channels=2):
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    return torch.stack([0.03 * yy + 0.05 * xx + 0.1 * c for c in range(channels)])[None]  # (1, C, H, W)


def test_a_linear_ramp_is_restored_exactly_without_noise():
    x = ramp()
    removed = torch.zeros(1, 12, 10, dtype=torch.bool)
    removed[0, 2:9, 3:8] = True  # a block of interior pixels, many of whose neighbours are also removed
    removed[0, 5, 1] = True
    holed = torch.where(removed[:, None], torch.zeros_like(x), x)
    out = noisy_linear_impute(holed, removed, noise=0.0)
    torch.testing.assert_close(out, x, rtol=0, atol=1e-12)


def test_known_pixels_are_untouched_and_noise_is_seeded():
    x = torch.rand(2, 3, 9, 9, generator=torch.Generator().manual_seed(0))
    removed = torch.rand(2, 9, 9, generator=torch.Generator().manual_seed(1)) < 0.4
    a = noisy_linear_impute(x, removed, 0.01, torch.Generator().manual_seed(5))
    b = noisy_linear_impute(x, removed, 0.01, torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b)
    keep = ~removed[:, None].expand_as(x)
    assert torch.equal(a[keep], x[keep])
    plain = noisy_linear_impute(x, removed, 0.0)
    diff = (a - plain)[~keep]
    assert 0.005 < float(diff.std()) < 0.015  # the noise has ROAD's standard deviation


def test_imputed_pixels_are_local_means():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 1] = 1.0  # left neighbour of the centre
    removed = torch.zeros(1, 5, 5, dtype=torch.bool)
    removed[0, 2, 2] = True
    out = noisy_linear_impute(x, removed, 0.0)
    assert abs(float(out[0, 0, 2, 2]) - 1 / 6) < 1e-6  # a direct neighbour weighs 1/6


def test_everything_removed_leaves_no_information():
    out = noisy_linear_impute(torch.rand(1, 2, 6, 6), torch.ones(1, 6, 6, dtype=torch.bool), 0.0)
    assert torch.equal(out, torch.zeros(1, 2, 6, 6))


def test_bad_masks_are_refused():
    with pytest.raises(ValueError, match="boolean"):
        noisy_linear_impute(torch.rand(1, 1, 4, 4), torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="removed"):
        noisy_linear_impute(torch.rand(1, 1, 4, 4), torch.zeros(1, 5, 4, dtype=torch.bool))


def test_pixel_removal_with_the_road_fill():
    torch.manual_seed(0)
    m = FACNN(10, depth=2, hidden=8).eval()
    x, y = torch.rand(4, 1, 28, 28), torch.arange(4)
    maps = torch.rand(4, 28, 28)
    runs = []
    for _ in range(2):
        meter = PixelRemoval(m, [0, 50, 100], "morf", fill="road", seed=3)
        meter.update(x, y, maps)
        runs.append(meter.per_image())
    np.testing.assert_array_equal(runs[0], runs[1])  # seeded
    assert meter.compute()["fill"] == "road"
    with pytest.raises(ValueError, match="road"):
        PixelRemoval(m, fill="inpaint")


def test_ranking_changes_finds_swaps_and_reads_their_significance():
    import numpy as np

    from facnn.evaluate import ranking_changes, unit_key
    from facnn.viz import ranking_summary

    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.4, 200)
    noise = rng.normal(0, 0.05, 200)
    noise -= noise.mean()
    units = {
        unit_key("A", "morf"): base - 0.05,
        unit_key("B", "morf"): base,  # zero: A clearly lower (better)
        unit_key("A", "morf", "road"): base + 0.002 + noise,  # road: A slightly higher, noisy
        unit_key("B", "morf", "road"): base.copy(),
        unit_key("C", "morf"): base + 0.2,
        unit_key("C", "morf", "road"): base + 0.2,
    }
    records = [
        dict(method=k.split("|")[0], order="morf", fill=(k.split("|") + ["zero"])[2], auc=dict(value=float(v.mean())))
        for k, v in units.items()
    ]
    swaps = ranking_changes(records, units)
    assert [s["pair"] for s in swaps] == [["A", "B"]]
    assert swaps[0]["verdicts"]["zero"] == "A better" and swaps[0]["verdicts"]["road"] == "not significant"
    text = ranking_summary(swaps, ["zero", "road"])
    assert "1 pair(s) change order" in text and "0 of them are significant reversals" in text
    with_ranks = ranking_summary(swaps, ["zero", "road"], records)
    assert "MoRF ranking, fill zero (best first): A > B > C" in with_ranks
    assert "MoRF ranking, fill road (best first): B > A > C" in with_ranks
    assert "same under every fill" in ranking_summary([], ["zero", "road"])

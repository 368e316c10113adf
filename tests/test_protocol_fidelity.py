"""The measurements of where our metrics and RISE differ from their authors' code
(``python -m facnn.companion.protocol_fidelity``), at toy size on the shipped models."""

import torch

from facnn.companion.protocol_fidelity import jittered, markdown, measure
from facnn.evaluate.pixel_removal import removal_order


def test_roads_jitter_breaks_ties_and_keeps_every_clear_ranking():
    maps = torch.tensor([[[0.0, 0.0, 0.5], [0.5, 1.0, 1.0]]])
    ours, theirs = removal_order(maps, "morf"), removal_order(jittered(maps), "morf")
    assert ours[0].tolist() == [4, 5, 2, 3, 0, 1]  # each pixel's rank: ties by raster index
    assert sorted(theirs[0, 4:].tolist()) == [0, 1] and sorted(theirs[0, :2].tolist()) == [4, 5]  # by value
    assert jittered(maps).unique().numel() == 6


def test_every_difference_is_measured_with_a_paired_or_unpaired_interval():
    rows = measure(n_images=6, rise_n=16, n_grids=2, n_candidates=300)
    assert len(rows) == 12
    for r in rows:
        d = r["difference"]
        assert d["low"] <= d["value"] <= d["high"]
        assert r["verdict"] == ("not significant" if d["low"] <= 0 <= d["high"] else "significant")
    assert [r["paired"] for r in rows].count(False) == 2  # the pointing game: other grids
    assert markdown(rows).count("\n") == 13

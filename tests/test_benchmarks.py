"""The benchmark scripts run (tiny settings); their timings are not asserted — machines are noisy."""

import json

from benchmarks import attribution, training


def test_attribution_benchmark_runs_tiny(tmp_path):
    recs = attribution.main(
        ["--batch", "2", "--repeats", "1", "--rise-n", "20", "--rise-repeats", "1", "--out-dir", str(tmp_path)]
    )
    written = json.loads(next(tmp_path.glob("attribution-*.json")).read_text())
    assert written["records"] == recs and written["meta"]["settings"]["batch"] == "2"
    methods = {r["method"] for r in recs}
    assert "Grad-CAM (pytorch-grad-cam)" in methods and "CoDA-Net contributions (vs CoDA forward)" in methods
    occ = next(r for r in recs if r["method"].endswith("(ours)") and "occlusion" in r["method"])
    assert occ["identical_to_captum"] is True
    assert all({"ratio_min", "ratio_median", "batch", "image_size", "device"} <= set(r) for r in recs)


def test_training_benchmark_runs_tiny(tmp_path):
    recs = training.main(["--batch", "4", "--repeats", "1", "--models", "resnet", "facnn", "--out-dir", str(tmp_path)])
    assert json.loads(next(tmp_path.glob("training-*.json")).read_text())["records"] == recs
    assert list(dict.fromkeys(r["model"] for r in recs)) == ["resnet", "facnn"]
    assert all(r["forward_flops_per_image"] > 0 for r in recs)
    assert any("value check per forward" in r["method"] for r in recs)  # the old per-forward check, side by side


def test_compared_functions_are_timed_in_turns_and_ratios_are_paired():
    import torch

    from benchmarks.common import interleaved, paired_ratio, summary

    calls = []
    got = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3, torch.device("cpu"))
    assert calls == ["a", "b"] + ["a", "b"] * 3  # one warm-up each, then a, b, a, b, …
    assert [len(v) for v in got.values()] == [3, 3]
    assert paired_ratio([2.0, 4.0, 9.0], [1.0, 2.0, 3.0]) == 2.0  # per-round ratios 2, 2, 3
    assert summary([2.0, 4.0, 9.0], [1.0, 2.0, 3.0])["ratio_paired_median"] == 2.0
    assert "ratio_paired_median" not in summary([1.0], [1.0, 2.0])  # not timed in turns: no pairs

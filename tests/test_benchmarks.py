"""The benchmark scripts run (tiny settings); their timings are not asserted — machines are noisy."""

from benchmarks import attribution, training


def test_attribution_benchmark_runs_tiny():
    recs = attribution.main(["--batch", "2", "--repeats", "1", "--rise-n", "20", "--rise-repeats", "1", "--no-write"])
    methods = {r["method"] for r in recs}
    assert "Grad-CAM (pytorch-grad-cam)" in methods and "CoDA-Net contributions (vs CoDA forward)" in methods
    occ = next(r for r in recs if r["method"].endswith("(ours)") and "occlusion" in r["method"])
    assert occ["identical_to_captum"] is True
    assert all({"ratio_min", "ratio_median", "batch", "image_size", "device"} <= set(r) for r in recs)


def test_training_benchmark_runs_tiny():
    recs = training.main(["--batch", "4", "--repeats", "1", "--models", "resnet", "facnn", "--no-write"])
    assert [r["model"] for r in recs] == ["resnet", "facnn"] and all(r["forward_flops_per_image"] > 0 for r in recs)

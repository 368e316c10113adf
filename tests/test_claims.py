"""The claims table follows the records: verdicts change when the evidence does."""

import pytest

from facnn import viz
from facnn.companion import claims
from facnn.companion import records as rec
from facnn.explain.catalogue import Method


def _est(v, half=0.01):
    return {"value": v, "low": v - half, "high": v + half, "n": 1000, "level": 0.95}


def _pixel_run(rise_diff, gradcam_diff):
    methods = [Method("intrinsic", layer=6), Method("gradcam", layer=6), Method("rise"), Method("occlusion", window=4)]
    records = [{**m.fields(), "order": o, "auc": _est(0.2)} for m in methods for o in ("morf", "lerf")]

    def comp(other, d):
        significant = abs(d) >= 0.02
        winner = ("FA-CNN maps L6" if d < 0 else other) if significant else None
        return {
            "reference": "FA-CNN maps L6|morf",
            "other": f"{other}|morf",
            "reference_method": "FA-CNN maps L6",
            "other_method": other,
            "order": "morf",
            "fill": "zero",
            "difference": _est(d),
            "paired": True,
            "significant": significant,
            "winner": winner,
            "verdict": f"{winner} better" if winner else "not significant",
        }

    return records, [comp("Grad-CAM L6", gradcam_diff), comp("RISE", rise_diff), comp("K-OCC k=4", rise_diff)]


@pytest.mark.parametrize("rise_diff, expected", [(0.05, "not reproduced"), (-0.05, "reproduced")])
def test_pixel_removal_verdict_follows_the_paired_differences(tmp_path, monkeypatch, rise_diff, expected):
    monkeypatch.setenv("FACNN_HOME", str(tmp_path))
    monkeypatch.setenv("FACNN_OUT", str(tmp_path / "figures"))  # runs written straight into the committed records
    records, comps = _pixel_run(rise_diff, 0.0)
    params = {"weights": "pretrained", "model": "facnn", "n_images": 1000}
    rec.write_run("pixel_removal", "03_pixel_removal.ipynb", params, quantities={}, records=records, comparisons=comps)
    rec.write_run(
        "pixel_removal", "03_pixel_removal.ipynb", {**params, "n_images": 10}, quantities={}, records=[], comparisons=[]
    )  # a smaller run is not the headline
    rec.write_run(
        "pixel_removal",
        "03_pixel_removal.ipynb",
        {**params, "model": "facnn24", "n_images": 5000},
        quantities={},
        records=[],
        comparisons=[],
    )  # nor is a larger run of another FA-CNN
    row = next(r for r in claims.claims() if "pixels removed" in r["claim"])
    assert row["verdict"] == expected and "1000 images" in row["ours"]


def test_one_colour_per_method_in_both_panels():
    records = [
        {
            **m.fields(),
            "order": o,
            "percents": [0, 50, 100],
            "accuracy": [0.9, 0.5, 0.1],
            "accuracy_low": [0.85, 0.45, 0.05],
            "accuracy_high": [0.95, 0.55, 0.15],
        }
        for m in [Method("intrinsic", layer=6), Method("intrinsic", layer=4), Method("rise")]
        for o in ("morf", "lerf")
    ]
    fig = viz.removal_curves(records, "t")
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    colours = {}
    for t in lines:
        colours.setdefault(t.name, set()).add(t.line.color)
    assert all(len(c) == 1 for c in colours.values()) and len({next(iter(c)) for c in colours.values()}) == 3
    shades = viz.method_colors([Method("gradcam", layer=6).fields(), Method("gradcam", layer=4).fields()])
    assert shades["Grad-CAM L6"] == Method("gradcam").colour != shades["Grad-CAM L4"]  # a lower layer: lighter
    assert Method("rise", "coda", centred=True).colour == Method("rise").colour  # a method keeps its colour
    assert Method("intrinsic", "hybrid").colour != Method("intrinsic").colour  # a model's own maps: its colour


def test_paired_accuracy_of_shipped_models():
    from facnn.companion.claims import paired_accuracy

    d, verdict = paired_accuracy("fashion-mnist/facnn", "fashion-mnist/facnn")
    assert d["value"] == 0 and verdict.startswith("on par")
    d, verdict = paired_accuracy("fashion-mnist/coda", "fashion-mnist/resnet")
    assert d["value"] == pytest.approx(0.924 - 0.934) and d["high"] < 0  # per-image correctness from the manifest
    assert paired_accuracy("fashion-mnist/facnn", "no/such-model") is None


@pytest.mark.parametrize("dip, expected", [(False, "reproduced"), (True, "partly (not monotone)")])
def test_the_24_layer_model_gets_its_own_theorem_2_and_pixel_rows(tmp_path, monkeypatch, dip, expected):
    monkeypatch.setenv("FACNN_HOME", str(tmp_path))
    monkeypatch.setenv("FACNN_OUT", str(tmp_path / "figures"))  # runs written straight into the committed records
    fin = [_est(0.1 + 0.9 * i / 23) for i in range(24)]
    if dip:
        fin[10] = _est(0.01)
    th = {
        "theorem1_error": 1e-7,
        "gradcam_correlation_ci": [_est(1.0, 0)],
        "final_correlation_ci": fin,
        "morph": [{"step": 1.0, "bound": 1.0}] * 23,
    }
    params = {"weights": "pretrained", "model": "facnn24", "n_images": 100}
    rec.write_run("theorems", "01_theorems.ipynb", params, quantities={}, records=[th])
    records, comps = _pixel_run(-0.05, 0.0)
    rec.write_run("pixel_removal", "03_pixel_removal.ipynb", params, quantities={}, records=records, comparisons=comps)
    rows = claims.claims()
    morph = [r for r in rows if "Theorem 2" in r["claim"]]
    assert len(morph) == 1 and "over 24 layers" in morph[0]["claim"] and morph[0]["verdict"] == expected
    assert f"({23 - dip} of 23 steps rise)" in morph[0]["ours"] and "L24 1.00" in morph[0]["ours"]
    assert not any("Theorem 1" in r["claim"] for r in rows)  # the default model's run is the one for Theorem 1
    pixel = [r for r in rows if "pixels removed" in r["claim"]]
    assert len(pixel) == 1 and pixel[0]["claim"].endswith("24-layer FA-CNN") and pixel[0]["verdict"] == "reproduced"


@pytest.mark.parametrize(
    "low, high, expected",
    [(0.005, 0.012, "reproduced"), (-0.004, 0.004, "reproduced"), (-0.02, -0.012, "not reproduced")],
)
def test_beating_the_resnet_meets_the_on_par_claim(monkeypatch, low, high, expected):
    def fake(a, b, margin=0.01, seed=0):
        d = {"value": (low + high) / 2, "low": low, "high": high, "n": 10000, "level": 0.95}
        d["on_par"] = -margin <= low and high <= margin
        better = f"{a if d['value'] > 0 else b} better" if low > 0 or high < 0 else ""
        return d, ("on par (within ±0.01)" if -margin <= low and high <= margin else better)

    monkeypatch.setattr(claims, "paired_accuracy", fake)
    row = next(r for r in claims.claims() if r["claim"].startswith("performs well on image classification"))
    assert row["verdict"] == expected


def test_no_significant_difference_is_inconclusive(tmp_path, monkeypatch):
    monkeypatch.setenv("FACNN_HOME", str(tmp_path))
    monkeypatch.setenv("FACNN_OUT", str(tmp_path / "figures"))  # runs written straight into the committed records
    records, comps = _pixel_run(0.0, 0.0)  # every difference inside ±0.02: "not significant"
    rec.write_run(
        "pixel_removal",
        "03_pixel_removal.ipynb",
        {"weights": "pretrained", "model": "facnn", "n_images": 100},
        quantities={},
        records=records,
        comparisons=comps,
    )
    row = next(r for r in claims.claims() if "pixels removed" in r["claim"])
    assert row["verdict"] == "inconclusive (no significant difference)"

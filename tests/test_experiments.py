"""The experiment functions behind notebooks 03 and 05, on a small trained FA-CNN (sklearn digits)."""

import pytest

from facnn import evaluate
from facnn.companion import experiments as ex
from facnn.train import load_config


@pytest.fixture(scope="module")
def setup(trained_facnn, digits):
    model, _ = trained_facnn
    x, y = digits[1].subset(120, 0).tensors()
    return model.eval(), x, y


def test_pixel_removal_experiment_records_and_replayable_control(setup):
    model, x, y = setup
    expl = ex.build_explainers(model, [model.num_layers - 1], ["intrinsic", "random"])
    # the whole percent grid: with [0, 50, 100] the AUC reads the 50 % point alone, and on 8×8 digits
    # that one point did not tell FA-CNN's maps from noise (0.025 [-0.04, 0.08], one thread)
    a, units = evaluate.pixel_removal_experiment(expl, x[:40], y[:40], batch_size=16, progress=False)
    b, _ = evaluate.pixel_removal_experiment(expl, x[:40], y[:40], batch_size=16, progress=False)
    assert [(r["method"], r["order"]) for r in a] == [(m, o) for m in expl for o in ("morf", "lerf")]
    assert a == b  # the random control restarts its generator: same numbers on every run
    start = {r["accuracy"][0] for r in a}
    assert len(start) == 1 and start.pop() > 0.5  # every curve starts at the model's clean accuracy
    intrinsic = {r["order"]: r["auc"]["value"] for r in a if r["method"].startswith("FA-CNN")}
    assert intrinsic["morf"] < intrinsic["lerf"]  # removing the most relevant pixels hurts more
    for r in a:  # the AUC is the mean of the per-image AUCs, inside its own interval
        per = units[f"{r['method']}|{r['order']}"]
        assert len(per) == 40 and abs(per.mean() - r["auc"]["value"]) < 1e-4
        assert r["auc"]["low"] <= r["auc"]["value"] <= r["auc"]["high"]
        assert all(lo <= m <= hi for lo, m, hi in zip(r["accuracy_low"], r["accuracy"], r["accuracy_high"]))
    ref = next(m for m in expl if m.startswith("FA-CNN"))
    comp, same = evaluate.comparisons(
        {**units, "copy|morf": units[f"{ref}|morf"]}, f"{ref}|morf", ["random|morf", "copy|morf"]
    )
    assert comp["difference"]["value"] < 0  # removing what the maps rank first hurts more than removing noise
    significant = comp["difference"]["high"] < 0 or comp["difference"]["low"] > 0
    assert (comp["verdict"] != "not significant") == significant
    assert same["verdict"] == "not significant" and same["difference"]["value"] == 0


def test_localisation_experiment_scores_and_uniform_control(setup):
    model, x, y = setup
    expl = ex.build_explainers(model, [model.num_layers - 1], ["intrinsic", "random"])
    kw = dict(n=2, n_grids=20, min_confidence=0.0, progress=False)
    recs, scores = evaluate.localisation_experiment(expl, x, y, **kw)
    recs2, _ = evaluate.localisation_experiment(expl, x, y, **kw)
    assert recs == recs2
    assert set(scores) == set(expl) and all(v.shape == (20, 4) for v in scores.values())
    assert all(0 <= s <= 1 for v in scores.values() for s in v.flat)
    random_mean = next(r["mean"] for r in recs if r["method"] == "random")
    assert abs(random_mean["value"] - 0.25) < 0.05  # uniform noise puts a quarter of its mass in each cell
    assert random_mean["low"] <= 0.25 <= random_mean["high"] and random_mean["n"] == 20


def test_full_scale_records_keep_only_todays_default_configs(tmp_path, monkeypatch):
    import json
    from dataclasses import asdict

    monkeypatch.setenv("FACNN_HOME", str(tmp_path))
    assert ex.full_scale_records("fashion_mnist", ["facnn"]) == []  # no records file yet
    default = asdict(load_config("fashion_mnist_facnn"))
    other = {**default, "model_config": {**default["model_config"], "pool_at": [1, 3]}}
    subset = {**default, "train_subset": 10000}
    recs = [
        dict(
            variant=v,
            test_accuracy=a,
            params=1,
            epochs=e,
            command=f"cmd {v}",
            config={**c, "epochs": e, "device": "cuda"},
        )
        for v, a, e, c in [
            ("now", 0.93, 20, default),
            ("old", 0.92, 20, other),
            ("sub", 0.8, 2, subset),
            ("now", 0.92, 10, default),
            ("seed1", 0.931, 20, {**default, "seed": 1}),
        ]
    ]
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "ablation.json").write_text(json.dumps(recs))
    got = ex.full_scale_records("fashion_mnist", ["facnn", "resnet", "no-such-model"])
    assert [(r["variant"], r["epochs"], r["test_accuracy"]) for r in got] == [
        ("now", 10, 0.92),
        ("now", 20, 0.93),
        ("seed1", 20, 0.931),
    ]


def test_committed_table1_matches_todays_defaults():
    """README's Table 1 quotes full-scale runs of the default configs: they must be in figures/."""
    got = ex.full_scale_records("fashion_mnist", ["facnn", "resnet"])
    assert {r["model"] for r in got if r["epochs"] == 20} == {"facnn", "resnet"}


def test_the_papers_layers_at_its_depth_and_in_proportion():
    assert ex.paper_layers(24) == [24, 18] and ex.paper_layers(6) == [6, 4]
    assert ex.shown_layers(6) == list(range(7))
    shown = ex.shown_layers(24)
    assert shown == [0, 6, 12, 18, 24] and set(ex.paper_layers(24)) <= set(shown)
    assert set(ex.paper_layers(30)) <= set(ex.shown_layers(30)) and ex.shown_layers(30)[-1] == 30


def test_a_prefix_without_peers_or_shipped_weights_is_refused_naming_the_fix():
    from facnn.companion import experiments as ex
    from facnn.models.pretrained import PretrainedError

    assert ex.dataset_of("imagenet100") == "imagefolder"  # read from its configs (no imagenet100_facnn.json)
    with pytest.raises(ValueError, match="no config starts with 'imagenet'_"):
        ex.dataset_of("imagenet")
    with pytest.raises(ValueError, match=r"leave them out of methods"):
        ex.companion_models("imagenet100", ["intrinsic", "contributions"])
    with pytest.raises(PretrainedError, match="weights='train'"):
        ex.load_model("imagenet100", "facnn24", "pretrained")

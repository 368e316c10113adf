"""Shipped weights: listed, hash-verified, read without unpickling, and they reproduce the test
accuracy recorded in their manifest on the real test split (same weights, same data)."""

import json
import re
import shlex
import shutil

import pytest
import torch

import facnn
from facnn.models import CheckpointError, PretrainedError
from facnn.models.pretrained import headline_models, manifest, sha256_of, weights_dir

SHIPPED = sorted(manifest())


HEADLINE = sorted(headline_models())


def test_what_ships_is_listed():
    listed = facnn.pretrained()
    assert {
        "fashion-mnist/facnn",
        "fashion-mnist/facnn24",
        "fashion-mnist/coda",
        "fashion-mnist/resnet",
        "fashion-mnist/bcos",
        "fashion-mnist/hybrid",
    } <= set(HEADLINE)
    for name, rec in listed.items():
        assert re.fullmatch(re.escape(name.replace("/", "-")) + r"-[0-9a-f]{10}\.pt", rec["file"]), rec["file"]
        assert (weights_dir() / rec["file"]).stat().st_size < 5 * 2**20  # small enough for git and a wheel
        assert rec["command"].startswith("python -m facnn.train")
        assert rec["epochs"] >= 10 if name in HEADLINE else len(rec["purpose"]) > 10  # a brief run says what it is for


@pytest.mark.parametrize("name", SHIPPED)
def test_every_retraining_command_trains_the_shipped_config(name):
    from facnn.train import TrainConfig
    from facnn.train.cli import config_from_args

    rec = manifest()[name]
    train_cmd = shlex.split(rec["command"].split(" && ")[0])
    cfg, args = config_from_args(train_cmd[3:])
    assert cfg.key() == TrainConfig(**rec["train_config"]).key()
    assert args.out and rec["command"].split(" && ")[1].startswith(f"python tools/ship_weights.py {name} {args.out} ")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_weights_reproduce_their_manifest_accuracy(name):
    from facnn.data import load_dataset
    from facnn.models import predict

    model, rec = facnn.pretrained(name)
    assert not model.training and sha256_of(weights_dir() / rec["file"]) == rec["sha256"]
    x, y = load_dataset(rec["dataset"], "test").tensors()
    if name not in HEADLINE:  # brief runs (sweep, twin): image by image on the first 1,000 test images
        x, y = x[:1000], y[:1000]
    pred = predict(model, x)
    if name in HEADLINE:
        assert (int((pred == y).sum()), len(y)) == (rec["test_correct"], rec["test_images"])
    assert "".join(map(str, pred.tolist())) == rec["test_predictions"][: len(y)]  # image by image, as shipped


def test_the_notebooks_brief_runs_ship():
    """Notebooks 05 (temperature sweep) and 07 (permuted-label twin) read these instead of training
    at their default parameters; a changed default would silently train again."""
    from facnn.evaluate.randomisation import shuffled_twin_config
    from facnn.train import load_config, shipped_for

    for kind in ("facnn", "coda", "bcos", "hybrid"):  # each model of notebook 07 has its twin
        assert shipped_for(shuffled_twin_config(f"fashion_mnist_{kind}")) == f"fashion-mnist/{kind}-shuffled-labels"
    for t in (10.0, 100.0, 1000.0):
        cfg = load_config(
            "fashion_mnist_coda", epochs=1, train_subset=5000, seed=0, device="auto", model_config={"temperature": t}
        )
        assert shipped_for(cfg) == f"fashion-mnist/coda-sweep-t{t:g}"
    assert shipped_for(load_config("fashion_mnist_coda", epochs=2)) is None


def test_the_24_layer_facnn_is_read_at_the_papers_layers():
    from facnn.companion.experiments import paper_layers

    model, rec = facnn.pretrained("fashion-mnist/facnn24")
    assert len(model.layers) == 24 and rec["model_config"]["depth"] == 24
    assert paper_layers(len(model.layers)) == [24, 18]  # Figure 4's layers, not "in proportion"


def test_the_facnn_meets_the_accuracy_target():
    assert manifest()["fashion-mnist/facnn"]["test_accuracy"] >= 0.93


@pytest.fixture
def copy_of_weights(tmp_path, monkeypatch):
    shutil.copytree(weights_dir(), tmp_path / "w")
    monkeypatch.setenv("FACNN_WEIGHTS_DIR", str(tmp_path / "w"))
    return tmp_path / "w"


def test_an_altered_file_is_refused_before_it_is_read(copy_of_weights):
    rec = manifest(copy_of_weights)["fashion-mnist/facnn"]
    path = copy_of_weights / rec["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(PretrainedError, match="SHA-256"):
        facnn.pretrained("fashion-mnist/facnn")


def test_unknown_names_list_what_exists(copy_of_weights):
    with pytest.raises(PretrainedError, match="fashion-mnist/facnn"):
        facnn.pretrained("imagenet/facnn")


def test_a_manifest_config_that_differs_from_the_file_is_refused(copy_of_weights):
    path = copy_of_weights / "manifest.json"
    data = json.loads(path.read_text())
    data["models"]["fashion-mnist/facnn"]["model_config"]["depth"] = 3
    path.write_text(json.dumps(data))
    with pytest.raises(PretrainedError, match="config"):
        facnn.pretrained("fashion-mnist/facnn")


def test_a_pickle_that_runs_code_is_refused_even_with_a_matching_hash(copy_of_weights, tmp_path):
    class Boom:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pt"
    torch.save({"format": "facnn-checkpoint/1", "payload": Boom()}, evil)
    digest = sha256_of(evil)
    name = f"fashion-mnist-facnn-{digest[:10]}.pt"
    shutil.copy(evil, copy_of_weights / name)
    path = copy_of_weights / "manifest.json"
    data = json.loads(path.read_text())
    data["models"]["fashion-mnist/facnn"].update(file=name, sha256=digest)
    path.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="safe load refuses.*not unpickled"):
        facnn.pretrained("fashion-mnist/facnn")

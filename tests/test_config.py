"""One config path: by name or file, overrides merged key by key, validated (CLI included)."""

import json

import pytest

from facnn.train import EXECUTION_FIELDS, TrainConfig, config_names, load_config
from facnn.train.cli import config_from_args


def test_by_name_and_by_path_give_the_same_config(tmp_path):
    by_name = load_config("fashion_mnist_facnn")
    path = tmp_path / "c.json"
    path.write_text(
        json.dumps(
            {
                "model": "facnn",
                "model_config": by_name.model_config,
                "epochs": by_name.epochs,
                "batch_size": 128,
                "lr": 0.003,
                "weight_decay": 0.0005,
                "seed": 0,
            }
        )
    )
    assert load_config(path) == by_name
    assert "fashion_mnist_facnn" in config_names()


def test_model_config_overrides_merge_key_by_key_everywhere():
    cfg = load_config("fashion_mnist_facnn", model_config={"depth": 3})
    assert cfg.model_config["depth"] == 3 and cfg.model_config["maps_per_class"] == 4
    cli, _ = config_from_args(["--config", "fashion_mnist_facnn", "--model-config", '{"depth": 3}', "--epochs", "5"])
    assert cli.model_config == cfg.model_config and cli.epochs == 5


def test_unknown_keys_and_bad_values_name_the_problem():
    with pytest.raises(ValueError, match=r"unknown config keys \['epoch'\]"):
        load_config("fashion_mnist_facnn", epoch=3)
    with pytest.raises(FileNotFoundError, match="fashion_mnist_facnn"):
        load_config("no_such_config")
    with pytest.raises(ValueError, match="optimizer='adam'"):
        TrainConfig(optimizer="adam")
    with pytest.raises(ValueError, match="epochs=0"):
        TrainConfig(epochs=0)
    with pytest.raises(SystemExit, match="no config '/nonexistent.json'"):
        config_from_args(["--config", "/nonexistent.json"])
    with pytest.raises(SystemExit, match="batch_size=0"):
        config_from_args(["--config", "fashion_mnist_facnn", "--batch-size", "0"])


def test_execution_fields_do_not_change_the_cache_key_but_results_fields_do():
    base = TrainConfig(dataset="digits")
    for name in EXECUTION_FIELDS:
        value = {
            "data_root": "/elsewhere",
            "num_workers": 4,
            "compile": True,
            "channels_last": True,
            "checkpoint_layers": 4,
            "test_every": 5,
        }[name]
        assert TrainConfig(dataset="digits", **{name: value}).key() == base.key(), name
    assert TrainConfig(dataset="digits", device="cuda").key() != TrainConfig(dataset="digits", device="cpu").key()
    assert TrainConfig(dataset="digits", seed=1).key() != base.key()

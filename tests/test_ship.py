"""Shipping a run (facnn.train.ship, behind tools/ship_weights.py): the slim file is re-measured,
named by its hash, listed in the manifest, and facnn.pretrained reads it back; runs that must not
ship are refused."""

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import facnn
from facnn.train import config_from_args, train
from facnn.train.ship import ShipError, ship

ROOT = Path(__file__).resolve().parent.parent
COMMAND = (
    "python -m facnn.train --config fashion_mnist_facnn --dataset digits --epochs 1 --model-config "
    '\'{"depth": 1, "hidden": 4, "pool_at": [1]}\' --out runs/x'
)


@pytest.fixture()
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("FACNN_WEIGHTS_DIR", str(tmp_path / "weights"))
    (tmp_path / "weights").mkdir()
    cfg, _ = config_from_args(shlex.split(COMMAND)[3:])  # the run the command trains
    train(cfg, tmp_path / "run", progress=False)
    return tmp_path / "run"


def test_a_shipped_run_reads_back_verified(run):
    command = COMMAND + '\'{"depth": 1, "hidden": 4}\' --out runs/x'
    with pytest.raises(ShipError, match="trains a different config"):
        ship("digits/tiny", run, command.replace('"hidden": 4', '"hidden": 5'))
    entry = ship("digits/tiny", run, command, purpose="a test")
    assert entry["file"] == f"digits-tiny-{entry['sha256'][:10]}.pt"
    assert len(entry["test_predictions"]) == entry["test_images"]
    model, record = facnn.pretrained("digits/tiny")
    assert not model.training and record["test_accuracy"] == entry["test_accuracy"]
    assert record["command"].startswith(command + " && python tools/ship_weights.py digits/tiny")


def test_the_tool_is_a_thin_caller_with_clear_refusals(run):
    r = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "ship_weights.py"), "digits/tiny", str(run), "--command", "python x"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode != 0 and "ship_weights: --command must start with 'python -m facnn.train'" in r.stderr
    assert json.loads((run / "results.json").read_text())["epochs"] == 1  # nothing of the run was touched

"""Training to a plateau: the rule, the held-out split it reads, and runs that stop and resume."""

import json

import pytest
import torch

from facnn.models import read_checkpoint
from facnn.train import Callback, TrainConfig, train
from facnn.train.plateau import plateau_state
from facnn.train.runs import RunFolder
from facnn.train.ship import ShipError, ship


def test_the_rule_divides_after_patience_stalls_and_stops_after_the_last():
    rising = [0.5 + 0.01 * i for i in range(50)]
    assert plateau_state(rising, patience=2, lr_drops=2) == (0, False)
    flat = [0.7] * 20
    # epoch 1 sets the best; stalls at epochs 2, 3 → first division; 4, 5 → second; 6, 7 → stop
    states = [plateau_state(flat[:n], patience=2, lr_drops=2) for n in range(1, 8)]
    assert states == [(0, False), (0, False), (1, False), (1, False), (2, False), (2, False), (2, True)]
    # an improvement smaller than 0.1 point is a stall; a larger one resets the count
    assert plateau_state([0.7, 0.7005, 0.7009], patience=2, lr_drops=0) == (0, True)
    assert plateau_state([0.7, 0.7005, 0.702], patience=2, lr_drops=0) == (0, False)


SMALL = dict(dataset="digits", batch_size=64, lr=0.005, model_config={"depth": 2, "hidden": 8, "pool_at": [2]})


def plateau_cfg(**kw):
    return TrainConfig(**{**SMALL, "schedule": "plateau", "validation": 300, "patience": 1, "lr_drops": 1, **kw})


def test_a_plateau_run_stops_before_its_ceiling_dividing_lr_once_and_never_reads_the_test_split(tmp_path):
    model, rec = train(plateau_cfg(epochs=40), tmp_path / "a", progress=False)
    hist = rec["history"]
    assert rec["plateau"]["reached"] and rec["plateau"]["lr_drops"] == 1
    assert 3 <= rec["epochs"] < 40, "patience 1 with one division stops long before 40 epochs"
    lrs = sorted({h["lr"] for h in hist}, reverse=True)
    assert lrs == pytest.approx([0.005, 0.0005])
    assert all("val_acc" in h and "test_acc" in h for h in hist)
    assert rec["plateau"]["best_val_acc"] == max(h["val_acc"] for h in hist)
    assert RunFolder(tmp_path / "a").finished(40), "a run that reached its plateau is complete"
    # another test split changes the reported test accuracy, never the decisions or the weights
    _, other = train(plateau_cfg(epochs=40, test_subset=100), tmp_path / "b", progress=False)
    assert [h["val_acc"] for h in other["history"]] == [h["val_acc"] for h in hist]
    a, b = (read_checkpoint(tmp_path / d / "checkpoint.pt")["state_dict"] for d in ("a", "b"))
    assert all(torch.equal(a[k], b[k]) for k in a)


class StopAfter(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, epoch, record):
        if epoch == self.epoch:
            raise KeyboardInterrupt


COMMAND = (
    "python -m facnn.train --dataset digits --batch-size 64 --lr 0.005 --model-config "
    """'{"depth": 2, "hidden": 8, "pool_at": [2]}' --schedule plateau --validation 300 --patience 1 """
    "--lr-drops 1 --epochs 40"
)


def test_an_interrupted_plateau_run_resumes_to_the_same_decisions_and_weights_and_ships(tmp_path, monkeypatch):
    monkeypatch.setenv("FACNN_WEIGHTS_DIR", str(tmp_path / "weights"))
    (tmp_path / "weights").mkdir()
    _, full = train(plateau_cfg(epochs=40), tmp_path / "full", progress=False)
    stop_at = full["epochs"] - 1  # interrupted after the first division, before the stop
    with pytest.raises(KeyboardInterrupt):
        train(plateau_cfg(epochs=40), tmp_path / "cut", progress=False, callbacks=[StopAfter(stop_at)])
    assert json.loads((tmp_path / "cut" / "results.json").read_text())["plateau"]["reached"] is False
    with pytest.raises(ShipError, match="plateau not reached\\): resume it"):
        ship("digits/plateau", tmp_path / "cut", COMMAND)
    _, cut = train(plateau_cfg(epochs=40), tmp_path / "cut", progress=False, resume=True)
    strip = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h]  # noqa: E731
    assert strip(cut["history"]) == strip(full["history"])
    a, b = (read_checkpoint(tmp_path / d / "checkpoint.pt")["state_dict"] for d in ("full", "cut"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    # resuming a finished run trains nothing more
    _, again = train(plateau_cfg(epochs=40), tmp_path / "cut", progress=False, resume=True)
    assert again["epochs"] == full["epochs"]
    entry = ship("digits/plateau", tmp_path / "cut", COMMAND, purpose="a test")
    assert entry["epochs"] == full["epochs"] < 40 and entry["plateau"] == full["plateau"]
    assert entry["val_history"] == [round(h["val_acc"], 4) for h in full["history"]]


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(schedule="plateau"), "decides on a validation split: set validation"),
        (dict(patience=5), "applies to schedule='plateau' only"),
        (dict(lr_drops=0), "applies to schedule='plateau' only"),
        (dict(schedule="plateau", validation=300, patience=0), "patience=0: must be an integer ≥ 1"),
        (dict(validation=-1), "validation=-1: must be an integer ≥ 0"),
    ],
)
def test_plateau_settings_are_checked_before_anything_runs(kw, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        TrainConfig(**{**SMALL, **kw})


def test_a_validation_split_as_large_as_the_training_split_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"cannot hold out 5000 of its 1438 images: choose 0 < validation < 1438"):
        train(TrainConfig(**SMALL, validation=5000, epochs=1), tmp_path, progress=False)

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from facnn import FACNN, CheckpointError, load_checkpoint, save_checkpoint
from facnn.models import read_checkpoint
from facnn.train import TrainConfig, get_or_train, train
from facnn.train.cli import main

SMALL = [
    "--dataset",
    "digits",
    "--model-config",
    '{"depth": 2, "hidden": 8, "pool_at": [2]}',
    "--lr",
    "0.005",
    "--no-progress",
]


def run(args, env=None, check=True):
    return subprocess.run(
        [sys.executable, "-m", "facnn.train", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
        check=check,
    )


# A run SIGKILLed by a training callback in the middle of epoch 2 (no test code in the loop itself).
KILL_AT_18 = """
import os, signal, sys
from facnn.train import Callback, config_from_args, train
class Kill(Callback):
    def on_step(self, step):
        if step == 18:
            os.kill(os.getpid(), signal.SIGKILL)
cfg, args = config_from_args(sys.argv[1:])
train(cfg, args.out, progress=False, callbacks=[Kill()])
"""


def test_killed_run_resumes_to_identical_weights(tmp_path):
    run([*SMALL, "--epochs", "3", "--out", str(tmp_path / "full")])
    # 1438 training images / 128 = 12 steps per epoch: step 18 is in the middle of epoch 2
    killed = subprocess.run(
        [sys.executable, "-c", KILL_AT_18, *SMALL, "--epochs", "3", "--out", str(tmp_path / "cut")],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -signal.SIGKILL
    assert read_checkpoint(tmp_path / "cut" / "checkpoint.pt")["extra"]["epoch"] == 1
    assert not list((tmp_path / "cut").glob(".*tmp")), "no temp file may be left behind"
    run([*SMALL, "--epochs", "3", "--out", str(tmp_path / "cut"), "--resume"])
    a, b = (read_checkpoint(tmp_path / d / "checkpoint.pt") for d in ("full", "cut"))
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]), k
    strip = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h]  # noqa: E731
    assert strip(a["extra"]["history"]) == strip(b["extra"]["history"])
    assert json.loads((tmp_path / "cut" / "results.json").read_text())["epochs"] == 3


def test_resume_refuses_another_config(tmp_path):
    run([*SMALL, "--epochs", "1", "--out", str(tmp_path)])
    bad = run([*SMALL, "--epochs", "1", "--lr", "0.1", "--out", str(tmp_path), "--resume"], check=False)
    assert bad.returncode != 0 and "another training config" in bad.stderr and "'lr'" in bad.stderr


def test_bad_checkpoints_give_clear_errors(tmp_path):
    m = FACNN(10, depth=2, hidden=8)
    path = save_checkpoint(tmp_path / "m.pt", m)
    assert isinstance(load_checkpoint(path), FACNN)
    with pytest.raises(CheckpointError, match="another shape.*depth: file 2 vs model 3"):
        load_checkpoint(path, FACNN(10, depth=3, hidden=8))
    with pytest.raises(CheckpointError, match="'facnn' model, not 'resnet'"):
        from facnn import ResNet

        load_checkpoint(path, ResNet(10))
    truncated = tmp_path / "t.pt"
    truncated.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CheckpointError, match="t.pt is truncated"):
        load_checkpoint(truncated)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")
    foreign = tmp_path / "f.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a facnn checkpoint"):
        load_checkpoint(foreign)


class Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/facnn-pwned",))


def test_checkpoints_are_never_unpickled(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"format": "facnn-checkpoint/1", "payload": Evil()}, evil)
    with pytest.raises(CheckpointError, match=r"safe load refuses \(posix.system\).*not unpickled"):
        load_checkpoint(evil)
    assert not os.path.exists("/tmp/facnn-pwned")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_gloo_processes_match_single_process(tmp_path):
    args = [
        "--dataset",
        "digits",
        "--model-config",
        '{"depth": 3, "hidden": 16, "pool_at": [2]}',
        "--epochs",
        "20",
        "--lr",
        "0.005",
        "--no-progress",
    ]
    single = json.loads(run([*args, "--out", str(tmp_path / "one")]).stdout.strip().splitlines()[-1])
    ddp = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            str(_free_port()),
            "-m",
            "facnn.train",
            *args,
            "--out",
            str(tmp_path / "two"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=600,
    )
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    res = json.loads((tmp_path / "two" / "results.json").read_text())
    assert res["world_size"] == 2 and res["epochs"] == 20
    assert single["test_accuracy"] > 0.75 and res["test_accuracy"] > 0.75
    assert abs(single["test_accuracy"] - res["test_accuracy"]) < 0.08  # same accuracy within noise


def test_get_or_train_uses_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FACNN_HOME", str(tmp_path))
    cfg = TrainConfig(dataset="digits", epochs=1, model_config={"depth": 1, "hidden": 4})
    m1, r1 = get_or_train(cfg, progress=False)
    ckpt = next((tmp_path / "data" / "checkpoints").glob("facnn-digits-*/checkpoint.pt"))
    mtime = ckpt.stat().st_mtime_ns
    m2, r2 = get_or_train(cfg, progress=False)
    assert ckpt.stat().st_mtime_ns == mtime and r1["test_accuracy"] == r2["test_accuracy"]
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), k
    assert cfg.key() != TrainConfig(dataset="digits", epochs=2, model_config=cfg.model_config).key()
    # the recorded command names a plain config file that reproduces the run
    args = shlex.split(r1["command"])
    assert args[:4] == ["python", "-m", "facnn.train", "--config"], r1["command"]
    cfg_file = ckpt.parent / "config.json"
    assert Path(args[4]).resolve() == cfg_file.resolve()
    again = main(["--config", str(cfg_file), "--out", str(tmp_path / "again"), "--no-progress"])
    assert again["test_accuracy"] == r1["test_accuracy"] and again["config"] == r1["config"]


def test_training_is_deterministic_and_checks_classes(tmp_path):
    cfg = TrainConfig(dataset="digits", epochs=1, model_config={"depth": 1, "hidden": 4})
    _, a = train(cfg, tmp_path / "a", progress=False)
    _, b = train(cfg, tmp_path / "b", progress=False)
    assert a["history"][0]["train_loss"] == b["history"][0]["train_loss"]
    with pytest.raises(ValueError, match="num_classes=5"):
        train(TrainConfig(dataset="digits", epochs=1, model_config={"num_classes": 5}), tmp_path / "c", progress=False)


def test_test_every_skips_evaluations_between_but_not_the_last_and_never_changes_the_weights(tmp_path):
    cfg = TrainConfig(dataset="digits", epochs=3, model_config={"depth": 1, "hidden": 4})
    _, every = train(cfg, tmp_path / "every", progress=False)
    _, sparse = train(TrainConfig(**{**cfg.__dict__, "test_every": 2}), tmp_path / "sparse", progress=False)
    assert ["test_acc" in h for h in sparse["history"]] == [False, True, True]  # epoch 2, and 3 (the last)
    assert sparse["test_accuracy"] == every["test_accuracy"]
    assert [h["train_loss"] for h in sparse["history"]] == [h["train_loss"] for h in every["history"]]
    a, b = (read_checkpoint(tmp_path / d / "checkpoint.pt")["state_dict"] for d in ("every", "sparse"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert TrainConfig(**{**cfg.__dict__, "test_every": 2}).key() == cfg.key()  # the same cached run
    with pytest.raises(ValueError, match="test_every=2.*plateau.*drop test_every"):
        TrainConfig(dataset="digits", schedule="plateau", validation=100, test_every=2)
    with pytest.raises(ValueError, match="test_every=0"):
        TrainConfig(dataset="digits", test_every=0)


def test_cli_help_lists_config_fields():
    out = run(["--help"]).stdout
    assert "--maps" not in out and "--model-config" in out and "--resume" in out and "--train-subset" in out


def test_a_non_finite_loss_stops_training_with_the_steps_it_happened_between(tmp_path):
    """The loop reads the running loss on the host only every CHECK_EVERY steps (no sync per step),
    so a divergence is reported between two checks, before any epoch is saved."""
    from facnn.train.loop import CHECK_EVERY

    cfg = TrainConfig(
        dataset="digits",
        epochs=1,
        batch_size=8,
        lr=1e30,
        warmup=0.0,
        schedule="constant",
        model_config={"depth": 1, "hidden": 4},
    )
    with pytest.raises(FloatingPointError, match=r"non-finite at epoch 1, between steps \d+ and \d+: lower lr"):
        train(cfg, tmp_path / "run", progress=False)
    assert CHECK_EVERY > 1 and not (tmp_path / "run" / "checkpoint.pt").exists()

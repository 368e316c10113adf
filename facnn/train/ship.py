"""Ship a finished training run as package weights: a slim checkpoint (no optimizer state) named
``<name>-<sha256[:10]>.pt`` in ``facnn/weights/`` and its entry in the manifest
(:mod:`facnn.models.pretrained` reads both). ``python tools/ship_weights.py`` is the command line.

The test accuracy written to the manifest is re-measured from the slim file itself, on the whole
test split, with the per-image predictions that paired comparisons of shipped models use.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import torch

from facnn.core.paths import git_commit
from facnn.data.datasets import load_dataset
from facnn.models.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from facnn.models.inference import predict
from facnn.models.pretrained import encode_predictions, manifest, pretrained, sha256_of, weights_dir, write_manifest
from facnn.train.cli import config_from_args
from facnn.train.config import TrainConfig
from facnn.train.runs import run_complete

__all__ = ["ShipError", "measure", "check_command", "add_predictions", "ship"]


class ShipError(RuntimeError):
    """A run that cannot be shipped as asked (unfinished, another config, a changed accuracy)."""


def measure(model: torch.nn.Module, dataset: str) -> tuple[int, int, str]:
    """``(correct, images, predictions)`` of ``model`` on the whole test split; the predicted
    classes as one digit per image (so accuracies of two shipped models can be compared paired)."""
    x, y = load_dataset(dataset, "test").tensors()
    pred = predict(model, x)
    return int((pred == y).sum()), len(y), encode_predictions(pred)


def check_command(command: str, train_config: dict) -> None:
    """Refuse a retraining command that would not train ``train_config`` (same weights-relevant fields)."""
    args = shlex.split(command)
    if args[:3] != ["python", "-m", "facnn.train"]:
        raise ShipError(f"--command must start with 'python -m facnn.train', got {command!r}")
    cfg, _ = config_from_args(args[3:])
    if cfg.key() != TrainConfig(**train_config).key():
        raise ShipError(f"--command {command!r} trains a different config than the run's: {cfg} vs {train_config}")


def add_predictions(name: str) -> None:
    """Re-measure a shipped model and store its per-image predictions in the manifest (its count
    of correct images must not change)."""
    models = manifest()
    model, rec = pretrained(name)
    correct, n, preds = measure(model, rec["dataset"])
    if (correct, n) != (rec["test_correct"], rec["test_images"]):
        raise ShipError(
            f"{name}: re-measured {correct}/{n}, the manifest says {rec['test_correct']}/{rec['test_images']}"
        )
    models[name]["test_predictions"] = preds
    write_manifest(models)
    print(f"{name}: predictions added ({correct}/{n} correct, as recorded)")


def ship(
    name: str, run: Path, command: str, purpose: str = "headline", allow_unfinished: bool = False
) -> dict[str, Any]:
    """Ship the run in folder ``run`` as ``name`` (``"<dataset>/<model>"``); ``command`` retrains it
    from scratch. Returns the manifest entry written."""
    res = json.loads((run / "results.json").read_text())
    check_command(command, res["config"])
    ckpt = read_checkpoint(run / "checkpoint.pt")
    if not run_complete(res, ckpt["extra"]["epoch"], res["config"]["epochs"]) and not allow_unfinished:
        raise ShipError(
            f"{run} is unfinished ({ckpt['extra']['epoch']} of {res['config']['epochs']} epochs"
            + (", plateau not reached" if "plateau" in res else "")
            + "): resume it with the same command and --resume"
        )
    model = load_checkpoint(run / "checkpoint.pt").eval()
    folder = weights_dir()
    stem = name.replace("/", "-")
    tmp = save_checkpoint(folder / f".{stem}.pt", model)
    digest = sha256_of(tmp)
    final = folder / f"{stem}-{digest[:10]}.pt"
    tmp.replace(final)
    correct, n, preds = measure(load_checkpoint(final).eval(), res["dataset"])
    models = manifest()
    old = models.get(name, {}).get("file")
    if old and old != final.name:
        (folder / old).unlink(missing_ok=True)
    commit = git_commit()
    models[name] = dict(
        file=final.name,
        sha256=digest,
        bytes=final.stat().st_size,
        model=res["model"],
        dataset=res["dataset"],
        model_config=model.config,
        train_config=res["config"],
        params=res["params"],
        test_accuracy=correct / n,
        test_correct=correct,
        test_images=n,
        training_test_accuracy=res["test_accuracy"],
        epochs=res["epochs"],
        seed=res["seed"],
        torch=res["torch"],
        threads=res["threads"],
        device=res["device"],
        wall_time_s=round(res["wall_time"], 1),
        history=[round(h["test_acc"], 4) if "test_acc" in h else None for h in res["history"]],
        command=f"{command} && python tools/ship_weights.py {name} {run} --command {shlex.quote(command)}"
        + (f" --purpose {shlex.quote(purpose)}" if purpose != "headline" else ""),
        train_accuracy=round(res["history"][-1]["train_acc"], 4),
        purpose=purpose,
        trained_at_commit=commit,
        test_predictions=preds,
    )
    if "plateau" in res:  # trained to a plateau: where it stopped and what the validation split said
        models[name]["plateau"] = res["plateau"]
        models[name]["val_history"] = [round(h["val_acc"], 4) for h in res["history"]]
    write_manifest(models)
    return models[name]

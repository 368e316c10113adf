"""Ship a finished training run as package weights: a slim checkpoint (no optimizer state) named
``<name>-<sha256[:10]>.pt`` in ``facnn/weights/`` and its entry in ``manifest.json``.

    python tools/ship_weights.py fashion-mnist/facnn runs/pretrained/facnn \
        --command "python -m facnn.train --config fashion_mnist_facnn --epochs 20 --out runs/pretrained/facnn"

The test accuracy written to the manifest is re-measured here, on the whole test split, from the
slim file itself (the number ``tests/test_pretrained.py`` must reproduce).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
from pathlib import Path

import torch

from facnn.core.files import atomic_write
from facnn.models import load_checkpoint, read_checkpoint, save_checkpoint
from facnn.models.pretrained import FORMAT, manifest, sha256_of, weights_dir

ROOT = Path(__file__).resolve().parent.parent


def test_accuracy(model: torch.nn.Module, dataset: str) -> tuple[int, int, str]:
    """``(correct, images, predictions)`` of ``model`` on the whole test split; the predicted
    classes as one digit per image (so accuracies of two shipped models can be compared paired)."""
    from facnn.data import load_dataset
    from facnn.models import predict

    x, y = load_dataset(dataset, "test").tensors()
    pred = predict(model, x)
    if int(pred.max()) > 9:
        raise SystemExit("test_predictions are stored one digit per image: more than 10 classes needs another encoding")
    return int((pred == y).sum()), len(y), "".join(map(str, pred.tolist()))


def check_command(command: str, train_config: dict) -> None:
    """Refuse a retraining command that would not train ``train_config`` (same weights-relevant fields)."""
    from facnn.train import TrainConfig
    from facnn.train.cli import config_from_args

    args = shlex.split(command)
    if args[:3] != ["python", "-m", "facnn.train"]:
        raise SystemExit(f"--command must start with 'python -m facnn.train', got {command!r}")
    cfg, _ = config_from_args(args[3:])
    if cfg.key() != TrainConfig(**train_config).key():
        raise SystemExit(f"--command {command!r} trains a different config than the run's: {cfg} vs {train_config}")


def add_predictions(name: str) -> None:
    """Re-measure a shipped model and store its per-image predictions in the manifest (its count
    of correct images must not change)."""
    from facnn.models import pretrained

    models = manifest()
    model, rec = pretrained(name)
    correct, n, preds = test_accuracy(model, rec["dataset"])
    if (correct, n) != (rec["test_correct"], rec["test_images"]):
        raise SystemExit(
            f"{name}: re-measured {correct}/{n}, the manifest says {rec['test_correct']}/{rec['test_images']}"
        )
    models[name]["test_predictions"] = preds
    body = json.dumps({"format": FORMAT, "models": dict(sorted(models.items()))}, indent=1)
    atomic_write(weights_dir() / "manifest.json", lambda q: q.write_text(body + "\n"))
    print(f"{name}: predictions added ({correct}/{n} correct, as recorded)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name", help='"<dataset>/<model>", e.g. fashion-mnist/facnn')
    p.add_argument("run", type=Path, nargs="?", help="run folder with checkpoint.pt and results.json")
    p.add_argument(
        "--command", help="the command that retrains this run from scratch (required unless --add-predictions)"
    )
    p.add_argument("--add-predictions", action="store_true", help="only add per-image test predictions to NAME's entry")
    p.add_argument("--allow-unfinished", action="store_true", help="ship a run's latest epoch (trials only)")
    p.add_argument(
        "--purpose",
        default="headline",
        help='"headline" (a fully trained model of the tables) or what a brief run ships for, e.g. '
        '"CoDA-Net temperature sweep (notebook 05, CPU budget)"',
    )
    args = p.parse_args()
    if args.add_predictions:
        return add_predictions(args.name)
    if not args.command:
        p.error("--command is required to ship a run")
    res = json.loads((args.run / "results.json").read_text())
    check_command(args.command, res["config"])
    ckpt = read_checkpoint(args.run / "checkpoint.pt")
    if ckpt["extra"]["epoch"] != res["config"]["epochs"] and not args.allow_unfinished:
        raise SystemExit(f"{args.run} is unfinished ({ckpt['extra']['epoch']} of {res['config']['epochs']} epochs)")
    model = load_checkpoint(args.run / "checkpoint.pt").eval()
    folder = weights_dir()
    stem = args.name.replace("/", "-")
    tmp = save_checkpoint(folder / f".{stem}.pt", model)
    digest = sha256_of(tmp)
    final = folder / f"{stem}-{digest[:10]}.pt"
    tmp.replace(final)
    correct, n, preds = test_accuracy(load_checkpoint(final).eval(), res["dataset"])
    models = manifest()
    old = models.get(args.name, {}).get("file")
    if old and old != final.name:
        (folder / old).unlink(missing_ok=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    models[args.name] = dict(
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
        history=[round(h["test_acc"], 4) for h in res["history"]],
        command=f"{args.command} && python tools/ship_weights.py {args.name} {args.run} --command "
        f"{shlex.quote(args.command)}"
        + (f" --purpose {shlex.quote(args.purpose)}" if args.purpose != "headline" else ""),
        train_accuracy=round(res["history"][-1]["train_acc"], 4),
        purpose=args.purpose,
        trained_at_commit=commit,
        test_predictions=preds,
    )
    body = json.dumps({"format": FORMAT, "models": dict(sorted(models.items()))}, indent=1)
    atomic_write(folder / "manifest.json", lambda q: q.write_text(body + "\n"))
    print(
        json.dumps({"name": args.name, "file": final.name, "test_accuracy": correct / n, "bytes": final.stat().st_size})
    )


if __name__ == "__main__":
    main()

"""Training: one loop for FA-CNN, the ResNet baseline and CoDA-Net; resumable, seeded, DDP-ready.

Use from Python (``train(TrainConfig(...))``, ``get_or_train(config)``) or the command line::

    python -m facnn.train --model facnn --epochs 10 --out runs/facnn
    python -m facnn.train --config fashion_mnist_facnn --resume     # a name from facnn/configs/ or a path
    torchrun --nproc_per_node 2 -m facnn.train --config ... --out runs/ddp

Every epoch ends with an atomic checkpoint (``checkpoint.pt``) and ``results.json`` (config,
seed, per-epoch metrics, wall time, device). ``--resume`` continues from the last completed
epoch; since each epoch's shuffling and augmentation are seeded by ``(seed, epoch)``, a resumed
run ends with the same weights as an uninterrupted one (on CPU).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import shlex
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .config import TrainConfig, load_config, merge
from .checkpoint import atomic_write, load_checkpoint, read_checkpoint, save_checkpoint
from .data import augment, batches, load_dataset
from .models import build_model, count_params
from .paths import checkpoint_dir

__all__ = ["TrainConfig", "train", "get_or_train", "evaluate", "main"]


def _lr_at(cfg: TrainConfig, step: int, total: int) -> float:
    if cfg.schedule == "constant":
        return cfg.lr
    warm = int(cfg.warmup * total) if cfg.schedule == "onecycle" else 0
    if step < warm:
        return cfg.lr * (0.04 + 0.96 * step / warm)
    t = (step - warm) / max(1, total - warm)
    return cfg.lr * (0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


def _loss(cfg: TrainConfig, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if cfg.loss == "bce":
        target = F.one_hot(y, logits.shape[1]).to(logits.dtype)
        if cfg.label_smoothing:
            target = target * (1 - cfg.label_smoothing) + cfg.label_smoothing / logits.shape[1]
        return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / len(y)
    return F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)


@torch.no_grad()
def evaluate(model: nn.Module, data, batch_size: int = 1000, device="cpu", rank: int = 0, world: int = 1):
    """``(mean cross-entropy, accuracy)`` of ``model`` on ``data`` (summed over DDP processes)."""
    model.eval()
    tot = torch.zeros(3, dtype=torch.float64, device=device)
    for x, y in batches(data, batch_size, device=device, rank=rank, world=world):
        out = model(x).float()
        tot += torch.tensor([F.cross_entropy(out, y, reduction="sum"), (out.argmax(1) == y).sum(), len(y)], device=device, dtype=torch.float64)  # fmt: skip
    if world > 1:
        torch.distributed.all_reduce(tot)
    return (tot[0] / tot[2]).item(), (tot[1] / tot[2]).item()


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _datasets(cfg: TrainConfig):
    kw = dict(root=cfg.data_root, image_size=cfg.image_size)
    train_ds = load_dataset(cfg.dataset, "train", **kw).subset(cfg.train_subset, cfg.seed)
    test_ds = load_dataset(cfg.dataset, "test", **kw).subset(cfg.test_subset, cfg.seed)
    return train_ds, test_ds


def model_config_for(cfg: TrainConfig, data) -> dict[str, Any]:
    """``cfg.model_config`` completed with the dataset's classes, channels and statistics."""
    mc = dict(cfg.model_config)
    mc.setdefault("num_classes", data.num_classes)
    mc.setdefault("in_channels", data.in_channels)
    if cfg.model != "coda":
        mc.setdefault("mean", list(data.mean))
        mc.setdefault("std", list(data.std))
    if mc["num_classes"] != data.num_classes:
        raise ValueError(f"model_config has num_classes={mc['num_classes']} but {cfg.dataset} has {data.num_classes}")
    return mc


def train(
    cfg: TrainConfig,
    out_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
    command: str | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Train a model; return it (eval mode, on its device) and the results record.

    Parameters
    ----------
    cfg
        The run's :class:`TrainConfig`.
    out_dir
        Where ``checkpoint.pt`` and ``results.json`` go (default: the cache folder for ``cfg``).
    resume
        Continue from ``out_dir/checkpoint.pt`` if it exists (its config must equal ``cfg``).
    progress
        Show tqdm bars (epochs and batches, with loss and accuracy).
    command
        The command line recorded in the results (default: ``sys.argv``).

    Raises
    ------
    ValueError
        ``resume`` finds a checkpoint made with another config.
    """
    from tqdm import tqdm

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = _device(cfg.device)
    if world > 1:
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        if not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    out = Path(out_dir) if out_dir is not None else checkpoint_dir() / f"{cfg.model}-{cfg.dataset}-{cfg.key()}"
    ckpt_path, results_path = out / "checkpoint.pt", out / "results.json"

    train_ds, test_ds = _datasets(cfg)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, model_config_for(cfg, train_ds)).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    elif cfg.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay)
    else:
        raise ValueError(f"optimizer must be 'adamw' or 'sgd', got {cfg.optimizer!r}")

    history: list[dict[str, Any]] = []
    start_epoch, wall_before = 0, 0.0
    if resume and ckpt_path.is_file():
        ckpt = read_checkpoint(ckpt_path, map_location=device)
        saved = TrainConfig(**ckpt["extra"]["train_config"])
        if saved.key() != cfg.key():
            diff = sorted(k for k, v in asdict(cfg).items() if asdict(saved)[k] != v)
            raise ValueError(f"{ckpt_path} was made by another training config (differs in {diff}); "
                             f"use another out_dir or resume=False")  # fmt: skip
        load_checkpoint(ckpt_path, model, map_location=device)
        opt.load_state_dict(ckpt["optimizer"])
        history, start_epoch = ckpt["extra"]["history"], ckpt["extra"]["epoch"]
        wall_before = ckpt["extra"]["wall_time"]

    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    if cfg.compile and device.type == "cuda":
        net = torch.compile(net)
    local_bs = max(1, cfg.batch_size // world)
    steps_per_epoch = math.ceil(math.ceil(len(train_ds) / world) / local_bs)
    total = steps_per_epoch * cfg.epochs
    kill_at = int(os.environ.get("FACNN_KILL_AT_STEP", "-1"))  # test hook: SIGKILL itself mid-run
    use_amp = cfg.amp and device.type == "cuda"
    show = progress and rank == 0
    t0 = time.perf_counter()
    epochs = tqdm(range(start_epoch, cfg.epochs), desc="epochs", disable=not show, initial=start_epoch, total=cfg.epochs)
    for epoch in epochs:
        net.train()
        g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        sums = torch.zeros(3, dtype=torch.float64)
        te = time.perf_counter()
        bar = tqdm(batches(train_ds, local_bs, shuffle=True, generator=g, device=device, rank=rank, world=world,
                           num_workers=cfg.num_workers),
                   total=steps_per_epoch, desc=f"epoch {epoch + 1}", leave=False, disable=not show, mininterval=2)  # fmt: skip
        for i, (x, y) in enumerate(bar):
            step = epoch * steps_per_epoch + i
            if step == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            for group in opt.param_groups:
                group["lr"] = _lr_at(cfg, step, total)
            if cfg.augment:
                x = augment(x, g)
            if cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = net(x)
                loss = _loss(cfg, logits.float(), y)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at epoch {epoch + 1}, step {i}: lower lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sums += torch.tensor([loss.item() * len(y), (logits.argmax(1) == y).sum().item(), len(y)], dtype=torch.float64)  # fmt: skip
            if i % 20 == 0:
                bar.set_postfix(loss=f"{sums[0] / sums[2]:.3f}", acc=f"{sums[1] / sums[2]:.3f}")
        if world > 1:
            sums = sums.to(device)
            torch.distributed.all_reduce(sums)
            sums = sums.cpu()
        test_loss, test_acc = evaluate(model, test_ds, device=device, rank=rank, world=world)
        history.append(dict(
            epoch=epoch + 1, train_loss=(sums[0] / sums[2]).item(), train_acc=(sums[1] / sums[2]).item(),
            test_loss=test_loss, test_acc=test_acc, lr=_lr_at(cfg, (epoch + 1) * steps_per_epoch - 1, total),
            seconds=time.perf_counter() - te,
        ))  # fmt: skip
        epochs.set_postfix(test_acc=f"{test_acc:.4f}")
        wall = wall_before + time.perf_counter() - t0
        if rank == 0:
            extra = dict(train_config=asdict(cfg), history=history, epoch=epoch + 1, wall_time=wall)
            save_checkpoint(ckpt_path, model, optimizer=opt, extra=extra)
            results = _results(cfg, model, history, wall, device, world, command)
            atomic_write(results_path, lambda p: p.write_text(json.dumps(results, indent=1)))
    if world > 1:
        torch.distributed.barrier()
    model.eval()
    return model, _results(cfg, model, history, wall_before + time.perf_counter() - t0, device, world, command)


def _results(cfg, model, history, wall, device, world, command) -> dict[str, Any]:
    last = history[-1] if history else {}
    return dict(
        model=cfg.model, dataset=cfg.dataset, config=asdict(cfg), model_config=model.config, seed=cfg.seed,
        epochs=len(history), test_accuracy=last.get("test_acc"), params=count_params(model), history=history,
        wall_time=wall, device=str(device), world_size=world, torch=torch.__version__,
        threads=torch.get_num_threads(), host=platform.node(),
        command=command or " ".join(shlex.quote(a) for a in ["python", "-m", "facnn.train", *sys.argv[1:]]),
    )  # fmt: skip


def get_or_train(
    cfg: TrainConfig, *, progress: bool = True, device: str | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """Return the trained model for ``cfg`` from the checkpoint cache, training only if it is absent.

    The cache folder is ``data/checkpoints/<model>-<dataset>-<cfg.key()>``; an interrupted run
    there is resumed. The model is returned in eval mode on ``device`` (default: ``cfg.device``).
    """
    out = checkpoint_dir() / f"{cfg.model}-{cfg.dataset}-{cfg.key()}"
    results_path = out / "results.json"
    dev = _device(device or cfg.device)
    if results_path.is_file() and (out / "checkpoint.pt").is_file():
        results = json.loads(results_path.read_text())
        if results.get("epochs") == cfg.epochs:
            model = load_checkpoint(out / "checkpoint.pt", map_location="cpu").to(dev).eval()
            return model, results
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "config.json"  # the exact config, so the recorded command is a plain one
    atomic_write(cfg_path, lambda p: p.write_text(json.dumps(asdict(cfg), indent=1)))
    cmd = f"python -m facnn.train --config {shlex.quote(_shown(cfg_path))} --out {shlex.quote(_shown(out))} --resume"
    model, results = train(cfg, out, resume=True, progress=progress, command=cmd)
    return model.to(dev).eval(), results


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m facnn.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)  # fmt: skip
    p.add_argument("--config", help="JSON file with TrainConfig fields, or a name in facnn/configs/ (flags override it)")
    p.add_argument("--out", help="output folder (default: the cache folder for this config)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type == "bool":
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        elif f.name == "model_config":
            p.add_argument(flag, type=json.loads, default=None, help='JSON, e.g. \'{"depth": 6}\'')
        else:
            conv = {"int": int, "float": float, "int | None": int}.get(f.type, str)
            p.add_argument(flag, type=conv, default=None)
    return p


def config_from_args(argv: list[str] | None = None) -> tuple[TrainConfig, argparse.Namespace]:
    """The :class:`TrainConfig` the command line describes: ``--config`` (name or file) with every
    other flag merged over it (``--model-config`` key by key), validated."""
    args = _parser().parse_args(argv)
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)}
    try:
        cfg = load_config(args.config, **overrides) if args.config else TrainConfig(**merge({}, overrides))
    except (FileNotFoundError, ValueError, TypeError) as e:
        raise SystemExit(f"facnn.train: {e}") from None
    return cfg, args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    cfg, args = config_from_args(argv)
    _, results = train(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({k: results[k] for k in ("model", "dataset", "epochs", "test_accuracy", "params", "wall_time")}))
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return results


if __name__ == "__main__":
    main()

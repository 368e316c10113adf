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

import contextlib
import inspect
import math
import os
import shlex
import time
from collections.abc import Sequence
from functools import partial
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from facnn.core.devices import resolve_device
from facnn.core.distributed import setup_distributed
from facnn.core.paths import shown_path
from facnn.core.registry import build_model, model_class
from facnn.data.datasets import augment, batches, load_dataset
from facnn.models.checkpoint import load_checkpoint
from facnn.train.config import TrainConfig
from facnn.train.memory import accumulated_backward, checkpointed_layers
from facnn.train.plateau import FACTOR, plateau_state
from facnn.train.runs import RunFolder, RunLocked, cache_folder, record

__all__ = ["Callback", "train", "get_or_train", "evaluate", "model_config_for", "training_loss"]


CHECK_EVERY = 50  # steps between the host's reads of the running loss (finiteness, progress)


def _check_finite(sums: torch.Tensor, epoch: int, first: int, last: int) -> None:
    """Refuse a running loss sum that is no longer finite, naming the steps it went bad between."""
    if not torch.isfinite(sums[0]):
        raise FloatingPointError(
            f"the loss became non-finite at epoch {epoch + 1}, between steps {first} and {last}: "
            "lower lr (or turn off amp)"
        )


def _lr_at(cfg: TrainConfig, step: int, total: int, scale: float = 1.0) -> float:
    """The learning rate at global ``step`` of ``total``; ``scale`` is the plateau schedule's factor."""
    if cfg.schedule in ("constant", "plateau"):
        return cfg.lr * scale
    warm = int(cfg.warmup * total) if cfg.schedule == "onecycle" else 0
    if step < warm:
        return cfg.lr * (0.04 + 0.96 * step / warm)
    t = (step - warm) / max(1, total - warm)
    return cfg.lr * (0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


def training_loss(cfg: TrainConfig, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The loss ``cfg`` trains with: BCE on one-hot targets (CoDA-Nets, B-cos) or cross-entropy,
    with ``cfg.label_smoothing``.

    BCE is summed over classes and averaged over the batch (``loss_reduction="sum_classes"``, the
    default) or averaged over batch × classes (``"mean"``, the authors' ``BCEWithLogitsLoss()``):
    ``"mean"`` is the default divided by the number of classes.

    Examples
    --------
    >>> logits, y = torch.zeros(4, 10), torch.tensor([0, 1, 2, 3])
    >>> ours = training_loss(TrainConfig(dataset="digits", loss="bce"), logits, y)
    >>> theirs = training_loss(TrainConfig(dataset="digits", loss="bce", loss_reduction="mean"), logits, y)
    >>> round(float(ours / theirs), 4)
    10.0
    """
    if cfg.loss == "bce":
        target = F.one_hot(y, logits.shape[1]).to(logits.dtype)
        if cfg.label_smoothing:
            target = target * (1 - cfg.label_smoothing) + cfg.label_smoothing / logits.shape[1]
        if cfg.loss_reduction == "mean":
            return F.binary_cross_entropy_with_logits(logits, target, reduction="mean")
        return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / len(y)
    return F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)


@torch.no_grad()
def evaluate(model: nn.Module, data, batch_size: int = 1000, device="cpu", rank: int = 0, world: int = 1):
    """``(mean cross-entropy, accuracy)`` of ``model`` on ``data`` (summed over DDP processes)."""
    model.eval()
    tot = torch.zeros(3, dtype=torch.float64, device=device)
    for x, y in batches(data, batch_size, device=device, rank=rank, world=world):
        out = model(x).float()
        tot += torch.tensor(
            [F.cross_entropy(out, y, reduction="sum"), (out.argmax(1) == y).sum(), len(y)],
            device=device,
            dtype=torch.float64,
        )
    if world > 1:
        torch.distributed.all_reduce(tot)
    return (tot[0] / tot[2]).item(), (tot[1] / tot[2]).item()


def _datasets(cfg: TrainConfig):
    """``(train, validation or None, test)`` as ``cfg`` describes them."""
    kw: dict[str, Any] = dict(root=cfg.data_root, image_size=cfg.image_size)
    own: dict[str, Any] = dict(augment=cfg.augment, seed=cfg.seed) if cfg.dataset == "imagefolder" else {}
    train_ds = load_dataset(cfg.dataset, "train", **kw, **own).subset(cfg.train_subset, cfg.seed)
    val_ds = None
    if cfg.validation:
        if not hasattr(train_ds, "split"):
            raise ValueError(
                f"validation={cfg.validation} holds images out of an in-memory dataset; {cfg.dataset!r} is read "
                "from folders: pass validation=0 and give the validation images as their own folder"
            )
        train_ds, val_ds = train_ds.split(cfg.validation, cfg.seed)
    if cfg.shuffle_labels:
        if not hasattr(train_ds, "with_shuffled_labels"):
            raise ValueError(f"shuffle_labels needs an in-memory dataset; {cfg.dataset!r} is read from folders")
        train_ds = train_ds.with_shuffled_labels(cfg.seed)
    test_ds = load_dataset(cfg.dataset, "test", **kw).subset(cfg.test_subset, cfg.seed)
    return train_ds, val_ds, test_ds


def model_config_for(cfg: TrainConfig, data) -> dict[str, Any]:
    """``cfg.model_config`` completed with the dataset's classes, channels and statistics."""
    mc = dict(cfg.model_config)
    mc.setdefault("num_classes", data.num_classes)
    mc.setdefault("in_channels", data.in_channels)
    if "mean" in inspect.signature(model_class(cfg.model)).parameters:  # CoDA/B-cos see [x, 1-x], unnormalised
        mc.setdefault("mean", list(data.mean))
        mc.setdefault("std", list(data.std))
    if mc["num_classes"] != data.num_classes:
        raise ValueError(f"model_config has num_classes={mc['num_classes']} but {cfg.dataset} has {data.num_classes}")
    return mc


class Callback:
    """Hooks into the training loop (tests use them to interrupt a run at a given step)."""

    def on_step(self, step: int) -> None:
        """Called before global step ``step`` (0-based) runs."""

    def on_epoch_end(self, epoch: int, record: dict[str, Any]) -> None:
        """Called after epoch ``epoch`` (1-based) is checkpointed."""


def _optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay)


def _train_epoch(
    cfg: TrainConfig,
    net: nn.Module,
    opt: torch.optim.Optimizer,
    train_ds,
    epoch: int,
    steps: int,
    total: int,
    device: torch.device,
    rank: int,
    world: int,
    callbacks,
    show: bool,
    scale: float = 1.0,
) -> torch.Tensor:
    """One epoch; returns ``(loss sum, correct, count)`` summed over DDP processes."""
    from tqdm.auto import tqdm  # notebook widgets in Jupyter (nested bars there redraw in place), text elsewhere

    net.train()
    g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
    use_amp = cfg.amp and device.type == "cuda"
    # loss sum, correct, count: accumulated on the device, read by the host only every CHECK_EVERY steps
    acc = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
    sums = torch.zeros(3, dtype=acc, device=device)
    checked = done = 0  # steps known to have a finite loss; steps done
    if hasattr(train_ds, "set_epoch"):  # transforms drawn per (seed, epoch, image) in the workers
        train_ds.set_epoch(epoch)
    self_augmented = getattr(train_ds, "augments_itself", False)
    data = batches(
        train_ds,
        max(1, cfg.batch_size // world),
        shuffle=True,
        generator=g,
        device=device,
        rank=rank,
        world=world,
        num_workers=cfg.num_workers,
    )
    bar = tqdm(data, total=steps, desc=f"epoch {epoch + 1}", leave=False, disable=not show, mininterval=2)
    for i, (x, y) in enumerate(bar):
        step = epoch * steps + i
        for cb in callbacks:
            cb.on_step(step)
        for group in opt.param_groups:
            group["lr"] = _lr_at(cfg, step, total, scale)
        if cfg.augment and not self_augmented:  # in-memory data: the seeded pad-2 shift and flip
            x = augment(x, g)
        if cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        opt.zero_grad(set_to_none=True)
        loss, logits = accumulated_backward(
            net,
            x,
            y,
            partial(training_loss, cfg),
            cfg.accumulate,
            lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp),
        )
        opt.step()
        n = torch.tensor(float(len(y)), dtype=acc, device=device)
        sums += torch.stack([loss.detach().to(acc) * n, (logits.argmax(1) == y).sum().to(acc), n])
        done = i + 1
        if done % CHECK_EVERY == 0:  # one host sync per CHECK_EVERY steps
            _check_finite(sums, epoch, checked, i)
            checked = done
        if show and i % 20 == 0:  # the progress bar reads the device only when shown
            bar.set_postfix(loss=f"{sums[0] / sums[2]:.3f}", acc=f"{sums[1] / sums[2]:.3f}")
    _check_finite(sums, epoch, checked, done - 1)  # the epoch's last stretch
    if world > 1:
        torch.distributed.all_reduce(sums)
    return sums.cpu().double()


def train(
    cfg: TrainConfig,
    out_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
    command: str | None = None,
    callbacks: Sequence[Callback] = (),
    overwrite: bool = False,
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
    overwrite
        Replace a run already in ``out_dir`` (without ``resume`` or ``overwrite`` an existing run
        is refused, never overwritten). One process trains into a folder at a time (``.lock``).
    progress
        Show tqdm bars (epochs and batches, with loss and accuracy).
    command
        The command line recorded in the results (default: ``sys.argv``).
    callbacks
        :class:`Callback` objects called at every step and after every checkpointed epoch.

    Raises
    ------
    ValueError
        ``resume`` finds a checkpoint made with another config.
    FileExistsError
        ``out_dir`` holds a run and neither ``resume`` nor ``overwrite`` is set.
    RuntimeError
        Another live process is training into ``out_dir``.

    Examples
    --------
    >>> model, res = train(TrainConfig(dataset="digits", epochs=1), "runs/digits")  # doctest: +SKIP
    """
    device, world, rank = setup_distributed(resolve_device(cfg.device))
    folder = RunFolder(out_dir if out_dir is not None else cache_folder(cfg))
    if rank != 0:
        return _train(cfg, folder, device, world, rank, resume, progress, command, callbacks)
    with folder.lock():
        folder.check_free(resume, overwrite)
        return _train(cfg, folder, device, world, rank, resume, progress, command, callbacks)


def _train(
    cfg: TrainConfig,
    folder: RunFolder,
    device: torch.device,
    world: int,
    rank: int,
    resume: bool,
    progress: bool,
    command: str | None,
    callbacks: Sequence[Callback],
) -> tuple[nn.Module, dict[str, Any]]:
    from tqdm.auto import tqdm  # notebook widgets in Jupyter (nested bars there redraw in place), text elsewhere

    train_ds, val_ds, test_ds = _datasets(cfg)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, model_config_for(cfg, train_ds)).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = _optimizer(cfg, model)
    state = folder.resume(cfg, model, opt, device) if resume else {}
    history, wall_before = state.get("history", []), state.get("wall_time", 0.0)
    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    if cfg.compile and device.type == "cuda":
        net = cast(nn.Module, torch.compile(net))  # an OptimizedModule; torch's stubs say "Callable"
    steps = math.ceil(math.ceil(len(train_ds) / world) / max(1, cfg.batch_size // world))
    show, t0 = progress and rank == 0, time.perf_counter()
    epochs = tqdm(
        range(len(history), cfg.epochs), desc="epochs", disable=not show, initial=len(history), total=cfg.epochs
    )
    for epoch in epochs:
        scale = 1.0
        if cfg.schedule == "plateau":  # decided from the recorded validation accuracies alone
            drops, stop = plateau_state([h["val_acc"] for h in history], cfg.patience, cfg.lr_drops)
            if stop:
                break
            scale = FACTOR**-drops
        te = time.perf_counter()
        with checkpointed_layers(net, cfg.checkpoint_layers) if cfg.checkpoint_layers else contextlib.nullcontext():
            sums = _train_epoch(
                cfg, net, opt, train_ds, epoch, steps, steps * cfg.epochs, device, rank, world, callbacks, show, scale
            )
        row: dict[str, Any] = dict(
            epoch=epoch + 1, train_loss=(sums[0] / sums[2]).item(), train_acc=(sums[1] / sums[2]).item()
        )
        if val_ds is not None:
            row["val_loss"], row["val_acc"] = evaluate(model, val_ds, device=device, rank=rank, world=world)
        if (epoch + 1) % cfg.test_every == 0 or epoch + 1 == cfg.epochs:
            row["test_loss"], row["test_acc"] = evaluate(model, test_ds, device=device, rank=rank, world=world)
            epochs.set_postfix(test_acc=f"{row['test_acc']:.4f}")
        row["lr"] = _lr_at(cfg, (epoch + 1) * steps - 1, steps * cfg.epochs, scale)
        row["seconds"] = time.perf_counter() - te
        history.append(row)
        if rank == 0:
            rec = folder.save(cfg, model, opt, history, wall_before + time.perf_counter() - t0, device, world, command)
            for cb in callbacks:
                cb.on_epoch_end(epoch + 1, rec)
    if world > 1:
        torch.distributed.barrier()
    model.eval()
    return model, record(cfg, model, history, wall_before + time.perf_counter() - t0, device, world, command)


def get_or_train(
    cfg: TrainConfig, *, progress: bool = True, device: str | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """Return the trained model for ``cfg`` from the checkpoint cache, training only if it is absent.

    The cache folder is ``data/checkpoints/<model>-<dataset>-<cfg.key()>``; an interrupted run
    there is resumed. The model is returned in eval mode on ``device`` (default: ``cfg.device``).
    """
    folder = RunFolder(cache_folder(cfg))
    dev = resolve_device(device or cfg.device)
    for _ in range(3):
        folder.wait_unlocked()  # another process is training this config: wait, then use its result
        if folder.finished(cfg.epochs):
            model = load_checkpoint(folder.checkpoint, map_location="cpu").to(dev).eval()
            return model, folder.read_results()
        folder.path.mkdir(parents=True, exist_ok=True)
        cfg_path = folder.write_config(cfg)  # the exact config, so the recorded command is a plain one
        out = folder.path
        cfg_arg, out_arg = shlex.quote(shown_path(cfg_path)), shlex.quote(shown_path(out))
        cmd = f"python -m facnn.train --config {cfg_arg} --out {out_arg} --resume"
        try:
            model, results = train(cfg, out, resume=True, progress=progress, command=cmd)
        except RunLocked:  # it started between our check and our lock
            continue
        return model.to(dev).eval(), results
    raise RunLocked(f"could not train or read {folder.path}: other processes kept taking its lock")

"""A training run's folder: where it lives (the cache key), its checkpoint and its results record.

``<folder>/checkpoint.pt`` (atomic, read back with ``weights_only=True``) holds the model, the
optimizer and ``extra = {train_config, history, epoch, wall_time}``; ``<folder>/results.json``
is the human-readable record; ``<folder>/config.json`` the exact config when the run came from
:func:`facnn.get_or_train` (so its recorded command is a plain one).
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from facnn.core.files import atomic_write, clean_stale_temps, pid_alive
from facnn.core.paths import checkpoint_dir
from facnn.models.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from facnn.models.inference import count_params
from facnn.train.config import TrainConfig
from facnn.train.plateau import plateau_state

__all__ = ["RunFolder", "RunLocked", "cache_folder", "run_complete"]


def run_complete(record: dict[str, Any], epochs_done: int, epochs: int) -> bool:
    """Whether a run is complete: ``epochs`` epochs (the ceiling) done, or fewer that reached the
    plateau (``schedule="plateau"``; ``record`` is its ``results.json``).

    >>> run_complete({"plateau": {"reached": True}}, 12, 60), run_complete({}, 12, 60)
    (True, False)
    """
    return epochs_done == epochs or bool(record.get("plateau", {}).get("reached"))


class RunLocked(RuntimeError):
    """Another live process holds a run folder's lock."""


def cache_folder(cfg: TrainConfig) -> Path:
    """The checkpoint-cache folder of ``cfg``: ``data/checkpoints/<model>-<dataset>-<key>``."""
    return checkpoint_dir() / f"{cfg.model}-{cfg.dataset}-{cfg.key()}"


class RunFolder:
    """The files of one training run."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise NotADirectoryError(
                f"{self.path} is an existing file, not a folder: a run writes checkpoint.pt and "
                "results.json into a folder; pass a folder path for --out/out_dir (it is created)"
            )
        self.checkpoint = self.path / "checkpoint.pt"
        self.results = self.path / "results.json"
        self.config = self.path / "config.json"

    @contextmanager
    def lock(self) -> Iterator[Path]:
        """Hold ``<folder>/.lock`` (the owner's pid and host) for the block: one run per folder.

        Raises
        ------
        RuntimeError
            Another live process holds the lock (the message names it). A lock whose process is
            gone (a killed run) is stale: it is replaced, and the dead run's temporary files removed.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        lock = self.path / ".lock"
        me = f"{os.getpid()} {socket.gethostname()}"
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                owner = lock.read_text().split() if lock.is_file() else []
                pid = int(owner[0]) if owner and owner[0].isdigit() else None
                host = owner[1] if len(owner) > 1 else None
                if pid is not None and (host != socket.gethostname() or pid_alive(pid)):
                    raise RunLocked(
                        f"another run (pid {pid} on {host}) is writing to {self.path}: wait for it to "
                        f"finish or use another --out (delete {lock} only if that process is gone)"
                    ) from None
                lock.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                f.write(me)
            break
        else:
            raise RuntimeError(f"could not take the lock {lock}")
        clean_stale_temps(self.path)
        try:
            yield lock
        finally:
            if lock.is_file() and lock.read_text() == me:
                lock.unlink()

    def holder(self) -> str | None:
        """``"<pid> <host>"`` of the live process holding the lock, or None."""
        lock = self.path / ".lock"
        try:
            owner = lock.read_text().split()
        except FileNotFoundError:
            return None
        pid = int(owner[0]) if owner and owner[0].isdigit() else None
        host = owner[1] if len(owner) > 1 else None
        alive = pid is not None and (host != socket.gethostname() or pid_alive(pid))
        return " ".join(owner) if alive else None

    def wait_unlocked(self, timeout_s: float = 6 * 3600, poll_s: float = 2.0) -> None:
        """Block while another live process holds the lock (it is training this run).

        Raises
        ------
        RunLocked
            Still held after ``timeout_s`` seconds.
        """
        import time

        end = time.monotonic() + timeout_s
        while (who := self.holder()) is not None:
            if time.monotonic() > end:
                raise RunLocked(f"{self.path} is still locked by {who} after {timeout_s:.0f} s")
            time.sleep(poll_s)

    def check_free(self, resume: bool, overwrite: bool) -> None:
        """Refuse to start over an existing run unless told to continue or replace it.

        Raises
        ------
        FileExistsError
            The folder holds a run and neither ``resume`` nor ``overwrite`` is set.
        """
        if resume or not (self.checkpoint.is_file() or self.results.is_file()):
            return
        if not overwrite:
            done = self.read_results().get("epochs") if self.results.is_file() else "?"
            raise FileExistsError(
                f"{self.path} already holds a run ({done} epochs done): pass --resume to continue "
                f"it, --overwrite to replace it, or choose another --out"
            )
        for f in (self.checkpoint, self.results):
            f.unlink(missing_ok=True)

    def finished(self, epochs: int) -> bool:
        """A complete run is here: ``epochs`` epochs, or fewer that reached the plateau
        (``schedule="plateau"``)."""
        if not (self.results.is_file() and self.checkpoint.is_file()):
            return False
        rec = self.read_results()
        return run_complete(rec, rec.get("epochs", 0), epochs)

    def read_results(self) -> dict[str, Any]:
        """``results.json`` as a dict; a damaged file is named with the fix (the checkpoint is kept).

        Raises
        ------
        ValueError
            The file is not a JSON object (cut short by a full disk or edited by hand).
        """
        try:
            data = json.loads(self.results.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(
                f"{self.results} is damaged ({e.msg} at line {e.lineno}, column {e.colno}): it was cut "
                f"short or edited; delete it and run again with --resume (checkpoint.pt is kept and "
                f"training continues from it)"
            ) from None
        if not isinstance(data, dict):
            raise ValueError(
                f"{self.results} holds a {type(data).__name__}, not a results record: delete it and run "
                "again with --resume"
            )
        return data

    def write_config(self, cfg: TrainConfig) -> Path:
        return atomic_write(self.config, lambda p: p.write_text(json.dumps(asdict(cfg), indent=1)))

    def resume(
        self, cfg: TrainConfig, model: nn.Module, opt: torch.optim.Optimizer, device: torch.device
    ) -> dict[str, Any]:
        """Load the last completed epoch into ``model`` and ``opt``; return ``extra`` (empty when
        there is no checkpoint).

        Raises
        ------
        ValueError
            The checkpoint was made by another training config (the message lists the fields).
        """
        if not self.checkpoint.is_file():
            return {}
        ckpt = read_checkpoint(self.checkpoint, map_location=device)
        saved = TrainConfig(**ckpt["extra"]["train_config"])
        if saved.key() != cfg.key():
            diff = sorted(k for k, v in asdict(cfg).items() if asdict(saved)[k] != v)
            raise ValueError(
                f"{self.checkpoint} was made by another training config (differs in {diff}); "
                f"use another out_dir or resume=False"
            )
        load_checkpoint(self.checkpoint, model, map_location=device)
        opt.load_state_dict(ckpt["optimizer"])
        return ckpt["extra"]

    def save(
        self,
        cfg: TrainConfig,
        model: nn.Module,
        opt: torch.optim.Optimizer,
        history: list[dict[str, Any]],
        wall: float,
        device: torch.device,
        world: int,
        command: str | None,
    ) -> dict[str, Any]:
        """Write the checkpoint and the results record of the epochs done so far; return the record."""
        extra = dict(train_config=asdict(cfg), history=history, epoch=len(history), wall_time=wall)
        save_checkpoint(self.checkpoint, model, optimizer=opt, extra=extra)
        rec = record(cfg, model, history, wall, device, world, command)
        atomic_write(self.results, lambda p: p.write_text(json.dumps(rec, indent=1)))
        return rec


def record(
    cfg: TrainConfig,
    model: nn.Module,
    history: list[dict[str, Any]],
    wall: float,
    device: torch.device,
    world: int,
    command: str | None,
) -> dict[str, Any]:
    """The results record of a run."""
    last = history[-1] if history else {}
    model = getattr(model, "module", model)
    extra: dict[str, Any] = {}
    if cfg.schedule == "plateau":  # whether the next epoch would have been refused, and why
        drops, reached = plateau_state([h["val_acc"] for h in history], cfg.patience, cfg.lr_drops)
        extra["plateau"] = dict(
            reached=reached, lr_drops=drops, best_val_acc=max((h["val_acc"] for h in history), default=None)
        )
    return dict(
        model=cfg.model,
        dataset=cfg.dataset,
        config=asdict(cfg),
        model_config=model.config,
        seed=cfg.seed,
        epochs=len(history),
        test_accuracy=last.get("test_acc"),
        params=count_params(model),
        history=history,
        wall_time=wall,
        device=str(device),
        world_size=world,
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        host=platform.node(),
        command=command or " ".join(shlex.quote(a) for a in ["python", "-m", "facnn.train", *sys.argv[1:]]),
        **extra,
    )

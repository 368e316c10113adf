"""Checkpoints: written atomically, read without unpickling, checked against the model.

A checkpoint is a ``torch.save`` of plain data: ``{"format", "model", "config", "state_dict",
"optimizer", "extra"}``. Reading uses ``torch.load(..., weights_only=True)``, so a file a user
hands us cannot run code; its ``config`` is compared with the model's before weights load.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .registry import build_model, model_name

__all__ = ["CheckpointError", "save_checkpoint", "read_checkpoint", "load_checkpoint", "atomic_write"]

FORMAT = "facnn-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint is unreadable, not a facnn checkpoint, or does not fit the model."""


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call ``write(tmp_path)``, fsync, and rename onto ``path``: readers see the old or the new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` (and optionally the optimizer state and plain ``extra`` data) atomically."""
    model = getattr(model, "module", model)  # unwrap DDP
    payload = {
        "format": FORMAT,
        "model": model_name(model),
        "config": model.config,
        "state_dict": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "extra": extra or {},
    }
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint as plain data (``weights_only=True``).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    CheckpointError
        Truncated/corrupt file, a pickle that needs code to load, or not a facnn checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises several types for truncated or hostile files
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
            f"it may be truncated or corrupt — delete it and retrain, or resume from an earlier copy"
        ) from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a facnn checkpoint (expected format {FORMAT!r})")
    return ckpt


def load_checkpoint(
    path: str | os.PathLike, model: nn.Module | None = None, map_location: str | torch.device = "cpu"
) -> nn.Module:
    """Load weights into ``model`` (checked against the stored config) or into a model built from it.

    Raises
    ------
    CheckpointError
        The file is unreadable, or its model name or config differs from ``model``'s (the message
        lists the differing keys).
    """
    ckpt = read_checkpoint(path, map_location)
    if model is None:
        model = build_model(ckpt["model"], ckpt["config"])
    else:
        name = model_name(getattr(model, "module", model))
        config = getattr(model, "module", model).config
        if ckpt["model"] != name:
            raise CheckpointError(f"{path} holds a {ckpt['model']!r} model, not {name!r}")
        diff = {k for k in set(config) | set(ckpt["config"]) if config.get(k) != ckpt["config"].get(k)}
        if diff:
            detail = ", ".join(f"{k}: file {ckpt['config'].get(k)!r} vs model {config.get(k)!r}" for k in sorted(diff))
            raise CheckpointError(f"{path} was saved from a model of another shape ({detail}); build the model "
                                  f"with the file's config, or call load_checkpoint(path) to build it for you")  # fmt: skip
    try:
        getattr(model, "module", model).load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not fit the model ({str(e).splitlines()[0]})") from e
    return model

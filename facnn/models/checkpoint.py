"""Checkpoints: written atomically, read without unpickling, checked against the model.

A checkpoint is a ``torch.save`` of plain data: ``{"format", "model", "config", "state_dict",
"optimizer", "extra"}``. Reading uses ``torch.load(..., weights_only=True)``, so a file a user
hands us cannot run code; its ``config`` is compared with the model's before weights load.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from facnn.core.files import atomic_write, clean_stale_temps  # noqa: F401  (re-exported: facnn.models.checkpoint.atomic_write)
from facnn.core.registry import build_model, model_name

__all__ = ["CheckpointError", "save_checkpoint", "read_checkpoint", "load_checkpoint"]

FORMAT = "facnn-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint is unreadable, not a facnn checkpoint, or does not fit the model."""


_PLAIN = (str, int, float, bool, type(None), torch.Tensor)


def _plain(value: Any, where: str) -> Any:
    """``value`` as data a ``weights_only`` load reads back: numpy scalars become Python numbers;
    anything else that is not plain is refused, naming where it is."""
    import numpy as np

    if isinstance(value, dict):
        for k in value:
            if not isinstance(k, (str, int)):
                raise TypeError(f"checkpoint {where} has a key of type {type(k).__name__}: use str keys")
        return {k: _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, np.generic) and isinstance(value.item(), (int, float, bool)):
        return value.item()
    if not isinstance(value, _PLAIN):
        hint = "float(...) or int(...)" if hasattr(value, "item") else "str(...) or a plain value"
        raise TypeError(
            f"checkpoint {where} is a {type(value).__module__}.{type(value).__name__}, which a safe "
            f"(weights_only) load cannot read back: convert it with {hint}"
        )
    return value


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` (and optionally the optimizer state and plain ``extra`` data) atomically."""
    model = getattr(model, "module", model)  # unwrap DDP
    name = model_name(model)  # a registered facnn model (raises for others, e.g. torchvision's)
    extra = _plain(extra or {}, "extra")
    config = _plain(model.config, "config")
    payload = {
        "format": FORMAT,
        "model": name,
        "config": config,
        "state_dict": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "extra": extra,
    }
    return atomic_write(path, lambda tmp: torch.save(payload, tmp), check=lambda tmp: read_checkpoint(tmp))


def read_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu", data: bytes | None = None
) -> dict[str, Any]:
    """Read a checkpoint as plain data (``weights_only=True``); ``data``: the file's bytes, already
    read (and hash-checked) by the caller, so what was checked is what loads.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    CheckpointError
        Truncated/corrupt file, a pickle that needs code to load, or not a facnn checkpoint.
    """
    path = Path(path)
    if data is None:  # checks of the file itself; bytes handed over were read from it already
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a folder, not a checkpoint file: pass the .pt file inside it")
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint at {path}")
        if path.stat().st_size == 0:
            raise CheckpointError(f"{path} is empty (0 bytes): a write was interrupted; resume from an earlier copy")
    try:
        ckpt = torch.load(path if data is None else io.BytesIO(data), map_location=map_location, weights_only=True)
    except PermissionError as e:
        raise PermissionError(
            f"cannot read {path}: permission denied (the file is fine to keep; fix its permissions or run as its owner)"
        ) from e
    except Exception as e:  # torch raises several types for truncated, foreign or hostile files
        raise CheckpointError(_read_error(path, e, map_location, data)) from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a facnn checkpoint (expected format {FORMAT!r}): pass a file written by "
            "facnn.save_checkpoint or python -m facnn.train"
        )
    missing = [k for k in ("model", "config", "state_dict") if k not in ckpt]
    if missing or not isinstance(ckpt.get("state_dict"), dict) or not isinstance(ckpt.get("config"), dict):
        raise CheckpointError(
            f"{path} is a facnn checkpoint without {missing or 'a state_dict/config mapping'}: it is "
            "incomplete or was edited by hand; use another copy"
        )
    return ckpt


def _file_kind(path: Path, data: bytes | None) -> str:
    """``"zip"`` (torch's format, readable to the end), ``"truncated zip"``, ``"pickle"`` (torch's
    legacy format) or ``"garbage"``, from the first bytes and the zip directory."""
    import zipfile

    try:
        head = data[:4] if data is not None else path.open("rb").read(4)
        if head.startswith(b"PK\x03\x04"):
            with zipfile.ZipFile(io.BytesIO(data) if data is not None else path):
                return "zip"
        return "pickle" if head[:1] == b"\x80" else "garbage"
    except zipfile.BadZipFile:
        return "truncated zip"
    except OSError:
        return "unreadable"


def _read_error(path: Path, e: Exception, map_location: Any, data: bytes | None = None) -> str:
    """Name the true cause of a failed ``torch.load`` (truncation, garbage, unsafe content, a missing
    device) and advise deleting nothing readable."""
    kind = _file_kind(path, data)
    if kind == "garbage":
        return (
            f"{path} is not a torch checkpoint: its first bytes are neither a zip archive nor a pickle "
            f"(a different file, or random bytes); pass the .pt file written by facnn"
        )
    if kind == "truncated zip":
        return (
            f"{path} is truncated (its zip archive ends before its directory): resume from an earlier copy "
            f"(an interrupted write, a partial download or a full disk)"
        )
    msg = str(e)
    first = next((line for line in msg.splitlines() if line.strip()), type(e).__name__)[:200]
    if "CUDA" in msg and not torch.cuda.is_available():
        return (
            f"{path} could not be mapped to {map_location!r}: this machine has no CUDA device; "
            f"load it with map_location='cpu' (the file is fine)"
        )
    if "Unsupported global" in msg or "Weights only load failed" in msg:
        found = re.search(r"GLOBAL (\S+)", msg)
        return (
            f"{path} holds Python objects a safe load refuses ({found.group(1) if found else first}): it was not "
            "written by "
            f"facnn.save_checkpoint, and it was not unpickled"
        )
    if any(k in msg for k in ("zip archive", "central directory", "unexpected EOF", "Ran out of input", "truncated")):
        return (
            f"{path} is truncated or corrupt ({first}); resume from an earlier copy "
            f"(an interrupted write, a partial download or a full disk)"
        )
    return f"{path} is not a readable torch checkpoint ({type(e).__name__}: {first})"


def _check_config(path: Path, name: str, config: Any) -> None:
    """A stored config is checked before any model is built from it: known keys, bounded sizes."""
    from facnn.core.registry import check_model_config

    try:
        check_model_config(name, config)
    except (TypeError, ValueError) as e:
        raise CheckpointError(
            f"{path}: {e}; the file is corrupt, hostile or from another version — no model was built"
        ) from None


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module | None = None,
    map_location: str | torch.device = "cpu",
    ckpt: dict[str, Any] | None = None,
) -> nn.Module:
    """Load weights into ``model`` (checked against the stored config) or into a model built from it
    (``ckpt``: the file's :func:`read_checkpoint` result, when the caller already has it).

    Raises
    ------
    CheckpointError
        The file is unreadable, or its model name or config differs from ``model``'s (the message
        lists the differing keys).
    """
    ckpt = read_checkpoint(path, map_location) if ckpt is None else ckpt
    if model is None:
        _check_config(Path(path), ckpt["model"], ckpt["config"])
        model = build_model(ckpt["model"], ckpt["config"])
    else:
        name = model_name(getattr(model, "module", model))
        config = cast("dict[str, Any]", getattr(model, "module", model).config)  # every registered model has one
        if ckpt["model"] != name:
            raise CheckpointError(f"{path} holds a {ckpt['model']!r} model, not {name!r}")
        diff = {k for k in set(config) | set(ckpt["config"]) if config.get(k) != ckpt["config"].get(k)}
        if diff:
            detail = ", ".join(f"{k}: file {ckpt['config'].get(k)!r} vs model {config.get(k)!r}" for k in sorted(diff))
            raise CheckpointError(
                f"{path} was saved from a model of another shape ({detail}); build the model "
                f"with the file's config, or call load_checkpoint(path) to build it for you"
            )
    target = getattr(model, "module", model)
    have, want = set(ckpt["state_dict"]), set(target.state_dict())
    if have != want:
        raise CheckpointError(
            f"{path}: tensors missing from the file {sorted(want - have)[:8]}, unexpected in it "
            f"{sorted(have - want)[:8]}; it was saved from another model version"
        )
    bad = [
        k
        for k, v in ckpt["state_dict"].items()
        if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]
    if bad:
        raise CheckpointError(
            f"{path} holds NaN or Inf in {len(bad)} tensors ({', '.join(bad[:3])}...): the training "
            "that wrote it diverged; load an earlier checkpoint or retrain with a lower learning rate"
        )
    try:
        target.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        detail = "; ".join(line.strip() for line in str(e).splitlines()[1:4])
        raise CheckpointError(f"{path}: weights do not fit the model ({detail})") from e
    return model

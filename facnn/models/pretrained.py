"""Trained weights that ship with the package, verified before they are read.

Each file in ``facnn/weights/`` is named like torch.hub's, ``<name>-<first 10 hex digits of its
SHA-256>.pt``, and listed in ``manifest.json`` with its full hash, the model's config, the test
accuracy it was shipped with, and the command that retrains it. Loading checks, in order: the
name is known, the file's SHA-256 equals the manifest's (and the file name's prefix), the file
reads as plain data (``torch.load(weights_only=True)``), and the stored config equals the
manifest's; only then is a model built from that config and the weights loaded into it.

Examples
--------
>>> import facnn
>>> sorted(facnn.pretrained())                       # doctest: +SKIP
['fashion-mnist/coda', 'fashion-mnist/facnn']
>>> model, record = facnn.pretrained("fashion-mnist/facnn")   # doctest: +SKIP
>>> record["test_accuracy"]                          # doctest: +SKIP
0.9335
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, overload

from torch import nn

__all__ = [
    "pretrained",
    "headline_models",
    "stored_predictions",
    "encode_predictions",
    "write_manifest",
    "weights_dir",
    "manifest",
    "sha256_of",
    "PretrainedError",
]

FORMAT = "facnn-weights/1"


class PretrainedError(ValueError):
    """A shipped weight file is unknown, missing, altered, or does not match its manifest entry."""


def weights_dir() -> Path:
    """The folder of the shipped weights: inside the installed package, or ``$FACNN_WEIGHTS_DIR``
    (for tests and for trying weights before they ship)."""
    env = os.environ.get("FACNN_WEIGHTS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "weights"


def manifest(folder: Path | None = None) -> dict[str, dict[str, Any]]:
    """``{name: record}`` for every shipped model (empty when none ship)."""
    path = (folder or weights_dir()) / "manifest.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    if data.get("format") != FORMAT:
        raise PretrainedError(f"{path} is not a facnn weights manifest (expected format {FORMAT!r})")
    return data["models"]


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def headline_models() -> dict[str, dict[str, Any]]:
    """The shipped models of the tables and figures, without the brief runs (sweep, sanity twin)
    that ship only so the notebooks need not train them."""
    return {name: rec for name, rec in manifest().items() if rec["purpose"] == "headline"}


def encode_predictions(pred: Any) -> str:
    """Per-image predicted classes as the manifest stores them: one digit per image.

    >>> encode_predictions([3, 0, 9])
    '309'
    """
    pred = [int(p) for p in pred]
    if pred and (min(pred) < 0 or max(pred) > 9):
        raise PretrainedError(
            "test predictions are stored one digit per image: more than 10 classes needs another encoding"
        )
    return "".join(map(str, pred))


def stored_predictions(rec: dict[str, Any]) -> Any:
    """A manifest record's per-image test predictions (:func:`encode_predictions`) as a numpy array."""
    import numpy as np

    return np.frombuffer(rec["test_predictions"].encode(), dtype=np.uint8) - ord("0")


def write_manifest(models: dict[str, dict[str, Any]], folder: Path | None = None) -> Path:
    """Write the manifest (atomically, models sorted by name) that :func:`manifest` reads."""
    from facnn.core.files import atomic_write

    body = json.dumps({"format": FORMAT, "models": dict(sorted(models.items()))}, indent=1)
    return atomic_write((folder or weights_dir()) / "manifest.json", lambda q: q.write_text(body + "\n"))


@overload
def pretrained(name: None = None, *, map_location: str = "cpu") -> dict[str, dict[str, Any]]: ...
@overload
def pretrained(name: str, *, map_location: str = "cpu") -> tuple[nn.Module, dict[str, Any]]: ...


def pretrained(name: str | None = None, *, map_location: str = "cpu"):
    """A shipped model in eval mode and its record, or, with no ``name``, what ships.

    Parameters
    ----------
    name
        ``"<dataset>/<model>"``, e.g. ``"fashion-mnist/facnn"``; ``None`` lists the names.
    map_location
        Device for the weights.

    Returns
    -------
    ``(model, record)``: the record holds ``test_accuracy``, ``epochs``, ``seed``, ``torch``,
    ``wall_time_s``, ``command`` (how to retrain it) and the config. With no name:
    ``{name: record}``.

    Raises
    ------
    PretrainedError
        Unknown name (the message lists the known ones), a missing or altered file (hash
        mismatch), or a file whose config differs from the manifest.
    """
    from facnn.core.registry import build_model
    from facnn.models.checkpoint import CheckpointError, load_checkpoint, read_checkpoint

    known = manifest()
    if name is None:
        return known
    if name not in known:
        raise PretrainedError(f"no shipped weights named {name!r}; available: {sorted(known) or 'none'}")
    rec = known[name]
    path = weights_dir() / rec["file"]
    if not path.is_file():
        raise PretrainedError(f"{name}: the file {path} is missing; reinstall facnn or retrain with: {rec['command']}")
    data = path.read_bytes()  # read once: the bytes hashed are the bytes loaded
    digest = hashlib.sha256(data).hexdigest()
    if digest != rec["sha256"] or not rec["file"].endswith(f"-{digest[:10]}.pt"):
        raise PretrainedError(
            f"{name}: {path.name} has SHA-256 {digest[:16]}…, the manifest says {rec['sha256'][:16]}…; "
            f"the file was altered or truncated: reinstall facnn"
        )
    ckpt = read_checkpoint(path, data=data)  # weights_only=True
    if ckpt["model"] != rec["model"] or ckpt["config"] != rec["model_config"]:
        raise PretrainedError(f"{name}: the file's model/config differ from the manifest's; reinstall facnn")
    model = build_model(rec["model"], rec["model_config"])  # validates the config before weights load
    try:
        load_checkpoint(path, model, map_location=map_location, ckpt=ckpt)
    except CheckpointError as e:
        raise PretrainedError(f"{name}: {e}") from e
    return model.to(map_location).eval(), dict(rec, name=name)

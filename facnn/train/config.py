"""Training configs: one place that loads them (by name or path), merges overrides, validates
them, and says which fields change only how a run executes.

Every caller — ``python -m facnn.train``, the notebooks, ``tools/ablation.py``, the benchmarks —
goes through :func:`load_config`; ``model_config`` overrides merge key by key everywhere.

Examples
--------
>>> cfg = load_config("fashion_mnist_facnn", epochs=1, model_config={"depth": 2})
>>> cfg.epochs, cfg.model_config["depth"], cfg.model_config["maps_per_class"]
(1, 2, 4)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "TrainConfig",
    "load_config",
    "shipped_for",
    "merge",
    "config_names",
    "EXECUTION_FIELDS",
    "LATER_FIELDS",
    "CONFIG_DIR",
]

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"

# Fields that change where and how fast a run executes, not the weights it ends with (up to
# floating-point order). ``device`` is not among them: on CUDA, ``amp`` trains in bf16.
EXECUTION_FIELDS = ("data_root", "num_workers", "compile", "channels_last", "checkpoint_layers", "test_every")
# Fields added after cached runs and records existed, with their defaults: a config holding the
# default has the key (and matches the records) it had before the field existed.
LATER_FIELDS: dict[str, Any] = {
    "shuffle_labels": False,
    "loss_reduction": "sum_classes",
    "accumulate": 1,
    "validation": 0,
    "patience": 3,
    "lr_drops": 2,
}

_CHOICES = {
    "optimizer": ("adamw", "sgd"),
    "schedule": ("onecycle", "cosine", "constant", "plateau"),
    "loss": ("ce", "bce"),
    "loss_reduction": ("sum_classes", "mean"),
}


@dataclass
class TrainConfig:
    """Everything that determines a training run (and its cache key).

    ``model_config`` holds the model's keyword arguments; ``num_classes``, ``in_channels``,
    ``mean`` and ``std`` are filled in from the dataset when absent.
    """

    model: str = "facnn"  # a registered model: "facnn", "resnet", "coda", "hybrid", ...
    model_config: dict[str, Any] = field(default_factory=dict)
    dataset: str = "fashion-mnist"
    data_root: str | None = None
    train_subset: int | None = None  # seeded random subset of the training split
    # training images held out (seeded) as a validation split: val_acc every epoch; "plateau" stops on it
    validation: int = 0
    test_subset: int | None = None
    # the test split is evaluated after every ``test_every``-th epoch and after the last (history rows
    # in between have no test_acc): a long run on few images (a data-randomisation twin) is not
    # dominated by its evaluations; the weights are the same for any value
    test_every: int = 1
    epochs: int = 2
    batch_size: int = 128  # global batch (split over DDP processes)
    # each process's batch split into this many chunks, one backward each, one optimizer step: the
    # same batch in less activation memory (batch norm then normalises each chunk by its own statistics)
    accumulate: int = 1
    lr: float = 3e-3
    weight_decay: float = 5e-4
    optimizer: str = "adamw"  # "adamw" or "sgd" (Nesterov, momentum 0.9)
    # "onecycle" (linear warm-up, cosine decay), "cosine", "constant", or "plateau": lr ÷ 10 when the
    # validation accuracy stalls for ``patience`` epochs, at most ``lr_drops`` times, then stop
    # (``epochs`` is the ceiling; see facnn.train.plateau)
    schedule: str = "onecycle"
    warmup: float = 0.15  # fraction of steps spent warming up ("onecycle")
    patience: int = 3  # "plateau": epochs without a validation improvement before lr ÷ 10 (or the stop)
    lr_drops: int = 2  # "plateau": divisions of lr before the run may stop
    augment: bool = True  # in memory: random 2-pixel shift + flip; image folders: random resized crop + flip
    label_smoothing: float = 0.0
    shuffle_labels: bool = False  # permute the training labels (seeded): the data-randomisation sanity check
    loss: str = "ce"  # "ce" or "bce" (one-hot binary cross-entropy, CoDA-Nets)
    # bce only: "sum_classes" (ours: summed over classes, averaged over the batch) or "mean" (the
    # authors': averaged over batch × classes, i.e. 1/C of ours)
    loss_reduction: str = "sum_classes"
    seed: int = 0
    device: str = "auto"  # "auto" = cuda when available
    amp: bool = True  # bf16 autocast (CUDA only)
    channels_last: bool = False
    compile: bool = False  # torch.compile the model (CUDA only)
    # 0: off; k: keep only the input of every k consecutive aligned layers and recompute the rest in
    # the backward pass (FA-CNN and the hybrid; same gradients and batch-norm statistics, less memory)
    checkpoint_layers: int = 0
    num_workers: int = 0  # DataLoader workers for imagefolder
    image_size: int = 64  # imagefolder only

    def __post_init__(self) -> None:
        from facnn.core.devices import valid_device
        from facnn.core.registry import check_model_config, model_names
        from facnn.data.datasets import DATASETS

        if self.model not in model_names():
            raise ValueError(f"config model={self.model!r}: choose one of {model_names()}")
        if self.dataset not in DATASETS:
            raise ValueError(f"config dataset={self.dataset!r}: choose one of {list(DATASETS)}")
        if not valid_device(self.device):
            raise ValueError(f"config device={self.device!r}: use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
        for name, low in (
            ("seed", 0),
            ("num_workers", 0),
            ("image_size", 8),
            ("accumulate", 1),
            ("checkpoint_layers", 0),
            ("validation", 0),
            ("patience", 1),
            ("lr_drops", 0),
            ("test_every", 1),
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"config {name}={v!r}: must be an integer ≥ {low}")
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"config {name}={getattr(self, name)!r}: choose one of {list(allowed)}")
        if not isinstance(self.model_config, dict):
            raise TypeError(
                f"config model_config must be a dict of model arguments, got {type(self.model_config).__name__}"
            )
        check_model_config(self.model, self.model_config)
        for name in ("epochs", "batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"config {name}={getattr(self, name)!r}: must be a positive integer")
        for name, ok, rule in (
            ("lr", lambda v: v > 0, "> 0"),
            ("weight_decay", lambda v: v >= 0, "≥ 0"),
            ("warmup", lambda v: 0 <= v < 1, "in [0, 1)"),
            ("label_smoothing", lambda v: 0 <= v < 1, "in [0, 1)"),
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not ok(v):  # NaN fails every rule
                raise ValueError(f"config {name}={v!r}: must be a number {rule}")
        if self.loss_reduction != "sum_classes" and self.loss != "bce":
            raise ValueError(
                f"config loss_reduction={self.loss_reduction!r} applies to loss='bce' only: "
                f"set loss='bce' or drop loss_reduction (cross-entropy always averages over the batch)"
            )
        if self.schedule == "plateau" and not self.validation:
            raise ValueError(
                "config schedule='plateau' decides on a validation split: set validation to the number of "
                "training images to hold out (e.g. --validation 5000); the test split never decides"
            )
        if self.schedule == "plateau" and self.test_every != 1:
            raise ValueError(
                f"config test_every={self.test_every!r}: with schedule='plateau' the last epoch is not known in "
                "advance, so the test split is evaluated every epoch: drop test_every"
            )
        for name in ("patience", "lr_drops"):
            if self.schedule != "plateau" and getattr(self, name) != LATER_FIELDS[name]:
                raise ValueError(
                    f"config {name}={getattr(self, name)!r} applies to schedule='plateau' only: "
                    f"set schedule='plateau' (with validation) or drop {name}"
                )
        for name in ("augment", "amp", "channels_last", "compile", "shuffle_labels"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"config {name}={getattr(self, name)!r}: must be true or false")
        for name in ("train_subset", "test_subset"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ValueError(f"config {name}={v!r}: a positive number of images, or None for the whole split")

    def key(self) -> str:
        """A short hash of the fields that change the trained weights (all but
        :data:`EXECUTION_FIELDS`; ``device: "auto"`` counts as the device it resolves to)."""
        d = asdict(self)
        for k in EXECUTION_FIELDS:
            d.pop(k)
        for k, default in LATER_FIELDS.items():  # absent from older keys: only in the key when set
            if d[k] == default:
                d.pop(k)
        if d["device"] == "auto":
            from facnn.core.devices import resolve_device

            d["device"] = resolve_device("auto").type
        d["device"] = d["device"].split(":")[0]
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def config_names() -> list[str]:
    """The names of the shipped configs (``facnn/configs/*.json``)."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``overrides``; ``model_config`` merges key by key. ``None`` overrides are ignored."""
    out = {**base, **{k: v for k, v in overrides.items() if v is not None and k != "model_config"}}
    if overrides.get("model_config"):
        out["model_config"] = {**base.get("model_config", {}), **overrides["model_config"]}
    return out


def load_config(name_or_path: str | os.PathLike, **overrides: Any) -> TrainConfig:
    """A config by name (``facnn/configs/<name>.json``) or path, with ``overrides`` merged and validated.

    Raises
    ------
    FileNotFoundError
        Neither a file nor a shipped name (the message lists the names).
    ValueError
        Unknown keys (in the file or the overrides), or invalid values.
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(
            f"load_config takes a config name or a JSON file path, got {type(name_or_path).__name__}: "
            f"e.g. load_config('fashion_mnist_facnn')"
        )
    path = Path(name_or_path)
    if not path.is_file():
        path = CONFIG_DIR / f"{name_or_path}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no config {str(name_or_path)!r}: give a JSON file or one of {config_names()}")
    try:
        base = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"config {path} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    if not isinstance(base, dict):
        raise ValueError(f"config {path} holds a JSON {type(base).__name__}, not an object of TrainConfig fields")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    for where, d in ((str(path), base), ("overrides", overrides)):
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"{where}: unknown config keys {sorted(unknown)}; known keys are {sorted(known)}")
    return TrainConfig(**merge(base, overrides))


def shipped_for(cfg: Any) -> str | None:
    """The name of the shipped model trained with :class:`~facnn.train.config.TrainConfig` ``cfg``, or
    ``None``. Configs match when they train the same weights (:meth:`TrainConfig.key`; the device
    they ran on is not compared: shipped weights stand in for a run of ``cfg`` on any device).

    Example
    -------
    >>> from facnn.train import load_config
    >>> shipped_for(load_config("fashion_mnist_facnn", epochs=20))
    'fashion-mnist/facnn'
    >>> shipped_for(load_config("fashion_mnist_facnn", epochs=3)) is None
    True
    """
    from dataclasses import replace

    from facnn.models.pretrained import manifest

    want = replace(cfg, device="cpu").key()
    for name, rec in manifest().items():
        if TrainConfig(**dict(rec["train_config"], device="cpu")).key() == want:
            return name
    return None

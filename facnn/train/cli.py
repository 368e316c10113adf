"""The command line: ``python -m facnn.train --config NAME [--field value ...] --out FOLDER``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from typing import Any, cast

import torch

from facnn.train.config import TrainConfig, load_config, merge
from facnn.train.loop import train

__all__ = ["config_from_args", "main"]


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON ({e.msg} at column {e.colno}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object of model arguments, got {text!r}")
    return value


def _flag_choices(name: str) -> list[str] | None:
    """The values a choice flag accepts, from the same tables :class:`TrainConfig` checks."""
    from facnn.core.registry import model_names
    from facnn.data.datasets import DATASETS
    from facnn.train.config import _CHOICES

    if name == "model":
        return model_names()
    if name == "dataset":
        return list(DATASETS)
    return list(_CHOICES[name]) if name in _CHOICES else None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m facnn.train",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--config", help="JSON file with TrainConfig fields, or a name in facnn/configs/ (flags override it)"
    )
    p.add_argument("--out", help="output folder (default: the cache folder for this config)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--overwrite", action="store_true", help="replace a finished or foreign run in OUT")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type == "bool":
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        elif f.name == "model_config":
            p.add_argument(flag, type=_json_object, default=None, help="JSON, e.g. '{\"depth\": 6}'")
        else:
            annotation = cast(str, f.type)  # a string: config.py has `from __future__ import annotations`
            conv = {"int": int, "float": float, "int | None": int}.get(annotation, str)
            p.add_argument(flag, type=conv, default=None, choices=_flag_choices(f.name))
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
    try:
        _, results = train(cfg, args.out, resume=args.resume, progress=not args.no_progress, overwrite=args.overwrite)
    except (
        FileExistsError,
        NotADirectoryError,
        RuntimeError,
        ValueError,
    ) as e:  # ValueError: a damaged or foreign run folder
        raise SystemExit(f"facnn.train: {e}") from None
    if int(os.environ.get("RANK", "0")) == 0:
        keys = ("model", "dataset", "epochs", "test_accuracy", "params", "wall_time", "plateau")
        print(json.dumps({k: results[k] for k in keys if k in results}))
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return results

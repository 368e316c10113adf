"""One place that turns a device name into a ``torch.device``."""

from __future__ import annotations

import re

import torch

__all__ = ["resolve_device", "valid_device"]

_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def valid_device(name: object) -> bool:
    """Whether ``name`` is a device name :func:`resolve_device` takes."""
    return isinstance(name, str) and _DEVICE.fullmatch(name) is not None


def resolve_device(name: str | torch.device) -> torch.device:
    """``"auto"`` (CUDA where available, else the CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(name, torch.device):
        return name
    if not valid_device(name):
        raise ValueError(f"device={name!r}: use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)

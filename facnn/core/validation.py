"""Input checks shared by models, attribution methods and metrics.

Each check raises ``TypeError``/``ValueError`` with one message style: what was given (the
argument's name and value), what is expected, and how to fix it. Scalars and lists of numbers come
in the forms users pass (Python numbers, numpy scalars and arrays, tensors, any iterable, read once).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "check_stats",
    "check_images",
    "check_target",
    "check_layer",
    "check_int",
    "check_float",
    "check_floats",
    "check_choice",
    "check_bool",
    "check_ints",
    "check_size",
    "MAX_SIZE",
]


MAX_SIZE = 1_000_000  # no size (classes, channels, layers, pixels) of a facnn model comes near this
_INT64 = 2**63 - 1  # what torch can hold


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _num(v: float) -> str:
    return f"{v:,}" if isinstance(v, int) else f"{v:g}"


def _bounds(low: float | None, high: float | None, low_open: bool = False, high_open: bool = False) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{_num(low)}, {_num(high)}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '≥'} {_num(low)}"
    return f"{'<' if high_open else '≤'} {_num(high)}" if high is not None else "finite"


def check_int(value: object, name: str, low: int | None = None, high: int | None = None, fix: str = "") -> int:
    """``value`` as an ``int`` in ``[low, high]``: ints, numpy integers and 0-d integer tensors pass;
    bools, floats (even ``10.0``) and strings are refused.

    >>> check_int(np.int64(3), "depth", 1)
    3
    >>> check_int(10.0, "num_classes", 2)
    Traceback (most recent call last):
    TypeError: num_classes=10.0 must be an int ≥ 2, got float: pass 10
    """
    if isinstance(value, Tensor) and value.dim() == 0 and not value.is_floating_point() and value.dtype != torch.bool:
        value = int(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        hint = f"pass {int(value)}" if isinstance(value, float) and value.is_integer() else fix or "pass a whole number"
        raise TypeError(
            f"{name}={_shown(value)} must be an int {_bounds(low, high)}, got {type(value).__name__}: {hint}"
        )
    value = int(value)
    if high is None and abs(value) > _INT64:
        raise ValueError(
            f"{name}={value} is beyond a 64-bit integer: expected an int {_bounds(low, high)}"
            + (f"; {fix}" if fix else "")
        )
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(
            f"{name}={value} is out of range: expected an int {_bounds(low, high)}" + (f"; {fix}" if fix else "")
        )
    return value


def check_size(value: object, name: str, low: int = 1) -> int:
    """A model size (classes, channels, layers, widths): an int in ``[low, MAX_SIZE]``.

    >>> check_size(64, "hidden")
    64
    """
    return check_int(value, name, low, MAX_SIZE)


def check_float(
    value: object,
    name: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    fix: str = "",
) -> float:
    """``value`` as a finite ``float`` in the given range (open ends with ``low_open``/``high_open``);
    ints, numpy numbers and 0-d tensors pass, NaN, ±Inf, bools and strings are refused.

    >>> check_float(np.float32(0.5), "p", 0, 1, low_open=True)
    0.5
    >>> check_float(float("nan"), "fill")
    Traceback (most recent call last):
    ValueError: fill=nan is not a finite number: expected finite
    """
    if isinstance(value, Tensor) and value.dim() == 0 and value.dtype != torch.bool:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name}={_shown(value)} must be a number {_bounds(low, high, low_open, high_open)}, "
            f"got {type(value).__name__}" + (f": {fix}" if fix else "")
        )
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(
            f"{name}={value} is not a finite number: expected {_bounds(low, high, low_open, high_open)}"
            + (f"; {fix}" if fix else "")
        )
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        raise ValueError(
            f"{name}={value:g} is out of range: expected {_bounds(low, high, low_open, high_open)}"
            + (f"; {fix}" if fix else "")
        )
    return value


def check_floats(
    values: object,
    name: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    length: int | None = None,
    each: str = "one per channel",
    increasing: bool = False,
    nonempty: bool = True,
) -> list[float]:
    """``values`` (a list, tuple, numpy array, 1-D tensor or any iterable, read once) as a list of
    finite floats, each in range, ``length`` of them if given, strictly increasing if asked.

    >>> check_floats(np.array([0, 50, 100]), "percents", 0, 100, increasing=True)
    [0.0, 50.0, 100.0]
    >>> check_floats((0.5 for _ in range(2)), "std", 0, low_open=True, length=1)
    Traceback (most recent call last):
    ValueError: std has 2 values, expected 1 (one per channel)
    """
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, (Iterable, np.ndarray, Tensor)):
        raise TypeError(
            f"{name}={_shown(values)} must be a list of numbers (a list, tuple, numpy array or tensor), "
            f"got {type(values).__name__}"
        )
    if isinstance(values, (np.ndarray, Tensor)) and values.ndim != 1:
        raise ValueError(f"{name} has shape {tuple(values.shape)}: expected a flat list of numbers")
    items = values.tolist() if isinstance(values, (np.ndarray, Tensor)) else list(values)
    if nonempty and not items:
        raise ValueError(f"{name} is empty: pass at least one number")
    if length is not None and len(items) != length:
        raise ValueError(f"{name} has {len(items)} values, expected {length} ({each})")
    out = [check_float(v, f"{name}[{i}]", low, high, low_open=low_open) for i, v in enumerate(items)]
    if increasing and any(b <= a for a, b in zip(out, out[1:])):
        raise ValueError(f"{name}={out} must be strictly increasing: sort it and drop repeats")
    return out


def check_ints(
    values: object,
    name: str,
    low: int | None = None,
    high: int | None = None,
    *,
    length: int | None = None,
    each: str = "",
    nonempty: bool = True,
) -> list[int]:
    """``values`` (list, tuple, array, tensor or iterable, read once) as a list of ints in range.

    >>> check_ints(np.array([2, 4]), "pool_at", 1, 6)
    [2, 4]
    """
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, (Iterable, np.ndarray, Tensor)):
        raise TypeError(f"{name}={_shown(values)} must be a list of ints, got {type(values).__name__}")
    items = values.tolist() if isinstance(values, (np.ndarray, Tensor)) else list(values)
    if nonempty and not items:
        raise ValueError(f"{name} is empty: pass at least one int")
    if length is not None and len(items) != length:
        raise ValueError(f"{name} has {len(items)} values, expected {length}" + (f" ({each})" if each else ""))
    return [check_int(v, f"{name}[{i}]", low, high) for i, v in enumerate(items)]


def check_choice(value: object, name: str, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices`` (strings), else a ``ValueError`` listing them.

    >>> check_choice("post", "branch", ("post", "pre"))
    'post'
    """
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}={_shown(value)} is not one of {list(choices)}: pick one of them")
    return value


def check_bool(value: object, name: str) -> bool:
    """``value`` if it is a bool (numpy bools too), else a ``TypeError`` (``"no"`` is not False).

    >>> check_bool(np.bool_(True), "zero_init")
    True
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}={_shown(value)} must be True or False, got {type(value).__name__}")
    return bool(value)


def check_images(
    x: object, in_channels: int | None, min_size: int = 1, name: str = "x", *, finite: bool = True
) -> Tensor:
    """Check a batch of images ``(B, C, H, W)`` and return it unchanged.

    ``in_channels=None`` accepts any channel count. ``finite=False`` skips the NaN/Inf scan, the
    one check that reads the values (a host synchronisation on a GPU and a graph break under
    ``torch.compile``): models' ``forward`` checks shapes only; API entry points check values once.

    Raises
    ------
    TypeError
        ``x`` is not a floating-point tensor.
    ValueError
        Wrong rank, empty batch, wrong channel count, image smaller than ``min_size``, NaN/Inf.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, C, H, W), got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name} has dtype {x.dtype}; models take floating-point images in [0, 1]: "
            f"use x.float() / 255 for uint8 images"
        )
    if x.dim() == 3:
        raise ValueError(
            f"{name} has shape {tuple(x.shape)}: expected a batch (B, C, H, W); for one image use x.unsqueeze(0)"
        )
    if x.dim() != 4:
        raise ValueError(f"{name} has shape {tuple(x.shape)}: expected (B, C, H, W)")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (B=0): pass at least one image")
    if in_channels is not None and x.shape[1] != in_channels:
        raise ValueError(
            f"{name} has {x.shape[1]} channels but the model takes {in_channels}: "
            f"convert the images (e.g. grey→RGB with x.expand(-1, 3, -1, -1)) or build the "
            f"model with in_channels={x.shape[1]}"
        )
    if min(x.shape[-2:]) < min_size:
        raise ValueError(
            f"{name} is {x.shape[-2]}×{x.shape[-1]} pixels but the model needs at least "
            f"{min_size}×{min_size} (its downsampling would reduce it to nothing): resize the "
            f"images or build the model with fewer downsampling layers"
        )
    if finite and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or Inf values: clean the input (e.g. torch.nan_to_num)")
    return x


def check_target(target: object, batch: int, num_classes: int, device: torch.device) -> Tensor:
    """Return ``target`` (an int or a ``(B,)`` integer tensor/sequence) as a ``(B,)`` long tensor.

    Raises
    ------
    TypeError
        ``target`` is not an int, integer tensor or sequence of ints.
    ValueError
        Wrong length, or a class index outside ``[0, num_classes)``.
    """
    if isinstance(target, (bool, np.bool_)) or target is None or isinstance(target, (str, bytes, float, np.floating)):
        raise TypeError(
            f"target={_shown(target)} must be an int class index or a ({batch},) tensor of them, got "
            f"{type(target).__name__}: e.g. target=3, or target=model(x).argmax(1) for the predicted classes"
        )
    if isinstance(target, numbers.Integral):
        if not 0 <= int(target) < num_classes:
            raise ValueError(
                f"target={int(target)} is out of range: the model has {num_classes} classes, "
                f"use indices in [0, {num_classes - 1}]"
            )
        t = torch.full((batch,), int(target), dtype=torch.long, device=device)
    else:
        try:
            t = torch.as_tensor(target, device=device)
        except (TypeError, ValueError, RuntimeError, OverflowError) as e:
            raise TypeError(
                f"target={_shown(target)} is not a list of int class indices ({e}): pass an int or a "
                f"({batch},) integer tensor"
            ) from None
        if t.is_floating_point() or t.dtype == torch.bool:
            raise TypeError(f"target must hold integer class indices, got dtype {t.dtype}")
        t = t.long().reshape(-1) if t.dim() == 0 else t.long()
        if t.dim() != 1 or (t.numel() != batch and t.numel() != 1):
            raise ValueError(
                f"target has shape {tuple(t.shape)} but the batch has {batch} images: "
                f"pass one int or a ({batch},) tensor"
            )
        t = t.expand(batch).clone() if t.numel() == 1 else t
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= num_classes):
        raise ValueError(
            f"target holds class {int(t.max()) if int(t.max()) >= num_classes else int(t.min())} "
            f"but the model has {num_classes} classes: use indices in [0, {num_classes - 1}]"
        )
    return t


def check_layer(layer: int, num_layers: int) -> int:
    """Normalise a (possibly negative) layer index into ``[0, num_layers)``.

    Raises
    ------
    TypeError
        ``layer`` is not an int.
    ValueError
        ``layer`` is out of range.
    """
    if isinstance(layer, bool) or not isinstance(layer, int):
        raise TypeError(f"layer must be an int, got {type(layer).__name__}")
    if not -num_layers <= layer < num_layers:
        raise ValueError(
            f"layer {layer} is out of range: the model has {num_layers} feature-map layers, "
            f"use 0..{num_layers - 1} (0 = aligned input, -1 = penultimate)"
        )
    return layer % num_layers


def check_stats(mean: object, std: object, channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel normalisation statistics as float tuples (default 0.5 and 0.5); ``std`` > 0.

    >>> check_stats(None, [0.25], 1)
    ((0.5,), (0.25,))
    """
    m = (0.5,) * channels if mean is None else check_floats(mean, "mean", length=channels)
    s = (0.5,) * channels if std is None else check_floats(std, "std", 0, low_open=True, length=channels)
    return tuple(m), tuple(s)

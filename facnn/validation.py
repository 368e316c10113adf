"""Input checks shared by models, attribution methods and metrics.

Each check raises ``TypeError``/``ValueError`` with a message that names the problem and the fix.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["check_images", "check_target", "check_layer"]


def check_images(x: object, in_channels: int | None, min_size: int = 1, name: str = "x", *, finite: bool = True) -> Tensor:
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
            f"{name} has shape {tuple(x.shape)}: expected a batch (B, C, H, W); "
            f"for one image use x.unsqueeze(0)"
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
    if isinstance(target, bool):
        raise TypeError("target must be an int class index or a (B,) tensor of them, got bool")
    if isinstance(target, int):
        t = torch.full((batch,), target, dtype=torch.long, device=device)
    else:
        t = torch.as_tensor(target, device=device)
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

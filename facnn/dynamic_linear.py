"""What CoDA-Nets and B-cos networks share: both compute ``y(x) = W(x)·x`` on the ``[x, 1−x]``
encoding, and in *explanation mode* the dynamic weights ``W(x)`` are detached, so input ×
gradient of a logit gives contributions that sum to ``logit − b₀`` exactly.

A layer opts in by having a boolean attribute ``explain`` that it reads in ``forward``.

Example
-------
>>> import torch
>>> from facnn.coda import CoDANet
>>> m = CoDANet(10).eval()
>>> with explanation_mode(m):
...     assert all(layer.explain for layer in m.layers)
>>> any(layer.explain for layer in m.layers)
False
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

__all__ = ["explanation_mode", "contribution_maps"]


@contextmanager
def explanation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, every layer of ``model`` with an ``explain`` flag (CoDA-Net DAU layers,
    B-cos layers) detaches its dynamic weights ``W(x)``, so gradients see the network as the
    linear map ``x ↦ W(x)·x``. The flags are restored on exit, also after an exception."""
    units = [m for m in model.modules() if isinstance(getattr(m, "explain", None), bool)]
    if not units:
        raise ValueError(f"{type(model).__name__} has no dynamic-linear layers (modules with an 'explain' flag): "
                         "explanation mode applies to CoDA-Nets and B-cos networks")  # fmt: skip
    before = [u.explain for u in units]
    for u in units:
        u.explain = True
    try:
        yield model
    finally:
        for u, b in zip(units, before):
            u.explain = b


def contribution_maps(model: nn.Module, forward_encoded: Callable[[Tensor], Tensor], e: Tensor, classes: Tensor) -> Tensor:
    """Contribution maps ``(B, K, H, W)`` of ``classes (B, K)``: input × gradient of each logit on
    the encoded input ``e`` in explanation mode, summed over channels."""
    out = []
    with torch.enable_grad(), explanation_mode(model):
        e = e.detach().requires_grad_(True)
        logits = forward_encoded(e)
        for k in range(classes.shape[1]):
            (g,) = torch.autograd.grad(logits.gather(1, classes[:, k : k + 1]).sum(), e,
                                       retain_graph=k + 1 < classes.shape[1])  # fmt: skip
            out.append((e * g).sum(1).detach())
    return torch.stack(out, 1)

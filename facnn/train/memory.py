"""Training in less memory: activation checkpointing of the aligned layers, gradient accumulation.

An FA-CNN keeps ``C·R`` channels at full resolution through its first layers, so the activations
saved for the backward pass dominate its memory (``python -m facnn.train.cost`` counts them).
:func:`checkpointed_layers` runs the aligned layers in segments of ``k`` whose activations are
recomputed in the backward pass instead of kept: the same gradients, each segment keeps its input.

Batch norm in training mode would update its running statistics a second time when a layer is
recomputed; the recomputation runs with every batch norm's momentum at 0, so the running statistics
move once per step, as without checkpointing. The modules are patched on the instance for the
duration of the ``with`` block (state-dict keys unchanged) and restored even on an error; the
model's own loop over its layers is unchanged (a segment's first layer runs the segment, the others
pass their input through).

:func:`accumulated_backward` takes a batch's gradient in chunks (one backward each), so a batch that
does not fit trains as one step: the same gradient for models without batch norm.

Examples
--------
>>> import torch
>>> from facnn import FACNN
>>> net = FACNN(3, in_channels=1, depth=5)
>>> x = torch.rand(4, 1, 12, 12)
>>> with checkpointed_layers(net, segment=2) as n:
...     net(x).sum().backward()
>>> n
3
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

__all__ = ["checkpointed_layers", "accumulated_backward"]


@contextlib.contextmanager
def _momentum_zero(module: nn.Module) -> Iterator[None]:
    """Batch norms of ``module`` with momentum 0 inside the block (running statistics and the batch count
    unchanged by what runs in it)."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, None if m.num_batches_tracked is None else m.num_batches_tracked.clone()) for m in norms]
    try:
        for m in norms:
            m.momentum = 0.0
        yield
    finally:
        for m, (momentum, tracked) in zip(norms, saved):
            m.momentum = momentum
            if tracked is not None and m.num_batches_tracked is not None:  # the recomputation's count undone
                m.num_batches_tracked.copy_(tracked)


def _run_checkpointed(layer: nn.Module, forward, x: torch.Tensor) -> torch.Tensor:
    if not torch.is_grad_enabled():
        return forward(x)
    return checkpoint(
        forward,
        x,
        use_reentrant=False,
        context_fn=lambda: (contextlib.nullcontext(), _momentum_zero(layer)),
    )


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _run_segment(layers: list[nn.Module], x: torch.Tensor) -> torch.Tensor:
    for layer in layers:
        x = type(layer).forward(layer, x)  # the class's forward: the instance ones are patched
    return x


@contextlib.contextmanager
def checkpointed_layers(model: nn.Module, segment: int = 1) -> Iterator[int]:
    """Within the block, ``model``'s aligned layers (``model.layers``, found through DDP's and
    ``torch.compile``'s wrappers) run in checkpointed segments of ``segment`` consecutive layers: only
    each segment's input is kept, its activations are recomputed in the backward pass. Yields the
    number of segments.

    A single layer keeps little (its input already holds the ``C·R`` channels); longer segments keep
    one input per segment at the price of recomputing the segment. Raises ``ValueError`` for a model
    without aligned layers (e.g. a ResNet, a CoDA-Net) or a ``segment`` below 1.
    """
    inner = getattr(model, "module", model)
    inner = getattr(inner, "_orig_mod", inner)
    layers = getattr(inner, "layers", None)
    if not isinstance(layers, nn.ModuleList) or len(layers) == 0:
        raise ValueError(
            f"checkpoint_layers applies to FA-CNN and the hybrid (models with aligned layers); "
            f"{type(inner).__name__} has none: set checkpoint_layers 0"
        )
    if isinstance(segment, bool) or not isinstance(segment, int) or segment < 1:
        raise ValueError(f"segment={segment!r}: layers per checkpointed segment, an integer ≥ 1 (e.g. 4)")
    blocks = [list(layers)[i : i + segment] for i in range(0, len(layers), segment)]
    patched: list[nn.Module] = []
    try:
        for block in blocks:
            head = block[0]
            head.forward = partial(_run_checkpointed, nn.ModuleList(block), partial(_run_segment, block))
            patched.append(head)
            for layer in block[1:]:  # the segment's head runs them; the model's own loop passes through
                layer.forward = _identity
                patched.append(layer)
        yield len(blocks)
    finally:
        for layer in patched:
            del layer.forward  # back to the class's forward


def accumulated_backward(
    net: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    chunks: int = 1,
    autocast: Callable[[], Any] = contextlib.nullcontext,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Backpropagate the batch's mean loss in ``chunks`` pieces (one backward each, each weighted by
    its share of the batch; under DDP only the last one synchronises gradients).

    Returns the detached batch loss and the logits; gradients accumulate in ``.grad`` as one
    backward of the whole batch would leave them (exactly, for models without batch norm).

    Examples
    --------
    >>> net = nn.Linear(3, 2)
    >>> x, y = torch.rand(5, 3), torch.tensor([0, 1, 1, 0, 1])
    >>> loss, logits = accumulated_backward(net, x, y, nn.functional.cross_entropy, chunks=2)
    >>> logits.shape, net.weight.grad.shape
    (torch.Size([5, 2]), torch.Size([2, 3]))
    """
    pieces = list(zip(x.chunk(chunks), y.chunk(chunks)))
    losses, outputs = [], []
    for k, (xc, yc) in enumerate(pieces):
        last = k == len(pieces) - 1
        no_sync = getattr(net, "no_sync", None)  # DDP: all-reduce the gradients once, on the last chunk
        sync = contextlib.nullcontext() if last or no_sync is None else no_sync()
        with sync:
            with autocast():
                logits = net(xc)
                loss = loss_fn(logits.float(), yc) * (len(yc) / len(y))  # the shares sum to 1
            loss.backward()
        losses.append(loss.detach())
        outputs.append(logits.detach())
    return torch.stack(losses).sum(), torch.cat(outputs)

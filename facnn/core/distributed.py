"""Processes of a ``torchrun`` job: setting them up, splitting work into shards, gathering results.

A sharded evaluation gives every process a contiguous run of whole batches and gathers the
per-unit results in rank order, so the gathered arrays are those one process computes (with
randomness keyed by unit, :mod:`facnn.core.seeding`).

Examples
--------
>>> shard_range(250, 50, rank=1, world=2)  # 5 batches: rank 0 takes 2, rank 1 takes 3
range(100, 250)
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator, Mapping

import numpy as np
import torch

from facnn.core.validation import check_int

__all__ = ["setup_distributed", "world_rank", "one_process", "shard_range", "gather_arrays", "TIMEOUT_S"]

# How long a process waits for the others at a collective before failing (not hanging); the
# evaluation gathers after each method, so this bounds the imbalance between shards.
TIMEOUT_S = int(os.environ.get("FACNN_DIST_TIMEOUT_S", "3600"))
_alone = False  # inside one_process(): this process works as if it were the only one


@contextlib.contextmanager
def one_process() -> Iterator[None]:
    """Work done inside is this process's alone, though a ``torchrun`` group is running: :func:`setup_distributed`
    and :func:`world_rank` say ``world 1, rank 0``, so a model trained inside is not split with (and
    does not wait at a collective for) processes that are not taking part. The others wait at a barrier
    after it.

    Example
    -------
    >>> with one_process():
    ...     world_rank()
    (1, 0)
    """
    global _alone
    before, _alone = _alone, True
    try:
        yield
    finally:
        _alone = before


def setup_distributed(device: torch.device) -> tuple[torch.device, int, int]:
    """Join the ``torchrun`` job described by ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` (gloo on
    CPU, NCCL on CUDA, each process on its own GPU); return ``(device, world, rank)``. Without
    ``torchrun`` (``WORLD_SIZE`` unset or 1) nothing is started: ``(device, 1, 0)``."""
    if _alone:
        return device, 1, 0
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    if world > 1:
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        if not torch.distributed.is_initialized():
            torch.distributed.init_process_group(
                "nccl" if device.type == "cuda" else "gloo", timeout=datetime.timedelta(seconds=TIMEOUT_S)
            )
    return device, world, rank


def world_rank() -> tuple[int, int]:
    """``(world size, rank)`` of the running process group, ``(1, 0)`` when there is none."""
    if not _alone and torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size(), torch.distributed.get_rank()
    return 1, 0


def shard_range(n: int, batch_size: int, rank: int | None = None, world: int | None = None) -> range:
    """The items ``[start, stop)`` of process ``rank`` out of ``world`` (default: the running
    group): a contiguous run of whole batches of ``batch_size``, as even as whole batches allow,
    so every batch holds the images it holds on one process."""
    if rank is None or world is None:
        world, rank = world_rank()
    n, batch_size = check_int(n, "n", 0), check_int(batch_size, "batch_size", 1)
    batches = -(-n // batch_size)
    first, last = rank * batches // world, (rank + 1) * batches // world
    return range(min(n, first * batch_size), min(n, last * batch_size))


def gather_arrays(local: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Concatenate each process's arrays (same keys on every process) along the first axis in
    rank order; on one process, ``local`` unchanged."""
    world, _ = world_rank()
    if world == 1:
        return dict(local)
    parts: list = [None] * world
    torch.distributed.all_gather_object(parts, {k: np.asarray(v) for k, v in local.items()})
    if any(set(p) != set(local) for p in parts):
        raise RuntimeError(f"processes gathered different results: keys {[sorted(p) for p in parts]}")
    return {k: np.concatenate([p[k] for p in parts]) for k in local}

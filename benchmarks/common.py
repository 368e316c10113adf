"""Timing helpers shared by the benchmarks: min and median of repeats, CUDA-synchronised, and
interleaved timing (A, B, A, B, …) whose per-repeat ratios cancel a machine's drift."""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def timed(fn: Callable[[], object], repeats: int, device: torch.device, warmup: int = 1) -> list[float]:
    """Seconds per call of ``fn`` for ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        out.append(time.perf_counter() - t)
    return out


def interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, device: torch.device, warmup: int = 1
) -> dict[str, list[float]]:
    """Seconds per call of each of ``fns``, timed in turns (A, B, A, B, …) so that a machine
    getting busier or quieter during the run affects every function alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    out: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            out[name] += timed(fn, 1, device, warmup=0)
    return out


def train_step(net: Callable, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, cfg, amp: bool) -> None:
    """One training step as ``facnn.train`` takes it: forward (bf16 autocast when ``amp``), the
    config's loss in float32, backward, optimizer step."""
    from facnn.train.loop import training_loss

    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        out = net(x)
    loss = training_loss(cfg, out.float(), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def paired_ratio(times: list[float], ref: list[float]) -> float:
    """Median over repeats of ``times[i] / ref[i]``: the ratio of two functions timed in turns."""
    return statistics.median(a / b for a, b in zip(times, ref))


def machine_kind(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device).lower().replace(" ", "-")
    return f"cpu-{torch.get_num_threads()}threads"


def summary(times: list[float], ref: list[float]) -> dict[str, float]:
    """Seconds (min, median) and ratios to ``ref``: of the minima, of the medians and, where the two
    were timed in turns (same number of repeats), the median of the per-repeat ratios."""
    out = dict(
        seconds_min=min(times),
        seconds_median=statistics.median(times),
        ratio_min=min(times) / min(ref),
        ratio_median=statistics.median(times) / statistics.median(ref),
    )
    if len(times) == len(ref):
        out["ratio_paired_median"] = paired_ratio(times, ref)
    return out


def write(name: str, device: torch.device, records: list[dict], settings: dict, out_dir: Path = RESULTS) -> Path:
    """Write ``{"meta", "records"}`` to ``out_dir/<name>-<machine>.json``; ``settings`` are the CLI arguments."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}-{machine_kind(device)}.json"
    meta = dict(
        device_name=machine_kind(device),
        threads=torch.get_num_threads(),
        torch=torch.__version__,
        host=platform.node(),
        settings=settings,
    )
    path.write_text(json.dumps({"meta": meta, "records": records}, indent=1))
    return path

"""Where a training step's time goes: the top operators of a few profiled steps, per variant.

    python -m benchmarks.profile_step --device cuda --config imagenet100_facnn24 --batch 64

Prints, for eager fp32 and for bf16 autocast + channels_last, the operators with the largest
self device time (CUDA) or self CPU time over ``--steps`` steps after ``--warmup`` steps (torch.profiler).
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from facnn import build_model
from facnn.train import load_config

from .common import train_step


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="imagenet100_facnn24")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--top", type=int, default=15)
    a = p.parse_args(argv)
    dev = torch.device(a.device)
    cfg = load_config(a.config)
    size = cfg.image_size if cfg.dataset == "imagefolder" else {"cifar10": 32}.get(cfg.dataset, 28)
    channels = 1 if cfg.dataset in ("fashion-mnist", "mnist", "digits") else 3
    classes = int(cfg.model_config.get("num_classes", 10))
    model_config = {"num_classes": classes, "in_channels": channels, **cfg.model_config}
    x = torch.rand(a.batch, channels, size, size, device=dev)
    y = torch.randint(0, classes, (a.batch,), device=dev)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    sort = "self_device_time_total" if dev.type == "cuda" else "self_cpu_time_total"  # kernels, not wrappers
    for label, amp, cl in (("eager fp32", False, False), ("bf16 + channels_last", True, True)):
        torch.manual_seed(0)
        model = build_model(cfg.model, model_config).to(dev)
        if cl:
            model = model.to(memory_format=torch.channels_last)
        xx = x.contiguous(memory_format=torch.channels_last) if cl else x
        opt = torch.optim.AdamW(model.parameters(), 1e-3)

        for _ in range(a.warmup):
            train_step(model, opt, xx, y, cfg, amp)
        with profile(activities=activities) as prof:
            for _ in range(a.steps):
                train_step(model, opt, xx, y, cfg, amp)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
        print(f"\n== {a.config} {label}, batch {a.batch}, {a.steps} steps on {dev}")
        print(prof.key_averages().table(sort_by=sort, row_limit=a.top, max_name_column_width=60))


if __name__ == "__main__":
    main()

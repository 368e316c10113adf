"""Training step time of FA-CNN vs the same-budget ResNet (and CoDA-Net), with FLOPs and parameters.

    python -m benchmarks.training                    # CPU: eager fp32
    python -m benchmarks.training --device cuda      # also bf16 autocast + channels_last (+ torch.compile)
    python -m benchmarks.training --config-prefix imagenet100 --models resnet facnn24 --batch 4   # at 224²

On CUDA each variant's peak memory (model, gradients, AdamW state, activations; after two
steps) is recorded too. Every variant of every model is timed in turns (one round of all, then the next), and each ratio
to the ResNet's eager fp32 step is the median of the per-round ratios, so drift cancels. Writes
benchmarks/results/training-<machine>.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from facnn import build_model, count_params
from facnn.core.registry import forward_flops
from facnn.core.validation import check_images
from facnn.train import load_config

from .common import RESULTS, interleaved, summary, train_step, write

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--models", nargs="*", default=["resnet", "facnn", "hybrid", "coda"])
    p.add_argument("--config-prefix", default="fashion_mnist", help="configs <prefix>_<model> (their image size)")
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    a = p.parse_args(argv)
    dev = torch.device(a.device)
    first = load_config(f"{a.config_prefix}_{a.models[0]}")
    size = first.image_size if first.dataset == "imagefolder" else {"cifar10": 32}.get(first.dataset, 28)
    channels = 1 if first.dataset in ("fashion-mnist", "mnist", "digits") else 3
    classes = int(first.model_config.get("num_classes", 10))
    x = torch.rand(a.batch, channels, size, size, device=dev)
    y = torch.randint(0, classes, (a.batch,), device=dev)
    # (label, bf16 autocast, channels_last, compile, value check per forward): the last variant
    # puts back the NaN/Inf scan every forward ran before validation moved to the API entry points
    variants = [
        ("eager fp32", False, False, False, False),
        ("eager fp32 + value check per forward", False, False, False, True),
    ]
    if dev.type == "cuda":
        variants += [
            ("bf16 + channels_last", True, True, False, False),
            ("bf16 + channels_last + compile", True, True, True, False),
        ]
    steps, facts = {}, {}
    for name in a.models:
        train_cfg = load_config(f"{a.config_prefix}_{name}")  # the model's own loss (BCE for CoDA-Nets and B-cos)
        model_config = {"num_classes": classes, "in_channels": channels, **train_cfg.model_config}
        flops = forward_flops(train_cfg.model, model_config, size)
        for label, amp, cl, comp, check in variants:
            torch.manual_seed(0)
            if dev.type == "cuda":  # peak memory beyond the inputs: model, gradients, AdamW state, activations
                torch.cuda.synchronize(dev)
                base = torch.cuda.memory_allocated(dev)
                torch.cuda.reset_peak_memory_stats(dev)
            model = build_model(train_cfg.model, model_config).to(dev)
            if cl:
                model = model.to(memory_format=torch.channels_last)
            net = torch.compile(model) if comp else model
            opt = torch.optim.AdamW(model.parameters(), 1e-3)
            xx = x.contiguous(memory_format=torch.channels_last) if cl else x

            def step(net=net, opt=opt, xx=xx, amp=amp, check=check, train_cfg=train_cfg):
                if check:
                    check_images(xx, channels)
                train_step(net, opt, xx, y, train_cfg, amp)

            key = f"{name} train step ({label})"
            steps[key] = step
            facts[key] = dict(model=name, params=count_params(model), forward_flops_per_image=flops)
            if dev.type == "cuda":  # two steps: the second holds the optimizer state the first created
                step()
                step()
                torch.cuda.synchronize(dev)
                facts[key]["peak_memory_gib"] = (torch.cuda.max_memory_allocated(dev) - base) / 2**30
    # every step timed in turns with every other (one round after another), so drift cancels in the ratios
    times = interleaved(steps, a.repeats, dev, warmup=3 if any(v[3] for v in variants) else 1)
    ref = times[next(iter(steps))]  # the first model's plain step (the ResNet by default)
    records = []
    for key, ts in times.items():
        rec = dict(method=key, **facts[key], batch=a.batch, image_size=size, device=str(dev), **summary(ts, ref))
        records.append(rec)
        print(
            f"{key:45s} {rec['seconds_median'] * 1e3:8.1f} ms  ratio to {next(iter(steps)).split()[0]} "
            f"(paired median) {rec['ratio_paired_median']:5.2f}  params {rec['params']:>9,}  "
            f"fwd GFLOP/img {rec['forward_flops_per_image'] / 1e9:.3f}"
            + (f"  peak {rec['peak_memory_gib']:.2f} GiB" if "peak_memory_gib" in rec else ""),
            flush=True,
        )
    if not a.no_write:
        name = "training" if a.config_prefix == "fashion_mnist" else f"training-{a.config_prefix}"
        print("wrote", write(name, dev, records, {k: str(v) for k, v in vars(a).items()}, a.out_dir))
    return records


if __name__ == "__main__":
    main()

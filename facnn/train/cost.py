"""What a config costs before anything is trained: parameters, forward FLOPs per image and the
memory autograd saves for the backward pass per image (fp32 and bf16), counted on the meta device
(no memory, no data, any image size).

    python -m facnn.train.cost --config imagenet100_facnn24
    python -m facnn.train.cost --config fashion_mnist_facnn --image-size 224 --num-classes 100
    python -m facnn.train.cost --all            # every shipped config, as a markdown table

FLOPs are torch's ``FlopCounterMode`` count (a multiply-add is 2 FLOPs: convolutions and matmuls;
element-wise ops not counted). Saved memory is the sum of the distinct tensors autograd keeps for
the backward pass of a training-mode forward (a tensor saved by two ops counted once), the figure
that decides the batch a GPU holds; weights, gradients and optimizer state come on top
(``params`` × 4 bytes × ~4 for AdamW in fp32).

Examples
--------
>>> c = model_cost("facnn", {"num_classes": 10, "in_channels": 1, "depth": 2}, image_size=28)
>>> c.params > 0 and c.gflops > 0 and c.saved_bf16_mib < c.saved_fp32_mib
True
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, replace
from types import SimpleNamespace
from typing import Any

import torch

from facnn.core.registry import build_model
from facnn.train.config import TrainConfig, config_names, load_config
from facnn.train.loop import model_config_for

__all__ = ["Cost", "saved_bytes", "model_cost", "config_cost", "DATASET_FACTS", "cost_table", "main"]

# (classes, channels, image size) of the datasets a config may name; image folders give theirs in the config
DATASET_FACTS = {"fashion-mnist": (10, 1, 28), "mnist": (10, 1, 28), "digits": (10, 1, 8), "cifar10": (10, 3, 32)}


@dataclass(frozen=True)
class Cost:
    """One model's cost per image at one image size."""

    model: str
    image_size: int
    params: int
    gflops: float  # forward, per image
    saved_fp32_mib: float  # saved for backward, per image
    saved_bf16_mib: float

    def ratios(self, other: Cost) -> dict[str, float]:
        """This cost over ``other``'s, per quantity."""
        return {
            "gflops": self.gflops / other.gflops,
            "saved": self.saved_fp32_mib / other.saved_fp32_mib,
            "params": self.params / other.params,
        }


def saved_bytes(net: torch.nn.Module, x: torch.Tensor) -> int:
    """Bytes of the distinct tensors autograd saves in one training-mode forward of ``x``."""
    seen: dict[int, int] = {}
    keep: list[torch.Tensor] = []  # hold them, so no id is reused during the forward

    def pack(t: torch.Tensor) -> torch.Tensor:
        base = t._base if t._base is not None else t
        if id(base) not in seen:
            seen[id(base)] = base.numel() * base.element_size()
            keep.append(base)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        net(x)
    return sum(seen.values())


def model_cost(name: str, config: dict[str, Any], image_size: int, batch: int = 2) -> Cost:
    """The :class:`Cost` of registered model ``name`` built with ``config`` on square images of
    ``image_size`` pixels (measured on a batch of ``batch`` meta tensors, reported per image)."""
    from torch.utils.flop_counter import FlopCounterMode

    channels = int(config.get("in_channels", 1))
    with torch.device("meta"):
        net = build_model(name, config)
    params = sum(p.numel() for p in net.parameters())
    x = torch.empty(batch, channels, image_size, image_size, device="meta")
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        net.eval()(x)
    net.train()
    saved = {}
    for dtype in (torch.float32, torch.bfloat16):
        net = net.to(dtype)
        saved[dtype] = saved_bytes(net, x.to(dtype).requires_grad_(False))
    mib = 2**20 * batch
    return Cost(
        name,
        image_size,
        params,
        round(fc.get_total_flops() / batch / 1e9, 3),
        round(saved[torch.float32] / mib, 1),
        round(saved[torch.bfloat16] / mib, 1),
    )


def _completed_config(cfg: TrainConfig, num_classes: int | None = None) -> tuple[dict[str, Any], int, int]:
    """``cfg``'s model config with the dataset's facts filled in as training fills them (an image
    folder's from the config: ``image_size`` and ``model_config.num_classes``), its input channels
    and image size."""
    mc = dict(cfg.model_config)
    classes, channels, size = DATASET_FACTS.get(cfg.dataset, (None, 3, cfg.image_size))
    classes = num_classes or mc.get("num_classes") or classes
    if classes is None:
        raise ValueError(
            f"{cfg.dataset}: the number of classes comes from the data; give model_config.num_classes "
            f"in the config or --num-classes"
        )
    mc["num_classes"] = classes
    facts = SimpleNamespace(num_classes=classes, in_channels=channels, mean=(0.5,) * channels, std=(0.5,) * channels)
    return model_config_for(replace(cfg, model_config=mc), facts), channels, size


def config_cost(cfg: TrainConfig, image_size: int | None = None, num_classes: int | None = None) -> Cost:
    """The :class:`Cost` of the model ``cfg`` trains, its config completed as training completes it."""
    mc, _, size = _completed_config(cfg, num_classes)
    return model_cost(cfg.model, mc, image_size or size)


def checkpoint_cost(
    cfg: TrainConfig, segment: int, image_size: int | None = None, num_classes: int | None = None
) -> dict[str, float]:
    """Saved-for-backward MiB per image (fp32) of ``cfg``'s model with its aligned layers checkpointed in
    segments of ``segment`` (:func:`facnn.train.memory.checkpointed_layers`): what stays saved, the
    largest segment's activations while it is recomputed, and their sum (an upper bound on the peak:
    later segments' inputs are freed before earlier ones are recomputed) beside the plain count."""
    from facnn.train.memory import checkpointed_layers

    mc, channels, size = _completed_config(cfg, num_classes)
    with torch.device("meta"):
        net = build_model(cfg.model, mc).train()
    if not hasattr(net, "align"):
        raise ValueError(f"{cfg.model} has no aligned layers: --checkpoint-layers applies to FA-CNN and the hybrid")
    batch = 2  # as model_cost: per-batch constants (saved weights) amortised alike
    x = torch.empty(batch, channels, image_size or size, image_size or size, device="meta")
    plain = saved_bytes(net, x)
    sizes, a = [], getattr(net, "align")(x)
    for layer in getattr(net, "layers"):
        sizes.append(saved_bytes(layer, a))
        a = layer(a)
    with checkpointed_layers(net, segment):
        kept = saved_bytes(net, x)
    largest = max(sum(sizes[i : i + segment]) for i in range(0, len(sizes), segment))
    mib = 2.0**20 * batch
    return {
        "plain": round(plain / mib, 1),
        "kept": round(kept / mib, 1),
        "recompute": round(largest / mib, 1),
        "peak_bound": round((kept + largest) / mib, 1),
    }


def cost_table(names: list[str] | None = None, image_size: int | None = None) -> str:
    """A markdown table of :func:`config_cost` for configs ``names`` (default: all shipped)."""
    rows = [
        "| config | model | image | params | GFLOP fwd / image | saved for backward / image fp32 | bf16 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in names or config_names():
        c = config_cost(load_config(name), image_size)
        rows.append(
            f"| `{name}` | {c.model} | {c.image_size}² | {c.params:,} | {c.gflops:.3f} | "
            f"{c.saved_fp32_mib:,.1f} MiB | {c.saved_bf16_mib:,.1f} MiB |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    import json

    p = argparse.ArgumentParser(prog="python -m facnn.train.cost", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", action="append", help="a config name or JSON file (repeatable)")
    p.add_argument("--all", action="store_true", help="every config in facnn/configs/, as a markdown table")
    p.add_argument("--image-size", type=int, help="square image size (default: the dataset's)")
    p.add_argument("--num-classes", type=int, help="classes, where the config's dataset does not fix them")
    p.add_argument("--json", action="store_true", help="one JSON object per config instead of a table")
    p.add_argument(
        "--checkpoint-layers",
        type=int,
        metavar="K",
        help="also the saved memory with the aligned layers checkpointed in segments of K (FA-CNN, hybrid)",
    )
    a = p.parse_args(argv)
    if not a.all and not a.config:
        p.error("give --config NAME (or --all)")
    names = config_names() if a.all else a.config
    try:
        if a.json:
            for name in names:
                print(
                    json.dumps({"config": name, **asdict(config_cost(load_config(name), a.image_size, a.num_classes))})
                )
        elif a.num_classes:
            for name in names:
                print(config_cost(load_config(name), a.image_size, a.num_classes))
        else:
            print(cost_table(names, a.image_size))
        for name in names if a.checkpoint_layers else []:
            c = checkpoint_cost(load_config(name), a.checkpoint_layers, a.image_size, a.num_classes)
            print(
                f"{name}, checkpoint_layers={a.checkpoint_layers}: {c['kept']:,.1f} MiB / image kept + "
                f"{c['recompute']:,.1f} recomputed at once = at most {c['peak_bound']:,.1f} MiB "
                f"(without: {c['plain']:,.1f})"
            )
    except (FileNotFoundError, ValueError, TypeError) as e:
        raise SystemExit(f"facnn.train.cost: {e}") from None


if __name__ == "__main__":
    main()

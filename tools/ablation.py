"""FA-CNN accuracy ablation on Fashion-MNIST: train each variant (skipping finished ones) and
write ``figures/ablation.json`` with accuracy, parameters, time and the command.

    python tools/ablation.py [--epochs 10] [--seed 0] [--train-subset N] [--only NAME ...]

The 24-layer variants (the paper's depth, issue 18) are screened at a small budget first:
``python tools/ablation.py --epochs 2 --train-subset 10000 --only facnn-pre-full1 facnn24 ...``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from facnn.core.registry import forward_flops
from facnn.train import load_config, train

ROOT = Path(__file__).resolve().parent.parent

BASE = asdict(load_config("fashion_mnist_facnn"))
# The first default (pool before layers 1 and 3, every branch 64 wide): the variants change it.
FIRST = {"maps_per_class": 4, "depth": 6, "hidden": 64, "branch": "pre", "pool_at": [1, 3], "dampening": 0.5}
CHANGES = {
    "facnn-pre-l0.5": "first default: pre-activation branch, λ=0.5 fixed, R=4, hidden 64, pool before layers 1 and 3",
    "resnet-w28": "plain ResNet baseline (width 28, one block per stage)",
    "facnn-post-l0.5": "post-activation branch (conv-BN-ReLU-conv-BN, zero-init last BN)",
    "facnn-pre-learned-l": "λ learned in (0, 1] per layer and a learned logit temperature",
    "facnn-pre-l0.1": "λ=0.1",
    "facnn-pre-pool2,4": "pool before layers 2 and 4 (one layer at 28×28)",
    "facnn-pre-R8": "R=8 maps per class",
    "facnn-pre-R8-h32": "R=8 maps per class, branch hidden 32: same parameters and FLOPs, a residual stream twice as "
    "wide",
    "facnn-pre-full1": "default now: layer 1 at 28×28 with a 16-wide branch, pool before layers 2 and 3: the first "
    "default's FLOPs, 13% fewer parameters",
    "facnn-pre-full1-h32": "layer 1 at 28×28 with a 32-wide branch, pool before layers 2 and 3: 1.33× the first "
    "default's FLOPs",
    "facnn24": "24 layers (the paper's depth): branch 16 wide, pool before layers 6 and 12, λ=0.5",
    "facnn24-pool4,8": "24 layers, pool before layers 4 and 8 (fewer layers at full resolution)",
    "facnn24-pool12,18": "24 layers, pool before layers 12 and 18 (more layers at full resolution)",
    "facnn24-h24": "24 layers, branch 24 wide",
    "facnn24-l0.3": "24 layers, λ=0.3",
}
DEEP = {"maps_per_class": 4, "depth": 24, "hidden": 16, "branch": "pre", "pool_at": [6, 12], "dampening": 0.5}
VARIANTS: dict[str, dict] = {
    "facnn-pre-l0.5": {"model_config": FIRST},
    "resnet-w28": {"base": "fashion_mnist_resnet"},
    "facnn-post-l0.5": {"model_config": {**FIRST, "branch": "post"}},
    "facnn-pre-learned-l": {"model_config": {**FIRST, "learn_dampening": True, "learn_logit_scale": True}},
    "facnn-pre-l0.1": {"model_config": {**FIRST, "dampening": 0.1}},
    "facnn-pre-pool2,4": {"model_config": {**FIRST, "pool_at": [2, 4]}},
    "facnn-pre-R8": {"model_config": {**FIRST, "maps_per_class": 8}},
    "facnn-pre-R8-h32": {"model_config": {**FIRST, "maps_per_class": 8, "hidden": 32}},
    "facnn-pre-full1": {"model_config": {**FIRST, "hidden": [16, 64, 64, 64, 64, 64], "pool_at": [2, 3]}},
    "facnn-pre-full1-h32": {"model_config": {**FIRST, "hidden": [32, 64, 64, 64, 64, 64], "pool_at": [2, 3]}},
    "facnn24": {"model_config": DEEP},
    "facnn24-pool4,8": {"model_config": {**DEEP, "pool_at": [4, 8]}},
    "facnn24-pool12,18": {"model_config": {**DEEP, "pool_at": [12, 18]}},
    "facnn24-h24": {"model_config": {**DEEP, "hidden": 24}},
    "facnn24-l0.3": {"model_config": {**DEEP, "dampening": 0.3}},
}


def properties(checkpoint: Path) -> dict:
    """The alignment properties measured on the trained weights (64 test images): Theorem 1's
    error and the worst Theorem-2 ratios; ``None`` for models without class-aligned maps."""
    from facnn import FACNN, load_checkpoint
    from facnn.companion.experiments import test_batch
    from facnn.evaluate.theorems import morph_profile, theorem1_error

    model = load_checkpoint(checkpoint).eval()
    if not isinstance(model, FACNN):
        return dict(theorem1_error=None, morph_equality_error=None, class_ratio_max=None)
    x, y = test_batch("fashion-mnist", 64)
    prof = morph_profile(model, x)
    return dict(
        theorem1_error=theorem1_error(model, x, y),
        morph_equality_error=max(abs(r.step - r.bound) / max(r.bound, 1e-30) for r in prof),
        class_ratio_max=max(r.class_ratio for r in prof),
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=BASE["seed"])
    p.add_argument("--train-subset", type=int, default=None, help="training images (default: the whole split)")
    p.add_argument("--only", nargs="*")
    args = p.parse_args()
    records = []
    for name in VARIANTS:
        if args.only and name not in args.only:
            continue
        change = dict(VARIANTS[name])
        cfg = load_config(
            change.pop("base", "fashion_mnist_facnn"),
            **change,
            epochs=args.epochs,
            seed=args.seed,
            train_subset=args.train_subset,
        )
        non_default_seed = args.seed != BASE["seed"]
        flags = (f" --seed {args.seed}" if non_default_seed else "") + (
            f" --train-subset {args.train_subset}" if args.train_subset else ""
        )
        out = (
            ROOT
            / "runs"
            / "ablation"
            / (
                f"{name}-e{args.epochs}"
                + (f"-s{args.seed}" if non_default_seed else "")
                + (f"-n{args.train_subset}" if args.train_subset else "")
            )
        )
        if (out / "results.json").is_file() and json.loads((out / "results.json").read_text())["epochs"] == args.epochs:
            res = json.loads((out / "results.json").read_text())
        else:
            _, res = train(
                cfg,
                out,
                resume=True,
                progress=False,
                command=f"python tools/ablation.py --epochs {args.epochs}{flags} --only {name}",
            )
        rec = dict(
            variant=name,
            change=CHANGES[name],
            test_accuracy=res["test_accuracy"],
            params=res["params"],
            epochs=res["epochs"],
            wall_time=res["wall_time"],
            threads=res["threads"],
            model_config=res["model_config"],
            config=asdict(cfg),
            command=res["command"],
            forward_flops=forward_flops(cfg.model, res["model_config"]),
            **properties(out / "checkpoint.pt"),
        )
        print(json.dumps({k: rec[k] for k in ("variant", "test_accuracy", "params", "wall_time")}), flush=True)
        records.append(rec)
    out_json = ROOT / "figures" / "ablation.json"

    def key(r: dict) -> str:
        return f"{r['variant']} e{r['epochs']} s{r['config']['seed']} n{r['config'].get('train_subset')}"

    old = {key(r): r for r in json.loads(out_json.read_text())} if out_json.is_file() else {}
    old.update({key(r): r for r in records})
    out_json.write_text(json.dumps(list(old.values()), indent=1))


if __name__ == "__main__":
    main()

"""FA-CNN accuracy ablation on Fashion-MNIST: train each variant (skipping finished ones) and
write ``figures/ablation.json`` with accuracy, parameters, time and the command.

    python tools/ablation.py [--epochs 10] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facnn.train import TrainConfig, train  # noqa: E402

BASE = json.loads((ROOT / "facnn/configs/fashion_mnist_facnn.json").read_text())
VARIANTS: dict[str, dict] = {
    "facnn-pre-l0.5": {},
    "resnet-w28": json.loads((ROOT / "facnn/configs/fashion_mnist_resnet.json").read_text()),
    "facnn-post-l0.5": {"model_config": {**BASE["model_config"], "branch": "post"}},
    "facnn-pre-learned-l": {"model_config": {**BASE["model_config"], "learn_dampening": True, "learn_logit_scale": True}},
    "facnn-pre-l0.1": {"model_config": {**BASE["model_config"], "dampening": 0.1}},
    "facnn-pre-pool2,4": {"model_config": {**BASE["model_config"], "pool_at": [2, 4]}},
    "facnn-pre-R8": {"model_config": {**BASE["model_config"], "maps_per_class": 8}},
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--only", nargs="*")
    args = p.parse_args()
    records = []
    for name, change in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        cfg = TrainConfig(**{**BASE, **change, "epochs": args.epochs})
        out = ROOT / "runs" / "ablation" / f"{name}-e{args.epochs}"
        if (out / "results.json").is_file() and json.loads((out / "results.json").read_text())["epochs"] == args.epochs:
            res = json.loads((out / "results.json").read_text())
        else:
            _, res = train(cfg, out, resume=True, progress=False,
                           command=f"python tools/ablation.py --epochs {args.epochs} --only {name}")
        rec = dict(variant=name, test_accuracy=res["test_accuracy"], params=res["params"], epochs=res["epochs"],
                   wall_time=res["wall_time"], threads=res["threads"], model_config=res["model_config"],
                   config=asdict(cfg), command=res["command"])  # fmt: skip
        print(json.dumps({k: rec[k] for k in ("variant", "test_accuracy", "params", "wall_time")}), flush=True)
        records.append(rec)
    out_json = ROOT / "figures" / "ablation.json"
    old = {r["variant"] + str(r["epochs"]): r for r in json.loads(out_json.read_text())} if out_json.is_file() else {}
    old.update({r["variant"] + str(r["epochs"]): r for r in records})
    out_json.write_text(json.dumps(list(old.values()), indent=1))


if __name__ == "__main__":
    main()

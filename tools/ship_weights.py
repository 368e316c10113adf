"""Ship a finished training run as package weights: a slim checkpoint (no optimizer state) named
``<name>-<sha256[:10]>.pt`` in ``facnn/weights/`` and its entry in ``manifest.json``.

    python tools/ship_weights.py fashion-mnist/facnn runs/pretrained/facnn \
        --command "python -m facnn.train --config fashion_mnist_facnn --epochs 20 --out runs/pretrained/facnn"

The test accuracy written to the manifest is re-measured here, on the whole test split, from the
slim file itself (the number ``tests/test_pretrained.py`` must reproduce).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from facnn.train.ship import ShipError, add_predictions, ship


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name", help='"<dataset>/<model>", e.g. fashion-mnist/facnn')
    p.add_argument("run", type=Path, nargs="?", help="run folder with checkpoint.pt and results.json")
    p.add_argument(
        "--command", help="the command that retrains this run from scratch (required unless --add-predictions)"
    )
    p.add_argument("--add-predictions", action="store_true", help="only add per-image test predictions to NAME's entry")
    p.add_argument("--allow-unfinished", action="store_true", help="ship a run's latest epoch (trials only)")
    p.add_argument(
        "--purpose",
        default="headline",
        help='"headline" (a fully trained model of the tables) or what a brief run ships for, e.g. '
        '"CoDA-Net temperature sweep (notebook 05, CPU budget)"',
    )
    args = p.parse_args()
    try:
        if args.add_predictions:
            return add_predictions(args.name)
        if not args.command or args.run is None:
            p.error("a run folder and --command are required to ship a run")
        entry = ship(args.name, args.run, args.command, args.purpose, args.allow_unfinished)
    except ShipError as e:
        raise SystemExit(f"ship_weights: {e}") from None
    print(
        json.dumps(
            {"name": args.name, "file": entry["file"], "test_accuracy": entry["test_accuracy"], "bytes": entry["bytes"]}
        )
    )


if __name__ == "__main__":
    main()

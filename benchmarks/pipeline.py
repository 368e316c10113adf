"""The input pipeline at 224²: decoding throughput per DataLoader worker, and whether the loader
keeps up with a training step.

    python -m benchmarks.pipeline                         # a JPEG tree of ImageNet-sized photographs in /tmp
    python -m benchmarks.pipeline --data-root /data/imagenet100 --device cuda

1. Loader throughput: images/s through ``facnn.data.batches`` (ImageNet's training transforms:
   random resized crop to 224 and flip) with 0, 1 and 2 workers, and per worker.
2. The train step of ``imagenet100_<model>`` fed by the loader (2 workers, the training loop's
   settings) against the same step on a batch already in memory, timed in turns (A, B, A, B, …).
   The model has as many classes as the tree (4 for the generated one), so its step is much
   shorter than at 100 classes (see ``benchmarks.training``) and the loader has less time to keep
   up: the stricter test. The ratio ``step without loading / step with loading`` is the share of
   the step the loader leaves intact (1.0: never waited for; target ≥ 0.9).

Writes benchmarks/results/pipeline-<machine>.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
import torch

from .common import RESULTS, interleaved, summary, write


def photo_tree(root: Path, n: int = 192, classes: int = 4) -> Path:
    """``train/`` and ``val/`` of ``classes`` folders with JPEGs the size of ImageNet's (about
    500×375), cut and resized from scikit-image's photographs."""
    from PIL import Image
    from skimage import data as photos

    names = ("astronaut", "coffee", "chelsea", "rocket")
    for split in ("train", "val"):
        for i in range(n if split == "train" else classes):
            img = getattr(photos, names[i % len(names)])()
            h, w = img.shape[:2]
            crop = img[(i * 7) % (h // 4) :, (i * 11) % (w // 4) :]
            size = (500 - (i * 13) % 120, 375 - (i * 7) % 80)
            folder = root / split / f"c{i % classes}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.ascontiguousarray(crop)).resize(size).save(folder / f"{i}.jpg", quality=90)
    return root


def loader_throughput(root: Path, workers: int, batch: int, size: int) -> float:
    """Images per second through one epoch of the training loader (after its first batch)."""
    from facnn.data.datasets import batches, load_dataset

    data = load_dataset("imagefolder", "train", root=root, image_size=size, augment=True, seed=0)
    it = batches(data, batch, shuffle=True, generator=torch.Generator().manual_seed(0), num_workers=workers)
    first = next(it)
    t, n = time.perf_counter(), 0
    for x, _ in it:
        n += len(x)
    return n / (time.perf_counter() - t) if n else len(first[0]) / 1e-9


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", type=Path, default=None, help="an image folder (default: a generated JPEG tree)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--model", default="facnn24", help="imagenet100_<model> config of the step")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--workers", type=int, default=2, help="loader workers of the step with loading")
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    a = p.parse_args(argv)
    from facnn.core.registry import build_model
    from facnn.data.datasets import batches, load_dataset
    from facnn.data.folder import FolderData
    from facnn.train import load_config
    from facnn.train.loop import training_loss

    dev = torch.device(a.device)
    cfg = load_config(f"imagenet100_{a.model}")
    size = cfg.image_size
    with tempfile.TemporaryDirectory() as tmp:
        root = a.data_root or photo_tree(Path(tmp) / "tree")
        records = []
        for w in (0, 1, 2):
            ips = loader_throughput(root, w, 32, size)
            records.append(dict(method=f"loader, {w} workers", workers=w, images_per_s=ips, per_worker=ips / max(w, 1)))
            print(f"loader {w} workers: {ips:7.1f} images/s ({ips / max(w, 1):6.1f} per worker)", flush=True)

        data = load_dataset("imagefolder", "train", root=root, image_size=size, augment=True, seed=0)
        torch.manual_seed(0)
        model = build_model(cfg.model, {**cfg.model_config, "num_classes": data.num_classes, "in_channels": 3}).to(dev)
        opt = torch.optim.SGD(model.parameters(), 0.01, momentum=0.9)
        fixed = next(batches(data, a.batch, device=dev))

        def step(x: torch.Tensor, y: torch.Tensor) -> None:
            loss = training_loss(cfg, model(x).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        def endless():
            epoch = 0
            while True:
                cast(FolderData, data).set_epoch(epoch)
                g = torch.Generator().manual_seed(epoch)
                yield from batches(data, a.batch, shuffle=True, generator=g, device=dev, num_workers=a.workers)
                epoch += 1

        stream = endless()
        fed_key = f"step fed by the loader ({a.workers} workers)"
        fns: dict[str, Callable[[], object]] = {
            "step, batch in memory": lambda: step(*fixed),
            fed_key: lambda: step(*next(stream)),
        }
        times = interleaved(fns, a.repeats, dev, warmup=2)
        ref = times["step, batch in memory"]
        for key, ts in times.items():
            rec = dict(method=key, model=a.model, classes=data.num_classes, batch=a.batch, image_size=size)
            rec.update(summary(ts, ref))
            records.append(rec)
            print(f"{key:40s} {summary(ts, ref)['seconds_median'] * 1e3:8.1f} ms", flush=True)
        intact = 1 / summary(times[fed_key], ref)["ratio_paired_median"]
        print(f"step without loading / step with loading: {intact:.3f} (target ≥ 0.9)")
        records.append(dict(method="share of the step the loader leaves intact", value=intact))
    if not a.no_write:
        print("wrote", write("pipeline", dev, records, {k: str(v) for k, v in vars(a).items()}, a.out_dir))
    return records


if __name__ == "__main__":
    main()

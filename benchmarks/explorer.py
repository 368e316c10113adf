"""How long one control change of the map explorer takes to redraw, per method (shipped FA-CNN).

    python -m benchmarks.explorer

The first draw of a method for an image computes every class's map in one pass (RISE: 500
masks, centred; occlusion: k=4) and caches it; later class or layer changes patch the figure. Prints and writes
benchmarks/results/explorer-<machine>.json; the target is well under a second on a CPU.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from .common import RESULTS, write


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    a = p.parse_args(argv)
    from facnn import pretrained
    from facnn.companion import experiments as ex
    from facnn.viz import EXPLORER_METHODS, make_explorer

    model, _ = pretrained("fashion-mnist/facnn")
    x, _ = ex.test_batch("fashion-mnist", 8)
    box = make_explorer(model, x, class_names=ex.class_names("fashion-mnist"))
    (image, _), (cls, method) = box.children[0].children, box.children[1].children
    records = []
    for name in EXPLORER_METHODS:
        t = time.perf_counter()
        method.value = name  # first draw: computes every class's map of this image (then cached)
        first = time.perf_counter() - t
        times = []
        for i in range(a.repeats):
            t = time.perf_counter()
            cls.value = (cls.value + 1) % 10  # a control change redraws once
            times.append(time.perf_counter() - t)
        rec = dict(
            method=f"explorer redraw ({name})",
            seconds_min=min(times),
            seconds_median=statistics.median(times),
            first_draw_seconds=first,
            threads=torch.get_num_threads(),
        )
        records.append(rec)
        print(
            f"{rec['method']:32s} class change median {rec['seconds_median'] * 1e3:7.1f} ms  "
            f"(first draw of the method {first * 1e3:7.1f} ms)",
            flush=True,
        )
    t = time.perf_counter()
    image.value = 1  # a new image: new class list, predicted class, one redraw
    print(f"{'explorer new image (' + method.value + ')':32s} {1e3 * (time.perf_counter() - t):7.1f} ms")
    if not a.no_write:
        print(
            "wrote", write("explorer", torch.device("cpu"), records, {k: str(v) for k, v in vars(a).items()}, a.out_dir)
        )
    return records


if __name__ == "__main__":
    main()

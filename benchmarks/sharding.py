"""Sharded map evaluation: notebook 03's experiment on one process and on two (``torchrun``, gloo on
CPU, one thread each), wall time of the experiment from each run's record.

    python -m benchmarks.sharding

Ideal scaling halves the time; the target is within 1.1× of it (two-process time ≤ 0.55× one's).
Runs alternate (1, 2, 1, 2, …) and the ratio is the median of the per-round ratios.
Writes benchmarks/results/sharding-<machine>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from .common import RESULTS, write

PARAMETERS = {
    "methods": ["intrinsic", "gradcam", "rise", "occlusion", "random"],
    "n_images": 200,
    "rise_n": 500,
    "fills": ["zero"],
}


def _port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def run(processes: int, params: dict, out: Path) -> float:
    """The experiment's wall seconds (the record's ``wall_s``) on ``processes`` processes."""
    cmd = ["-m", "facnn.companion.evaluation", "pixel_removal", "--parameters", json.dumps(params)]
    if processes > 1:
        cmd = ["-m", "torch.distributed.run", f"--nproc-per-node={processes}", f"--master-port={_port()}", *cmd]
    env = {**os.environ, "FACNN_OUT": str(out), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, *cmd], env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    (record,) = json.loads((out / "pixel_removal.json").read_text())["runs"]
    return float(record["wall_s"])


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--n-images", type=int, default=PARAMETERS["n_images"])
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    a = p.parse_args(argv)
    params = {**PARAMETERS, "n_images": a.n_images}
    one, two = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.repeats):
            one.append(run(1, params, Path(tmp) / f"one{r}"))
            two.append(run(2, params, Path(tmp) / f"two{r}"))
            print(f"round {r}: 1 process {one[-1]:.1f} s, 2 processes {two[-1]:.1f} s", flush=True)
    ratio = statistics.median(b / o for o, b in zip(one, two))
    records = [
        dict(method="pixel removal, 1 process", seconds_median=statistics.median(one), parameters=params),
        dict(method="pixel removal, 2 processes", seconds_median=statistics.median(two), ratio_paired_median=ratio),
        dict(method="2 processes vs ideal (0.5)", value=ratio / 0.5),
    ]
    print(f"2 processes / 1 process: {ratio:.3f} (ideal 0.5; {ratio / 0.5:.2f}× ideal, target ≤ 1.1×)")
    if not a.no_write:
        print(
            "wrote", write("sharding", torch.device("cpu"), records, {k: str(v) for k, v in vars(a).items()}, a.out_dir)
        )
    return records


if __name__ == "__main__":
    main()

"""The paper's setting end to end: train the models of a dataset, then run every notebook on them.

``python -m facnn.companion.paper_scale imagenet100 --data-root /data/imagenet100`` trains FA-CNN-24
and the ResNet-50 baseline (into the checkpoint cache, resumable) and runs notebooks 01–05 and 07
with papermill at ``config_prefix: imagenet100``, each reading those trained models
(``weights: "train"`` at the training's own epochs finds the finished run in the cache). The
notebooks go to ``<out>/notebooks/``, their figures and records to ``<out>/figures/``.
``--print`` shows the commands without running them; ``--tiny`` shrinks every size (epochs,
images, masks) so the same commands finish on a CPU in minutes: the dry run CI executes on a
synthetic tree in ImageNet's layout (``tests/test_paper_scale.py``).

Examples
--------
>>> steps = commands("imagenet100", "/data/imagenet100", device="cuda")
>>> steps[0].argv[:5]
['python', '-m', 'facnn.train', '--config', 'imagenet100_facnn24']
>>> [s.name for s in steps][2:]  # doctest: +NORMALIZE_WHITESPACE
['01_theorems', '02_training', '03_pixel_removal', '03_pixel_removal_road', '04_feature_maps',
 '05_localisation', '07_sanity_checks']
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Step", "SETTINGS", "commands", "main"]

_POSTHOC = ["intrinsic", "gradcam", "rise", "occlusion", "random"]

# Per dataset: the configs trained, the FA-CNN the notebooks read, each notebook's parameters at
# full size, and what --tiny changes (a CPU dry run of the same commands).
SETTINGS: dict[str, dict[str, Any]] = {
    "imagenet100": dict(
        train=["facnn24", "resnet"],
        model="facnn24",
        epochs=100,
        notebooks={
            "01_theorems": dict(n_random_models=30, n_images=500),
            "02_training": dict(models=["facnn24", "resnet"]),
            # ROAD's sparse solves run on the CPU (0.6-1 s per image and percent at 224², 7 maps × 20
            # removal sets an image: about 2 min an image): the paper's zero fill on the whole
            # validation split, ROAD beside it on 100 images (about 4 h of one CPU core)
            "03_pixel_removal": dict(methods=_POSTHOC, n_images=5000, rise_n=4000, occlusion_k=32, fills=["zero"]),
            "03_pixel_removal_road": dict(
                methods=_POSTHOC, n_images=100, rise_n=4000, occlusion_k=32, fills=["zero", "road"]
            ),
            "04_feature_maps": dict(n_show=6, n_corr=1000, rise_n=4000, occlusion_k=32),
            "05_localisation": dict(
                methods=_POSTHOC, grid=3, n_grids=500, n_candidates=5000, rise_n=4000, occlusion_k=96, temperatures=[]
            ),
            "07_sanity_checks": dict(
                methods=_POSTHOC, n_images=500, rise_n=1000, occlusion_k=32, shuffle_subset=256, shuffle_epochs=100
            ),
        },
        tiny=dict(
            train=dict(epochs=1, train_subset=8),
            notebooks={
                "01_theorems": dict(n_random_models=2, n_images=2),
                "03_pixel_removal": dict(n_images=2, rise_n=8, occlusion_k=112, percents=[0, 50, 100]),
                "03_pixel_removal_road": dict(n_images=2, rise_n=8, occlusion_k=112, percents=[0, 50, 100]),
                "04_feature_maps": dict(n_show=2, n_corr=2, rise_n=8, occlusion_k=112),
                # a barely trained model classifies next to nothing: a 1×1 grid needs one correct image
                "05_localisation": dict(
                    grid=1, n_grids=2, n_candidates=100, min_confidence=0.0, rise_n=8, occlusion_k=112
                ),
                # 25 cascade steps of every method: the dry run keeps FA-CNN's maps and the control
                "07_sanity_checks": dict(
                    methods=["intrinsic", "random"], n_images=2, shuffle_subset=4, shuffle_epochs=1
                ),
            },
        ),
    ),
    "cifar10": dict(
        train=["facnn24", "resnet"],
        model="facnn24",
        epochs=100,
        notebooks={
            "01_theorems": dict(n_random_models=30, n_images=500),
            "02_training": dict(models=["facnn24", "resnet"]),
            "03_pixel_removal": dict(methods=_POSTHOC, n_images=2000, rise_n=4000, fills=["zero", "road"]),
            "04_feature_maps": dict(n_show=6, n_corr=1000, rise_n=4000),
            "05_localisation": dict(methods=_POSTHOC, n_grids=500, n_candidates=5000, rise_n=4000, temperatures=[]),
            "07_sanity_checks": dict(methods=_POSTHOC, n_images=500),
        },
        tiny=dict(
            train=dict(epochs=1, train_subset=64),
            notebooks={
                "01_theorems": dict(n_random_models=2, n_images=4),
                "03_pixel_removal": dict(n_images=4, rise_n=16, percents=[0, 50, 100]),
                "04_feature_maps": dict(n_show=2, n_corr=4, rise_n=16),
                "05_localisation": dict(grid=1, n_grids=2, n_candidates=100, min_confidence=0.0, rise_n=16),
                "07_sanity_checks": dict(
                    methods=["intrinsic", "random"], n_images=4, shuffle_subset=8, shuffle_epochs=1
                ),
            },
        ),
    ),
}
# The peers (CoDA-Net, B-cos) are left out at these scales: each would be one more training; add
# "contributions" or "bcos-contributions" to a notebook's methods to train and compare them there.


@dataclass
class Step:
    """One command of the run: ``name`` (the config or the notebook), ``argv``, extra ``env``."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        return (env + " " if env else "") + shlex.join(self.argv)


def commands(
    prefix: str, data_root: str, *, device: str = "cuda", out: str = "", nproc: int = 1, tiny: bool = False
) -> list[Step]:
    """The run's commands, in order: one training per config, then one papermill run per notebook.

    Parameters
    ----------
    prefix
        ``"imagenet100"`` or ``"cifar10"`` (:data:`SETTINGS`).
    data_root
        The dataset folder (ImageNet layout with ``train/`` and ``val/``, or CIFAR-10's batches).
    device, nproc
        Where to train and evaluate; ``nproc > 1`` trains through ``torchrun`` (DDP).
    out
        Folder for the executed notebooks and their records (default ``runs/paper_scale/<prefix>``).
    tiny
        The CPU dry run: every size shrunk (:data:`SETTINGS` ``["tiny"]``).
    """
    if prefix not in SETTINGS:
        raise ValueError(f"no paper-scale run for {prefix!r}: choose from {sorted(SETTINGS)}")
    setting = SETTINGS[prefix]
    out = out or f"runs/paper_scale/{prefix}{'-tiny' if tiny else ''}"
    tiny_train = setting["tiny"]["train"] if tiny else {}
    steps = []
    for model in setting["train"]:
        launch = ["python"] if nproc == 1 else ["torchrun", f"--nproc-per-node={nproc}"]
        argv = [*launch, "-m", "facnn.train", "--config", f"{prefix}_{model}", "--data-root", data_root]
        argv += ["--device", device, "--resume", "--no-progress"]
        for k, v in tiny_train.items():
            argv += [f"--{k.replace('_', '-')}", str(v)]
        if tiny:
            argv += ["--num-workers", "2"]
        steps.append(Step(f"{prefix}_{model}", argv))  # into the checkpoint cache: a finished run is read
    # the notebooks read the trained models: same epochs and training subset (0: all) as the trainings
    read = dict(
        epochs=int(tiny_train.get("epochs", setting["epochs"])), train_subset=int(tiny_train.get("train_subset", 0))
    )
    for name, params in setting["notebooks"].items():
        notebook = name.removesuffix("_road")
        common: dict[str, Any] = dict(config_prefix=prefix, seed=0, device=device, data_root=data_root, **read)
        if notebook != "02_training":
            common.update(model=setting["model"], weights="train")
        full = {**common, **params, **(setting["tiny"]["notebooks"].get(name, {}) if tiny else {})}
        argv = ["papermill", f"notebooks/{notebook}.ipynb", f"{out}/notebooks/{name}.ipynb", "-y", json.dumps(full)]
        steps.append(Step(name, argv, {"FACNN_OUT": f"{out}/figures"}))
    return steps


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    ap = argparse.ArgumentParser(prog="python -m facnn.companion.paper_scale", description=__doc__.split("\n\n")[0])
    ap.add_argument("prefix", choices=sorted(SETTINGS))
    ap.add_argument("--data-root", required=True, help="the dataset folder")
    ap.add_argument("--device", default="cuda", help="cuda (default), cpu or auto")
    ap.add_argument("--nproc", type=int, default=1, help="GPUs to train on (torchrun)")
    ap.add_argument("--out", default="", help="folder of the executed notebooks and records")
    ap.add_argument("--tiny", action="store_true", help="every size shrunk: a CPU dry run of the same commands")
    ap.add_argument("--print", action="store_true", help="print the commands, run nothing")
    ap.add_argument("--only", nargs="+", metavar="STEP", help="run only these steps (names as --print shows them)")
    ap.add_argument("--timeout-h", type=float, default=72.0, help="hours one command may take before it is stopped")
    args = ap.parse_args(argv)
    if not Path(args.data_root).is_dir():
        ap.error(f"--data-root {args.data_root} is not a folder: give the dataset's folder (ImageNet: train/ and val/)")
    steps = commands(args.prefix, args.data_root, device=args.device, out=args.out, nproc=args.nproc, tiny=args.tiny)
    if args.only:
        unknown = sorted(set(args.only) - {s.name for s in steps})
        if unknown:
            ap.error(f"--only {unknown}: no such step; the steps are {[s.name for s in steps]}")
        steps = [s for s in steps if s.name in args.only]
    if args.print:
        print("\n".join(f"# {s.name}\n{s}" for s in steps))
        return 0
    for step in steps:
        started = time.monotonic()
        print(f"[{step.name}] {step}", flush=True)
        if step.argv[0] == "papermill":
            Path(step.argv[2]).parent.mkdir(parents=True, exist_ok=True)
        head = {"python": [], "papermill": ["-m", "papermill"], "torchrun": ["-m", "torch.distributed.run"]}
        argv_run = [sys.executable, *head[step.argv[0]], *step.argv[1:]]  # this environment's tools
        try:
            done = subprocess.run(argv_run, env={**os.environ, **step.env}, timeout=args.timeout_h * 3600)
        except subprocess.TimeoutExpired:
            print(f"[{step.name}] stopped after {args.timeout_h} h (--timeout-h); run again to resume", file=sys.stderr)
            return 1
        if done.returncode:
            print(
                f"[{step.name}] failed (exit {done.returncode}); run again after the fix: finished trainings are read "
                "from the checkpoint cache",
                file=sys.stderr,
            )
            return done.returncode
        print(f"[{step.name}] done in {time.monotonic() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

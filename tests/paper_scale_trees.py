"""Dataset trees for the paper-scale dry runs (``tests/test_paper_scale_*.py``).

Every validation image is the same photograph: a barely trained model predicts one class c for
all of them, so class c's image is classified correctly and the pointing game has a grid to
score (a 1×1 grid needs one correct image); the training images differ in content and size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from facnn.companion.paper_scale import SETTINGS, commands

ROOT = Path(__file__).resolve().parents[1]

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field", "coins", "camera")


def _photo(i: int) -> np.ndarray:
    from skimage import data as photos

    img = getattr(photos, PHOTOS[i % len(PHOTOS)])()
    return np.stack([img] * 3, -1) if img.ndim == 2 else img[..., :3]


def imagenet_tree(root: Path, classes: int = 100) -> Path:
    """``train/`` (one crop of a photograph per class, sizes from 60 to 400 pixels) and ``val/``
    (the same photograph in every class), with 100 class folders named like ImageNet's."""
    from PIL import Image

    anchor = Image.fromarray(_photo(0)[100:300, 150:350])
    for c in range(classes):
        name = f"n{c:08d}"
        (root / "train" / name).mkdir(parents=True)
        (root / "val" / name).mkdir(parents=True)
        img = _photo(c)
        h, w = 60 + (c * 37) % 340, 60 + (c * 53) % 340
        top, left = (c * 11) % max(1, img.shape[0] - h), (c * 17) % max(1, img.shape[1] - w)
        Image.fromarray(np.ascontiguousarray(img[top : top + h, left : left + w])).save(root / "train" / name / "a.jpg")
        anchor.save(root / "val" / name / "a.jpg")
    return root


def cifar_tree(root: Path, per_batch: int = 40, test: int = 100) -> Path:
    """CIFAR-10's binary version (``cifar-10-batches-bin``: records of a label byte and 3×32×32
    pixels): training records cut from the photographs, every test record the same picture."""
    from PIL import Image

    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)

    def record(label: int, img: np.ndarray) -> bytes:
        small = np.asarray(Image.fromarray(img).resize((32, 32)))
        return bytes([label]) + small.transpose(2, 0, 1).tobytes()

    for b in range(1, 6):
        rows = [record(i % 10, _photo(i + b)[i : i + 200, 2 * i : 2 * i + 200]) for i in range(per_batch)]
        (folder / f"data_batch_{b}.bin").write_bytes(b"".join(rows))
    anchor = _photo(0)[100:300, 150:350]
    (folder / "test_batch.bin").write_bytes(b"".join(record(i % 10, anchor) for i in range(test)))
    return root


def run_steps(prefix: str, data: Path, home: Path, out: Path, only: list[str]) -> str:
    """Run ``python -m facnn.companion.paper_scale <prefix> --tiny --only …`` on the CPU (checkpoints
    and records under ``home``); fail with its output's tail unless every step says it is done."""
    env = {**os.environ, "FACNN_HOME": str(home), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    cmd = [sys.executable, "-m", "facnn.companion.paper_scale", prefix, "--data-root", str(data), "--device", "cpu"]
    cmd += ["--tiny", "--out", str(out), "--timeout-h", "0.3", "--only", *only]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1500, cwd=ROOT)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    for name in only:
        assert f"[{name}] done" in done.stdout, done.stdout[-3000:]
    return done.stdout


def executed_notebook(prefix: str, data: Path, out: Path, name: str) -> dict:
    """The notebook a step wrote, checked to hold no error output."""
    (step,) = [s for s in commands(prefix, str(data), device="cpu", out=str(out), tiny=True) if s.name == name]
    nb = json.loads(Path(step.argv[2]).read_text())
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, (name, errors)
    return nb


def notebook_steps(prefix: str) -> list[str]:
    return list(SETTINGS[prefix]["notebooks"])


def training_steps(prefix: str) -> list[str]:
    return [f"{prefix}_{m}" for m in SETTINGS[prefix]["train"]]


def dry_run_tests(prefix: str, tree):
    """A module's fixture (the trainings, once) and its test (one notebook step each) for ``prefix``
    on the dataset ``tree(root)`` builds; each module runs on its own test worker."""
    import pytest

    @pytest.fixture(scope="module")
    def trained(tmp_path_factory):
        base = tmp_path_factory.mktemp(prefix)
        data = tree(base / "data")
        run_steps(prefix, data, base / "home", base / "out", training_steps(prefix))
        return data, base

    @pytest.mark.parametrize("step", notebook_steps(prefix))
    def test_the_notebook_runs_dry(trained, step):
        data, base = trained
        run_steps(prefix, data, base / "home", base / "out", [step])
        nb = executed_notebook(prefix, data, base / "out", step)
        assert nb["metadata"]["papermill"]["parameters"]["config_prefix"] == prefix

    return trained, test_the_notebook_runs_dry

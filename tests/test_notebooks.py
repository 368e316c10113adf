"""Notebooks run under papermill from the repository root and from notebooks/ alike (papermill
starts the kernel in the shell's directory, nbval and JupyterLab in the notebook's)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY = ["-p", "n_random_models", "2", "-p", "n_images", "16", "-p", "device", "cpu"]


@pytest.mark.parametrize("cwd", [".", "notebooks"])
def test_papermill_01_from_root_and_notebooks_dir(tmp_path, cwd):
    out = tmp_path / "out.ipynb"
    env = {**os.environ, "FACNN_HOME": str(tmp_path), "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "notebooks/01_theorems.ipynb"), str(out), *TINY,
                    "-k", "python3", "--cwd", str(ROOT / cwd)], check=True, env=env, capture_output=True)  # fmt: skip
    run = json.loads((tmp_path / "runs" / "figures" / "theorems.json").read_text())["runs"][0]
    assert run["records"][0]["theorem1_error"] <= 1e-5 and run["parameters"]["n_random_models"] == 2
    assert run["weights"].startswith("pretrained fashion-mnist/facnn sha256:")
    assert (tmp_path / "runs" / "figures" / "theorem2_morph.html").is_file()
    assert run["command"].startswith("papermill notebooks/01_theorems.ipynb out.ipynb -y ")


def test_notebooks_are_thin_and_committed_without_stray_outputs():
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert "parameters" in code[0].metadata.get("tags", []), f"{nb_path.name}: first code cell must be 'parameters'"
        for c in code:
            checked = c.source.startswith("# CHECK")
            assert bool(c.outputs) == checked, f"{nb_path.name}: only '# CHECK' cells keep outputs"
            assert not re.search(r"^\s*(def|class) ", c.source, re.M), f"{nb_path.name}: logic belongs in facnn/"

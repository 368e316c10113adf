"""Notebooks are thin and committed without stray outputs. (That they run under papermill from the
repository root and from notebooks/ alike, with no browser: tests/test_bare_machine.py.)"""

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def test_notebooks_are_thin_and_committed_without_stray_outputs():
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert "parameters" in code[0].metadata.get("tags", []), f"{nb_path.name}: first code cell must be 'parameters'"
        for c in code:
            checked = c.source.startswith("# CHECK")
            assert bool(c.outputs) == checked, f"{nb_path.name}: only '# CHECK' cells keep outputs"
            assert not re.search(r"^\s*(def|class) ", c.source, re.M), f"{nb_path.name}: logic belongs in facnn/"

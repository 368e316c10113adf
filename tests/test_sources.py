"""One source of truth for the notebooks: each .ipynb is paired with a percent script (jupytext)
and the two agree; the scripts and the package are lint-clean."""

import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def cells(nb) -> list[tuple[str, str, list]]:
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_and_its_script_agree(path):
    script = path.with_suffix(".py")
    assert script.is_file(), f"{path.name} has no paired script: run `jupytext --set-formats ipynb,py:percent {path}`"
    assert cells(jupytext.read(path)) == cells(jupytext.read(script)), (
        f"{path.name} and {script.name} differ: edit one, then run `make sync` (jupytext --sync)"
    )


def test_every_script_has_its_notebook():
    scripts = {p.stem for p in (ROOT / "notebooks").glob("*.py")} - {"conftest"}  # conftest: nbval's kernel
    assert scripts == {p.stem for p in NOTEBOOKS}


SOURCES = ["facnn", "tools", "benchmarks", "tests", "hubconf.py", *map(str, sorted((ROOT / "notebooks").glob("*.py")))]


def test_sources_are_formatted():
    r = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", *SOURCES], cwd=ROOT, capture_output=True, text=True
    )
    assert r.returncode == 0, f"run `make format` (ruff format):\n{r.stdout[-3000:]}"


def test_sources_are_lint_clean():
    r = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "facnn", "notebooks", "tools", "benchmarks", "tests", "hubconf.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout[-3000:]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_documents_every_parameter(path):
    r = subprocess.run(
        [sys.executable, "-m", "papermill", "--help-notebook", str(path)], capture_output=True, text=True
    )
    assert r.returncode == 0 and "Unable to parse" not in r.stdout + r.stderr, r.stdout + r.stderr
    from facnn.companion.records import parameter_names

    for name in parameter_names(path.name):
        assert f"  {name}: " in r.stdout, f"{path.name}: parameter {name} lacks a type annotation or comment"

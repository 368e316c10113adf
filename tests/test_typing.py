"""The package type-checks (mypy, configured in pyproject.toml: every module of facnn)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_package_type_checks():
    r = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"mypy found type errors (run `make lint`):\n{r.stdout[-4000:]}{r.stderr[-2000:]}"

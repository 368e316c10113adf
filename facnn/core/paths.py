"""Where data, checkpoints and figures live, independent of the current directory.

papermill starts a kernel in the shell's directory, nbval and JupyterLab in the notebook's;
every path the project writes or reads is therefore resolved here, from the package location
(an editable checkout) or from ``FACNN_HOME`` (an installed package), never from the cwd.

Two folders are kept apart so that running a notebook never rewrites what is committed:
:func:`records_dir` (``figures/``: the committed records every reproduction is compared with,
read only) and :func:`figures_dir` (``runs/figures/`` or ``$FACNN_OUT``: where runs write their
figures and records). ``python -m facnn.companion.records accept`` copies runs into the committed records
when a result is meant to change.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = [
    "git_commit",
    "shown_path",
    "project_root",
    "data_dir",
    "figures_dir",
    "records_dir",
    "checkpoint_dir",
    "OUT_ENV",
]

OUT_ENV = "FACNN_OUT"


def project_root() -> Path:
    """The project directory: ``$FACNN_HOME`` if set, else the checkout holding this package.

    Falls back to ``~/.cache/facnn`` for an installed (non-editable) package.
    """
    env = os.environ.get("FACNN_HOME")
    if env:
        return Path(env).expanduser().resolve()
    here = Path(__file__).resolve().parents[2]  # facnn/core/paths.py -> the checkout
    if (here / "pyproject.toml").is_file():
        return here
    return Path.home() / ".cache" / "facnn"


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """``<root>/data``: datasets copied or downloaded for users, created on demand."""
    return _ensure(project_root() / "data")


def checkpoint_dir() -> Path:
    """``<root>/data/checkpoints``: the trained-model cache used by :func:`facnn.get_or_train`."""
    return _ensure(data_dir() / "checkpoints")


def figures_dir() -> Path:
    """Where runs write figures and records: ``$FACNN_OUT`` if set, else ``<root>/runs/figures``
    (ignored by git), created on demand.

    >>> import os; os.environ["FACNN_OUT"] = "/tmp/facnn-out"; str(figures_dir())
    '/tmp/facnn-out'
    >>> del os.environ["FACNN_OUT"]
    """
    env = os.environ.get(OUT_ENV)
    return _ensure(Path(env).expanduser().resolve() if env else project_root() / "runs" / "figures")


def records_dir() -> Path:
    """``<root>/figures``: the committed records (``<experiment>.json``) a reproduction is compared
    with and the claims and result tables are built from; notebooks only read it."""
    return project_root() / "figures"


def shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute (for
    commands printed to the user)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(Path(path).resolve())


def git_commit() -> str | None:
    """The checkout's commit (``None`` outside a git checkout), ``+dirty`` when files changed."""
    try:
        root = project_root()
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None

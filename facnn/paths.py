"""Where data, checkpoints and figures live, independent of the current directory.

papermill starts a kernel in the shell's directory, nbval and JupyterLab in the notebook's;
every path the project writes or reads is therefore resolved here, from the package location
(an editable checkout) or from ``FACNN_HOME`` (an installed package), never from the cwd.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["project_root", "data_dir", "figures_dir", "checkpoint_dir"]


def project_root() -> Path:
    """The project directory: ``$FACNN_HOME`` if set, else the checkout holding this package.

    Falls back to ``~/.cache/facnn`` for an installed (non-editable) package.
    """
    env = os.environ.get("FACNN_HOME")
    if env:
        return Path(env).expanduser().resolve()
    here = Path(__file__).resolve().parent.parent
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
    """``<root>/figures``: every figure and table a notebook writes."""
    return _ensure(project_root() / "figures")

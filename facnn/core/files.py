"""Files written so that readers never see half of one: write a temporary file, fsync, check it,
rename it over the old one; temporary files of killed processes are cleaned up by name.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["atomic_write", "clean_stale_temps", "pid_alive"]


def atomic_write(path: str | os.PathLike, write, check=None) -> Path:
    """Call ``write(tmp_path)``, fsync, ``check(tmp_path)`` (e.g. read it back), and rename onto
    ``path``: readers see the old or the new file, and a file that fails ``check`` never replaces
    a good one. The temporary file is removed on any failure; :func:`clean_stale_temps` removes
    those a killed process left."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        if check is not None:
            check(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this machine (``os.kill(pid, 0)``)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Remove the ``.<name>.<pid>.tmp`` files of processes that no longer run; return them."""
    removed = []
    for tmp in Path(folder).glob(".*.*.tmp"):
        pid = tmp.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed

"""The reproduction check: compare the numbers a run just produced with the committed record of
the same parameters, quantity by quantity, within each quantity's stated tolerance.

Each notebook's CHECK cell calls :func:`check` before it writes its record; the rows also go to
``runs/reproduction/``, and ``python -m facnn.companion.reproduce`` (the last step of ``make reproduce``)
prints them as one table — quantity, committed, reproduced, tolerance, ok — and exits 1 when any
is outside its tolerance or has no committed counterpart.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from facnn.companion.records import committed_run, run_key
from facnn.core.paths import project_root

__all__ = ["Row", "compare", "check", "summary", "main"]


@dataclass
class Row:
    experiment: str
    quantity: str
    committed: float | None
    reproduced: float | None
    tol: float
    ok: bool


def compare(experiment: str, params: Mapping[str, Any], quantities: Mapping[str, Mapping[str, Any]]) -> list[Row]:
    """Rows comparing ``quantities`` with the committed run of ``params`` (one row marked not ok,
    quantity ``"(no committed record)"``, when there is none)."""
    run = committed_run(experiment, params)
    if run is None:
        return [Row(experiment, "(no committed record for these parameters)", None, None, 0.0, False)]
    rows = []
    for name in sorted(set(run["quantities"]) | set(quantities)):
        old, new = run["quantities"].get(name), quantities.get(name)
        a = None if old is None else old["value"]
        b = None if new is None else new["value"]
        tol = cast(Mapping[str, Any], old or new)["tol"]  # name is a quantity of one of them
        ok = (
            a is not None
            and b is not None
            and abs(a - b) <= tol + 1e-12
            or (old is not None and new is not None and a is None and b is None)
        )
        rows.append(Row(experiment, name, a, b, tol, bool(ok)))
    return rows


def _folder() -> Path:
    return project_root() / "runs" / "reproduction"


def check(experiment: str, params: Mapping[str, Any], quantities: Mapping[str, Mapping[str, Any]]) -> list[Row]:
    """:func:`compare`, and save the rows for ``python -m facnn.companion.reproduce``."""
    rows = compare(experiment, params, quantities)
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{experiment}-{run_key(params)}.json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
    return rows


def summary(rows: list[Row]) -> str:
    """One stable line for a notebook's CHECK cell (nbval compares it)."""
    if rows and rows[0].committed is None and rows[0].quantity.startswith("("):
        return "no committed record for these parameters"
    bad = [r.quantity for r in rows if not r.ok]
    line = f"all {len(rows)} quantities reproduce the committed record within tolerance: {not bad}"
    return line + (f" ({len(bad)} outside it: {', '.join(bad)})" if bad else "")


def table(rows: list[Row]) -> str:
    """A markdown table of ``rows``."""

    def fmt(v: float | None) -> str:
        return "—" if v is None else f"{v:.4g}"

    lines = ["| experiment | quantity | committed | reproduced | tolerance | ok |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {r.experiment} | {r.quantity} | {fmt(r.committed)} | {fmt(r.reproduced)} | {r.tol:.2g} | "
        f"{'yes' if r.ok else 'NO'} |"
        for r in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print every saved comparison; exit status 1 if any row is not ok or none were saved."""
    files = sorted(_folder().glob("*.json")) if _folder().is_dir() else []
    rows = [Row(**r) for f in files for r in json.loads(f.read_text())]
    if not rows:
        print("no reproduction rows: run the notebooks first (make reproduce)", file=sys.stderr)
        return 1
    print(table(rows))
    bad = [r for r in rows if not r.ok]
    print(
        f"\n{len(rows) - len(bad)} of {len(rows)} quantities reproduce within tolerance"
        + (f"; {len(bad)} do NOT" if bad else "")
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

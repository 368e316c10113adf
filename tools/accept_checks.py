"""Store the outputs of the ``# CHECK`` cells of executed notebooks as the expected outputs that
``pytest --nbval`` compares, and clear every other output (like accepting a snapshot).

    papermill notebooks/03_pixel_removal.ipynb runs/notebooks/03_pixel_removal.ipynb
    python tools/accept_checks.py runs/notebooks/03_pixel_removal.ipynb

Only stdout of CHECK cells is kept; cells are matched by id, so the executed notebook must come
from the committed one. Run it only after reading what the CHECK cells printed.

A first run of new parameters has no committed record to compare with, so its CHECK cell prints
"no committed record for these parameters". With ``--from-records`` that line is replaced by the
verdict the next run will print against the record the first run just wrote (the record compared
with itself: "all N quantities ... True"); ``pytest --nbval`` then verifies it for real.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


NO_RECORD = "no committed record for these parameters"


def _expected_verdicts(executed: Path) -> list[str]:
    """The summaries a rerun prints, one per reproduction check in the executed notebook, in order."""
    from facnn.companion import reproduce
    from facnn.companion.records import parameter_names, read_records

    nb = json.loads(executed.read_text())
    injected = next((c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])), None)
    ns: dict = {}
    for c in nb["cells"]:
        if "parameters" in c["metadata"].get("tags", []) or c is injected:
            exec("".join(c["source"]), ns)
    params = {k: ns[k] for k in parameter_names(executed.name)}
    out = []
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        for exp in re.findall(r'reproduce\.check\("(\w+)"', src):
            run = next(r for r in read_records(exp)["runs"] if r["key"] == reproduce.run_key(params))
            out.append(reproduce.summary(reproduce.compare(exp, params, run["quantities"])))
    return out


def accept(executed: Path, from_records: bool = False) -> list[str]:
    """Copy CHECK outputs from ``executed`` into ``notebooks/<same name>``; return what was stored."""
    target = ROOT / "notebooks" / executed.name
    ran = {c.get("id"): c for c in json.loads(executed.read_text())["cells"]}
    nb = json.loads(target.read_text())
    stored = []
    verdicts = iter(_expected_verdicts(executed)) if from_records else iter(())
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        cell["outputs"], cell["execution_count"] = [], None
        if src.startswith("# CHECK"):
            out = [
                o for o in ran[cell["id"]]["outputs"] if o.get("output_type") == "stream" and o.get("name") == "stdout"
            ]
            if not out:
                raise SystemExit(f"{executed}: CHECK cell {cell['id']} printed nothing")
            text = "".join("".join(o["text"]) for o in out)
            if from_records and NO_RECORD in text:
                text = text.replace(NO_RECORD, next(verdicts))
            cell["outputs"] = [{"name": "stdout", "output_type": "stream", "text": text.splitlines(keepends=True)}]
            cell["execution_count"] = 1
            stored.append(text.strip())
    target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return stored


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("executed", nargs="+", type=Path)
    p.add_argument("--from-records", action="store_true", help="expect the verdict against the record this run wrote")
    args = p.parse_args()
    for path in args.executed:
        for text in accept(path, args.from_records):
            print(f"{path.name}: {text}")


if __name__ == "__main__":
    main()

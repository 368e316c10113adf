"""Store the outputs of the ``# CHECK`` cells of executed notebooks as the expected outputs that
``pytest --nbval`` compares, and clear every other output (like accepting a snapshot).

    papermill notebooks/03_pixel_removal.ipynb runs/notebooks/03_pixel_removal.ipynb
    python tools/accept_checks.py runs/notebooks/03_pixel_removal.ipynb

Only stdout of CHECK cells is kept; cells are matched by id, so the executed notebook must come
from the committed one. Run it only after reading what the CHECK cells printed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def accept(executed: Path) -> list[str]:
    """Copy CHECK outputs from ``executed`` into ``notebooks/<same name>``; return what was stored."""
    target = ROOT / "notebooks" / executed.name
    ran = {c.get("id"): c for c in json.loads(executed.read_text())["cells"]}
    nb = json.loads(target.read_text())
    stored = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        cell["outputs"], cell["execution_count"] = [], None
        if src.startswith("# CHECK"):
            out = [o for o in ran[cell["id"]]["outputs"] if o.get("output_type") == "stream" and o.get("name") == "stdout"]
            if not out:
                raise SystemExit(f"{executed}: CHECK cell {cell['id']} printed nothing")
            text = "".join("".join(o["text"]) for o in out)
            cell["outputs"] = [{"name": "stdout", "output_type": "stream", "text": text.splitlines(keepends=True)}]
            cell["execution_count"] = 1
            stored.append(text.strip())
    target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return stored


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("executed", nargs="+", type=Path)
    for path in p.parse_args().executed:
        for text in accept(path):
            print(f"{path.name}: {text}")


if __name__ == "__main__":
    main()

"""Give committed records the fields the code now reads (run once when the record shape changes).

Records written before methods were described by fields carry only a label (``"Grad-CAM L6"``)
and comparisons only a verdict sentence. This adds, without changing any number:

- to every method record: ``kind``, ``model``, ``layer``, ``centred``, ``window``
  (:class:`facnn.explain.catalogue.Method`), found by matching the label exactly against the
  labels the catalogue produces (a label no method produces is an error, not a guess);
- to every comparison: ``reference_method``, ``other_method``, ``order``, ``fill``,
  ``significant`` and ``winner``.

Usage: ``python tools/migrate_records.py [FOLDER]`` (default ``figures/``); prints what changed.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from facnn.companion.records import write_records_file
from facnn.evaluate.protocols import split_unit_key
from facnn.explain.catalogue import KIND_NAMES, MODEL_NAMES, Method

ROOT = Path(__file__).resolve().parent.parent
SWEEP = re.compile(r"CoDA T=\d+ \(sweep\)")  # the temperature sweep's CoDA-Nets (05_localisation)


def method_for(label: str, layer: int | None) -> Method:
    if SWEEP.fullmatch(label):
        return Method("contributions", "coda")
    windows = [None, *range(1, 65)]
    layers = [layer] if layer is not None else [None, *range(0, 65)]
    for kind in KIND_NAMES:
        for model in MODEL_NAMES:
            for centred in (False, True):
                for window in windows if kind == "occlusion" else [None]:
                    for lay in layers:
                        m = Method(kind, model, lay, centred and kind == "rise", window)
                        if m.label == label:
                            return m
    raise ValueError(f"no method of the catalogue is labelled {label!r}: add its fields by hand")


def migrate_run(run: dict) -> int:
    changed = 0
    for r in run.get("records", []):
        if "method" in r and "kind" not in r:
            r.update({k: v for k, v in method_for(r["method"], r.get("layer")).fields().items() if k != "method"})
            changed += 1
    for c in run.get("comparisons", []):
        if "winner" not in c:
            ref, oth = split_unit_key(c["reference"]), split_unit_key(c["other"])
            winner = c["verdict"].removesuffix(" better") if c["verdict"].endswith(" better") else None
            if winner not in (None, ref["method"], oth["method"]):
                raise ValueError(f"verdict {c['verdict']!r} names neither side of {c['reference']} vs {c['other']}")
            c.update(
                reference_method=ref["method"],
                other_method=oth["method"],
                order=ref["order"],
                fill=ref["fill"],
                significant=winner is not None,
                winner=winner,
            )
            changed += 1
    return changed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", nargs="?", type=Path, default=ROOT / "figures")
    folder = ap.parse_args().folder
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        if not isinstance(data, dict):  # ablation.json: training records, no methods
            continue
        n = sum(migrate_run(run) for run in data.get("runs", []))
        if n:
            write_records_file(path, data)
            print(f"{path.name}: {n} records and comparisons given fields")


if __name__ == "__main__":
    main()

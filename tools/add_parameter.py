"""Migrate committed records after a notebook gains a parameter.

Every run in ``figures/<experiment>.json`` of that notebook gets the new parameter with the value
that reproduces it (the old behaviour), in the notebook's parameter order; its key and papermill
command are rebuilt from the new parameters, so ``tests/test_records.py`` (recorded names ==
the notebook's, commands parse back) keeps holding.

    python tools/add_parameter.py 03_pixel_removal.ipynb pixel_removal model '"facnn"'
"""

from __future__ import annotations

import argparse
import json

from facnn.companion import records


def migrate(notebook: str, experiment: str, name: str, value: object) -> int:
    """Add ``name=value`` to the runs of ``notebook`` in ``experiment``; returns how many changed."""
    order = records.parameter_names(notebook)
    if name not in order:
        raise SystemExit(f"{notebook} has no parameter {name!r}: add it to the parameters cell first")
    path = records.records_dir() / f"{experiment}.json"
    data = records.read_records(experiment, records.records_dir())
    changed = 0
    for run in data["runs"]:
        if run["notebook"] != notebook or name in run["parameters"]:
            continue
        given = dict(run["parameters"], **{name: value})
        unknown = set(given) - set(order)
        if unknown:
            raise SystemExit(f"run {run['key']} has parameters {sorted(unknown)} the notebook no longer has")
        run["parameters"] = {k: given[k] for k in order if k in given}
        run["key"] = records.run_key(run["parameters"])
        run["command"] = records.papermill_command(notebook, run["parameters"])
        changed += 1
    records.write_records_file(path, data)
    return changed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebook", help="e.g. 03_pixel_removal.ipynb")
    ap.add_argument("experiment", help="records file figures/<experiment>.json")
    ap.add_argument("name", help="the new parameter")
    ap.add_argument("value", help="its value for the old runs, as JSON (a string in double quotes)")
    a = ap.parse_args()
    print(f"{a.experiment}: {migrate(a.notebook, a.experiment, a.name, json.loads(a.value))} runs migrated")


if __name__ == "__main__":
    main()

"""Experiment records: one file per experiment, one entry per distinct set of notebook parameters.

``<experiment>.json`` is ``{"experiment", "runs": [run, ...]}``. Runs write theirs under
:func:`facnn.core.paths.figures_dir` (``runs/figures/``); the committed ones live in ``figures/``
(:func:`facnn.core.paths.records_dir`) and change only through ``python -m facnn.companion.records accept``.
A run holds, once, the notebook's parameters (all of them), the papermill command that repeats
it, the git commit, the shipped weights it read, its headline ``quantities`` (each with the tolerance
a reproduction must meet and why) and its per-method ``records``. A run with the same parameters (the execution-only
``device`` aside) replaces the older one, so a caption and its rows always describe one run.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import shlex
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from facnn.core.files import atomic_write
from facnn.core.paths import figures_dir, git_commit, project_root, records_dir

_STARTED: dict[str, float] = {}  # notebook -> monotonic time its parameters were read

__all__ = [
    "read_records",
    "committed_runs",
    "run_size",
    "SIZE_KEYS",
    "write_records_file",
    "parameter_names",
    "parameter_defaults",
    "notebook_parameters",
    "papermill_command",
    "run_key",
    "write_run",
    "committed_run",
    "quantity",
    "image_tolerance",
    "git_commit",
    "EXECUTION_PARAMETERS",
    "TRAINING_TOLERANCE",
    "SWEEP_TOLERANCE",
    "FIXED_TOLERANCE",
    "tolerance_for",
    "accept",
    "main",
]

# Notebook parameters that change where a run executes, not what it computes.
EXECUTION_PARAMETERS = ("device", "data_root")  # where it runs and where the data lies: not what it measures


def _parameters_cell(notebook: str) -> tuple[Path, list[ast.stmt]]:
    candidates = [
        Path(__file__).resolve().parents[2] / "notebooks" / notebook,
        project_root() / "notebooks" / notebook,
        Path.cwd() / notebook,
    ]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(f"cannot find {notebook} (looked in {[str(p.parent) for p in candidates]})")
    nb = json.loads(path.read_text())
    cell = next((c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        raise ValueError(f"{path} has no cell tagged 'parameters'")
    return path, ast.parse("".join(cell["source"])).body


def parameter_names(notebook: str) -> list[str]:
    """The names assigned in the ``parameters`` cell of ``notebooks/<notebook>``, in order."""
    return list(parameter_defaults(notebook))


def parameter_defaults(notebook: str) -> dict[str, Any]:
    """The ``parameters`` cell of ``notebooks/<notebook>`` as ``{name: default}`` (literals only:
    the cell is read, never executed).

    Examples
    --------
    >>> parameter_defaults("03_pixel_removal.ipynb")["fills"]
    ['zero', 'road']
    """
    path, body = _parameters_cell(notebook)
    out: dict[str, Any] = {}
    for node in body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets, value = [node.target.id], node.value
        elif isinstance(node, ast.Assign):
            targets, value = [t.id for t in node.targets if isinstance(t, ast.Name)], node.value
        else:
            continue
        try:
            default = ast.literal_eval(value) if value is not None else None
        except ValueError as e:
            raise ValueError(f"{path}: the default of {targets} is not a literal; write it as one") from e
        out.update(dict.fromkeys(targets, default))
    return out


def notebook_parameters(notebook: str, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of ``notebooks/<notebook>`` (the names assigned in its ``parameters``
    cell) with its value in ``namespace`` (the kernel's globals after papermill's injection).

    Examples
    --------
    >>> p = notebook_parameters("03_pixel_removal.ipynb", globals())  # doctest: +SKIP
    """
    names = parameter_names(notebook)
    missing = [n for n in names if n not in namespace]
    if missing:
        raise ValueError(f"parameters {missing} of {notebook} are not defined: run the parameters cell first")
    _STARTED[notebook] = time.monotonic()
    return {n: namespace[n] for n in names}


def machine() -> str:
    """The machine a run took its wall time on, in words (CPU cores and torch threads, or the GPU)."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


def papermill_command(notebook: str, params: Mapping[str, Any]) -> str:
    """The papermill command that repeats a run: every parameter in one ``-y`` YAML (JSON) mapping,
    which papermill parses back to the same types (``-p`` would pass lists as strings).

    Examples
    --------
    >>> papermill_command("03_pixel_removal.ipynb", {"n_images": 100, "methods": ["rise"]})
    'papermill notebooks/03_pixel_removal.ipynb out.ipynb -y \\'{"n_images": 100, "methods": ["rise"]}\\''
    """
    return f"papermill notebooks/{notebook} out.ipynb -y {shlex.quote(json.dumps(dict(params)))}"


def run_key(params: Mapping[str, Any]) -> str:
    """A short hash of the parameters that change a run's numbers."""
    d = {k: v for k, v in params.items() if k not in EXECUTION_PARAMETERS}
    return hashlib.sha1(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:12]


def image_tolerance(n: int) -> dict[str, Any]:
    """Tolerance of a mean over ``n`` images of a model whose weights ship: one image's worth."""
    return dict(
        tol=round(1 / n + 1e-9, 6),
        basis="evaluation of shipped weights: one image's worth (1/n), "
        "since float summation order can differ across CPUs and flip a near-tie",
    )


# Accuracy of a model trained in the notebook on CPU: the weights depend on the thread count and
# the machine (float summation order in the kernels), so a retrained model differs slightly.
TRAINING_TOLERANCE = dict(
    tol=0.02,
    basis="CPU training at the notebook's budget: weights vary with thread count and "
    "machine; see RESULTS.md 'The reproduction check' for the measured spread",
)
# Pointing-game share of a model trained briefly in the notebook (the CoDA temperature sweep).
SWEEP_TOLERANCE = dict(
    tol=0.1,
    basis="1-epoch models trained in the notebook on CPU: their weights, and so their maps, "
    "vary with thread count and machine; see RESULTS.md 'The reproduction check'",
)

# A number computed from fixed (shipped) weights and fixed seeds: only the float summation order
# differs between machines and thread counts.
FIXED_TOLERANCE = dict(tol=1e-3, basis="evaluation of fixed weights and seeds: float summation order only")


def tolerance_for(source: str, trained: dict[str, Any]) -> dict[str, Any]:
    """:data:`FIXED_TOLERANCE` when ``source`` (a record's ``"source"``) names shipped weights,
    else ``trained`` (the tolerance of a model trained in the notebook).

    >>> tolerance_for("pretrained fashion-mnist/facnn sha256:0123", SWEEP_TOLERANCE)["tol"]
    0.001
    """
    return FIXED_TOLERANCE if source.startswith("pretrained") else trained


def quantity(value: float, tol: float | dict[str, Any], basis: str = "") -> dict[str, Any]:
    """A headline number with the tolerance a reproduction must meet: ``{"value", "tol", "basis"}``."""
    t = tol if isinstance(tol, dict) else dict(tol=tol, basis=basis)
    return dict(value=None if value is None or math.isnan(value) else round(float(value), 6), **t)


def _path(experiment: str, folder: Path | None = None) -> Path:
    return (figures_dir() if folder is None else folder) / f"{experiment}.json"


def read_records(experiment: str, folder: Path | None = None) -> dict[str, Any]:
    """The records file of ``experiment`` in ``folder`` (default: where runs write)."""
    path = _path(experiment, folder)
    if not path.is_file():
        return {"experiment": experiment, "runs": []}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(
            f"{path} is not valid JSON ({e.msg} at line {e.lineno}): it was cut short or edited by "
            "hand; restore it (git checkout) or delete it and rerun its notebook"
        ) from None
    if not isinstance(data, dict) or "runs" not in data:
        raise ValueError(f"{path} is not a records file of this version (no 'runs'); delete it and rerun its notebook")
    return data


def write_records_file(path: Path, data: dict[str, Any]) -> None:
    """Write a records file atomically, in the one layout every records file has."""
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=1, default=_plain) + "\n"))


def committed_runs(experiment: str) -> list[dict[str, Any]]:
    """Every committed run (``figures/``) of ``experiment``; ``[]`` when it has none."""
    return read_records(experiment, records_dir())["runs"]


SIZE_KEYS = ("n_images", "n_grids", "n_corr", "epochs")  # what makes one run of a notebook larger than another


def run_size(run: Mapping[str, Any]) -> int:
    """How large a run is: the largest of its sample-size parameters (:data:`SIZE_KEYS`)."""
    return max(run["parameters"].get(k) or 0 for k in SIZE_KEYS)


def committed_run(experiment: str, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The committed run (``figures/``) of ``experiment`` with these parameters, or ``None``."""
    key = run_key(params)
    return next((r for r in read_records(experiment, records_dir())["runs"] if r["key"] == key), None)


def write_run(
    experiment: str,
    notebook: str,
    params: Mapping[str, Any],
    *,
    quantities: Mapping[str, dict[str, Any]],
    records: list[dict[str, Any]],
    **extra: Any,
) -> Path:
    """Record a run (replacing the one with the same parameters) in ``<experiment>.json`` under
    :func:`facnn.core.paths.figures_dir` (never the committed records: see :func:`accept`)."""
    data = read_records(experiment)
    started = _STARTED.get(notebook)
    wall = None if started is None else round(time.monotonic() - started, 1)
    run = dict(
        key=run_key(params),
        notebook=notebook,
        parameters=dict(params),
        command=papermill_command(notebook, params),
        commit=git_commit(),
        wall_s=wall,
        machine=machine(),
        **extra,
        quantities=dict(quantities),
        records=records,
    )
    data["runs"] = [r for r in data["runs"] if r["key"] != run["key"]] + [run]
    path = _path(experiment)
    write_records_file(path, data)
    return path


def accept(source: Path | None = None, experiments: list[str] | None = None) -> list[str]:
    """Copy the runs recorded under ``source`` (default :func:`facnn.core.paths.figures_dir`) into the
    committed records (``figures/``), each replacing the committed run with the same parameters.
    Use it only when a result is meant to change; returns one line per run copied.
    """
    source = figures_dir() if source is None else Path(source)
    if source.resolve() == records_dir().resolve():
        raise ValueError(f"{source} is the committed records folder itself: name the folder runs wrote to")
    lines = []
    for path in sorted(source.glob("*.json")):
        if "." in path.stem or experiments and path.stem not in experiments:
            continue  # figures (<name>.plotly.json) live beside the records
        new = read_records(path.stem, source)
        if not new["runs"] or "notebook" not in new["runs"][0]:
            continue  # not a records file of runs
        data = read_records(path.stem, records_dir())
        records_dir().mkdir(parents=True, exist_ok=True)
        keys = {r["key"] for r in new["runs"]}
        data["runs"] = [r for r in data["runs"] if r["key"] not in keys] + new["runs"]
        write_records_file(_path(path.stem, records_dir()), data)
        lines += [f"{path.stem}: {r['notebook']} {r['key']} ({r['command']})" for r in new["runs"]]
    return lines


def main(argv: list[str] | None = None) -> int:
    """``python -m facnn.companion.records accept [FOLDER] [--experiment NAME ...]``."""
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m facnn.companion.records", description="Copy runs into the committed records (figures/*.json)."
    )
    sub = ap.add_subparsers(dest="command", required=True)
    acc = sub.add_parser(
        "accept", help="copy the runs a notebook wrote into figures/ (when a result is meant to change)"
    )
    acc.add_argument(
        "folder", nargs="?", type=Path, help="where the runs were written (default: runs/figures or $FACNN_OUT)"
    )
    acc.add_argument("--experiment", action="append", help="only this records file (repeatable)")
    args = ap.parse_args(argv)
    if args.folder is not None and not args.folder.is_dir():
        ap.error(f"{args.folder} is not a folder: name the folder the notebooks wrote to (e.g. runs/figures)")
    lines = accept(args.folder, args.experiment)
    print("\n".join(lines) if lines else "no runs to accept", file=sys.stderr if not lines else sys.stdout)
    return 0 if lines else 1


def _plain(o: Any) -> Any:
    if isinstance(o, float) and math.isnan(o):
        return None
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


if __name__ == "__main__":
    sys.exit(main())

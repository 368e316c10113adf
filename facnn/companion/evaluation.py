"""Notebook 03's experiment as a function, and a command that runs it on many processes.

:func:`pixel_removal` is what ``notebooks/03_pixel_removal.ipynb`` computes from its parameters;
the notebook calls it and draws. The command runs the same function under ``torchrun`` (the
images are split into shards, one per process, and gathered: the numbers equal one process's)
and writes the same run record the notebook writes, so a headline run too long for one kernel
is accepted like any other (``python -m facnn.companion.records accept``). With ``--cache DIR``
every batch's maps are kept, and a killed run started again computes only what is missing.

Examples
--------
Figure 4 of the 24-layer FA-CNN on two processes (CPU: gloo; one GPU each: NCCL)::

    torchrun --nproc-per-node 2 -m facnn.companion.evaluation pixel_removal \\
        --parameters '{"model": "facnn24", "n_images": 1000, "rise_n": 2000}' --cache runs/cache/pr24
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from facnn.models.facnn import FACNN

__all__ = ["pixel_removal", "write_pixel_removal", "parameters", "main"]

NOTEBOOKS = {"pixel_removal": "03_pixel_removal.ipynb"}


def parameters(experiment: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The notebook's default parameters with ``overrides``; an unknown name or a value of another
    type than the default's is refused, naming the parameters there are."""
    from facnn.companion.records import parameter_defaults

    if experiment not in NOTEBOOKS:
        raise ValueError(f"unknown experiment {experiment!r}: choose from {sorted(NOTEBOOKS)}")
    params = parameter_defaults(NOTEBOOKS[experiment])
    for name, value in (overrides or {}).items():
        if name not in params:
            raise ValueError(f"{NOTEBOOKS[experiment]} has no parameter {name!r}; its parameters: {sorted(params)}")
        want = type(params[name])
        ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise TypeError(f"parameter {name!r} takes a {want.__name__} (default {params[name]!r}), got {value!r}")
        params[name] = value
    return params


def _train_kw(p: Mapping[str, Any]) -> dict[str, Any]:
    """How the notebook's parameters load (or train) its models: ``load_model``'s keywords."""
    kw: dict[str, Any] = dict(epochs=p["epochs"], train_subset=p["train_subset"] or None, seed=p["seed"])
    return dict(kw, device=p["device"], data_root=p["data_root"] or None)


def pixel_removal(params: Mapping[str, Any], *, cache: str | Path | None = None) -> SimpleNamespace:
    """Run notebook 03's experiment for ``params`` (all of the notebook's parameters).

    Returns
    -------
    SimpleNamespace
        ``net``, ``res`` (its record), ``layers``, ``x``, ``y``, ``explainers``, ``records``,
        ``units``, ``comparisons``, ``swaps`` (ranking changes between fills), ``quantities``
        (the AUCs the reproduction check compares) and ``reference`` (FA-CNN's last-layer label).
    """
    from facnn import evaluate, viz
    from facnn.companion import experiments as ex
    from facnn.companion import records as rec

    p = dict(params)
    train_kw = _train_kw(p)
    model, res = ex.load_model(p["config_prefix"], p["model"], p["weights"], **train_kw)
    net = cast("FACNN", model)
    companions: dict[str, Any] = ex.companion_models(p["config_prefix"], p["methods"], p["weights"], **train_kw)
    dev = next(net.parameters()).device
    layers = p["layers"] or ex.paper_layers(len(net.layers))
    size = res["config"]["image_size"]
    x, y = ex.test_batch(res["dataset"], p["n_images"], p["seed"], dev, root=p["data_root"] or None, image_size=size)
    explainers = ex.build_explainers(
        net,
        layers,
        p["methods"],
        rise_n=p["rise_n"],
        rise_cells=p["rise_cells"],
        occlusion_k=p["occlusion_k"],
        seed=p["seed"],
        **companions,
    )
    records, units = evaluate.pixel_removal_experiment(
        explainers, x, y, percents=p["percents"], fills=p["fills"], seed=p["seed"], progress=False, cache=cache
    )
    reference = f"FA-CNN maps L{layers[0]}"
    comparisons = []
    if reference in explainers:
        for f in p["fills"]:
            for order, better in (("morf", "lower"), ("lerf", "higher")):
                others = [evaluate.unit_key(m, order, f) for m in explainers if m != reference]
                comparisons += evaluate.comparisons(
                    units, evaluate.unit_key(reference, order, f), others, better=better, seed=p["seed"]
                )
    swaps = evaluate.ranking_changes(records, units, seed=p["seed"])
    tol = rec.image_tolerance(p["n_images"])
    quantities = {viz.auc_quantity_name(r): rec.quantity(r["auc"]["value"], tol) for r in records}
    return SimpleNamespace(
        net=net,
        res=res,
        layers=layers,
        x=x,
        y=y,
        explainers=explainers,
        records=records,
        units=units,
        comparisons=comparisons,
        swaps=swaps,
        quantities=quantities,
        reference=reference,
    )


def write_pixel_removal(params: Mapping[str, Any], out: SimpleNamespace, **extra: Any) -> Path:
    """Write the run record of :func:`pixel_removal`'s result (what notebook 03 writes)."""
    from facnn.companion import records as rec

    return rec.write_run(
        "pixel_removal",
        NOTEBOOKS["pixel_removal"],
        params,
        quantities=out.quantities,
        records=out.records,
        comparisons=out.comparisons,
        ranking_changes=out.swaps,
        weights=out.res["source"],
        dataset=out.res["dataset"],
        class_used="true",
        **extra,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m facnn.companion.evaluation pixel_removal [--parameters JSON] [--cache DIR]``,
    alone or under ``torchrun``; rank 0 prints the reproduction check and writes the record."""
    ap = argparse.ArgumentParser(prog="python -m facnn.companion.evaluation", description=__doc__.split("\n\n")[0])
    ap.add_argument("experiment", choices=sorted(NOTEBOOKS))
    ap.add_argument("--parameters", default="{}", help="JSON mapping of notebook parameters to change")
    ap.add_argument("--cache", default=None, help="folder for each batch's maps (resume a killed run)")
    args = ap.parse_args(argv)
    try:
        overrides = json.loads(args.parameters)
    except json.JSONDecodeError as e:
        ap.error(f"--parameters is not JSON ({e}); e.g. --parameters '{{\"n_images\": 1000}}'")
    if not isinstance(overrides, dict):
        ap.error(f"--parameters must be a JSON mapping of parameter names to values, got {args.parameters!r}")
    try:
        params = parameters(args.experiment, overrides)
    except (ValueError, TypeError) as e:
        ap.error(str(e))

    import shlex

    import torch

    from facnn.companion import experiments as ex
    from facnn.companion import records as rec
    from facnn.companion import reproduce
    from facnn.core.devices import resolve_device
    from facnn.core.distributed import setup_distributed

    device, world, rank = setup_distributed(resolve_device(params["device"]))
    run = dict(params, device=str(device)) if world > 1 else params  # each process on its own GPU; same record key
    rec.notebook_parameters(NOTEBOOKS[args.experiment], params)  # starts the record's clock
    try:
        if world > 1:  # one process reads (or, weights "train", trains) the models first; the others reuse them
            if rank == 0:
                kw = _train_kw(run)
                ex.load_model(run["config_prefix"], run["model"], run["weights"], **kw)
                ex.companion_models(run["config_prefix"], run["methods"], run["weights"], **kw)
            torch.distributed.barrier()
        out = pixel_removal(run, cache=args.cache)
        if rank == 0:
            print(reproduce.summary(reproduce.check(args.experiment, params, out.quantities)))
            command = (f"torchrun --nproc-per-node {world}" if world > 1 else "python") + (
                f" -m facnn.companion.evaluation {args.experiment} --parameters {shlex.quote(json.dumps(overrides))}"
            )
            path = write_pixel_removal(params, out, processes=world, evaluation_command=command)
            print(f"wrote {path} ({world} process{'es' if world > 1 else ''})")
    finally:
        if world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())

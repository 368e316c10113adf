"""Notebooks 03's, 05's and 07's experiments as functions, and a command that runs them on many processes.

:func:`pixel_removal` is what ``notebooks/03_pixel_removal.ipynb`` computes from its parameters,
:func:`localisation` what ``notebooks/05_localisation.ipynb`` computes, :func:`sanity_checks` what
``notebooks/07_sanity_checks.ipynb`` computes; the notebooks call them and
draw. The command runs the same function under ``torchrun`` (the images or grids are split into
shards, one per process, and gathered: the numbers equal one process's) and writes the same run
record the notebook writes, so a headline run too long for one kernel is accepted like any other
(``python -m facnn.companion.records accept``). With ``--cache DIR`` every batch's maps (or grid
scores) are kept, and a killed run started again computes only what is missing.

Examples
--------
Figure 4 of the 24-layer FA-CNN on two processes (CPU: gloo; one GPU each: NCCL)::

    torchrun --nproc-per-node 2 -m facnn.companion.evaluation pixel_removal \\
        --parameters '{"model": "facnn24", "n_images": 1000, "rise_n": 2000}' --cache runs/cache/pr24

The 24-layer FA-CNN's pointing game on 112 grids::

    torchrun --nproc-per-node 2 -m facnn.companion.evaluation localisation \\
        --parameters '{"model": "facnn24", "n_grids": 112, "n_candidates": 5000}' --cache runs/cache/loc24

The sanity checks of every model on 500 images, with the 24-layer FA-CNN::

    torchrun --nproc-per-node 2 -m facnn.companion.evaluation sanity_checks \\
        --parameters '{"model": "facnn24", "n_images": 500}' --cache runs/cache/san24
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

__all__ = [
    "pixel_removal",
    "write_pixel_removal",
    "localisation",
    "write_localisation",
    "sanity_checks",
    "write_sanity_checks",
    "parameters",
    "main",
]

NOTEBOOKS = {
    "pixel_removal": "03_pixel_removal.ipynb",
    "localisation": "05_localisation.ipynb",
    "sanity_checks": "07_sanity_checks.ipynb",
}
SANITY_BATCH = 32  # images whose maps a sanity check computes at once (the numbers do not depend on it)


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


def _setup(p: Mapping[str, Any], n_images: int, layers: list[int], **explainer_kw: Any) -> SimpleNamespace:
    """The notebook's model (loaded or trained), ``n_images`` test images and its explainers:
    ``net``, ``res``, ``layers`` (``layers`` or the paper's), ``x``, ``y``, ``explainers`` and
    ``companions`` (the CoDA-Net, B-cos network and hybrid the methods run on: ``{"coda": ...}``)."""
    from facnn.companion import experiments as ex

    train_kw = _train_kw(p)
    model, res = ex.load_model(p["config_prefix"], p["model"], p["weights"], **train_kw)
    net = cast("FACNN", model)
    companions: dict[str, Any] = ex.companion_models(p["config_prefix"], p["methods"], p["weights"], **train_kw)
    layers = layers or ex.paper_layers(len(net.layers))
    dev, size = next(net.parameters()).device, res["config"]["image_size"]
    x, y = ex.test_batch(res["dataset"], n_images, p["seed"], dev, root=p["data_root"] or None, image_size=size)
    explainers = ex.build_explainers(
        net, layers, p["methods"], occlusion_k=p["occlusion_k"], seed=p["seed"], **explainer_kw, **companions
    )
    return SimpleNamespace(net=net, res=res, layers=layers, x=x, y=y, explainers=explainers, companions=companions)


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
    from facnn.companion import records as rec

    p = dict(params)
    run = _setup(p, p["n_images"], p["layers"], rise_n=p["rise_n"], rise_cells=p["rise_cells"])
    layers, x, y, explainers = run.layers, run.x, run.y, run.explainers
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
        **vars(run),
        records=records,
        units=units,
        comparisons=comparisons,
        swaps=swaps,
        quantities=quantities,
        reference=reference,
    )


def _write(experiment: str, params: Mapping[str, Any], out: SimpleNamespace, **fields: Any) -> Path:
    """Write an experiment's run record: ``out``'s quantities, comparisons, weights and dataset, and ``fields``."""
    from facnn.companion import records as rec

    common = dict(quantities=out.quantities, comparisons=out.comparisons, weights=out.res["source"])
    return rec.write_run(experiment, NOTEBOOKS[experiment], params, **common, dataset=out.res["dataset"], **fields)


def write_pixel_removal(params: Mapping[str, Any], out: SimpleNamespace, **extra: Any) -> Path:
    """Write the run record of :func:`pixel_removal`'s result (what notebook 03 writes)."""
    return _write(
        "pixel_removal", params, out, records=out.records, ranking_changes=out.swaps, class_used="true", **extra
    )


def _sweep_configs(p: Mapping[str, Any]) -> list[Any]:
    """The CoDA-Net temperature sweep's training configs (one per temperature)."""
    from facnn.train import load_config

    return [
        load_config(
            f"{p['config_prefix']}_coda",
            epochs=p["sweep_epochs"],
            train_subset=p["sweep_subset"] or None,
            seed=p["seed"],
            device=p["device"],
            data_root=p["data_root"] or None,
            model_config={"temperature": T},
        )
        for T in p["temperatures"]
    ]


def localisation(params: Mapping[str, Any], *, cache: str | Path | None = None) -> SimpleNamespace:
    """Run notebook 05's experiment for ``params`` (all of the notebook's parameters): the grid
    pointing game of every method, the CoDA-Net temperature sweep and their comparisons.

    Returns
    -------
    SimpleNamespace
        ``net``, ``res``, ``layers``, ``x``, ``y`` (the candidate images), ``explainers``,
        ``records`` (one per method), ``sweep`` (one per temperature), ``scores`` (per-grid scores
        of both), ``comparisons``, ``quantities`` and ``reference`` (FA-CNN's last-layer label).
    """
    import facnn
    from facnn import evaluate
    from facnn.companion import experiments as ex
    from facnn.companion import records as rec

    p = dict(params)
    run = _setup(p, p["n_candidates"], [], rise_n=p["rise_n"], rise_center=p["rise_center"])
    layers, x, y, explainers = run.layers, run.x, run.y, run.explainers
    grid_kw = dict(n=p["grid"], n_grids=p["n_grids"], seed=p["seed"], progress=False, cache=cache)
    records, scores = evaluate.localisation_experiment(explainers, x, y, min_confidence=p["min_confidence"], **grid_kw)
    sweep = []
    for T, cfg in zip(p["temperatures"], _sweep_configs(p)):
        m, r = ex.trained(cfg, p["weights"])  # the shipped sweep model of this config, where one ships
        label = f"CoDA T={T:g} (sweep)"
        srec, ssc = evaluate.localisation_experiment(
            {label: (m, facnn.Contributions(m), None)}, x, y, min_confidence=p["sweep_min_confidence"], **grid_kw
        )
        srec[0].update(temperature=T, test_accuracy=r["test_accuracy"], weights=r["source"])
        sweep += srec
        scores.update(ssc)

    reference = f"FA-CNN maps L{layers[0]}"
    by_model = {label: id(m) for label, (m, _, _) in explainers.items()}
    seed = p["seed"]
    comparisons = []
    if reference in explainers:
        same = [m for m in explainers if m != reference and by_model[m] == by_model[reference]]
        other = [m for m in explainers if by_model[m] != by_model[reference]]
        comparisons += evaluate.comparisons(scores, reference, same, paired=True, better="higher", seed=seed)
        comparisons += evaluate.comparisons(scores, reference, other, paired=False, better="higher", seed=seed)
    for own, suffix in (("CoDA contributions", "on CoDA"), ("B-cos contributions", "on B-cos")):
        if own in explainers:  # each model's own maps vs post-hoc methods on it
            posthoc = [m for m in explainers if m.endswith(suffix)]
            comparisons += evaluate.comparisons(scores, own, posthoc, paired=True, better="higher", seed=seed)
    if len(sweep) > 1:
        hi = sweep[-1]["method"]
        lower = [s["method"] for s in sweep[:-1]]
        comparisons += evaluate.comparisons(scores, hi, lower, paired=False, better="higher", seed=seed)
    weights_of = [(r, run.res["source"]) for r in records] + [(r, r["weights"]) for r in sweep]
    quantities = {
        f"{r['method']} mean": rec.quantity(r["mean"]["value"], rec.tolerance_for(w, rec.SWEEP_TOLERANCE))
        for r, w in weights_of
    }
    return SimpleNamespace(
        **vars(run),
        records=records,
        sweep=sweep,
        scores=scores,
        comparisons=comparisons,
        quantities=quantities,
        reference=reference,
    )


def write_localisation(params: Mapping[str, Any], out: SimpleNamespace, **extra: Any) -> Path:
    """Write the run record of :func:`localisation`'s result (what notebook 05 writes)."""
    return _write("localisation", params, out, records=out.records + out.sweep, **extra)


def _twin_config(p: Mapping[str, Any], model: str) -> Any:
    """The training config of ``model``'s permuted-label twin (notebook 07's data randomisation);
    ``model`` is ``p["model"]`` or a companion (``"coda"``, ``"bcos"``, ``"hybrid"``)."""
    from facnn.evaluate.randomisation import shuffled_twin_config

    kw = dict(seed=p["seed"], device=p["device"], data_root=p["data_root"] or None)
    return shuffled_twin_config(f"{p['config_prefix']}_{model}", p["shuffle_subset"], p["shuffle_epochs"], **kw)


def _twinned_models(p: Mapping[str, Any]) -> list[str]:
    """The models whose permuted-label twins notebook 07 compares with: the FA-CNN and every
    companion the methods run on (the CoDA-Net for ``contributions``, B-cos, the hybrid)."""
    from facnn.companion.experiments import companion_kinds

    return [p["model"], *companion_kinds(p["methods"])]


def _twin_summary(res: Mapping[str, Any]) -> dict[str, Any]:
    """What a data-randomisation record says of one twin: where it came from, how far it memorised."""
    keep = ("source", "train_accuracy", "test_accuracy", "config", "command")
    return {k: res[k] for k in keep}


def sanity_checks(params: Mapping[str, Any], *, cache: str | Path | None = None) -> SimpleNamespace:
    """Run notebook 07's experiments for ``params`` (all of the notebook's parameters): model
    randomisation (cascading or independent) of every method and, when ``shuffle_subset`` is set,
    data randomisation against the permuted-label twin.

    Returns
    -------
    SimpleNamespace
        ``net``, ``res``, ``layers``, ``x``, ``y``, ``explainers``, ``records`` (one per method and
        step), ``quantities``, ``data_records``, ``data_quantities``, ``twin_res`` (each twinned
        model's twin record, ``{"facnn": ..., "coda": ...}``; empty without the test), and ``checks``
        (record name → quantities, for the reproduction check).
    """
    from facnn.companion import experiments as ex
    from facnn.companion import records as rec
    from facnn.evaluate import data_randomisation, sanity_experiment

    p = dict(params)
    run = _setup(p, p["n_images"], [], rise_n=p["rise_n"], rise_center=True)
    tol = rec.tolerance_for(run.res["source"], rec.SWEEP_TOLERANCE)
    kw = dict(seed=p["seed"], batch_size=SANITY_BATCH, cache=cache)
    records = sanity_experiment(run.explainers, run.x, run.y, mode=p["mode"], **kw)
    quantities = {
        f"{r['method']} step {r['step']} {k}": rec.quantity(r[k]["value"], tol)
        for r in records
        for k in ("spearman_abs", "ssim")
    }
    models = {p["model"]: run.net, **run.companions}  # each model (by kind) that has a twin
    kind_of = {id(m): kind for kind, m in models.items()}
    data_records, twin_res = [], {}
    if p["shuffle_subset"]:
        twins = {}
        for kind, model in models.items():
            twin, twin_res[kind] = ex.trained(_twin_config(p, kind), p["weights"])  # shipped where one ships
            twins[model] = twin.to(run.x.device)
        data_records = data_randomisation(run.explainers, twins, run.x, run.y, **kw)

    def twin_tolerance(method: str) -> dict[str, Any]:  # from the source of the twin of the model the method ran on
        return rec.tolerance_for(twin_res[kind_of[id(run.explainers[method][0])]]["source"], tol)

    data_quantities = {
        f"{r['method']} {k}": rec.quantity(r[k]["value"], twin_tolerance(r["method"]))
        for r in data_records
        for k in ("spearman_abs", "ssim")
    }
    return SimpleNamespace(
        **vars(run),
        records=records,
        quantities=quantities,
        data_records=data_records,
        data_quantities=data_quantities,
        twin_res=twin_res,
        checks={"sanity_checks": quantities, "sanity_checks_data": data_quantities},
    )


def write_sanity_checks(params: Mapping[str, Any], out: SimpleNamespace, **extra: Any) -> Path:
    """Write the run records of :func:`sanity_checks`' result (what notebook 07 writes): model
    randomisation, and data randomisation when it ran. Returns the first record's path."""
    from facnn.companion import records as rec

    common = dict(weights=out.res["source"], dataset=out.res["dataset"], **extra)
    nb = NOTEBOOKS["sanity_checks"]
    path = rec.write_run("sanity_checks", nb, params, quantities=out.quantities, records=out.records, **common)
    if out.twin_res:
        twins = {kind: _twin_summary(t) for kind, t in out.twin_res.items()}
        rec.write_run(
            "sanity_checks_data",
            nb,
            params,
            quantities=out.data_quantities,
            records=out.data_records,
            twin=twins[params["model"]],  # the FA-CNN's, as records before peers had twins
            twins=twins,
            **common,
        )
    return path


EXPERIMENTS = {
    "pixel_removal": (pixel_removal, write_pixel_removal),
    "localisation": (localisation, write_localisation),
    "sanity_checks": (sanity_checks, write_sanity_checks),
}


def _prepare_models(experiment: str, run: Mapping[str, Any]) -> None:
    """Read (or, where none ships, train) every model ``experiment`` uses, on this process alone, so
    that the processes of a ``torchrun`` job then all find them in the checkpoint cache. Alone: a
    model trained here must not wait for the others at a collective while they wait at the barrier
    after it (they would, until the timeout)."""
    from facnn.companion import experiments as ex
    from facnn.core.distributed import one_process

    with one_process():
        kw = _train_kw(run)
        ex.load_model(run["config_prefix"], run["model"], run["weights"], **kw)
        ex.companion_models(run["config_prefix"], run["methods"], run["weights"], **kw)
        if experiment == "localisation":
            for cfg in _sweep_configs(run):
                ex.trained(cfg, run["weights"])
        if experiment == "sanity_checks" and run["shuffle_subset"]:
            for kind in _twinned_models(run):
                ex.trained(_twin_config(run, kind), run["weights"])


def _wait_for_models(rank: int) -> None:
    """The barrier after :func:`_prepare_models`, failing with the fix when process 0 takes longer than
    the collective timeout (it trains a model none ships)."""
    import torch

    from facnn.core.distributed import TIMEOUT_S

    try:
        torch.distributed.barrier()
    except RuntimeError as e:
        raise RuntimeError(
            f"process {rank} waited more than FACNN_DIST_TIMEOUT_S={TIMEOUT_S} s for process 0 to read or train "
            "the models: train them first (the same command on one process, or python -m facnn.train), or set "
            f"FACNN_DIST_TIMEOUT_S higher ({e})"
        ) from e


def main(argv: list[str] | None = None) -> int:
    """``python -m facnn.companion.evaluation {pixel_removal,localisation,sanity_checks} [--parameters JSON]
    [--cache DIR]``, alone or under ``torchrun``; rank 0 prints the reproduction check and writes
    the record."""
    ap = argparse.ArgumentParser(prog="python -m facnn.companion.evaluation", description=__doc__.split("\n\n")[0])
    ap.add_argument("experiment", choices=sorted(NOTEBOOKS))
    ap.add_argument("--parameters", default="{}", help="JSON mapping of notebook parameters to change")
    ap.add_argument("--cache", default=None, help="folder for each batch's maps or scores (resume a killed run)")
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
                _prepare_models(args.experiment, run)
            _wait_for_models(rank)
        experiment, write = EXPERIMENTS[args.experiment]
        out = experiment(run, cache=args.cache)
        if rank == 0:
            for name, quantities in getattr(out, "checks", {args.experiment: out.quantities}).items():
                print(reproduce.summary(reproduce.check(name, params, quantities)))
            command = (f"torchrun --nproc-per-node {world}" if world > 1 else "python") + (
                f" -m facnn.companion.evaluation {args.experiment} --parameters {shlex.quote(json.dumps(overrides))}"
            )
            path = write(params, out, processes=world, evaluation_command=command)
            print(f"wrote {path} ({world} process{'es' if world > 1 else ''})")
    finally:
        if world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The experiments behind the notebooks, as functions (the notebooks only call these and plot).

Each returns plain records (lists of dicts) that :func:`write_records` merges into
``figures/<name>.json`` together with the command that reproduces them.
"""

from __future__ import annotations

import json
import math
import random
import shlex
from dataclasses import asdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .attribution import RISE, Attribution, ClassMaps, Contributions, GradCAM, Occlusion, RandomMaps
from .metrics import DEFAULT_PERCENTS, PixelRemoval, make_grids, pointing_game
from .models import FACNN
from .paths import figures_dir
from .theory import head_error, layer_correlations, morph_profile, randomize_batchnorm, theorem1_error
from .config import EXECUTION_FIELDS, load_config

__all__ = ["load_config", "paper_layers", "random_theorem_sweep", "theorem_report", "build_explainers",
           "pixel_removal_experiment", "localisation_experiment", "write_records", "papermill_command", "test_batch",
           "full_scale_records"]  # fmt: skip


def paper_layers(depth: int) -> list[int]:
    """The last layer and the middle layer in the proportion of the paper's 24 and 18."""
    return [depth, max(1, round(depth * 18 / 24))]


def test_batch(dataset: str, n: int, seed: int = 0, device: str | torch.device = "cpu") -> tuple[Tensor, Tensor]:
    """``n`` test images and labels, a seeded random subset (the same for every method)."""
    from .data import load_dataset

    return load_dataset(dataset, "test").subset(n, seed).tensors(device)


def random_theorem_sweep(n_models: int, seed: int = 0, image_size: int = 28, batch: int = 4) -> list[dict[str, Any]]:
    """Theorem checks on ``n_models`` random FA-CNNs of random shape (seeded): Theorem-1 error,
    head error, and the worst Theorem-2 ratios per model."""
    rng = random.Random(seed)
    rows = []
    for i in range(n_models):
        cfg = dict(num_classes=rng.randint(2, 10), maps_per_class=rng.randint(1, 6), depth=rng.randint(1, 8),
                   hidden=rng.choice([8, 16, 32]), branch=rng.choice(["post", "pre", "inverted"]),
                   dampening=rng.choice([0.05, 0.1, 0.5, 1.0]), in_channels=rng.choice([1, 3]))  # fmt: skip
        torch.manual_seed(seed * 1000 + i)
        m = FACNN(zero_init=False, pool_at=[1] if cfg["depth"] > 1 else [], **cfg)
        randomize_batchnorm(m, seed * 1000 + i)  # non-trivial BN statistics, as after training; eval mode
        x = torch.rand(batch, cfg["in_channels"], image_size, image_size)
        t = torch.randint(0, cfg["num_classes"], (batch,))
        prof = morph_profile(m, x, t)
        rows.append(dict(
            model=i, **cfg, theorem1_error=theorem1_error(m, x, t), head_error=head_error(m, x),
            morph_equality_error=max(abs(r.step - r.bound) / max(r.bound, 1e-30) for r in prof),
            class_ratio_max=max(r.class_ratio for r in prof), pool_commute_error=max(r.pool_commute_error for r in prof),
        ))  # fmt: skip
    return rows


def theorem_report(model: FACNN, x: Tensor, y: Tensor) -> dict[str, Any]:
    """All theorem quantities for one (trained) model on images ``x`` with labels ``y``."""
    prof = morph_profile(model, x)
    return dict(
        theorem1_error=theorem1_error(model, x, y), head_error=head_error(model, x),
        morph=[vars(r) for r in prof], gradcam_correlation=layer_correlations(model, x, y),
    )  # fmt: skip


def build_explainers(facnn: FACNN, layers: Sequence[int], methods: Sequence[str], *, rise_n: int = 4000,
                     rise_cells: int = 7, rise_center: bool = False, occlusion_k: int = 4, occlusion_stride: int | None = None,
                     coda: nn.Module | None = None, seed: int = 0) -> dict[str, tuple[nn.Module, Attribution, int | None]]:  # fmt: skip
    """``{label: (model evaluated, explainer, layer)}`` for the pixel-removal and localisation
    experiments. ``methods`` ⊂ {"intrinsic", "gradcam", "rise", "occlusion", "random", "contributions"};
    "random" is the :class:`~facnn.attribution.RandomMaps` control (each experiment restarts it
    with its own seed)."""
    out: dict[str, tuple[nn.Module, Attribution, int | None]] = {}
    for method in methods:
        if method == "intrinsic":
            out.update({f"FA-CNN maps L{l}": (facnn, ClassMaps(facnn, l), l) for l in layers})
        elif method == "gradcam":
            out.update({f"Grad-CAM L{l}": (facnn, GradCAM(facnn, l), l) for l in layers})
        elif method == "rise":
            out["RISE (centred)" if rise_center else "RISE"] = (facnn, RISE(facnn, rise_n, rise_cells, seed=seed, center=rise_center), None)
        elif method == "occlusion":
            out[f"K-OCC k={occlusion_k}"] = (facnn, Occlusion(facnn, occlusion_k, occlusion_stride), None)
        elif method == "random":
            out["random"] = (facnn, RandomMaps(facnn, seed), None)
        elif method == "contributions":
            if coda is None:
                raise ValueError("method 'contributions' needs a trained CoDA-Net (coda=...)")
            out["CoDA contributions"] = (coda, Contributions(coda), None)
        else:
            raise ValueError(f"unknown method {method!r}")
    return out


def pixel_removal_experiment(explainers: dict[str, tuple[nn.Module, Attribution, int | None]], x: Tensor,
                             y: Tensor, *, percents: Sequence[float] = DEFAULT_PERCENTS, orders: Sequence[str] = ("morf", "lerf"),
                             fill: str = "zero", batch_size: int = 50, seed: int = 0, progress: bool = True) -> list[dict[str, Any]]:  # fmt: skip
    """Percent-pixels-removed curves (FA-CNN Fig. 4) for every explainer and order.

    Maps are those of the *true* class ``y``; see :class:`~facnn.metrics.PixelRemoval` for the protocol.
    """
    from tqdm.auto import tqdm

    records = []
    for label, (model, expl, layer) in tqdm(explainers.items(), desc="methods", disable=not progress):
        if isinstance(expl, RandomMaps):
            expl.reset(seed)
        meters = {o: PixelRemoval(model, percents, o, fill=fill) for o in orders}
        for s in range(0, len(x), batch_size):
            xb, yb = x[s : s + batch_size], y[s : s + batch_size]
            maps = expl.attribute(xb, yb)
            for meter in meters.values():
                meter.update(xb, yb, maps)
        for o, meter in meters.items():
            r = meter.compute()
            records.append(dict(method=label, layer=layer, order=o, auc=r["auc"], percents=r["percents"],
                                accuracy=r["accuracy"], n_images=r["n_images"], fill=fill, explainer=repr(expl)))  # fmt: skip
    return records


def localisation_experiment(explainers: dict[str, tuple[nn.Module, Attribution, int | None]], x: Tensor,
                            y: Tensor, *, n: int = 3, n_grids: int = 50, seed: int = 0, min_confidence: float = 0.5,
                            progress: bool = True) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:  # fmt: skip
    """Grid pointing game for every explainer; grids are built per evaluated model (each model's
    own confident, correct images). Returns summary records and the per-cell scores."""
    from tqdm.auto import tqdm

    grids_for: dict[int, tuple[Tensor, Tensor]] = {}
    records, scores = [], {}
    for label, (model, expl, layer) in tqdm(explainers.items(), desc="methods", disable=not progress):
        if id(model) not in grids_for:
            grids_for[id(model)] = make_grids(model, x, y, n=n, n_grids=n_grids, seed=seed, min_confidence=min_confidence)
        grids, classes = grids_for[id(model)]
        if isinstance(expl, RandomMaps):
            expl.reset(seed)
        s = pointing_game(expl, grids, classes, n).flatten().cpu()
        scores[label] = s.tolist()
        records.append(dict(method=label, layer=layer, mean=float(s.mean()), median=float(s.median()),
                            n_grids=len(grids), grid=n, explainer=repr(expl)))  # fmt: skip
    return records, scores


def papermill_command(notebook: str, params: dict[str, Any]) -> str:
    """The papermill command that reproduces a notebook run with these parameters."""
    ps = " ".join(f"-p {k} {shlex.quote(json.dumps(v) if not isinstance(v, str) else v)}" for k, v in params.items())
    return f"papermill notebooks/{notebook} out.ipynb {ps}".strip()


def write_records(name: str, records: Sequence[dict[str, Any]], key: Sequence[str], **common: Any) -> Path:
    """Merge ``records`` (each extended with ``common``) into ``figures/<name>.json``; records with
    the same ``key`` fields replace older ones. Returns the path."""
    path = figures_dir() / f"{name}.json"
    old = json.loads(path.read_text()) if path.is_file() else []
    merged = {json.dumps([r.get(k) for k in key]): r for r in old}
    for r in records:
        r = {**r, **common}
        merged[json.dumps([r.get(k) for k in key])] = r
    path.write_text(json.dumps(list(merged.values()), indent=1, default=_plain))
    return path


_IGNORED = ("epochs", "device", "amp", *EXECUTION_FIELDS)  # a full-scale run may differ in these


def full_scale_records(config_prefix: str, models: Sequence[str], name: str = "ablation") -> list[dict[str, Any]]:
    """The committed full-training-set runs of today's default configs.

    Reads ``figures/<name>.json`` (written by ``tools/ablation.py``) and keeps, for each model,
    the runs whose recorded config equals ``facnn/configs/<config_prefix>_<model>.json`` in every
    field but the execution ones (epochs, device, AMP, ...) and that trained on the whole split.

    Parameters
    ----------
    config_prefix : str
        ``"fashion_mnist"`` or ``"cifar10"``: which config files count as the defaults.
    models : sequence of str
        Model names (``"facnn"``, ``"resnet"``, ...); those without a config file are skipped.
    name : str
        The records file under ``figures/``.

    Returns
    -------
    list of dict
        Records with ``model``, ``dataset``, ``test_accuracy``, ``epochs``, ``params``, ``seed``,
        ``command`` and ``variant``, ordered by model then epochs; empty when none match.
    """
    path = figures_dir() / f"{name}.json"
    if not path.is_file():
        return []
    runs = json.loads(path.read_text())
    out = []
    for model in models:
        try:
            want = asdict(load_config(f"{config_prefix}_{model}"))
        except FileNotFoundError:
            continue
        for r in runs:
            c = r.get("config", {})
            if c.get("train_subset") is None and all(c.get(k) == v for k, v in want.items() if k not in _IGNORED):
                out.append(dict(model=model, dataset=c["dataset"], test_accuracy=r["test_accuracy"], epochs=r["epochs"],
                                params=r["params"], seed=c["seed"], train_subset=None, command=r["command"],
                                variant=r["variant"]))  # fmt: skip
    return sorted(out, key=lambda r: (list(models).index(r["model"]), r["epochs"]))


def _plain(o: Any) -> Any:
    if isinstance(o, float) and math.isnan(o):
        return None
    if isinstance(o, (Tensor,)):
        return o.tolist()
    return str(o)

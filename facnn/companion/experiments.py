"""The experiments behind the notebooks, as functions (the notebooks only call these and plot).

Models come from the shipped weights (:func:`load_model` with ``weights="pretrained"``) or are
trained at the notebook's budget (``weights="train"``); records are written by
:mod:`facnn.companion.records` and checked by :mod:`facnn.companion.reproduce`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, cast

import torch
from torch import Tensor, nn

from facnn.core.devices import resolve_device
from facnn.core.paths import records_dir
from facnn.core.registry import method_names
from facnn.evaluate.randomisation import randomise_batchnorm
from facnn.evaluate.theorems import head_error, layer_correlations, morph_profile, theorem1_error
from facnn.explain.api import make_explainer
from facnn.explain.base import Attribution
from facnn.explain.catalogue import LAYERED_KINDS, explained
from facnn.models.aligned import AlignedNetwork
from facnn.models.dynamic_linear import DynamicLinearNetwork
from facnn.models.facnn import FACNN
from facnn.train.config import EXECUTION_FIELDS, LATER_FIELDS, load_config
from facnn.train.loop import get_or_train

__all__ = [
    "load_model",
    "paper_layers",
    "random_theorem_sweep",
    "theorem_report",
    "build_explainers",
    "gradcam_correlations",
    "test_batch",
    "full_scale_records",
    "dataset_of",
    "class_names",
    "morph_maps",
    "companion_models",
    "companion_kinds",
    "trained",
    "shipped_accuracies",
    "shown_layers",
]


def dataset_of(config_prefix: str) -> str:
    """The dataset name of a config prefix (read from its first config): ``"fashion_mnist"`` →
    ``"fashion-mnist"``, ``"imagenet100"`` → ``"imagefolder"``.

    >>> dataset_of("imagenet100")
    'imagefolder'
    """
    from facnn.train.config import config_names

    names = [n for n in config_names() if n.startswith(f"{config_prefix}_")]
    if not names:
        prefixes = sorted({n.rsplit("_", 1)[0] for n in config_names()})
        raise ValueError(f"no config starts with {config_prefix!r}_: config_prefix is one of {prefixes}")
    return load_config(names[0]).dataset


def load_model(
    config_prefix: str, model: str, weights: str = "pretrained", **train_overrides: Any
) -> tuple[nn.Module, dict[str, Any]]:
    """A trained model and its record, the same way for every notebook.

    Parameters
    ----------
    config_prefix, model
        Which config: ``facnn/configs/<config_prefix>_<model>.json``.
    weights
        ``"pretrained"``: the shipped weights ``"<dataset>/<model>"`` (:func:`facnn.pretrained`;
        ``train_overrides`` other than ``device`` are ignored); ``"train"``: train the config with
        ``train_overrides`` (epochs, train_subset, seed, ...) through the checkpoint cache.

    Returns
    -------
    ``(model, record)`` with ``dataset``, ``test_accuracy``, ``epochs``, ``config`` and ``source``
    (``"pretrained <name> sha256:<prefix>"`` or ``"trained"``).
    """
    if weights == "pretrained":
        from facnn.models.pretrained import PretrainedError, manifest

        name = f"{dataset_of(config_prefix)}/{model}"
        if name not in manifest():
            raise PretrainedError(
                f"no shipped weights for {config_prefix}_{model} (shipped: {sorted(manifest())}): use "
                f"weights='train' with epochs and train_subset of the run to read (train_subset 0: all); a finished "
                f"run of that config in the checkpoint cache (python -m facnn.train --config {config_prefix}_{model}) "
                "is read, otherwise it is trained"
            )
        return _shipped(name, train_overrides.get("device", "auto"))
    if weights == "train":
        m, rec = get_or_train(load_config(f"{config_prefix}_{model}", **train_overrides))
        return m, dict(rec, source="trained")
    raise ValueError(
        "weights must be 'pretrained' (the shipped weights) or 'train' (train at the notebook's budget), got "
        f"{weights!r}"
    )


def trained(cfg: Any, weights: str = "pretrained") -> tuple[nn.Module, dict[str, Any]]:
    """The model trained with ``cfg`` (a :class:`~facnn.train.config.TrainConfig`) and its record.

    ``weights="pretrained"`` takes the shipped weights of this exact config where one ships
    (:func:`facnn.train.shipped_for`: the brief runs of a sweep or a sanity twin ship so that the
    figures need no training) and trains otherwise; ``"train"`` always goes through the
    checkpoint cache (:func:`facnn.get_or_train`). The record holds ``test_accuracy``,
    ``train_accuracy`` (last epoch), ``config``, ``command`` and ``source``.
    """
    from facnn.train.config import shipped_for

    if weights not in ("pretrained", "train"):
        raise ValueError(f"weights must be 'pretrained' (shipped where one ships) or 'train', got {weights!r}")
    name = shipped_for(cfg) if weights == "pretrained" else None
    if name:
        return _shipped(name, cfg.device)
    m, rec = get_or_train(cfg, progress=False)
    return m, dict(rec, train_accuracy=rec["history"][-1]["train_acc"], source="trained")


def _shipped(name: str, device: str) -> tuple[nn.Module, dict[str, Any]]:
    from facnn.models.pretrained import pretrained

    m, rec = pretrained(name, map_location=str(resolve_device(device)))
    return m, dict(
        dataset=rec["dataset"],
        test_accuracy=rec["test_accuracy"],
        train_accuracy=rec.get("train_accuracy"),
        epochs=rec["epochs"],
        config=rec["train_config"],
        command=rec["command"],
        source=f"pretrained {name} sha256:{rec['sha256'][:10]}",
    )


def shipped_accuracies(seed: int = 0) -> list[dict[str, Any]]:
    """One row per shipped headline model (not the brief sweep and twin runs): its test accuracy
    with the bootstrap interval over images, from the per-image predictions stored with the
    weights (``tests/test_pretrained.py`` re-measures those predictions from the weights), its
    parameters and its forward FLOPs per test image."""
    from facnn.core.registry import forward_flops
    from facnn.data.datasets import load_dataset
    from facnn.evaluate.stats import bootstrap
    from facnn.models.pretrained import headline_models, stored_predictions

    rows, tests = [], {}
    for name, r in headline_models().items():
        if r["dataset"] not in tests:
            tests[r["dataset"]] = load_dataset(r["dataset"], "test").tensors()
        x, y = tests[r["dataset"]]
        hits = stored_predictions(r) == y.numpy()
        rows.append(
            dict(
                name=name,
                test_accuracy=bootstrap(hits.astype(float), seed=seed).as_dict(),
                epochs=r["epochs"],
                params=r["params"],
                flops=forward_flops(r["model"], r["model_config"], x.shape[-1]),
                manifest_accuracy=r["test_accuracy"],
                command=r["command"],
            )
        )
    return rows


def class_names(dataset: str, root: str | None = None) -> list[str]:
    """The class names of a dataset, in label order (an image folder's: its class folders under ``root``).

    >>> class_names("cifar10")[:3]
    ['airplane', 'automobile', 'bird']
    """
    from facnn.data.datasets import CIFAR_CLASSES, load_dataset

    if dataset == "cifar10":  # fixed names: no need to read the batches
        return list(CIFAR_CLASSES)
    return list(load_dataset(dataset, "test", root).classes)


def paper_layers(depth: int) -> list[int]:
    """The last layer and the middle layer in the proportion of the paper's 24 and 18 (exactly
    those at depth 24).

    >>> paper_layers(24), paper_layers(6)
    ([24, 18], [6, 4])
    """
    return [depth, max(1, round(depth * 18 / 24))]


def shown_layers(depth: int, most: int = 8) -> list[int]:
    """Layers a per-layer map figure shows: every one (0..depth) up to ``most`` layers, else
    every ``depth // 4``-th and the paper's pair.

    >>> shown_layers(6), shown_layers(24)
    ([0, 1, 2, 3, 4, 5, 6], [0, 6, 12, 18, 24])
    """
    if depth <= most:
        return list(range(depth + 1))
    return sorted(set(range(0, depth + 1, depth // 4)) | set(paper_layers(depth)))


def test_batch(
    dataset: str,
    n: int,
    seed: int = 0,
    device: str | torch.device = "cpu",
    *,
    root: str | None = None,
    image_size: int = 64,
) -> tuple[Tensor, Tensor]:
    """``n`` test images and labels, a seeded random subset (the same for every method), read from
    ``root`` (default: where :func:`facnn.load_dataset` looks; an image folder's ``val/``) at
    ``image_size`` (image folders only). Only the ``n`` images are decoded."""
    from facnn.data.datasets import load_dataset

    return load_dataset(dataset, "test", root, image_size=image_size).subset(n, seed).tensors(device)


def random_theorem_sweep(n_models: int, seed: int = 0, image_size: int = 28, batch: int = 4) -> list[dict[str, Any]]:
    """Theorem checks on ``n_models`` random FA-CNNs of random shape (seeded): Theorem-1 error,
    head error, and the worst Theorem-2 ratios per model."""
    rng = random.Random(seed)
    rows = []
    for i in range(n_models):
        cfg: dict[str, Any] = dict(
            num_classes=rng.randint(2, 10),
            maps_per_class=rng.randint(1, 6),
            depth=rng.randint(1, 8),
            hidden=rng.choice([8, 16, 32]),
            branch=rng.choice(["post", "pre", "inverted"]),
            dampening=rng.choice([0.05, 0.1, 0.5, 1.0]),
            in_channels=rng.choice([1, 3]),
        )
        torch.manual_seed(seed * 1000 + i)
        m = FACNN(zero_init=False, pool_at=[1] if cfg["depth"] > 1 else [], **cfg)
        randomise_batchnorm(m, seed * 1000 + i)  # non-trivial BN statistics, as after training; eval mode
        x = torch.rand(batch, cfg["in_channels"], image_size, image_size)
        t = torch.randint(0, cfg["num_classes"], (batch,))
        prof = morph_profile(m, x, t)
        rows.append(
            dict(
                model=i,
                **cfg,
                theorem1_error=theorem1_error(m, x, t),
                head_error=head_error(m, x),
                morph_equality_error=max(abs(r.step - r.bound) / max(r.bound, 1e-30) for r in prof),
                class_ratio_max=max(r.class_ratio for r in prof),
                pool_commute_error=max(r.pool_commute_error for r in prof),
            )
        )
    return rows


def gradcam_correlations(model: FACNN, x: Tensor, y: Tensor, seed: int = 0) -> list[dict[str, Any]]:
    """Per layer, the mean Pearson correlation of the class map of ``y`` with Grad-CAM at that
    layer (before its ReLU) over the images ``x``, with its bootstrap interval (Theorem 1: 1.0 at
    the penultimate layer)."""
    from facnn.evaluate.stats import bootstrap

    return [bootstrap(r.cpu().numpy(), seed=seed).as_dict() for r in layer_correlations(model, x, y, per_image=True)]


def theorem_report(model: FACNN, x: Tensor, y: Tensor, seed: int = 0) -> dict[str, Any]:
    """All theorem quantities for one (trained) model on images ``x`` with labels ``y``: the
    Theorem-1 and head errors, the per-layer morph profile, and per layer the correlation of the
    class map with Grad-CAM (true class) and with the penultimate map (predicted class), each a
    mean over images with its bootstrap interval."""
    from facnn.evaluate.stats import bootstrap
    from facnn.evaluate.theorems import final_correlations

    prof = morph_profile(model, x)
    grad = gradcam_correlations(model, x, y, seed)
    final = [bootstrap(r.cpu().numpy(), seed=seed).as_dict() for r in final_correlations(model, x)]
    return dict(
        theorem1_error=theorem1_error(model, x, y),
        head_error=head_error(model, x),
        morph=[vars(r) for r in prof],
        gradcam_correlation=[g["value"] for g in grad],
        gradcam_correlation_ci=grad,
        final_correlation_ci=final,
    )


def morph_maps(model: FACNN, x: Tensor, index: int = 0) -> tuple[Any, list[Any], int]:
    """Image ``index`` of ``x`` (grey or channel mean), its predicted class, and that class's map at
    every layer ``0..L`` upsampled to the image (numpy), for :func:`facnn.viz.morph_strip`."""
    from facnn.models.aligned import all_class_maps

    logits, maps = all_class_maps(model, x[index : index + 1])
    pred = int(logits.argmax(1))
    img = x[index].mean(0).cpu().numpy()
    return img, [m[0, pred].cpu().numpy() for m in maps], pred


def _companion_methods(methods: Sequence[str]) -> dict[str, list[str]]:
    """``{"coda": [...], "bcos": [...], "hybrid": [...]}``: which of ``methods`` run on each companion."""
    return {
        "coda": [m for m in methods if m == "contributions" or m.startswith("coda-")],
        "bcos": [m for m in methods if m.startswith("bcos-")],
        "hybrid": [m for m in methods if m.startswith("hybrid-")],
    }


def companion_kinds(methods: Sequence[str]) -> list[str]:
    """The companions ``methods`` need, in the order :func:`companion_models` returns them.

    Example
    -------
    >>> companion_kinds(["intrinsic", "contributions", "hybrid-intrinsic"])
    ['coda', 'hybrid']
    """
    return [k for k, v in _companion_methods(methods).items() if v]


def companion_models(
    config_prefix: str, methods: Sequence[str], weights: str = "pretrained", **train_overrides: Any
) -> dict[str, nn.Module]:
    """The CoDA-Net, B-cos network and hybrid FA-CNN that ``methods`` need (``{"coda": ...}``, only
    those needed), loaded like :func:`load_model`; pass them on to :func:`build_explainers`.

    Example
    -------
    >>> companion_models("fashion_mnist", ["intrinsic", "gradcam"])
    {}
    """
    from facnn.train.config import config_names

    need = _companion_methods(methods)
    for k, asked in need.items():
        if asked and f"{config_prefix}_{k}" not in config_names():
            raise ValueError(
                f"methods {asked} run on a {k} model, and {config_prefix!r} has no such config "
                f"(facnn/configs/{config_prefix}_{k}.json): leave them out of methods at this config_prefix"
            )
    return {k: load_model(config_prefix, k, weights, **train_overrides)[0] for k, v in need.items() if v}


def build_explainers(
    facnn: FACNN,
    layers: Sequence[int],
    methods: Sequence[str],
    *,
    rise_n: int = 4000,
    rise_cells: int = 7,
    rise_center: bool = False,
    occlusion_k: int = 4,
    occlusion_stride: int | None = None,
    coda: nn.Module | None = None,
    bcos: nn.Module | None = None,
    hybrid: nn.Module | None = None,
    seed: int = 0,
) -> dict[str, tuple[nn.Module, Attribution, int | None]]:
    """``{label: (model evaluated, explainer, layer)}`` for the pixel-removal and localisation
    experiments. ``methods`` ⊂ {"intrinsic", "gradcam", "rise", "occlusion", "random", "contributions"}
    run on the FA-CNN ("contributions": the CoDA-Net's own maps), and "coda-<method>" /
    "bcos-<method>" / "hybrid-<method>" run a method on the CoDA-Net / B-cos network / hybrid
    FA-CNN ("bcos-contributions": the B-cos network's own maps; "hybrid-intrinsic": the hybrid's
    maps at its last and middle aligned layers; "coda-rise", "coda-gradcam", ...: post-hoc methods
    on it, as the CoDA-Nets paper compares). "random" is the :class:`~facnn.explain.control.RandomMaps` control (each
    experiment restarts it with its own seed).

    Example
    -------
    >>> import facnn
    >>> fa = facnn.FACNN(10)
    >>> sorted(build_explainers(fa, [6, 4], ["intrinsic", "random"]))
    ['FA-CNN maps L4', 'FA-CNN maps L6', 'random']
    """
    options: dict[str, dict[str, Any]] = {
        "rise": dict(n_masks=rise_n, cells=rise_cells, seed=seed, center=rise_center),
        "occlusion": dict(window=occlusion_k, stride=occlusion_stride),
        "random": dict(seed=seed),
    }
    others = {
        "coda": (coda, "a trained CoDA-Net (coda=...)"),
        "bcos": (bcos, "a trained B-cos network (bcos=...)"),
        "hybrid": (hybrid, "a trained hybrid FA-CNN (hybrid=...)"),
    }
    out: dict[str, tuple[nn.Module, Attribution, int | None]] = {}
    for method in methods:
        prefix, _, name = method.partition("-") if method.split("-", 1)[0] in others else ("", "", method)
        if method == "contributions":
            prefix = "coda"
        if name not in method_names() or name == "intrinsic" and prefix not in ("", "hybrid"):
            raise ValueError(
                f"unknown method {method!r}: choose from {sorted(method_names())}, 'coda-<method>' or 'bcos-<method>'"
            )
        model, needs = others[prefix] if prefix else (facnn, "")
        if model is None:
            raise ValueError(f"method {method!r} needs {needs}")
        built: list[tuple[Attribution, int | None]]
        if name in LAYERED_KINDS and prefix in ("", "hybrid"):  # one explainer per aligned layer
            at = layers if not prefix else paper_layers(cast(AlignedNetwork, model).num_layers - 1)  # the hybrid
            built = [(make_explainer(model, name, layer=l), l) for l in at]
        elif name == "gradcam":  # on CoDA/B-cos: the last hidden layer (before the 1×1 class layer)
            built = [(make_explainer(model, name, layer=cast(DynamicLinearNetwork, model).layers[-2]), None)]
        else:
            built = [(make_explainer(model, name, **options.get(name, {})), None)]
        for expl, layer in built:  # labelled by what each explainer is (the method table)
            out[explained(model, expl, layer).label] = (model, expl, layer)
    return out


_IGNORED = (
    "epochs",
    "seed",
    "device",
    "amp",
    *EXECUTION_FIELDS,
)  # a full-scale run may differ in these (seed: one row per seed)


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
        ``command`` and ``variant``, ordered by model, epochs and seed; empty when none match.
    """
    path = records_dir() / f"{name}.json"
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
            if c.get("train_subset") is None and all(
                c.get(k, LATER_FIELDS.get(k)) == v for k, v in want.items() if k not in _IGNORED
            ):
                out.append(
                    dict(
                        model=model,
                        dataset=c["dataset"],
                        test_accuracy=r["test_accuracy"],
                        epochs=r["epochs"],
                        params=r["params"],
                        seed=c["seed"],
                        train_subset=None,
                        command=r["command"],
                        variant=r["variant"],
                    )
                )
    return sorted(out, key=lambda r: (list(models).index(r["model"]), r["epochs"], r["seed"]))

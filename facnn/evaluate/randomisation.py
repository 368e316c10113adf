"""Sanity checks for saliency maps (Adebayo et al., NeurIPS 2018): does a map change when the
model's weights are randomised?

*Cascading* randomisation re-initialises the model's layers from the top (the output) down, one
more at each step; *independent* randomisation re-initialises one layer at a time. A map that
explains the model should become dissimilar to the original as soon as the weights it depends on
are gone; a map that stays similar is dominated by the input (an edge detector), whatever it
looks like. Similarity is measured per image by Spearman rank correlation of the signed and of the
absolute maps and by SSIM of the min-max-normalised absolute maps, each with a bootstrap interval.

Models opt in to a layer order with ``randomisation_layers() -> [(name, module), ...]`` (output
first); otherwise the order is the model's parameterised top-level blocks, ``ModuleList`` and
``Sequential`` children expanded, reversed.

Examples
--------
>>> import torch
>>> from facnn import FACNN
>>> from facnn.evaluate.randomisation import layer_order
>>> [name for name, _ in layer_order(FACNN(10, depth=2))][:2]
['layers.1', 'layers.0']
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from facnn.core.modes import in_eval_mode
from facnn.evaluate.similarity import pearson
from facnn.explain.catalogue import record_fields

__all__ = [
    "randomise_batchnorm",
    "layer_order",
    "randomise",
    "similarities",
    "cascading_randomisation",
    "independent_randomisation",
    "sanity_experiment",
    "sanity_units",
    "SIMILARITIES",
    "data_randomisation",
    "rebind",
    "shuffled_twin_config",
    "example_maps",
]


def layer_order(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers to randomise, output first: ``model.randomisation_layers()`` when defined, else
    the parameterised blocks (``ModuleList``/``Sequential`` expanded), reversed."""
    if hasattr(model, "randomisation_layers"):
        randomisation_layers = cast(Callable[[], Iterable[tuple[str, nn.Module]]], model.randomisation_layers)
        return list(randomisation_layers())
    out: list[tuple[str, nn.Module]] = []

    def walk(prefix: str, module: nn.Module) -> None:
        for name, child in module.named_children():
            full = f"{prefix}{name}"
            if isinstance(child, (nn.ModuleList, nn.Sequential)) and len(child) > 1:
                walk(full + ".", child)
            elif any(True for _ in child.parameters()):
                out.append((full, child))

    walk("", model)
    return out[::-1]


def _redraw_batchnorm(m: nn.modules.batchnorm._BatchNorm, g: torch.Generator) -> None:
    """Running statistics and affine terms drawn around their defaults, as after training:
    mean ~ N(0, 0.1²), var ~ U(0.5, 1.5), γ ~ U(0.5, 1.5), β ~ N(0, 0.1²)."""
    with torch.no_grad():
        if m.running_mean is not None and m.running_var is not None:
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
        if m.affine:
            m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)


def randomise_batchnorm(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm of ``model`` non-trivial statistics and affine terms, as after
    training, and put it in eval mode: untrained BatchNorm (γ=1, β=0, μ=0, σ²=1) would hide errors
    that the theorem checks and tests on random models are meant to find. Returns ``model``.

    >>> from facnn.models import ResNet
    >>> m = randomise_batchnorm(ResNet(10, width=4))
    >>> m.training, bool(m.stem[1].running_mean.abs().sum() > 0)
    (False, True)
    """
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            _redraw_batchnorm(m, g)
    return model.eval()


@torch.no_grad()
def randomise(module: nn.Module, seed: int) -> nn.Module:
    """Re-initialise every parameter of ``module`` in place, seeded: ``reset_parameters`` where a
    submodule has one (convolutions, linear layers), fresh BatchNorm statistics and affine terms
    around their defaults, and any other parameter redrawn from a normal of its own scale."""
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                _redraw_batchnorm(m, g)
            elif hasattr(m, "reset_parameters"):
                cast(Callable[[], None], m.reset_parameters)()
            else:
                for p in m.parameters(recurse=False):
                    scale = float(p.std()) if p.numel() > 1 and float(p.std()) > 0 else 1.0
                    p.copy_(torch.randn(p.shape, generator=g) * scale)
    return module


def _ranks(a: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return np.stack([rankdata(r) for r in a])


def _spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row Spearman correlation: Pearson of the ranks; a constant row (no ranking) scores 0."""
    r = pearson(torch.from_numpy(_ranks(a)), torch.from_numpy(_ranks(b))).double().numpy()
    return np.nan_to_num(r, nan=0.0)


def similarities(original: Tensor, randomised: Tensor) -> dict[str, np.ndarray]:
    """Per-image similarity of two map sets ``(B, H, W)``: Spearman of the signed maps, Spearman of
    the absolute maps, and SSIM of the min-max-normalised absolute maps (data range 1)."""
    from skimage.metrics import structural_similarity

    a, b = original.detach().double().cpu().numpy(), randomised.detach().double().cpu().numpy()
    flat_a, flat_b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    out = dict(
        spearman=_spearman(flat_a, flat_b),
        spearman_abs=_spearman(np.abs(flat_a), np.abs(flat_b)),
    )

    def norm(m: np.ndarray) -> np.ndarray:
        m = np.abs(m)
        lo, hi = m.min(), m.max()
        return (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)

    out["ssim"] = np.array(
        [
            structural_similarity(
                norm(x), norm(y), data_range=1.0, win_size=min(7, *x.shape) // 2 * 2 + 1 if min(x.shape) >= 3 else 3
            )
            for x, y in zip(a, b)
        ]
    )
    return out


MapFn = Callable[[nn.Module, Tensor, Tensor], Tensor]


@in_eval_mode
def _run(
    model: nn.Module, explain: MapFn, x: Tensor, y: Tensor, steps: Sequence[Sequence[str]], seed: int
) -> list[dict[str, Any]]:
    original = explain(model, x, y)
    layers = dict(layer_order(model))
    rows = [dict(randomised=[], **similarities(original, original))]
    for i, names in enumerate(steps):
        m = copy.deepcopy(model).eval()
        for k, name in enumerate(names):
            randomise(m.get_submodule(name), seed * 1000 + 17 * i + k)
        if any(name not in layers for name in names):
            raise ValueError(f"unknown layer in {names}: the model's layers are {list(layers)}")
        rows.append(dict(randomised=list(names), **similarities(original, explain(m, x, y))))
    return rows


def cascading_randomisation(
    model: nn.Module, explain: MapFn, x: Tensor, y: Tensor, seed: int = 0
) -> list[dict[str, Any]]:
    """Maps after randomising the top 0, 1, …, L layers. ``explain(model, x, y) -> (B, H, W)``
    builds the explainer on the (randomised) model it is given. Returns one row per step with the
    layers randomised and per-image ``spearman``, ``spearman_abs`` and ``ssim`` arrays (step 0
    compares the original with itself)."""
    names = [n for n, _ in layer_order(model)]
    return _run(model, explain, x, y, [names[: k + 1] for k in range(len(names))], seed)


def independent_randomisation(
    model: nn.Module, explain: MapFn, x: Tensor, y: Tensor, seed: int = 0
) -> list[dict[str, Any]]:
    """Maps after randomising one layer at a time (the others keep their trained weights)."""
    return _run(model, explain, x, y, [[n] for n, _ in layer_order(model)], seed)


SIMILARITIES = ("spearman", "spearman_abs", "ssim")


def _steps(model: nn.Module, mode: str) -> list[list[str]]:
    """The layers randomised at steps 1 … L of ``mode`` (step 0 randomises nothing)."""
    names = [n for n, _ in layer_order(model)]
    return [names[: k + 1] for k in range(len(names))] if mode == "cascading" else [[n] for n in names]


def _per_image(
    explainers: dict[str, tuple[nn.Module, Any, int | None]],
    x: Tensor,
    y: Tensor,
    similarity_of: Callable[[str, nn.Module, Any, int, Tensor, Tensor], np.ndarray],
    shape: Callable[[nn.Module], tuple[int, ...]],
    batch_size: int | None,
    cache: str | Path | None,
    kind: Callable[[nn.Module], str],
) -> dict[str, np.ndarray]:
    """``{label: similarities (N, *shape(model))}`` per image, batch by batch: under ``torchrun``
    each process takes a shard of whole batches and the arrays are gathered in image order (the
    numbers one process gives); with ``cache`` each batch's array is kept under ``kind(model)``."""
    from facnn.core.distributed import gather_arrays, shard_range
    from facnn.core.validation import check_int
    from facnn.evaluate.map_cache import MapCache

    size = len(x) if batch_size is None else check_int(batch_size, "batch_size", 1, fix="images at once, e.g. 32")
    store = None if cache is None else MapCache(cache)
    out = {}
    for label, (model, expl, _) in explainers.items():
        dev = next(model.parameters()).device
        shard = shard_range(len(x), max(size, 1))
        local = [np.zeros((0, *shape(model)))]
        for g in range(shard.start, shard.stop, max(size, 1)):
            xb, yb = x[g : g + size].to(dev), y[g : g + size].to(dev)
            compute = partial(lambda *a: torch.from_numpy(similarity_of(*a)), label, model, expl, g, xb, yb)
            t = (
                store.cached(label, model, expl, g, xb, yb, compute, (len(xb), *shape(model)), kind(model))
                if store
                else compute()
            )
            local.append(t.double().numpy())
        out[label] = gather_arrays({"s": np.concatenate(local)})["s"]
    return out


def sanity_units(
    explainers: dict[str, tuple[nn.Module, Any, int | None]],
    x: Tensor,
    y: Tensor,
    *,
    mode: str = "cascading",
    seed: int = 0,
    batch_size: int | None = None,
    cache: str | Path | None = None,
) -> dict[str, np.ndarray]:
    """Per-image similarities behind :func:`sanity_experiment`: ``{label: (N, L + 1, 3)}``, image by
    step (0: nothing randomised, then one more layer each) by :data:`SIMILARITIES` — the units of
    paired comparisons between methods or models on the same images. Arguments as there.

    Example
    -------
    >>> import torch, facnn
    >>> net = facnn.FACNN(10, depth=2).eval()
    >>> units = sanity_units({"maps": (net, facnn.make_explainer(net, "intrinsic"), 2)}, torch.rand(3, 1, 28, 28),
    ...                      torch.arange(3))
    >>> units["maps"].shape, float(units["maps"][:, 0].min())  # step 0 compares each map with itself
    ((3, 3, 3), 1.0)
    """
    if mode not in ("cascading", "independent"):
        raise ValueError(f"mode must be 'cascading' or 'independent', got {mode!r}")

    def similarity_of(label: str, model: nn.Module, expl: Any, start: int, xb: Tensor, yb: Tensor) -> np.ndarray:
        def explain(m: nn.Module, xx: Tensor, yy: Tensor) -> Tensor:
            return rebind(expl, m, start=start).attribute(xx, yy)

        rows = _run(model, explain, xb, yb, _steps(model, mode), seed)
        return np.stack([[r[k] for k in SIMILARITIES] for r in rows]).transpose(2, 0, 1)  # (B, steps, 3)

    return _per_image(
        explainers,
        x,
        y,
        similarity_of,
        lambda m: (len(_steps(m, mode)) + 1, len(SIMILARITIES)),
        batch_size,
        cache,
        lambda m: f"sanity-{mode}-seed{seed}",
    )


def sanity_experiment(
    explainers: dict[str, tuple[nn.Module, Any, int | None]],
    x: Tensor,
    y: Tensor,
    *,
    mode: str = "cascading",
    seed: int = 0,
    batch_size: int | None = None,
    cache: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Randomisation curves for every explainer of :func:`facnn.companion.experiments.build_explainers`
    (label → (model, explainer, layer)): the explainer is rebuilt on each randomised copy with the
    same options. One record per method and step: the step, the layers randomised, and each
    similarity's mean over images with its 95 % bootstrap interval (per image: :func:`sanity_units`).

    The images go ``batch_size`` at a time (default: all at once); under ``torchrun`` each process
    takes a shard of whole batches and the per-image similarities are gathered (the numbers one
    process gives). With ``cache`` (a folder) each batch's similarities at every step are kept,
    keyed by the method, the model's weights, the images, ``mode`` and ``seed``: a killed run resumes.

    Example
    -------
    >>> import torch, facnn
    >>> net = facnn.FACNN(10, depth=2).eval()
    >>> ex = {"maps": (net, facnn.make_explainer(net, "intrinsic"), 2)}
    >>> recs = sanity_experiment(ex, torch.rand(4, 1, 28, 28), torch.arange(4), batch_size=2)
    >>> [r["step"] for r in recs], recs[0]["spearman"]["value"]
    ([0, 1, 2], 1.0)
    """
    from facnn.evaluate.stats import bootstrap

    sims = sanity_units(explainers, x, y, mode=mode, seed=seed, batch_size=batch_size, cache=cache)
    records = []
    for label, (model, expl, layer) in explainers.items():
        steps = [[], *_steps(model, mode)]
        for step, names in enumerate(steps):
            records.append(
                dict(
                    record_fields(label, model, expl, layer),
                    mode=mode,
                    step=step,
                    n_layers=len(steps) - 1,
                    randomised=names,
                    **{k: bootstrap(sims[label][:, step, i], seed=seed).as_dict() for i, k in enumerate(SIMILARITIES)},
                )
            )
    return records


def example_maps(
    explainers: dict[str, tuple[nn.Module, Any, int | None]],
    x: Tensor,
    y: Tensor,
    *,
    index: int = 0,
    fractions: Sequence[float] = (0.0, 0.5, 1.0),
    seed: int = 0,
) -> tuple[list[str], dict[str, np.ndarray]]:
    """Example maps for the sanity figure: image ``index``'s map by every method after cascading
    randomisation of the given fractions of its model's layers (the same seeds as
    :func:`cascading_randomisation`, so the maps are those its curves measure).

    Returns
    -------
    column titles (``"0% of layers random"``, ...) and ``{method: (len(fractions), H, W)}``.
    """
    xx, yy = x[index : index + 1], y[index : index + 1]
    titles = [f"{f:.0%} of layers random" for f in fractions]
    rows: dict[str, np.ndarray] = {}
    for label, (model, expl, _) in explainers.items():
        names = [n for n, _ in layer_order(model)]
        maps = []
        for f in fractions:
            s = round(f * len(names))
            m = copy.deepcopy(model).eval()
            for k, name in enumerate(names[:s]):  # step s of the cascade randomises names[:s] with these seeds
                randomise(m.get_submodule(name), seed * 1000 + 17 * (s - 1) + k)
            dev = next(m.parameters()).device
            maps.append(rebind(expl, m).attribute(xx.to(dev), yy.to(dev))[0].detach().cpu().numpy())
        rows[label] = np.stack(maps)
    return titles, rows


def rebind(explainer: Any, model: nn.Module, start: int = 0) -> Any:
    """A copy of ``explainer`` (same options) on ``model``, a model of the same architecture: a
    layer method reads the layer of the same name; a seeded method restarts its generator at image
    ``start`` (the first image of the batch it will see)."""
    twin = copy.copy(explainer)
    twin.model = model
    if hasattr(explainer, "_module"):
        name = next(n for n, mod in explainer.model.named_modules() if mod is explainer._module)
        twin._module = model.get_submodule(name)
    if hasattr(twin, "reset"):
        twin.reset(start=start)
    return twin


def data_randomisation(
    explainers: dict[str, tuple[nn.Module, Any, int | None]],
    twins: dict[nn.Module, nn.Module],
    x: Tensor,
    y: Tensor,
    *,
    seed: int = 0,
    batch_size: int | None = None,
    cache: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Adebayo et al.'s data-randomisation test: each method's map on the trained model against
    its map on ``twins[model]``, the same architecture trained on permuted labels (which can only
    memorise). Methods whose model has no twin are left out. One record per method: each
    similarity's mean over images with its 95 % bootstrap interval (near 0: the map depends on
    what the model learned from the labels). ``batch_size`` and ``cache`` as in
    :func:`sanity_experiment` (sharded under ``torchrun``).

    Example
    -------
    >>> import torch, facnn
    >>> a, b = facnn.FACNN(10, depth=2).eval(), facnn.FACNN(10, depth=2).eval()
    >>> ex = {"maps": (a, facnn.make_explainer(a, "intrinsic"), None)}
    >>> data_randomisation(ex, {a: b}, torch.rand(4, 1, 28, 28), torch.arange(4))[0]["method"]
    'maps'
    """
    from facnn.evaluate.stats import bootstrap

    chosen = {label: e for label, e in explainers.items() if twins.get(e[0]) is not None}

    def similarity_of(label: str, model: nn.Module, expl: Any, start: int, xb: Tensor, yb: Tensor) -> np.ndarray:
        twin = twins[model].to(xb.device).eval()
        sims = similarities(rebind(expl, model, start).attribute(xb, yb), rebind(expl, twin, start).attribute(xb, yb))
        return np.stack([sims[k] for k in SIMILARITIES], axis=1)  # (B, 3)

    shape = lambda m: (len(SIMILARITIES),)  # noqa: E731
    from facnn.evaluate.map_cache import weights_digest

    twin_digests = {id(m): weights_digest(twins[m]) for m, _, _ in chosen.values()} if cache else {}

    def kind(m: nn.Module) -> str:  # the twin's weights are part of the key too
        return f"data-randomisation-seed{seed}-twin-{twin_digests.get(id(m), '')}"

    sims = _per_image(chosen, x, y, similarity_of, shape, batch_size, cache, kind)
    return [
        dict(
            record_fields(label, model, expl, layer),
            test="data randomisation",
            **{k: bootstrap(sims[label][:, i], seed=seed).as_dict() for i, k in enumerate(SIMILARITIES)},
        )
        for label, (model, expl, layer) in chosen.items()
    ]


def shuffled_twin_config(
    config: str,
    n_images: int = 256,
    epochs: int = 100,
    *,
    seed: int = 0,
    device: str = "auto",
    data_root: str | None = None,
) -> Any:
    """The :class:`~facnn.train.config.TrainConfig` of a data-randomisation twin: ``config`` trained on
    ``n_images`` training images with permuted labels, long enough to memorise them (no
    augmentation, no weight decay, constant learning rate; measured here: the default FA-CNN
    memorises 256 permuted labels to ≥ 95 % train accuracy in about 85 epochs of batch 64), evaluated on
    1,000 test images once, after the last epoch (after each of 100 epochs they would cost more than the
    training itself). Train it with :func:`facnn.get_or_train`.

    Example
    -------
    >>> cfg = shuffled_twin_config("fashion_mnist_facnn")
    >>> cfg.shuffle_labels, cfg.train_subset, cfg.augment
    (True, 256, False)
    """
    from facnn.train.config import load_config

    return load_config(
        config,
        epochs=epochs,
        train_subset=n_images,
        test_subset=1000,
        test_every=epochs,
        shuffle_labels=True,
        augment=False,
        batch_size=64,
        weight_decay=0.0,
        schedule="constant",
        warmup=0.0,
        seed=seed,
        device=device,
        data_root=data_root,
    )

"""The README's figures: small PNGs under ``figures/front/``, drawn from the committed records on purpose.

``python -m facnn.companion.front`` (re)draws them; nothing else writes there (``make reproduce``
leaves the tree clean). Each PNG carries, in its metadata, where its data came from and the SHA-256
of that data: for a figure drawn from records, the canonical JSON of the committed run(s) it reads;
for the feature-map figure, the data file written beside it (maps of the shipped weights, float32).
``tests/test_front.py`` recomputes the digests from the committed records, so an accepted result
that was not redrawn fails the tests with this command as the fix.

Examples
--------
>>> digest({"b": 1, "a": [1.0, 2.5]}) == digest({"a": [1.0, 2.5], "b": 1})
True
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from facnn.companion.records import committed_runs, run_size
from facnn.core.files import atomic_write
from facnn.core.paths import project_root

__all__ = ["FRONT", "MAX_BYTES", "digest", "front_dir", "png_metadata", "figure_sources", "draw", "main"]

MAX_BYTES = 300_000  # each committed PNG at most this size
FRONT_IMAGES = 4  # test images in the feature-map figure
FRONT_RISE_MASKS = 1000


def front_dir() -> Path:
    """``figures/front/`` of the checkout."""
    return project_root() / "figures" / "front"


def digest(data: Any) -> str:
    """SHA-256 of ``data`` as canonical JSON (sorted keys, no spaces)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _run(experiment: str, **where: Any) -> dict[str, Any]:
    """The largest committed run of ``experiment`` whose parameters match ``where``."""
    runs = [r for r in committed_runs(experiment) if all(r["parameters"].get(k) == v for k, v in where.items())]
    if not runs:
        raise LookupError(f"figures/{experiment}.json has no run with {where}: run its notebook and accept it first")
    return max(runs, key=lambda r: (run_size(r), r["parameters"].get("rise_n") or 0))


def _pixel_removal() -> tuple[Any, dict[str, Any]]:
    from facnn import viz

    run = _run("pixel_removal", model="facnn24", config_prefix="fashion_mnist")
    records = [r for r in run["records"] if r["fill"] == "zero"]
    p = run["parameters"]
    fig = viz.removal_curves(
        records,
        f"Figure 4 at the paper's depth: 24-layer FA-CNN, maps at layers 24 and 18 beside Grad-CAM, RISE "
        f"(N={p['rise_n']}) and K-OCC — accuracy vs % pixels removed (zero fill, {p['n_images']} Fashion-MNIST "
        "test images, 95 % CI)",
    )
    return fig, {"pixel_removal": run["key"]}


def _theorems() -> tuple[Any, dict[str, Any]]:
    from facnn import viz

    run = _run("theorems", model="facnn", n_images=2000)
    rec = run["records"][0]
    fig = viz.layer_estimates(
        {
            "corr(FA-CNN map, Grad-CAM) at the same layer — Theorem 1: exactly 1 at the last layer": rec[
                "gradcam_correlation_ci"
            ],
            "corr(FA-CNN map at layer l, last-layer map) — Theorem 2: the maps morph slowly": rec[
                "final_correlation_ci"
            ],
        },
        f"Theorems 1 and 2 on the shipped 6-layer FA-CNN ({run['parameters']['n_images']} test images, mean and "
        "95 % CI per layer)",
        "correlation",
    )
    fig.data[1].x = list(range(1, 1 + len(rec["final_correlation_ci"])))  # layers 1..L (layer 0 is the input)
    return fig, {"theorems": run["key"]}


def _theorem2_steps() -> tuple[Any, dict[str, Any]]:
    from facnn import viz

    run = _run("theorems", model="facnn24")
    fig = viz.theorem2_steps(
        run["records"][0]["morph"],
        f"Theorem 2 / Lemma 3 on the shipped 24-layer FA-CNN ({run['parameters']['n_images']} test images): every "
        "class-map step stays under its bound",
    )
    return fig, {"theorems": run["key"]}


def _localisation() -> tuple[Any, dict[str, Any]]:
    from facnn import viz

    run = _run("localisation", model="facnn", config_prefix="fashion_mnist")
    p = run["parameters"]
    fig = viz.estimate_bars(
        run["records"],
        "mean",
        f"Grid pointing game (3×3 grids of Fashion-MNIST test images, {p['n_grids']} grids, 95 % CI): "
        "FA-CNN's maps beside CoDA-Net and B-cos contributions and post-hoc methods on each model",
        "mean share of positive attribution in the cell",
        reference=1 / 9,
        reference_label="uniform = 1/9",
    )
    return fig, {"localisation": run["key"]}


def _sanity() -> tuple[Any, dict[str, Any]]:
    from facnn import viz

    # the 6-layer FA-CNN's run: it holds the CoDA-Net's and B-cos's contributions beside FA-CNN's maps
    run = _run("sanity_checks", mode="cascading", config_prefix="fashion_mnist", model="facnn")
    fig = viz.sanity_curves(
        run["records"],
        "spearman_abs",
        "Cascading model randomisation (Adebayo et al.): rank correlation of |map| with the trained model's "
        f"map as layers are randomised from the top ({run['parameters']['n_images']} images, 95 % CI)",
    )
    return fig, {"sanity_checks": run["key"]}


def feature_map_data(n_images: int = FRONT_IMAGES, rise_masks: int = FRONT_RISE_MASKS, seed: int = 0) -> dict[str, Any]:
    """The feature-map figure's data: the first ``n_images`` of notebook 04's test subset and, for the
    predicted class, FA-CNN's maps at every layer, Grad-CAM at the last layer, RISE and K-OCC of the
    shipped 6-layer FA-CNN (float32, base64)."""
    import torch

    import facnn
    from facnn.companion import experiments as ex
    from facnn.explain.catalogue import Method

    net, res = ex.load_model("fashion_mnist", "facnn", "pretrained")
    x, y = ex.test_batch(res["dataset"], n_images, seed, torch.device("cpu"))
    with torch.no_grad():
        prob = torch.softmax(net(x), 1)
    pred = prob.argmax(1)
    rows: dict[str, Any] = {}
    last = int(getattr(net, "num_layers")) - 1  # layers 0 (the aligned input) .. depth
    for layer in ex.shown_layers(last):
        rows[Method("intrinsic", layer=layer).label] = facnn.ClassMaps(net, layer).attribute(x, pred)
    rows[Method("gradcam", layer=last).label] = facnn.GradCAM(net, last).attribute(x, pred)
    rows[Method("rise", centred=True).label] = facnn.RISE(net, rise_masks, seed=seed, center=True).attribute(x, pred)
    rows[Method("occlusion", window=4).label] = facnn.Occlusion(net, 4).attribute(x, pred)
    names = ex.class_names(res["dataset"])

    def enc(t: Any) -> str:  # (n, H, W) float32, base64
        a = t.detach().cpu().float().reshape(n_images, *x.shape[-2:]).numpy()
        return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode()

    return {
        "weights": res["source"],
        "parameters": {"n_images": n_images, "rise_masks": rise_masks, "seed": seed, "occlusion_window": 4},
        "shape": [n_images, *x.shape[-2:]],
        "images": enc(x[:, 0]),
        "columns": [
            f"{names[int(t)]} → {names[int(p)]} ({float(prob[i, p]):.2f})" for i, (t, p) in enumerate(zip(y, pred))
        ],
        "rows": {k: enc(v) for k, v in rows.items()},
        "command": "python -m facnn.companion.front",
    }


def decode_maps(blob: str, shape: Sequence[int]) -> np.ndarray:
    """A base64 float32 blob of :func:`feature_map_data` as an array of ``shape`` ``(n, H, W)``."""
    return np.frombuffer(base64.b64decode(blob), dtype="<f4").reshape(tuple(shape))


def _feature_maps_figure(data: Mapping[str, Any]) -> Any:
    from facnn import viz

    images = decode_maps(data["images"], data["shape"])
    rows = {k: decode_maps(v, data["shape"]) for k, v in data["rows"].items()}
    fig = viz.map_grid(
        images,
        rows,
        "Figures 1 and 5: the shipped 6-layer FA-CNN's maps of the predicted class at every layer (L0: the input) "
        f"beside Grad-CAM, RISE (N={data['parameters']['rise_masks']}) and K-OCC; columns: true → predicted",
        col_titles=data["columns"],
    )
    return fig


def _feature_maps() -> tuple[Any, dict[str, Any]]:
    path = front_dir() / "feature_maps.data.json"
    data = json.loads(path.read_text())
    return _feature_maps_figure(data), {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


# name -> builder returning (figure, where its data came from); record digests are computed from these sources
FRONT: dict[str, Callable[[], tuple[Any, dict[str, Any]]]] = {
    "feature_maps": _feature_maps,
    "pixel_removal": _pixel_removal,
    "theorems": _theorems,
    "theorem2_steps": _theorem2_steps,
    "localisation": _localisation,
    "sanity_checks": _sanity,
}


def _sources_digest(source: Mapping[str, Any]) -> dict[str, str]:
    """Where a figure's data came from and its SHA-256, from a builder's source description."""
    if "file" in source:
        return {"source": source["file"], "sha256": source["sha256"]}
    runs = {exp: next(r for r in committed_runs(exp) if r["key"] == key) for exp, key in source.items()}
    return {"source": " ".join(f"figures/{exp}.json#{key}" for exp, key in source.items()), "sha256": digest(runs)}


def figure_sources(name: str) -> dict[str, str]:
    """What figure ``name`` was drawn from and the SHA-256 of that data, from the committed files now."""
    return _sources_digest(FRONT[name]()[1])


def png_metadata(path: Path) -> dict[str, str]:
    """The ``facnn:`` text entries of a PNG (where its data came from and its digest)."""
    from PIL import Image

    with Image.open(path) as im:
        text: dict[str, str] = getattr(im, "text", {})  # PNG text chunks (PngImageFile only)
        return {k[len("facnn:") :]: v for k, v in text.items() if k.startswith("facnn:")}


def draw(names: Sequence[str] | None = None, width: int = 1100, scale: float = 1.0) -> list[Path]:
    """Draw the front figures (all, or ``names``) as PNGs in ``figures/front/`` with their provenance.

    Needs Chromium (kaleido); a figure over :data:`MAX_BYTES` is an error, not a silent commit.
    """
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    from facnn.viz.figures import fit_title
    from facnn.viz.png_export import export_png

    out = front_dir()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names or list(FRONT):
        fig, source = FRONT[name]()
        fit_title(fig)
        fig.update_layout(width=max(width, int(fig.layout.width or 0)))
        with tempfile.TemporaryDirectory() as tmp:
            spec, raw = Path(tmp) / f"{name}.plotly.json", Path(tmp) / f"{name}.png"
            spec.write_text(fig.to_json())
            error = export_png(spec, raw, scale=scale)
            if error:
                raise RuntimeError(f"could not draw {name}: {error} (install Chromium: make browser)")
            info = PngInfo()
            for k, v in _sources_digest(source).items():
                info.add_text(f"facnn:{k}", v)
            info.add_text("facnn:command", "python -m facnn.companion.front")
            target = out / f"{name}.png"
            with Image.open(raw) as im:
                atomic_write(target, lambda t, im=im: im.save(t, format="PNG", pnginfo=info, optimize=True))
        size = target.stat().st_size
        if size > MAX_BYTES:
            raise RuntimeError(f"{target} is {size:,} bytes, over {MAX_BYTES:,}: draw it smaller (--width, --scale)")
        written.append(target)
        print(f"{target.relative_to(project_root())}: {size / 1e3:.0f} KB")
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m facnn.companion.front [--maps] [NAME ...]``: draw the README's figures."""
    parser = argparse.ArgumentParser(prog="python -m facnn.companion.front", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"figures to draw (default: all of {', '.join(FRONT)})")
    parser.add_argument("--maps", action="store_true", help="recompute feature_maps.data.json from the weights first")
    parser.add_argument("--width", type=int, default=1100, help="figure width in CSS pixels (default 1100)")
    parser.add_argument("--scale", type=float, default=1.0, help="PNG pixels per CSS pixel (default 1)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(FRONT))
    if unknown:
        parser.error(f"no front figure named {', '.join(unknown)}: choose from {', '.join(FRONT)}")
    data_file = front_dir() / "feature_maps.data.json"
    if args.maps or not data_file.exists():
        data_file.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(feature_map_data(), indent=1) + "\n"
        atomic_write(data_file, lambda t: t.write_text(text))
    draw(args.names or None, width=args.width, scale=args.scale)
    return 0


if __name__ == "__main__":
    sys.exit(main())

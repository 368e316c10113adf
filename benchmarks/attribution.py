"""What each explanation costs, as a ratio to one plain forward pass of the same model and batch.

    python -m benchmarks.attribution                 # CPU defaults, a few minutes
    python -m benchmarks.attribution --device cuda --batch 64 --rise-n 4000
    python -m benchmarks.attribution --config-prefix imagenet100 --model facnn24 --batch 2 --rise-n 40 --occlusion-k 32

Each method is timed in turns with the plain forward it is compared with (forward, method, forward,
method, …) and reported as the median of the per-repeat ratios (``ratio_paired_median``), so a
machine's drift during the run cancels; min and median seconds too. Methods: FA-CNN class maps of all
classes at all layers; Grad-CAM (ours, captum LayerGradCam, pytorch-grad-cam); RISE with N masks
and, separately, its N masked forwards alone; k×k occlusion (ours and captum Occlusion, checked
identical); CoDA-Net and B-cos forwards and contributions. Writes benchmarks/results/attribution-<machine>.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from facnn import FACNN, RISE, BcosNet, CoDANet, Contributions, GradCAM, Occlusion, all_class_maps
from facnn.core.modes import eval_mode
from facnn.train import load_config
from facnn.train.config import config_names

from .common import RESULTS, interleaved, paired_ratio, summary, timed, write

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--image-size", type=int, default=0, help="default: the config's (28 for Fashion-MNIST)")
    p.add_argument("--config-prefix", default="fashion_mnist", help="the FA-CNN of <prefix>_<model> (and its peers)")
    p.add_argument("--model", default="facnn", help="facnn or facnn24")
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rise-n", type=int, default=4000)
    p.add_argument("--rise-repeats", type=int, default=2)
    p.add_argument("--occlusion-k", type=int, default=4)
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    a = p.parse_args(argv)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    fa_cfg = load_config(f"{a.config_prefix}_{a.model}")
    channels = 1 if fa_cfg.dataset in ("fashion-mnist", "mnist", "digits") else 3
    classes = int(fa_cfg.model_config.get("num_classes", 10))
    a.image_size = a.image_size or (
        fa_cfg.image_size if fa_cfg.dataset == "imagefolder" else 32 if channels == 3 else 28
    )
    cfg = {k: v for k, v in fa_cfg.model_config.items() if k != "num_classes"}
    model = FACNN(classes, **{"in_channels": channels, **cfg}).to(dev).eval()
    peers = {
        n: load_config(f"{a.config_prefix}_{n}") for n in ("coda", "bcos") if f"{a.config_prefix}_{n}" in config_names()
    }
    x = torch.rand(a.batch, channels, a.image_size, a.image_size, device=dev)
    t = torch.arange(a.batch, device=dev) % classes
    R, records = a.repeats, []

    def forward():
        with torch.no_grad():
            model(x)

    ref = timed(forward, R, dev)

    def against(fn, base_fn=forward, repeats: int = R) -> tuple[list[float], list[float]]:
        """``fn``'s times and its reference forward's, timed in turns."""
        got = interleaved({"method": fn, "base": base_fn}, repeats, dev)
        return got["method"], got["base"]

    def add(method: str, times: list[float], base: list[float] = ref, **extra) -> None:
        rec = dict(
            method=method, batch=a.batch, image_size=a.image_size, device=str(dev), **summary(times, base), **extra
        )
        records.append(rec)
        print(
            f"{method:45s} ratio (paired median) {rec.get('ratio_paired_median', rec['ratio_median']):8.2f}  "
            f"min {rec['ratio_min']:8.2f}   "
            f"({rec['seconds_median'] * 1e3:9.2f} ms)",
            flush=True,
        )

    add("forward (FA-CNN)", ref)
    add(
        "FA-CNN maps, all classes and layers (layer res.)",
        *against(lambda: all_class_maps(model, x, upsample=False)),
    )
    add("FA-CNN maps, all classes and layers (upsampled)", *against(lambda: all_class_maps(model, x)))

    ours_gc = GradCAM(model, -1)
    add("Grad-CAM (ours)", *against(lambda: ours_gc.attribute(x, t)))
    from captum.attr import LayerAttribution, LayerGradCam

    cap_gc = LayerGradCam(model, model.layers[-1])
    add(
        "Grad-CAM (captum LayerGradCam + upsample)",
        *against(
            lambda: LayerAttribution.interpolate(
                cap_gc.attribute(x, target=t, relu_attributions=True), x.shape[-2:], "bilinear"
            )
        ),
    )
    from pytorch_grad_cam import GradCAM as PGC
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    pgc = PGC(model=model, target_layers=[model.layers[-1]])
    targets = [ClassifierOutputTarget(int(c)) for c in t]
    add("Grad-CAM (pytorch-grad-cam)", *against(lambda: pgc(input_tensor=x, targets=targets)))

    rise = RISE(model, a.rise_n, 7)  # masked images per forward: 500, fewer at large sizes (forward_batch)
    add(f"RISE N={a.rise_n}", *against(lambda: rise.attribute(x, t), repeats=a.rise_repeats))
    step = rise.forward_batch((a.image_size, a.image_size))
    masks = rise.masks(x.shape[-2:], 0, min(step, a.rise_n), dev)

    def rise_forwards_alone():  # the N masked forwards per image, as RISE batches them, nothing else (masks reused)
        with torch.no_grad():
            for i in range(a.batch):
                for s in range(0, a.rise_n, step):
                    model(x[i : i + 1] * masks[: min(step, a.rise_n - s)])

    fw, fw_base = against(rise_forwards_alone, repeats=a.rise_repeats)
    add(f"RISE N={a.rise_n}: its forwards alone", fw, fw_base)
    records[-2]["ratio_to_its_forwards_min"] = records[-2]["seconds_min"] / min(fw)
    records[-2]["ratio_to_its_forwards_median"] = records[-2]["seconds_median"] / sorted(fw)[len(fw) // 2]

    k = a.occlusion_k
    occ = Occlusion(model, k, k // 2)
    from captum.attr import Occlusion as COcc

    cap_occ = COcc(model)

    c = x.shape[1]  # ours occludes every channel at once: captum's window spans them all

    def run_cap():
        return cap_occ.attribute(
            x, sliding_window_shapes=(c, k, k), strides=(c, k // 2, k // 2), target=t, baselines=0.0
        )

    with eval_mode(model):
        same = torch.allclose(occ.attribute(x, t), run_cap()[:, 0], rtol=1e-4, atol=1e-5)
    turns = interleaved({"base": forward, "ours": lambda: occ.attribute(x, t), "captum": run_cap}, R, dev)
    ours_occ, captum_occ = turns["ours"], turns["captum"]
    add(f"occlusion k={k} stride {k // 2} (ours)", ours_occ, turns["base"], identical_to_captum=same)
    add(f"occlusion k={k} stride {k // 2} (captum)", captum_occ, turns["base"])
    records[-2]["speedup_vs_captum_min"] = min(captum_occ) / min(ours_occ)
    records[-2]["speedup_vs_captum_median"] = paired_ratio(captum_occ, ours_occ)  # timed in turns

    nets = []
    if "coda" in peers:
        nets.append((CoDANet(classes, **{"in_channels": channels, **peers["coda"].model_config}), "CoDA-Net", "CoDA"))
    if "bcos" in peers:
        nets.append((BcosNet(classes, **{"in_channels": channels, **peers["bcos"].model_config}), "B-cos", "B-cos"))
    for net, name, short in nets:  # each against its own forward
        net = net.to(dev).eval()

        def net_forward(net=net):
            with torch.no_grad():
                net(x)

        contrib = Contributions(net)
        times, base = against(lambda c=contrib: c.attribute(x, t), net_forward)
        add(f"forward ({name})", base, base)
        add(f"{name} contributions (vs {short} forward)", times, base)

    speedup = next(r for r in records if "speedup_vs_captum_median" in r)["speedup_vs_captum_median"]
    print(
        f"\nbatch {a.batch}, {a.image_size}×{a.image_size}, device {dev}, threads {torch.get_num_threads()}; "
        f"occlusion identical to captum: {same}; ours {speedup:.2f}× faster (median)"
    )
    if not a.no_write:
        name = "attribution" if a.config_prefix == "fashion_mnist" else f"attribution-{a.config_prefix}-{a.model}"
        print("wrote", write(name, dev, records, {k: str(v) for k, v in vars(a).items()}, a.out_dir))
    return records


if __name__ == "__main__":
    main()

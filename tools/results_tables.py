"""Print the README's result tables (markdown) from figures/*.json and benchmarks/results/*.json.

    python tools/results_tables.py
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIG, BENCH = ROOT / "figures", ROOT / "benchmarks" / "results"


def load(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def accuracy() -> None:
    print("| model | train images | epochs | seed | test accuracy | params | wall time | device | command |\n|---|---|---|---|---|---|---|---|---|")
    for r in load(FIG / "accuracy.json") or []:
        n = r["train_subset"] or 60000
        print(f"| {r['model']} | {n:,} | {r['epochs']} | {r['seed']} | {r['test_accuracy']:.4f} | {r['params']:,} | {r['wall_time']:.0f} s "
              f"| {r['device']} | `{r['command']}` |")
    for r in load(FIG / "ablation.json") or []:
        # ablation runs shared the machine with other work and were paused: their wall time is not a measurement
        print(f"| {r['variant']} | 60,000 | {r['epochs']} | {r['config']['seed']} | {r['test_accuracy']:.4f} | {r['params']:,} | (shared machine) "
              f"| cpu | `{r['command']}` |")
    abl = load(FIG / "ablation.json") or []
    if abl:
        print("\nAlignment properties measured on each trained model (64 test images):\n")
        print("| variant | epochs | seed | what changes | Theorem-1 error | morph equality error | max class-map step / bound |\n|---|---|---|---|---|---|---|")
        for r in abl:
            def fmt(v):
                return "n/a (no aligned maps)" if v is None else f"{v:.1e}" if v < 0.01 else f"{v:.4f}"
            print(f"| {r['variant']} | {r['epochs']} | {r['config']['seed']} | {r.get('change', '')} | {fmt(r['theorem1_error'])} | {fmt(r['morph_equality_error'])} "
                  f"| {fmt(r['class_ratio_max'])} |")


def pixel_removal() -> None:
    recs = load(FIG / "pixel_removal.json") or []
    print("| method | MoRF AUC (lower is better) | LeRF AUC (higher is better) |\n|---|---|---|")
    for m in dict.fromkeys(r["method"] for r in recs):
        auc = {r["order"]: r["auc"] for r in recs if r["method"] == m}
        print(f"| {m} | {auc.get('morf', float('nan')):.3f} | {auc.get('lerf', float('nan')):.3f} |")
    if recs:
        s = recs[0]["settings"]
        print(f"\n{s['n_images']} test images, maps of the {s['class_used']} class, fill {s['fill']}, RISE N={s['rise_n']}, "
              f"occlusion k={s['occlusion_k']}, layers {s['layers']}. Command: `{recs[0]['command']}`")


def localisation() -> None:
    recs = load(FIG / "localisation.json") or []
    print("| method | mean | median | grids | note |\n|---|---|---|---|---|")
    for r in recs:
        note = f"T={r['temperature']:g}, acc {r['test_accuracy']:.3f}" if "temperature" in r else ""
        print(f"| {r['method']} | {r['mean']:.3f} | {r['median']:.3f} | {r['n_grids']} | {note} |")
    if recs:
        print(f"\nCommand: `{recs[0]['command']}`")


def costs() -> None:
    for path in sorted(BENCH.glob("attribution-*.json")):
        d = load(path)
        m = d["meta"]
        print(f"\n`{path.relative_to(ROOT)}` ({m['device_name']}, torch {m['torch']}):\n")
        print("| method | ratio to forward (min) | (median) | batch | image |\n|---|---|---|---|---|")
        for r in d["records"]:
            extra = ""
            if "ratio_to_its_forwards_median" in r:
                extra = f" — {r['ratio_to_its_forwards_median']:.2f}× its N forwards"
            if "speedup_vs_captum_median" in r:
                extra = f" — {r['speedup_vs_captum_median']:.2f}× faster than captum, identical: {r['identical_to_captum']}"
            print(f"| {r['method']}{extra} | {r['ratio_min']:.2f} | {r['ratio_median']:.2f} | {r['batch']} | {r['image_size']} |")
    for path in sorted(BENCH.glob("training-*.json")):
        d = load(path)
        print(f"\n`{path.relative_to(ROOT)}`:\n")
        print("| step | ms (median) | ratio to ResNet | params | forward MFLOP/image |\n|---|---|---|---|---|")
        for r in d["records"]:
            print(f"| {r['method']} | {r['seconds_median'] * 1e3:.0f} | {r['ratio_median']:.2f} | {r['params']:,} | "
                  f"{r['forward_flops_per_image'] / 1e6:.0f} |")


if __name__ == "__main__":
    for title, fn in [("Accuracy", accuracy), ("Pixel removal", pixel_removal), ("Localisation", localisation), ("Costs", costs)]:
        print(f"\n### {title}\n")
        fn()

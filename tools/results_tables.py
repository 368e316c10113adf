"""Print the result tables (markdown) of README.md and RESULTS.md from figures/*.json, the
shipped-weights manifest and benchmarks/results/*.json.

    python tools/results_tables.py [claims verdicts shipped theorems accuracy pixel localisation costs]
    python tools/results_tables.py --readme     # rewrite the generated blocks of README.md and RESULTS.md
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from facnn.companion.records import committed_runs, run_size
from facnn.evaluate.stats import fmt_ci as _ci
from facnn.explain.catalogue import MODEL_NAMES

ROOT = Path(__file__).resolve().parent.parent

FIG, BENCH = ROOT / "figures", ROOT / "benchmarks" / "results"


def load(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def _runs(name: str) -> list[dict]:
    """The committed runs of ``name``, largest first."""
    return sorted(committed_runs(name), key=lambda r: -run_size(r))


def _duration(run: dict) -> str:
    """ "N min on MACHINE" from the record's wall time, "" where it has none."""
    if run.get("wall_s") is None:
        return ""
    return f"{run['wall_s'] / 60:.1f} min on {run.get('machine', 'this machine')}"


def _took(run: dict) -> str:
    """ " (took N min on MACHINE)" where the record has its wall time."""
    took = _duration(run)
    return f" (took {took})" if took else ""


def _comparisons(run: dict) -> None:
    if run.get("comparisons"):
        print("\n| comparison | difference [95% CI] | verdict |\n|---|---|---|")
        for c in run["comparisons"]:
            ref, other = c["reference"].replace("|", " "), c["other"].replace("|", " ")
            print(
                f"| {ref} − {other}{'' if c['paired'] else ' (unpaired)'} | {_ci(c['difference'])} | {c['verdict']} |"
            )


def shipped() -> None:
    from facnn.evaluate import wilson
    from facnn.models.pretrained import manifest

    print(
        "| name | for | test accuracy [95% CI] | epochs | params | size | wall time | retrain with "
        "|\n|---|---|---|---|---|---|---|---|"
    )
    for name, r in sorted(manifest().items(), key=lambda kv: (kv[1].get("purpose", "headline") != "headline", kv[0])):
        purpose = r.get("purpose", "headline")
        print(
            f"| `{name}` | {'tables and figures' if purpose == 'headline' else purpose} | "
            f"{_ci(wilson(r['test_accuracy'], r['test_images']), 4)} | {r['epochs']} | {r['params']:,} | "
            f"{r['bytes'] / 2**20:.1f} MB | {r['wall_time_s'] / 60:.0f} min ({r['threads']} "
            f"thread{'s' * (r['threads'] > 1)}, {r['device']}) | `{r['command'].split(' && ')[0]}` |"
        )


def table1() -> None:
    """Table 1 from the shipped headline weights: each model's test accuracy and its difference from
    the ResNet, paired over the 10,000 test images."""
    from facnn.companion.claims import paired_accuracy
    from facnn.companion.experiments import shipped_accuracies

    rows = shipped_accuracies()
    print(
        "| model | test accuracy [95% CI] | − ResNet, paired [95% CI] | verdict | epochs | params | MFLOPs/image |\n"
        "|---|---|---|---|---|---|---|"
    )
    for r in rows:
        base = f"{r['name'].split('/')[0]}/resnet"
        diff = paired_accuracy(r["name"], base) if r["name"] != base else None
        d, verdict = (f"{_ci(diff[0], 4)}", diff[1]) if diff else ("", "baseline" if r["name"] == base else "")
        print(
            f"| `{r['name']}` | {_ci(r['test_accuracy'], 4)} | {d} | {verdict} | {r['epochs']} | {r['params']:,} | "
            f"{r['flops'] / 1e6:.0f} |"
        )
    print()


def accuracy() -> None:
    from facnn.evaluate import wilson

    for run in _runs("accuracy"):
        print(
            "| model | train images | epochs | seed | test accuracy [95% CI] | params | wall time | threads "
            "|\n|---|---|---|---|---|---|---|---|"
        )
        for r in run["records"]:
            n = r["train_subset"] or 60000
            print(
                f"| {r['model']} | {n:,} | {r['epochs']} | {r['seed']} | {_ci(r['test_accuracy'], 4)} | "
                f"{r['params']:,} | "
                f"{r['wall_time']:.0f} s | {r['threads']} |"
            )
        print(f"\nCommand: `{run['command']}`\n")
    abl = load(FIG / "ablation.json") or []
    print(
        "| variant | train images | epochs | seed | test accuracy [95% CI] | params | MFLOPs/image | command |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    for r in abl:
        flops = f"{r['forward_flops'] / 1e6:.0f}" if r.get("forward_flops") else ""
        print(
            f"| {r['variant']} | {r['config'].get('train_subset') or 60000:,} | {r['epochs']} | "
            f"{r['config']['seed']} | "
            f"{_ci(wilson(r['test_accuracy'], 10000), 4)} | {r['params']:,} | {flops} | `{r['command']}` |"
        )


def theorems() -> None:
    for run in _runs("theorems"):
        r = run["records"][0]
        print(
            f"- {run['weights']}, {run['parameters']['n_images']} test images: Theorem-1 error "
            f"{r['theorem1_error']:.1e}; "
            f"random models ({run['parameters']['n_random_models']}): max Theorem-1 error "
            f"{r['worst_random']['theorem1_error']:.1e}, "
            f"max morph-equality error {r['worst_random']['morph_equality_error']:.1e}."
        )
        print("  corr(map, Grad-CAM) per layer: " + ", ".join(_ci(e) for e in r["gradcam_correlation_ci"]))
        print("  corr(map, penultimate map) per layer 1..L: " + ", ".join(_ci(e) for e in r["final_correlation_ci"]))
        print(f"  Command: `{run['command']}`")


def pixel_removal() -> None:
    from facnn.viz import ranking_summary

    for run in _runs("pixel_removal"):
        p = run["parameters"]
        fills = p.get("fills") or [p.get("fill", "zero")]
        settings = (
            [f"{p['n_images']} test images"]
            + [f"RISE N={p['rise_n']}"] * ("rise" in p["methods"])
            + [f"occlusion k={p['occlusion_k']}"] * ("occlusion" in p["methods"])
        )
        print(f"\n**{', '.join(settings)}, fill {' and '.join(fills)}, maps of the true class** ({run['weights']})\n")
        heads = " | ".join(
            f"{o} AUC{f' ({f})' if len(fills) > 1 else ''} [95% CI]" for f in fills for o in ("MoRF", "LeRF")
        )
        print(f"| method | {heads} |\n|---|{'---|' * 2 * len(fills)}")
        for m in dict.fromkeys(r["method"] for r in run["records"]):
            auc = {(r.get("fill", "zero"), r["order"]): r["auc"] for r in run["records"] if r["method"] == m}
            print(f"| {m} | " + " | ".join(_ci(auc[f, o]) for f in fills for o in ("morf", "lerf")) + " |")
        print("\n(MoRF: lower is better; LeRF: higher is better.)")
        _comparisons(run)
        if len(fills) > 1:  # one line per swap, as a list
            print("\n- " + ranking_summary(run.get("ranking_changes", []), fills, run["records"]).replace("\n", "\n- "))
        print(f"\nCommand: `{run['command']}`{_took(run)}")


def localisation() -> None:
    for run in _runs("localisation"):
        p = run["parameters"]
        print(f"\n**{p['grid']}×{p['grid']} grids, {p['n_grids']} per model** ({run['weights']})\n")
        print("| method | mean [95% CI] | median | grids | note |\n|---|---|---|---|---|")
        for r in run["records"]:
            note = f"T={r['temperature']:g}, accuracy {r['test_accuracy']:.3f}" if r.get("temperature") else ""
            print(f"| {r['method']} | {_ci(r['mean'])} | {r['median']:.3f} | {r['n_grids']} | {note} |")
        _comparisons(run)
        print(f"\nCommand: `{run['command']}`{_took(run)}")


def sanity() -> None:
    """Each run's cascading table, then the data-randomisation table of the same run, if it has one."""
    data_runs = {run["key"]: run for run in committed_runs("sanity_checks_data")}
    for run in _runs("sanity_checks"):
        p = run["parameters"]
        final = {r["method"]: r for r in run["records"] if r["step"] == r["n_layers"]}
        print(
            f"\n**{p['mode'].capitalize()} model randomisation, {p['n_images']} test images, every layer randomised** "
            f"({run['weights']}): similarity to the trained model's map (near 0: the map depends on the weights)\n"
        )
        _similarity_table(final.values())
        print(f"\nCommand: `{run['command']}`{_took(run)}")
        data = data_runs.get(run["key"])
        if data is None:
            continue
        twins = data.get("twins") or {p["model"]: data["twin"]}  # records before the peers had twins
        n = next(iter(twins.values()))["config"]["train_subset"]
        names = {k: MODEL_NAMES["facnn"] if k == p["model"] else MODEL_NAMES.get(k, k) for k in twins}  # 6 or 24 layers
        accuracies = ", ".join(
            f"{names[k]} {t['train_accuracy']:.2f} / {t['test_accuracy']:.2f}" for k, t in twins.items()
        )
        print(
            f"\n**Data randomisation, the same run** ({data['weights']}): each model against its twin, the same "
            f"architecture trained on {n} permuted labels (train / test accuracy: {accuracies}), "
            f"{data['parameters']['n_images']} test images\n"
        )
        _similarity_table(data["records"])
        took = _duration(data)
        if took:
            print(f"\nBoth tests of this run together took {took}.")


def _similarity_table(records) -> None:
    print("| method | Spearman \\|map\\| [95% CI] | Spearman signed [95% CI] | SSIM [95% CI] |\n|---|---|---|---|")
    for r in records:
        print(f"| {r['method']} | {_ci(r['spearman_abs'])} | {_ci(r['spearman'])} | {_ci(r['ssim'])} |")


def claims() -> None:
    from facnn.companion.claims import claims_markdown

    print(claims_markdown())


def verdicts() -> None:
    """The claims table's verdicts only, for the front page's first screen."""
    from facnn.companion.claims import claims as claim_rows

    print("| paper | claim | verdict |\n|---|---|---|")
    for r in claim_rows():
        print(f"| {r['paper']} | {r['claim']} | **{r['verdict']}** |")


def costs() -> None:
    for path in sorted(BENCH.glob("attribution-*.json")):
        d = load(path)
        m = d["meta"]
        print(f"\n`{path.relative_to(ROOT)}` ({m['device_name']}, torch {m['torch']}):\n")
        print(
            "| method | ratio to forward (median of paired rounds) | (ratio of minima) | batch | image |\n"
            "|---|---|---|---|---|"
        )
        for r in d["records"]:
            extra = ""
            if "ratio_to_its_forwards_median" in r:
                extra = f" — {r['ratio_to_its_forwards_median']:.2f}× its N forwards"
            if "speedup_vs_captum_median" in r:
                extra = (
                    f" — {r['speedup_vs_captum_median']:.2f}× faster than captum, identical: {r['identical_to_captum']}"
                )
            print(
                f"| {r['method']}{extra} | {r.get('ratio_paired_median', r['ratio_median']):.2f} | "
                f"{r['ratio_min']:.2f} | {r['batch']} | "
                f"{r['image_size']} |"
            )
    for path in sorted(BENCH.glob("training-*.json")):
        d = load(path)
        m = d["meta"]
        memory = any("peak_memory_gib" in r for r in d["records"])  # measured on CUDA only
        batch = d["records"][0]["batch"]
        print(f"\n`{path.relative_to(ROOT)}` ({m['device_name']}, torch {m['torch']}, batch {batch}):\n")
        print(
            "| step | ms (median) | ratio to ResNet (median of paired rounds) | params | forward MFLOP/image |"
            + (" peak memory (GiB) |" if memory else "")
            + "\n|---|---|---|---|---|"
            + ("---|" if memory else "")
        )
        for r in d["records"]:
            print(
                f"| {r['method']} | {r['seconds_median'] * 1e3:.{1 if r['seconds_median'] < 0.1 else 0}f} | "
                f"{r.get('ratio_paired_median', r['ratio_median']):.2f} | "
                f"{r['params']:,} | "
                f"{r['forward_flops_per_image'] / 1e6:.0f} |" + (f" {r['peak_memory_gib']:.2f} |" if memory else "")
            )
    _measured("pipeline", "224², ImageNet's training transforms", _pipeline_row)
    _measured("sharding", "notebook 03's experiment, one thread a process", _sharding_row)


def _measured(kind: str, what: str, row: Callable[[dict], tuple[str, str]]) -> None:
    """A ``| measured | value |`` table for each ``benchmarks/results/<kind>-*.json``."""
    for path in sorted(BENCH.glob(f"{kind}-*.json")):
        print(f"\n`{path.relative_to(ROOT)}` ({what}):\n")
        print("| measured | value |\n|---|---|")
        for r in load(path)["records"]:
            print("| {} | {} |".format(*row(r)))


def _pipeline_row(r: dict) -> tuple[str, str]:
    if "images_per_s" in r:
        return r["method"], f"{r['images_per_s']:.0f} images/s ({r['per_worker']:.0f} per worker)"
    if "seconds_median" in r:
        classes = f", {r['classes']} classes" if "classes" in r else ""
        return f"{r['method']} (batch {r['batch']}, {r['model']}{classes})", f"{r['seconds_median'] * 1e3:.0f} ms"
    return r["method"], f"{r['value']:.3f} (target ≥ 0.9)"


def _sharding_row(r: dict) -> tuple[str, str]:
    if "value" in r:
        return r["method"], f"{r['value']:.2f}× (target ≤ 1.1×)"
    ratio = f"; {r['ratio_paired_median']:.3f}× one process" if "ratio_paired_median" in r else ""
    return r["method"], f"{r['seconds_median']:.1f} s{ratio}"


def render_blocks(text: str) -> str:
    """``text`` with every ``<!-- results:NAME -->`` … ``<!-- /results -->`` block regenerated from the records."""
    import contextlib
    import io
    import re

    fns = {
        "claims": claims,
        "verdicts": verdicts,
        "shipped": shipped,
        "theorems": theorems,
        "table1": table1,
        "accuracy": accuracy,
        "pixel": pixel_removal,
        "localisation": localisation,
        "sanity": sanity,
        "costs": costs,
    }

    def block(m: re.Match) -> str:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            fns[m.group(1)]()
        return f"<!-- results:{m.group(1)} -->\n{buf.getvalue().strip()}\n<!-- /results -->"

    return re.sub(r"<!-- results:(\w+) -->.*?<!-- /results -->", block, text, flags=re.S)


def update_readme() -> None:
    """Rewrite the generated blocks of README.md and RESULTS.md from the records."""
    for page in (ROOT / "README.md", ROOT / "RESULTS.md"):
        page.write_text(render_blocks(page.read_text()))


if __name__ == "__main__" and sys.argv[1:] == ["--readme"]:
    update_readme()
elif __name__ == "__main__":
    sections = [
        ("Claims", claims),
        ("Shipped weights", shipped),
        ("Theorems", theorems),
        ("Table 1", table1),
        ("Accuracy", accuracy),
        ("Pixel removal", pixel_removal),
        ("Localisation", localisation),
        ("Sanity checks", sanity),
        ("Costs", costs),
    ]
    only = sys.argv[1:]
    for title, fn in sections:
        if only and title.lower().split()[0] not in only:
            continue
        print(f"\n### {title}\n")
        fn()

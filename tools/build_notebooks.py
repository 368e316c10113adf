"""Write notebooks/*.ipynb from the cell sources below (edit here, then run this script).

Cells whose source starts with "# CHECK" keep an expected output that ``pytest --nbval`` compares;
every other code cell is stored without outputs or execution count (nbval runs it but does not
compare it).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NB = Path(__file__).resolve().parent.parent / "notebooks"


def code(src: str, expect: str | None = None):
    c = new_code_cell(src.strip())
    if expect is not None:
        c.execution_count = 1
        c.outputs = [nbformat.v4.new_output("stream", name="stdout", text=expect)]
    return c


def params(src: str):
    c = new_code_cell(src.strip())
    c.metadata["tags"] = ["parameters"]
    return c


def write(name: str, title: str, cells: list) -> None:
    nb = new_notebook(cells=[new_markdown_cell(title.strip()), *cells])
    for i, cell in enumerate(nb.cells):  # stable ids: rebuilding leaves unchanged notebooks unchanged
        cell.id = f"{Path(name).stem[:2]}-{i:02d}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, NB / name)


COMMON = '''
import json
import facnn
from facnn import experiments as ex, viz
'''

write("01_theorems.ipynb", """
# Theorems 1 and 2 as checks

**Theorem 1.** Grad-CAM of class *c* at the head's input equals `(s/hw) · ReLU(M_c)`, the ReLU of the
mean of the class's *R* penultimate maps (up to a positive constant).
**Theorem 2 / Lemma 3.** Each layer moves the maps by exactly `λ_l‖f_l‖`; each class map by at most
`(λ_l/√R)‖f_l[c]‖`; pooling commutes with class maps and does not expand.
Statements and proof sketches: `facnn/theory.py`. Checked here on random models of random shape
and on a quickly trained FA-CNN; `tests/test_theory.py` checks the same with hypothesis.
""", [
    params('''
n_random_models: int = 30  # random FA-CNNs of random shape checked against Theorems 1 and 2
seed: int = 0  # seed for random models, the test subset and training
dataset: str = "fashion-mnist"  # dataset of the quickly trained model
config: str = "fashion_mnist_facnn"  # facnn/configs/<config>.json: FA-CNN architecture and optimiser
epochs: int = 2  # training epochs of the quick model
train_subset: int = 10000  # training images used (0: the whole training split)
n_images: int = 256  # test images for the checks on the trained model
device: str = "auto"  # "cpu", "cuda" or "auto"
'''),
    code(COMMON + '''
sweep = ex.random_theorem_sweep(n_random_models, seed)
worst = {k: max(r[k] for r in sweep) for k in
         ("theorem1_error", "head_error", "morph_equality_error", "class_ratio_max", "pool_commute_error")}
worst
'''),
    code('''
# CHECK: what the theorems promise, on every random model
t1 = worst["theorem1_error"] <= 1e-5
t2 = worst["morph_equality_error"] <= 1e-5 and worst["class_ratio_max"] <= 1 + 1e-5 and worst["pool_commute_error"] <= 1e-5
assert t1 and t2 and worst["head_error"] <= 1e-5, worst
print("Theorem 1 holds on all random models (max rel. error <= 1e-5):", t1)
print("Theorem 2 / Lemma 3 hold on every layer of every random model:", t2)
''', "Theorem 1 holds on all random models (max rel. error <= 1e-5): True\nTheorem 2 / Lemma 3 hold on every layer of every random model: True\n"),
    code('''
cfg = ex.load_config(config, dataset=dataset, epochs=epochs, train_subset=train_subset or None, seed=seed, device=device)
model, results = facnn.get_or_train(cfg)
x, y = ex.test_batch(dataset, n_images, seed, device=next(model.parameters()).device)
report = ex.theorem_report(model, x, y)
print(f"test accuracy {results['test_accuracy']:.4f} after {results['epochs']} epochs; "
      f"Theorem-1 error {report['theorem1_error']:.2e}; Grad-CAM correlation per layer "
      + " ".join(f"{c:.3f}" for c in report["gradcam_correlation"]))
'''),
    code('''
# CHECK: the same on the trained model
ok1 = report["theorem1_error"] <= 1e-5 and report["gradcam_correlation"][-1] >= 1 - 1e-5
ok2 = all(abs(r["step"] - r["bound"]) <= 1e-5 * r["bound"] + 1e-6 and r["class_ratio"] <= 1 + 1e-5 for r in report["morph"])
assert ok1 and ok2, report
print("trained model: Theorem 1 holds and Grad-CAM correlates 1.0 at the penultimate layer:", ok1)
print("trained model: Theorem 2 / Lemma 3 hold on every layer:", ok2)
''', "trained model: Theorem 1 holds and Grad-CAM correlates 1.0 at the penultimate layer: True\ntrained model: Theorem 2 / Lemma 3 hold on every layer: True\n"),
    code('''
fig1 = viz.line_figure({"random models": (list(range(len(sweep))), [max(r["theorem1_error"], 1e-12) for r in sweep]),
                        "trained model": ([len(sweep)], [max(report["theorem1_error"], 1e-12)])},
                       "Theorem 1: max relative error of Grad-CAM vs (s/hw)·ReLU(class map)", "model", "error", log_y=True)
morph = report["morph"]
layers = [r["layer"] for r in morph]
fig2 = viz.line_figure({"relative step ‖A_l+1 − P(A_l)‖/‖P(A_l)‖": (layers, [r["relative_step"] for r in morph]),
                        "corr(class map at layer, penultimate class map)": (layers, [r["corr_to_final"] for r in morph])},
                       "Theorem 2: the maps morph slowly toward the penultimate class map", "layer", "value")
corr = report["gradcam_correlation"]
fig3 = viz.line_figure({"Pearson(FA-CNN class map, Grad-CAM) at the same layer": (list(range(len(corr))), corr)},
                       "Grad-CAM vs averaged raw maps per layer (1.0 at the penultimate layer)", "layer", "correlation")
for f, name in ((fig1, "theorem1_residuals"), (fig2, "theorem2_morph"), (fig3, "gradcam_correlation_per_layer")):
    viz.save_figure(f, name)
fig2
'''),
    code('''
ex.write_records("theorems", [dict(model="facnn", dataset=dataset, n_random_models=n_random_models, worst_random=worst,
                                   trained_test_accuracy=results["test_accuracy"], **report)],
                 key=("model", "dataset"), seed=seed, train_config=results["config"],
                 command=ex.papermill_command("01_theorems.ipynb", dict(n_random_models=n_random_models, seed=seed,
                          dataset=dataset, config=config, epochs=epochs, train_subset=train_subset, n_images=n_images)))
'''),
])

write("02_training.ipynb", """
# Training FA-CNN, the ResNet baseline and CoDA-Net (Table 1)

Trains each model from `facnn/configs/<config_prefix>_<model>.json` (or loads it from the checkpoint
cache `data/checkpoints/`), plots the training curves and writes the accuracy table to
`figures/accuracy.json`. CPU defaults use a 10k-image subset and 2 epochs; the full-scale table
comes from `-p train_subset 0 -p epochs 10` (or more on a GPU: see the README).
""", [
    params('''
config_prefix: str = "fashion_mnist"  # facnn/configs/<config_prefix>_<model>.json ("cifar10" for CIFAR-10)
models: list = ["facnn", "resnet", "coda"]  # which models to train or load
epochs: int = 2  # training epochs (overrides the config file)
train_subset: int = 10000  # training images used (0: the whole training split)
seed: int = 0  # training seed
device: str = "auto"  # "cpu", "cuda" or "auto"
'''),
    code(COMMON + '''
from dataclasses import asdict
runs = {}
for name in models:
    cfg = ex.load_config(f"{config_prefix}_{name}", epochs=epochs, train_subset=train_subset or None, seed=seed, device=device)
    runs[name] = facnn.get_or_train(cfg)
    print(f"{name:7s} test accuracy {runs[name][1]['test_accuracy']:.4f}  params {runs[name][1]['params']:,}  "
          f"{runs[name][1]['wall_time']:.0f} s")
'''),
    code('''
# CHECK: every model learned (far above the 10% chance level)
print("all models above 50% test accuracy:", all(r["test_accuracy"] > 0.5 for _, r in runs.values()))
''', "all models above 50% test accuracy: True\n"),
    code('''
fig = viz.training_curves([{**r, "label": n} for n, (_, r) in runs.items()])
viz.save_figure(fig, f"training_curves_{config_prefix}")
fig
'''),
    code('''
cmd = ex.papermill_command("02_training.ipynb", dict(config_prefix=config_prefix, models=models, epochs=epochs,
                                                     train_subset=train_subset, seed=seed, device=device))
records = [dict(model=n, dataset=r["dataset"], test_accuracy=r["test_accuracy"], epochs=r["epochs"], params=r["params"],
                seed=r["seed"], train_subset=r["config"]["train_subset"], wall_time=r["wall_time"], device=r["device"],
                config=r["config"], command=cmd, train_command=r["command"]) for n, (_, r) in runs.items()]
ex.write_records("accuracy", records, key=("model", "dataset", "epochs", "train_subset", "seed"))
viz.table_figure(records, ["model", "dataset", "test_accuracy", "epochs", "train_subset", "params", "device"], "Table 1")
'''),
])

write("03_pixel_removal.ipynb", """
# Percent pixels removed (FA-CNN Figure 4)

Accuracy as the most relevant (MoRF) or least relevant (LeRF) pixels are removed, ranked by
FA-CNN's averaged raw maps at the last and a middle layer (the paper's layers 24 and 18, in
proportion), Grad-CAM at the same layers, RISE, k×k occlusion, a random-map control, and CoDA-Net
contributions (on the CoDA-Net). Maps of the **true** class; removed pixels set to `fill`.
Protocol: `facnn.metrics.PixelRemoval`.
""", [
    params('''
config_prefix: str = "fashion_mnist"  # facnn/configs/<config_prefix>_<model>.json
epochs: int = 2  # epochs of the cached models (as in notebook 02)
train_subset: int = 10000  # training images of the cached models (0: all)
seed: int = 0  # seed for models, image subset, RISE masks and the random control
device: str = "auto"  # "cpu", "cuda" or "auto"
layers: list = []  # FA-CNN layers for maps and Grad-CAM (empty: the last and the 18/24 middle layer)
methods: list = ["intrinsic", "gradcam", "rise", "occlusion", "random", "contributions"]  # methods compared
n_images: int = 100  # test images
rise_n: int = 500  # RISE masks (the paper's RISE uses 4000-8000)
rise_cells: int = 7  # RISE grid cells per side
occlusion_k: int = 4  # occlusion window (stride k/2)
fill: str = "zero"  # removed pixels: "zero", "mean" or "blur"
percents: list = [0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]  # percent grid
'''),
    code(COMMON + '''
kw = dict(epochs=epochs, train_subset=train_subset or None, seed=seed, device=device)
model, res = facnn.get_or_train(ex.load_config(f"{config_prefix}_facnn", **kw))
coda = facnn.get_or_train(ex.load_config(f"{config_prefix}_coda", **kw))[0] if "contributions" in methods else None
dev = next(model.parameters()).device
layers = layers or ex.paper_layers(len(model.layers))
x, y = ex.test_batch(res["dataset"], n_images, seed, dev)
explainers = ex.build_explainers(model, layers, methods, rise_n=rise_n, rise_cells=rise_cells,
                                 occlusion_k=occlusion_k, coda=coda, seed=seed)
records = ex.pixel_removal_experiment(explainers, x, y, percents=percents, fill=fill, seed=seed)
'''),
    code('''
# CHECK: at 0% removed every curve starts at its model's clean accuracy
start = {r["method"]: r["accuracy"][0] for r in records}
print("MoRF and LeRF start at the same accuracy for every method:",
      all(r["accuracy"][0] == start[r["method"]] for r in records))
''', "MoRF and LeRF start at the same accuracy for every method: True\n"),
    code('''
from plotly.subplots import make_subplots
import plotly.graph_objects as go
fig = make_subplots(rows=1, cols=2, subplot_titles=("MoRF (lower is better)", "LeRF (higher is better)"))
for r in records:
    fig.add_trace(go.Scatter(x=r["percents"], y=r["accuracy"], name=r["method"], legendgroup=r["method"],
                             showlegend=r["order"] == "morf"), 1, 1 if r["order"] == "morf" else 2)
fig.update_xaxes(title_text="% pixels removed"); fig.update_yaxes(title_text="accuracy")
fig.update_layout(template="plotly_white", height=420, title=f"{res['dataset']}: accuracy vs % pixels removed (fill={fill})")
viz.save_figure(fig, f"pixel_removal_{config_prefix}")
fig
'''),
    code('''
settings = dict(dataset=res["dataset"], n_images=n_images, rise_n=rise_n, rise_cells=rise_cells, occlusion_k=occlusion_k,
                fill=fill, class_used="true", layers=layers, seed=seed, facnn_config=res["config"])
cmd = ex.papermill_command("03_pixel_removal.ipynb", dict(config_prefix=config_prefix, epochs=epochs, train_subset=train_subset,
                           seed=seed, n_images=n_images, rise_n=rise_n, occlusion_k=occlusion_k, fill=fill))
ex.write_records("pixel_removal", records, key=("method", "order", "dataset", "n_images", "fill"), settings=settings,
                 command=cmd, dataset=res["dataset"])
table = [dict(method=m, morf_auc=next(r["auc"] for r in records if r["method"] == m and r["order"] == "morf"),
              lerf_auc=next(r["auc"] for r in records if r["method"] == m and r["order"] == "lerf"))
         for m in dict.fromkeys(r["method"] for r in records)]
viz.table_figure(table, ["method", "morf_auc", "lerf_auc"], "AUC of accuracy vs fraction removed")
'''),
])

write("04_feature_maps.ipynb", """
# Feature maps through depth (FA-CNN Figures 1 and 5)

For a few test images: FA-CNN's averaged raw maps of the predicted class at every layer, beside
Grad-CAM at the same layer, then RISE and k×k occlusion; the per-layer correlation between the two
(1.0 at the penultimate layer, Theorem 1); and an explorer widget (image, layer, class, method).
""", [
    params('''
config_prefix: str = "fashion_mnist"  # facnn/configs/<config_prefix>_facnn.json
epochs: int = 2  # epochs of the cached model (as in notebook 02)
train_subset: int = 10000  # training images of the cached model (0: all)
seed: int = 0  # seed for the image subset and RISE
device: str = "auto"  # "cpu", "cuda" or "auto"
n_show: int = 6  # images shown
n_corr: int = 200  # images for the per-layer correlation
rise_n: int = 1000  # RISE masks
occlusion_k: int = 4  # occlusion window
'''),
    code(COMMON + '''
import torch
model, res = facnn.get_or_train(ex.load_config(f"{config_prefix}_facnn", epochs=epochs, train_subset=train_subset or None,
                                               seed=seed, device=device))
dev = next(model.parameters()).device
x, y = ex.test_batch(res["dataset"], max(n_show, n_corr), seed, dev)
xs = x[:n_show]
with torch.no_grad():
    pred = model(xs).argmax(1)
rows = {}
for l in range(model.num_layers):
    rows[f"FA-CNN L{l}"] = facnn.ClassMaps(model, l).attribute(xs, pred).cpu().numpy()
    if l > 0:
        rows[f"Grad-CAM L{l}"] = facnn.GradCAM(model, l).attribute(xs, pred).cpu().numpy()
rows["RISE (centred)"] = facnn.RISE(model, rise_n, seed=seed, center=True).attribute(xs, pred).cpu().numpy()
rows[f"K-OCC k={occlusion_k}"] = facnn.Occlusion(model, occlusion_k).attribute(xs, pred).cpu().numpy()
fig = viz.map_grid(xs[:, 0].cpu().numpy(), rows, "Averaged raw FA-CNN maps per layer beside Grad-CAM, RISE and K-OCC (predicted class)")
viz.save_figure(fig, f"feature_maps_{config_prefix}")
fig
'''),
    code('''
corr = facnn.theory.layer_correlations(model, x[:n_corr], y[:n_corr])
fig = viz.line_figure({"Pearson(FA-CNN map, Grad-CAM before ReLU)": (list(range(len(corr))), corr)},
                      "Per-layer correlation of averaged raw maps and Grad-CAM", "layer", "correlation")
viz.save_figure(fig, f"gradcam_correlation_{config_prefix}")
ex.write_records("feature_maps", [dict(dataset=res["dataset"], layer_correlation=corr, n_images=n_corr)], key=("dataset",),
                 command=ex.papermill_command("04_feature_maps.ipynb", dict(config_prefix=config_prefix, epochs=epochs,
                          train_subset=train_subset, seed=seed, n_corr=n_corr)))
fig
'''),
    code('''
# CHECK: Theorem 1 in the figure: correlation 1.0 at the penultimate layer
print("penultimate-layer correlation is 1.0:", corr[-1] >= 1 - 1e-5)
''', "penultimate-layer correlation is 1.0: True\n"),
    code('''
explorer = viz.make_explorer(model, x[:n_show], class_names=None)
explorer
'''),
])

write("05_localisation.ipynb", """
# Grid pointing game: FA-CNN, CoDA-Net and post-hoc methods (CoDA-Nets' localisation metric)

`grid`×`grid` grids of confidently and correctly classified test images of distinct classes; for
each cell's class, the share of positive attribution inside that cell (oracle 1, uniform
1/grid²). Also a CoDA-Net temperature sweep (the paper: higher T, better localisation).
Protocol: `facnn.metrics.make_grids` / `pointing_game`.
""", [
    params('''
config_prefix: str = "fashion_mnist"  # facnn/configs/<config_prefix>_<model>.json
epochs: int = 2  # epochs of the cached FA-CNN and CoDA-Net (as in notebook 02)
train_subset: int = 10000  # training images of the cached models (0: all)
seed: int = 0  # seed for grids, RISE and the random control
device: str = "auto"  # "cpu", "cuda" or "auto"
grid: int = 3  # grid side n (n*n distinct classes per grid)
n_grids: int = 10  # grids per method
n_candidates: int = 1000  # test images from which grids are drawn
min_confidence: float = 0.5  # confidence an image needs to enter a grid
methods: list = ["intrinsic", "gradcam", "rise", "occlusion", "random", "contributions"]  # methods compared
rise_n: int = 300  # RISE masks
rise_center: bool = True  # subtract RISE's mean score (its raw maps carry a uniform baseline the metric reads as uniform)
occlusion_k: int = 12  # occlusion window (stride k/2)
temperatures: list = [10.0, 100.0, 1000.0]  # CoDA-Net temperature sweep
sweep_epochs: int = 1  # epochs of each sweep model
sweep_subset: int = 5000  # training images of each sweep model
sweep_min_confidence: float = 0.0  # the briefly trained sweep models need only classify grid images correctly
'''),
    code(COMMON + '''
kw = dict(epochs=epochs, train_subset=train_subset or None, seed=seed, device=device)
model, res = facnn.get_or_train(ex.load_config(f"{config_prefix}_facnn", **kw))
coda = facnn.get_or_train(ex.load_config(f"{config_prefix}_coda", **kw))[0] if "contributions" in methods else None
dev = next(model.parameters()).device
x, y = ex.test_batch(res["dataset"], n_candidates, seed, dev)
explainers = ex.build_explainers(model, ex.paper_layers(len(model.layers)), methods, rise_n=rise_n,
                                 rise_center=rise_center, occlusion_k=occlusion_k, coda=coda, seed=seed)
records, scores = ex.localisation_experiment(explainers, x, y, n=grid, n_grids=n_grids, seed=seed, min_confidence=min_confidence)
'''),
    code('''
sweep = {}
for T in temperatures:
    cfg = ex.load_config(f"{config_prefix}_coda", epochs=sweep_epochs, train_subset=sweep_subset or None, seed=seed,
                         device=device, model_config={"temperature": T})
    m, r = facnn.get_or_train(cfg)
    rec, sc = ex.localisation_experiment({f"CoDA T={T:g}": (m, facnn.Contributions(m), None)}, x, y, n=grid,
                                         n_grids=n_grids, seed=seed, min_confidence=sweep_min_confidence, progress=False)
    rec[0].update(temperature=T, test_accuracy=r["test_accuracy"], sweep_epochs=sweep_epochs, sweep_subset=sweep_subset,
                  min_confidence=sweep_min_confidence)
    records += rec; scores.update(sc); sweep[T] = rec[0]
    print(f"T={T:g}: accuracy {r['test_accuracy']:.3f}, pointing game mean {rec[0]['mean']:.3f}")
'''),
    code('''
# CHECK: every score is a share in [0, 1]
print("all pointing-game scores lie in [0, 1]:", all(0 <= s <= 1 for v in scores.values() for s in v))
''', "all pointing-game scores lie in [0, 1]: True\n"),
    code('''
fig = viz.box_figure(scores, f"Grid pointing game ({grid}×{grid}, {res['dataset']}); uniform = {1 / grid**2:.3f}", "share of positive attribution in the cell")
viz.save_figure(fig, f"localisation_{config_prefix}")
settings = dict(dataset=res["dataset"], grid=grid, n_grids=n_grids, min_confidence=min_confidence, rise_n=rise_n, rise_center=rise_center,
                occlusion_k=occlusion_k, seed=seed, epochs=epochs, train_subset=train_subset)
cmd = ex.papermill_command("05_localisation.ipynb", dict(config_prefix=config_prefix, epochs=epochs, train_subset=train_subset,
                           seed=seed, grid=grid, n_grids=n_grids, temperatures=temperatures))
ex.write_records("localisation", records, key=("method", "dataset", "grid", "n_grids"), settings=settings, command=cmd,
                 dataset=res["dataset"])
fig
'''),
    code('''
viz.table_figure(records, ["method", "layer", "mean", "median", "n_grids"], "Pointing game")
'''),
])
print("notebooks written")

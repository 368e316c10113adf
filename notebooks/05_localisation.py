# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Grid pointing game: FA-CNN, CoDA-Net and post-hoc methods (CoDA-Nets' localisation metric)
#
# `grid`×`grid` grids of confidently and correctly classified test images of distinct classes; for
# each cell's class, the share of positive attribution inside that cell (oracle 1, uniform
# 1/grid²). Also a CoDA-Net temperature sweep (the paper: higher T, better localisation).
# Protocol: `facnn.metrics.make_grids` / `pointing_game`.

# %% tags=["parameters"]
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

# %%
import json
import facnn
from facnn import experiments as ex, viz

kw = dict(epochs=epochs, train_subset=train_subset or None, seed=seed, device=device)
model, res = facnn.get_or_train(ex.load_config(f"{config_prefix}_facnn", **kw))
coda = facnn.get_or_train(ex.load_config(f"{config_prefix}_coda", **kw))[0] if "contributions" in methods else None
dev = next(model.parameters()).device
x, y = ex.test_batch(res["dataset"], n_candidates, seed, dev)
explainers = ex.build_explainers(model, ex.paper_layers(len(model.layers)), methods, rise_n=rise_n,
                                 rise_center=rise_center, occlusion_k=occlusion_k, coda=coda, seed=seed)
records, scores = ex.localisation_experiment(explainers, x, y, n=grid, n_grids=n_grids, seed=seed, min_confidence=min_confidence)

# %%
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

# %%
# CHECK: every score is a share in [0, 1]
print("all pointing-game scores lie in [0, 1]:", all(0 <= s <= 1 for v in scores.values() for s in v))

# %%
fig = viz.box_figure(scores, f"Grid pointing game ({grid}×{grid}, {res['dataset']}); uniform = {1 / grid**2:.3f}", "share of positive attribution in the cell")
viz.save_figure(fig, f"localisation_{config_prefix}")
settings = dict(dataset=res["dataset"], grid=grid, n_grids=n_grids, min_confidence=min_confidence, rise_n=rise_n, rise_center=rise_center,
                occlusion_k=occlusion_k, seed=seed, epochs=epochs, train_subset=train_subset)
cmd = ex.papermill_command("05_localisation.ipynb", dict(config_prefix=config_prefix, epochs=epochs, train_subset=train_subset,
                           seed=seed, grid=grid, n_grids=n_grids, temperatures=temperatures))
ex.write_records("localisation", records, key=("method", "dataset", "grid", "n_grids"), settings=settings, command=cmd,
                 dataset=res["dataset"])
fig

# %%
viz.table_figure(records, ["method", "layer", "mean", "median", "n_grids"], "Pointing game")

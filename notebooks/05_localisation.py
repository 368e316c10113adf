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
# # Grid pointing game: FA-CNN, CoDA-Net, B-cos and post-hoc methods (CoDA-Nets' localisation metric)
#
# `grid`×`grid` grids of confidently and correctly classified test images of distinct classes; for
# each cell's class, the share of positive attribution inside that cell (oracle 1, uniform
# 1/grid²). Means carry 95 % bootstrap intervals over grids. Methods on the same model share their
# grids and are compared by a paired bootstrap; methods on different models (FA-CNN vs CoDA-Net or B-cos)
# are drawn on each model's own grids and compared unpaired. Also a CoDA-Net temperature sweep
# (the paper: higher T, better localisation). Protocol: `facnn.evaluate.pixel_removal.make_grids` / `pointing_game`.
#
# The result without running anything — the committed headline run (112 grids), drawn from `figures/*.json` by
# `python -m facnn.companion.front`:
#
# ![Grid pointing game](../figures/front/localisation.png)

# %% tags=["parameters"]
config_prefix: str = "fashion_mnist"  # facnn/configs/<config_prefix>_<model>.json
model: str = "facnn"  # FA-CNN: "facnn" (6 layers, default) or "facnn24" (the paper's 24; maps at its layers 24, 18)
weights: str = "pretrained"  # "pretrained": the shipped models (and sweep runs); "train": train at epochs/train_subset
epochs: int = 2  # epochs when weights is "train"
train_subset: int = 10000  # training images when weights is "train" (0: all)
seed: int = 0  # seed for grids, RISE and the random control (and training)
device: str = "auto"  # "cpu", "cuda" or "auto"
data_root: str = ""  # dataset folder (CIFAR-10 batches, or an image folder with train/ and val/); "": data/<dataset>
grid: int = 3  # grid side n (n*n distinct classes per grid)
n_grids: int = 10  # grids per model (the published protocol uses 500)
n_candidates: int = 2000  # test images from which grids are drawn
min_confidence: float = 0.5  # confidence an image needs to enter a grid
methods: list = [
    "intrinsic",
    "gradcam",
    "rise",
    "occlusion",
    "random",
    "contributions",
    "coda-gradcam",
    "bcos-contributions",
    "bcos-gradcam",
    "hybrid-intrinsic",
]  # methods compared ("coda-occlusion", "coda-rise" too: slow on CPU)
rise_n: int = 300  # RISE masks
rise_center: bool = (
    True  # subtract RISE's mean score (its raw maps carry a uniform baseline the metric reads as uniform)
)
occlusion_k: int = 12  # occlusion window (stride k/2)
temperatures: list = [10.0, 100.0, 1000.0]  # CoDA-Net temperature sweep (brief runs: shipped for these, else trained)
sweep_epochs: int = 1  # epochs of each sweep model
sweep_subset: int = 5000  # training images of each sweep model
sweep_min_confidence: float = 0.0  # the briefly trained sweep models need only classify grid images correctly

# %%
from facnn import viz
from facnn.companion import evaluation, reproduce
from facnn.companion import records as rec
from facnn.viz.figures import Table
from facnn.viz.results import verdict_styles

params = rec.notebook_parameters("05_localisation.ipynb", globals())
run = evaluation.localisation(params)  # the experiment (`torchrun … -m facnn.companion.evaluation` shards it)
net, res, records, sweep = run.net, run.res, run.records, run.sweep
comparisons, quantities = run.comparisons, run.quantities
for r in sweep:
    print(f"T={r['temperature']:g}: accuracy {r['test_accuracy']:.3f}, pointing game {viz.fmt_ci(r['mean'])}")

# %%
# CHECK: the numbers reproduce the committed record of these parameters (tolerances in figures/localisation.json)
rows = reproduce.check("localisation", params, quantities)
print(reproduce.summary(rows))

# %%
evaluation.write_localisation(params, run)
fig = viz.estimate_bars(
    records + sweep,
    "mean",
    f"Grid pointing game ({grid}×{grid}, {res['dataset']}, {len(net.layers)}-layer FA-CNN, {n_grids} grids, 95 % CI)",
    "mean share of positive attribution in the cell",
    reference=1 / grid**2,
    reference_label=f"uniform = 1/{grid * grid}",
)
viz.save_figure(fig, viz.figure_name("localisation", config_prefix, model=model))
fig

# %% [markdown]
# At the committed parameters (10 grids; the headline run in RESULTS.md has 112) FA-CNN's last-layer maps (0.758)
# localise significantly better than every post-hoc method on the FA-CNN, than its own L4 maps and, unpaired,
# than CoDA-Net's (0.672) and B-cos's (0.682) contributions; only the hybrid's L4 maps score higher (0.804). On
# CoDA-Net and B-cos their own contributions beat Grad-CAM (hatched). The 1-epoch sweep models (pink) localise
# better at T=1000 than at T=10, but T=1000 against T=100 is not significant: the temperature claim holds partly.

# %%
table = viz.comparison_table(comparisons)
Table(
    table,
    ["comparison", "difference [95% CI]", "verdict"],
    "Differences in pointing-game mean (paired by grid on one model, unpaired across models)",
    note="Blue: the first-named method significantly better; orange: the second; grey: not significant.",
    styles=verdict_styles(table),
)

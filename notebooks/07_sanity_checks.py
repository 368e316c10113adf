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
# # Sanity checks: do the maps depend on the model? (Adebayo et al., NeurIPS 2018)
#
# Cascading model randomisation: the layers are re-initialised from the output down, one more at each
# step, and each method's map is compared with the map of the trained model by Spearman rank correlation
# (of the absolute and of the signed maps) and SSIM, per image, with 95 % bootstrap intervals. A map that
# explains the model falls toward 0 as its weights are destroyed; a map that stays similar is driven by the
# input. FA-CNN's class maps are by construction the pooled input plus dampened corrections (Theorem 2),
# exactly the kind of map this test was made to catch. Library code: `facnn.evaluate.randomisation`.
#
# The result without running anything — the committed run, drawn from `figures/*.json` by
# `python -m facnn.companion.front`:
#
# ![Cascading randomisation](../figures/front/sanity_checks.png)

# %% tags=["parameters"]
config_prefix: str = "fashion_mnist"  # facnn/configs/<config_prefix>_<model>.json
model: str = "facnn"  # FA-CNN: "facnn" (6 layers, default) or "facnn24" (the paper's 24)
weights: str = (
    "pretrained"  # "pretrained": the shipped models (and permuted-label twin); "train": train at epochs/train_subset
)
epochs: int = 2  # epochs when weights is "train"
train_subset: int = 10000  # training images when weights is "train" (0: all)
seed: int = 0  # seed for the images, the randomised weights, RISE and the random control
device: str = "auto"  # "cpu", "cuda" or "auto"
data_root: str = ""  # dataset folder (CIFAR-10 batches, or an image folder with train/ and val/); "": data/<dataset>
mode: str = "cascading"  # "cascading" (top layers first, cumulative) or "independent" (one layer at a time)
methods: list = [
    "intrinsic",
    "gradcam",
    "rise",
    "occlusion",
    "random",
    "contributions",
    "bcos-contributions",
    "hybrid-intrinsic",
]  # methods checked
n_images: int = 32  # test images
rise_n: int = 200  # RISE masks
occlusion_k: int = 7  # occlusion window (stride k/2)
shuffle_subset: int = (
    256  # data randomisation: training images of each model's twin trained on permuted labels (0: skip the test)
)
shuffle_epochs: int = 100  # its epochs (it must memorise them: the notebook prints its train accuracy)

# %%
import numpy as np

from facnn import viz
from facnn.companion import evaluation, reproduce
from facnn.companion import experiments as ex
from facnn.companion import records as rec
from facnn.evaluate import example_maps
from facnn.viz.figures import Table

params = rec.notebook_parameters("07_sanity_checks.ipynb", globals())
run = evaluation.sanity_checks(params)  # the experiment (`torchrun … -m facnn.companion.evaluation` shards it)
net, res, x, y, explainers = run.net, run.res, run.x, run.y, run.explainers
records, shuffled_records, twin_res = run.records, run.data_records, run.twin_res

# %%
# CHECK: the numbers reproduce the committed records of these parameters (tolerances in figures/sanity_checks.json
# and figures/sanity_checks_data.json)
for name, quantities in run.checks.items():
    print(reproduce.summary(reproduce.check(name, params, quantities)))

# %%
evaluation.write_sanity_checks(params, run)
fig = viz.sanity_curves(
    records,
    "spearman_abs",
    f"{mode.capitalize()} randomisation: rank correlation of |map|<br>"
    f"with the trained model's map ({len(x)} images, 95 % CI)",
)
viz.save_figure(fig, viz.figure_name(f"sanity_{mode}", config_prefix, model=model))
fig

# %% [markdown]
# Every method's map moves away from the trained model's as its layers are randomised, except the random control,
# which never looks at the model (it stays at 1). FA-CNN's maps at L6 (thick) fall fastest: at the committed
# parameters their |map| rank correlation is about 0 once two of six layers are random, below 0 in mid-cascade
# and −0.08 [−0.17, 0.03] (not significant) with all six, while Grad-CAM (0.40), RISE (0.35), B-cos (0.35),
# CoDA (0.27) and K-OCC (0.68) keep a clear resemblance. The hybrid FA-CNN's maps (aligned layers on a learned
# trunk) fall to about 0 too (−0.12 [−0.21, −0.02] at L4).

# %%
fig = viz.sanity_curves(
    records,
    "ssim",
    f"{mode.capitalize()} randomisation: SSIM of |map|<br>with the trained model's map ({len(x)} images, 95 % CI)",
)
viz.save_figure(fig, viz.figure_name(f"sanity_{mode}_ssim", config_prefix, model=model))
fig

# %% [markdown]
# SSIM agrees: with every layer randomised FA-CNN's L6 maps score −0.01 [−0.07, 0.06] (not significant), Grad-CAM
# 0.21, RISE 0.24 and K-OCC 0.51 (committed parameters).

# %%
# Example maps: the first image, each method's map of its true class (a row) with none, half and all of its
# model's layers randomised (cascading, the seeds of the curves above)
titles, rows = example_maps(explainers, x, y, seed=seed)
names = ex.class_names(res["dataset"], data_root or None)
fig = viz.map_grid(
    np.stack([x[0].mean(0).cpu().numpy()] * len(titles)),
    rows,
    f"One '{names[int(y[0])]}' image: its true class's maps as the layers are randomised from the output down "
    "(each map ÷ its own max |value|, written in its corner)",
    col_titles=titles,
    normalise=True,
)
viz.save_figure(fig, viz.figure_name("sanity_examples", config_prefix, model=model))
fig

# %% [markdown]
# Each map is divided by its own largest |value| (written in its corner): a randomised model's maps are tens to
# hundreds of times smaller than the trained model's and would be blank on one shared scale. Read the shapes: with
# every layer random, FA-CNN's maps lose the trained model's class blob but keep an imprint of the image (the
# aligned input, L0, is not among the randomised layers), and Grad-CAM's and K-OCC's keep one too; the curves above
# and the table below measure that resemblance over all the images.

# %%
final = {r["method"]: r for r in records if r["step"] == r["n_layers"]}
colors = viz.method_colors(records)
Table(
    [
        {
            "method": m,
            "Spearman |map| [95% CI]": viz.fmt_ci(r["spearman_abs"]),
            "Spearman signed [95% CI]": viz.fmt_ci(r["spearman"]),
            "SSIM [95% CI]": viz.fmt_ci(r["ssim"]),
        }
        for m, r in final.items()
    ],
    title="Similarity to the trained model's map with every layer randomised (0: the map depends on the weights)",
    swatches=colors,
)

# %% [markdown]
# The signed maps tell FA-CNN apart: with all six layers random its L6 maps keep a signed rank correlation of
# 0.37 [0.29, 0.46] with the trained model's although their |map| ranks are gone (−0.08). FA-CNN's class maps are
# the aligned input plus dampened corrections (Theorem 2), and the aligned input (L0) is not among the randomised
# layers: the sign pattern the input imprints survives. Judged on signed maps, FA-CNN's maps do not pass.

# %% [markdown]
# ## Data randomisation
#
# The second test of Adebayo et al.: each model (the FA-CNN, and the CoDA-Net, B-cos network and hybrid
# FA-CNN the methods run on) against its twin, the same architecture trained on **permuted labels** (it can
# only memorise). A map that explains what the model learned from the labels should differ from the trained
# model's map. At the CPU default each twin memorises 256 permuted labels (100 epochs, no augmentation;
# `facnn.evaluate.randomisation.shuffled_twin_config`); the train accuracies below say how far each got.

# %%
for kind, t in twin_res.items():
    print(
        f"{config_prefix}_{kind}'s permuted-label twin ({t['source']}): train accuracy {t['train_accuracy']:.2f} on "
        f"{shuffle_subset} images after {shuffle_epochs} epochs; test accuracy {t['test_accuracy']:.2f} "
        f"(chance {1 / net.num_classes:.2f})"
    )
Table(
    [
        {
            "method": r["method"],
            "Spearman |map| [95% CI]": viz.fmt_ci(r["spearman_abs"]),
            "Spearman signed [95% CI]": viz.fmt_ci(r["spearman"]),
            "SSIM [95% CI]": viz.fmt_ci(r["ssim"]),
        }
        for r in shuffled_records
    ],
    title="Similarity of each map on its trained model to its map on that model's permuted-label twin "
    "(0: depends on the labels)",
    swatches=colors,
)

# %% [markdown]
# Against the permuted-label twin, Grad-CAM's maps share nothing with the trained model's (|map| Spearman 0.01
# [−0.13, 0.15] at L6, not significant), while FA-CNN's L6 maps keep a resemblance in |map| (0.37 [0.27, 0.47])
# with their signs reversed (signed −0.23 [−0.38, −0.06]), and K-OCC stays the most similar (0.57); the random
# control is 1 by construction. The other intrinsic maps against their own twins resemble them as much, signs
# reversed too: CoDA contributions 0.29, B-cos contributions 0.34, the hybrid's L4 maps 0.34 on |map|
# (committed parameters, 32 images; RESULTS.md has the 500-image run).

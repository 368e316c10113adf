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

# %% tags=["parameters"]
config_prefix: str = "fashion_mnist"  # facnn/configs/<config_prefix>_<model>.json
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
]  # methods checked
n_images: int = 32  # test images
rise_n: int = 200  # RISE masks
occlusion_k: int = 7  # occlusion window (stride k/2)
shuffle_subset: int = (
    256  # data randomisation: training images of the FA-CNN trained on permuted labels (0: skip the test)
)
shuffle_epochs: int = 100  # its epochs (it must memorise them: the notebook prints its train accuracy)

# %%
import numpy as np

from facnn import viz
from facnn.companion import experiments as ex
from facnn.companion import records as rec
from facnn.companion import reproduce
from facnn.evaluate import data_randomisation, example_maps, sanity_experiment
from facnn.evaluate.randomisation import shuffled_twin_config

params = rec.notebook_parameters("07_sanity_checks.ipynb", globals())
train_kw = dict(epochs=epochs, train_subset=train_subset or None, seed=seed, device=device)
train_kw["data_root"] = data_root or None
model, res = ex.load_model(config_prefix, "facnn", weights, **train_kw)
companions = ex.companion_models(config_prefix, methods, weights, **train_kw)  # CoDA-Net / B-cos as methods need
dev = next(model.parameters()).device
x, y = ex.test_batch(
    res["dataset"], n_images, seed, dev, root=data_root or None, image_size=res["config"]["image_size"]
)
explainers = ex.build_explainers(
    model,
    ex.paper_layers(len(model.layers)),
    methods,
    rise_n=rise_n,
    rise_center=True,
    occlusion_k=occlusion_k,
    seed=seed,
    **companions,
)
records = sanity_experiment(explainers, x, y, mode=mode, seed=seed)
quantities = {
    f"{r['method']} step {r['step']} {k}": rec.quantity(
        r[k]["value"], rec.tolerance_for(res["source"], rec.SWEEP_TOLERANCE)
    )
    for r in records
    for k in ("spearman_abs", "ssim")
}

# %%
# CHECK: the numbers reproduce the committed record of these parameters (tolerances in figures/sanity_checks.json)
rows = reproduce.check("sanity_checks", params, quantities)
print(reproduce.summary(rows))

# %%
rec.write_run(
    "sanity_checks",
    "07_sanity_checks.ipynb",
    params,
    quantities=quantities,
    records=records,
    weights=res["source"],
    dataset=res["dataset"],
)
fig = viz.sanity_curves(
    records,
    "spearman_abs",
    f"{mode.capitalize()} randomisation: rank correlation of |map|<br>"
    f"with the trained model's map ({len(x)} images, 95 % CI)",
)
viz.save_figure(fig, f"sanity_{mode}_{config_prefix}")
fig

# %%
fig = viz.sanity_curves(
    records,
    "ssim",
    f"{mode.capitalize()} randomisation: SSIM of |map|<br>with the trained model's map ({len(x)} images, 95 % CI)",
)
viz.save_figure(fig, f"sanity_{mode}_ssim_{config_prefix}")
fig

# %%
# Example maps: the first image, each method's map (a row, one colour scale) with none, half and all of its
# model's layers randomised (cascading, the seeds of the curves above)
titles, rows = example_maps(explainers, x, y, seed=seed)
fig = viz.map_grid(
    np.stack([x[0].mean(0).cpu().numpy()] * len(titles)),
    rows,
    "One image's maps as the layers are randomised from the output down",
    col_titles=titles,
)
viz.save_figure(fig, f"sanity_examples_{config_prefix}")
fig

# %%
final = {r["method"]: r for r in records if r["step"] == r["n_layers"]}
viz.table_figure(
    [
        {
            "method": m,
            "Spearman |map| [95% CI]": viz.fmt_ci(r["spearman_abs"]),
            "Spearman signed [95% CI]": viz.fmt_ci(r["spearman"]),
            "SSIM [95% CI]": viz.fmt_ci(r["ssim"]),
        }
        for m, r in final.items()
    ],
    ["method", "Spearman |map| [95% CI]", "Spearman signed [95% CI]", "SSIM [95% CI]"],
    "Similarity to the trained model's map with every layer randomised (0: the map depends on the weights)",
)

# %% [markdown]
# ## Data randomisation
#
# The second test of Adebayo et al.: the same FA-CNN architecture trained on **permuted labels**
# (it can only memorise). A map that explains what the model learned from the labels should differ
# from the trained model's map. Methods on other models (CoDA-Net and B-cos contributions) have no twin here
# and are left out. At the CPU default the twin memorises 256 permuted labels (100 epochs, no
# augmentation; `facnn.evaluate.randomisation.shuffled_twin_config`); its train accuracy below says how far it got.

# %%
shuffled_records, twin_res = [], None
if shuffle_subset:
    cfg = shuffled_twin_config(f"{config_prefix}_facnn", shuffle_subset, shuffle_epochs, seed=seed, device=device)
    twin, twin_res = ex.trained(cfg, weights)  # the shipped twin of this config, where one ships
    shuffled_records = data_randomisation(explainers, {model: twin.to(dev)}, x, y, seed=seed)
    print(
        f"permuted-label twin ({twin_res['source']}): train accuracy {twin_res['train_accuracy']:.2f} on "
        f"{shuffle_subset} "
        f"images after {shuffle_epochs} epochs; test accuracy {twin_res['test_accuracy']:.2f} (chance 0.10)"
    )
data_quantities = {
    f"{r['method']} {k}": rec.quantity(r[k]["value"], rec.tolerance_for(twin_res["source"], rec.SWEEP_TOLERANCE))
    for r in shuffled_records
    for k in ("spearman_abs", "ssim")
}

# %%
# CHECK: the data-randomisation numbers reproduce their committed record (figures/sanity_checks_data.json)
rows = reproduce.check("sanity_checks_data", params, data_quantities)
print(reproduce.summary(rows))

# %%
if twin_res is not None:
    rec.write_run(
        "sanity_checks_data",
        "07_sanity_checks.ipynb",
        params,
        quantities=data_quantities,
        records=shuffled_records,
        weights=res["source"],
        dataset=res["dataset"],
        twin=dict(
            source=twin_res["source"],
            train_accuracy=twin_res["train_accuracy"],
            test_accuracy=twin_res["test_accuracy"],
            config=twin_res["config"],
            command=twin_res["command"],
        ),
    )
viz.table_figure(
    [
        {
            "method": r["method"],
            "Spearman |map| [95% CI]": viz.fmt_ci(r["spearman_abs"]),
            "Spearman signed [95% CI]": viz.fmt_ci(r["spearman"]),
            "SSIM [95% CI]": viz.fmt_ci(r["ssim"]),
        }
        for r in shuffled_records
    ],
    ["method", "Spearman |map| [95% CI]", "Spearman signed [95% CI]", "SSIM [95% CI]"],
    "Similarity of each map on the trained FA-CNN to its map on the permuted-label twin (0: depends on the labels)",
)

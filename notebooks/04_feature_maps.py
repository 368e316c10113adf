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
# # Feature maps through depth (FA-CNN Figures 1 and 5)
#
# For a few test images: FA-CNN's averaged raw maps of the predicted class at every layer, beside
# Grad-CAM at the same layer, then RISE and k×k occlusion; the per-layer correlation between the two
# (1.0 at the penultimate layer, Theorem 1); and an explorer widget (image, layer, class, method).

# %% tags=["parameters"]
config_prefix: str = "fashion_mnist"  # facnn/configs/<config_prefix>_facnn.json
epochs: int = 2  # epochs of the cached model (as in notebook 02)
train_subset: int = 10000  # training images of the cached model (0: all)
seed: int = 0  # seed for the image subset and RISE
device: str = "auto"  # "cpu", "cuda" or "auto"
n_show: int = 6  # images shown
n_corr: int = 200  # images for the per-layer correlation
rise_n: int = 1000  # RISE masks
occlusion_k: int = 4  # occlusion window

# %%
import json
import facnn
from facnn import experiments as ex, viz

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

# %%
corr = facnn.theory.layer_correlations(model, x[:n_corr], y[:n_corr])
fig = viz.line_figure({"Pearson(FA-CNN map, Grad-CAM before ReLU)": (list(range(len(corr))), corr)},
                      "Per-layer correlation of averaged raw maps and Grad-CAM", "layer", "correlation")
viz.save_figure(fig, f"gradcam_correlation_{config_prefix}")
ex.write_records("feature_maps", [dict(dataset=res["dataset"], layer_correlation=corr, n_images=n_corr)], key=("dataset",),
                 command=ex.papermill_command("04_feature_maps.ipynb", dict(config_prefix=config_prefix, epochs=epochs,
                          train_subset=train_subset, seed=seed, n_corr=n_corr)))
fig

# %%
# CHECK: Theorem 1 in the figure: correlation 1.0 at the penultimate layer
print("penultimate-layer correlation is 1.0:", corr[-1] >= 1 - 1e-5)

# %%
explorer = viz.make_explorer(model, x[:n_show], class_names=None)
explorer

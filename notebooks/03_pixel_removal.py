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
# # Percent pixels removed (FA-CNN Figure 4)
#
# Accuracy as the most relevant (MoRF) or least relevant (LeRF) pixels are removed, ranked by
# FA-CNN's averaged raw maps at the last and a middle layer (the paper's layers 24 and 18, in
# proportion), Grad-CAM at the same layers, RISE, k×k occlusion, a random-map control, and CoDA-Net
# contributions (on the CoDA-Net). Maps of the **true** class; removed pixels set to `fill`.
# Protocol: `facnn.metrics.PixelRemoval`.

# %% tags=["parameters"]
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

# %%
import json
import facnn
from facnn import experiments as ex, viz

kw = dict(epochs=epochs, train_subset=train_subset or None, seed=seed, device=device)
model, res = facnn.get_or_train(ex.load_config(f"{config_prefix}_facnn", **kw))
coda = facnn.get_or_train(ex.load_config(f"{config_prefix}_coda", **kw))[0] if "contributions" in methods else None
dev = next(model.parameters()).device
layers = layers or ex.paper_layers(len(model.layers))
x, y = ex.test_batch(res["dataset"], n_images, seed, dev)
explainers = ex.build_explainers(model, layers, methods, rise_n=rise_n, rise_cells=rise_cells,
                                 occlusion_k=occlusion_k, coda=coda, seed=seed)
records = ex.pixel_removal_experiment(explainers, x, y, percents=percents, fill=fill, seed=seed)

# %%
# CHECK: at 0% removed every curve starts at its model's clean accuracy
start = {r["method"]: r["accuracy"][0] for r in records}
print("MoRF and LeRF start at the same accuracy for every method:",
      all(r["accuracy"][0] == start[r["method"]] for r in records))

# %%
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

# %%
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

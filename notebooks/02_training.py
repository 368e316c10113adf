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
# # Training FA-CNN, the ResNet baseline and CoDA-Net (Table 1)
#
# Trains each model from `facnn/configs/<config_prefix>_<model>.json` (or loads it from the checkpoint
# cache `data/checkpoints/`), plots the training curves and writes the accuracy table to
# `figures/accuracy.json`. CPU defaults use a 10k-image subset and 2 epochs; the full-scale table
# comes from `-p train_subset 0 -p epochs 20 -p models '["facnn", "resnet"]'` (Table 1 in the README).

# %% tags=["parameters"]
config_prefix: str = "fashion_mnist"  # facnn/configs/<config_prefix>_<model>.json ("cifar10" for CIFAR-10)
models: list = ["facnn", "resnet", "coda"]  # which models to train or load
epochs: int = 2  # training epochs (overrides the config file)
train_subset: int = 10000  # training images used (0: the whole training split)
seed: int = 0  # training seed
device: str = "auto"  # "cpu", "cuda" or "auto"

# %%
import json
import facnn
from facnn import experiments as ex, viz

from dataclasses import asdict
runs = {}
for name in models:
    cfg = ex.load_config(f"{config_prefix}_{name}", epochs=epochs, train_subset=train_subset or None, seed=seed, device=device)
    runs[name] = facnn.get_or_train(cfg)
    print(f"{name:7s} test accuracy {runs[name][1]['test_accuracy']:.4f}  params {runs[name][1]['params']:,}  "
          f"{runs[name][1]['wall_time']:.0f} s")

# %%
# CHECK: every model learned (far above the 10% chance level)
print("all models above 50% test accuracy:", all(r["test_accuracy"] > 0.5 for _, r in runs.values()))

# %%
fig = viz.training_curves([{**r, "label": n} for n, (_, r) in runs.items()])
viz.save_figure(fig, f"training_curves_{config_prefix}")
fig

# %%
cmd = ex.papermill_command("02_training.ipynb", dict(config_prefix=config_prefix, models=models, epochs=epochs,
                                                     train_subset=train_subset, seed=seed, device=device))
records = [dict(model=n, dataset=r["dataset"], test_accuracy=r["test_accuracy"], epochs=r["epochs"], params=r["params"],
                seed=r["seed"], train_subset=r["config"]["train_subset"], wall_time=r["wall_time"], device=r["device"],
                config=r["config"], command=cmd, train_command=r["command"]) for n, (_, r) in runs.items()]
ex.write_records("accuracy", records, key=("model", "dataset", "epochs", "train_subset", "seed"))
viz.table_figure(records, ["model", "dataset", "test_accuracy", "epochs", "train_subset", "params", "device"], "Table 1")

# %% [markdown]
# Table 1 at full scale: the committed runs of these same configs on the whole training split, from
# `figures/ablation.json` (written by `tools/ablation.py`; each row carries the command that reproduces it).

# %%
full = ex.full_scale_records(config_prefix, models)
print(f"{len(full)} full-scale runs of these configs recorded")
viz.table_figure(full, ["model", "dataset", "test_accuracy", "epochs", "params", "seed", "command"], "Table 1 (whole training split)")

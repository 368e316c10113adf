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
# # Theorems 1 and 2 as checks
#
# **Theorem 1.** Grad-CAM of class *c* at the head's input equals `(s/hw) · ReLU(M_c)`, the ReLU of the
# mean of the class's *R* penultimate maps (up to a positive constant).
# **Theorem 2 / Lemma 3.** Each layer moves the maps by exactly `λ_l‖f_l‖`; each class map by at most
# `(λ_l/√R)‖f_l[c]‖`; pooling commutes with class maps and does not expand.
# Statements and proof sketches: `facnn/theory.py`. Checked here on random models of random shape
# and on a quickly trained FA-CNN; `tests/test_theory.py` checks the same with hypothesis.

# %% tags=["parameters"]
n_random_models: int = 30  # random FA-CNNs of random shape checked against Theorems 1 and 2
seed: int = 0  # seed for random models, the test subset and training
dataset: str = "fashion-mnist"  # dataset of the quickly trained model
config: str = "fashion_mnist_facnn"  # facnn/configs/<config>.json: FA-CNN architecture and optimiser
epochs: int = 2  # training epochs of the quick model
train_subset: int = 10000  # training images used (0: the whole training split)
n_images: int = 256  # test images for the checks on the trained model
device: str = "auto"  # "cpu", "cuda" or "auto"

# %%
import json
import facnn
from facnn import experiments as ex, viz

sweep = ex.random_theorem_sweep(n_random_models, seed)
worst = {k: max(r[k] for r in sweep) for k in
         ("theorem1_error", "head_error", "morph_equality_error", "class_ratio_max", "pool_commute_error")}
worst

# %%
# CHECK: what the theorems promise, on every random model
t1 = worst["theorem1_error"] <= 1e-5
t2 = worst["morph_equality_error"] <= 1e-5 and worst["class_ratio_max"] <= 1 + 1e-5 and worst["pool_commute_error"] <= 1e-5
assert t1 and t2 and worst["head_error"] <= 1e-5, worst
print("Theorem 1 holds on all random models (max rel. error <= 1e-5):", t1)
print("Theorem 2 / Lemma 3 hold on every layer of every random model:", t2)

# %%
cfg = ex.load_config(config, dataset=dataset, epochs=epochs, train_subset=train_subset or None, seed=seed, device=device)
model, results = facnn.get_or_train(cfg)
x, y = ex.test_batch(dataset, n_images, seed, device=next(model.parameters()).device)
report = ex.theorem_report(model, x, y)
print(f"test accuracy {results['test_accuracy']:.4f} after {results['epochs']} epochs; "
      f"Theorem-1 error {report['theorem1_error']:.2e}; Grad-CAM correlation per layer "
      + " ".join(f"{c:.3f}" for c in report["gradcam_correlation"]))

# %%
# CHECK: the same on the trained model
ok1 = report["theorem1_error"] <= 1e-5 and report["gradcam_correlation"][-1] >= 1 - 1e-5
ok2 = all(abs(r["step"] - r["bound"]) <= 1e-5 * r["bound"] + 1e-6 and r["class_ratio"] <= 1 + 1e-5 for r in report["morph"])
assert ok1 and ok2, report
print("trained model: Theorem 1 holds and Grad-CAM correlates 1.0 at the penultimate layer:", ok1)
print("trained model: Theorem 2 / Lemma 3 hold on every layer:", ok2)

# %%
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

# %%
ex.write_records("theorems", [dict(model="facnn", dataset=dataset, n_random_models=n_random_models, worst_random=worst,
                                   trained_test_accuracy=results["test_accuracy"], **report)],
                 key=("model", "dataset"), seed=seed, train_config=results["config"],
                 command=ex.papermill_command("01_theorems.ipynb", dict(n_random_models=n_random_models, seed=seed,
                          dataset=dataset, config=config, epochs=epochs, train_subset=train_subset, n_images=n_images)))

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
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # What the papers claim, and what we measure
#
# Each claim of the FA-CNN abstract and of the CoDA-Nets paper beside our number (95 % interval)
# and a verdict, built by `facnn.companion.claims` from the committed records (`figures/*.json`, the headline
# run of each experiment: the one with the most images or grids) and the shipped-weights manifest.
# Rerun notebooks 01–05 with the headline commands in RESULTS.md, then
# `python -m facnn.companion.records accept runs/figures`, to refresh it.

# %% tags=["parameters"]
paper: str = "all"  # "FA-CNN", "CoDA-Nets" or "all": whose claims to show

# %%
from facnn.companion import claims
from facnn.viz.figures import Table

rows = [r for r in claims.claims() if paper in ("all", r["paper"])]
Table(
    rows,
    ["paper", "claim", "ours", "verdict", "evidence"],
    "Claims and what we measure (95 % CI)",
    bold=["verdict"],
)  # the table of the README (python tools/results_tables.py --readme), from the same records

# %%
# CHECK: every claim has a verdict drawn from the records
print("claims:", len(rows), "| all have a verdict:", all(r["verdict"] for r in rows))

# %% [markdown]
# Theorems 1 and 2 reproduce (over 24 layers the morph is not monotone), and so does FA-CNN's accuracy: on par
# with the ResNet at 6 layers, above it at 24; B-cos is on par too, CoDA-Net 0.010 behind. The claim that FA-CNN's
# raw maps do well on percent pixels removed is not reproduced (K-OCC and RISE are better at 1,000 images; RISE
# is better for the 24-layer model at 1,000 images too; with the RISE authors' mean fill instead of black, FA-CNN's
# maps beat RISE: RESULTS.md), and a higher temperature localises better only partly;
# CoDA-Net's and B-cos's contributions do localise better than post-hoc methods on their networks.

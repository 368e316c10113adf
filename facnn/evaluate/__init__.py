"""Evaluation of attribution maps, grouped by the question each answers.

- faithfulness: :mod:`.pixel_removal` (MoRF/LeRF curves with zero, mean, blur or ROAD fills;
  ROAD's imputation in :mod:`.road`)
- localisation: :mod:`.localisation` (the grid pointing game)
- randomisation: :mod:`.randomisation` (model and data randomisation sanity checks)
- theory: :mod:`.theorems` (the paper's Theorems 1 and 2 as measurable quantities)
- statistics: :mod:`.stats` (bootstrap and paired intervals, Wilson), :mod:`.similarity`
- protocols: :mod:`.protocols` runs a set of explainers through a metric into records with CIs.

Examples
--------
>>> from facnn.evaluate import bootstrap
>>> round(bootstrap([0.0, 1.0, 1.0, 0.0]).value, 2)
0.5
"""

from facnn.evaluate.localisation import grid_shares, make_grids, pointing_game
from facnn.evaluate.pixel_removal import DEFAULT_PERCENTS, FILLS, PixelRemoval, percent_grid, removal_order
from facnn.evaluate.protocols import (
    accuracy_estimate,
    comparisons,
    localisation_experiment,
    pixel_removal_experiment,
    ranking_changes,
    split_unit_key,
    training_accuracy,
    unit_key,
)
from facnn.evaluate.randomisation import (
    cascading_randomisation,
    data_randomisation,
    example_maps,
    independent_randomisation,
    layer_order,
    randomise,
    randomise_batchnorm,
    sanity_experiment,
    sanity_units,
    similarities,
)
from facnn.evaluate.road import noisy_linear_impute
from facnn.evaluate.similarity import pearson
from facnn.evaluate.stats import Estimate, bootstrap, bootstrap_curve, paired_difference, unpaired_difference, wilson

__all__ = [
    "PixelRemoval",
    "percent_grid",
    "removal_order",
    "DEFAULT_PERCENTS",
    "FILLS",
    "noisy_linear_impute",
    "make_grids",
    "grid_shares",
    "pointing_game",
    "layer_order",
    "randomise",
    "randomise_batchnorm",
    "similarities",
    "cascading_randomisation",
    "independent_randomisation",
    "sanity_experiment",
    "sanity_units",
    "data_randomisation",
    "example_maps",
    "pearson",
    "Estimate",
    "bootstrap",
    "bootstrap_curve",
    "paired_difference",
    "unpaired_difference",
    "wilson",
    "pixel_removal_experiment",
    "localisation_experiment",
    "comparisons",
    "ranking_changes",
    "unit_key",
    "split_unit_key",
    "accuracy_estimate",
    "training_accuracy",
]

"""Figures (plotly): generic figures and saving (:mod:`.figures`, PNGs through
:mod:`.png_export` that never hang), result plots (:mod:`.results`), theorem and sanity plots
(:mod:`.theory`) and the feature-map explorers (:mod:`.explorer`: one needs no kernel, one is a
live widget), all drawn in :mod:`.style`: one colour per method everywhere (:func:`method_colors`, from
:mod:`facnn.explain.catalogue`), one scale for maps drawn together (:func:`map_scale`)."""

from facnn.evaluate.stats import fmt_ci
from facnn.viz.explorer import (
    EXPLORER_METHODS,
    class_probabilities,
    explorer_figure,
    explorer_maps,
    make_explorer,
    static_explorer,
)
from facnn.viz.figures import (
    Table,
    box_figure,
    figure_name,
    fit_title,
    line_figure,
    map_grid,
    save_figure,
    table_figure,
    training_curves,
)
from facnn.viz.results import (
    auc_quantity_name,
    auc_table,
    comparison_matrix,
    comparison_table,
    estimate_bars,
    layer_estimates,
    ranking_summary,
    ranking_table,
    removal_curves,
    verdict_styles,
)
from facnn.viz.style import display_maps, interval_band, map_scale, method_colors, method_lines, model_color
from facnn.viz.theory import morph_strip, sanity_curves, theorem1_residuals, theorem2_steps

__all__ = [
    "fmt_ci",
    "save_figure",
    "figure_name",
    "fit_title",
    "line_figure",
    "training_curves",
    "table_figure",
    "Table",
    "map_grid",
    "box_figure",
    "explorer_figure",
    "make_explorer",
    "static_explorer",
    "explorer_maps",
    "class_probabilities",
    "EXPLORER_METHODS",
    "auc_table",
    "comparison_table",
    "comparison_matrix",
    "ranking_table",
    "verdict_styles",
    "estimate_bars",
    "method_colors",
    "model_color",
    "removal_curves",
    "auc_quantity_name",
    "ranking_summary",
    "layer_estimates",
    "morph_strip",
    "theorem1_residuals",
    "theorem2_steps",
    "sanity_curves",
    "map_scale",
    "display_maps",
    "method_lines",
    "interval_band",
]

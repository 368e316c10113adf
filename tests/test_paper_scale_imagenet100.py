"""The README's GPU commands for imagenet100, dry: ``python -m facnn.companion.paper_scale imagenet100
--tiny`` — the same commands with every size shrunk — trains the models through the training CLI and
executes every notebook it lists through papermill on the CPU, on a synthetic tree in ImageNet's
layout (100 class folders of JPEGs of mixed sizes cut from scikit-image's photographs).
"""

from __future__ import annotations

from tests.paper_scale_trees import dry_run_tests, imagenet_tree

trained, test_the_notebook_runs_dry = dry_run_tests("imagenet100", imagenet_tree)

"""The README's GPU commands for cifar10, dry: ``python -m facnn.companion.paper_scale cifar10 --tiny``
— the same commands with every size shrunk — trains the models through the training CLI and executes
every notebook it lists through papermill on the CPU, on CIFAR-10's binary batch files (records cut
from scikit-image's photographs).
"""

from __future__ import annotations

from tests.paper_scale_trees import cifar_tree, dry_run_tests

trained, test_the_notebook_runs_dry = dry_run_tests("cifar10", cifar_tree)

"""The README's GPU commands for cifar10, dry: ``python -m facnn.companion.paper_scale cifar10 --tiny``
— the same commands with every size shrunk — trains the models through the training CLI and executes
every notebook it lists through papermill on the CPU, on CIFAR-10's binary batch files (records cut
from scikit-image's photographs).
"""

from __future__ import annotations

import pytest

from tests.paper_scale_trees import cifar_tree, executed_notebook, notebook_steps, run_steps, training_steps

PREFIX = "cifar10"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp(PREFIX)
    data = cifar_tree(base / "data")
    run_steps(PREFIX, data, base / "home", base / "out", training_steps(PREFIX))
    return data, base


@pytest.mark.parametrize("step", notebook_steps(PREFIX))
def test_the_notebook_runs_dry_at_cifar10(trained, step):
    data, base = trained
    run_steps(PREFIX, data, base / "home", base / "out", [step])
    nb = executed_notebook(PREFIX, data, base / "out", step)
    assert nb["metadata"]["papermill"]["parameters"]["config_prefix"] == PREFIX

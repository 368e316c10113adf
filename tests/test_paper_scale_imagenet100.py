"""The README's GPU commands for imagenet100, dry: ``python -m facnn.companion.paper_scale imagenet100
--tiny`` — the same commands with every size shrunk — trains the models through the training CLI and
executes every notebook it lists through papermill on the CPU, on a synthetic tree in ImageNet's
layout (100 class folders of JPEGs of mixed sizes cut from scikit-image's photographs).
"""

from __future__ import annotations

import pytest

from tests.paper_scale_trees import executed_notebook, imagenet_tree, notebook_steps, run_steps, training_steps

PREFIX = "imagenet100"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp(PREFIX)
    data = imagenet_tree(base / "data")
    run_steps(PREFIX, data, base / "home", base / "out", training_steps(PREFIX))
    return data, base


@pytest.mark.parametrize("step", notebook_steps(PREFIX))
def test_the_notebook_runs_dry_at_imagenet100(trained, step):
    data, base = trained
    run_steps(PREFIX, data, base / "home", base / "out", [step])
    nb = executed_notebook(PREFIX, data, base / "out", step)
    assert nb["metadata"]["papermill"]["parameters"]["config_prefix"] == PREFIX

"""Every example in the package's docstrings runs and prints what it shows (doctest)."""

import doctest
import importlib
import pkgutil

import pytest

import facnn

MODULES = sorted(m.name for m in pkgutil.walk_packages(facnn.__path__, "facnn.") if not m.name.endswith("__main__"))


def test_every_module_is_found():
    assert {"facnn.models.facnn", "facnn.explain.gradcam", "facnn.evaluate.pixel_removal", "facnn.train.cli"} <= set(
        MODULES
    )


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} docstring examples failed (output above)"

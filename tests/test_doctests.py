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


def test_docstring_cross_references_resolve():
    """Every :mod:/:func:/:class: reference to ``facnn.…`` in the package names something that exists
    (modules moved: a reference must move with them)."""
    import re
    from pathlib import Path

    root = Path(facnn.__file__).parent
    names = set()
    for path in root.rglob("*.py"):
        names |= set(re.findall(r":(?:mod|func|class|data|meth):`~?(facnn(?:\.\w+)+)`", path.read_text()))
    missing = []
    for name in sorted(names):
        parts = name.split(".")
        for i in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:i]))
                break
            except ImportError:
                continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            missing.append(name)
    assert len(names) > 20 and not missing, missing

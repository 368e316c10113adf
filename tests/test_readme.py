"""The README's library examples run as written."""

import ast
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def library_blocks() -> list[str]:
    text = README.read_text()
    section = text.split("## Using the library", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_library_examples_run():
    blocks = library_blocks()
    assert len(blocks) >= 3, "the README's library section lost its examples"
    namespace: dict = {}
    for block in blocks:  # one namespace: later blocks use earlier names, as a reader would
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["maps"].shape == (16, 28, 28)
    for name in ("cam", "rise", "occ"):
        assert namespace[name].shape == (4, 64, 64), name
    assert namespace["q"].shape == (4, 1, 64, 64)
    assert namespace["hmaps"].shape == (16, 28, 28)


def test_readme_library_examples_use_only_the_public_api():
    """The library section imports ``facnn`` (and torch/torchvision), never the companion or a
    private module: what a user copies must keep working when internals move."""
    for block in library_blocks():
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert all(n in {"facnn", "torch", "torchvision"} for n in names), f"the README imports {names}"

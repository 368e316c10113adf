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


def test_every_markdown_table_row_has_its_headers_cells():
    """A bare ``|`` in a cell (``|map|``) splits a row into extra columns and shifts every cell after
    it; escape it (``\\|``) or put it in backticks."""
    root = README.parent
    bad = []
    for path in [README, root / "RESULTS.md", root / "CONTRIBUTING.md", *sorted((root / "docs").glob("*.md"))]:
        lines = path.read_text().split("\n")
        for i in range(len(lines) - 1):
            if lines[i].startswith("|") and re.fullmatch(r"\|[-|: ]+\|", lines[i + 1]):
                want = lines[i + 1].count("|")
                j = i + 2
                while j < len(lines) and lines[j].startswith("|"):
                    cells = re.sub(r"`[^`]*`", "", lines[j]).replace("\\|", "").count("|")
                    if cells != want:
                        bad.append(f"{path.name}:{j + 1} has {cells - 1} cells, its header {want - 1}")
                    j += 1
    assert not bad, "\n".join(bad)

"""The architecture as a test: the library never reaches up into figures or the paper companion.

Layers, bottom to top: ``facnn.core`` → ``facnn.models`` / ``facnn.data`` → ``facnn.explain`` →
``facnn.evaluate`` / ``facnn.train`` → ``facnn.viz`` → ``facnn.companion``. Checked twice: by
reading every import statement (function-level ones included) and by importing each library
package in a fresh interpreter and listing what it loaded.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "facnn"
LIBRARY = ("core", "models", "data", "explain", "evaluate", "train")
# what each subpackage may import from facnn (itself always)
ALLOWED = {
    "core": set(),
    "models": {"core"},
    "data": {"core"},
    "explain": {"core", "models"},
    "evaluate": {"core", "models", "data", "explain", "train"},
    "train": {"core", "models", "data"},
    "viz": {"core", "models", "data", "explain", "evaluate", "train"},
    "companion": {"core", "models", "data", "explain", "evaluate", "train", "viz"},
}
HEAVY = ("plotly", "ipywidgets", "papermill", "captum", "quantus", "kaleido", "pandas", "matplotlib")


def imports_of(path: Path, top_level_only: bool = False) -> list[tuple[int, str]]:
    out = []
    tree = ast.parse(path.read_text())
    for node in tree.body if top_level_only else ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
    return out


def test_every_subpackage_has_a_rule():
    found = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()} - {"configs", "weights"}
    assert found == set(ALLOWED), f"add a layering rule for {found ^ set(ALLOWED)}"


@pytest.mark.parametrize("sub", sorted(ALLOWED))
def test_imports_follow_the_layers(sub):
    bad = []
    for path in sorted((PACKAGE / sub).rglob("*.py")):
        for line, name in imports_of(path):
            parts = name.split(".")
            if parts[0] == "facnn" and len(parts) > 1 and parts[1] in ALLOWED and parts[1] != sub:
                if parts[1] not in ALLOWED[sub]:
                    bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}")
        if sub in LIBRARY:  # a function may import an optional package when called (captum for a parity check)
            for line, name in imports_of(path, top_level_only=True):
                if name.split(".")[0] in HEAVY:
                    bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name} at import time")
    assert not bad, "\n".join(bad)


def test_the_top_level_package_reexports_only_the_library():
    """``facnn.<name>`` exports come from the library; figures and the companion are reached only
    as subpackages (``facnn.viz``), loaded when asked for."""
    import facnn

    homes = {module.split(".")[0] for module in facnn._EXPORTS.values()}
    assert homes <= set(LIBRARY), homes
    assert {"viz", "companion"} <= set(dir(facnn))


def test_importing_the_library_loads_no_figures_and_no_companion():
    """The top of the library (evaluate and train import every other library package) and every
    built-in model and method, in a fresh interpreter: what they load is what any part loads."""
    code = (
        "import sys, facnn, facnn.evaluate, facnn.train\n"
        "from facnn.core.registry import model_names, method_names\n"
        "model_names(); method_names()\n"  # loads every built-in model and method
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} "
        "or m.startswith(('facnn.viz', 'facnn.companion'))))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", f"importing the library loaded {r.stdout.strip()}"


def module_graph() -> dict[str, set[str]]:
    """``{module: modules of facnn it imports}``, function-level imports included; a module's
    import of its own package (``facnn.viz`` from ``facnn.viz.figures``) is left out."""
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for module, path in mods.items():
        for _, name in imports_of(path):
            if name in mods and name != module and not module.startswith(name + "."):
                graph[module].add(name)
    return graph


def test_no_module_imports_itself_round_a_circle():
    """No cycle among modules, not even through an import inside a function: a cycle is a module
    that cannot be read (or moved) without the other, and one that breaks on import order."""
    graph = module_graph()
    cycles, state = [], {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for dep in sorted(graph[module]):
            if state.get(dep) == "open":
                cycles.append(" → ".join(path[path.index(dep) :] + [dep]))
            elif dep not in state:
                visit(dep, path + [dep])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)

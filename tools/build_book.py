"""Build the companion book: a static site that opens offline, from the notebooks ``make reproduce`` executed.

    .venv/bin/python tools/build_book.py --notebooks runs/notebooks --out build/book

The site (``<out>/index.html``) holds every executed notebook with its plotly figures drawn in the page,
the results pages (``README.md``, ``RESULTS.md`` if present, ``CONTRIBUTING.md``, ``docs/*.md``) and an API
reference from the numpy-style docstrings: the library (``facnn`` and ``facnn.core``, ``.models``, ``.data``,
``.explain``, ``.evaluate``, ``.train``, ``.viz``) and, apart, the paper companion (``facnn.companion``).

Sphinx with myst-nb renders it (``pip install -e '.[book]'``; ``make book`` installs it and runs this);
the notebooks are shown as executed, never run. Sources are staged in ``<out>-src``: each plotly output
becomes a ``<div>`` drawn from its JSON by one shared ``_static/plotly.min.js`` (copied from the plotly
package), a widget output becomes a note (it needs a live kernel) and a tqdm bar is dropped. Files the
pages link to or show (e.g. ``figures/front/*.png``) are copied beside them. Nothing is fetched at build or view
time: the theme's files are in its wheel, math is shown as text, and the finished site is checked for
any reference to a remote script, style, font or image and for internal links that lead nowhere.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = ROOT / "tools" / "book"
LIBRARY = ["core", "models", "data", "explain", "evaluate", "train", "viz"]
COMPANION = ["companion"]
PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
PROGRESS = re.compile(r"\d+%\|.*\| *\d+/\d+ ")  # a tqdm bar's text (its widget's frozen first state)
WIDGET_NOTE = (
    '<p class="facnn-widget-note">An interactive widget stood here: it needs a running kernel. '
    "Open the notebook in JupyterLab (<code>make lab</code>) to use it.</p>"
)


class BookError(SystemExit):
    """A build that cannot go on: the message says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(f"build_book: {message}")


# --- notebooks -----------------------------------------------------------------------------------------------


def executed_notebooks(folder: Path) -> list[Path]:
    """The executed notebooks in ``folder``, checked: there, every code cell run, no run stopped at an error."""
    found = sorted(folder.glob("0*.ipynb")) if folder.is_dir() else []
    if not found:
        raise BookError(
            f"no executed notebooks in {folder} (expected 0*.ipynb): run `make reproduce`, which writes them "
            "to runs/notebooks/, or pass --notebooks DIR"
        )
    for path in found:
        nb = json.loads(path.read_text())
        if nb.get("metadata", {}).get("papermill", {}).get("exception"):
            raise BookError(f"{path} stopped at an error (papermill exception): fix it and run `make reproduce`")
        code = [c for c in nb["cells"] if c["cell_type"] == "code" and text(c["source"]).strip()]
        ran = sum(1 for c in code if c.get("execution_count"))
        if ran < len(code):  # a committed notebook keeps only its '# CHECK' outputs
            raise BookError(
                f"{path} is not an executed copy ({ran} of {len(code)} code cells ran): run `make reproduce`"
            )
    missing = sorted({p.name for p in (ROOT / "notebooks").glob("0*.ipynb")} - {p.name for p in found})
    if missing:
        print(f"build_book: not in {folder}, left out of the book: {', '.join(missing)}", file=sys.stderr)
    return found


def plotly_markup(figure: dict, number: int) -> str:
    """A plotly figure as a ``<div>`` and its JSON, drawn by ``facnn-plotly.js``; ``</`` escaped inside the script."""
    layout = figure.get("layout") or {}
    style = f"height:{layout.get('height') or 450}px;" + (f"width:{layout['width']}px;" if layout.get("width") else "")
    data = json.dumps(figure, separators=(",", ":")).replace("</", "<\\/")
    return (
        f'<div class="facnn-plotly-frame"><div class="facnn-plotly" id="facnn-figure-{number}" style="{style}">'
        f'</div><script type="application/json">{data}</script></div>'
    )


def stage_notebook(source: Path, target: Path) -> int:
    """Copy an executed notebook for Sphinx: plotly outputs as drawable HTML, widgets as a note; widget
    state dropped (myst-nb would load a widget manager from a CDN). Returns the number of figures."""
    nb = json.loads(source.read_text())
    nb.get("metadata", {}).pop("widgets", None)
    figures = 0
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            data = out.get("data")
            if not data:
                continue
            if PLOTLY_MIME in data:
                figures += 1
                out["data"] = {"text/html": plotly_markup(data[PLOTLY_MIME], figures)}
            elif WIDGET_MIME in data:
                out["data"] = {} if PROGRESS.search(text(data.get("text/plain"))) else {"text/html": WIDGET_NOTE}
            out.get("metadata", {}).pop(PLOTLY_MIME, None)
        cell["outputs"] = [o for o in cell.get("outputs", []) if o.get("data") != {}]  # progress bars: transient
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(nb))
    return figures


def text(value: str | list[str] | None) -> str:
    """A notebook's multiline string (a list of lines or one string) as one string."""
    return "".join(value) if isinstance(value, list) else value or ""


def notebook_title(path: Path) -> str:
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        match = re.search(r"^#\s+(.+)$", text(cell["source"]), re.M) if cell["cell_type"] == "markdown" else None
        if match:
            return match.group(1).strip()
    return path.stem


# --- API reference -------------------------------------------------------------------------------------------


def submodules(package: str) -> list[str]:
    mod = importlib.import_module(package)
    return [f"{package}.{m.name}" for m in pkgutil.iter_modules(mod.__path__) if not m.name.startswith("_")]


def summary_line(name: str) -> str:
    doc = (importlib.import_module(name).__doc__ or "").strip()
    return doc.split("\n\n")[0].replace("\n", " ") if doc else ""


def title(text: str, mark: str = "=") -> str:
    return f"{text}\n{mark * len(text)}\n"


def package_page(package: str) -> str:
    """A subpackage's page: its docstring, a table of the names it exports and each in full, then a section
    a module with what the package does not export (one page a package: a short sidebar, a fast build)."""
    mod = importlib.import_module(package)
    exported = list(getattr(mod, "__all__", []))
    modules = submodules(package)
    page = [title(package), f".. automodule:: {package}\n"]
    if exported:
        page += [
            title("Exported names", "-"),
            f".. currentmodule:: {package}\n",
            ".. autosummary::\n   :nosignatures:\n",
        ]
        page += [f"   {name}" for name in exported] + [""]
        shadowed = {m.rsplit(".", 1)[1] for m in modules}
        for name in exported:
            obj = getattr(mod, name)
            kind = "exception" if isinstance(obj, type) and issubclass(obj, BaseException) else None
            kind = kind or ("class" if isinstance(obj, type) else "function" if callable(obj) else "data")
            options = ["   :members:"] if kind == "class" else []
            if name in shadowed:  # a function named like its module (models.pretrained): indexed there
                options.append("   :no-index:")
            page.append("\n".join([f".. auto{kind}:: {name}", *options]) + "\n")
    page.append(title("Modules", "-"))
    for module in modules:
        own = [n for n in exported if n != module.rsplit(".", 1)[1]]  # documented above (see shadowed)
        page += [title(module, "~"), f".. automodule:: {module}", "   :members:"]
        page += [f"   :exclude-members: {', '.join(own)}\n" if own else ""]
    return "\n".join(page) + "\n"


def documented_at(name: str) -> str:
    """Where the API pages document ``facnn.<name>``: its subpackage if it exports it, else its module."""
    obj = getattr(importlib.import_module("facnn"), name)
    module = getattr(obj, "__module__", "facnn")
    parts = module.split(".")
    package = ".".join(parts[:2])
    if name in getattr(importlib.import_module(package), "__all__", []):
        return f"{package}.{name}"
    return f"{module}.{name}"


def stage_api(src: Path) -> None:
    api = src / "api"
    api.mkdir(parents=True)
    top = importlib.import_module("facnn")
    exports = sorted(top.__all__, key=str.lower)
    lines = [
        title("API reference"),
        ".. automodule:: facnn\n",
        title("The most used names", "-"),
        "Exported by ``facnn`` itself; each links to where it is documented.\n",
        ".. autosummary::\n   :nosignatures:\n",
        *[f"   ~{documented_at(n).removeprefix('facnn.')}" for n in exports],
        "",
        title("The library", "-"),
        ".. toctree::\n   :maxdepth: 1\n",
        *[f"   facnn.{p}" for p in LIBRARY],
        "",
        title("The paper companion", "-"),
        "What the notebooks call; the library never imports it (its own entry in the navigation):\n",
        *[f"- :doc:`facnn.{p}`" for p in COMPANION],
    ]
    (api / "index.rst").write_text("\n".join(lines) + "\n")
    for package in [f"facnn.{p}" for p in LIBRARY + COMPANION]:
        (api / f"{package}.rst").write_text(package_page(package))


# --- pages ---------------------------------------------------------------------------------------------------


def claims_table(readme: str) -> str:
    """The claims table between README's ``<!-- results:claims -->`` markers ("" when absent)."""
    match = re.search(r"<!-- results:claims -->\n(.*?)<!-- /results -->", readme, re.S)
    return match.group(1).strip() if match else ""


LINK = re.compile(r"""\]\(\s*<?([^)\s>]+)|<img\s[^>]*?src=["']([^"']+)""")


def stage_linked_files(pages: list[str], src: Path) -> None:
    """Copy the repository files the pages link to or show (images, data files) beside them in ``src``, where
    Sphinx finds them; a page linking to a file that is not there stops the build, naming both."""
    missing = []
    for page in pages:
        for match in LINK.finditer((ROOT / page).read_text()):
            url = match.group(1) or match.group(2)
            path = unquote(urlsplit(url).path)
            if urlsplit(url).scheme or url.startswith("//") or not path or path.endswith((".md", ".ipynb")):
                continue  # external, an anchor, or a page (a broken page link is caught after the build)
            target = (ROOT / page).parent / path
            if not target.resolve().is_relative_to(ROOT) or not target.is_file():
                missing.append(f"{page} links to {path}, which is not a file in {ROOT}: add it or fix the link")
                continue
            dest = src / target.resolve().relative_to(ROOT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, dest)
    if missing:
        raise BookError("\n".join(missing))


def stage(notebooks: list[Path], src: Path) -> dict[str, int]:
    """Lay out the Sphinx sources in ``src`` (recreated): pages, notebooks, API reference and the index."""
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    pages = [p for p in ["README.md", "RESULTS.md", "CONTRIBUTING.md"] if (ROOT / p).is_file()]
    pages += [str(p.relative_to(ROOT)) for p in sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        (src / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / page, src / page)
    stage_linked_files(pages, src)
    figures = {nb.name: stage_notebook(nb, src / "notebooks" / nb.name) for nb in notebooks}
    stage_api(src)
    labels = {
        "README.md": "Overview and results (README)",
        "RESULTS.md": "Every result, in detail (RESULTS)",
        "CONTRIBUTING.md": "Contributing",
    }
    index = [
        "# facnn companion book\n",
        "The FA-CNN reproduction as one offline site: the results and design notes, every notebook as "
        "executed by `make reproduce` (its figures interactive: hover, zoom, toggle series in the legend) "
        "and the API reference. Built by `make book`.\n",
        "```{toctree}\n:caption: Results\n:maxdepth: 1\n",
        *[f"{labels[p]} <{p}>" if p in labels else p for p in pages],
        "```\n",
        "```{toctree}\n:caption: Notebooks (as executed)\n:maxdepth: 1\n",
        *[f"{notebook_title(nb)} <notebooks/{nb.stem}>" for nb in notebooks],
        "```\n",
        "```{toctree}\n:caption: API reference\n:maxdepth: 1\n\nThe library <api/index>\n```\n",
        "```{toctree}\n:caption: API reference: the paper companion\n:maxdepth: 1\n",
        *[f"api/facnn.{p}" for p in COMPANION],
        "```\n",
    ]
    claims = claims_table((ROOT / "README.md").read_text()) if (ROOT / "README.md").is_file() else ""
    if claims:
        index += [
            "## The papers' claims\n",
            "As in [the README](README.md), built from the committed records.\n",
            claims,
        ]
    (src / "index.md").write_text("\n".join(index) + "\n")
    return figures


# --- checks of the built site --------------------------------------------------------------------------------


class _Refs(HTMLParser):
    """Collects a page's ids and the URLs it links to or loads."""

    LOADS = {"script": "src", "img": "src", "iframe": "src", "source": "src", "embed": "src", "audio": "src"}

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.loads: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "link" and a.get("href"):
            self.loads.append(a["href"])
        elif tag in self.LOADS and a.get(self.LOADS[tag]):
            self.loads.append(a[self.LOADS[tag]])
        elif tag == "object" and a.get("data"):
            self.loads.append(a["data"])


def _remote(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https") or url.startswith("//")


def check_site(out: Path) -> list[str]:
    """Problems a reader would meet offline: remote scripts, styles, fonts or images; internal links to a
    missing file or anchor."""
    problems: list[str] = []
    pages = {p: _Refs() for p in sorted(out.rglob("*.html"))}
    for path, refs in pages.items():
        refs.feed(path.read_text(errors="replace"))
    for path, refs in pages.items():
        rel = path.relative_to(out)
        problems += [f"{rel}: loads {u} from the network" for u in refs.loads if _remote(u)]
        for url in refs.links + refs.loads:
            parts = urlsplit(url)
            if parts.scheme or url.startswith("//") or not (parts.path or parts.fragment):
                continue  # external links are fine (they are followed, never loaded)
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                problems.append(f"{rel}: link to {url}: no such file")
            elif parts.fragment and target in pages and unquote(parts.fragment) not in pages[target].ids:
                problems.append(f"{rel}: link to {url}: no such anchor")
    for css in sorted(out.rglob("*.css")):
        for url in re.findall(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""", css.read_text(errors="replace")):
            if _remote(url):
                problems.append(f"{css.relative_to(out)}: loads {url} from the network")
    return problems


# --- main ----------------------------------------------------------------------------------------------------


def run_sphinx(src: Path, out: Path, timeout: float, log: Path) -> None:
    try:
        import myst_nb  # noqa: F401
        import sphinx  # noqa: F401
    except ImportError as e:
        raise BookError(f"{e.name} is not installed: pip install -e '.[book]' (make book does it)") from None
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(CONF_DIR), "-w", str(log), str(src), str(out)]
    env = {**os.environ, "FACNN_PNG": "0", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # Sphinx imports ~10 s of modules: compiled once, not every build
    try:
        done = subprocess.run(cmd, env=env, timeout=timeout, capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        raise BookError(f"sphinx-build did not finish within {timeout:.0f} s (--timeout sets the limit)") from None
    if done.returncode != 0:
        raise BookError(f"sphinx-build failed (exit {done.returncode}):\n{done.stderr[-4000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", type=Path, default=ROOT / "runs" / "notebooks", help="executed notebooks")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "book", help="the site (recreated)")
    parser.add_argument("--src", type=Path, help="staged Sphinx sources (recreated; default: <out>-src)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds sphinx-build may take (default 900)")
    parser.add_argument("--strict", action="store_true", help="fail on any Sphinx warning")
    args = parser.parse_args(argv)
    start = time.monotonic()
    out = args.out.resolve()
    src = (args.src or out.with_name(out.name + "-src")).resolve()
    if src == out or out in src.parents or src in out.parents:
        raise BookError(f"--src {src} and --out {out} must not contain each other: pick two sibling folders")
    notebooks = executed_notebooks(args.notebooks)
    figures = stage(notebooks, src)
    log = src.parent / f"{src.name}-warnings.txt"
    run_sphinx(src, out, args.timeout, log)
    warnings = [w for w in log.read_text().splitlines() if "WARNING" in w or "ERROR" in w] if log.exists() else []
    for w in warnings:
        print(w, file=sys.stderr)
    problems = check_site(out)
    for p in problems:
        print(f"build_book: {p}", file=sys.stderr)
    if problems:
        raise BookError(f"{len(problems)} problem(s) in the built site {out} (listed above)")
    if args.strict and warnings:
        raise BookError(f"{len(warnings)} Sphinx warning(s) (listed above; --strict)")
    n_pages = len(list(out.rglob("*.html")))
    print(
        f"book: {out / 'index.html'} ({n_pages} pages, {len(notebooks)} notebooks, {sum(figures.values())} "
        f"figures, {len(warnings)} Sphinx warnings) in {time.monotonic() - start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

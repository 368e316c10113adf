"""Sphinx extension of the companion book: plotly figures drawn from their JSON by one shared
``_static/plotly.min.js`` (added only to pages that have figures), and math shown as text (no MathJax).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from docutils import nodes

FIGURE_CLASS = "facnn-plotly"  # the builder's figure markup: <div class="facnn-plotly"> + JSON <script>


def plotly_js() -> Path:
    """The plotly.js bundled with the installed plotly package."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall plotly (pip install --force-reinstall plotly)")
    return path


def _page_scripts(app, pagename, templatename, context, doctree) -> None:
    if FIGURE_CLASS in context.get("body", ""):
        app.add_js_file("plotly.min.js", priority=900)
        app.add_js_file("facnn-plotly.js", priority=901)


def _copy_plotly(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        shutil.copyfile(plotly_js(), Path(app.outdir) / "_static" / "plotly.min.js")


def _math_inline(self, node) -> None:
    self.body.append(f'<code class="math">{self.encode(node.astext())}</code>')
    raise nodes.SkipNode


def _math_block(self, node) -> None:
    self.body.append(f'<pre class="math">{self.encode(node.astext())}</pre>')
    raise nodes.SkipNode


def _docstring(app, what, name, obj, options, lines) -> None:
    """Plain-text habits of facnn's docstrings made safe for reST: ``|x|`` is an absolute value, not a
    substitution; a constant without its own docstring shows none (not its type's, e.g. ``dict``'s)."""
    own = getattr(type(obj), "__doc__", None)
    if what == "data" and own and lines and lines[0].strip() == own.strip().splitlines()[0].strip():
        lines[:] = []
    lines[:] = [re.sub(r"(?<![\\`])\|([^|\s`][^|`]*?)\|(?!_)", r"\\|\1\\|", line) for line in lines]


def setup(app):
    app.add_html_math_renderer("text", (_math_inline, None), (_math_block, None))
    app.connect("html-page-context", _page_scripts)
    app.connect("build-finished", _copy_plotly)
    app.connect("autodoc-process-docstring", _docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

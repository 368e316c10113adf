"""Sphinx configuration of the companion book (``make book``; ``tools/build_book.py`` stages the sources).

Everything the site loads is in it: the furo theme's own files, one shared ``plotly.min.js`` and no
math renderer that fetches anything (math stays as text).
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # facnn_book, the extension beside this file

project = "facnn"
author = "facnn contributors"
copyright = "the facnn contributors"
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.napoleon", "facnn_book"]

# notebooks are shown as executed by make reproduce: never run here
nb_execution_mode = "off"
nb_ipywidgets_js: dict = {}  # no widget manager from a CDN (the builder replaces widget outputs)
nb_merge_streams = True
myst_heading_anchors = 3  # README's [text](#section) links
suppress_warnings = ["myst.header"]  # README's sections start at ##, notebooks' markdown cells at any level

napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_typehints_description_target = "documented"
autodoc_inherit_docstrings = False  # torch's forward() docstring is not ours
autodoc_default_options = {"no-value": True}  # constants by name, not a page of repr
autosummary_generate = False
add_module_names = False

html_math_renderer = "text"  # facnn_book: math as text, never MathJax from a CDN
html_theme = "furo"
html_title = "facnn companion"
html_static_path = [str(HERE / "static")]
html_css_files = ["facnn-book.css"]
html_show_sourcelink = False
html_copy_source = False
html_show_search_summary = False  # its snippets are fetch()ed from each page: refused under file://
html_last_updated_fmt = None
html_theme_options = {"navigation_with_keys": True}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

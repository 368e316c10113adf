"""``make book``: the companion book builds from executed notebooks and reads offline in a real browser.

Two notebooks are executed here at their smallest parameters (06_claims reads the committed records;
01_theorems draws five figures), the site is built by ``tools/build_book.py`` and every page is opened in
headless Chromium (``make browser`` installs Debian's; the test fails, not skips, without it): no console
error, every plotly figure drawn inside its column, every internal link and anchor leads somewhere, and no
request leaves ``file://``. Every child process has a time limit.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "build_book.py"
RUNS = {  # the smallest run of each notebook
    "06_claims.ipynb": [],
    "01_theorems.ipynb": ["-p", "n_random_models", "2", "-p", "n_images", "16", "-p", "device", "cpu"],
}
NOTEBOOK_LIMIT = 240
BUILD_LIMIT = 300


def _builder():
    spec = importlib.util.spec_from_file_location("build_book", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _execute(notebooks: Path, env: dict[str, str]) -> None:
    """Run the notebooks of RUNS with papermill, side by side, each within NOTEBOOK_LIMIT seconds."""
    notebooks.mkdir()
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "papermill", f"notebooks/{name}", str(notebooks / name), *params, "-k", "python3"]
            + ["--no-progress-bar", "--log-level", "WARNING"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, params in RUNS.items()
    }
    try:
        for name, proc in procs.items():
            try:
                _, err = proc.communicate(timeout=NOTEBOOK_LIMIT)
            except subprocess.TimeoutExpired:
                pytest.fail(f"papermill {name} did not finish within {NOTEBOOK_LIMIT} s")
            assert proc.returncode == 0, f"papermill {name} failed:\n{err[-3000:]}"
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("book")
    env = {**os.environ, "FACNN_PNG": "0", "FACNN_OUT": str(tmp / "figures"), "OMP_NUM_THREADS": "1"}
    _execute(tmp / "notebooks", env)
    cmd = [sys.executable, str(TOOL), "--notebooks", str(tmp / "notebooks"), "--out", str(tmp / "site")]
    try:
        r = subprocess.run(
            [*cmd, "--timeout", str(BUILD_LIMIT)], env=env, capture_output=True, text=True, timeout=BUILD_LIMIT + 60
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"tools/build_book.py did not finish within {BUILD_LIMIT + 60} s")
    assert r.returncode == 0, f"the book did not build:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    assert "0 Sphinx warnings" in r.stdout, f"Sphinx warnings (a docstring that is not reST?):\n{r.stderr[-4000:]}"
    return tmp / "site"


def test_no_executed_notebooks_is_refused_with_the_fix(tmp_path, capsys):
    build = _builder()
    with pytest.raises(SystemExit, match=r"no executed notebooks in .*: run `make reproduce`"):
        build.main(["--notebooks", str(tmp_path / "none"), "--out", str(tmp_path / "site")])
    with pytest.raises(SystemExit, match=r"01_theorems.ipynb is not an executed copy .*run `make reproduce`"):
        build.main(["--notebooks", str(ROOT / "notebooks"), "--out", str(tmp_path / "site")])  # committed copies
    assert not (tmp_path / "site").exists()


def test_a_failed_run_is_refused(tmp_path):
    nb = json.loads((ROOT / "notebooks" / "06_claims.ipynb").read_text())
    nb["metadata"]["papermill"] = {"exception": True}
    (tmp_path / "nbs").mkdir()
    (tmp_path / "nbs" / "06_claims.ipynb").write_text(json.dumps(nb))
    with pytest.raises(SystemExit, match="stopped at an error"):
        _builder().main(["--notebooks", str(tmp_path / "nbs"), "--out", str(tmp_path / "site")])


def test_plotly_js_is_in_the_site_once(site):
    bundles = [p.relative_to(site).as_posix() for p in site.rglob("*.js") if p.stat().st_size > 1_000_000]
    assert bundles == ["_static/plotly.min.js"], bundles
    signature = (site / "_static" / "plotly.min.js").read_text()[:400]
    pages = list(site.rglob("*.html"))
    with_figures = [p for p in pages if 'class="facnn-plotly"' in p.read_text()]
    assert "01_theorems.html" in {p.name for p in with_figures}
    for page in pages:
        html = page.read_text()
        assert signature not in html and len(html) < 1_000_000, f"{page}: plotly.js inlined"
        if page in with_figures:
            assert re.search(r'<script src="[./]*_static/plotly\.min\.js', html), f"{page} does not load plotly.js"


def test_every_page_works_offline_in_chromium(site):
    from facnn.viz.png_export import find_browser

    chromium = find_browser()
    assert chromium, "no Chromium found: run `make browser` (installs Debian's chromium) or set BROWSER_PATH"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: pip install -e '.[test]'")
    pages = sorted(site.rglob("*.html"))
    errors: list[str] = []
    remote: list[str] = []
    links: dict[str, set[str]] = {}  # file URL -> hrefs found there
    ids: dict[str, set[str]] = {}  # file URL -> ids in it
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, timeout=60_000)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(30_000)
            context.route(re.compile(r"^(?!file:|data:|blob:|about:)"), lambda route: route.abort())
            page = context.new_page()
            page.on("request", lambda r: None if re.match(r"(file|data|blob|about):", r.url) else remote.append(r.url))
            page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
            for path in pages:
                url = path.as_uri()
                page.goto(url, wait_until="load")
                n = page.locator("div.facnn-plotly").count()
                if n:  # drawn (an SVG inside) and within its column (scaled down when wider)
                    page.wait_for_function(
                        """() => [...document.querySelectorAll('div.facnn-plotly')].every(d => {
                             const box = d.getBoundingClientRect(), col = d.parentElement.getBoundingClientRect();
                             return d.querySelector('.main-svg') && box.width > 50 && box.right <= col.right + 1;
                           })""",
                        timeout=30_000,
                    )
                links[url] = set(page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)"))
                ids[url] = set(page.eval_on_selector_all("[id]", "es => es.map(e => e.id)"))
            page.goto((site / "search.html").as_uri() + "?q=attribution")  # the search index works offline too
            page.wait_for_selector("#search-results li", timeout=30_000)
        finally:
            browser.close()
    assert not errors, "\n".join(errors)
    assert not remote, f"requests left file://: {remote}"
    broken = []
    for url, hrefs in links.items():
        for href in hrefs:
            parts = urlsplit(href)
            if parts.scheme != "file":
                continue  # links out of the site (e.g. the theme's credits) are followed, never loaded
            target = Path(unquote(parts.path))
            if not target.exists():
                broken.append(f"{url}: {href}")
            elif parts.fragment and unquote(parts.fragment) not in ids.get(target.as_uri(), {unquote(parts.fragment)}):
                broken.append(f"{url}: {href} (no such anchor)")
    assert not broken, "\n".join(broken)
    assert len(links) == len(pages) and any("notebooks/01_theorems.html" in u for u in links)

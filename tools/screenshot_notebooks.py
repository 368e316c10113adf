"""Open executed notebooks in JupyterLab in headless Chromium and screenshot them, one image per cell
that has outputs, so a person can look at what a user sees (figures rendered by the browser, widgets included).

    .venv/bin/python tools/screenshot_notebooks.py runs/notebooks/0*.ipynb --out /tmp/screens

Writes ``<out>/<notebook stem>-c<NN>.png`` where NN is the cell's 0-based index in the .ipynb (``--all`` also
captures cells without outputs). JupyterLab is started with a throw-away settings dir that turns notebook
windowing off (``windowingMode: none``), so every cell is in the DOM, and with Jupyter news switched off.
Needs a Chromium (Debian's ``chromium``; found by the lookup kaleido uses, ``BROWSER_PATH`` first) and
playwright (``pip install -e '.[screenshots]'``; ``playwright install`` and its browser download are never used):
``make screenshots`` installs both and runs this on ``runs/notebooks/``. JupyterLab starts with this Python's
kernel spec first on ``JUPYTER_PATH`` and a throw-away home for its runtime files.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = {  # JupyterLab user settings written into a temporary user_settings_dir
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, lab: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until JupyterLab answers on ``port``."""
    import urllib.request

    end = time.time() + timeout
    while time.time() < end:
        if lab.poll() is not None:
            raise SystemExit("jupyter lab exited: is jupyterlab installed (pip install -e '.[notebooks]')?")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2)
            return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"jupyter lab did not answer on port {port} within {timeout:.0f} s")


def shoot(page, nb: Path, out: Path, port: int, every: bool, width: int, settle: float) -> int:
    """Screenshot each (output-bearing) cell of ``nb``; return the number of images written."""
    cells = json.loads(nb.read_text())["cells"]
    page.set_viewport_size({"width": width, "height": 1000})
    page.goto(f"http://127.0.0.1:{port}/lab/tree/{nb.name}?reset", timeout=120_000)  # reset: no other tabs
    dom = page.locator(".jp-NotebookPanel:visible .jp-Notebook .jp-Cell")
    dom.first.wait_for(timeout=60_000)
    end = time.time() + 60
    while dom.count() < len(cells) and time.time() < end:
        time.sleep(0.5)
    time.sleep(settle)  # let plotly and widgets draw
    for button in page.get_by_role("button", name="No", exact=True).all():  # the news pop-up, if any
        try:
            button.click(timeout=2000)
        except Exception:  # not visible or not clickable: nothing to dismiss
            pass
    if dom.count() != len(cells):
        print(f"{nb.name}: {dom.count()} cells in the page, {len(cells)} in the file", file=sys.stderr)
    tall = max((dom.nth(i).bounding_box() or {"height": 0})["height"] for i in range(dom.count()))
    page.set_viewport_size({"width": width, "height": int(max(1000, tall + 200))})  # every cell fits
    time.sleep(1)
    n = 0
    for i, cell in enumerate(cells[: dom.count()]):
        if not (every or cell.get("outputs")):
            continue
        el = dom.nth(i)
        el.scroll_into_view_if_needed()
        time.sleep(0.5)
        el.screenshot(path=str(out / f"{nb.stem}-c{i:02d}.png"))
        n += 1
    return n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="+", type=Path)
    p.add_argument("--out", type=Path, default=Path("runs/screens"))
    p.add_argument("--all", action="store_true", help="also screenshot cells without outputs")
    p.add_argument("--width", type=int, default=1400)
    p.add_argument("--settle", type=float, default=8.0, help="seconds to wait for figures to draw")
    args = p.parse_args()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SystemExit(
            "playwright is not installed: run 'make screenshots' or pip install -e '.[screenshots]'"
        ) from None
    from facnn.viz.png_export import find_browser

    chromium = find_browser()
    if chromium is None:
        raise SystemExit(
            "no Chromium found (looked at BROWSER_PATH, PATH and the usual install paths): run "
            "'make screenshots' as root, or 'sudo apt-get install chromium', or set BROWSER_PATH"
        )
    missing = [str(nb) for nb in args.notebooks if not nb.is_file()]
    if missing:
        raise SystemExit(
            f"no such notebook: {', '.join(missing)} (executed notebooks are written by 'make reproduce' "
            "into runs/notebooks/)"
        )

    root = Path(args.notebooks[0]).resolve().parent
    tmp = Path(tempfile.mkdtemp(prefix="nbshots-"))
    for name, value in SETTINGS.items():
        (tmp / "settings" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / "settings" / name).write_text(json.dumps(value))
    port = free_port()
    env = {
        **os.environ,
        "JUPYTER_PATH": os.pathsep.join(
            filter(None, [str(Path(sys.prefix) / "share" / "jupyter"), os.environ.get("JUPYTER_PATH")])
        ),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
    }
    lab = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--allow-root",
            "--ServerApp.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={root}",
            f"--LabApp.user_settings_dir={tmp / 'settings'}",
            f"--LabApp.workspaces_dir={tmp / 'ws'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        wait_for(port, lab)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium,
                timeout=60_000,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
            for nb in args.notebooks:
                page = browser.new_page()
                n = shoot(page, nb.resolve(), args.out, port, args.all, args.width, args.settle)
                page.close()
                print(f"{nb.name}: {n} cell screens in {args.out}")
            browser.close()
    finally:
        lab.terminate()
        lab.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

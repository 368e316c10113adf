"""Open executed notebooks in JupyterLab in headless Chromium and screenshot them, page by page,
so a person can look at what a user sees (figures rendered by the browser, widgets included).

    python tools/screenshot_notebooks.py runs/notebooks/*.ipynb --out runs/screens

Needs Debian's ``chromium`` and ``pip install playwright`` (its own browser download is not used).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path


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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="+", type=Path)
    p.add_argument("--out", type=Path, default=Path("runs/screens"))
    p.add_argument("--pages", type=int, default=6, help="screens per notebook (scrolling down)")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    root = Path(args.notebooks[0]).resolve().parent
    port = free_port()
    lab = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                            "--allow-root", "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={root}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        wait_for(port, lab)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for nb in args.notebooks:
                page.goto(f"http://127.0.0.1:{port}/lab/tree/{nb.name}", timeout=120_000)
                page.wait_for_selector(".jp-Notebook", timeout=60_000)
                time.sleep(8)  # let plotly draw
                for button in page.get_by_role("button", name="No", exact=True).all():  # the news pop-up, if any
                    try:
                        button.click(timeout=2000)
                    except Exception:  # not visible or not clickable: nothing to dismiss
                        pass
                panel = page.locator(".jp-WindowedPanel-outer").first
                for i in range(args.pages):
                    page.screenshot(path=str(args.out / f"{nb.stem}-{i}.png"))
                    panel.evaluate("el => el.scrollBy(0, el.clientHeight * 0.9)")
                    time.sleep(2)
                print(f"{nb.name}: {args.pages} screens in {args.out}")
            browser.close()
    finally:
        lab.terminate()


if __name__ == "__main__":
    main()

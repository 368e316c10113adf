"""Static PNG export of plotly figures that cannot hang.

kaleido (≥ 1) draws PNGs in a headless Chromium. Where no browser exists, its sync server waits
for one forever, so an export inside the notebook's own process can stall a kernel (and a CI run)
with no error. Here the export happens in a worker process that keeps one browser for every
figure (~2 s a figure instead of ~6 s with a browser per figure), and every request is bounded:

- before starting anything, the browser is looked up the way kaleido/choreographer look it up
  (``BROWSER_PATH``, then ``PATH``, then the usual install paths); none found → no worker;
- each figure waits at most ``FACNN_PNG_TIMEOUT`` seconds (default 60, the first one includes the
  browser's start); on a timeout the worker and its browser are killed and PNG export is off for
  the rest of the process;
- ``FACNN_PNG=0`` turns PNG export off (CI and quick runs); HTML and plotly JSON are always written.

Any failure prints one line to stderr, once per process, saying how to get PNGs.

Examples
--------
>>> import os
>>> os.environ.get("FACNN_PNG", "1") in ("0", "1")
True
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import cast

__all__ = ["find_browser", "png_enabled", "export_png", "PNG_ENV", "TIMEOUT_ENV"]

PNG_ENV = "FACNN_PNG"
TIMEOUT_ENV = "FACNN_PNG_TIMEOUT"
HOW_TO_GET_PNGS = (
    "install Chromium (Debian: 'apt-get install chromium'; or 'plotly_get_chrome') or point "
    "BROWSER_PATH at one; FACNN_PNG=0 turns PNG export off"
)

_state: dict[str, object] = {}  # "worker": _Worker, "off": reason PNG export stopped in this process


def png_enabled() -> bool:
    """False when ``FACNN_PNG`` is ``0``/``false``/``no``/``off`` (PNG export switched off)."""
    return os.environ.get(PNG_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def export_timeout() -> float:
    """Seconds one PNG may take (``FACNN_PNG_TIMEOUT``, default 60)."""
    raw = os.environ.get(TIMEOUT_ENV, "60")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds: set it to e.g. 60") from None
    if not value > 0:
        raise ValueError(f"{TIMEOUT_ENV}={raw!r} must be a positive number of seconds: set it to e.g. 60")
    return value


def find_browser() -> str | None:
    """The Chromium kaleido would start (choreographer's own lookup), or ``None`` when there is none
    or the path it names is not an executable file.

    >>> find_browser() is None or Path(find_browser()).is_file()
    True
    """
    try:
        from choreographer.browsers.chromium import Chromium
    except ImportError:  # kaleido < 1 or not installed
        return None
    path = Chromium.find_browser(skip_local=False)
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


class _Worker:
    """A child process holding kaleido's sync server; one JSON line per request and per answer."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )  # its own group: the browser dies with it
        self.answers: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None  # started with stdout=PIPE
        for line in self.proc.stdout:
            self.answers.put(line)
        self.answers.put(None)  # the worker ended

    def export(self, plotly_json: Path, png: Path, scale: float, timeout: float) -> None:
        assert self.proc.stdin is not None  # started with stdin=PIPE
        self.proc.stdin.write(json.dumps({"json": str(plotly_json), "png": str(png), "scale": scale}) + "\n")
        self.proc.stdin.flush()
        try:
            answer = self.answers.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no PNG from kaleido within {timeout:g} s ({TIMEOUT_ENV} sets the limit)") from None
        if answer is None:
            raise RuntimeError(f"the PNG worker exited with status {self.proc.wait()}")
        reply = json.loads(answer)
        if "error" in reply:
            raise RuntimeError(reply["error"])

    def stop(self, wait: float = 10.0) -> None:
        """Ask the worker to stop; kill it and its browser if it has not within ``wait`` seconds."""
        assert self.proc.stdin is not None  # started with stdin=PIPE
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=wait)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()

    def kill(self) -> None:
        """Kill the worker and every process under it (choreographer starts the browser in a
        session of its own, so killing the worker's process group alone would orphan it)."""
        try:
            import psutil

            family = psutil.Process(self.proc.pid).children(recursive=True)
        except Exception:  # psutil missing or the worker already gone
            family = []
        for p in family:
            try:
                p.kill()
            except Exception:  # gone meanwhile
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (OSError, AttributeError):  # already gone, or no process groups (Windows)
            self.proc.kill()
        self.proc.wait()


def _stop_worker() -> None:
    worker = _state.pop("worker", None)
    if isinstance(worker, _Worker):
        worker.stop()


def _give_up(reason: str) -> str:
    """Turn PNG export off for this process and say so once on stderr; return ``reason``."""
    if "off" not in _state:
        _state["off"] = reason
        print(
            f"facnn: no PNG figures ({reason}); HTML and JSON were written. For PNGs, {HOW_TO_GET_PNGS}.",
            file=sys.stderr,
        )
    return reason


def export_png(plotly_json: Path, png: Path, scale: float = 2.0) -> str | None:
    """Draw the plotly JSON file ``plotly_json`` as ``png``; return ``None`` on success, else why not.

    Never raises for a missing or stuck browser and never waits longer than ``FACNN_PNG_TIMEOUT``.

    Examples
    --------
    >>> import os, plotly.graph_objects as go, tempfile
    >>> os.environ["FACNN_PNG"] = "0"
    >>> d = Path(tempfile.mkdtemp()); _ = (d / "f.plotly.json").write_text(go.Figure().to_json())
    >>> export_png(d / "f.plotly.json", d / "f.png")
    'PNG export switched off (FACNN_PNG=0)'
    >>> del os.environ["FACNN_PNG"]
    """
    if not png_enabled():
        return f"PNG export switched off ({PNG_ENV}={os.environ[PNG_ENV]})"
    if "off" in _state:
        return str(_state["off"])
    timeout = export_timeout()
    worker = cast("_Worker | None", _state.get("worker"))
    if worker is None:
        browser = find_browser()
        if browser is None:
            return _give_up("no Chromium found")
        worker = _state["worker"] = _Worker()
        atexit.register(_stop_worker)
    try:
        worker.export(plotly_json, png, scale, timeout)
    except TimeoutError as e:
        _state.pop("worker", None)
        worker.kill()
        return _give_up(str(e))
    except (RuntimeError, OSError, ValueError) as e:
        if worker.proc.poll() is not None:  # the worker died: stop trying
            _state.pop("worker", None)
            return _give_up(str(e).splitlines()[0][:200] if str(e) else type(e).__name__)
        return f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
    return None


def _serve() -> None:
    """The worker: one kaleido sync server for every request read from stdin, until stdin closes."""
    import warnings

    import kaleido
    import plotly.io as pio

    kaleido.start_sync_server(silence_warnings=True)
    try:
        for line in sys.stdin:
            request = json.loads(line)
            reply: dict[str, object]
            try:
                fig = pio.read_json(request["json"])
                with warnings.catch_warnings():  # plotly warns that per-call browser options go unused with a server
                    warnings.simplefilter("ignore", UserWarning)
                    fig.write_image(request["png"], scale=request["scale"])
                reply = {"ok": True}
            except Exception as e:  # reported to the parent, which keeps HTML/JSON
                reply = {"error": f"{type(e).__name__}: {e}"}
            print(json.dumps(reply), flush=True)
    finally:
        kaleido.stop_sync_server(silence_warnings=True)


if __name__ == "__main__":
    _serve()

"""The README's commands on a machine nobody prepared: no Chromium, no writable home, a stale
``python3`` kernel spec, and the user's own commands exactly as typed.

Nothing here uninstalls anything: the browser is hidden from the lookup (``BROWSER_PATH`` pointing
at nothing, the variable kaleido's own lookup reads first) or replaced by one that never answers.
Every child process has a time limit, so a hang is a red test with a message, never a stalled CI.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from facnn.viz import png_export

ROOT = Path(__file__).resolve().parent.parent
NO_BROWSER = "/nonexistent/chromium"
TINY_01 = ["-p", "n_random_models", "2", "-p", "n_images", "16", "-p", "device", "cpu"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A child's environment: no browser, a home that cannot be written (a regular file), outputs under tmp."""
    home = tmp_path / "home-is-a-file"
    home.write_text("")
    env = {k: v for k, v in os.environ.items() if k not in (png_export.PNG_ENV, "FACNN_OUT", "JUPYTER_PATH")}
    env.update(BROWSER_PATH=NO_BROWSER, HOME=str(home), FACNN_HOME=str(tmp_path), OMP_NUM_THREADS="1", **extra)
    return env


def _run(cmd: list[str], limit: float, what: str, **kw) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=limit, **kw)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} did not finish within {limit:.0f} s: something waits forever (a browser for PNG export?)")


@pytest.fixture
def fresh_export(monkeypatch):
    """PNG export as a new process has it (no worker, not given up), stopped again afterwards."""
    monkeypatch.delenv(png_export.PNG_ENV, raising=False)
    png_export._stop_worker()
    png_export._state.clear()
    yield
    png_export._stop_worker()
    png_export._state.clear()


def _figure_json(tmp_path: Path) -> Path:
    import plotly.graph_objects as go

    path = tmp_path / "f.plotly.json"
    path.write_text(go.Figure(go.Bar(x=["a", "b"], y=[1, 2]), layout=dict(width=300, height=200)).to_json())
    return path


def test_no_browser_found_means_no_worker_and_one_line_saying_how(tmp_path, monkeypatch, fresh_export, capsys):
    monkeypatch.setenv("BROWSER_PATH", NO_BROWSER)
    assert png_export.find_browser() is None
    start = time.monotonic()
    first = png_export.export_png(_figure_json(tmp_path), tmp_path / "f.png")
    second = png_export.export_png(_figure_json(tmp_path), tmp_path / "g.png")
    assert time.monotonic() - start < 5  # nothing was started, nothing waited
    assert first == second == "no Chromium found" and "worker" not in png_export._state
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "apt-get install chromium" in err[0] and "FACNN_PNG=0" in err[0]
    assert not (tmp_path / "f.png").exists()


def test_switched_off_by_the_environment(tmp_path, monkeypatch, fresh_export, capsys):
    monkeypatch.setenv(png_export.PNG_ENV, "0")
    assert png_export.export_png(_figure_json(tmp_path), tmp_path / "f.png") == "PNG export switched off (FACNN_PNG=0)"
    assert "worker" not in png_export._state and capsys.readouterr().err == ""  # asked for: nothing to say


def test_a_bad_timeout_is_refused_with_the_fix(tmp_path, monkeypatch, fresh_export):
    monkeypatch.setenv(png_export.TIMEOUT_ENV, "soon")
    with pytest.raises(ValueError, match="FACNN_PNG_TIMEOUT='soon' is not a number of seconds"):
        png_export.export_png(_figure_json(tmp_path), tmp_path / "f.png")


def _process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # killed, not yet reaped by init


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc (Linux)")
def test_a_browser_that_never_answers_is_killed_after_the_timeout(tmp_path, monkeypatch, fresh_export, capsys):
    pidfile = tmp_path / "browser.pid"
    fake = tmp_path / "chromium"
    fake.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 600\n")
    fake.chmod(0o755)
    monkeypatch.setenv("BROWSER_PATH", str(fake))
    monkeypatch.setenv(png_export.TIMEOUT_ENV, "3")
    start = time.monotonic()
    error = png_export.export_png(_figure_json(tmp_path), tmp_path / "f.png")
    assert time.monotonic() - start < 30, "the export outlived its timeout"
    assert error == "no PNG from kaleido within 3 s (FACNN_PNG_TIMEOUT sets the limit)"
    pid = int(pidfile.read_text())
    assert _process_gone(pid), "the stuck browser was left running"
    # export stays off for the process: the next figure does not wait again
    start = time.monotonic()
    assert png_export.export_png(_figure_json(tmp_path), tmp_path / "g.png") == error
    assert time.monotonic() - start < 1
    assert capsys.readouterr().err.count("facnn: no PNG figures") == 1


@pytest.mark.skipif(
    png_export.find_browser() is None,
    reason="no Chromium on this machine (make reproduce and make screenshots install it)",
)
def test_a_real_browser_draws_the_png(tmp_path, fresh_export):
    assert png_export.export_png(_figure_json(tmp_path), tmp_path / "f.png", scale=2) is None
    data = (tmp_path / "f.png").read_bytes()
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and (width, height) == (600, 400)


@pytest.mark.parametrize("cwd", [".", "notebooks"])
def test_papermill_as_typed_without_output_path_and_without_browser(tmp_path, cwd):
    """``papermill notebooks/01_theorems.ipynb`` (no output path) with stdout piped, from the
    repository root and from notebooks/ (papermill starts the kernel in the shell's directory,
    nbval and JupyterLab in the notebook's): papermill writes the executed notebook to stdout;
    with no browser and an unwritable home it must finish, figures as HTML, records in place."""
    notebook = str(Path(os.path.relpath(ROOT / "notebooks" / "01_theorems.ipynb", ROOT / cwd)))
    r = _run(
        [sys.executable, "-m", "papermill", notebook, *TINY_01, "-k", "python3"],
        300,
        "papermill notebook 01 with no browser",
        cwd=ROOT / cwd,
        env=_env(tmp_path),
    )
    assert r.returncode == 0, r.stderr[-3000:]
    executed = json.loads(r.stdout)
    assert executed["metadata"]["papermill"]["exception"] is None
    out = tmp_path / "runs" / "figures"
    assert (out / "theorem2_morph.html").is_file() and not list(out.glob("*.png"))
    run = json.loads((out / "theorems.json").read_text())["runs"][0]
    assert run["records"][0]["theorem1_error"] <= 1e-5 and run["parameters"]["n_random_models"] == 2
    assert run["weights"].startswith("pretrained fashion-mnist/facnn sha256:")
    assert run["command"].startswith("papermill notebooks/01_theorems.ipynb out.ipynb -y ")
    stderr_outputs = [
        o["text"]
        for c in executed["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
        if o.get("name") == "stderr" and "no PNG figures" in "".join(o["text"])
    ]
    assert len(stderr_outputs) == 1, "the notebook should say once how to get PNGs"


def test_papermill_without_output_path_in_a_terminal_says_what_to_do(tmp_path):
    before = (ROOT / "notebooks/03_pixel_removal.ipynb").read_bytes()
    leader, follower = pty.openpty()  # a terminal, as a user types it
    try:
        p = subprocess.run(
            [sys.executable, "-m", "papermill", "notebooks/03_pixel_removal.ipynb"],
            cwd=ROOT,
            stdin=follower,
            stdout=follower,
            stderr=subprocess.PIPE,
            env=_env(tmp_path),
            timeout=120,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert p.returncode == 2 and b"Missing argument 'OUTPUT_PATH'" in p.stderr
    assert b"NOTEBOOK_PATH [OUTPUT_PATH]" in p.stderr  # the usage line names what to add
    assert (ROOT / "notebooks/03_pixel_removal.ipynb").read_bytes() == before


def _stale_python3_kernel(where: Path) -> Path:
    spec = where / "kernels" / "python3"
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(
        json.dumps(
            {
                "argv": ["/nonexistent/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "a Python elsewhere",
                "language": "python",
            }
        )
    )
    return where


def test_pytest_nbval_as_typed_ignores_a_stale_python3_kernel(tmp_path):
    """``pytest --nbval notebooks/`` (no --nbval-current-env) from the repository root, with a
    ``python3`` kernel spec that points at another Python, as a Jupyter install can leave one."""
    env = _env(tmp_path, FACNN_PNG="0", JUPYTER_PATH=str(_stale_python3_kernel(tmp_path / "jupyter")))
    env.pop("FACNN_HOME")  # the committed records of this checkout
    cmd = [sys.executable, "-m", "pytest", "--nbval", "notebooks/06_claims.ipynb", "-q", "-p", "no:cacheprovider"]
    r = _run(cmd, 300, "pytest --nbval notebooks/06_claims.ipynb", cwd=ROOT, env=env)
    assert r.returncode == 0, r.stdout[-3000:]
    control = _run([*cmd, "--nbval-kernel-name", "python3"], 300, "the control run", cwd=ROOT, env=env)
    assert control.returncode != 0 and "/nonexistent/python" in control.stdout  # the stale spec is really there


def _execute_in_lab(port: int, token: str, notebook: str, code: str, limit: float = 120) -> str:
    """Open ``notebook`` in a running JupyterLab as the browser does (a session with the notebook's
    kernel) and run ``code`` in its kernel; return what it printed."""
    from tornado.ioloop import IOLoop
    from tornado.websocket import websocket_connect

    body = json.dumps({"path": notebook, "type": "notebook", "name": "", "kernel": {"name": "python3"}}).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/sessions?token={token}",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    kernel = json.loads(urllib.request.urlopen(req, timeout=60).read())["kernel"]["id"]
    msg_id = uuid.uuid4().hex

    async def run() -> str:
        ws = await websocket_connect(f"ws://127.0.0.1:{port}/api/kernels/{kernel}/channels?token={token}")
        header = {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": "test",
            "session": uuid.uuid4().hex,
            "version": "5.3",
            "date": "",
        }
        ws.write_message(
            json.dumps(
                {
                    "header": header,
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                    },
                }
            )
        )
        printed = []
        while True:
            msg = json.loads(await ws.read_message())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                printed.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                ws.close()
                return "".join(printed)

    return IOLoop.current().run_sync(run, timeout=limit)


@pytest.mark.skipif(shutil.which("make") is None, reason="make lab needs make (the README's commands need it too)")
@pytest.mark.skipif(
    Path(sys.prefix).resolve() != (ROOT / ".venv").resolve(),
    reason="make lab serves the project's .venv; this pytest runs from another environment",
)
def test_make_lab_opens_notebooks_in_the_venvs_kernel(tmp_path):
    """``make lab`` (JupyterLab from the venv): a notebook opened there gets a kernel that imports
    facnn, even with a stale ``python3`` kernel spec on the user's ``JUPYTER_PATH`` (which jupyter
    puts before the venv's own; a stale one in ``~/.local`` loses to the venv's anyway)."""
    stale = _stale_python3_kernel(tmp_path / "jupyter")
    env = {**_env(tmp_path), "HOME": str(tmp_path / "home"), "JUPYTER_PATH": str(stale)}
    env.pop("FACNN_HOME")
    find = "from jupyter_client.kernelspec import KernelSpecManager as K; print(K().find_kernel_specs()['python3'])"
    control = _run([sys.executable, "-c", find], 60, "the kernel spec lookup", env=env)
    assert control.stdout.strip().startswith(str(stale)), control  # without make lab, the stale spec would win
    port, token = _free_port(), uuid.uuid4().hex
    args = f"--no-browser --port={port} --ip=127.0.0.1 --allow-root --ServerApp.token={token}"
    lab = subprocess.Popen(
        ["make", "-s", "lab", f"LAB_ARGS={args}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        end = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if lab.poll() is not None or time.monotonic() > end:
                    pytest.fail(f"make lab did not serve JupyterLab within 120 s: {lab.stderr.read()[-2000:]!r}")
                time.sleep(1)
        printed = _execute_in_lab(
            port, token, "notebooks/01_theorems.ipynb", "import sys, facnn; print(sys.prefix); print(facnn.__name__)"
        )
        assert printed.split() == [sys.prefix, "facnn"], printed
    finally:
        os.killpg(lab.pid, 15)
        lab.wait(timeout=60)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make setup needs make (the README's commands need it too)")
def test_make_setup_on_a_disk_too_small_stops_before_pip_and_names_the_fix(tmp_path):
    """A disk with less room than the environment needs (here: the threshold set one GB above what is
    free) stops ``make setup`` before any venv or pip work, saying how much is needed and what to do."""
    need = int(shutil.disk_usage(tmp_path).free / 2**30) + 1
    venv = tmp_path / "venv"
    done = _run(
        ["make", "-s", f"VENV={venv}", f"SETUP_FREE_GB={need}", f"{venv}/.installed"],
        60,
        "make setup's disk check",
        cwd=ROOT,
    )
    assert done.returncode != 0
    assert f"setup needs about {need} GB free" in done.stderr, done.stderr
    assert "VENV=/path/with/space" in done.stderr and str(tmp_path) in done.stderr, done.stderr
    assert not venv.exists()  # nothing half-installed

"""Records and commands: one run per parameter set, commands that papermill parses back to the
recorded values (README's too), and the reproduction check's verdicts."""

import contextlib
import json
import re
import shlex
from pathlib import Path

import pytest

from facnn.companion import records as rec
from facnn.companion import reproduce

ROOT = Path(__file__).resolve().parent.parent


def injected(command: str, tmp_path: Path) -> dict:
    """Run a recorded papermill command line with --prepare-only and return the injected parameters."""
    args = shlex.split(command)
    assert args[0] == "papermill", command
    out = tmp_path / "prepared.ipynb"
    args[2] = str(out)
    from click.testing import CliRunner
    from papermill.cli import (
        papermill,
    )  # papermill's own command line, in this process (no interpreter start per command)

    with contextlib.chdir(ROOT):
        result = CliRunner().invoke(papermill, [*args[1:], "--prepare-only"], catch_exceptions=False)
    assert result.exit_code == 0, (command, result.output)
    nb = json.loads(out.read_text())
    cell = next(c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", []))
    ns: dict = {}
    exec("".join(cell["source"]), ns)
    return {k: v for k, v in ns.items() if not k.startswith("__")}


def test_a_built_command_gives_back_every_type(tmp_path):
    params = {
        "config_prefix": "fashion_mnist",
        "methods": ["rise", "random"],
        "layers": [],
        "n_images": 7,
        "fills": ["zero", "road"],
        "percents": [0, 50.5, 100],
        "weights": "pretrained",
    }
    assert injected(rec.papermill_command("03_pixel_removal.ipynb", params), tmp_path) == params


def test_every_recorded_command_parses_back_to_its_parameters(tmp_path):
    files = sorted((ROOT / "figures").glob("*.json"))
    runs = [r for f in files for r in (json.loads(f.read_text()).get("runs", []) if f.name != "ablation.json" else [])]
    assert runs, "no committed runs"
    for run in runs:
        assert injected(run["command"], tmp_path) == run["parameters"], run["command"]
        assert list(run["parameters"]) == rec.parameter_names(run["notebook"])


def test_readme_and_results_papermill_commands_run_as_written(tmp_path):
    text = (ROOT / "README.md").read_text() + (ROOT / "RESULTS.md").read_text()
    commands = re.findall(r"^(papermill notebooks/\S+ \S+.*)$", text, re.M) + re.findall(
        r"`(papermill notebooks/[^`]+)`", text
    )
    assert commands
    for cmd in commands:
        nb = shlex.split(cmd)[1].split("/")[-1]
        got = injected(cmd, tmp_path)
        assert set(got) <= set(rec.parameter_names(nb)), (cmd, set(got) - set(rec.parameter_names(nb)))


def test_a_run_with_the_same_parameters_replaces_the_old_one(tmp_path, monkeypatch):
    monkeypatch.setenv("FACNN_HOME", str(tmp_path))
    p = {"n_images": 10, "device": "cpu"}
    q = {"value": 0.5, "tol": 0.1, "basis": "test"}
    rec.write_run("exp", "03_pixel_removal.ipynb", p, quantities={"a": q}, records=[])
    rec.write_run("exp", "03_pixel_removal.ipynb", {**p, "device": "cuda"}, quantities={"a": q}, records=[])
    rec.write_run("exp", "03_pixel_removal.ipynb", {**p, "n_images": 20}, quantities={"a": q}, records=[])
    runs = json.loads((tmp_path / "runs" / "figures" / "exp.json").read_text())["runs"]
    assert [r["parameters"]["n_images"] for r in runs] == [10, 20] and runs[0]["parameters"]["device"] == "cuda"
    assert not (tmp_path / "figures" / "exp.json").exists()  # a run never rewrites the committed records


def test_accept_copies_runs_into_the_committed_records_only_when_asked(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FACNN_HOME", str(tmp_path))
    q = {"value": 0.5, "tol": 0.1, "basis": "test"}
    rec.write_run("exp", "03_pixel_removal.ipynb", {"n_images": 10}, quantities={"a": q}, records=[])
    assert rec.committed_run("exp", {"n_images": 10}) is None
    assert rec.main(["accept"]) == 0 and "exp: 03_pixel_removal.ipynb" in capsys.readouterr().out
    assert rec.committed_run("exp", {"n_images": 10})["quantities"]["a"] == q
    rec.write_run("exp", "03_pixel_removal.ipynb", {"n_images": 10}, quantities={"a": {**q, "value": 0.6}}, records=[])
    rec.write_run("exp", "03_pixel_removal.ipynb", {"n_images": 20}, quantities={"a": q}, records=[])
    (tmp_path / "runs" / "figures" / "curves_exp.plotly.json").write_text('{"data": []}')  # a figure beside them
    rec.accept()
    runs = json.loads((tmp_path / "figures" / "exp.json").read_text())["runs"]
    assert [(r["parameters"]["n_images"], r["quantities"]["a"]["value"]) for r in runs] == [(10, 0.6), (20, 0.5)]
    with pytest.raises(ValueError, match="committed records folder itself"):
        rec.accept(tmp_path / "figures")
    with pytest.raises(SystemExit):
        rec.main(["accept", str(tmp_path / "nowhere")])
    assert "is not a folder" in capsys.readouterr().err


def test_a_truncated_records_file_names_itself_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("FACNN_HOME", str(tmp_path))
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "exp.json").write_text('{"experiment": "exp", "runs": [')
    with pytest.raises(ValueError, match=r"exp\.json is not valid JSON .*git checkout"):
        rec.committed_run("exp", {})


def test_the_reproduction_check_compares_within_tolerance(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FACNN_HOME", str(tmp_path))
    p = {"n_images": 10}
    assert reproduce.summary(reproduce.check("exp", p, {})) == "no committed record for these parameters"
    rec.write_run(
        "exp",
        "03_pixel_removal.ipynb",
        p,
        records=[],
        quantities={"auc": rec.quantity(0.5, 0.1), "acc": rec.quantity(0.9, 0.01)},
    )
    assert reproduce.summary(reproduce.check("exp", p, {})) == "no committed record for these parameters"
    rec.accept()  # now it is the committed record
    ok = reproduce.check("exp", p, {"auc": rec.quantity(0.55, 0.1), "acc": rec.quantity(0.905, 0.01)})
    assert reproduce.summary(ok).endswith("True") and all(r.ok for r in ok)
    assert reproduce.main() == 0
    bad = reproduce.check("exp", p, {"auc": rec.quantity(0.75, 0.1), "acc": rec.quantity(0.9, 0.01)})
    assert [r.quantity for r in bad if not r.ok] == ["auc"]
    assert reproduce.main() == 1 and "NO" in capsys.readouterr().out


def test_adding_a_parameter_migrates_old_runs_to_the_notebooks_order(tmp_path, monkeypatch):
    """tools/add_parameter.py: old runs get the new parameter at its place, a new key and a command
    that papermill parses back to the migrated parameters."""
    import sys

    monkeypatch.setenv("FACNN_HOME", str(tmp_path))
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    sys.modules.pop("add_parameter", None)
    from add_parameter import migrate

    names = rec.parameter_names("05_localisation.ipynb")
    old = {"config_prefix": "fashion_mnist", "weights": "pretrained", "n_grids": 3}
    rec.write_run("localisation", "05_localisation.ipynb", old, quantities={}, records=[])
    rec.accept()
    assert migrate("05_localisation.ipynb", "localisation", "model", "facnn") == 1
    run = json.loads((tmp_path / "figures" / "localisation.json").read_text())["runs"][0]
    assert list(run["parameters"]) == [n for n in names if n in run["parameters"]]
    assert run["parameters"]["model"] == "facnn" and run["key"] == rec.run_key(run["parameters"])
    assert injected(run["command"], tmp_path) == run["parameters"]
    assert migrate("05_localisation.ipynb", "localisation", "model", "facnn") == 0  # idempotent


def test_committed_records_describe_methods_by_fields():
    """Every method record says what it was made with (kind, model, layer; its label follows from
    them) and every comparison says which side won, so no reader parses a label or a sentence."""
    from facnn.explain.catalogue import method_of

    checked = 0
    for path in sorted((ROOT / "figures").glob("*.json")):
        data = json.loads(path.read_text())
        for run in data.get("runs", []) if isinstance(data, dict) else []:
            for r in run.get("records", []):
                if "method" not in r:
                    continue
                assert {"kind", "model", "layer"} <= set(r), f"{path.name}: {r['method']} lacks its fields"
                if r.get("temperature") is None:  # the CoDA temperature sweep names its models by T
                    assert method_of(r).label == r["method"], (path.name, r["method"], method_of(r))
                checked += 1
            for c in run.get("comparisons", []):
                assert c["winner"] in (None, c["reference_method"], c["other_method"]), (path.name, c)
                assert c["significant"] == (c["winner"] is not None)
                assert c["verdict"] == (f"{c['winner']} better" if c["winner"] else "not significant")
    assert checked > 100


def test_migrating_an_old_record_adds_fields_and_changes_no_number():
    import importlib.util

    spec = importlib.util.spec_from_file_location("migrate_records", ROOT / "tools" / "migrate_records.py")
    migrate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migrate)
    old = {
        "records": [
            {"method": "Grad-CAM on hybrid L3", "layer": 3, "auc": {"value": 0.2}},
            {"method": "RISE (centred) on CoDA", "layer": None},
            {"method": "K-OCC k=12", "layer": None},
        ],
        "comparisons": [
            {"reference": "A|morf", "other": "B|morf|road", "difference": {"value": 0.1}, "verdict": "B better"}
        ],
    }
    run = json.loads(json.dumps(old))
    assert migrate.migrate_run(run) == 4 and migrate.migrate_run(run) == 0  # once only
    assert [(r["kind"], r["model"], r["layer"]) for r in run["records"]] == [
        ("gradcam", "hybrid", 3),
        ("rise", "coda", None),
        ("occlusion", "facnn", None),
    ]
    assert run["records"][1]["centred"] and run["records"][2]["window"] == 12
    c = run["comparisons"][0]
    assert (c["winner"], c["significant"], c["order"], c["fill"]) == ("B", True, "morf", "zero")
    assert run["records"][0]["auc"] == old["records"][0]["auc"] and c["difference"] == {"value": 0.1}
    with pytest.raises(ValueError, match="no method of the catalogue"):
        migrate.method_for("my own method", None)


def test_every_notebook_reads_its_data_from_data_root():
    """Issue 28: every notebook that reads images takes ``data_root`` (an execution parameter: where
    the data lies does not change what a run measures, so committed keys stay)."""
    for nb in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        if nb.name == "06_claims.ipynb":  # reads only the committed records
            continue
        assert "data_root" in rec.parameter_names(nb.name), nb.name
        code = nb.with_suffix(".py").read_text().split("# %%", 3)[-1]
        # notebooks 03, 05 and 07 hand all their parameters to facnn.companion.evaluation, which reads data_root
        hands_over = re.search(r"evaluation\.(pixel_removal|localisation|sanity_checks)\(params\)", code)
        assert "data_root" in code or hands_over, f"{nb.name} ignores data_root"
    assert rec.run_key({"n": 1, "data_root": "/a"}) == rec.run_key({"n": 1, "data_root": ""}) == rec.run_key({"n": 1})

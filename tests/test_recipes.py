"""Recipe comparisons of a peer (facnn.companion.recipes): our training recipe against its authors',
on the measures every table reads from a peer, each with its interval and a paired difference where
the units are shared."""

import json
import os
import subprocess
import sys

import pytest

from facnn.companion.recipes import compare_recipes, markdown


def test_bcos_at_our_scale_against_the_published_scale(tmp_path):
    rows = compare_recipes(
        "fashion-mnist/bcos", "fashion-mnist/bcos-published", n_images=12, n_grids=3, n_candidates=300, sanity_images=4
    )
    measures = [r["measure"].split(",")[0].split(":")[0] for r in rows]
    assert measures == ["test accuracy", "MoRF AUC", "MoRF AUC", "pointing game", "cascading randomisation"]
    for r in rows:
        for side in ("ours", "published", "difference"):
            e = r[side]
            assert e["low"] <= e["value"] <= e["high"], (r["measure"], side)
        significant = r["difference"]["low"] > 0 or r["difference"]["high"] < 0
        assert (r["verdict"] != "not significant") == significant
    acc = rows[0]
    # the accuracy difference is the one the claims table reports for these two shipped models
    assert acc["difference"]["value"] == pytest.approx(acc["published"]["value"] - acc["ours"]["value"], abs=1e-4)
    assert acc["verdict"] == "ours better" and acc["paired"]
    assert [r["paired"] for r in rows] == [True, True, True, False, True]  # grids are drawn per model
    table = markdown(rows, "fashion-mnist/bcos", "fashion-mnist/bcos-published")
    assert table.count("\n") == len(rows) + 1 and "\\|map\\|" in table  # pipes escaped inside cells


def test_the_command_refuses_two_architectures_and_unknown_names(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "facnn.companion.recipes"]
    done = subprocess.run(
        [*cmd, "fashion-mnist/bcos", "fashion-mnist/bcos-v9"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 2 and "'fashion-mnist/bcos-v9' is not a shipped model" in done.stderr
    with pytest.raises(ValueError, match="compare two recipes of one architecture"):
        compare_recipes("fashion-mnist/bcos", "fashion-mnist/coda", n_images=2)
    out = tmp_path / "rows.json"
    args = ["fashion-mnist/bcos", "fashion-mnist/bcos-published", "--n-images", "6", "--n-grids", "2"]
    args += ["--n-candidates", "200", "--sanity-images", "2", "--out", str(out)]
    done = subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("| measure |") and len(json.loads(out.read_text())["rows"]) == 5

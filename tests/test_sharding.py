"""Sharded map evaluation: two gloo processes under torchrun give the numbers one process gives
(pixel removal under the zero fill and ROAD, the pointing game, cascading and data randomisation,
with RISE, occlusion, Grad-CAM, FA-CNN maps and the random control), and the evaluation command
writes notebooks 03's, 05's and 07's records."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from facnn.core.distributed import gather_arrays, shard_range

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    from facnn import evaluate
    from facnn.companion import experiments as ex
    from facnn.core.distributed import setup_distributed, world_rank
    setup_distributed(torch.device("cpu"))
    net, res = ex.load_model("fashion_mnist", "facnn", "pretrained", device="cpu")
    x, y = ex.test_batch(res["dataset"], 400, 0, "cpu")
    methods = ["intrinsic", "gradcam", "rise", "occlusion", "random"]
    expl = ex.build_explainers(net, [6], methods, rise_n=40, occlusion_k=8, seed=1)
    rec, units = evaluate.pixel_removal_experiment(
        expl, x[:23], y[:23], percents=[0, 30, 100], fills=["zero", "road"], batch_size=5, seed=1, progress=False,
        cache=sys.argv[2] if len(sys.argv) > 2 else None,
    )
    loc, scores = evaluate.localisation_experiment(
        expl, x, y, n=2, n_grids=7, seed=1, min_confidence=0.0, batch_size=2, progress=False,
        cache=sys.argv[2] if len(sys.argv) > 2 else None,
    )
    from facnn.evaluate.randomisation import shuffled_twin_config
    twin, _ = ex.trained(shuffled_twin_config("fashion_mnist_facnn"), "pretrained")
    few = {k: v for k, v in expl.items() if k != "RISE"}
    kw = dict(seed=1, batch_size=3, cache=sys.argv[2] if len(sys.argv) > 2 else None)
    san = evaluate.sanity_experiment(few, x[:10], y[:10], **kw)
    data = evaluate.data_randomisation(few, {net: twin}, x[:10], y[:10], **kw)
    world, rank = world_rank()
    if rank == 0:
        arrays = {**{"u:" + k: v for k, v in units.items()}, **{"s:" + k: v for k, v in scores.items()}}
        np.savez(sys.argv[1] + ".npz", **arrays)
        out = dict(records=rec, localisation=loc, sanity=san, data=data, world=world)
        json.dump(out, open(sys.argv[1] + ".json", "w"))
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FACNN_DIST_TIMEOUT_S": "300"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def _torchrun(n: int) -> list[str]:
    port = str(_free_port())
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(n), "--master_port", port]


def test_shards_are_whole_batches_in_order_and_cover_everything():
    for n in (0, 1, 7, 23, 100):
        for world in (1, 2, 3):
            parts = [shard_range(n, 5, r, world) for r in range(world)]
            assert [i for p in parts for i in p] == list(range(n))
            assert all(p.start % 5 == 0 for p in parts)
    assert gather_arrays({"a": np.arange(3)})["a"].tolist() == [0, 1, 2]  # one process: unchanged


def test_two_gloo_processes_give_the_numbers_of_one(tmp_path):
    script = tmp_path / "shard.py"
    script.write_text(SCRIPT)
    _run([sys.executable, str(script), str(tmp_path / "one")])
    _run([*_torchrun(2), str(script), str(tmp_path / "two"), str(tmp_path / "cache")])
    one, two = (json.loads((tmp_path / f"{k}.json").read_text()) for k in ("one", "two"))
    assert one["world"] == 1 and two["world"] == 2
    assert one["records"] == two["records"] and one["localisation"] == two["localisation"]
    assert one["sanity"] == two["sanity"] and one["data"] == two["data"]
    assert {r["step"] for r in one["sanity"]} == set(range(7)) and len(one["data"]) == len(one["sanity"]) // 7
    a, b = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    assert sorted(a.files) == sorted(b.files) and any(k.startswith("s:") for k in a.files)
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert {r["n_images"] for r in one["records"]} == {23} and {r["n_grids"] for r in one["localisation"]} == {7}
    # resumed from the maps and grid scores the sharded run cached: the same numbers again
    n_cached = len(list((tmp_path / "cache").glob("*.pt")))
    _run([*_torchrun(2), str(script), str(tmp_path / "again"), str(tmp_path / "cache")])
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["records"] == one["records"] and again["localisation"] == one["localisation"]
    assert again["sanity"] == one["sanity"] and again["data"] == one["data"]
    assert len(list((tmp_path / "cache").glob("*.pt"))) == n_cached  # nothing computed twice


def test_the_evaluation_command_writes_notebook_03s_record(tmp_path):
    params = {"n_images": 12, "rise_n": 20, "methods": ["intrinsic", "random"], "percents": [0, 50, 100]}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FACNN_OUT": str(tmp_path / "out")}
    cmd = [sys.executable, "-m", "facnn.companion.evaluation", "pixel_removal", "--parameters", json.dumps(params)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads((tmp_path / "out" / "pixel_removal.json").read_text())
    (run,) = data["runs"]
    assert run["notebook"] == "03_pixel_removal.ipynb" and run["parameters"]["n_images"] == 12
    assert run["processes"] == 1 and run["evaluation_command"].startswith("python -m facnn.companion.evaluation")
    assert run["command"].startswith("papermill notebooks/03_pixel_removal.ipynb")  # the notebook repeats it
    assert {r["n_images"] for r in run["records"]} == {12} and run["wall_s"] > 0


def test_the_evaluation_command_writes_notebook_05s_record(tmp_path):
    params = {
        "n_grids": 4,
        "n_candidates": 300,
        "rise_n": 20,
        "methods": ["intrinsic", "random", "contributions"],
        "temperatures": [10.0, 1000.0],
    }
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FACNN_OUT": str(tmp_path / "out")}
    cmd = [sys.executable, "-m", "facnn.companion.evaluation", "localisation", "--parameters", json.dumps(params)]
    cmd += ["--cache", str(tmp_path / "cache")]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = json.loads((tmp_path / "out" / "localisation.json").read_text())["runs"]
    assert run["notebook"] == "05_localisation.ipynb" and run["parameters"]["n_grids"] == 4
    assert run["evaluation_command"].startswith("python -m facnn.companion.evaluation localisation")
    methods = [r["method"] for r in run["records"]]
    assert methods[-2:] == ["CoDA T=10 (sweep)", "CoDA T=1000 (sweep)"] and "CoDA contributions" in methods
    assert {r["n_grids"] for r in run["records"]} == {4}
    compared = {(c["reference_method"], c["other_method"], c["paired"]) for c in run["comparisons"]}
    assert ("FA-CNN maps L6", "random", True) in compared  # same model: paired by grid
    assert ("FA-CNN maps L6", "CoDA contributions", False) in compared  # another model: unpaired
    assert ("CoDA T=1000 (sweep)", "CoDA T=10 (sweep)", False) in compared
    # each method's grid scores were cached, one file a batch of grids
    assert len(list((tmp_path / "cache").glob("*.pt"))) == len(methods)


def test_the_evaluation_command_writes_notebook_07s_records(tmp_path):
    params = {"n_images": 5, "rise_n": 20, "methods": ["intrinsic", "random", "contributions"], "occlusion_k": 14}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FACNN_OUT": str(tmp_path / "out")}
    cmd = [sys.executable, "-m", "facnn.companion.evaluation", "sanity_checks", "--parameters", json.dumps(params)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = json.loads((tmp_path / "out" / "sanity_checks.json").read_text())["runs"]
    (data,) = json.loads((tmp_path / "out" / "sanity_checks_data.json").read_text())["runs"]
    for r in (run, data):
        assert r["notebook"] == "07_sanity_checks.ipynb" and r["parameters"]["n_images"] == 5
        assert r["evaluation_command"].startswith("python -m facnn.companion.evaluation sanity_checks")
    fa = {"FA-CNN maps L6", "FA-CNN maps L4", "random"}
    assert {r["method"] for r in run["records"]} == fa | {"CoDA contributions"}
    # every model is compared with its own permuted-label twin: the CoDA-Net's contributions with the CoDA twin's
    assert {r["method"] for r in data["records"]} == fa | {"CoDA contributions"}
    assert data["twin"] == data["twins"]["facnn"] and set(data["twins"]) == {"facnn", "coda"}
    for kind in ("facnn", "coda"):
        assert data["twins"][kind]["source"].startswith(f"pretrained fashion-mnist/{kind}-shuffled-labels")
        assert data["twins"][kind]["train_accuracy"] > 0.95  # it memorised its 256 permuted labels
    assert done.stdout.count("no committed record for these parameters") == 2  # both records are checked


def test_the_evaluation_command_under_torchrun_trains_what_does_not_ship_on_one_process(tmp_path):
    # weights "train" and a permuted-label twin that ships for no config: the first process trains
    # both alone (it once trained them as a 2-process job the other process never joined: a hang)
    params = dict(weights="train", epochs=1, train_subset=64, n_images=4, rise_n=10, methods=["intrinsic", "random"])
    params.update(shuffle_subset=32, shuffle_epochs=2)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FACNN_HOME": str(tmp_path), "FACNN_DIST_TIMEOUT_S": "120"}
    cmd = [*_torchrun(2), "-m", "facnn.companion.evaluation", "sanity_checks", "--parameters", json.dumps(params)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = json.loads((tmp_path / "runs" / "figures" / "sanity_checks.json").read_text())["runs"]
    (data,) = json.loads((tmp_path / "runs" / "figures" / "sanity_checks_data.json").read_text())["runs"]
    assert run["processes"] == 2 and run["evaluation_command"].startswith("torchrun --nproc-per-node 2")
    assert data["twin"]["source"] == "trained" and {r["ssim"]["n"] for r in data["records"]} == {4}
    trained = [json.loads(f.read_text()) for f in (tmp_path / "data" / "checkpoints").glob("*/results.json")]
    assert sorted(len(r["history"]) for r in trained) == [1, 2]  # the model (1 epoch) and its twin (2), once each
    assert all(r["world_size"] == 1 for r in trained)  # each trained by one process


@pytest.mark.parametrize(
    "parameters, message",
    [
        ('{"n_image": 5}', "has no parameter 'n_image'"),
        ('{"n_images": "5"}', "takes a int"),
        ("[1]", "JSON mapping"),
        ("{n_images: 5}", "is not JSON"),
    ],
)
def test_the_evaluation_command_refuses_bad_parameters(parameters, message):
    cmd = [sys.executable, "-m", "facnn.companion.evaluation", "pixel_removal", "--parameters", parameters]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and message in done.stderr


def test_the_map_cache_never_serves_another_models_maps(tmp_path):
    from torch import nn

    from facnn.evaluate.map_cache import MapCache
    from facnn.explain import make_explainer

    torch.manual_seed(0)
    a, b = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)), nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x, y = torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 2, 0])
    cache = MapCache(tmp_path)
    ma = cache.maps("occ", a, make_explainer(a, "occlusion", window=2), 0, x, y)
    mb = cache.maps("occ", b, make_explainer(b, "occlusion", window=2), 0, x, y)
    assert cache.misses == 2 and not torch.equal(ma, mb)
    (next(tmp_path.glob("*.pt"))).write_bytes(b"not a tensor")  # a damaged file is computed again
    cache.maps("occ", a, make_explainer(a, "occlusion", window=2), 0, x, y)
    cache.maps("occ", b, make_explainer(b, "occlusion", window=2), 0, x, y)
    assert cache.hits == 1 and cache.misses == 3

"""Nothing accepted silently, nothing lost: the command line, configs, run folders and checkpoints
refuse what is wrong with a message that names the problem and the fix."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from facnn import FACNN, CheckpointError, load_checkpoint, save_checkpoint
from facnn.checkpoint import atomic_write, read_checkpoint
from facnn.config import TrainConfig, load_config
from facnn.runs import RunFolder
from facnn.train import config_from_args

SMALL = ["--dataset", "digits", "--model-config", '{"depth": 2, "hidden": 8, "pool_at": [2]}', "--no-progress"]


def run(args, check=True):
    return subprocess.run([sys.executable, "-m", "facnn.train", *args], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, check=check)  # fmt: skip


@pytest.mark.parametrize("argv,message", [
    (["--schedule", "linear"], "invalid choice: 'linear'"), (["--loss", "mse"], "invalid choice: 'mse'"),
    (["--optimizer", "adam"], "invalid choice"), (["--model", "vit"], "invalid choice"),
    (["--dataset", "imagenet"], "invalid choice"), (["--epochs", "0"], "epochs=0"), (["--epochs", "-1"], "epochs=-1"),
    (["--batch-size", "0"], "batch_size=0"), (["--train-subset", "-5"], "train_subset=-5"),
    (["--train-subset", "0"], "train_subset=0"), (["--lr", "nan"], "lr=nan"), (["--lr", "-1"], "lr=-1"),
    (["--weight-decay", "-0.1"], "weight_decay"), (["--warmup", "1"], "warmup=1"), (["--label-smoothing", "1.5"], "label_smoothing"),
    (["--seed", "-1"], "seed=-1"), (["--num-workers", "-2"], "num_workers"), (["--image-size", "0"], "image_size"),
    (["--device", "tpu"], "device='tpu'"), (["--epochs", "1.5"], "invalid int"),
    (["--model-config", "{bad"], "not valid JSON"), (["--model-config", "[1, 2]"], "JSON object"),
    (["--model-config", '{"hidden": 1e11}'], "beyond any model"), (["--model-config", '{"depht": 3}'], r"\['depht'\]"),
    (["--config", "no_such_config"], "fashion_mnist_facnn"),
])  # fmt: skip
def test_cli_refuses_impossible_values_before_a_run_starts(argv, message, capsys):
    base = [] if "--config" in argv else ["--config", "fashion_mnist_facnn"]
    with pytest.raises(SystemExit) as e:
        config_from_args(base + argv)
    assert e.value.code != 0
    assert __import__("re").search(message, f"{e.value.code} {capsys.readouterr().err}")


def test_config_files_are_named_in_their_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=f"{bad}.*not valid JSON.*line 1"):
        load_config(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not an object"):
        load_config(bad)
    with pytest.raises(TypeError, match="model_config must be a dict"):
        TrainConfig(model_config=[1])  # type: ignore[arg-type]


def test_a_finished_run_is_not_overwritten_without_being_asked(tmp_path):
    out = tmp_path / "run"
    run([*SMALL, "--epochs", "1", "--out", str(out)])
    before = (out / "checkpoint.pt").read_bytes()
    again = run([*SMALL, "--epochs", "1", "--out", str(out)], check=False)
    assert again.returncode != 0 and "--resume" in again.stderr and "--overwrite" in again.stderr
    assert (out / "checkpoint.pt").read_bytes() == before  # untouched
    run([*SMALL, "--epochs", "1", "--out", str(out), "--overwrite"])
    assert read_checkpoint(out / "checkpoint.pt")["extra"]["epoch"] == 1


def test_one_run_per_folder_and_stale_locks(tmp_path):
    folder = RunFolder(tmp_path / "run")
    with folder.lock():
        with pytest.raises(RuntimeError, match=f"pid {os.getpid()}.*another --out"):
            with folder.lock():
                pass
    assert not (tmp_path / "run" / ".lock").exists()  # released
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # a process that has exited: its lock and temp files are stale
    (tmp_path / "run" / ".lock").write_text(f"{pid} {__import__('socket').gethostname()}")
    (tmp_path / "run" / f".checkpoint.pt.{pid}.tmp").write_bytes(b"half a file")
    with folder.lock():
        assert not (tmp_path / "run" / f".checkpoint.pt.{pid}.tmp").exists()


def test_two_runs_into_one_folder_one_is_refused(tmp_path):
    out = str(tmp_path / "run")
    procs = [subprocess.Popen([sys.executable, "-m", "facnn.train", *SMALL, "--epochs", "2", "--out", out, "--resume"],
                              stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
             for _ in range(2)]  # fmt: skip
    results = [(p.wait(), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    refused = [err for code, err in results if code != 0]
    assert codes[0] == 0, results  # one run finishes...
    # ...and the other either waited its turn (resumed the finished run) or was refused by the lock
    assert all("another run" in err for err in refused), refused
    assert read_checkpoint(tmp_path / "run" / "checkpoint.pt")["extra"]["epoch"] == 2


@pytest.mark.parametrize("value,kind", [(np.float32(1.5), "numpy.float32"), (Path("x"), "PosixPath"),
                                        (lambda: 1, "function"), ({1.5: 2}, "key of type float")])  # fmt: skip
def test_unreadable_extra_never_replaces_a_good_checkpoint(tmp_path, value, kind):
    m = FACNN(10, depth=2, hidden=8)
    path = save_checkpoint(tmp_path / "m.pt", m, extra={"ok": 1})
    before = path.read_bytes()
    with pytest.raises(TypeError, match=kind):
        save_checkpoint(path, m, extra={"bad": value})
    assert path.read_bytes() == before and read_checkpoint(path)["extra"] == {"ok": 1}
    assert not list(tmp_path.glob(".*tmp"))


def test_a_failed_check_removes_the_temporary_file(tmp_path):
    def refuse(p):
        raise ValueError("no")

    with pytest.raises(ValueError):
        atomic_write(tmp_path / "f.txt", lambda p: p.write_text("x"), check=refuse)
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_errors_name_the_true_cause(tmp_path):
    m = FACNN(10, depth=2, hidden=8)
    good = save_checkpoint(tmp_path / "m.pt", m)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        read_checkpoint(empty)
    with pytest.raises(IsADirectoryError, match="folder"):
        read_checkpoint(tmp_path)
    if not torch.cuda.is_available():
        with pytest.raises(CheckpointError, match="no CUDA device.*map_location='cpu'.*fine"):
            read_checkpoint(good, map_location="cuda")
    hostile = tmp_path / "hostile.pt"
    torch.save({"format": "x", "obj": Path("/etc")}, hostile)
    with pytest.raises(CheckpointError, match="PosixPath.*not unpickled"):
        read_checkpoint(hostile)
    for change, match in [(("config", "hidden", 10**11), "beyond any model"), (("config", "depht", 3), "depht"),
                          (("model", None, "vit"), "unknown model 'vit'")]:  # fmt: skip
        ckpt = torch.load(good, weights_only=True)
        key, sub, value = change
        if sub is None:
            ckpt[key] = value
        else:
            ckpt[key][sub] = value
        bad = tmp_path / "bad.pt"
        torch.save(ckpt, bad)
        with pytest.raises(CheckpointError, match=match):
            load_checkpoint(bad)
    ckpt = torch.load(good, weights_only=True)
    del ckpt["state_dict"]["layers.0.branch.0.weight"]
    torch.save(ckpt, tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match=r"missing from the file \['layers.0.branch.0.weight'\]"):
        load_checkpoint(tmp_path / "missing.pt")


def _png(path, array, mode=None):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)


def test_sixteen_bit_images_keep_their_intensity(tmp_path):
    from facnn.data import load_dataset

    half = np.full((16, 16), 32768, dtype=np.uint16)  # half intensity at 16 bits
    for split in ("train", "val"):
        _png(tmp_path / split / "a" / "x.png", half)
        _png(tmp_path / split / "b" / "y.png", np.full((16, 16, 3), 255, dtype=np.uint8))
    d = load_dataset("imagefolder", "train", tmp_path, image_size=16)
    x, y = d.tensors()
    assert abs(float(x[0].mean()) - 0.5) < 0.01 and float(x[1].mean()) == 1.0


def test_image_folder_splits_must_share_their_classes(tmp_path):
    from facnn.data import load_dataset

    img = np.zeros((8, 8, 3), dtype=np.uint8)
    for split, cls in (("train", "cat"), ("train", "dog"), ("val", "cat"), ("val", "emu")):
        _png(tmp_path / split / cls / "0.png", img)
    with pytest.raises(ValueError, match=r"\['emu'\] not in train/ and lacks \['dog'\]"):
        load_dataset("imagefolder", "test", tmp_path, image_size=8)


def test_labels_outside_the_classes_are_refused(tmp_path):
    from facnn.data import ImageData

    with pytest.raises(ValueError, match="label 10 is outside"):
        ImageData(torch.zeros(3, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 10, 2]), [str(i) for i in range(10)], "toy")
    with pytest.raises(ValueError, match="one per image"):
        ImageData(torch.zeros(3, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 1]), ["a", "b"], "toy")


def test_dataset_names_and_files(tmp_path):
    from facnn.data import ImageData, batches, load_dataset

    toy = ImageData(torch.zeros(3, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 1, 0]), ["a", "b"], "toy")
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="batch_size must be a positive int"):
            next(batches(toy, bad))

    with pytest.raises(TypeError, match="dataset name must be a string"):
        load_dataset(None)  # type: ignore[arg-type]
    (tmp_path / "cifar-10-batches-bin").mkdir()
    (tmp_path / "cifar-10-batches-bin" / "data_batch_1.bin").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="lacks data_batch_2.bin"):
        load_dataset("cifar10", "train", tmp_path)


def test_metrics_refuse_what_they_cannot_score():
    from facnn.metrics import PixelRemoval, make_grids, pointing_game
    from facnn.attribution import RandomMaps

    m = FACNN(10, depth=2, hidden=8).eval()
    x, y = torch.rand(2, 1, 28, 28), torch.tensor([1, 2])
    with pytest.raises(ValueError, match="NaN or Inf"):
        PixelRemoval(m).update(x, y, torch.full((2, 28, 28), float("nan")))
    with pytest.raises(ValueError, match="batch_size"):
        PixelRemoval(m, batch_size=0)
    with pytest.raises(ValueError, match="n to be an int ≥ 1"):
        make_grids(m, x, y, n=0)
    with pytest.raises(ValueError, match="n_grids"):
        make_grids(m, x, y, n_grids=0)
    grids, classes = torch.rand(2, 1, 84, 84), torch.randint(0, 10, (2, 9))
    with pytest.raises(ValueError, match="n=2 does not match"):
        pointing_game(RandomMaps(m), grids, classes, n=2)
    assert pointing_game(RandomMaps(m), grids, classes, n=3).shape == (2, 9)


@pytest.mark.parametrize("make,match", [
    (lambda m: __import__("facnn").Occlusion(m, window=4, stride=0), "stride"),
    (lambda m: __import__("facnn").Occlusion(m, window=0), "window"),
    (lambda m: __import__("facnn").Occlusion(m, batch_size=0), "batch_size"),
    (lambda m: __import__("facnn").RISE(m, n_masks=0), "n_masks"),
    (lambda m: __import__("facnn").RISE(m, n_masks=10.5), "ints"),
    (lambda m: __import__("facnn").RISE(m, p=0), "p"),
])  # fmt: skip
def test_explainer_options_are_checked(make, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make(FACNN(10, depth=2, hidden=8))


def test_two_processes_asking_for_one_cached_model_share_one_training(tmp_path):
    """get_or_train in two processes at once: one trains, the other waits for its lock and reads
    the same weights from the cache (no error, no second training)."""
    code = ("import sys, torch; from facnn.train import TrainConfig, get_or_train\n"
            "cfg = TrainConfig(model='facnn', dataset='digits', epochs=2, model_config=dict(depth=2, hidden=8, pool_at=[2]))\n"
            "m, r = get_or_train(cfg, progress=False)\n"
            "print(sum(float(p.double().sum()) for p in m.parameters()), r['test_accuracy'])")  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FACNN_HOME": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]  # fmt: skip
    results = [(p.wait(), p.stdout.read(), p.stderr.read()) for p in procs]
    assert [r[0] for r in results] == [0, 0], results
    assert results[0][1] == results[1][1], results  # the same weights and record
    assert len(list((tmp_path / "data" / "checkpoints").iterdir())) == 1

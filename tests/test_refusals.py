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
from facnn.core.files import atomic_write
from facnn.models import read_checkpoint
from facnn.train import RunFolder, TrainConfig, load_config
from facnn.train.cli import config_from_args

SMALL = ["--dataset", "digits", "--model-config", '{"depth": 2, "hidden": 8, "pool_at": [2]}', "--no-progress"]


def run(args, check=True):
    return subprocess.run(
        [sys.executable, "-m", "facnn.train", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        check=check,
    )


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--schedule", "linear"], "invalid choice: 'linear'"),
        (["--loss", "mse"], "invalid choice: 'mse'"),
        (["--optimizer", "adam"], "invalid choice"),
        (["--model", "vit"], "invalid choice"),
        (["--dataset", "imagenet"], "invalid choice"),
        (["--epochs", "0"], "epochs=0"),
        (["--epochs", "-1"], "epochs=-1"),
        (["--batch-size", "0"], "batch_size=0"),
        (["--train-subset", "-5"], "train_subset=-5"),
        (["--train-subset", "0"], "train_subset=0"),
        (["--lr", "nan"], "lr=nan"),
        (["--lr", "-1"], "lr=-1"),
        (["--weight-decay", "-0.1"], "weight_decay"),
        (["--warmup", "1"], "warmup=1"),
        (["--label-smoothing", "1.5"], "label_smoothing"),
        (["--seed", "-1"], "seed=-1"),
        (["--num-workers", "-2"], "num_workers"),
        (["--image-size", "0"], "image_size"),
        (["--device", "tpu"], "device='tpu'"),
        (["--epochs", "1.5"], "invalid int"),
        (["--model-config", "{bad"], "not valid JSON"),
        (["--model-config", "[1, 2]"], "JSON object"),
        (["--model-config", '{"hidden": 1e11}'], "beyond any model"),
        (["--model-config", '{"depht": 3}'], r"\['depht'\]"),
        (["--config", "no_such_config"], "fashion_mnist_facnn"),
    ],
)
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
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "facnn.train", *SMALL, "--epochs", "2", "--out", out, "--resume"],
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        for _ in range(2)
    ]
    results = [(p.wait(), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    refused = [err for code, err in results if code != 0]
    assert codes[0] == 0, results  # one run finishes...
    # ...and the other either waited its turn (resumed the finished run) or was refused by the lock
    assert all("another run" in err for err in refused), refused
    assert read_checkpoint(tmp_path / "run" / "checkpoint.pt")["extra"]["epoch"] == 2


@pytest.mark.parametrize(
    "value,kind",
    [
        (np.array([1.5]), "numpy.ndarray"),
        (Path("x"), "PosixPath"),
        (lambda: 1, "function"),
        ({1.5: 2}, "key of type float"),
    ],
)
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
    for change, match in [
        (("config", "hidden", 10**11), "beyond any model"),
        (("config", "depht", 3), "depht"),
        (("model", None, "vit"), "unknown model 'vit'"),
    ]:
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
        ImageData(
            torch.zeros(3, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 10, 2]), [str(i) for i in range(10)], "toy"
        )
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
    from facnn.evaluate import PixelRemoval, make_grids, pointing_game
    from facnn.explain import RandomMaps

    m = FACNN(10, depth=2, hidden=8).eval()
    x, y = torch.rand(2, 1, 28, 28), torch.tensor([1, 2])
    with pytest.raises(ValueError, match="NaN or Inf"):
        PixelRemoval(m).update(x, y, torch.full((2, 28, 28), float("nan")))
    with pytest.raises(ValueError, match="batch_size"):
        PixelRemoval(m, batch_size=0)
    with pytest.raises(ValueError, match="n=0 is out of range: expected an int ≥ 1"):
        make_grids(m, x, y, n=0)
    with pytest.raises(ValueError, match="n_grids"):
        make_grids(m, x, y, n_grids=0)
    grids, classes = torch.rand(2, 1, 84, 84), torch.randint(0, 10, (2, 9))
    with pytest.raises(ValueError, match="n=2 does not match"):
        pointing_game(RandomMaps(m), grids, classes, n=2)
    assert pointing_game(RandomMaps(m), grids, classes, n=3).shape == (2, 9)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda m: __import__("facnn").Occlusion(m, window=4, stride=0), "stride"),
        (lambda m: __import__("facnn").Occlusion(m, window=0), "window"),
        (lambda m: __import__("facnn").Occlusion(m, batch_size=0), "batch_size"),
        (lambda m: __import__("facnn").RISE(m, n_masks=0), "n_masks"),
        (lambda m: __import__("facnn").RISE(m, n_masks=10.5), "n_masks=10.5 must be an int"),
        (lambda m: __import__("facnn").RISE(m, p=0), "p"),
    ],
)
def test_explainer_options_are_checked(make, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make(FACNN(10, depth=2, hidden=8))


def test_two_processes_asking_for_one_cached_model_share_one_training(tmp_path):
    """get_or_train in two processes at once: one trains, the other waits for its lock and reads
    the same weights from the cache (no error, no second training)."""
    code = (
        "import sys, torch; from facnn.train import TrainConfig, get_or_train\n"
        "cfg = TrainConfig(model='facnn', dataset='digits', epochs=2, model_config=dict(depth=2, hidden=8, "
        "pool_at=[2]))\n"
        "m, r = get_or_train(cfg, progress=False)\n"
        "print(sum(float(p.double().sum()) for p in m.parameters()), r['test_accuracy'])"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FACNN_HOME": str(tmp_path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    results = [(p.wait(), p.stdout.read(), p.stderr.read()) for p in procs]
    assert [r[0] for r in results] == [0, 0], results
    assert results[0][1] == results[1][1], results  # the same weights and record
    assert len(list((tmp_path / "data" / "checkpoints").iterdir())) == 1


# ---------------------------------------------------------------------------------------------
# Refusals by kind: one table of bad inputs per public entry point. Each case must raise a
# user-facing exception whose message names the argument (or file) and what is expected.


def _facnn(**kw):
    return FACNN(**{"num_classes": 10, "depth": 2, "hidden": 8, **kw})


CONSTRUCTORS = [  # (entry point, kwargs, exception, message)
    ("FACNN", dict(std=[0.0]), ValueError, r"std\[0\]=0 .*> 0"),
    ("FACNN", dict(std=[float("nan")]), ValueError, r"std\[0\]=nan is not a finite"),
    ("FACNN", dict(mean=[0.1, 0.2, 0.3]), ValueError, "mean has 3 values, expected 1"),
    ("FACNN", dict(mean="0.5"), TypeError, "mean='0.5' must be a list of numbers"),
    ("FACNN", dict(kernel_size=2), ValueError, "kernel_size=2 is even.*use 1 or 3"),
    ("FACNN", dict(kernel_size=0), ValueError, "kernel_size=0 is out of range"),
    ("FACNN", dict(num_classes=10.0), TypeError, "num_classes=10.0 must be an int.*pass 10"),
    ("FACNN", dict(num_classes=1), ValueError, r"num_classes=1 is out of range.*\[2, "),
    ("FACNN", dict(num_classes="10"), TypeError, "num_classes='10' must be an int"),
    ("FACNN", dict(depth=0), ValueError, "depth=0 is out of range"),
    ("FACNN", dict(depth=True), TypeError, "depth=True must be an int"),
    ("FACNN", dict(maps_per_class=0), ValueError, "maps_per_class=0"),
    ("FACNN", dict(in_channels=0), ValueError, "in_channels=0"),
    ("FACNN", dict(hidden=[8]), ValueError, "hidden has 1 values, expected 2"),
    ("FACNN", dict(hidden=0), ValueError, "hidden=0 is out of range"),
    ("FACNN", dict(hidden=8.5), TypeError, "hidden=8.5 must be a list of ints"),
    ("FACNN", dict(pool_at=[3]), ValueError, r"pool_at\[0\]=3 is out of range.*\[1, 2\]"),
    ("FACNN", dict(pool_at=2), TypeError, "pool_at=2 must be a list of ints"),
    ("FACNN", dict(branch="postt"), ValueError, r"branch='postt' is not one of \['post', 'pre', 'inverted'\]"),
    ("FACNN", dict(dampening=0), ValueError, r"dampening=0 is out of range.*\(0, 1\]"),
    ("FACNN", dict(dampening=float("nan")), ValueError, "dampening=nan is not a finite"),
    ("FACNN", dict(dampening=2.0), ValueError, r"dampening=2 is out of range"),
    ("FACNN", dict(logit_scale=-1), ValueError, "logit_scale=-1 is out of range"),
    ("FACNN", dict(zero_init="no"), TypeError, "zero_init='no' must be True or False"),
    ("FACNN", dict(learn_dampening=1), TypeError, "learn_dampening=1 must be True or False"),
    ("ResNet", dict(num_classes=10.0), TypeError, "num_classes=10.0 must be an int"),
    ("ResNet", dict(num_classes=10, width=0), ValueError, "width=0 is out of range"),
    ("ResNet", dict(num_classes=10, std=[0]), ValueError, r"std\[0\]=0"),
    ("HybridFACNN", dict(num_classes=10, kernel_size=4), ValueError, "kernel_size=4 is even"),
    ("HybridFACNN", dict(num_classes=10, trunk_stages=4), ValueError, "trunk_stages=4 is out of range"),
    ("HybridFACNN", dict(num_classes=10, hidden=-1), ValueError, "hidden=-1 is out of range"),
    ("CoDANet", dict(num_classes=10, temperature=0), ValueError, "temperature=0 is out of range"),
    ("CoDANet", dict(num_classes=10, temperature=float("inf")), ValueError, "temperature=inf is not a finite"),
    (
        "CoDANet",
        dict(num_classes=10, kernels=[3], strides=[1, 1], channels=[], ranks=[4]),
        ValueError,
        "strides has 2 values, expected 1 .one per layer: kernels",
    ),
    ("CoDANet", dict(num_classes=10.5), TypeError, "num_classes=10.5 must be an int"),
    ("BcosNet", dict(num_classes=10, b=0.5), ValueError, "b=0.5 is out of range"),
    ("BcosNet", dict(num_classes=10, max_out=0), ValueError, "max_out=0 is out of range"),
    ("BcosNet", dict(num_classes=10, logit_bias=float("nan")), ValueError, "logit_bias=nan is not a finite"),
]


@pytest.mark.parametrize(
    "name,kwargs,exc,message", CONSTRUCTORS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CONSTRUCTORS)]
)
def test_model_constructors_refuse_with_the_argument_named(name, kwargs, exc, message):
    import facnn

    cls = getattr(facnn, name)
    kwargs = {**({"depth": 2, "hidden": 8} if name == "FACNN" else {}), **kwargs}
    kwargs.setdefault("num_classes", 10)
    with pytest.raises(exc, match=message):
        cls(**kwargs)


def test_model_constructors_accept_the_forms_users_pass():
    m = _facnn(mean=np.array([0.3]), std=torch.tensor([0.4]), pool_at=np.array([2]), num_classes=np.int64(10))
    assert m.config["mean"] == [0.3] and m.config["std"] == [pytest.approx(0.4)] and m.config["pool_at"] == [2]
    assert m.config["num_classes"] == 10 and type(m.config["num_classes"]) is int


def _explain_cases():
    import facnn
    from facnn.evaluate import PixelRemoval, grid_shares, pearson, pixel_removal_experiment

    m = _facnn().eval()
    x, y = torch.rand(2, 1, 28, 28), torch.tensor([1, 2])
    maps = torch.rand(2, 28, 28)
    return [  # (what, call, exception, message)
        ("RISE fill nan", lambda: facnn.RISE(m, fill=float("nan")), ValueError, "fill=nan is not a finite number"),
        ("RISE fill str", lambda: facnn.RISE(m, fill="black"), TypeError, "fill='black' must be a number"),
        ("RISE seed", lambda: facnn.RISE(m, seed=-1), ValueError, "seed=-1 is out of range"),
        ("Occlusion fill inf", lambda: facnn.Occlusion(m, fill=float("inf")), ValueError, "fill=inf is not a finite"),
        ("class_maps '3'", lambda: facnn.class_maps(m, x, "3"), TypeError, "target='3' must be an int class index"),
        ("class_maps None", lambda: facnn.class_maps(m, x, None), TypeError, "target=None must be an int"),
        (
            "class_maps 2**70",
            lambda: facnn.class_maps(m, x, 2**70),
            ValueError,
            "target=1180591620717411303424 is out of range",
        ),
        (
            "class_maps [2**70]",
            lambda: facnn.class_maps(m, x, [2**70, 1]),
            TypeError,
            "not a list of int class indices",
        ),
        ("class_maps 3.0", lambda: facnn.class_maps(m, x, 3.0), TypeError, "target=3.0 must be an int"),
        (
            "class_maps ResNet",
            lambda: facnn.class_maps(facnn.ResNet(10), x, 1),
            TypeError,
            "FA-CNN or a hybrid.*GradCAM",
        ),
        (
            "GradCAM target 10",
            lambda: facnn.GradCAM(m, layer=-1).attribute(x, 10),
            ValueError,
            "target=10 is out of range",
        ),
        ("predict batch 0", lambda: facnn.predict(m, x, batch_size=0), ValueError, "batch_size=0 is out of range"),
        ("predict batch 1.5", lambda: facnn.predict(m, x, batch_size=1.5), TypeError, "batch_size=1.5 must be an int"),
        ("predict no model", lambda: facnn.predict("model", x), TypeError, "needs an nn.Module"),
        ("experiment batch 0", lambda: pixel_removal_experiment({}, x, y, batch_size=0), ValueError, "batch_size=0"),
        (
            "experiment percents",
            lambda: pixel_removal_experiment({}, x, y, percents=[50, 10]),
            ValueError,
            "strictly increasing",
        ),
        (
            "experiment orders str",
            lambda: pixel_removal_experiment({}, x, y, orders="morf"),
            TypeError,
            "orders and fills are lists",
        ),
        ("experiment labels", lambda: pixel_removal_experiment({}, x, y[:1]), ValueError, r"y must be a \(2,\) tensor"),
        (
            "PixelRemoval empty generator",
            lambda: PixelRemoval(m, percents=(p for p in [])),
            ValueError,
            "percents is empty",
        ),
        (
            "PixelRemoval percent 120",
            lambda: PixelRemoval(m, percents=[0, 120]),
            ValueError,
            r"percents\[1\]=120 is out of range",
        ),
        (
            "PixelRemoval percents str",
            lambda: PixelRemoval(m, percents="0,50"),
            TypeError,
            "percents='0,50' must be a list",
        ),
        (
            "PixelRemoval 2-D array",
            lambda: PixelRemoval(m, percents=np.zeros((2, 2))),
            ValueError,
            r"percents has shape \(2, 2\)",
        ),
        ("PixelRemoval fill", lambda: PixelRemoval(m, fill="black"), ValueError, "fill='black' is not one of"),
        ("PixelRemoval order", lambda: PixelRemoval(m, order="up"), ValueError, "order='up' is not one of"),
        ("PixelRemoval blur", lambda: PixelRemoval(m, blur_sigma=float("nan")), ValueError, "blur_sigma=nan"),
        ("PixelRemoval road noise", lambda: PixelRemoval(m, road_noise=-1), ValueError, "road_noise=-1"),
        ("PixelRemoval model", lambda: PixelRemoval(None), TypeError, "needs the classifier"),
        (
            "mean of 3 for grey",
            lambda: PixelRemoval(m, fill="mean", mean=[0.1, 0.2, 0.3]).update(x, y, maps),
            ValueError,
            "mean has 3 values but the images have 1 channels",
        ),
        (
            "update 3-D images",
            lambda: PixelRemoval(m).update(x[0], y, maps),
            ValueError,
            r"x has shape \(1, 28, 28\).*unsqueeze",
        ),
        (
            "update list labels",
            lambda: PixelRemoval(m).update(x, [1, 2], maps),
            TypeError,
            "labels and maps must be tensors",
        ),
        (
            "grid_shares 10 by 3",
            lambda: grid_shares(torch.rand(2, 10, 10), torch.tensor([0, 1]), 3),
            ValueError,
            "do not split into an n×n = 3×3 grid",
        ),
        (
            "grid_shares 2-D",
            lambda: grid_shares(torch.rand(10, 10), torch.tensor([0]), 2),
            ValueError,
            r"maps must be \(G",
        ),
        ("pearson 1-D", lambda: pearson(torch.rand(5), torch.rand(5)), ValueError, r"a\[None\], b\[None\]"),
        ("pearson numpy", lambda: pearson(np.zeros((2, 4)), np.zeros((2, 4))), TypeError, "pearson takes two tensors"),
    ]


def test_numbers_in_the_forms_users_pass_work():
    from facnn.evaluate import PixelRemoval

    m = _facnn().eval()
    for percents in (
        np.array([0, 50, 100]),
        torch.tensor([0, 50, 100]),
        (p for p in (0, 50, 100)),
        [np.int64(0), 50.0, 100],
    ):
        assert PixelRemoval(m, percents=percents).percents == [0, 50, 100]
    x, y = torch.rand(2, 1, 28, 28), torch.tensor([1, 2])
    meter = PixelRemoval(m, percents=np.array([0, 50]), fill="mean", mean=np.array([0.3]))
    meter.update(x, y, torch.rand(2, 28, 28))
    assert meter.compute()["n_images"] == 2


def _write_jpeg(path, size=32):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path, quality=90)


DATA_CASES = [
    "truncated jpeg",
    "not an image",
    "image_size 0",
    "image_size float",
    "empty cifar batch",
    "cifar garbage labels",
]


@pytest.mark.parametrize("case", DATA_CASES)
def test_data_errors_name_the_file_and_the_fix(tmp_path, case):
    from facnn.data import load_dataset

    for split in ("train", "val"):
        for cls in ("a", "b"):
            _write_jpeg(tmp_path / split / cls / "0.jpg")
    if case == "truncated jpeg":
        bad = tmp_path / "val" / "b" / "0.jpg"
        bad.write_bytes(bad.read_bytes()[:300])
        with pytest.raises(ValueError, match=f"{bad} is a damaged image .*replace it or remove it"):
            load_dataset("imagefolder", "test", tmp_path, image_size=16).tensors()
    elif case == "not an image":
        bad = tmp_path / "val" / "a" / "0.jpg"
        bad.write_bytes(b"this is text")
        with pytest.raises(ValueError, match=f"{bad} is not an image PIL can read"):
            load_dataset("imagefolder", "test", tmp_path, image_size=16).tensors()
    elif case == "image_size 0":
        with pytest.raises(ValueError, match="image_size=0 is out of range.*e.g. 224"):
            load_dataset("imagefolder", "test", tmp_path, image_size=0)
    elif case == "image_size float":
        with pytest.raises(TypeError, match="image_size=16.0 must be an int"):
            load_dataset("imagefolder", "test", tmp_path, image_size=16.0)
    else:
        folder = tmp_path / "cifar10" / "cifar-10-batches-bin"
        folder.mkdir(parents=True)
        if case == "empty cifar batch":
            (folder / "test_batch.bin").write_bytes(b"")
            match = "test_batch.bin is truncated .0 bytes"
        else:
            (folder / "test_batch.bin").write_bytes(bytes([200]) + bytes(3072))
            match = "labels up to 200: these are not CIFAR-10 binary batches"
        with pytest.raises(ValueError, match=match):
            load_dataset("cifar10", "test", tmp_path / "cifar10")


CHECKPOINT_CASES = ["random bytes", "truncated", "no state_dict", "no config", "NaN weights", "a list"]


@pytest.mark.parametrize("case", CHECKPOINT_CASES)
def test_checkpoint_faults_are_told_apart(tmp_path, case):
    good = save_checkpoint(tmp_path / "good.pt", _facnn())
    bad = tmp_path / "bad.pt"
    ckpt = torch.load(good, weights_only=True)
    if case == "random bytes":
        bad.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
        match = "bad.pt is not a torch checkpoint: its first bytes are neither a zip archive nor a pickle"
    elif case == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
        match = "bad.pt is truncated .*resume from an earlier copy"
    elif case in ("no state_dict", "no config"):
        del ckpt[case.split()[1]]
        torch.save(ckpt, bad)
        match = rf"bad.pt is a facnn checkpoint without \['{case.split()[1]}'\]"
    elif case == "NaN weights":
        ckpt["state_dict"] = {
            k: v.clone().fill_(float("nan")) if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()
        }
        torch.save(ckpt, bad)
        match = "bad.pt holds NaN or Inf in .* tensors .*diverged"
    else:
        torch.save([1, 2], bad)
        match = "bad.pt is not a facnn checkpoint"
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(bad)


def test_numpy_scalars_in_extra_are_stored_as_numbers(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", _facnn(), extra={"acc": np.float32(0.5), "epochs": [np.int64(3)]})
    extra = read_checkpoint(path)["extra"]
    assert extra == {"acc": 0.5, "epochs": [3]} and type(extra["epochs"][0]) is int


def test_out_naming_a_file_is_refused_before_training(tmp_path):
    out = tmp_path / "a-file"
    out.write_text("keep me")
    r = run([*SMALL, "--epochs", "50", "--out", str(out)], check=False)
    assert r.returncode != 0 and f"{out} is an existing file, not a folder" in r.stderr
    assert out.read_text() == "keep me" and "epoch" not in r.stdout


def test_a_damaged_results_file_is_named_with_the_fix(tmp_path):
    out = tmp_path / "run"
    run([*SMALL, "--epochs", "1", "--out", str(out)])
    (out / "results.json").write_text('{"epochs": 1, "hist')  # cut short
    r = run([*SMALL, "--epochs", "1", "--out", str(out)], check=False)
    assert r.returncode != 0 and "results.json is damaged" in r.stderr and "--resume" in r.stderr
    assert read_checkpoint(out / "checkpoint.pt")["extra"]["epoch"] == 1  # nothing lost


# A property: any wrong type or value given to one argument of a public entry point is either
# accepted (and then the result is usable: finite logits or maps) or refused, when built or when
# first used, with TypeError or ValueError whose message names that argument.
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=4),
    st.just(float("nan")),
    st.just(float("inf")),
    st.integers(-10, 0),
    st.just(2**70),
    st.floats(-5, 5, allow_nan=False),
    st.just([]),
    st.lists(st.floats(-2, 2, allow_nan=False), min_size=1, max_size=3),
    st.just({"a": 1}),
    st.just(object()),
    st.just(np.float64(0.5)),
    st.just(np.array([1, 2])),
)

ENTRY_POINTS = {  # name -> (build with one argument replaced, arguments to vary, how to use the result)
    "FACNN": (
        lambda **kw: FACNN(**{"num_classes": 10, "depth": 2, "hidden": 8, **kw}),
        [
            "num_classes",
            "in_channels",
            "maps_per_class",
            "depth",
            "hidden",
            "dampening",
            "max_dampening",
            "pool_at",
            "kernel_size",
            "branch",
            "zero_init",
            "logit_scale",
            "learn_dampening",
            "mean",
            "std",
        ],
        lambda m: m.eval()(torch.rand(2, m.in_channels, 28, 28)),
    ),
    "ResNet": (
        lambda **kw: __import__("facnn").ResNet(**{"num_classes": 10, **kw}),
        ["num_classes", "in_channels", "width", "blocks", "mean", "std"],
        lambda m: m.eval()(torch.rand(2, m.in_channels, 28, 28)),
    ),
    "HybridFACNN": (
        lambda **kw: __import__("facnn").HybridFACNN(**{"num_classes": 10, "depth": 2, "hidden": 8, **kw}),
        [
            "num_classes",
            "in_channels",
            "trunk_width",
            "trunk_stages",
            "maps_per_class",
            "depth",
            "hidden",
            "dampening",
            "pool_at",
            "kernel_size",
            "branch",
            "mean",
            "std",
        ],
        lambda m: m.eval()(torch.rand(2, m.in_channels, 28, 28)),
    ),
    "CoDANet": (
        lambda **kw: __import__("facnn").CoDANet(**{"num_classes": 10, **kw}),
        ["num_classes", "in_channels", "kernels", "strides", "channels", "ranks", "temperature", "logit_bias"],
        lambda m: m.eval()(torch.rand(2, m.in_channels, 28, 28)),
    ),
    "BcosNet": (
        lambda **kw: __import__("facnn").BcosNet(**{"num_classes": 10, **kw}),
        [
            "num_classes",
            "in_channels",
            "kernels",
            "strides",
            "channels",
            "b",
            "max_out",
            "scale",
            "temperature",
            "logit_bias",
        ],
        lambda m: m.eval()(torch.rand(2, m.in_channels, 28, 28)),
    ),
    "RISE": (
        lambda **kw: __import__("facnn").RISE(_facnn().eval(), **{"n_masks": 8, **kw}),
        ["n_masks", "cells", "p", "batch_size", "seed", "fill", "center"],
        lambda e: e.attribute(torch.rand(1, 1, 28, 28), 1),
    ),
    "Occlusion": (
        lambda **kw: __import__("facnn").Occlusion(_facnn().eval(), **{"window": 14, **kw}),
        ["window", "stride", "fill", "batch_size"],
        lambda e: e.attribute(torch.rand(1, 1, 28, 28), 1),
    ),
    "PixelRemoval": (
        lambda **kw: __import__("facnn.evaluate.pixel_removal", fromlist=["x"]).PixelRemoval(_facnn().eval(), **kw),
        ["percents", "order", "fill", "mean", "blur_sigma", "batch_size", "road_noise", "seed"],
        lambda p: p.update(torch.rand(2, 1, 28, 28), torch.tensor([0, 1]), torch.rand(2, 28, 28)),
    ),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@settings(max_examples=60)
@given(data=st.data())
def test_wrong_arguments_are_refused_by_name_or_work(entry, data):
    build, names, use = ENTRY_POINTS[entry]
    name, value = data.draw(st.sampled_from(names)), data.draw(WRONG)
    try:
        out = use(build(**{name: value}))  # some values are refused only once the images are seen
    except (TypeError, ValueError) as e:
        assert name in str(e), f"{entry}({name}={value!r}) refused without naming {name!r}: {e}"
        return
    # accepted: it must have worked and given finite numbers
    if isinstance(out, torch.Tensor):
        assert bool(torch.isfinite(out).all()), f"{entry}({name}={value!r}) was accepted but gives NaN/Inf"


def _more_cases():
    import facnn
    from facnn.data import load_dataset
    from facnn.evaluate import make_grids, pointing_game, stats

    m = _facnn().eval()
    x, y = torch.rand(4, 1, 28, 28), torch.tensor([1, 2, 3, 4])
    return [
        (
            "GradCAM relu text",
            lambda: facnn.GradCAM(m, layer=-1, relu="yes"),
            TypeError,
            "relu='yes' must be True or False",
        ),
        ("RandomMaps seed -1", lambda: facnn.RandomMaps(m, seed=-1), ValueError, "seed=-1 is out of range"),
        ("RandomMaps seed text", lambda: facnn.RandomMaps(m, seed="a"), TypeError, "seed='a' must be an int"),
        (
            "make_grids confidence nan",
            lambda: make_grids(m, x, y, min_confidence=float("nan")),
            ValueError,
            "min_confidence=nan",
        ),
        (
            "make_grids confidence 2",
            lambda: make_grids(m, x, y, min_confidence=2),
            ValueError,
            r"min_confidence=2 .*\[0, 1\]",
        ),
        ("make_grids seed text", lambda: make_grids(m, x, y, seed="a"), TypeError, "seed='a' must be an int"),
        (
            "pointing_game n float",
            lambda: pointing_game(facnn.RandomMaps(m), torch.rand(2, 1, 84, 84), torch.randint(0, 10, (2, 9)), n=3.0),
            TypeError,
            "n=3.0 must be an int",
        ),
        (
            "load_dataset download text",
            lambda: load_dataset("cifar10", "test", "/nowhere", download="yes"),
            TypeError,
            "download='yes' must be True or False",
        ),
        (
            "load_dataset root int",
            lambda: load_dataset("fashion-mnist", "test", 5),
            TypeError,
            "root=5 must be a folder path",
        ),
        ("load_config int", lambda: facnn.load_config(3), TypeError, "load_config takes a config name"),
        ("wilson p > 1", lambda: stats.wilson(5, 3), ValueError, "p=5 must be an accuracy in"),
        ("wilson n 0", lambda: stats.wilson(0.5, 0), ValueError, "n=0 must be the number of images"),
        (
            "get_or_train device",
            lambda: facnn.get_or_train(facnn.TrainConfig(dataset="digits", epochs=1), device="tpu"),
            ValueError,
            "device='tpu'",
        ),
    ]


API_CASES = _explain_cases() + _more_cases()


@pytest.mark.parametrize("what,call,exc,message", API_CASES, ids=[c[0] for c in API_CASES])
def test_explainers_metrics_and_loaders_refuse_with_the_argument_named(what, call, exc, message):
    with pytest.raises(exc, match=message):
        call()


def test_make_grids_restores_the_models_mode():
    from facnn.evaluate import make_grids

    m = _facnn().train()
    with pytest.raises(ValueError, match="confident correct images"):
        make_grids(m, torch.rand(4, 1, 28, 28), torch.tensor([1, 2, 3, 4]))
    assert m.training

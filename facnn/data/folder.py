"""Class-per-folder image trees (ImageNet-100 and the like): images read at their true bit depth,
resized and centre-cropped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from facnn.core.validation import check_int

__all__ = ["FolderData"]


def _load_image(path: str):
    """An image file as 8-bit RGB: 16- and 32-bit integer images are scaled by their bit depth
    (a 16-bit PNG at half intensity reads as 0.5, not clipped to 1.0); float images are refused."""
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


class FolderData(torch.utils.data.Dataset):
    """A class-per-folder image tree (ImageNet-100 and the like), resized and centre-cropped."""

    def __init__(self, root: Path, image_size: int, mean: tuple[float, ...], std: tuple[float, ...]):
        from torchvision import datasets, transforms

        image_size = check_int(image_size, "image_size", 8, fix="images are resized and centre-cropped to it, e.g. 224")
        if not any(p.is_dir() for p in Path(root).iterdir()):
            raise FileNotFoundError(f"{root} has no class folders: imagefolder expects {root}/<class>/<image files>")

        tf = transforms.Compose(
            [transforms.Resize(image_size), transforms.CenterCrop(image_size), transforms.ToTensor()]
        )
        self.folder = datasets.ImageFolder(str(root), transform=tf, loader=_load_image)
        self.classes, self.name, self.mean, self.std = self.folder.classes, "imagefolder", mean, std
        self.labels = torch.tensor(self.folder.targets)
        self.image_size, self.in_channels = (image_size, image_size), 3

    num_classes = property(lambda self: len(self.classes))

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.folder[i]

    def subset(self, n: int | None, seed: int = 0) -> "FolderData":
        if n is not None and n < len(self):
            idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n].sort().values
            self.folder.samples = [self.folder.samples[i] for i in idx]
            self.folder.targets = [self.folder.targets[i] for i in idx]
            self.labels = self.labels[idx]
        return self

    def tensors(self, device: str | torch.device = "cpu") -> tuple[Tensor, Tensor]:
        x = torch.stack([self[i][0] for i in range(len(self))])
        return x.to(device), self.labels.to(device)

"""Datasets as ``[0, 1]`` image tensors with class names: Fashion-MNIST, MNIST, digits, CIFAR-10
and any image folder; seeded batches and augmentation.

Examples
--------
>>> from facnn.data import load_dataset
>>> data = load_dataset("digits", "test")
>>> tuple(data.images.shape[1:]), len(data.classes)
((1, 8, 8), 10)
"""

from facnn.data.datasets import (
    CIFAR_CLASSES,
    DATASETS,
    FASHION_CLASSES,
    ImageData,
    augment,
    batches,
    load_dataset,
)
from facnn.data.folder import FolderData

__all__ = [
    "load_dataset",
    "ImageData",
    "FolderData",
    "batches",
    "augment",
    "DATASETS",
    "FASHION_CLASSES",
    "CIFAR_CLASSES",
]

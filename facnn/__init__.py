"""facnn: FA-CNN, CoDA-Nets and post-hoc attribution, measured side by side.

The library: :mod:`facnn.models`, :mod:`facnn.explain`, :mod:`facnn.evaluate`, :mod:`facnn.data`,
:mod:`facnn.train` (and :mod:`facnn.viz` for figures); :mod:`facnn.core` is what they share. The
paper companion, :mod:`facnn.companion`, serves the notebooks and is never imported by the library.
The most used names are exported here once.

Names are loaded lazily so that ``import facnn`` stays fast until torch is needed.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "FACNN": "models",
    "ResNet": "models",
    "HybridFACNN": "models",
    "CoDANet": "models",
    "BcosNet": "models",
    "AlignedNetwork": "models",
    "class_maps": "models",
    "all_class_maps": "models",
    "count_params": "models",
    "predict": "models",
    "explanation_mode": "models",
    "build_model": "models",
    "save_checkpoint": "models",
    "load_checkpoint": "models",
    "CheckpointError": "models",
    "pretrained": "models",
    "register_model": "core.registry",
    "register_method": "core.registry",
    "IntrinsicMaps": "explain",
    "ClassMaps": "explain",
    "GradCAM": "explain",
    "RISE": "explain",
    "Occlusion": "explain",
    "Contributions": "explain",
    "RandomMaps": "explain",
    "explain_func": "explain",
    "make_explainer": "explain",
    "load_dataset": "data",
    "TrainConfig": "train",
    "get_or_train": "train",
    "load_config": "train",
    "Callback": "train",
    "project_root": "core.paths",
    "data_dir": "core.paths",
    "figures_dir": "core.paths",
    "records_dir": "core.paths",
}

_SUBPACKAGES = ("core", "models", "data", "explain", "evaluate", "train", "viz", "companion")

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _SUBPACKAGES:  # facnn.models.FACNN after a bare `import facnn`
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'facnn' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return [*__all__, *_SUBPACKAGES]

"""facnn: FA-CNN, CoDA-Nets and post-hoc attribution, measured side by side.

Names are loaded lazily so that ``import facnn`` stays fast until torch is needed.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "FACNN": "models", "ResNet": "models", "class_maps": "models", "all_class_maps": "models", "build_model": "registry",
    "count_params": "models", "predict": "models",
    "CoDANet": "coda", "BcosNet": "bcos", "explanation_mode": "dynamic_linear",
    "HybridFACNN": "hybrid", "AlignedNetwork": "models",
    "register_model": "registry", "register_method": "registry",
    "IntrinsicMaps": "attribution", "ClassMaps": "attribution", "GradCAM": "attribution", "RISE": "attribution", "Occlusion": "attribution",
    "Contributions": "attribution", "RandomMaps": "attribution", "explain_func": "attribution", "make_explainer": "attribution",
    "load_dataset": "data",
    "TrainConfig": "train", "get_or_train": "train",
    "save_checkpoint": "checkpoint", "load_checkpoint": "checkpoint", "CheckpointError": "checkpoint",
    "project_root": "paths", "data_dir": "paths", "figures_dir": "paths", "records_dir": "paths",
    "pretrained": "hub", "load_config": "config", "Callback": "train",
}  # fmt: skip

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'facnn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__

"""One registry of models and attribution methods, filled where each is defined.

A model class registers with ``@register_model("name")`` and an attribution method with
``@register_method("name")``; checkpoints store the model's name, :func:`build_model` rebuilds it,
and :func:`make_explainer` builds a method by name. Lookups import facnn's own modules first, so
the built-in names are always known; a user's module registers its classes on import.

Examples
--------
>>> from facnn.core.registry import model_names, method_names
>>> "facnn" in model_names() and "gradcam" in method_names()
True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from facnn.core.validation import MAX_SIZE

__all__ = [
    "register_model",
    "register_method",
    "model_class",
    "model_name",
    "build_model",
    "forward_flops",
    "method_class",
    "model_names",
    "method_names",
    "check_model_config",
]

T = TypeVar("T", bound=type)

_MODELS: dict[str, type] = {}
_METHODS: dict[str, type] = {}
_BUILTIN = ("models", "explain")  # packages whose modules register on import


def _register(table: dict[str, type], kind: str, name: str) -> Callable[[T], T]:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a {kind} name must be a non-empty string, got {name!r}")

    def add(cls: T) -> T:
        old = table.get(name)
        if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValueError(f"{kind} name {name!r} is taken by {old.__module__}.{old.__qualname__}: choose another")
        table[name] = cls
        cls.registry_name = name  # type: ignore[attr-defined]
        return cls

    return add


def register_model(name: str) -> Callable[[T], T]:
    """Class decorator: make a model buildable by ``name`` (its ``config`` must rebuild it)."""
    return _register(_MODELS, "model", name)


def register_method(name: str) -> Callable[[T], T]:
    """Class decorator: make an attribution method buildable by ``name``."""
    return _register(_METHODS, "method", name)


def _load_builtins() -> None:
    for module in _BUILTIN:
        importlib.import_module(f"facnn.{module}")


def model_names() -> list[str]:
    """Names of every registered model."""
    _load_builtins()
    return sorted(_MODELS)


def method_names() -> list[str]:
    """Names of every registered attribution method."""
    _load_builtins()
    return sorted(_METHODS)


def model_class(name: str) -> type:
    """The model class registered as ``name``."""
    _load_builtins()
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {sorted(_MODELS)}")
    return _MODELS[name]


def method_class(name: str) -> type:
    """The attribution method registered as ``name``."""
    _load_builtins()
    if name not in _METHODS:
        raise ValueError(f"unknown method {name!r}: choose one of {sorted(_METHODS)}")
    return _METHODS[name]


def build_model(name: str, config: dict[str, Any]) -> Any:
    """Build the model registered as ``name`` from its keyword arguments ``config``."""
    if not isinstance(config, dict):
        raise TypeError(f"a model config must be a dict of keyword arguments, got {type(config).__name__}")
    return model_class(name)(**config)


def forward_flops(name: str, config: dict[str, Any], image_size: int = 28) -> int:
    """FLOPs of one image's forward pass through a freshly built ``name`` model (convolutions and
    matmuls, counted by ``torch.utils.flop_counter``); they depend on the architecture, not the weights.

    >>> forward_flops("facnn", {"num_classes": 10, "in_channels": 1, "depth": 2}) > 0
    True
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    net = build_model(name, config).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        net(torch.zeros(1, config.get("in_channels", 1), image_size, image_size))
    return int(fc.get_total_flops())


def check_model_config(name: str, config: Any) -> None:
    """Check a model config before anything is built from it: a dict whose keys are arguments of
    the registered class, with every number and list bounded (a config with ``hidden=10**11``
    would try to allocate terabytes)."""
    import inspect

    cls = model_class(name)
    if not isinstance(config, dict):
        raise TypeError(f"the {name} model config is a {type(config).__name__}, not a dict of keyword arguments")
    params = inspect.signature(cls).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(config) - set(params))
        if unknown:
            raise ValueError(
                f"model config keys {unknown} are not arguments of {cls.__name__} (known: {sorted(params)})"
            )

    def bounded(v: Any, key: str) -> None:
        if isinstance(v, (list, tuple)):
            if len(v) > 10_000:
                raise ValueError(f"model config {key} has {len(v)} entries (at most 10,000)")
            for x in v:
                bounded(x, key)
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and not abs(v) <= MAX_SIZE:
            raise ValueError(f"model config {key}={v!r} is beyond any model facnn builds (|value| ≤ {MAX_SIZE:,})")

    for k, v in config.items():
        bounded(v, k)


def model_name(model: Any) -> str:
    """The registered name of a model instance, by its exact class (not by class name: a
    torchvision ``ResNet`` is not facnn's)."""
    _load_builtins()
    for name, cls in _MODELS.items():
        if type(model) is cls:
            return name
    raise TypeError(
        f"{type(model).__module__}.{type(model).__name__} is not a registered facnn model: "
        f"decorate its class with facnn.core.registry.register_model('name') to save and rebuild it"
    )

"""torch.hub entry points, one per shipped model: ``torch.hub.load(repo, "fashion_mnist_facnn",
source="local")`` returns the model in eval mode, its weights hash-verified and read as plain data
exactly as :func:`facnn.pretrained` reads them. ``pretrained=False`` builds the same architecture
untrained. The repository's ``hubconf.py`` re-exports these names.

Examples
--------
>>> from facnn.models import hub
>>> "fashion_mnist_facnn" in hub.__all__
True
>>> hub.entry_name("fashion-mnist/facnn24")
'fashion_mnist_facnn24'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from facnn.core.registry import build_model
from facnn.models.pretrained import manifest, pretrained

__all__: list[str] = ["entry_name"]


def entry_name(name: str) -> str:
    """The torch.hub entry point of shipped model ``name`` (``"fashion-mnist/facnn"`` →
    ``"fashion_mnist_facnn"``)."""
    return name.replace("-", "_").replace("/", "_")


def _entry_point(name: str, record: dict[str, Any]) -> Callable[..., nn.Module]:
    def load(pretrained_weights: bool = True, map_location: str = "cpu", **kwargs: Any) -> nn.Module:
        if kwargs.pop("pretrained", True) is False:  # torch.hub's convention: pretrained=False
            pretrained_weights = False
        if kwargs:
            raise TypeError(f"{entry_name(name)}() takes pretrained and map_location, got {sorted(kwargs)}")
        if not pretrained_weights:
            return build_model(record["model"], record["model_config"]).to(map_location).eval()
        return pretrained(name, map_location=map_location)[0]

    load.__name__ = load.__qualname__ = entry_name(name)
    load.__doc__ = (
        f"{record['model']} trained on {record['dataset']} ({record['test_accuracy']:.4f} test accuracy, "
        f"{record['epochs']} epochs), in eval mode; weights SHA-256 {record['sha256'][:16]}… checked before "
        f"they are read. pretrained=False: the same architecture, untrained. Retrain: {record['command']}"
    )
    return load


for _name, _record in manifest().items():
    globals()[entry_name(_name)] = _entry_point(_name, _record)
    __all__.append(entry_name(_name))

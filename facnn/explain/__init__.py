"""Attribution methods with one call shape, ``Method(model, **options).attribute(x, target) -> (B, H, W)``.

One method a file over :class:`~facnn.explain.base.Attribution` (which owns input checks, eval
mode and layer lookup): intrinsic maps of self-explaining models (:mod:`.intrinsic`), Grad-CAM
(:mod:`.gradcam`), RISE (:mod:`.rise`), k×k occlusion (:mod:`.occlusion`) and the random
control (:mod:`.control`). :func:`make_explainer` and :func:`explain_func` reach them by name.

Examples
--------
>>> import torch
>>> from facnn.models import FACNN
>>> from facnn.explain import GradCAM
>>> GradCAM(FACNN(10, depth=2), layer=-1).attribute(torch.rand(2, 1, 28, 28), 3).shape
torch.Size([2, 28, 28])
"""

from facnn.explain.api import METHODS, explain_func, make_explainer
from facnn.explain.base import Attribution, device_of, resolve_layer
from facnn.explain.control import RandomMaps
from facnn.explain.gradcam import GradCAM
from facnn.explain.intrinsic import ClassMaps, Contributions, IntrinsicMaps
from facnn.explain.occlusion import Occlusion
from facnn.explain.rise import RISE

__all__ = [
    "Attribution",
    "IntrinsicMaps",
    "ClassMaps",
    "Contributions",
    "GradCAM",
    "RISE",
    "Occlusion",
    "RandomMaps",
    "make_explainer",
    "explain_func",
    "METHODS",
    "resolve_layer",
    "device_of",
]

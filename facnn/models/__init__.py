"""Models: FA-CNN and the hybrid (aligned networks), the ResNet baseline, CoDA-Nets and B-cos
(dynamic-linear networks), checkpoints and the shipped pretrained weights.

One model a file; each registers itself by name (:func:`facnn.core.registry.register_model`), so
checkpoints store a name and a config, never a pickled class.

Examples
--------
>>> import torch
>>> from facnn.models import FACNN, class_maps
>>> model = FACNN(num_classes=10, depth=2).eval()
>>> class_maps(model, torch.rand(2, 1, 28, 28), target=3).shape
torch.Size([2, 28, 28])
"""

from facnn.core.registry import build_model, model_name
from facnn.models.aligned import AlignedNetwork, all_class_maps, class_maps, class_means
from facnn.models.bcos import BcosConv2d, BcosNet
from facnn.models.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from facnn.models.coda import CoDANet, DAUConv
from facnn.models.dynamic_linear import DynamicLinearNetwork, contribution_maps, explanation_mode
from facnn.models.facnn import FACNN
from facnn.models.hybrid import HybridFACNN
from facnn.models.inference import count_params, predict
from facnn.models.pretrained import PretrainedError, pretrained
from facnn.models.resnet import ResNet, TorchvisionResNet

__all__ = [
    "AlignedNetwork",
    "FACNN",
    "HybridFACNN",
    "ResNet",
    "TorchvisionResNet",
    "CoDANet",
    "DAUConv",
    "BcosNet",
    "BcosConv2d",
    "DynamicLinearNetwork",
    "explanation_mode",
    "contribution_maps",
    "class_maps",
    "class_means",
    "all_class_maps",
    "predict",
    "count_params",
    "build_model",
    "model_name",
    "save_checkpoint",
    "load_checkpoint",
    "read_checkpoint",
    "CheckpointError",
    "pretrained",
    "PretrainedError",
]

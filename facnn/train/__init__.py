"""Training: validated configs (:mod:`.config`), the loop (:mod:`.loop`, single process or
torch.distributed), locked and resumable run folders (:mod:`.runs`), and the command line
``python -m facnn.train`` (:mod:`.cli`).

Examples
--------
>>> from facnn.train import load_config
>>> load_config("fashion_mnist_facnn", epochs=1).model
'facnn'
"""

from facnn.train.cli import config_from_args
from facnn.train.config import EXECUTION_FIELDS, TrainConfig, config_names, load_config, shipped_for
from facnn.train.loop import Callback, evaluate, get_or_train, train
from facnn.train.runs import RunFolder, RunLocked

__all__ = [
    "TrainConfig",
    "load_config",
    "config_names",
    "EXECUTION_FIELDS",
    "shipped_for",
    "train",
    "get_or_train",
    "evaluate",
    "config_from_args",
    "Callback",
    "RunFolder",
    "RunLocked",
]

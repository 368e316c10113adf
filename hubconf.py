"""torch.hub: ``torch.hub.load("<this repository>", "fashion_mnist_facnn", source="local")`` (or
``torch.hub.list``); one entry point per shipped model, hash-verified (facnn/models/hub.py)."""

dependencies = ["torch", "numpy"]

from facnn.models.hub import *  # noqa: E402, F401, F403

import os

import pytest
import torch
from hypothesis import settings

settings.register_profile("facnn", max_examples=20, deadline=None, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "facnn"))


def randomize_bn(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every BatchNorm non-trivial affine parameters and running statistics (eval-mode tests)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = torch.rand(n, generator=g) + 0.5
            m.bias.data = torch.randn(n, generator=g) * 0.2
            m.running_mean = torch.randn(n, generator=g) * 0.1
            m.running_var = torch.rand(n, generator=g) + 0.5
    return model.eval()


@pytest.fixture(scope="session")
def digits():
    from facnn.data import load_dataset

    return load_dataset("digits", "train"), load_dataset("digits", "test")


@pytest.fixture(scope="session")
def trained_facnn(digits):
    """A briefly trained FA-CNN on sklearn digits (8×8), for theorem checks on learned weights."""
    from facnn.train import TrainConfig, train

    cfg = TrainConfig(model="facnn", dataset="digits", epochs=20, lr=5e-3,
                      model_config=dict(depth=4, hidden=32, pool_at=[2], maps_per_class=2))  # fmt: skip
    model, results = train(cfg, out_dir=_tmp("trained_facnn"), progress=False)
    return model, results


def _tmp(name: str):
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix=f"facnn-{name}-"))

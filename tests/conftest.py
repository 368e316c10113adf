import os

import pytest
from hypothesis import settings

settings.register_profile("facnn", max_examples=20, deadline=None, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "facnn"))


@pytest.fixture(scope="session")
def digits():
    from facnn.data import load_dataset

    return load_dataset("digits", "train"), load_dataset("digits", "test")


@pytest.fixture(scope="session")
def trained_facnn(digits):
    """A briefly trained FA-CNN on sklearn digits (8×8), for theorem checks on learned weights."""
    from facnn.train import TrainConfig, train

    cfg = TrainConfig(
        model="facnn",
        dataset="digits",
        epochs=20,
        lr=5e-3,
        model_config=dict(depth=4, hidden=32, pool_at=[2], maps_per_class=2),
    )
    model, results = train(cfg, out_dir=_tmp("trained_facnn"), progress=False)
    return model, results


def _tmp(name: str):
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix=f"facnn-{name}-"))

"""torch.hub: every shipped model is an entry point of the repository's hubconf.py, loaded with
torch.hub itself (source="local", no network) and identical to facnn.pretrained's."""

from pathlib import Path

import pytest
import torch

import facnn

ROOT = Path(__file__).resolve().parent.parent


def test_every_shipped_model_is_an_entry_point():
    """torch.hub.list reads only GitHub repositories: read the local hubconf.py as it does."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("hubconf", ROOT / "hubconf.py")
    hubconf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hubconf)
    entries = {n for n in dir(hubconf) if callable(getattr(hubconf, n)) and not n.startswith("_")}
    shipped = {n.replace("-", "_").replace("/", "_"): n for n in facnn.pretrained()}
    assert set(shipped) <= entries
    for entry, name in shipped.items():
        assert name.split("/")[1] in getattr(hubconf, entry).__doc__ or "trained on" in getattr(hubconf, entry).__doc__
        model = torch.hub.load(str(ROOT), entry, source="local")
        assert not model.training and model.config == facnn.pretrained()[name]["model_config"]


def test_hub_load_returns_the_verified_shipped_model():
    model = torch.hub.load(str(ROOT), "fashion_mnist_facnn", source="local")
    shipped, _ = facnn.pretrained("fashion-mnist/facnn")
    assert not model.training and type(model) is type(shipped)
    for (k, a), (_, b) in zip(model.state_dict().items(), shipped.state_dict().items()):
        assert torch.equal(a, b), k


def test_pretrained_false_builds_the_architecture_untrained():
    model = torch.hub.load(str(ROOT), "fashion_mnist_facnn", source="local", pretrained=False)
    shipped, _ = facnn.pretrained("fashion-mnist/facnn")
    assert model.config == shipped.config
    assert any(not torch.equal(a, b) for a, b in zip(model.state_dict().values(), shipped.state_dict().values()))
    with pytest.raises(TypeError, match="takes pretrained and map_location"):
        torch.hub.load(str(ROOT), "fashion_mnist_facnn", source="local", weights="x")


def test_an_altered_weights_file_is_refused_through_hub(tmp_path, monkeypatch):
    import shutil

    from facnn.models.pretrained import PretrainedError, weights_dir

    copy = tmp_path / "weights"
    shutil.copytree(weights_dir(), copy)
    rec = facnn.pretrained()["fashion-mnist/facnn"]
    data = bytearray((copy / rec["file"]).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / rec["file"]).write_bytes(bytes(data))
    monkeypatch.setenv("FACNN_WEIGHTS_DIR", str(copy))
    with pytest.raises(PretrainedError, match="SHA-256"):
        torch.hub.load(str(ROOT), "fashion_mnist_facnn", source="local")

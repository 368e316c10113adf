"""The explorer and figure helpers, headless: setting widget values fires the real callbacks."""

import json

import numpy as np
import torch

from facnn import FACNN
from facnn.theory import randomize_batchnorm
from facnn.viz import explorer_figure, make_explorer, map_grid, save_figure, table_figure


def test_explorer_logic_and_widget(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = randomize_batchnorm(FACNN(4, maps_per_class=2, depth=3, hidden=8, zero_init=False))
    x = torch.rand(3, 1, 16, 16)
    fig = explorer_figure(model, x, 1, 2, 3, "intrinsic")
    z = np.asarray(fig.data[1].z)[::-1]
    expected = __import__("facnn").class_maps(model, x[1:2], 3, layer=2)[0].detach().numpy()
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-6)
    box = make_explorer(model, x)
    image, layer = box.children[0].children
    cls, method = box.children[1].children
    fig_widget = box.children[2]
    before = np.asarray(fig_widget.data[1].z).copy()
    cls.value = 2  # fires the observer
    after = np.asarray(fig_widget.data[1].z)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after[::-1], __import__("facnn").class_maps(model, x[:1], 2, layer=-1)[0].detach().numpy(), rtol=1e-5, atol=1e-6)
    method.value = "occlusion"
    assert "occlusion" in fig_widget.layout.title.text
    layer.value = 0
    image.value = 2
    assert "image 2" in fig_widget.layout.title.text


def test_save_figure_writes_html_and_json(tmp_path, monkeypatch):
    monkeypatch.setenv("FACNN_HOME", str(tmp_path))
    fig = map_grid(np.random.rand(2, 5, 5), {"maps": np.random.randn(2, 5, 5)}, "t")
    out = save_figure(fig, "demo")
    assert json.loads((tmp_path / "figures" / "demo.plotly.json").read_text())["layout"]["title"]["text"] == "t"
    assert (tmp_path / "figures" / "demo.html").stat().st_size > 1000
    assert "png" in out or "png_error" in out
    t = table_figure([{"a": 0.123456, "b": "x"}], ["a", "b"])
    assert list(t.data[0].cells.values[0]) == ["0.1235"]

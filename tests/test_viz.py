"""The explorer and figure helpers, headless: setting widget values fires the real callbacks."""

import json

import numpy as np
import torch

from facnn import FACNN
from facnn.evaluate import randomise_batchnorm
from facnn.viz import explorer_figure, make_explorer, map_grid, save_figure, table_figure


def test_explorer_logic_and_widget(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = randomise_batchnorm(FACNN(4, maps_per_class=2, depth=3, hidden=8, zero_init=False))
    x = torch.rand(3, 1, 16, 16)
    names = ["ant", "bee", "cat", "dog"]
    fig = explorer_figure(model, x, 1, 2, 3, "intrinsic", names)
    z = np.asarray(fig.data[1].z)[::-1]
    expected = __import__("facnn").class_maps(model, x[1:2], 3, layer=2)[0].detach().numpy()
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-6)
    assert "dog (p=" in fig.layout.title.text and "FA-CNN maps L2" in fig.layout.title.text
    box = make_explorer(model, x, class_names=names)
    image, layer = box.children[0].children
    cls, method = box.children[1].children
    fig_widget = box.children[2]
    prob = torch.softmax(model.eval()(x), 1).detach()
    assert cls.value == int(prob[0].argmax())  # starts at the predicted class
    assert [label.split(" (p=")[0] for label, _ in cls.options] == names  # class names with probabilities
    before = np.asarray(fig_widget.data[1].z).copy()
    other = (cls.value + 1) % 4
    cls.value = other  # fires the observer
    after = np.asarray(fig_widget.data[1].z)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(
        after[::-1],
        __import__("facnn").class_maps(model, x[:1], other, layer=-1)[0].detach().numpy(),
        rtol=1e-5,
        atol=1e-6,
    )
    row_label = lambda: [a.text for a in fig_widget.layout.annotations if a.textangle == 90][1:]  # noqa: E731 - after "image"
    method.value = "occlusion"
    assert "K-OCC" in fig_widget.layout.title.text and row_label() == ["K-OCC k=4"] and layer.disabled
    method.value = "rise"
    assert row_label() == ["RISE (centred)"] and layer.disabled
    method.value = "gradcam"
    assert not layer.disabled and row_label() == ["Grad-CAM L3"]
    assert fig_widget.data[1].colorscale[0][1] != fig_widget.data[1].colorscale[-1][1]
    assert float(np.min(fig_widget.data[1].zmin)) == 0.0  # non-negative map: sequential scale from 0
    layer.value = 0
    image.value = 2
    assert "image 2" in fig_widget.layout.title.text and cls.value == int(prob[2].argmax())


def test_map_grid_scales_and_zero_maps():
    signed = map_grid(
        np.random.rand(2, 5, 5),
        {"signed": np.random.randn(2, 5, 5), "positive": np.random.rand(2, 5, 5), "zero": np.zeros((2, 5, 5))},
    )
    rows = [signed.data[i : i + 2] for i in range(0, 8, 2)]
    for traces in rows:  # one scale per row
        assert len({(t.zmin, t.zmax) for t in traces}) == 1
    assert rows[1][0].zmin == -rows[1][0].zmax  # signed: centred at 0
    assert rows[2][0].zmin == 0  # non-negative: from 0
    assert sum(a.text == "all zero" for a in signed.layout.annotations) == 2


def test_save_figure_writes_html_and_json(tmp_path, monkeypatch):
    monkeypatch.setenv("FACNN_HOME", str(tmp_path))
    fig = map_grid(np.random.rand(2, 5, 5), {"maps": np.random.randn(2, 5, 5)}, "t")
    out = save_figure(fig, "demo")
    assert (
        json.loads((tmp_path / "runs" / "figures" / "demo.plotly.json").read_text())["layout"]["title"]["text"] == "t"
    )
    assert (tmp_path / "runs" / "figures" / "demo.html").stat().st_size > 1000
    assert "png" in out or "png_error" in out
    t = table_figure([{"a": 0.123456, "b": "x"}], ["a", "b"])
    assert list(t.data[0].cells.values[0]) == ["0.1235"]


def test_one_colour_per_method_and_every_trace_in_the_legend():
    from facnn.explain.catalogue import Method
    from facnn.viz import removal_curves

    def rec(m, o):
        return dict(
            **m.fields(),
            order=o,
            percents=[0, 50, 100],
            accuracy=[0.9, 0.5, 0.1],
            accuracy_low=[0.8, 0.4, 0.0],
            accuracy_high=[1.0, 0.6, 0.2],
            auc=dict(value=0.5, low=0.4, high=0.6),
        )

    methods = [
        Method("intrinsic", layer=6),
        Method("intrinsic", layer=4),
        Method("gradcam", layer=6),
        Method("gradcam", layer=4),
        Method("rise"),
        Method("occlusion", window=4),
        Method("random"),
        Method("contributions", "coda"),
    ]
    fig = removal_curves([rec(m, o) for m in methods for o in ("morf", "lerf")], "t")
    lines = [t for t in fig.data if t.mode and "lines" in t.mode and t.fill != "toself"]  # curves, not bands
    colours = {}
    for t in lines:
        colours.setdefault(t.legendgroup or t.name, set()).add(t.line.color)
    assert all(len(c) == 1 for c in colours.values())  # MoRF and LeRF panels: one colour per method
    assert len({next(iter(c)) for c in colours.values()}) == len(methods)  # no two methods share a colour
    assert {t.name for t in lines if t.showlegend is not False} >= {m.label for m in methods}  # all in the legend


def test_theorem_figures():
    from facnn.viz import morph_strip, theorem2_steps

    fig = theorem2_steps([dict(layer=l, class_step=0.1 * l, class_bound=0.2 * l, class_ratio=0.5) for l in (1, 2, 3)])
    assert fig.layout.yaxis.type == "log" and [t.name for t in fig.data][:2] == [
        "max class-map step ‖ΔM_c‖",
        "bound (λ/√R)‖f_c‖",
    ]
    maps = [np.random.rand(8, 8) * (i + 1) for i in range(4)]
    strip = morph_strip(np.zeros((8, 8)), maps, first_layer=0)
    assert len({(t.zmin, t.zmax) for t in strip.data[1:]}) == 1  # one scale over the layers
    assert [a.text for a in strip.layout.annotations] == ["image", "L0", "L1", "L2", "L3"]


def test_tables_leave_room_for_every_wrapped_row():
    short = table_figure([dict(a="x", b="y")], ["a", "b"])
    long_text = "a claim that wraps over several lines of the table " * 6
    tall = table_figure([dict(a="x", b=long_text) for _ in range(3)], ["a", "b"])
    # ~310 characters in a ~1000 px column wrap to 3 lines of 22 px: every row gets them
    assert short.layout.height < 70 + 22 + 2 * 22 + 30
    assert tall.layout.height >= 70 + 22 + 3 * (3 * 22 + 4) + 30
    assert min(tall.data[0].columnwidth) >= 6  # a narrow column keeps room for its longest word


def test_training_curves_give_a_model_one_colour_in_both_panels():
    from facnn.viz import method_colors, training_curves

    hist = [dict(epoch=e, test_acc=0.5 + e / 10, train_loss=1 / e) for e in (1, 2)]
    fig = training_curves(
        [dict(model="facnn", history=hist), dict(model="resnet", history=hist), dict(model="bcos", history=hist)]
    )
    colours = {}
    for trace in fig.data:
        colours.setdefault(trace.legendgroup, set()).add(trace.line.color)
    assert all(len(c) == 1 for c in colours.values()) and len({c.pop() for c in colours.values()}) == 3
    from facnn.explain.catalogue import Method

    specs = [Method("intrinsic", "facnn", 6), Method("intrinsic", "facnn", 4), Method("intrinsic", "hybrid", 4)]
    shades = method_colors([m.fields() for m in [*specs, Method("intrinsic", "hybrid", 3)]])
    assert shades["FA-CNN maps L6"] != shades["FA-CNN maps L4"]
    assert shades["Hybrid FA-CNN maps L4"] != shades["Hybrid FA-CNN maps L3"]  # its own last layer is dark
    assert shades["Hybrid FA-CNN maps L4"] != shades["FA-CNN maps L6"]


def test_figure_names_keep_each_models_figures_apart():
    from facnn.viz import figure_name

    assert figure_name("localisation", "fashion_mnist") == "localisation_fashion_mnist"
    assert figure_name("morph_strip", model="facnn24") == "morph_strip_facnn24"
    assert figure_name("pixel_removal", "cifar10", "road", model="facnn24") == "pixel_removal_cifar10_road_facnn24"

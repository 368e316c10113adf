"""The explorer and figure helpers, headless: setting widget values fires the real callbacks."""

import json

import numpy as np
import pytest
import torch

from facnn import FACNN
from facnn.evaluate import randomise_batchnorm
from facnn.explain.catalogue import Method
from facnn.viz import explorer_figure, make_explorer, map_grid, save_figure, table_figure

# Figure 4's eleven methods: FA-CNN's two layers, Grad-CAM at both, RISE, K-OCC, the control, the peers
FIGURE4_METHODS = [
    Method("intrinsic", layer=6),
    Method("intrinsic", layer=4),
    Method("gradcam", layer=6),
    Method("gradcam", layer=4),
    Method("rise"),
    Method("occlusion", window=4),
    Method("random"),
    Method("contributions", "coda"),
    Method("contributions", "bcos"),
    Method("intrinsic", "hybrid", 4),
    Method("intrinsic", "hybrid", 3),
]


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

    methods = FIGURE4_METHODS[:8]
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


def test_save_figure_writes_plotlyjs_once_per_folder(tmp_path, monkeypatch):
    import os

    import plotly.graph_objects as go

    monkeypatch.setenv("FACNN_OUT", str(tmp_path))
    a = save_figure(go.Figure(go.Bar(y=[1, 2])), "a", png=False)
    js = tmp_path / "plotly.min.js"
    assert a["plotlyjs"] == str(js) and js.stat().st_size > 1_000_000  # the bundle, beside the HTML
    html = (tmp_path / "a.html").read_text()
    assert '<script charset="utf-8" src="plotly.min.js"></script>' in html  # referenced relatively
    assert len(html) < 100_000  # not embedded (it is 4.8 MB)
    os.utime(js, (1, 1))
    save_figure(go.Figure(go.Bar(y=[3])), "b", png=False)
    assert js.stat().st_mtime == 1  # written once: the second figure reuses it
    assert sorted(p.name for p in tmp_path.glob("*.js")) == ["plotly.min.js"]
    js.write_text("/**\n* plotly.js v0.0.1\n*/")  # a bundle of another version is replaced
    save_figure(go.Figure(go.Bar(y=[3])), "c", png=False)
    assert js.stat().st_size > 1_000_000


def test_theorem1_marks_exact_zeros_and_draws_the_tolerance():
    from facnn.viz.theory import theorem1_residuals

    fig = theorem1_residuals([3e-7, 0.0, 1e-7, 0.0], 2e-7, tolerance=1e-5)
    traces = {t.name: t for t in fig.data}
    zeros = traces["random models: exactly 0"]
    assert list(zeros.x) == [1, 3] and zeros.marker.symbol != traces["random models"].marker.symbol
    assert list(traces["random models"].x) == [0, 2]  # a zero is never drawn as a small error
    zero_y = zeros.y[0]
    assert zero_y < 1e-7 and "0" == fig.layout.yaxis.ticktext[list(fig.layout.yaxis.tickvals).index(zero_y)]
    assert [s.y0 for s in fig.layout.shapes if s.line.dash == "dash"] == [1e-5]  # the checks' tolerance
    assert any("exactly 0" in a.text for a in fig.layout.annotations)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.exponentformat == "power"
    assert all("k" not in t and "µ" not in t for t in fig.layout.yaxis.ticktext)  # no SI prefixes
    trained = theorem1_residuals([1e-7], 0.0)
    assert trained.data[-1].name == "trained model: exactly 0" and trained.data[-1].y[0] < 1e-7


def test_table_is_html_that_wraps_and_markdown():
    from facnn.viz.figures import Table

    long_command = "python -m facnn.train --config fashion_mnist_facnn --epochs 20 --out runs/pretrained/facnn " * 3
    t = Table(
        [dict(name="a<b", acc=0.93001, command=long_command), dict(name="FA-CNN maps L6", acc=1e-7)],
        title="Shipped",
        note="a note",
        swatches={"FA-CNN maps L6": "#1f77b4"},
        code=["command"],
        bold=["name"],
        formats={"acc": "{:.1e}"},
        styles={(1, "acc"): "color:#777;"},
    )
    html = t._repr_html_()
    assert html.count("<tr>") == 3 and "a&lt;b" in html  # header + 2 rows, text escaped
    assert "white-space:normal" in html and "overflow-wrap:anywhere" in html  # long cells wrap
    assert html.count("white-space:nowrap") == 5  # every cell but the long command stays on one line
    assert "<caption" in html and "Shipped" in html and "a note" in html
    assert "#1f77b4" in html and "color:#777;" in html and "font-weight:bold" in html
    assert t.cells() == [["a<b", "9.3e-01", long_command], ["FA-CNN maps L6", "1.0e-07", ""]]
    md = t.to_markdown().splitlines()
    assert md[0] == "**Shipped**" and md[2] == "| name | acc | command |" and md[-1] == "a note"
    assert "Shipped" in repr(t) and "1.0e-07" in repr(t)
    assert Table([dict(a="x|y")]).to_markdown().splitlines()[-1] == "| x\\|y |"


def _comparisons():
    from facnn.explain.catalogue import Method

    refs = Method("intrinsic", layer=6).label
    out = []
    for other, diff, winner in [
        ("Grad-CAM L6", 0.004, None),
        ("K-OCC k=4", 0.064, "K-OCC k=4"),
        ("random", -0.3, refs),
    ]:
        for order in ("morf", "lerf"):
            for fill in ("zero", "road"):
                out.append(
                    dict(
                        reference_method=refs,
                        other_method=other,
                        order=order,
                        fill=fill,
                        difference=dict(value=diff, low=diff - 0.01, high=diff + 0.01),
                        winner=winner,
                    )
                )
    return out


def test_comparison_matrix_is_one_row_per_method_with_verdict_colours():
    from facnn.viz.results import comparison_matrix

    t = comparison_matrix(_comparisons(), {"random": "#7f7f7f"})
    assert t.columns == ["method", "MoRF (zero)", "MoRF (road)", "LeRF (zero)", "LeRF (road)"]
    assert [r["method"] for r in t.rows] == ["Grad-CAM L6", "K-OCC k=4", "random"]  # 12 comparisons, 3 rows
    assert t.rows[0]["MoRF (zero)"] == "0.004 [-0.006, 0.014]\nnot significant"
    assert t.rows[1]["LeRF (road)"].endswith("method better") and t.rows[2]["MoRF (zero)"].endswith("ref. better")
    assert "0.004 [-0.006, 0.014]<br>not significant" in t.to_html()  # two lines in the cell
    assert "0.004 [-0.006, 0.014] not significant" in t.to_markdown()
    styles = {t.styles[(i, "MoRF (zero)")] for i in range(3)}
    assert len(styles) == 3  # not significant, other better, reference better: three looks
    assert "#7f7f7f" in t.to_html()


def test_ranking_table_counts_significant_reversals():
    from facnn.viz.results import ranking_table

    recs = [
        dict(method=m, order=o, fill=f, auc=dict(value=v))
        for m, o, f, v in [
            ("A", "morf", "zero", 0.1),
            ("B", "morf", "zero", 0.2),
            ("C", "morf", "zero", 0.3),
            ("A", "morf", "road", 0.5),
            ("B", "morf", "road", 0.2),
            ("C", "morf", "road", 0.3),
        ]
    ]
    swaps = [
        dict(order="morf", fills=["zero", "road"], pair=["A", "B"], verdicts=dict(zero="A better", road="B better")),
        dict(order="morf", fills=["zero", "road"], pair=["A", "C"], verdicts=dict(zero="not significant", road="C")),
    ]
    t = ranking_table(recs, swaps, ["zero", "road"])
    assert t.cells() == [["A", "1 → 3", "1"], ["B", "2 → 1", "1"], ["C", "3 → 2", "0"]]
    assert t.title.startswith("2 pairs of methods change order") and "1 of them is a significant" in t.title
    assert "the other 1 swaps" in t.note
    assert ranking_table(recs, [], ["zero", "road"]).title.startswith("The ranking of methods is the same")


def _removal_records(methods):
    return [
        dict(
            **m.fields(),
            order=o,
            fill="zero",
            percents=[0, 50, 100],
            accuracy=[0.9, 0.5, 0.1],
            accuracy_low=[0.8, 0.4, 0.0],
            accuracy_high=[1.0, 0.6, 0.2],
            auc=dict(value=0.5, low=0.4, high=0.6),
        )
        for m in methods
        for o in ("morf", "lerf")
    ]


def test_removal_curves_facet_methods_and_emphasise_the_reference():
    from facnn.viz import removal_curves

    methods = FIGURE4_METHODS
    fig = removal_curves(_removal_records(methods), "t")
    curves = [t for t in fig.data if t.fill != "toself"]
    per_panel: dict[tuple, list] = {}
    for t in curves:
        per_panel.setdefault((t.xaxis, t.yaxis), []).append(t)
    assert len(per_panel) == 4 and max(len(v) for v in per_panel.values()) <= 7  # no panel holds all 11 methods
    ref = methods[0].label
    for traces in per_panel.values():
        assert traces[-1].name == ref  # drawn last: on top
        assert traces[-1].line.width > max(t.line.width for t in traces[:-1])  # and thicker
        assert "random" in [t.name for t in traces]  # the control in every panel
    style = {t.name: t.line for t in curves}
    assert style["FA-CNN maps L4"].dash == "dash" and style["Hybrid FA-CNN maps L3"].dash == "dash"
    assert style["Hybrid FA-CNN maps L4"].dash == "solid" and style["random"].dash == "dot"
    assert sum(t.showlegend is not False for t in curves) == len(methods)  # each method once in the legend
    bands = [t for t in fig.data if t.fill == "toself"]
    assert fig.data.index(bands[-1]) < fig.data.index(curves[0])  # every band under every line


def test_sweep_models_get_their_own_shades_and_hatching_is_explained():
    from facnn.explain.catalogue import Method
    from facnn.viz import estimate_bars, method_colors

    e = dict(value=0.5, low=0.4, high=0.6)
    coda = Method("contributions", "coda").fields()
    recs = [
        dict(Method("intrinsic", layer=6).fields(), mean=e),
        dict(coda, mean=e),
        dict(Method("gradcam", "coda").fields(), mean=e),
        *(dict(coda, method=f"CoDA T={t:g} (sweep)", temperature=t, mean=e) for t in (10, 100, 1000)),
    ]
    colours = method_colors(recs)
    sweep = [colours[f"CoDA T={t:g} (sweep)"] for t in (10, 100, 1000)]
    assert len(set(sweep)) == 3 and colours["CoDA contributions"] not in sweep
    assert len(set(colours.values())) == len(colours)  # every bar its own colour
    fig = estimate_bars(recs, "mean", "t", "y")
    bars = fig.data[0]
    assert [p for p in bars.marker.pattern.shape] == ["", "", "/", "", "", ""]  # Grad-CAM on CoDA hatched
    legend = [t for t in fig.data if t.showlegend]
    assert len(legend) == 1 and "hatched" in legend[0].name and legend[0].marker.pattern.shape == "/"
    plain = estimate_bars(recs[:2], "mean", "t", "y")
    assert not [t for t in plain.data if t.showlegend]  # nothing hatched: no legend entry


def test_map_grid_normalises_each_map_when_asked():
    maps = np.stack([np.random.randn(5, 5) * 100, np.random.randn(5, 5) * 0.01])
    fig = map_grid(np.random.rand(2, 5, 5), {"m": maps}, normalise=True)
    for t, m in zip(fig.data[2:], maps):
        np.testing.assert_allclose(np.asarray(t.z)[::-1], m / np.abs(m).max(), rtol=1e-6)  # float32
    assert fig.data[3].zmin == -1 and fig.data[3].zmax == 1 and fig.data[3].showscale
    assert [a.text for a in fig.layout.annotations if a.text.startswith("max")] == [
        f"max {np.abs(m).max():.1e}" for m in maps
    ]
    same = map_grid(np.random.rand(2, 5, 5), {"m": maps})  # default: one shared scale, as before
    assert same.data[3].zmax == pytest.approx(np.abs(maps).max(), rel=1e-6)  # drawn as float32


def test_layers_are_named_as_in_the_method_labels():
    from facnn.explain.catalogue import Method
    from facnn.viz import layer_estimates, theorem2_steps

    e = dict(value=0.5, low=0.4, high=0.6)
    assert layer_estimates({"c": [e, e, e]}, "t", "y").layout.xaxis.tickprefix == "L"
    steps = theorem2_steps([dict(layer=l, class_step=10.0 * l, class_bound=20.0 * l, class_ratio=0.5) for l in (1, 2)])
    assert steps.layout.xaxis.tickprefix == "L" and Method("intrinsic", layer=6).label.endswith(" L6")
    assert "k" not in "".join(steps.layout.yaxis.ticktext)  # plain numbers on the log axis, no SI prefixes

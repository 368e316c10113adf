"""The explorer that needs no kernel: what each control shows is what its label says, checked on the
figure's data and by clicking the controls in a real browser."""

import base64

import numpy as np
import pytest
import torch

from facnn import FACNN
from facnn.evaluate import randomise_batchnorm
from facnn.viz import explorer_maps, static_explorer

NAMES = ["ant", "bee", "cat", "dog"]


def _decode(spec) -> np.ndarray:
    shape = tuple(int(v) for v in spec["shape"].split(","))
    return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.int8).reshape(shape)


@pytest.fixture(scope="module")
def explorer():
    torch.manual_seed(0)
    model = randomise_batchnorm(FACNN(4, maps_per_class=2, depth=3, hidden=8, zero_init=False)).eval()
    x = torch.rand(3, 1, 16, 16)
    fig = static_explorer(model, x, NAMES, labels=[1, 0, 3], rise_masks=16, occlusion_window=4)
    return model, x, fig


def test_each_class_step_holds_that_class_maps(explorer):
    model, x, fig = explorer
    slider = fig.layout.sliders[0]
    assert [s.label for s in slider.steps] == NAMES
    titles = [a.text for a in fig.layout.annotations]
    assert titles[:4] == ["FA-CNN maps L0 (input)", "FA-CNN maps L1", "FA-CNN maps L2", "FA-CNN maps L3"]
    assert {"image", "Grad-CAM L3", "RISE (centred)", "K-OCC k=4"} <= set(titles)
    step = slider.steps[2]  # "cat"
    values, traces = step.args
    per_image = len(traces) // len(x)
    for i in range(len(x)):  # the L2 panel (third map) of every image is class 2's map at layer 2
        shown = _decode(values["z"][i * per_image + 2])
        expected = explorer_maps(model, x, i, 2, "intrinsic")[2]
        np.testing.assert_allclose(shown, np.round(100 * expected / np.abs(expected).max()), atol=1)
        assert fig.data[traces[i * per_image + 2]].hovertemplate.endswith("FA-CNN maps L2</extra>")


def test_image_menu_shows_one_image_and_names_its_classes(explorer):
    model, x, fig = explorer
    buttons = fig.layout.updatemenus[0].buttons
    pred = model(x).argmax(1).tolist()
    for i, b in enumerate(buttons):
        assert b.label.startswith(f"image {i}: {NAMES[[1, 0, 3][i]]}, predicted {NAMES[pred[i]]} (")
        visible = b.args[0]["visible"]
        shown = {j for j, v in enumerate(visible) if v}
        assert len(shown) == len(fig.data) // len(x)
        image_trace = min(shown)  # the picture of image i, grey 0..255
        picture = np.asarray(fig.data[image_trace].z, dtype=float)
        ref = x[i, 0].numpy()
        assert np.corrcoef(picture.ravel(), ref.ravel())[0, 1] > 0.999
    assert [d.visible for d in fig.data] == buttons[0].args[0]["visible"]  # starts on image 0


def test_explorer_refuses_mismatched_names(explorer):
    model, x, _ = explorer
    with pytest.raises(ValueError, match="one name per class"):
        static_explorer(model, x, NAMES[:3], rise_masks=4)
    with pytest.raises(ValueError, match="one true class per image"):
        static_explorer(model, x, NAMES, labels=[0], rise_masks=4)


def test_controls_switch_maps_in_a_browser(explorer, tmp_path):
    """Click the menu and the slider in headless Chromium; the drawn data follow the labels."""
    from playwright import sync_api

    from facnn.viz.png_export import find_browser

    chromium = find_browser()
    assert chromium, "no Chromium found: run `make browser` (installs Debian's chromium) or set BROWSER_PATH"
    _, x, fig = explorer
    page_file = tmp_path / "explorer.html"
    fig.write_html(page_file, include_plotlyjs=True)
    slider_step = fig.layout.sliders[0].steps[3]  # "dog"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(page_file.as_uri())
            page.wait_for_selector(".main-svg", timeout=30_000)
            page.locator(".updatemenu-header-group").first.click()
            page.locator(".updatemenu-dropdown-button-group .updatemenu-item-text").nth(2).click()
            page.locator(".slider-label-group", has_text="dog").click(force=True)
            page.wait_for_timeout(500)
            state = page.evaluate(
                """() => { const gd = document.querySelector('.js-plotly-plot');
                return {visible: gd.data.map(t => t.visible),
                        z: gd.calcdata.map(c => c[0].z)}; }"""
            )
        finally:
            browser.close()
    assert errors == []
    per_image = len(fig.data) // len(x)
    assert [j for j, v in enumerate(state["visible"]) if v] == list(range(2 * per_image, 3 * per_image))
    values, traces = slider_step.args
    for k, t in enumerate(traces[2 * (per_image - 1) : 3 * (per_image - 1)]):
        np.testing.assert_array_equal(np.asarray(state["z"][t]), _decode(values["z"][2 * (per_image - 1) + k]))


def test_static_explorer_keeps_many_classes_and_large_images_small():
    from facnn.viz.explorer import MAX_CLASSES

    net = FACNN(num_classes=30, in_channels=3, depth=2).eval()
    x = torch.rand(2, 3, 40, 40)
    fig = static_explorer(net, x, [f"c{i}" for i in range(30)], labels=[5, 29], rise_masks=4, max_side=16)
    steps = [s.label for s in fig.layout.sliders[0].steps]
    assert {"c5", "c29"} <= set(steps) and len(steps) <= min(MAX_CLASSES, 2 + 2 * 3)  # true + top-3 predicted
    assert fig.data[0].z.shape == (14, 14)  # the image, average-pooled by 3
    assert fig.to_plotly_json()["data"][1]["z"]["shape"] == "14, 14"  # a map, an int8 typed array
    fig = static_explorer(net, x, [f"c{i}" for i in range(30)], rise_masks=4, classes=[3, 1], max_side=64)
    assert [s.label for s in fig.layout.sliders[0].steps] == ["c3", "c1"]
    with pytest.raises(ValueError, match="distinct class indices"):
        static_explorer(net, x, rise_masks=4, classes=[3, 30])

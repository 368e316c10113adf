"""The front page: its figures are drawn from the committed records (digests in the PNGs), its generated
tables are current, and it stays short."""

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

from facnn.companion import front

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_is_a_front_page():
    text = README.read_text()
    assert len(text.encode()) <= 25_000, f"README.md is {len(text.encode()):,} bytes: move detail to RESULTS.md"
    first_screen = text[: text.index("## Two commands")]
    assert "<!-- results:verdicts -->" in first_screen and "figures/front/feature_maps.png" in first_screen
    for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):  # local links resolve
        if not link.startswith("http"):
            assert (ROOT / link).exists(), link


@pytest.mark.parametrize("name", list(front.FRONT))
def test_each_front_figure_is_drawn_from_the_committed_data(name):
    png = front.front_dir() / f"{name}.png"
    assert f"figures/front/{name}.png" in README.read_text(), f"README.md does not show {png.name}"
    assert png.is_file(), f"{png} is missing: python -m facnn.companion.front {name}"
    assert png.stat().st_size <= front.MAX_BYTES
    meta = front.png_metadata(png)
    now = front.figure_sources(name)
    assert meta.get("source") == now["source"] and meta.get("sha256") == now["sha256"], (
        f"{png.name} was drawn from other data than the committed records hold now: "
        f"redraw it with `python -m facnn.companion.front {name}`"
    )


def test_feature_map_data_reproduce_from_the_shipped_weights():
    stored = json.loads((front.front_dir() / "feature_maps.data.json").read_text())
    p = stored["parameters"]
    fresh = front.feature_map_data(p["n_images"], p["rise_masks"], p["seed"])
    assert fresh["weights"] == stored["weights"] and fresh["columns"] == stored["columns"]
    assert list(fresh["rows"]) == list(stored["rows"])
    for key in ["images", *stored["rows"]]:
        a = front.decode_maps(stored["rows"].get(key, stored["images"]), stored["shape"])
        b = front.decode_maps(fresh["rows"].get(key, fresh["images"]), fresh["shape"])
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-4 * float(np.abs(a).max()), err_msg=key)


def test_png_metadata_round_trip(tmp_path):
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("facnn:sha256", "abc")
    info.add_text("other", "x")
    Image.new("RGB", (2, 2)).save(tmp_path / "a.png", pnginfo=info)
    assert front.png_metadata(tmp_path / "a.png") == {"sha256": "abc"}


def test_generated_blocks_are_current():
    spec = importlib.util.spec_from_file_location("results_tables", ROOT / "tools" / "results_tables.py")
    tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tables)
    for page in (README, ROOT / "RESULTS.md"):
        text = page.read_text()
        assert tables.render_blocks(text) == text, (
            f"{page.name}'s generated tables are stale: python tools/results_tables.py --readme"
        )

"""The cost tool: counts on the meta device that match torch's own counters on real tensors, and
the ImageNet-100 reading of FA-CNN within 1.5× of ResNet-50 (counted, not timed)."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from facnn.core.registry import forward_flops
from facnn.train import load_config
from facnn.train.cost import config_cost, model_cost, saved_bytes

SMALL = {"num_classes": 10, "in_channels": 1, "depth": 3, "hidden": 8, "pool_at": [2]}


def test_meta_counts_equal_real_counts():
    c = model_cost("facnn", SMALL, image_size=28, batch=2)
    assert c.gflops == round(forward_flops("facnn", SMALL, 28) / 1e9, 3)
    net = __import__("facnn").FACNN(**SMALL).train()
    real = saved_bytes(net, torch.rand(2, 1, 28, 28)) / 2 / 2**20
    assert c.saved_fp32_mib == pytest.approx(real, abs=0.051)
    assert c.params == sum(p.numel() for p in net.parameters())


def test_imagenet100_facnn_costs_at_most_one_and_a_half_resnet50():
    fa = config_cost(load_config("imagenet100_facnn24"))
    rn = config_cost(load_config("imagenet100_resnet"))
    assert (fa.image_size, rn.image_size) == (224, 224) and rn.params > 20_000_000  # torchvision's ResNet-50
    r = fa.ratios(rn)
    assert r["gflops"] <= 1.5 and r["saved"] <= 1.5, r


def test_an_image_folder_config_without_classes_is_refused():
    cfg = load_config("imagenet100_facnn24")
    cfg.model_config.pop("num_classes")
    with pytest.raises(ValueError, match="num_classes"):
        config_cost(cfg)
    assert config_cost(cfg, num_classes=10).params < config_cost(load_config("imagenet100_facnn24")).params


def test_the_command_line_prints_every_config():
    r = subprocess.run([sys.executable, "-m", "facnn.train.cost", "--all"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    for name in ("imagenet100_facnn24", "imagenet100_resnet", "fashion_mnist_facnn", "cifar10_facnn24"):
        assert f"| `{name}` |" in r.stdout
    for page in ("README.md", "RESULTS.md"):  # README's GPU section and RESULTS' GPU scale
        text = (Path(__file__).resolve().parents[1] / page).read_text()
        block = text.split("<!-- cost table: python -m facnn.train.cost --all -->\n", 1)[1].split("\n\n", 1)[0]
        assert block.strip() == r.stdout.strip(), (
            f"{page}'s cost table is stale: paste `python -m facnn.train.cost --all`"
        )
    bad = subprocess.run([sys.executable, "-m", "facnn.train.cost", "--config", "nope"], capture_output=True, text=True)
    assert bad.returncode != 0 and "nope" in bad.stderr


def test_checkpointing_cost_is_counted_and_refused_without_aligned_layers():
    from facnn.train.cost import checkpoint_cost

    c = checkpoint_cost(load_config("fashion_mnist_facnn"), 1)
    assert c["kept"] < c["plain"] and c["peak_bound"] == round(c["kept"] + c["recompute"], 1)
    longer = checkpoint_cost(load_config("fashion_mnist_facnn"), 3)
    assert longer["kept"] <= c["kept"] and longer["recompute"] >= c["recompute"]  # fewer inputs kept, more recomputed
    with pytest.raises(ValueError, match="no aligned layers"):
        checkpoint_cost(load_config("fashion_mnist_resnet"), 1)

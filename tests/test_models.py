import pytest
import torch
from torch import nn

from facnn import FACNN, ResNet, class_maps
from facnn.evaluate import randomise_batchnorm
from facnn.models import predict
from facnn.models.layers import DampenedResidual


def make(**kw):
    torch.manual_seed(0)
    return randomise_batchnorm(FACNN(10, zero_init=False, **kw))


def test_contract_shapes():
    m = make(depth=5, maps_per_class=3)
    x = torch.rand(4, 1, 28, 28)
    maps = m.feature_maps(x)
    assert len(maps) == m.num_layers == 6
    assert all(a.shape[:2] == (4, 30) for a in maps)
    assert maps[0].shape[-2:] == (28, 28) and maps[-1].shape[-2:] == (7, 7)
    y = m(x)
    assert y.shape == (4, 10)
    assert torch.allclose(m.head(maps[-1]), y, atol=1e-6)
    assert class_maps(m, x, 3).shape == (4, 28, 28)
    assert class_maps(m, x, torch.tensor([0, 1, 2, 3]), layer=2, upsample=False).shape == (4, 14, 14)


def test_aligned_input_is_tiled_normalised_image():
    m = FACNN(3, in_channels=3, maps_per_class=2, mean=(0.1, 0.2, 0.3), std=(0.5, 0.5, 0.5))
    x = torch.rand(2, 3, 16, 16)
    a0 = m.feature_maps(x)[0]
    for k in range(6):
        assert torch.equal(a0[:, k], (x[:, k % 3] - (0.1, 0.2, 0.3)[k % 3]) / 0.5)


def test_untrained_zero_init_model_is_pooled_identity():
    # zero_init: every branch outputs 0, so each class map is the (pooled) normalised image
    m = FACNN(4, maps_per_class=2, depth=4, pool_at=[2, 4]).eval()
    x = torch.rand(2, 1, 16, 16)
    norm = (x[:, 0] - 0.5) / 0.5
    assert torch.allclose(class_maps(m, x, 1, layer=-1, upsample=False), nn.functional.avg_pool2d(norm, 4), atol=1e-6)


def test_no_linear_and_no_mixing_outside_branches():
    m = make(depth=4, branch="pre")
    for name, mod in m.named_modules():
        assert not isinstance(mod, nn.Linear), name
        if isinstance(mod, (nn.Conv2d, nn.BatchNorm2d)):
            assert ".branch." in name, f"{name} mixes or rescales channels outside a residual branch"


def test_channel_identity_is_local_without_branch():
    # perturbing input channel k of the aligned stream moves only channel k when branches are off
    m = FACNN(5, maps_per_class=2, depth=3)
    a = torch.randn(1, 10, 12, 12)
    b = a.clone()
    b[:, 3] += 1.0
    out_a, out_b = a, b
    for layer in m.layers:
        out_a, out_b = layer(out_a), layer(out_b)
    diff = (out_a - out_b).abs().flatten(2).amax(2)[0]
    assert diff[3] > 0 and diff[torch.arange(10) != 3].max() == 0


@pytest.mark.parametrize("branch", ["post", "pre", "inverted"])
def test_branch_styles_run_and_learnable_dampening_is_bounded(branch):
    m = make(depth=3, branch=branch, learn_dampening=True, max_dampening=0.3, dampening=0.2, learn_logit_scale=True)
    for layer in m.layers:
        assert isinstance(layer, DampenedResidual)
        assert abs(layer.dampening.item() - 0.2) < 1e-5
        layer.theta.data.fill_(50.0)
        assert layer.dampening.item() <= 0.3 + 1e-7  # bound up to float32 rounding
    assert m(torch.rand(2, 1, 12, 12)).shape == (2, 10)


BAD_INPUTS = [
    (torch.rand(2, 3, 28, 28), ValueError, "channels"),
    (torch.rand(2, 1, 3, 3), ValueError, "at least"),
    (torch.randint(0, 255, (2, 1, 28, 28), dtype=torch.uint8), TypeError, "dtype"),
    (torch.full((2, 1, 28, 28), float("nan")), ValueError, "NaN"),
    (torch.full((2, 1, 28, 28), float("inf")), ValueError, "NaN or Inf"),
    (torch.rand(0, 1, 28, 28), ValueError, "empty batch"),
    (torch.rand(1, 28, 28), ValueError, "unsqueeze"),
    ([[0.0]], TypeError, "torch.Tensor"),
]


@pytest.mark.parametrize("x,exc,msg", BAD_INPUTS)
def test_bad_images_give_clear_errors(x, exc, msg):
    m = FACNN(10)
    calls = [lambda: m.feature_maps(x), lambda: class_maps(m, x, 0), lambda: predict(m, x)]
    if msg not in ("NaN", "NaN or Inf"):  # forward checks shapes only (no host sync); values at API entry
        calls.append(lambda: m(x))
    for call in calls:
        with pytest.raises(exc, match=msg):
            call()


@pytest.mark.parametrize(
    "target,layer,exc,msg",
    [
        (10, -1, ValueError, "10 classes"),
        (-1, -1, ValueError, "indices in"),
        (torch.tensor([0, 1, 2]), -1, ValueError, "batch has 2"),
        (torch.tensor([0.5, 1.0]), -1, TypeError, "integer"),
        (0, 7, ValueError, "out of range"),
        (0, -8, ValueError, "out of range"),
        (0, 1.5, TypeError, "layer must be an int"),
    ],
)
def test_bad_target_and_layer(target, layer, exc, msg):
    m = FACNN(10)
    with pytest.raises(exc, match=msg):
        class_maps(m, torch.rand(2, 1, 28, 28), target, layer=layer)


def test_constructor_validation():
    with pytest.raises(ValueError, match="pool_at"):
        FACNN(10, depth=3, pool_at=[5])
    with pytest.raises(ValueError, match="dampening"):
        FACNN(10, dampening=2.0)
    with pytest.raises(ValueError, match="branch='dense' is not one of"):
        FACNN(10, branch="dense")
    with pytest.raises(ValueError, match="one per layer"):
        FACNN(10, depth=3, hidden=[8, 8])


def test_per_layer_branch_widths():
    m = FACNN(10, depth=3, hidden=[8, 16, 24], pool_at=[2])
    assert [layer.branch[0].out_channels for layer in m.layers] == [8, 16, 24]
    assert m.config["hidden"] == [8, 16, 24]
    assert FACNN(**m.config).config == m.config  # the config rebuilds the model (checkpoints)
    assert m(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_resnet_baseline():
    m = ResNet(10, in_channels=3, width=8)
    assert m(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="channels"):
        m(torch.rand(2, 1, 32, 32))


def test_all_class_maps_from_one_forward():
    from facnn import all_class_maps

    m = make(depth=4)
    x = torch.rand(2, 1, 28, 28)
    logits, maps = all_class_maps(m, x)
    assert torch.allclose(logits, m(x), atol=1e-6) and len(maps) == m.num_layers
    for layer, mm in enumerate(maps):
        assert mm.shape == (2, 10, 28, 28)
        torch.testing.assert_close(mm[:, 7], class_maps(m, x, 7, layer=layer))
    _, raw = all_class_maps(m, x, upsample=False)
    assert raw[-1].shape == (2, 10, 7, 7)


def test_forward_flops_follow_the_architecture():
    from dataclasses import asdict

    from facnn.core.registry import forward_flops
    from facnn.train import load_config

    cfg = {"num_classes": 10, "in_channels": 1, "depth": 3, "pool_at": []}
    small, large = forward_flops("facnn", cfg, 28), forward_flops("facnn", cfg, 56)
    assert large / small == pytest.approx(4, rel=0.02)  # convolutions: FLOPs grow with the pixel count
    deep, default = (
        forward_flops("facnn", {"num_classes": 10, "in_channels": 1, **asdict(load_config(c))["model_config"]})
        for c in ("fashion_mnist_facnn24", "fashion_mnist_facnn")
    )
    assert 2 < deep / default < 3  # the 24-layer model: 132 vs 54 MFLOPs


def test_functions_that_run_a_model_hand_it_back_in_its_mode():
    """predict, the theorem checks, pixel removal and the sanity checks put a model in eval mode
    only while they run it (facnn.core.modes.eval_mode), whatever mode it came in."""
    from facnn.evaluate import PixelRemoval
    from facnn.evaluate import randomisation as sanity
    from facnn.evaluate import theorems as theory

    x, y = torch.rand(3, 1, 28, 28), torch.tensor([0, 1, 2])
    calls = {
        "predict": lambda m: predict(m, x),
        "morph_profile": lambda m: theory.morph_profile(m, x),
        "final_correlations": lambda m: theory.final_correlations(m, x),
        "PixelRemoval.update": lambda m: PixelRemoval(m, percents=[0, 50]).update(x, y, torch.rand(3, 28, 28)),
        "cascading_randomisation": lambda m: sanity.cascading_randomisation(
            m, lambda net, xs, ys: class_maps(net, xs, ys), x, y
        ),
    }
    for name, call in calls.items():
        m = FACNN(10, depth=2, hidden=8).train()
        call(m)
        assert m.training, f"{name} left the model in eval mode"

"""Explainers on any classifier: torchvision's ResNet-18 against captum, Quantus through
``explain_func``, the self-explanation protocol, the registry, and models without graph breaks."""

import numpy as np
import pytest
import torch
import torchvision
from captum.attr import LayerAttribution, LayerGradCam
from captum.attr import Occlusion as CaptumOcclusion
from torch import nn

import facnn
from facnn import FACNN, RISE, CoDANet, GradCAM, HybridFACNN, IntrinsicMaps, Occlusion, RandomMaps, ResNet
from facnn.core.registry import build_model, model_name, register_model
from facnn.evaluate import randomise_batchnorm
from facnn.models import load_checkpoint, save_checkpoint


@pytest.fixture(scope="module")
def resnet18():
    torch.manual_seed(0)
    return randomise_batchnorm(torchvision.models.resnet18(num_classes=10)).eval()


X = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
T = torch.tensor([1, 4, 7])


@pytest.mark.parametrize("layer", ["layer4", "layer3.1"])
def test_gradcam_on_torchvision_resnet_matches_captum(resnet18, layer):
    ours = GradCAM(resnet18, layer).attribute(X, T)
    module = resnet18.get_submodule(layer)
    ref = LayerGradCam(resnet18, module).attribute(X, T, relu_attributions=True)
    ref = LayerAttribution.interpolate(ref, (64, 64), interpolate_mode="bilinear")[:, 0]
    torch.testing.assert_close(ours, ref.detach(), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(GradCAM(resnet18, module).attribute(X, T), ours)  # module or dotted name


def test_occlusion_on_torchvision_resnet_matches_captum(resnet18):
    ours = Occlusion(resnet18, window=16, stride=8).attribute(X, T)
    ref = CaptumOcclusion(resnet18).attribute(
        X, target=T, sliding_window_shapes=(3, 16, 16), strides=(3, 8, 8), baselines=0.0
    )
    torch.testing.assert_close(ours, ref.sum(1).detach() / 3, rtol=1e-4, atol=1e-5)


def test_rise_and_random_take_any_forward_callable(resnet18):
    forward = lambda x: resnet18(x)  # noqa: E731 - a plain callable, not a module
    a = RISE(forward, n_masks=40, batch_size=20).attribute(X, T)
    b = RISE(resnet18, n_masks=40, batch_size=20).attribute(X, T)
    torch.testing.assert_close(a, b)
    assert RandomMaps(forward).attribute(X, 0).shape == (3, 64, 64)


def test_one_call_shape_for_every_method_through_explain_func(resnet18):
    for method, opts in [
        ("gradcam", {"layer": "layer4"}),
        ("rise", {"n_masks": 20}),
        ("occlusion", {"window": 32}),
        ("random", {}),
    ]:
        out = facnn.explain_func(resnet18, X.numpy(), T.numpy(), method=method, **opts)
        assert out.shape == (3, 1, 64, 64) and out.dtype == np.float32 and np.isfinite(out).all()


def test_class_count_comes_from_the_logits(resnet18):
    with pytest.raises(ValueError, match=r"10 classes"):
        GradCAM(resnet18, "layer4").attribute(X, 10)


@pytest.mark.parametrize("bad,match", [(nn.Identity(), "classifier"), (nn.Conv2d(3, 4, 3), "classifier")])
def test_a_model_that_is_not_a_classifier_is_named(bad, match):
    with pytest.raises(ValueError, match=match):
        facnn.explain_func(bad, X, T, method="rise", n_masks=4)


def test_a_model_without_parameters_is_explained_on_the_cpu():
    pooled = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())  # (B, 3, H, W) -> 3 "logits", no parameters
    out = facnn.explain_func(pooled, X, torch.tensor([0, 1, 2]), method="occlusion", window=16)
    assert out.shape == (3, 1, 64, 64)


def test_layer_errors_name_the_fix(resnet18):
    with pytest.raises(ValueError, match="no submodule 'layer9'.*layer4"):
        GradCAM(resnet18, "layer9")
    with pytest.raises(ValueError, match="no default layer"):
        GradCAM(resnet18)
    with pytest.raises(ValueError, match="not a submodule"):
        GradCAM(resnet18, nn.Conv2d(1, 1, 1))
    with pytest.raises(TypeError, match="nn.Module"):
        GradCAM(lambda x: x, "layer4")


def test_explain_func_refuses_integer_pixels_and_fractional_targets():
    m = FACNN(10)
    with pytest.raises(TypeError, match="255"):
        facnn.explain_func(m, (np.random.rand(2, 1, 28, 28) * 255).astype(np.uint8), [1, 2])
    with pytest.raises(TypeError, match="integer class"):
        facnn.explain_func(m, torch.rand(2, 1, 28, 28), torch.tensor([1.7, 2.2]))


def test_self_explaining_models_by_protocol_not_by_class():
    x = torch.rand(2, 1, 28, 28)
    for m in (FACNN(10), HybridFACNN(10), CoDANet(10)):
        maps = IntrinsicMaps(m).attribute(x, torch.tensor([3, 5]))
        assert maps.shape == (2, 28, 28)
    with pytest.raises(TypeError, match="class maps, not contributions"):
        facnn.explain_func(FACNN(10), x, [1, 2], method="contributions")
    with pytest.raises(TypeError, match="no intrinsic maps"):
        IntrinsicMaps(ResNet(10))

    class Glass(nn.Module):  # a user's model: its own maps through the protocol
        intrinsic_kind = "input maps"

        def forward(self, x):
            return x.flatten(2).mean(2).repeat(1, 4)

        def intrinsic_maps(self, x, classes, layer=None):
            return x[:, :1].expand(-1, classes.shape[1], -1, -1) * (1 + classes[:, :, None, None])

    out = IntrinsicMaps(Glass()).attribute(x, 2)
    torch.testing.assert_close(out, 3 * x[:, 0])


def test_registry_names_models_by_class_not_by_name(tmp_path, resnet18):
    with pytest.raises(TypeError, match="not a registered facnn model"):
        save_checkpoint(tmp_path / "tv.pt", resnet18)  # torchvision's ResNet is not ours
    assert model_name(ResNet(10)) == "resnet" and model_name(HybridFACNN(10)) == "hybrid"

    @register_model("test-tiny")
    class Tiny(nn.Module):
        def __init__(self, num_classes: int = 3):
            super().__init__()
            self.config = dict(num_classes=num_classes)
            self.fc = nn.Linear(4, num_classes)

        def forward(self, x):
            return self.fc(x.flatten(1)[:, :4])

    m = Tiny(5)
    path = save_checkpoint(tmp_path / "tiny.pt", m)
    back = load_checkpoint(path)
    assert isinstance(back, Tiny) and torch.equal(back.fc.weight, m.fc.weight)
    assert isinstance(build_model("test-tiny", {"num_classes": 2}), Tiny)
    with pytest.raises(ValueError, match="taken"):
        register_model("facnn")(Tiny)


def test_hybrid_keeps_facnn_contract_and_theorem1():
    from facnn.evaluate.theorems import head_error, morph_profile, theorem1_error

    torch.manual_seed(0)
    m = randomise_batchnorm(HybridFACNN(10, depth=3, hidden=8, trunk_width=8))
    x, t = torch.rand(3, 1, 28, 28), torch.tensor([0, 4, 9])
    assert m.num_layers == 4 and len(m.feature_maps(x)) == 4
    assert theorem1_error(m, x, t) <= 1e-5 and head_error(m, x) <= 1e-6
    for row in morph_profile(m, x, t):
        assert abs(row.step - row.bound) <= 1e-5 * max(1.0, row.bound)
        assert row.class_ratio <= 1 + 1e-5
    back = build_model("hybrid", m.config)
    back.load_state_dict(m.state_dict())
    torch.testing.assert_close(back.eval()(x), m.eval()(x))


def test_hybrid_takes_a_users_trunk():
    trunk = nn.Sequential(nn.Conv2d(3, 12, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
    m = HybridFACNN(5, in_channels=3, trunk=trunk, trunk_channels=12, trunk_downsampling=2, depth=2, hidden=8)
    assert m(torch.rand(2, 3, 32, 32)).shape == (2, 5) and m.config["trunk"] == "custom"
    with pytest.raises(ValueError, match="custom trunk"):
        build_model("hybrid", m.config)


@pytest.mark.parametrize(
    "make",
    [
        lambda: FACNN(10),
        lambda: ResNet(10, width=8),
        lambda: CoDANet(10),
        lambda: HybridFACNN(10, hidden=8, trunk_width=8),
    ],
)
def test_forwards_have_no_graph_breaks(make):
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(make().eval())(torch.rand(2, 1, 28, 28))
    assert explanation.graph_break_count == 0, explanation.break_reasons


def test_compiled_facnn_gives_the_eager_logits():
    torch._dynamo.reset()
    m, x = FACNN(10).eval(), torch.rand(4, 1, 28, 28)
    compiled = torch.compile(m)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), m(x), rtol=1e-5, atol=1e-5)


def test_quantus_metrics_run_through_explain_func():
    import quantus  # in the test extra

    torch.manual_seed(0)
    model = randomise_batchnorm(FACNN(10, hidden=8)).eval()
    x = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    y = model(torch.from_numpy(x)).argmax(1).numpy()
    s = np.zeros((4, 1, 28, 28), dtype=np.float32)
    s[:, :, 8:20, 8:20] = 1
    common = dict(
        model=model,
        x_batch=x,
        y_batch=y,
        explain_func=facnn.explain_func,
        explain_func_kwargs={"method": "intrinsic", "layer": -1},
        device="cpu",
    )
    faith = quantus.PixelFlipping(features_in_step=28, disable_warnings=True, display_progressbar=False)(**common)
    assert len(faith) == 4 and all(np.isfinite(np.asarray(f)).all() for f in faith)
    loc = quantus.PointingGame(disable_warnings=True)(**common, s_batch=s)
    assert len(loc) == 4 and set(loc) <= {True, False, 0, 1}
    rand = quantus.RandomLogit(num_classes=10, disable_warnings=True)(**common)
    assert len(rand) == 4 and np.isfinite(rand).all()

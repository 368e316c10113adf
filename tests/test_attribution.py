import numpy as np
import pytest
import torch
from captum.attr import LayerAttribution, LayerGradCam
from captum.attr import Occlusion as CaptumOcclusion
from torch import nn

from facnn import FACNN, RISE, ClassMaps, GradCAM, Occlusion, ResNet, class_maps, explain_func
from facnn.evaluate import randomise_batchnorm
from facnn.explain import RandomMaps, make_explainer


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return randomise_batchnorm(ResNet(10, width=8))


@pytest.fixture(scope="module")
def facnn():
    torch.manual_seed(0)
    return randomise_batchnorm(FACNN(10, maps_per_class=2, depth=4, hidden=16, zero_init=False))


X = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
T = torch.tensor([1, 4, 7])


def test_gradcam_matches_captum_on_resnet(resnet):
    ours = GradCAM(resnet).attribute(X, T)
    cam = LayerGradCam(resnet, resnet.last_conv).attribute(X, target=T, relu_attributions=True)
    ref = LayerAttribution.interpolate(cam, (28, 28), "bilinear")[:, 0]
    assert ref.abs().max() > 0
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("layer", [1, 2, 3, 4])
def test_gradcam_matches_captum_on_facnn_layers(facnn, layer):
    ours = GradCAM(facnn, layer, upsample=False).attribute(X, T)
    ref = LayerGradCam(facnn, facnn.layers[layer - 1]).attribute(X, target=T, relu_attributions=True)[:, 0]
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-7)


def test_gradcam_options(facnn):
    signed = GradCAM(facnn, 2, relu=False).attribute(X, T)
    assert (signed < 0).any()
    norm = GradCAM(facnn, 2, normalize=True).attribute(X, T)
    assert torch.allclose(norm.flatten(1).amax(1), torch.ones(3))
    assert facnn.training is False


@pytest.mark.parametrize("window,stride", [(4, 2), (5, 3), (7, 7), (3, 1), (6, 4)])
def test_occlusion_matches_captum(resnet, window, stride):
    ours = Occlusion(resnet, window, stride, batch_size=37).attribute(X, T)
    ref = CaptumOcclusion(resnet).attribute(
        X,
        sliding_window_shapes=(1, window, window),
        strides=(1, stride, stride),
        target=T,
        baselines=0.0,
        perturbations_per_eval=64,
    )[:, 0]
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-6)


def test_occlusion_rgb_and_fill_match_captum():
    torch.manual_seed(0)
    m = randomise_batchnorm(ResNet(5, in_channels=3, width=8))
    x = torch.rand(2, 3, 16, 16)
    ours = Occlusion(m, 4, 2, fill=0.5).attribute(x, 2)
    ref = CaptumOcclusion(m).attribute(x, sliding_window_shapes=(3, 4, 4), strides=(3, 2, 2), target=2, baselines=0.5)
    torch.testing.assert_close(ours, ref[:, 0], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(ref[:, 0], ref[:, 2])


class CornerModel(nn.Module):
    """A model whose class-1 logit depends only on the top-left 7×7 region (known ground truth)."""

    num_classes, in_channels, min_size = 2, 1, 1

    def forward(self, x):
        s = (x[:, 0, :7, :7].mean((1, 2)) - 0.5) * 8  # centred: the softmax is not saturated
        return torch.stack([torch.zeros_like(s), s], 1)


@pytest.mark.parametrize("method", ["rise", "occlusion"])
def test_perturbation_maps_find_the_region_that_matters(method):
    x = torch.ones(2, 1, 28, 28)
    m = CornerModel()
    expl = RISE(m, n_masks=1000, cells=4, batch_size=250) if method == "rise" else Occlusion(m, 4, 2)
    sal = expl.attribute(x, 1)
    inside, outside = sal[:, :7, :7].mean(), sal[:, 14:, 14:].mean()
    if method == "rise":
        assert inside > 1.3 * outside
    else:
        assert inside > 0 and outside.abs() < 1e-6


def test_rise_is_seeded_and_chunking_invariant(facnn):
    a = RISE(facnn, n_masks=120, batch_size=50, seed=3).attribute(X[:2], 1)
    b = RISE(facnn, n_masks=120, batch_size=50, seed=3).attribute(X[:2], 1)
    c = RISE(facnn, n_masks=120, batch_size=50, seed=4).attribute(X[:2], 1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    masks = RISE(facnn, n_masks=120, batch_size=50, seed=3).masks((28, 28), 0, 120, torch.device("cpu"))
    assert masks.shape == (120, 1, 28, 28) and 0 <= masks.min() and masks.max() <= 1
    assert abs(masks.mean().item() - 0.5) < 0.1


def test_rise_and_occlusion_maps_do_not_depend_on_the_batch_size(facnn):
    # batch_size sets masked (occluded) images per forward, not which masks: the maps agree to rounding
    # and the repr (the map-cache key) leaves it out. 1,100 masks span three draw chunks of 500
    rise = [RISE(facnn, n_masks=1100, seed=3, batch_size=b) for b in (None, 7, 500, 1100)]
    maps = [r.attribute(X[:2], 1) for r in rise]
    for m in maps[1:]:
        torch.testing.assert_close(m, maps[0], rtol=1e-5, atol=1e-6)
    assert len({repr(r) for r in rise}) == 1 and "batch_size" not in repr(rise[0])
    occ = [Occlusion(facnn, 4, batch_size=b) for b in (None, 5, 10_000)]
    maps = [o.attribute(X[:3], T[:3]) for o in occ]
    for m in maps[1:]:
        torch.testing.assert_close(m, maps[0], rtol=1e-5, atol=1e-6)
    assert len({repr(o) for o in occ}) == 1


def test_perturbation_forwards_shrink_for_large_images():
    # 500 masked 224² images through a 400-channel full-resolution layer (an FA-CNN-24 on ImageNet-100)
    # exceed CUDA's 2^31-element kernels ("integer out of range", seen on an H200): at 224² the default
    # batch is 83 images per forward, at 28² it stays 500 (RISE) and 256 (occlusion)
    from facnn.explain.base import FORWARD_PIXELS, images_per_forward

    seen = []

    class Recorder(nn.Module):
        def forward(self, x):
            seen.append(len(x))
            return torch.stack([x.mean((1, 2, 3)), -x.mean((1, 2, 3))], 1)

    x = torch.rand(1, 3, 224, 224)
    RISE(Recorder(), n_masks=200, seed=0).attribute(x, 0)
    assert max(seen) == FORWARD_PIXELS // 224**2 == 83 and sum(seen[1:]) == 200  # seen[0]: the class count
    seen.clear()
    Occlusion(Recorder(), 8).attribute(x, 0)  # 55×55 windows; seen[:2]: the class count, the unoccluded image
    assert max(seen[2:]) == 83 and sum(seen[2:]) == 55 * 55
    assert images_per_forward(None, (28, 28), 500) == 500 and images_per_forward(None, (28, 28), 256) == 256
    assert images_per_forward(64, (224, 224), 500) == 64 and images_per_forward(None, (4096, 4096), 500) == 1


def test_class_maps_method_is_the_function(facnn):
    torch.testing.assert_close(ClassMaps(facnn, 2).attribute(X, T), class_maps(facnn, X, T, 2))
    with pytest.raises(TypeError, match="no intrinsic maps"):
        ClassMaps(ResNet(10))


@pytest.mark.parametrize(
    "method,opts",
    [
        ("intrinsic", {"layer": -1}),
        ("gradcam", {"layer": 2}),
        ("rise", {"n_masks": 50, "batch_size": 25}),
        ("occlusion", {"window": 7}),
    ],
)
def test_explain_func_quantus_shape(facnn, method, opts):
    out = explain_func(facnn, X.numpy(), T.numpy(), method=method, device="cpu", **opts)
    assert isinstance(out, np.ndarray) and out.shape == (3, 1, 28, 28) and out.dtype == np.float32
    assert np.isfinite(out).all()


def test_attribution_input_errors(facnn):
    for expl in (GradCAM(facnn), Occlusion(facnn), RISE(facnn, 10), ClassMaps(facnn)):
        with pytest.raises(ValueError, match="classes"):
            expl.attribute(X, 10)
        with pytest.raises(ValueError, match="channels"):
            expl.attribute(torch.rand(1, 3, 28, 28), 0)
        with pytest.raises(ValueError, match="empty"):
            expl.attribute(torch.rand(0, 1, 28, 28), 0)
    with pytest.raises(ValueError, match="unknown method"):
        explain_func(facnn, X, T, method="lime")
    with pytest.raises(ValueError, match="larger than"):
        Occlusion(facnn, 40).attribute(X, 0)


@pytest.mark.parametrize(
    "make",
    [
        lambda m: RISE(m, 60, batch_size=25),
        lambda m: Occlusion(m, 7, 7),
        lambda m: GradCAM(m, 2),
        lambda m: ClassMaps(m, 3),
    ],
)
def test_attribute_classes_equals_per_class_calls(facnn, make):
    expl = make(facnn)
    classes = torch.tensor([[0, 3], [5, 5], [9, 1]])
    both = expl.attribute_classes(X, classes.tolist())
    assert both.shape == (3, 2, 28, 28)
    for k in range(2):
        torch.testing.assert_close(both[:, k], expl.attribute(X, classes[:, k]), rtol=1e-5, atol=1e-6)


def test_centred_rise_removes_the_baseline_and_keeps_the_ranking(facnn):
    raw = RISE(facnn, 200, batch_size=50).attribute(X[:2], 3)
    cen = RISE(facnn, 200, batch_size=50, center=True).attribute(X[:2], 3)
    masks = RISE(facnn, 200, batch_size=50).masks((28, 28), 0, 200, torch.device("cpu"))[:, 0]
    probs = torch.stack([torch.softmax(facnn(X[i : i + 1] * masks[:, None]), 1)[:, 3] for i in range(2)])
    expected = raw - (probs.mean(1)[:, None, None] * masks.sum(0)) / (200 * 0.5)
    torch.testing.assert_close(cen, expected, rtol=1e-4, atol=1e-6)
    # the paper's form carries the baseline ≈ mean probability on every pixel; centring leaves the covariance
    assert (raw > 0).all() and cen.abs().max() < 0.05 * raw.min()


def test_random_maps_control_is_seeded_keyed_by_image_and_class_and_ignores_the_model(facnn, resnet):
    rm = RandomMaps(facnn, seed=3)
    a, b = rm.attribute(X, T), rm.attribute(X, T)
    assert a.shape == (3, 28, 28) and not torch.equal(a, b)  # a stream, not one map repeated
    rm.reset()
    torch.testing.assert_close(rm.attribute(X, T), a, rtol=0, atol=0)  # replayed
    torch.testing.assert_close(make_explainer(resnet, "random", seed=3).attribute(X, T), a, rtol=0, atol=0)
    rm.reset(start=1)  # image 1 onwards, alone and in another batch: the same maps (sharding relies on it)
    torch.testing.assert_close(rm.attribute(X[1:], T[1:]), a[1:], rtol=0, atol=0)
    rm.reset()
    other = (T + 1) % 10
    assert not torch.equal(rm.attribute(X, other), a)  # another class, another map
    rm.reset()
    both = rm.attribute_classes(X, torch.stack([T, other], 1))
    torch.testing.assert_close(both[:, 0], a, rtol=0, atol=0)
    rm.reset(4)
    assert not torch.equal(rm.attribute(X, T), a) and repr(rm) == "RandomMaps(seed=4)"
    with pytest.raises(ValueError, match="channel"):
        rm.attribute(torch.rand(2, 3, 28, 28), 0)


def test_gradcam_records_no_graph_before_its_layer_and_restores_the_grad_mode(facnn):
    gc = GradCAM(facnn, 2)
    plain = gc.attribute(X, T)
    with torch.no_grad():
        inside = gc.attribute(X, T)  # works under no_grad, which stays on after it
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled()
    torch.testing.assert_close(inside, plain)
    seen = []
    h = facnn.layers[1].register_forward_hook(lambda m, i, o: seen.append(o.requires_grad))
    try:
        gc.attribute(X, T)
    finally:
        h.remove()
    assert seen == [False]  # the layer before Grad-CAM's records no autograd graph

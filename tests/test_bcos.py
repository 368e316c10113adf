"""B-cos networks: the unit against its definition, dynamic linearity, completeness of the
contributions, explanation mode as a context manager, and training/saving like the other models."""

import math

import pytest
import torch
import torch.nn.functional as F

from facnn import BcosNet, explanation_mode, make_explainer
from facnn.core.registry import build_model
from facnn.models import BcosConv2d


def small(**kw):
    torch.manual_seed(0)
    cfg = dict(kernels=(3, 3, 1), strides=(1, 2, 1), channels=(6, 8))
    return BcosNet(4, **{**cfg, **kw})


@pytest.mark.parametrize("b,max_out,stride", [(2.0, 2, 1), (2.0, 1, 2), (1.5, 3, 1)])
def test_unit_matches_its_definition(b, max_out, stride):
    torch.manual_seed(0)
    layer = BcosConv2d(3, 5, 3, stride, b=b, max_out=max_out)
    x = torch.randn(2, 3, 9, 9)
    patches = F.unfold(x, 3, padding=1, stride=stride)  # (N, Cin·k², P)
    w = layer.weight.flatten(1)
    w_hat = w / w.norm(dim=1, keepdim=True)
    lin = torch.einsum("uf,nfp->nup", w_hat, patches)  # ŵᵀx_p per unit
    best = lin.view(2, 5, max_out, -1).amax(2)
    cos = best / (patches.norm(dim=1, keepdim=True) + 1e-6)
    expected = cos.abs().pow(b - 1) * best * 100 / math.sqrt(27)
    torch.testing.assert_close(layer(x).flatten(2), expected, rtol=1e-4, atol=1e-5)
    # |cos| ≤ 1: an output never exceeds gain·‖x_p‖
    assert (layer(x).flatten(2).abs() <= layer.gain * patches.norm(dim=1, keepdim=True) + 1e-4).all()


def test_b1_is_a_linear_layer_with_unit_norm_weights():
    layer = BcosConv2d(2, 3, 3, b=1.0, max_out=1)
    x = torch.randn(1, 2, 6, 6)
    torch.testing.assert_close(layer(2 * x), 2 * layer(x))
    torch.testing.assert_close(layer(x), F.conv2d(x, layer.unit_weight(), padding=1) * layer.gain)


def test_contributions_are_complete_and_the_network_is_dynamic_linear():
    m = small().eval()
    x = torch.rand(3, 1, 12, 12)
    t = torch.tensor([0, 2, 3])
    maps = make_explainer(m, "contributions").attribute(x, t)
    assert maps.shape == (3, 12, 12)
    target = m(x).gather(1, t[:, None])[:, 0] - m.logit_bias
    rel = ((maps.flatten(1).sum(1) - target).abs() / target.abs()).max()
    assert rel <= 1e-4
    # in explanation mode y = W(x)·x: the Jacobian row times the input gives the output
    e = m.encode(x).requires_grad_(True)
    with explanation_mode(m):
        out = m.forward_encoded(e)
        (row,) = torch.autograd.grad(out[:, 1].sum(), e)
    torch.testing.assert_close((row * e).flatten(1).sum(1), (out[:, 1] - m.logit_bias).detach(), rtol=1e-4, atol=1e-6)
    # outside it the alignment factor has a gradient too: the network is still positively
    # homogeneous (Euler: x·∇f = f, so the sum is the same) but the maps differ pixel by pixel
    e2 = m.encode(x).requires_grad_(True)
    (row2,) = torch.autograd.grad(m.forward_encoded(e2)[:, 1].sum(), e2)
    torch.testing.assert_close((row2 * e2).flatten(1).sum(1), (out[:, 1] - m.logit_bias).detach(), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(row2 * e2, row * e, rtol=1e-2, atol=1e-4)


def test_explanation_mode_is_restored_after_an_error_and_refuses_other_models():
    m = small()
    with pytest.raises(RuntimeError, match="boom"), explanation_mode(m):
        assert all(layer.explain for layer in m.layers)
        raise RuntimeError("boom")
    assert not any(layer.explain for layer in m.layers)
    with pytest.raises(ValueError, match="no dynamic-linear layers"), explanation_mode(torch.nn.Linear(2, 2)):
        pass


def test_logit_bias_temperature_and_config_round_trip():
    a, b = small(temperature=1.0), small(temperature=4.0)
    b.load_state_dict(a.state_dict())
    x = torch.rand(2, 1, 12, 12)
    torch.testing.assert_close((a(x) - a.logit_bias) / 4, b(x) - b.logit_bias)
    assert math.isclose(a.logit_bias, math.log(1 / 3))
    rebuilt = build_model("bcos", a.config)
    rebuilt.load_state_dict(a.state_dict())
    torch.testing.assert_close(rebuilt(x), a(x))


def test_bad_inputs_are_refused():
    m = small()
    with pytest.raises(ValueError, match="channel"):
        m(torch.rand(1, 3, 12, 12))
    with pytest.raises(ValueError, match="layer must be None"):
        m.intrinsic_maps(torch.rand(1, 1, 12, 12), torch.tensor([[0]]), layer=2)
    with pytest.raises(ValueError, match="b ≥ 1"):
        BcosConv2d(2, 2, b=0.5)
    with pytest.raises(ValueError, match=r"strides has 1 values, expected 2 \(one per layer: kernels"):
        BcosNet(4, kernels=(3, 3), strides=(1,), channels=(4,))


def test_bcos_and_hybrid_methods_in_the_experiment_explainers():
    import facnn
    from facnn.companion.experiments import build_explainers, companion_models

    fa, b, h = facnn.FACNN(10, depth=2), small(), facnn.HybridFACNN(10)
    ex = build_explainers(
        fa, [2, 1], ["intrinsic", "bcos-contributions", "bcos-gradcam", "hybrid-intrinsic"], bcos=b, hybrid=h
    )
    assert list(ex) == [
        "FA-CNN maps L2",
        "FA-CNN maps L1",
        "B-cos contributions",
        "Grad-CAM on B-cos",
        "Hybrid FA-CNN maps L4",
        "Hybrid FA-CNN maps L3",
    ]
    assert ex["B-cos contributions"][0] is b and ex["Grad-CAM on B-cos"][1]._module is b.layers[-2]
    with pytest.raises(ValueError, match="needs a trained B-cos network"):
        build_explainers(fa, [2], ["bcos-rise"])
    with pytest.raises(ValueError, match="unknown method 'bcos-intrinsic'"):
        build_explainers(fa, [2], ["bcos-intrinsic"], bcos=b)
    assert companion_models("fashion_mnist", ["intrinsic", "random"]) == {}

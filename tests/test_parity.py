"""Parity with the authors' layers: CoDA-Nets' DAU convolution and network, B-cos v1's and v2's
``BcosConv2d``, v2's ``BcosLinear`` and ``LogitLayer``.

Each reference is a short re-statement, in plain torch, of what the authors' code computes (their
code is not copied here); the comment above each cites the repository, file and commit read. Our
layer's parameters are copied into the re-statement, and outputs, dynamic weights ``W(x)`` (the
Jacobian in explanation mode, where the reference detaches the same terms) and contributions
(input × ``W(x)``) are compared. Tolerances are float32 rounding: ``RTOL``/``ATOL`` below, relative
to the largest value compared. Where our default differs from the reference (the B-cos patch-norm
stabiliser), the tests check that we match when given the reference's setting and measure (and
bound) the difference at our default. See ``docs/fidelity.md``.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from facnn import BcosNet, CoDANet
from facnn.models import BcosConv2d, DAUConv, explanation_mode
from facnn.models.bcos import V1_CIFAR10_GAIN, V1_CIFAR10_TEMPERATURE

# float32 rounding, relative to the largest magnitude compared (see close()); the largest measured
# here is 4.2e-7 (the small CoDA-Net's contributions), every other comparison ≤ 3.1e-7
RTOL, ATOL = 5e-6, 1e-7


def close(ours: torch.Tensor, ref: torch.Tensor, rtol: float = RTOL) -> float:
    """Assert ``ours ≈ ref`` to ``rtol`` of the largest |ref| (plus ATOL); return max |Δ| / max |ref|."""
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    scale = ref.abs().max().item()
    err = (ours - ref).abs().max().item()
    assert err <= rtol * scale + ATOL, f"max |Δ| = {err:.3g} (max |ref| = {scale:.3g})"
    return err / max(scale, 1e-30)


def jacobian(f, x: torch.Tensor) -> torch.Tensor:
    """``∂f(x)/∂x`` of one input ``(1, C, H, W)``: ``(out numel, C·H·W)``."""
    return torch.autograd.functional.jacobian(lambda t: f(t).flatten(), x).flatten(1)


# ---------------------------------------------------------------------------------------------
# CoDA-Nets: moboehle/CoDA-Nets @ 32c829fb0d464622295287d7a3081a2090d2423f (these files last changed
# in 7ffcc36071fdffb00e01bd0e2dc620b08a4529f6): modules/DAUs.py (DAUWeights: Conv2d(Cin, r, k, stride,
# padding, bias=False) then Conv2d(r, D·Cin·k², 1, bias=True), output viewed as (N, Cin·k², D, H, W)),
# modules/norms.py (Squashing returns (1 + ‖w‖²)/‖w‖ over dim 1), modules/coda_conv.py (CoDAConv2d:
# sum over dim 1 of unfold(x) · w, divided by that norm; explanation mode detaches w and the norm),
# modules/utils.py (AdaptiveSumPool2d; FinalLayer: out / norm + bias), models/simple_coda.py
# (make_coda_net), experiments/CIFAR10/final/experiment_parameters.py (logit_bias log(.1/.9),
# AddInverse input [x, 1 − x]).
# ---------------------------------------------------------------------------------------------


def coda_reference_params(layer: DAUConv) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Our DAU parameters in the reference's layout: B as the first conv, A and b as the 1×1 conv
    whose output channel ``f·D + d`` is weight ``f`` (patch entry) of unit ``d``."""
    d, f, r = layer.A.shape
    w1 = layer.A.permute(1, 0, 2).reshape(f * d, r, 1, 1)
    return layer.B.detach().clone(), w1.detach().clone(), layer.b.t().reshape(f * d).detach().clone()


def coda_reference_layer(layer: DAUConv):
    w_b, w_1, b_1 = coda_reference_params(layer)
    k, stride, pad, d = layer.k, layer.stride, layer.pad, layer.d

    def weights(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = F.conv2d(F.conv2d(x, w_b, stride=stride, padding=pad), w_1, b_1)
        w = w.view(w.shape[0], -1, d, *w.shape[-2:])  # (N, Cin·k², D, H', W')
        n = w.norm(dim=1, keepdim=True)
        return w, (1 + n**2) / n  # squashing's divisor

    def forward(x: torch.Tensor, detach: bool = False) -> torch.Tensor:
        w, norm = weights(x)
        if detach:
            w, norm = w.detach(), norm.detach()
        patches = F.unfold(x, k, padding=pad, stride=stride).view(x.shape[0], -1, 1, *w.shape[-2:])
        return (patches * w).sum(1) / norm.squeeze(1)

    forward.weights = weights  # type: ignore[attr-defined]
    return forward


def coda_reference_net(model: CoDANet):
    layers = [coda_reference_layer(m) for m in model.dau_layers()]

    def forward(x_encoded: torch.Tensor, detach: bool = False) -> torch.Tensor:
        for f in layers:
            x_encoded = f(x_encoded, detach)
        return x_encoded.sum(dim=(2, 3)) / model.temperature + math.log(0.1 / 0.9)

    return forward


def dau(cin=3, d=5, r=4, k=3, stride=1, init="reference", seed=0) -> DAUConv:
    torch.manual_seed(seed)
    return DAUConv(cin, d, rank=r, kernel_size=k, stride=stride, init=init)  # "reference": non-zero b


@pytest.mark.parametrize("k,stride", [(3, 1), (3, 2), (1, 1)])
def test_dau_conv_matches_the_reference_outputs_weights_and_contributions(k, stride):
    layer, x = dau(k=k, stride=stride), torch.rand(2, 3, 9, 9) * 2 - 0.5
    ref = coda_reference_layer(layer)
    close(layer(x), ref(x))
    # dynamic weights g(v) = v · ‖v‖/(1 + ‖v‖²), ours (N, D, F, H, W) vs theirs w / norm (N, F, D, H, W)
    w, norm = ref.weights(x)
    close(layer.dynamic_weights(x), (w / norm).permute(0, 2, 1, 3, 4))
    # W(x) as the Jacobian in explanation mode (both detach the weights and the squashing), and the
    # contributions input × W(x) of every output
    x1 = x[:1]
    with explanation_mode(layer):
        ours = jacobian(layer, x1)
    theirs = jacobian(lambda t: ref(t, detach=True), x1)
    close(ours, theirs)
    close(ours * x1.flatten(), theirs * x1.flatten())
    # squashing bounds the weights: ‖g(v)‖ < 1
    assert (layer.dynamic_weights(x).norm(dim=2) < 1).all()


def test_a_small_coda_net_matches_the_reference_logits_and_contributions():
    torch.manual_seed(0)
    m = CoDANet(4, kernels=(3, 3, 1), strides=(1, 2, 1), channels=(8, 8), ranks=(4, 6, 6), temperature=10.0)
    for layer in m.dau_layers():
        layer.b.data.uniform_(-0.5, 0.5)  # every term of the reference's biased 1×1 conv exercised
    ref = coda_reference_net(m)
    x, t = torch.rand(3, 1, 12, 12), torch.tensor([0, 2, 3])
    close(m(x), ref(torch.cat([x, 1 - x], 1)))
    # contributions: input × gradient of the target logit on [x, 1 − x] in explanation mode, summed over channels
    e = torch.cat([x, 1 - x], 1).requires_grad_(True)
    (g,) = torch.autograd.grad(ref(e, detach=True).gather(1, t[:, None]).sum(), e)
    close(m.intrinsic_maps(x, t[:, None])[:, 0], (e * g).sum(1).detach())


@pytest.mark.parametrize("temperature", [10.0, 1000.0])
def test_coda_temperature_divides_the_sum_pooled_logits_as_the_reference(temperature):
    torch.manual_seed(1)
    m = CoDANet(
        3, kernels=(3, 1), strides=(1, 1), channels=(4,), ranks=(3, 3), temperature=temperature, init="reference"
    )
    x = torch.rand(2, 1, 8, 8)
    close(m(x), coda_reference_net(m)(torch.cat([x, 1 - x], 1)))


def test_coda_reference_init_draws_pytorchs_conv2d_defaults_and_ours_stays_the_default():
    """``init="reference"``: B, A and b are uniform within ±1/√fan_in of the reference's two convs
    (PyTorch's Conv2d default); ours (default) is N(0, 1/fan_in) with b = 0. Same draws from the seed
    as before the option existed (the shipped weights' starting point)."""
    torch.manual_seed(0)
    ours = DAUConv(16, 32, rank=16)
    torch.manual_seed(0)
    b_before = torch.randn(16, 16, 3, 3) / math.sqrt(16 * 9)
    torch.testing.assert_close(ours.B.data, b_before, rtol=0, atol=0)
    assert ours.b.eq(0).all()
    ref = dau(cin=16, d=32, r=16)
    for p, fan in ((ref.B, 16 * 9), (ref.A, 16), (ref.b, 16)):
        bound = 1 / math.sqrt(fan)
        assert p.abs().max() <= bound and p.abs().max() > 0.95 * bound  # uniform fills its interval
        assert abs(p.std().item() - bound / math.sqrt(3)) < 0.05 * bound  # U(±a) has std a/√3
    # ours is √3 wider than the reference's uniform (std 1/√fan vs 1/√(3·fan)) for B and A
    assert 1.5 < ours.B.std().item() / ref.B.std().item() < 2.0
    with pytest.raises(ValueError, match="init='kaiming': choose one of"):
        CoDANet(10, init="kaiming")


def test_coda_squashing_has_no_stabiliser_and_neither_do_we():
    """Both compute ‖v‖/(1 + ‖v‖²) without an ε; at v = 0 (zero input, zero bias) the reference
    divides 0 by ∞ and we multiply by 0: both output 0. Our factorised ‖v‖² (Gram matrices) differs
    from the materialised one by rounding only, also for tiny inputs."""
    layer = dau(init="facnn")  # b = 0
    ref = coda_reference_layer(layer)
    zero = torch.zeros(1, 3, 5, 5)
    assert layer(zero).eq(0).all() and ref(zero).eq(0).all()
    tiny = torch.rand(2, 3, 7, 7) * 1e-4
    close(layer(tiny), ref(tiny))


# ---------------------------------------------------------------------------------------------
# B-cos v1: moboehle/B-cos @ 19c7ea4dce9a4d049533b0955236b85d5f336b12; modules/bcosconv2d.py (last
# changed in 7565705d72eeff16871c38b4877414e4b10c3337): NormedConv2d (unit-norm weights, no bias),
# BcosConv2d(max_out, b, scale=None, scale_fact=100): MaxOut over groups of max_out consecutive
# channels; norm = √(avg_pool(Σ_c x², k, stride, padding)·k² + 1e-6); B = 2: out·|out| / (norm·scale),
# explanation mode detaches |out| and the norm; B ≠ 2: out·(|out/norm| + 1e-6)^(B−1) / scale; scale
# defaults to k·√Cin / scale_fact. experiments/CIFAR10/bcos/experiment_parameters.py (a3468ae0) and
# model.py (0023500c): "9L-M2-B2" uses scale = 10**(-2 + 1.5·(2.5 − 2)) = 10**-1.25, max_out 2,
# logit_temperature 10**2, logit_bias log(.1/.9); MyAdaptiveAvgPool2d (mean) then FinalLayer (out / T + b).
# ---------------------------------------------------------------------------------------------


def patch_norm_reference(x: torch.Tensor, k: int, stride: int, pad: int) -> torch.Tensor:
    """The authors' stabilised patch norm (v1 and v2 alike)."""
    return (F.avg_pool2d((x**2).sum(1, keepdim=True), k, padding=pad, stride=stride) * k * k + 1e-6).sqrt()


def bcos_v1_reference(layer: BcosConv2d, scale: float | None = None, scale_fact: float = 100.0):
    w = layer.weight.detach().clone()
    k, stride, pad, m, b = layer.k, layer.stride, layer.k // 2, layer.max_out, layer.b
    if scale is None:
        scale = k * math.sqrt(layer.cin) / scale_fact

    def forward(x: torch.Tensor, detach: bool = False) -> torch.Tensor:
        wn = w / w.view(w.shape[0], -1).norm(p=2, dim=1).view(-1, 1, 1, 1)
        out = F.conv2d(x, wn, stride=stride, padding=pad)
        if m > 1:
            out = out.view(out.shape[0], -1, m, *out.shape[-2:]).max(dim=2)[0]
        if b == 1:  # fwd_b: a linear layer with unit-norm weights
            return out / scale
        norm = patch_norm_reference(x, k, stride, pad)
        if b == 2:
            a = out.abs()
            if detach:
                a, norm = a.detach(), norm.detach()
            return out * a / (norm * scale)
        abs_cos = (out / norm).abs() + 1e-6
        if detach:
            abs_cos = abs_cos.detach()
        return out * abs_cos.pow(b - 1) / scale

    return forward


def bcos_layer(cin=6, d=5, k=3, stride=1, max_out=2, b=2.0, seed=0, **kw) -> BcosConv2d:
    torch.manual_seed(seed)
    return BcosConv2d(cin, d, k, stride, b=b, max_out=max_out, **kw)


def compare_layer(ours: BcosConv2d, ref, x: torch.Tensor) -> None:
    close(ours(x), ref(x))
    x1 = x[:1]
    with explanation_mode(ours):
        j_ours = jacobian(ours, x1)
    j_ref = jacobian(lambda t: ref(t, detach=True), x1)
    close(j_ours, j_ref)  # W(x)
    close(j_ours * x1.flatten(), j_ref * x1.flatten())  # contributions


@pytest.mark.parametrize("k,stride", [(3, 1), (3, 2), (1, 1)])
def test_bcos_v1_conv_with_the_published_cifar10_scale(k, stride):
    ours = bcos_layer(k=k, stride=stride, gain=V1_CIFAR10_GAIN, stabiliser="bcos")
    compare_layer(ours, bcos_v1_reference(ours, scale=10 ** (-2 + 1.5 * (2.5 - 2))), torch.rand(2, 6, 9, 9))


def test_bcos_v1_conv_with_its_constructor_default_scale_is_our_default_gain():
    ours = bcos_layer(stabiliser="bcos")  # scale=100: gain 100/(k·√Cin), v1's scale_fact=100
    assert math.isclose(ours.gain, 1 / (3 * math.sqrt(6) / 100))
    compare_layer(ours, bcos_v1_reference(ours), torch.rand(2, 6, 9, 9))


@pytest.mark.parametrize("b,max_out", [(1.5, 2), (2.5, 1), (1.0, 3)])
def test_bcos_v1_conv_for_other_exponents(b, max_out):
    ours = bcos_layer(b=b, max_out=max_out, gain=V1_CIFAR10_GAIN, stabiliser="bcos")
    compare_layer(ours, bcos_v1_reference(ours, scale=1 / V1_CIFAR10_GAIN), torch.rand(2, 6, 9, 9))


def bcos_v1_reference_net(model: BcosNet, scale: float, temperature: float):
    layers = [bcos_v1_reference(m, scale=scale) for m in model.bcos_layers()]

    def forward(x_encoded: torch.Tensor, detach: bool = False) -> torch.Tensor:
        for f in layers:
            x_encoded = f(x_encoded, detach)
        return x_encoded.mean(dim=(2, 3)) / temperature + math.log(0.1 / 0.9)

    return forward


def test_a_small_bcos_v1_net_with_the_published_recipe_matches_logits_and_contributions():
    torch.manual_seed(0)
    m = BcosNet(
        10,
        kernels=(3, 3, 1),
        strides=(1, 2, 1),
        channels=(8, 8),
        gain=V1_CIFAR10_GAIN,
        temperature=V1_CIFAR10_TEMPERATURE,
        stabiliser="bcos",
    )
    assert math.isclose(m.logit_bias, math.log(0.1 / 0.9))  # log(1/(C−1)) = log(.1/.9) at C = 10
    ref = bcos_v1_reference_net(m, scale=10**-1.25, temperature=100.0)
    x, t = torch.rand(3, 1, 12, 12), torch.tensor([0, 2, 7])
    e = torch.cat([x, 1 - x], 1)
    close(m(x), ref(e))
    e.requires_grad_(True)
    (g,) = torch.autograd.grad(ref(e, detach=True).gather(1, t[:, None]).sum(), e)
    close(m.intrinsic_maps(x, t[:, None])[:, 0], (e * g).sum(1).detach())


# ---------------------------------------------------------------------------------------------
# B-cos v2: B-cos/B-cos-v2 @ 9a849c9abf54abc70604ed610625b3024c613ea6; bcos/modules/bcosconv2d.py,
# bcoslinear.py, logitlayer.py (last changed in d42829a4c29c558c59b958167fc51635d6f77380):
# BcosConv2d(b=2, max_out=1, no scale): out = NormedConv2d(x) (weight / ‖weight‖ over (1, 2, 3)),
# MaxOut via unflatten(1, (O, M)).max(2); norm as v1 (√(avg_pool·k² + 1e-6)); B = 2: out·|out|/norm;
# B ≠ 2: out·(|out/norm| + 1e-6)^(B−1); explanation mode detaches out (in the scale) and the norm.
# BcosLinear: the same with norm = ‖x‖ + 1e-12 (outside the root). LogitLayer(logit_temperature,
# logit_bias): x / T (if T) + b (if b). Models: bcos/models/resnet.py fc = conv_layer(.., 1×1), then
# AdaptiveAvgPool2d, then LogitLayer(logit_temperature (None), logit_bias or −log(C − 1)).
# ---------------------------------------------------------------------------------------------


def bcos_v2_reference(layer: BcosConv2d):
    w = layer.weight.detach().clone()
    k, stride, pad, m, b, o = layer.k, layer.stride, layer.k // 2, layer.max_out, layer.b, layer.d

    def forward(x: torch.Tensor, detach: bool = False) -> torch.Tensor:
        out = F.conv2d(x, w / torch.linalg.vector_norm(w, dim=(1, 2, 3), keepdim=True), stride=stride, padding=pad)
        if m > 1:
            out = out.unflatten(1, (o, m)).max(dim=2).values
        if b == 1:
            return out
        norm = patch_norm_reference(x, k, stride, pad)
        mo = out.detach() if detach else out
        norm = norm.detach() if detach else norm
        scaling = mo.abs() / norm if b == 2 else ((mo / norm).abs() + 1e-6).pow(b - 1)
        return scaling * out

    return forward


def logit_layer_reference(x: torch.Tensor, logit_temperature: float | None, logit_bias: float | None) -> torch.Tensor:
    if logit_temperature is not None:
        x = x / logit_temperature
    if logit_bias is not None:
        x = x + logit_bias
    return x


@pytest.mark.parametrize("k,stride,max_out,b", [(3, 1, 2, 2.0), (3, 2, 1, 2.0), (1, 1, 2, 2.0), (3, 1, 2, 1.5)])
def test_bcos_v2_conv(k, stride, max_out, b):
    ours = bcos_layer(k=k, stride=stride, max_out=max_out, b=b, gain=1.0, stabiliser="bcos")
    compare_layer(ours, bcos_v2_reference(ours), torch.rand(2, 6, 9, 9))


def test_bcos_v2_linear_is_our_1x1_layer_on_1x1_maps_up_to_its_epsilon():
    """v2's BcosLinear stabilises outside the root (‖x‖ + 1e-12), like our default (‖x‖ + 1e-6)."""
    ours = bcos_layer(cin=12, d=4, k=1, gain=1.0)
    w = ours.weight.detach().flatten(1)
    x = torch.randn(5, 12)
    out = F.linear(x, w / torch.linalg.vector_norm(w, dim=1, keepdim=True)).unflatten(-1, (4, 2)).max(-1).values
    ref = out.abs() / (torch.linalg.vector_norm(x, dim=-1, keepdim=True) + 1e-12) * out
    close(ours(x[:, :, None, None])[:, :, 0, 0], ref)


@pytest.mark.parametrize("temperature,bias", [(1.0, None), (7.5, None), (100.0, -1.0)])
def test_bcos_v2_logit_layer_is_our_temperature_and_bias(temperature, bias):
    """v2's models end fc (1×1 B-cos) → average pool → LogitLayer(T, b) with T = None (i.e. 1) and
    b = −log(C − 1) by default: our BcosNet's mean-pooled last layer divided by T plus b₀."""
    torch.manual_seed(0)
    m = BcosNet(4, kernels=(3, 1), strides=(1, 1), channels=(6,), gain=1.0, stabiliser="bcos", temperature=temperature)
    if bias is not None:
        m = BcosNet(
            4,
            kernels=(3, 1),
            strides=(1, 1),
            channels=(6,),
            gain=1.0,
            stabiliser="bcos",
            temperature=temperature,
            logit_bias=bias,
        )
    x = torch.rand(2, 1, 10, 10)
    h = torch.cat([x, 1 - x], 1)
    for layer in m.bcos_layers():
        h = bcos_v2_reference(layer)(h)
    want_bias = -math.log(4 - 1) if bias is None else bias
    ref = logit_layer_reference(h.mean(dim=(2, 3)), None if temperature == 1.0 else temperature, want_bias)
    close(m(x), ref)


# ---------------------------------------------------------------------------------------------
# Our default stabiliser vs the authors': the difference, measured and bounded.
# ---------------------------------------------------------------------------------------------


def relative_difference(ours: BcosConv2d, ref, x: torch.Tensor) -> float:
    a, r = ours(x), ref(x)
    return ((a - r).abs().max() / r.abs().max()).item()


def test_our_default_stabiliser_differs_from_the_authors_only_at_near_zero_patches():
    """Our default ``√(n²) + 1e-6`` vs the authors' ``√(n² + 1e-6)`` (v1's scale, B = 2, MaxOut 2).

    Measured (max |Δ| / max |reference output|): on [x, 1 − x]-encoded images 4.5e-7 (every patch
    has ‖x_p‖ ≥ √2: each pixel adds x² + (1 − x)² ≥ 1/2, at least 4 pixels at a corner); on random
    patches of norm ~1e-1, 1e-2, 1e-3: 6.7e-5, 7.1e-3, 0.26. Position by position the two differ by
    exactly the factor (n + ε)/√(n² + ε) (ours is the larger)."""
    default = bcos_layer(cin=2, gain=V1_CIFAR10_GAIN)
    ref = bcos_v1_reference(default, scale=1 / V1_CIFAR10_GAIN)
    torch.manual_seed(1)
    img = torch.rand(64, 1, 16, 16)
    assert relative_difference(default, ref, torch.cat([img, 1 - img], 1)) < 1e-6
    measured, matched = {}, bcos_layer(cin=2, gain=V1_CIFAR10_GAIN, stabiliser="bcos")
    for size in (1e-1, 1e-2, 1e-3):  # entries ~size/√18, so that ‖x_p‖ ≈ size in the interior
        tiny = torch.randn(64, 2, 16, 16) * (size / math.sqrt(18))
        measured[size] = relative_difference(default, ref, tiny)
        n = patch_norm_reference(tiny, 3, 1, 1).pow(2).sub(1e-6).clamp_min(0).sqrt()
        close(default(tiny) * (n + 1e-6) / (n**2 + 1e-6).sqrt(), ref(tiny))
        # with the reference's setting the same layer matches at these norms too
        close(matched(tiny), ref(tiny))
    assert measured[1e-1] < 5e-4 and 1e-3 < measured[1e-2] < 3e-2 and 0.1 < measured[1e-3] < 1.0, measured
    with pytest.raises(ValueError, match="stabiliser='eps': choose one of"):
        BcosNet(10, stabiliser="eps")


def test_the_stabiliser_does_not_matter_for_the_shipped_bcos():
    """Measured on the shipped Fashion-MNIST B-cos and the first 256 test images: the smallest patch
    norm met in any layer is 1.47 (1.30 on 1,000 images), so switching to the authors' stabiliser
    moves the logits by < 1e-4 (2.7e-5 measured, also on 1,000 images; |logits| up to 41) and no
    prediction."""
    import facnn
    from facnn.data import load_dataset

    model, _ = facnn.pretrained("fashion-mnist/bcos")
    x, _ = load_dataset("fashion-mnist", "test").tensors()
    x = x[:256]
    with torch.no_grad():
        ours = model(x)
        h, smallest = model.encode(x), math.inf
        for layer in model.bcos_layers():
            smallest = min(smallest, (layer.patch_norm(h) - 1e-6).min().item())
            h = layer(h)
        for layer in model.bcos_layers():
            layer.stabiliser = "bcos"
        theirs = model(x)
    assert smallest > 1.0
    assert (ours - theirs).abs().max() < 1e-4 and bool((ours.argmax(1) == theirs.argmax(1)).all())


def test_gains_and_temperature_act_as_one_logit_scale():
    """With B = 2, no biases and MaxOut every layer is positively homogeneous, so only Π gains / T
    reaches the logits (up to the ε of the norm): our default gains 100/(k·√Cin) with T = T₀ give the
    logits of the published gain 10**1.25 with T = T₀ · 10**(1.25·L) / Π(100/(k·√Cin))."""
    torch.manual_seed(0)
    layout = dict(kernels=(3, 3, 1), strides=(1, 2, 1), channels=(8, 8))
    ours = BcosNet(10, **layout, stabiliser="bcos")
    prod = math.prod(layer.gain for layer in ours.bcos_layers())
    theirs = BcosNet(10, **layout, gain=V1_CIFAR10_GAIN, temperature=V1_CIFAR10_GAIN**3 / prod, stabiliser="bcos")
    theirs.load_state_dict(ours.state_dict())
    x = torch.rand(4, 1, 12, 12)
    close(theirs(x), ours(x))


def test_the_logit_scale_of_our_configs_relative_to_the_published_recipe():
    """The exact numbers in docs/fidelity.md: overall logit scale Π gains / T of our Fashion-MNIST
    B-cos (as shipped) and of cifar10_bcos.json, over the published 10**(1.25·9) / 100 = 10**9.25."""
    from facnn.models.pretrained import manifest
    from facnn.train import load_config

    def log10_scale(mc: dict) -> float:
        cin = [2 * mc.get("in_channels", 1), *mc["channels"]]
        gains = [mc["scale"] / (k * math.sqrt(c)) for k, c in zip(mc["kernels"], cin)]
        return math.log10(math.prod(gains) / mc["temperature"])

    shipped = manifest()["fashion-mnist/bcos"]["model_config"]
    cifar = dict(load_config("cifar10_bcos").model_config, in_channels=3)
    published = 1.25 * 9 - 2
    assert round(log10_scale(shipped), 4) == 7.8614 and round(log10_scale(shipped) - published, 4) == -1.3886
    assert round(log10_scale(cifar), 4) == 6.4187 and round(log10_scale(cifar) - published, 4) == -2.8313

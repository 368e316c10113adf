r"""The paper's theorems, stated for our architecture, and the quantities that check them.

Notation: ``A_l ∈ R^{K×h_l×w_l}`` is feature map ``l`` (``K = C·R``; ``A_0`` the aligned input),
``P_l`` the layer's 2×2 average pool or the identity, ``f_l`` its residual branch, ``λ_l > 0``
its dampening, ``s > 0`` the head's logit scale, and ``M_l^c = (1/R) Σ_r A_l[cR + r]`` the class
map of class ``c`` at layer ``l``. Layer ``l+1`` computes ``A_{l+1} = P_l(A_l) + λ_l f_l(P_l(A_l))``
and the head ``y_c = s · mean_{r,i,j} A_L[cR + r, i, j]``.

**Head identity.** ``y_c = s · mean_{i,j} M_L^c`` exactly (the head is a group mean).

**Theorem 1 (Grad-CAM = averaged penultimate maps).** Grad-CAM of class ``c`` at the head's
input is ``ReLU(Σ_k α_k A_L[k])`` with ``α_k = mean_{i,j} ∂y_c/∂A_L[k,i,j]``. Since
``∂y_c/∂A_L[k,i,j] = s/(R h w)`` for ``k`` in group ``c`` and 0 otherwise,
``Grad-CAM_c = ReLU((s/(hw)) · M_L^c) = (s/(hw)) · ReLU(M_L^c)``: the ReLU of the class map up
to the positive constant ``κ = s/(hw)``. It fails as soon as the head mixes channels across
classes (then ``α`` has support outside group ``c``). :func:`theorem1_error` measures the gap
against an independent Grad-CAM (captum's ``LayerGradCam``).

**Theorem 2 / Lemma 3 (slow morph).** For every layer,

(a) ``‖A_{l+1} − P_l(A_l)‖ = λ_l ‖f_l(P_l(A_l))‖`` (equality, the per-layer morph);

(b) class maps commute with pooling, ``P_l(M_l^c)`` is the class map of ``P_l(A_l)``, and
``‖M_{l+1}^c − P_l(M_l^c)‖ ≤ (λ_l/√R) ‖f_l(P_l(A_l))[group c]‖`` (Cauchy–Schwarz on the mean of
``R`` channels);

(c) average pooling does not expand: ``‖P_l(A)‖ ≤ ‖A‖ / 2`` for a 2×2 pool (Jensen per window;
the mean over the image is kept exactly when sides are even).

So ``A_L = P(A_0) + Σ_l λ_l (pooled) f_l``: the maps move from the aligned image toward the
penultimate class evidence by steps of size ``λ_l‖f_l‖``. :func:`morph_profile` measures each
term; the tests assert (a)–(c) on random and trained models.

**Middle layers.** Grad-CAM at a middle layer weights *all* channels by gradients that flow
through later branches, so it is not the class map; :func:`layer_correlations` reports their
Pearson correlation per layer (it is 1 at the penultimate layer by Theorem 1).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor

from facnn.core.modes import in_eval_mode
from facnn.core.resize import upsample
from facnn.models.aligned import class_maps
from facnn.models.facnn import FACNN
from facnn.models.layers import DampenedResidual

__all__ = [
    "final_correlations",
    "theorem1_error",
    "gradcam_captum",
    "head_error",
    "morph_profile",
    "MorphLayer",
    "layer_correlations",
]


def gradcam_captum(model: FACNN, x: Tensor, target: Tensor | int) -> Tensor:
    """Grad-CAM at the head's input computed by captum (independent of our code): ``(B, h, w)``."""
    from captum.attr import LayerGradCam

    t = torch.as_tensor(target).expand(x.shape[0]) if isinstance(target, int) else target
    cam = LayerGradCam(model, model.head).attribute(x, target=t, attribute_to_layer_input=True, relu_attributions=True)
    return cam[:, 0].detach()


def theorem1_error(model: FACNN, x: Tensor, target: Tensor | int) -> float:
    """Max over images of ``‖GradCAM − κ·ReLU(M_L)‖_∞ / ‖κ·ReLU(M_L)‖_∞`` with ``κ = s/(hw)``.

    Grad-CAM comes from captum (:func:`gradcam_captum`); when the reference map is zero
    everywhere the absolute error is used. Theorem 1 says this is 0 up to rounding.
    """
    with torch.no_grad():
        m = class_maps(model, x, target, layer=-1, upsample=False)
        kappa = model.head.scale / (m.shape[-2] * m.shape[-1])
        ref = kappa * m.clamp_min(0)
    cam = gradcam_captum(model, x, target)
    err = (cam - ref).flatten(1).abs().amax(1)
    scale = ref.flatten(1).abs().amax(1)
    return float(torch.where(scale > 0, err / scale.clamp_min(1e-30), err).max())


@torch.no_grad()
def head_error(model: FACNN, x: Tensor) -> float:
    """Max ``|y_c − s·mean(M_L^c)|`` over the batch and classes, and ``|head(A_L) − model(x)|``."""
    a = model.feature_maps(x)[-1]
    group_mean = model.head.class_maps(a).mean(dim=(2, 3)) * model.head.scale
    y = model(x)
    return max(float((y - group_mean).abs().max()), float((model.head(a) - y).abs().max()))


@dataclass
class MorphLayer:
    """Theorem 2 quantities of one layer ``l → l+1`` (norms are over the batch, Frobenius)."""

    layer: int  # index of the output map A_{l+1}
    dampening: float  # λ_l
    pooled: bool
    step: float  # ‖A_{l+1} − P(A_l)‖
    bound: float  # λ_l ‖f_l(P(A_l))‖   (equal to step)
    relative_step: float  # step / ‖P(A_l)‖
    class_step: float  # max_c ‖M^c_{l+1} − P(M^c_l)‖
    class_bound: float  # max over images and classes of (λ_l/√R)‖f_l(P(A_l))[group c]‖
    class_ratio: float  # max_c ‖ΔM^c‖ / ((λ_l/√R)‖f_l[c]‖) — ≤ 1 by Lemma 3(b)
    pool_commute_error: float  # ‖class map of P(A_l) − P(M_l)‖_∞
    pool_ratio: float  # ‖P(A_l)‖ / ‖A_l‖ (≤ 1/2 for a 2×2 pool, 1 otherwise)
    corr_to_final: float  # mean Pearson correlation of M_{l+1} (upsampled) with M_L, for the predicted class


@in_eval_mode
@torch.no_grad()
def morph_profile(model: FACNN, x: Tensor, target: Tensor | int | None = None) -> list[MorphLayer]:
    """Measure Theorem 2 / Lemma 3 on every layer for images ``x`` (class maps of ``target``,
    default the predicted class).

    The identities are exact, so they are measured in float64 (on a copy of the model): a class
    step is a difference of two maps of similar size, and in float32 its rounding alone moved the
    ratio to its bound 1e-5 above 1 at the 24th layer of a trained model.
    """
    from facnn.evaluate.similarity import pearson

    if x.dtype != torch.float64:
        model, x = copy.deepcopy(model).double(), x.double()
    maps = model.feature_maps(x)
    b, r, c = x.shape[0], model.maps_per_class, model.num_classes
    t = model.head(maps[-1]).argmax(1) if target is None else torch.as_tensor(target, device=x.device).expand(b)
    idx = torch.arange(b, device=x.device)

    cmap = model.head.class_maps  # (B, C·R, h, w) -> (B, C, h, w)

    final = cmap(maps[-1])[idx, t]
    final_up = upsample(final, x.shape[-2:])
    out = []
    for l, layer in enumerate(cast("list[DampenedResidual]", model.layers)):  # FA-CNN's layers
        a, a_next = maps[l], maps[l + 1]
        pa, fa = layer.parts(a)
        lam = float(layer.dampening)
        step = float((a_next - pa).norm())
        d_class = (cmap(a_next) - cmap(pa)).flatten(2).norm(dim=2)  # (B, C)
        f_group = fa.view(b, c, r, -1).flatten(2).norm(dim=2) * lam / r**0.5  # (B, C)
        ratio = float((d_class / f_group.clamp_min(1e-30)).where(f_group > 0, torch.zeros_like(d_class)).max())
        m_up = upsample(cmap(a_next)[idx, t], x.shape[-2:])
        out.append(
            MorphLayer(
                layer=l + 1,
                dampening=lam,
                pooled=not isinstance(layer.pool, torch.nn.Identity),
                step=step,
                bound=lam * float(fa.norm()),
                relative_step=step / max(float(pa.norm()), 1e-30),
                class_step=float(d_class.max()),
                class_bound=float(f_group.max()),
                class_ratio=ratio,
                pool_commute_error=float((cmap(pa) - layer.pool(cmap(a))).abs().max()),
                pool_ratio=float(pa.norm()) / max(float(a.norm()), 1e-30),
                corr_to_final=float(pearson(m_up, final_up).nanmean()),
            )
        )
    return out


def layer_correlations(model: FACNN, x: Tensor, target: Tensor | int, per_image: bool = False) -> list:
    """Per feature-map layer, the mean Pearson correlation (over images, at the layer's
    resolution) between FA-CNN's class map and Grad-CAM at the same layer before its ReLU.
    Layers where either map is constant give NaN and are left out of the mean; with
    ``per_image`` each layer gives its ``(B,)`` tensor of correlations instead (NaN kept)."""
    from facnn.evaluate.similarity import pearson
    from facnn.explain.gradcam import GradCAM

    out = []
    for l in range(model.num_layers):
        with torch.no_grad():
            m = class_maps(model, x, target, layer=l, upsample=False)
        g = GradCAM(model, l, relu=False, upsample=False).attribute(x, target)
        r = pearson(m, g)
        out.append(r if per_image else float(r.nanmean()))
    return out


@in_eval_mode
@torch.no_grad()
def final_correlations(model: FACNN, x: Tensor, target: Tensor | int | None = None) -> list[Tensor]:
    """Per layer ``1..L``, each image's Pearson correlation between its class map (upsampled) and
    the penultimate class map, for ``target`` (default: the predicted class): ``(B,)`` each.
    Their means are :class:`MorphLayer`'s ``corr_to_final`` (Theorem 2's slow morph, image by image)."""
    from facnn.evaluate.similarity import pearson

    maps = model.feature_maps(x)
    b = x.shape[0]
    t = model.head(maps[-1]).argmax(1) if target is None else torch.as_tensor(target, device=x.device).expand(b)
    idx = torch.arange(b, device=x.device)

    def up(a: Tensor) -> Tensor:
        return upsample(model.head.class_maps(a)[idx, t], x.shape[-2:])

    final = up(maps[-1])
    return [pearson(up(a), final) for a in maps[1:]]

"""Attribution with one call shape: ``method(model, **options).attribute(x, target) -> (B, H, W)``.

Every method takes images ``(B, C, H, W)`` in ``[0, 1]`` and a target (an int or a ``(B,)``
tensor), runs the model in eval mode (restoring its mode afterwards), and returns maps at input
resolution on the input's device. Nothing is rectified or normalised unless asked.

- :class:`ClassMaps` — FA-CNN's intrinsic maps: the mean of the class's ``R`` maps at a layer.
- :class:`GradCAM` — ReLU(Σ_k mean(∂y_c/∂A_k)·A_k) at any layer of any model (captum's
  ``LayerGradCam`` conventions, bilinear upsampling without corner alignment).
- :class:`RISE` — Petsiuk et al. 2018, seeded, masks generated on the device in chunks.
- :class:`Occlusion` — k×k occlusion, identical to captum's ``Occlusion`` with a full-channel
  window, evaluated in batches of occluded images.
- :class:`Contributions` — CoDA-Net input × gradient in explanation mode, summed over channels.
- :class:`RandomMaps` — the control: seeded uniform noise, independent of model and target.

:func:`explain_func` wraps them all for Quantus-style evaluation code.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .models import FACNN, class_maps, class_means
from .validation import check_images, check_target

__all__ = [
    "Attribution", "ClassMaps", "GradCAM", "RISE", "Occlusion", "Contributions", "RandomMaps",
    "make_explainer", "explain_func", "METHODS", "eval_mode",
]  # fmt: skip


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the block and restore its previous mode."""
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


def _upsample_nchw(m: Tensor, size: tuple[int, int]) -> Tensor:
    if m.shape[-2:] == size:
        return m
    return F.interpolate(m, size=size, mode="bilinear", align_corners=False)


def _upsample(m: Tensor, size: tuple[int, int]) -> Tensor:
    if m.shape[-2:] == size:
        return m
    return F.interpolate(m.unsqueeze(1), size=size, mode="bilinear", align_corners=False).squeeze(1)


class Attribution:
    """Base class: holds the model, validates inputs, and defines :meth:`attribute`."""

    def __init__(self, model: nn.Module):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model

    def _prepare(self, x: Tensor, target: Any) -> Tensor:
        check_images(x, self.model.in_channels, getattr(self.model, "min_size", 1))
        return check_target(target, x.shape[0], self.model.num_classes, x.device)

    def attribute(self, x: Tensor, target: int | Tensor) -> Tensor:
        """Return ``(B, H, W)`` attribution maps of class ``target`` for images ``x``."""
        t = self._prepare(x, target)
        with eval_mode(self.model):
            return self._attribute(x, t)

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        raise NotImplementedError

    def attribute_classes(self, x: Tensor, classes: Tensor) -> Tensor:
        """Maps of several classes per image: ``classes (B, K)`` → ``(B, K, H, W)``.

        Subclasses override ``_attribute_classes`` where one pass can serve all classes
        (FA-CNN maps, RISE, occlusion).
        """
        classes = torch.as_tensor(classes, device=x.device)
        if classes.dim() != 2 or classes.shape[0] != x.shape[0]:
            raise ValueError(f"classes must be (B, K) with B={x.shape[0]}, got {tuple(classes.shape)}")
        for k in range(classes.shape[1]):
            self._prepare(x, classes[:, k])
        with eval_mode(self.model):
            return self._attribute_classes(x, classes)

    def _attribute_classes(self, x: Tensor, classes: Tensor) -> Tensor:
        return torch.stack([self._attribute(x, classes[:, k]) for k in range(classes.shape[1])], 1)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "model" and not k.startswith("_"))
        return f"{type(self).__name__}({opts})"


class ClassMaps(Attribution):
    """FA-CNN's intrinsic class maps: one forward pass, no gradients.

    Parameters
    ----------
    model
        An :class:`~facnn.FACNN`.
    layer
        Feature-map layer (0 = aligned input, -1 = penultimate, default).
    """

    def __init__(self, model: nn.Module, layer: int = -1):
        if not isinstance(model, FACNN):
            raise TypeError(f"ClassMaps needs an FACNN, got {type(model).__name__}; use GradCAM for other models")
        super().__init__(model)
        self.layer = layer

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        with torch.no_grad():
            return class_maps(self.model, x, t, self.layer)

    def _attribute_classes(self, x: Tensor, classes: Tensor) -> Tensor:  # one forward for all classes
        with torch.no_grad():
            m = class_means(self.model, x, self.layer)  # (B, C, h, w)
            m = m.gather(1, classes[:, :, None, None].expand(-1, -1, *m.shape[-2:]))
            return _upsample_nchw(m, x.shape[-2:])


def _resolve_layer(model: nn.Module, layer: int | nn.Module | None) -> nn.Module:
    if isinstance(layer, nn.Module):
        return layer
    if isinstance(model, FACNN):
        return model.feature_module(-1 if layer is None else layer)
    if layer is None and hasattr(model, "last_conv"):
        return model.last_conv
    if layer is None and hasattr(model, "layers"):
        return model.layers[-1]
    raise TypeError(f"pass layer as an nn.Module of {type(model).__name__} (int layers are for FACNN)")


class GradCAM(Attribution):
    """Grad-CAM: ``ReLU(Σ_k α_k A_k)`` with ``α_k`` the spatial mean of ``∂y_c/∂A_k``.

    Parameters
    ----------
    model
        Any classifier.
    layer
        An ``nn.Module`` whose output is ``A``; for FA-CNN an int feature-map index (default -1);
        for the ResNet the last block by default.
    relu
        Rectify the map (default True; ``False`` gives the signed map).
    upsample
        Bilinearly upsample to the input size (default True).
    normalize
        Divide each map by its maximum (default False: no min-max unless asked).
    """

    def __init__(self, model: nn.Module, layer: int | nn.Module | None = None, *, relu: bool = True,
                 upsample: bool = True, normalize: bool = False):  # fmt: skip
        super().__init__(model)
        self.layer, self.relu, self.upsample, self.normalize = layer, relu, upsample, normalize
        self._module = _resolve_layer(model, layer)

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        store: list[Tensor] = []

        def hook(module: nn.Module, inputs: Any, output: Tensor) -> Tensor:
            # a leaf that requires grad: works even where nothing upstream does (e.g. the aligned input)
            store.append(output.detach().requires_grad_(True))
            return store[-1]

        handle = self._module.register_forward_hook(hook)
        try:
            with torch.enable_grad():
                logits = self.model(x)
                act = store[0]
                (grad,) = torch.autograd.grad(logits.gather(1, t[:, None]).sum(), act)
        finally:
            handle.remove()
        cam = (grad.mean(dim=(2, 3), keepdim=True) * act).sum(1).detach()
        if self.relu:
            cam = cam.clamp_min(0)
        if self.upsample:
            cam = _upsample(cam, x.shape[-2:])
        if self.normalize:
            cam = cam / cam.flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1)
        return cam


class RISE(Attribution):
    """RISE (Petsiuk, Das & Saenko, BMVC 2018): randomised input sampling.

    ``N`` binary grids of ``s×s`` cells, each cell kept with probability ``p``, are upsampled
    bilinearly to ``(s+1)·⌈H/s⌉`` and cropped to ``H×W`` at a random shift in ``[0, ⌈H/s⌉)``;
    the saliency of class ``c`` is ``Σ_i f_c(x ⊙ M_i) · M_i / (N·p)`` with ``f_c`` the softmax
    probability. Masks are drawn from ``seed`` in chunks of ``batch_size`` on the model's device,
    so the same seed gives the same masks on every call and device.

    Parameters
    ----------
    n_masks, cells, p
        ``N`` (default 4000), ``s`` (default 7) and the keep probability (default 0.5).
    batch_size
        Masked images per forward pass (default 500).
    seed
        Mask seed (default 0).
    fill
        Value of masked-out pixels (default 0, as in the paper).
    center
        Subtract the mean score: ``Σ_i (f_c(x ⊙ M_i) − f̄_c) · M_i / (N·p)`` (default False, the
        paper's form). The paper's saliency carries a baseline ≈ ``f̄_c`` on every pixel, so any
        "share of positive attribution" metric sees it as near-uniform; centring removes that
        baseline and keeps the pixel ranking up to mask-coverage noise.
    """

    def __init__(self, model: nn.Module, n_masks: int = 4000, cells: int = 7, p: float = 0.5, *,
                 batch_size: int = 500, seed: int = 0, fill: float = 0.0, center: bool = False):  # fmt: skip
        super().__init__(model)
        if n_masks < 1 or cells < 1 or not 0 < p <= 1:
            raise ValueError("RISE needs n_masks ≥ 1, cells ≥ 1 and 0 < p ≤ 1")
        self.n_masks, self.cells, self.p, self.batch_size, self.seed, self.fill = n_masks, cells, p, batch_size, seed, fill
        self.center = center

    def masks(self, size: tuple[int, int], start: int, count: int, device: torch.device) -> Tensor:
        """Masks ``start … start+count-1`` as ``(count, 1, H, W)``; mask ``i`` depends only on ``(seed, i)``."""
        h, w = size
        ch, cw = math.ceil(h / self.cells), math.ceil(w / self.cells)
        out = []
        chunk0 = start // self.batch_size
        for chunk in range(chunk0, (start + count - 1) // self.batch_size + 1):
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + chunk)
            n = min(self.batch_size, self.n_masks - chunk * self.batch_size)
            grid = (torch.rand(n, 1, self.cells, self.cells, generator=g) < self.p).float()
            shift = torch.randint(0, ch, (n,), generator=g), torch.randint(0, cw, (n,), generator=g)
            up = F.interpolate(grid.to(device), size=((self.cells + 1) * ch, (self.cells + 1) * cw),
                               mode="bilinear", align_corners=False)  # fmt: skip
            iy = (shift[0].to(device)[:, None] + torch.arange(h, device=device))[:, :, None]
            ix = (shift[1].to(device)[:, None] + torch.arange(w, device=device))[:, None, :]
            out.append(up[:, 0][torch.arange(n, device=device)[:, None, None], iy, ix].unsqueeze(1))
        m = torch.cat(out)
        off = start - chunk0 * self.batch_size
        return m[off : off + count]

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        return self._attribute_classes(x, t[:, None])[:, 0]

    def _attribute_classes(self, x: Tensor, classes: Tensor) -> Tensor:  # one set of masked forwards for all classes
        b, _, h, w = x.shape
        sal = torch.zeros(b, classes.shape[1], h, w, device=x.device)
        fsum = torch.zeros(b, classes.shape[1], device=x.device)  # Σ_i f_c(x ⊙ M_i)
        msum = torch.zeros(h, w, device=x.device)  # Σ_i M_i
        with torch.no_grad():
            for s in range(0, self.n_masks, self.batch_size):
                m = self.masks((h, w), s, min(self.batch_size, self.n_masks - s), x.device)
                msum += m[:, 0].sum(0)
                for i in range(b):
                    xi = x[i : i + 1] * m + self.fill * (1 - m)
                    prob = F.softmax(self.model(xi).float(), dim=1)[:, classes[i]]  # (n, K)
                    sal[i] += torch.einsum("nk,nhw->khw", prob, m[:, 0])
                    fsum[i] += prob.sum(0)
        if self.center:
            sal -= (fsum / self.n_masks)[:, :, None, None] * msum
        return sal / (self.n_masks * self.p)


class Occlusion(Attribution):
    """k×k occlusion: the drop in the target logit when a window is replaced by ``fill``.

    Windows of ``window×window`` pixels (all channels) start at multiples of ``stride`` for
    ``⌈(H−k)/stride⌉ + 1`` positions per axis (the last clipped at the border); each pixel's score
    is the mean drop over the windows covering it — exactly captum's ``Occlusion`` with
    ``sliding_window_shapes=(C, k, k)``, ``strides=(C, s, s)``, ``baselines=fill``.
    Occluded copies are evaluated ``batch_size`` at a time.

    Parameters
    ----------
    window, stride
        ``k`` (default 4) and the stride (default ``k // 2``).
    fill
        Value of occluded pixels (default 0).
    batch_size
        Occluded images per forward pass (default 256).
    """

    def __init__(self, model: nn.Module, window: int = 4, stride: int | None = None, *, fill: float = 0.0,
                 batch_size: int = 256):  # fmt: skip
        super().__init__(model)
        stride = stride or max(1, window // 2)
        if window < 1 or not 1 <= stride <= window:
            raise ValueError(f"occlusion needs window ≥ 1 and 1 ≤ stride ≤ window, got {window}, {stride}")
        self.window, self.stride, self.fill, self.batch_size = window, stride, fill, batch_size

    def windows(self, h: int, w: int, device: torch.device) -> Tensor:
        """Boolean window masks ``(P, H, W)`` in captum's order (the last axis varies fastest)."""
        if self.window > min(h, w):
            raise ValueError(f"occlusion window {self.window} is larger than the {h}×{w} image")
        ys = torch.arange(math.ceil((h - self.window) / self.stride) + 1, device=device) * self.stride
        xs = torch.arange(math.ceil((w - self.window) / self.stride) + 1, device=device) * self.stride
        ry = torch.arange(h, device=device)[None] - ys[:, None]
        rx = torch.arange(w, device=device)[None] - xs[:, None]
        iny = (ry >= 0) & (ry < self.window)  # (Py, H)
        inx = (rx >= 0) & (rx < self.window)  # (Px, W)
        return (iny[:, None, :, None] & inx[None, :, None, :]).reshape(-1, h, w)

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        return self._attribute_classes(x, t[:, None])[:, 0]

    def _attribute_classes(self, x: Tensor, classes: Tensor) -> Tensor:  # one pass of occluded images for all classes
        b, _, h, w = x.shape
        win = self.windows(h, w, x.device)
        cover = win.sum(0).float()
        out = torch.zeros(b, classes.shape[1], h, w, device=x.device)
        fill = torch.as_tensor(self.fill, dtype=x.dtype, device=x.device)
        p = len(win)
        with torch.no_grad():
            base = self.model(x).float().gather(1, classes)  # (B, K)
            # (image, window) pairs in chunks: few large forwards across images and windows
            for s in range(0, b * p, self.batch_size):
                pair = torch.arange(s, min(s + self.batch_size, b * p), device=x.device)
                img, w_ = pair // p, pair % p
                logits = self.model(torch.where(win[w_, None], fill, x[img])).float()
                drop = base[img] - logits.gather(1, classes[img])  # (n, K)
                out.index_add_(0, img, torch.einsum("nk,nhw->nkhw", drop, win[w_].float()))
        return out / cover


class Contributions(Attribution):
    """CoDA-Net contribution maps: input × gradient of the logit in explanation mode, on the
    ``[x, 1−x]``-encoded input, summed over channels. They sum to ``logit − b₀`` (completeness).
    """

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        from .coda import explanation_mode

        with torch.enable_grad(), explanation_mode(self.model):
            e = self.model.encode(x).detach().requires_grad_(True)
            logits = self.model.forward_encoded(e)
            (g,) = torch.autograd.grad(logits.gather(1, t[:, None]).sum(), e)
        return (e * g).sum(1).detach()


class RandomMaps(Attribution):
    """The control every metric is read against: maps of uniform noise, drawn from a seeded CPU
    generator and independent of the model and the target.

    Parameters
    ----------
    model
        Any model (used only to validate inputs).
    seed
        Seed of the generator; :meth:`reset` restarts the sequence, so an experiment that resets
        first draws the same maps on every run.
    """

    def __init__(self, model: nn.Module, seed: int = 0):
        super().__init__(model)
        self.seed = seed
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Restart the generator (with ``seed`` when given)."""
        if seed is not None:
            self.seed = seed
        self._generator = torch.Generator().manual_seed(self.seed)

    def _attribute(self, x: Tensor, t: Tensor) -> Tensor:
        return torch.rand(x.shape[0], *x.shape[-2:], generator=self._generator).to(x.device)


METHODS: dict[str, type[Attribution]] = {
    "intrinsic": ClassMaps, "gradcam": GradCAM, "rise": RISE, "occlusion": Occlusion, "contributions": Contributions,
    "random": RandomMaps,
}  # fmt: skip


def make_explainer(model: nn.Module, method: str, **options: Any) -> Attribution:
    """Build the attribution method named ``method`` (one of :data:`METHODS`) for ``model``."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {sorted(METHODS)}")
    return METHODS[method](model, **options)


def explain_func(model: nn.Module, inputs: Any, targets: Any, method: str = "intrinsic", **options: Any) -> np.ndarray:
    """Quantus-compatible explanation function: returns ``(B, 1, H, W)`` float32 numpy maps.

    ``inputs`` and ``targets`` may be numpy arrays or tensors; they are moved to the model's
    device. ``options`` go to the method (e.g. ``layer=-1`` for "intrinsic"/"gradcam",
    ``n_masks=`` for "rise", ``window=`` for "occlusion"); ``device`` (as Quantus passes) is ignored.
    """
    options.pop("device", None)
    device = next(model.parameters()).device
    x = torch.as_tensor(np.asarray(inputs) if not isinstance(inputs, Tensor) else inputs, dtype=torch.float32).to(device)
    t = torch.as_tensor(np.asarray(targets) if not isinstance(targets, Tensor) else targets).to(device)
    maps = make_explainer(model, method, **options).attribute(x, t.long() if t.dim() else int(t))
    return maps.unsqueeze(1).cpu().numpy().astype(np.float32)

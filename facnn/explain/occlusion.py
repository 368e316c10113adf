"""k×k occlusion (Zeiler & Fergus 2014), identical to captum's ``Occlusion`` with a full-channel
window, evaluated in batches of occluded images."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from facnn.core.registry import register_method
from facnn.core.validation import check_float, check_int
from facnn.explain.base import Attribution, images_per_forward

__all__ = ["Occlusion"]


@register_method("occlusion")
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
        Occluded images per forward pass (default ``None``: 256, fewer for large images, see
        :func:`~facnn.explain.base.images_per_forward`: 83 at 224²). It changes memory, not the maps.
    """

    def __init__(
        self,
        model: nn.Module,
        window: int = 4,
        stride: int | None = None,
        *,
        fill: float = 0.0,
        batch_size: int | None = None,
    ):
        super().__init__(model)
        window = check_int(window, "window", 1, fix="the occluded square's side in pixels, e.g. 4")
        stride = (
            max(1, window // 2) if stride is None else check_int(stride, "stride", 1, window, fix="at most the window")
        )
        if batch_size is not None:
            batch_size = check_int(batch_size, "batch_size", 1, fix="occluded images per forward pass, e.g. 256")
        fill = check_float(fill, "fill", fix="occlusion replaces each window by it, e.g. 0.0")
        self.window, self.stride, self.fill, self.batch_size = window, stride, fill, batch_size

    EXECUTION_OPTIONS = ("batch_size",)
    DEFAULT_BATCH = 256

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
            step = images_per_forward(self.batch_size, (h, w), self.DEFAULT_BATCH)
            for s in range(0, b * p, step):
                pair = torch.arange(s, min(s + step, b * p), device=x.device)
                img, w_ = pair // p, pair % p
                logits = self.model(torch.where(win[w_, None], fill, x[img])).float()
                drop = base[img] - logits.gather(1, classes[img])  # (n, K)
                out.index_add_(0, img, torch.einsum("nk,nhw->nkhw", drop, win[w_].float()))
        return out / cover

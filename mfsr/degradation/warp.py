"""``W_k``: backward warping of the HR image by a dense flow (bilinear), and its adjoint.

``(W x)(u) = x(u + F(u))`` sampled bilinearly, with coordinates clamped to the image
(border replicate). The adjoint splats each value back onto the same four pixels with
the same weights.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..kernels import kernels_for


def upsample_flow(flow, scale, phase, xp=None):
    """Bring an LR flow ``(h, w, 2)`` (LR px) onto the HR grid ``(s*h, s*w, 2)`` (HR px).

    HR pixel ``u`` sits at LR coordinate ``(u - phase) / s``; the flow is interpolated
    bilinearly there (clamped at the border) and multiplied by ``s``.
    """
    xp = xp or get_array_module(flow)
    h, w = flow.shape[:2]

    def axis_weights(n_lr):
        c = (np.arange(scale * n_lr) - phase) / scale
        c = np.clip(c, 0, n_lr - 1)
        i0 = np.minimum(np.floor(c).astype(np.int64), max(n_lr - 2, 0))
        a = (c - i0).astype(np.float32)
        i1 = np.minimum(i0 + 1, n_lr - 1)
        return xp.asarray(i0), xp.asarray(i1), xp.asarray(a)

    r0, r1, ar = axis_weights(h)
    c0, c1, ac = axis_weights(w)
    rows = flow[r0] * (1 - ar)[:, None, None] + flow[r1] * ar[:, None, None]
    hr = rows[:, c0] * (1 - ac)[None, :, None] + rows[:, c1] * ac[None, :, None]
    return (hr * scale).astype(xp.float32)


class Warp:
    """Bilinear backward warp by an HR flow field.

    Parameters
    ----------
    flow_hr : array, shape (H, W, 2)
        Displacement ``(dx, dy)`` in HR pixels: output pixel ``u`` reads ``x(u + flow)``.
    """

    def __init__(self, flow_hr):
        xp = get_array_module(flow_hr)
        H, W = flow_hr.shape[:2]
        if H < 2 or W < 2:
            raise ValueError(f"warp needs an image of at least 2x2 pixels, got {H}x{W}")
        self.shape = (H, W)
        self.identity = not bool(xp.any(flow_hr != 0))
        if self.identity:
            return
        yy, xx = xp.meshgrid(xp.arange(H, dtype=xp.float32), xp.arange(W, dtype=xp.float32),
                             indexing="ij")
        cy = xp.clip(yy + flow_hr[..., 1], 0, H - 1)
        cx = xp.clip(xx + flow_hr[..., 0], 0, W - 1)
        i0 = xp.minimum(xp.floor(cy), H - 2)
        j0 = xp.minimum(xp.floor(cx), W - 2)
        self.wy = (cy - i0).astype(xp.float32).ravel()
        self.wx = (cx - j0).astype(xp.float32).ravel()
        self.index = (i0.astype(xp.int64) * W + j0.astype(xp.int64)).ravel()

    def forward(self, x):
        """Return ``W x`` for ``x`` of shape ``(H, W)``."""
        if self.identity:
            return x
        return kernels_for(x).warp_forward(x, self.index, self.wy, self.wx)

    def adjoint(self, y):
        """Return ``W^T y`` (bilinear splatting) for ``y`` of shape ``(H, W)``."""
        if self.identity:
            return y
        return kernels_for(y).warp_adjoint(y, self.index, self.wy, self.wx)

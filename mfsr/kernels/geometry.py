"""Geometry of the warps, shared by every kernel set: from LR flows to bilinear tables.

Plain ``xp`` code, run once per operator (not per iteration): upsampling an LR flow to
the HR grid, and the bilinear sampling tables of the backward warp by an HR flow. The
Numba kernels recompute the same quantities on the fly, row by row, with the same
float32 operations in the same order.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module


def flow_axis_weights(n_lr, scale, phase):
    """Linear interpolation along one axis from ``n_lr`` LR samples to ``scale * n_lr``
    HR samples (HR pixel ``u`` at LR coordinate ``(u - phase) / scale``, clamped).

    Returns NumPy arrays ``(i0, i1, a)``: HR sample ``u`` is
    ``lr[i0[u]] * (1 - a[u]) + lr[i1[u]] * a[u]`` (int64, int64, float32).
    """
    c = (np.arange(scale * n_lr) - phase) / scale
    c = np.clip(c, 0, n_lr - 1)
    i0 = np.minimum(np.floor(c).astype(np.int64), max(n_lr - 2, 0))
    a = (c - i0).astype(np.float32)
    i1 = np.minimum(i0 + 1, n_lr - 1)
    return i0, i1, a


def upsample_flow(flow, scale, phase, xp=None):
    """Bring an LR flow ``(h, w, 2)`` (LR px) onto the HR grid ``(s*h, s*w, 2)`` (HR px).

    HR pixel ``u`` sits at LR coordinate ``(u - phase) / s``; the flow is interpolated
    bilinearly there (clamped at the border) and multiplied by ``s``.
    """
    xp = xp or get_array_module(flow)
    h, w = flow.shape[:2]
    r0, r1, ar = (xp.asarray(a) for a in flow_axis_weights(h, scale, phase))
    c0, c1, ac = (xp.asarray(a) for a in flow_axis_weights(w, scale, phase))
    rows = flow[r0] * (1 - ar)[:, None, None] + flow[r1] * ar[:, None, None]
    hr = rows[:, c0] * (1 - ac)[None, :, None] + rows[:, c1] * ac[None, :, None]
    return (hr * scale).astype(xp.float32)


def bilinear_tables(flow_hr, out=None):
    """Bilinear sampling tables of the backward warp by an HR flow.

    Parameters
    ----------
    flow_hr : array, shape (H, W, 2)
        Displacement ``(dx, dy)`` in HR pixels.
    out : tuple of 3 arrays, optional
        ``(index, wy, wx)`` of length ``H*W`` (int64, float32, float32) to write into.

    Returns
    -------
    index : array (H*W,) int64
        Flat index of each output pixel's top-left neighbour (clamped so that the
        2x2 neighbourhood lies inside the image).
    wy, wx : arrays (H*W,) float32
        Fractional offsets inside that neighbourhood.
    """
    xp = get_array_module(flow_hr)
    H, W = flow_hr.shape[:2]
    yy, xx = xp.meshgrid(xp.arange(H, dtype=xp.float32), xp.arange(W, dtype=xp.float32),
                         indexing="ij")
    cy = xp.clip(yy + flow_hr[..., 1], 0, H - 1)
    cx = xp.clip(xx + flow_hr[..., 0], 0, W - 1)
    i0 = xp.minimum(xp.floor(cy), H - 2)
    j0 = xp.minimum(xp.floor(cx), W - 2)
    if out is None:
        out = (xp.empty(H * W, xp.int64), xp.empty(H * W, xp.float32),
               xp.empty(H * W, xp.float32))
    index, wy, wx = out
    wy[...] = (cy - i0).ravel()
    wx[...] = (cx - j0).ravel()
    index[...] = (i0.astype(xp.int64) * W + j0.astype(xp.int64)).ravel()
    return index, wy, wx

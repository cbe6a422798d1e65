"""Geometry of the warps, shared by every kernel set: from LR flows to bilinear tables.

Plain ``xp`` code, run once per operator (not per iteration): upsampling an LR flow to
the HR grid, the bilinear sampling tables of the backward warp by an HR flow, and
bilinear sampling of image stacks at arbitrary points (:func:`bilinear_sample`: the
device flow's warps, the video job's flow composition, the merge's robustness). The
Numba kernels recompute the same quantities on the fly, row by row, with the same
float32 operations in the same order.
"""
from __future__ import annotations

import numpy as np

from ..core.backend import get_array_module
from ..core.device_cache import device_constant


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


def bilinear_sample(stack, cy, cx):
    """Sample images bilinearly at ``(cy, cx)``, coordinates clamped to the border.

    Parameters
    ----------
    stack : array, shape (C, h, w) or (N, C, h, w)
        Images; a batch ``(N, C, h, w)`` may be sampled at other positions per image.
    cy, cx : array
        Row and column coordinates (float) in pixels of ``stack``: shape ``(H, W)`` for
        a ``(C, h, w)`` stack (the same positions for every image); for a batch,
        broadcastable to ``(N, C, H, W)`` (``(N, 1, H, W)``: per image, shared by its
        channels).

    Returns
    -------
    array, shape (C, H, W) or (N, C, H, W), dtype of ``stack``
    """
    xp = get_array_module(stack, cy)
    h, w = stack.shape[-2:]
    cy = xp.clip(cy, 0, h - 1)
    cx = xp.clip(cx, 0, w - 1)
    y0 = xp.minimum(xp.floor(cy), max(h - 2, 0))
    x0 = xp.minimum(xp.floor(cx), max(w - 2, 0))
    fy = (cy - y0).astype(stack.dtype, copy=False)
    fx = (cx - x0).astype(stack.dtype, copy=False)
    dx = 1 if w > 1 else 0
    dy = w if h > 1 else 0
    i = y0.astype(xp.int64) * w + x0.astype(xp.int64)
    if stack.ndim == 3:  # one index set for all images
        c = stack.shape[0]
        i, fx, fy = i.ravel(), fx.ravel(), fy.ravel()
        flat = stack.reshape(c, h * w)

        def at(j):
            return flat[:, j]
    else:  # an index per image (and channel): offsets into the flattened batch
        n, c = stack.shape[:2]
        i = i + device_constant(("bilinear-offsets", n, c, h * w), lambda: (
            np.arange(n * c, dtype=np.int64) * (h * w)).reshape(n, c, 1, 1), xp)
        flat = stack.reshape(-1)

        def at(j):
            return flat[j]
    top, right, low, corner = at(i), at(i + dx), at(i + dy), at(i + (dy + dx))
    top = top + fx * (right - top)
    low = low + fx * (corner - low)
    out = top + fy * (low - top)
    return out.reshape((c,) + cy.shape) if stack.ndim == 3 else out

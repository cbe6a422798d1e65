"""Numba warps: the bilinear backward warp of one image by its sampling tables
(:func:`warp_forward`) and its splat adjoint (:func:`warp_adjoint`, one accumulator per
partition of rows); see :mod:`mfsr.kernels.reference.warp`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import reference
from .common import PAR, bilerp, cover, fast, partitions, reduce_bands, splat, splat_rows, workspace


def _warp_args(index, wy, wx, n):
    index = np.ascontiguousarray(index, dtype=np.int64)
    wy = np.ascontiguousarray(wy, dtype=np.float32)
    wx = np.ascontiguousarray(wx, dtype=np.float32)
    if not index.shape[-1] == wy.shape[-1] == wx.shape[-1] == n:
        raise ValueError(f"index, wy and wx must have one entry per pixel ({n}), got "
                         f"{index.shape[-1]}, {wy.shape[-1]}, {wx.shape[-1]}")
    return index, wy, wx


@njit(**PAR)
def _warp_forward(f, index, wy, wx, W, out):
    for p in prange(f.size):
        out[p] = bilerp(f, index[p], W, wy[p], wx[p])


@njit(**PAR)
def _warp_adjoint(v, index, wy, wx, W, out, extra):
    H = v.size // W
    P = extra.shape[0] + 1
    band = np.zeros((P, 2), np.int64)
    for t in prange(P):
        buf = out if t == 0 else extra[t - 1]
        for i in range(t * H // P, (t + 1) * H // P):
            lo, hi = i * W, (i + 1) * W
            r0, r1 = splat_rows(index[lo:hi], W)
            cover(buf, W, band, t, r0, r1)
            for p in range(lo, hi):
                splat(buf, index[p], W, v[p], wy[p], wx[p])
    reduce_bands(out, extra, band, W)


def warp_forward(x, index, wy, wx):
    """Bilinear gather; see :func:`mfsr.kernels.reference.warp_forward`."""
    if not fast(x) or x.ndim != 2:
        return reference.warp_forward(x, index, wy, wx)
    x = np.ascontiguousarray(x)
    index, wy, wx = _warp_args(index, wy, wx, x.size)
    out = np.empty_like(x)
    _warp_forward(x.ravel(), index, wy, wx, x.shape[1], out.ravel())
    return out


def warp_adjoint(y, index, wy, wx):
    """Bilinear splat (one accumulator per partition of rows, :data:`PARTITIONS`); see
    :func:`mfsr.kernels.reference.warp_adjoint`."""
    if not fast(y) or y.ndim != 2:
        return reference.warp_adjoint(y, index, wy, wx)
    y = np.ascontiguousarray(y)
    index, wy, wx = _warp_args(index, wy, wx, y.size)
    out = np.empty_like(y)
    extra = workspace("splat", (partitions(y.shape[0]) - 1, y.size), y.dtype)
    _warp_adjoint(y.ravel(), index, wy, wx, y.shape[1], out.ravel(), extra)
    return out

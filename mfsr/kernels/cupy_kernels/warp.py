"""CuPy warps: the bilinear backward warp of one image by its sampling tables
(:func:`warp_forward`) and its splat adjoint with atomic adds (:func:`warp_adjoint`);
``cuda/warp.cu``, see :mod:`mfsr.kernels.reference.warp`.
"""
from __future__ import annotations

import cupy as cp
import numpy as np

from .. import reference
from .common import fast, kernel, launch


def _warp_args(index, wy, wx, n):
    index = cp.ascontiguousarray(index, dtype=cp.int64)
    wy = cp.ascontiguousarray(wy, dtype=cp.float32)
    wx = cp.ascontiguousarray(wx, dtype=cp.float32)
    if not index.size == wy.size == wx.size == n:
        raise ValueError(f"index, wy and wx must have one entry per pixel ({n}), got "
                         f"{index.size}, {wy.size}, {wx.size}")
    return index, wy, wx


def warp_forward(x, index, wy, wx):
    """Bilinear gather; see :func:`mfsr.kernels.reference.warp_forward`."""
    if not fast(x):
        return reference.warp_forward(x, index, wy, wx)
    x = cp.ascontiguousarray(x)
    index, wy, wx = _warp_args(index, wy, wx, x.size)
    out = cp.empty_like(x)
    launch(kernel("warp_forward", x.dtype), x.size,
           (x, index, wy, wx, np.int64(x.shape[1]), np.int64(x.size), out))
    return out


def warp_adjoint(y, index, wy, wx):
    """Bilinear splat (atomic adds); see :func:`mfsr.kernels.reference.warp_adjoint`."""
    if not fast(y):
        return reference.warp_adjoint(y, index, wy, wx)
    y = cp.ascontiguousarray(y)
    index, wy, wx = _warp_args(index, wy, wx, y.size)
    out = cp.zeros_like(y)
    launch(kernel("warp_adjoint", y.dtype), y.size,
           (y, index, wy, wx, np.int64(y.shape[1]), np.int64(y.size), out))
    return out

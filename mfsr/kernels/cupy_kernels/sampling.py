"""CuPy strided blur + decimation of a padded stack in one pass
(:func:`strided_correlate`) and its gather-form adjoint; ``cuda/sampling.cu``, see
:mod:`mfsr.kernels.reference.sampling`.
"""
from __future__ import annotations

import cupy as cp
import numpy as np

from .. import reference
from .common import device_values, fast, kernel, launch


def _sampling_args(wy, wx, start, scale, lr_shape, padded_shape, dtype):
    (h, w), (ph, pw), s = lr_shape, padded_shape, int(scale)
    ny, nx = len(wy), len(wx)
    if ny < 1 or nx < 1:
        raise ValueError("wy and wx must hold at least one tap each")
    s0, s1 = int(start[0]), int(start[1])
    if min(s0, s1) < 0 or s0 + s * (h - 1) + ny > ph or s1 + s * (w - 1) + nx > pw:
        raise ValueError(f"taps ({ny}, {nx}) from start {tuple(start)} with scale {s} over "
                         f"{(h, w)} outputs leave the padded shape {(ph, pw)}")
    return (device_values(wy, dtype), np.int32(ny), device_values(wx, dtype),
            np.int32(nx), np.int64(s0), np.int64(s1), np.int64(s), np.int64(ph),
            np.int64(pw), np.int64(h), np.int64(w))


def strided_correlate(xpad, wy, wx, start, scale, lr_shape):
    """Blur + decimate in one pass; see :func:`mfsr.kernels.reference.strided_correlate`."""
    if not fast(xpad):
        return reference.strided_correlate(xpad, wy, wx, start, scale, lr_shape)
    xpad = cp.ascontiguousarray(xpad)
    args = _sampling_args(wy, wx, start, scale, lr_shape, xpad.shape[-2:], xpad.dtype)
    out = cp.empty(xpad.shape[:-2] + tuple(lr_shape), dtype=xpad.dtype)
    launch(kernel("strided_correlate", xpad.dtype), out.size,
           (xpad,) + args + (np.int64(out.size), out))
    return out


def strided_correlate_adjoint(y, wy, wx, start, scale, padded_shape):
    """Gather-form adjoint; see :func:`mfsr.kernels.reference.strided_correlate_adjoint`."""
    if not fast(y):
        return reference.strided_correlate_adjoint(y, wy, wx, start, scale, padded_shape)
    y = cp.ascontiguousarray(y)
    args = _sampling_args(wy, wx, start, scale, y.shape[-2:], padded_shape, y.dtype)
    out = cp.empty(y.shape[:-2] + tuple(padded_shape), dtype=y.dtype)
    launch(kernel("strided_correlate_adjoint", y.dtype), out.size,
           (y,) + args + (np.int64(out.size), out))
    return out

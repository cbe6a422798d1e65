"""CuPy kernels: the functions of :mod:`mfsr.kernels.reference` as CUDA kernels.

Same names, signatures and results (to float rounding) as the reference; the registry
(:func:`mfsr.kernels.kernels_for`) hands this module out for CuPy arrays, and importing
it without CuPy raises ``ImportError``, on which the registry falls back to the
reference (plain ``xp`` code that also runs on CuPy arrays, only slower).

The CUDA C sources live next to this file in ``cuda/*.cu`` (package data) so that
``nvcc`` can compile them on their own (``tests/test_cuda_compile.py``). They are
compiled at first use by CuPy (NVRTC, cached on disk by CuPy), in ``float`` and
``double`` variants; other dtypes go through the reference code. Kernel arguments that
the solvers pass as small NumPy arrays (PSF taps, prior offsets and weights) are copied
to the device once and cached, so repeated calls inside a solver loop make no
host-to-device copies. Only :func:`pairwise_prior` reads one number back (its value, a
Python ``float`` as in the reference).
"""
from __future__ import annotations

import functools

import cupy as cp
import numpy as np

from . import reference
from .cuda import KERNELS, SUFFIXES, source
from .reference import rho  # noqa: F401  (xp code, shared with the reference)

NAME = "cupy"
PENALTIES = {"quadratic": 0, "charbonnier": 1, "huber": 2}  # MFSR_* codes in mfsr_common.cuh
THREADS = 256
MAX_BLOCKS = 1 << 16  # grid-stride loops cover larger problems
_SUFFIX = {np.dtype(k): v for k, v in SUFFIXES.items()}


@functools.cache
def _module(name):
    return cp.RawModule(code=source(name), options=("-std=c++17",))


def _kernel(function, dtype):
    return _module(KERNELS[function]).get_function(f"{function}_{_SUFFIX[np.dtype(dtype)]}")


def _launch(kernel, n, args):
    blocks = max(1, min(-(-int(n) // THREADS), MAX_BLOCKS))
    kernel((blocks,), (THREADS,), args)


@functools.lru_cache(maxsize=256)
def _constant(values, dtype, device):
    """A small device array made once per (values, dtype, device)."""
    return cp.asarray(np.asarray(values, dtype=dtype))


def _device_constant(values, dtype):
    return _constant(tuple(np.asarray(values).ravel().tolist()), np.dtype(dtype).str,
                     cp.cuda.Device().id)


def _fast(*arrays):
    """True when the CUDA kernels handle these arrays (float32/float64 CuPy arrays)."""
    return all(isinstance(a, cp.ndarray) and a.dtype in _SUFFIX for a in arrays)


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
    if not _fast(x):
        return reference.warp_forward(x, index, wy, wx)
    x = cp.ascontiguousarray(x)
    index, wy, wx = _warp_args(index, wy, wx, x.size)
    out = cp.empty_like(x)
    _launch(_kernel("warp_forward", x.dtype), x.size,
            (x, index, wy, wx, np.int64(x.shape[1]), np.int64(x.size), out))
    return out


def warp_adjoint(y, index, wy, wx):
    """Bilinear splat (atomic adds); see :func:`mfsr.kernels.reference.warp_adjoint`."""
    if not _fast(y):
        return reference.warp_adjoint(y, index, wy, wx)
    y = cp.ascontiguousarray(y)
    index, wy, wx = _warp_args(index, wy, wx, y.size)
    out = cp.zeros_like(y)
    _launch(_kernel("warp_adjoint", y.dtype), y.size,
            (y, index, wy, wx, np.int64(y.shape[1]), np.int64(y.size), out))
    return out


def _sampling_args(wy, wx, start, scale, lr_shape, padded_shape, dtype):
    (h, w), (ph, pw), s = lr_shape, padded_shape, int(scale)
    ny, nx = len(wy), len(wx)
    if ny < 1 or nx < 1:
        raise ValueError("wy and wx must hold at least one tap each")
    s0, s1 = int(start[0]), int(start[1])
    if min(s0, s1) < 0 or s0 + s * (h - 1) + ny > ph or s1 + s * (w - 1) + nx > pw:
        raise ValueError(f"taps ({ny}, {nx}) from start {tuple(start)} with scale {s} over "
                         f"{(h, w)} outputs leave the padded shape {(ph, pw)}")
    return (_device_constant(wy, dtype), np.int32(ny), _device_constant(wx, dtype),
            np.int32(nx), np.int64(s0), np.int64(s1), np.int64(s), np.int64(ph),
            np.int64(pw), np.int64(h), np.int64(w))


def strided_correlate(xpad, wy, wx, start, scale, lr_shape):
    """Blur + decimate in one pass; see :func:`mfsr.kernels.reference.strided_correlate`."""
    if not _fast(xpad):
        return reference.strided_correlate(xpad, wy, wx, start, scale, lr_shape)
    xpad = cp.ascontiguousarray(xpad)
    args = _sampling_args(wy, wx, start, scale, lr_shape, xpad.shape[-2:], xpad.dtype)
    out = cp.empty(xpad.shape[:-2] + tuple(lr_shape), dtype=xpad.dtype)
    _launch(_kernel("strided_correlate", xpad.dtype), out.size,
            (xpad,) + args + (np.int64(out.size), out))
    return out


def strided_correlate_adjoint(y, wy, wx, start, scale, padded_shape):
    """Gather-form adjoint; see :func:`mfsr.kernels.reference.strided_correlate_adjoint`."""
    if not _fast(y):
        return reference.strided_correlate_adjoint(y, wy, wx, start, scale, padded_shape)
    y = cp.ascontiguousarray(y)
    args = _sampling_args(wy, wx, start, scale, y.shape[-2:], padded_shape, y.dtype)
    out = cp.empty(y.shape[:-2] + tuple(padded_shape), dtype=y.dtype)
    _launch(_kernel("strided_correlate_adjoint", y.dtype), out.size,
            (y,) + args + (np.int64(out.size), out))
    return out


def pairwise_prior(x, offsets, weights, kind, param):
    """All offsets in one fused pass; see :func:`mfsr.kernels.reference.pairwise_prior`."""
    if kind not in PENALTIES:
        raise ValueError(f"unknown penalty kind {kind!r}")
    if not _fast(x) or x.ndim != 2:
        return reference.pairwise_prior(x, offsets, weights, kind, param)
    offsets = [(int(dy), int(dx)) for dy, dx in offsets]
    if len(offsets) != len(weights):
        raise ValueError(f"offsets ({len(offsets)}) and weights ({len(weights)}) differ in length")
    x = cp.ascontiguousarray(x)
    grad = cp.empty_like(x)
    if not offsets:
        grad.fill(0)
        return 0.0, grad
    total = cp.zeros(1, dtype=cp.float64)
    _launch(_kernel("pairwise_prior", x.dtype), x.size,
            (x, _device_constant(offsets, np.int32), _device_constant(weights, x.dtype),
             np.int32(len(offsets)), np.int32(PENALTIES[kind]), x.dtype.type(param),
             np.int64(x.shape[0]), np.int64(x.shape[1]), grad, total))
    return float(total[0]), grad

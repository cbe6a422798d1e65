"""Numba strided blur + decimation of a padded stack (:func:`strided_correlate`) and its
adjoint; see :mod:`mfsr.kernels.reference.sampling`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import reference
from .common import PAR, chunks, fast, workspace


def _taps(w, dtype):
    w = np.ascontiguousarray(np.asarray(w, dtype=np.float64).astype(dtype))
    if w.ndim != 1 or w.size < 1:
        raise ValueError("tap arrays must be 1-D with at least one tap")
    return w


def _check_span(ny, nx, start, s, lr_shape, padded_shape):
    (h, w), (ph, pw) = lr_shape, padded_shape
    if min(start) < 0 or start[0] + s * (h - 1) + ny > ph or start[1] + s * (w - 1) + nx > pw:
        raise ValueError(f"taps ({ny}, {nx}) from start {tuple(start)} with scale {s} over "
                         f"{(h, w)} outputs leave the padded shape {(ph, pw)}")


@njit(**PAR)
def _strided_correlate(xpad, wy, wx, s0, s1, s, out, T):
    L, h, w = out.shape
    PW = xpad.shape[2]
    for t in prange(T):
        tmp = np.empty(PW, xpad.dtype)
        for li in range(t * (L * h) // T, (t + 1) * (L * h) // T):
            l, i = li // h, li % h
            r0 = s0 + s * i
            tmp[:] = 0
            for a in range(wy.size):
                c = wy[a]
                src = xpad[l, r0 + a]
                for q in range(PW):
                    tmp[q] += c * src[q]
            for j in range(w):
                c0 = s1 + s * j
                acc = wx[0] * tmp[c0]
                for b in range(1, wx.size):
                    acc += wx[b] * tmp[c0 + b]
                out[l, i, j] = acc


@njit(**PAR)
def _strided_correlate_adjoint(y, wy, wx, s0, s1, s, out, t):
    """Horizontal scatter into ``t`` (one LR row each), then vertical gather into ``out``."""
    L, h, w = y.shape
    PH, PW = out.shape[1], out.shape[2]
    ny = wy.size
    for li in prange(L * h):
        l, i = li // h, li % h
        row = t[l, i]
        row[:] = 0
        for j in range(w):
            v = y[l, i, j]
            c0 = s1 + s * j
            for b in range(wx.size):
                row[c0 + b] += wx[b] * v
    for lq in prange(L * PH):
        l, q = lq // PH, lq % PH
        dst = out[l, q]
        dst[:] = 0
        # LR rows i with 0 <= q - s0 - s*i < ny
        d = q - s0
        i_hi = min(h - 1, d // s) if d >= 0 else -1
        i_lo = max(0, -((ny - 1 - d) // s))
        for i in range(i_lo, i_hi + 1):
            c = wy[d - s * i]
            src = t[l, i]
            for p in range(PW):
                dst[p] += c * src[p]


def strided_correlate(xpad, wy, wx, start, scale, lr_shape):
    """Separable strided correlation; see :func:`mfsr.kernels.reference.strided_correlate`."""
    if not fast(xpad) or xpad.ndim < 2:
        return reference.strided_correlate(xpad, wy, wx, start, scale, lr_shape)
    wy, wx = _taps(wy, xpad.dtype), _taps(wx, xpad.dtype)
    s, (s0, s1) = int(scale), (int(start[0]), int(start[1]))
    lr_shape = (int(lr_shape[0]), int(lr_shape[1]))
    _check_span(wy.size, wx.size, (s0, s1), s, lr_shape, xpad.shape[-2:])
    lead = xpad.shape[:-2]
    x3 = np.ascontiguousarray(xpad).reshape((-1,) + xpad.shape[-2:])
    out = np.empty((x3.shape[0],) + lr_shape, xpad.dtype)
    _strided_correlate(x3, wy, wx, s0, s1, s, out, chunks(out.shape[0] * out.shape[1]))
    return out.reshape(lead + lr_shape)


def strided_correlate_adjoint(y, wy, wx, start, scale, padded_shape):
    """Adjoint of :func:`strided_correlate`; see
    :func:`mfsr.kernels.reference.strided_correlate_adjoint`."""
    if not fast(y) or y.ndim < 2:
        return reference.strided_correlate_adjoint(y, wy, wx, start, scale, padded_shape)
    wy, wx = _taps(wy, y.dtype), _taps(wx, y.dtype)
    s, (s0, s1) = int(scale), (int(start[0]), int(start[1]))
    padded_shape = (int(padded_shape[0]), int(padded_shape[1]))
    _check_span(wy.size, wx.size, (s0, s1), s, y.shape[-2:], padded_shape)
    lead = y.shape[:-2]
    y3 = np.ascontiguousarray(y).reshape((-1,) + y.shape[-2:])
    out = np.empty((y3.shape[0],) + padded_shape, y.dtype)
    t = workspace("strided_t", (y3.shape[0], y3.shape[1], padded_shape[1]), y.dtype)
    _strided_correlate_adjoint(y3, wy, wx, s0, s1, s, out, t)
    return out.reshape(lead + padded_shape)

"""Numba priors: the robust penalties as inline kernels (:func:`quadratic`,
:func:`charbonnier`, :func:`huber`, their constants from :func:`penalty_constants`), the
pairwise priors' value and gradient in one pass over all offsets
(:func:`pairwise_prior`, :func:`pairwise_prior_gradient`) and total variation
(:func:`tv_prior`); see :mod:`mfsr.kernels.reference.prior`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import reference
from ..common import PENALTIES, check_offsets
from .common import FLOATS, PAR, check_numpy_out, chunks, fast, threads


def penalty_constants(kind, param, dtype):
    """``(kind code, [param, param**2, 2 param, param / 2, 1/2, 1] in dtype)``."""
    if kind not in PENALTIES:
        raise ValueError(f"unknown penalty kind {kind!r}")
    p = float(param)
    return PENALTIES[kind], np.array([p, p * p, 2 * p, p / 2, 0.5, 1.0], dtype=dtype)


@njit(inline="always")
def quadratic(d, k):
    return k[4] * d * d, d


@njit(inline="always")
def charbonnier(d, k):
    root = np.sqrt(d * d + k[1])
    return root - k[0], d / root


@njit(inline="always")
def huber(d, k):
    a = abs(d)
    t = min(max(d / k[0], -k[5]), k[5])
    return (d * d / k[2] if a <= k[0] else a - k[3]), t


@njit(inline="always")
def _pair_row(pen, k, wo, xa, xb, ga, gb, va):
    """One row of one offset: ``d = xa - xb``; ``ga += wo rho'``, ``gb -= wo rho'``,
    ``va += wo rho`` (row views of equal length; branch-free, so it vectorises)."""
    for j in range(xa.size):
        v, dv = pen(xa[j] - xb[j], k)
        va[j] += wo * v
        ga[j] += wo * dv
        gb[j] -= wo * dv


@njit(inline="always")
def _pairwise_rows(pen, x, dys, dxs, ws, k, g, totals, lo, hi):
    """Rows ``lo:hi`` of the gradient (gather form: each pixel takes its own term of
    both pairs it belongs to; a scratch row receives the other end, discarded) and
    the value of the pairs starting in these rows."""
    H, W = x.shape
    vals = np.zeros(W, x.dtype)
    sink = np.empty(W, x.dtype)
    for i in range(lo, hi):
        gi = g[i]
        gi[:] = 0
        xi = x[i]
        for o in range(dys.size):
            dy, dx, wo = dys[o], dxs[o], ws[o]
            j0, j1 = max(0, -dx), min(W, W - dx)  # pair (p, p + o): value, -rho' at p
            if 0 <= i + dy < H and j1 > j0:
                x2 = x[i + dy]
                _pair_row(pen, k, wo, x2[j0 + dx: j1 + dx], xi[j0: j1], sink[j0: j1],
                          gi[j0: j1], vals[j0: j1])
            j0, j1 = max(0, dx), min(W, W + dx)  # pair (p - o, p): +rho' at p
            if 0 <= i - dy < H and j1 > j0:
                x3 = x[i - dy]
                _pair_row(pen, k, wo, xi[j0: j1], x3[j0 - dx: j1 - dx], gi[j0: j1],
                          sink[j0: j1], sink[j0: j1])
        total = 0.0
        for j in range(W):
            total += vals[j]
            vals[j] = 0
        totals[i] = total


@njit(**PAR)
def _pairwise_prior(x, dys, dxs, ws, kind, k, g, totals, T):
    """``T`` chunks of rows; the value summed per row into ``totals[i]``, so neither it nor
    the gradient depends on ``T``."""
    H = x.shape[0]
    for t in prange(T):
        lo, hi = t * H // T, (t + 1) * H // T
        if kind == 0:
            _pairwise_rows(quadratic, x, dys, dxs, ws, k, g, totals, lo, hi)
        elif kind == 1:
            _pairwise_rows(charbonnier, x, dys, dxs, ws, k, g, totals, lo, hi)
        else:
            _pairwise_rows(huber, x, dys, dxs, ws, k, g, totals, lo, hi)


def pairwise_prior(x, offsets, weights, kind, param, out=None):
    """All offsets in one pass; see :func:`mfsr.kernels.reference.pairwise_prior`."""
    code, k = penalty_constants(kind, param, getattr(x, "dtype", np.float64))
    if not fast(x) or x.ndim != 2:
        return reference.pairwise_prior(x, offsets, weights, kind, param, out)
    offsets = check_offsets(offsets, weights)
    x = np.ascontiguousarray(x)
    dys = np.array([o[0] for o in offsets], np.int64)
    dxs = np.array([o[1] for o in offsets], np.int64)
    ws = np.asarray(weights, np.float64).astype(x.dtype)
    g = np.empty_like(x) if out is None else check_numpy_out(out, x.shape, x.dtype)
    totals = np.empty(x.shape[0])
    _pairwise_prior(x, dys, dxs, ws, code, k, g, totals, chunks(x.shape[0]))
    return float(totals.sum()), g


def pairwise_prior_gradient(x, offsets, weights, kind, param, out=None, base=None,
                            scale=1.0):
    """``base + scale * grad R(x)``; see
    :func:`mfsr.kernels.reference.pairwise_prior_gradient` (the gradient of
    :func:`pairwise_prior`, so the same bits)."""
    g = pairwise_prior(x, offsets, weights, kind, param)[1]
    if scale != 1.0:
        g *= g.dtype.type(scale) if g.dtype in FLOATS else scale
    if base is not None:
        if base is out:
            out += g
            return out
        g = base + g
    if out is None:
        return g
    out[...] = g
    return out


@njit(**PAR)
def _tv_prior(x, eps, eps2, g, totals, T):
    """``T`` bands of rows; ``py`` of the row above kept in a scratch row (recomputed, with
    the same operations, at the top of a band); the value summed per row into
    ``totals[i]``, so neither depends on ``T``."""
    H, W = x.shape
    zero = eps - eps
    for t in prange(T):
        lo, hi = t * H // T, (t + 1) * H // T
        py_up = np.zeros(W, x.dtype)
        py = np.empty(W, x.dtype)
        if lo > 0:
            for j in range(W):
                gx = x[lo - 1, j + 1] - x[lo - 1, j] if j < W - 1 else zero
                gy = x[lo, j] - x[lo - 1, j]
                py_up[j] = gy / np.sqrt(gx * gx + gy * gy + eps2)
        for i in range(lo, hi):
            px_left = zero
            row = 0.0
            for j in range(W):
                gx = x[i, j + 1] - x[i, j] if j < W - 1 else zero
                gy = x[i + 1, j] - x[i, j] if i < H - 1 else zero
                mag = np.sqrt(gx * gx + gy * gy + eps2)
                row += mag - eps
                px = gx / mag
                py[j] = gy / mag
                v = -(px + py[j])
                if j > 0:
                    v += px_left
                if i > 0:
                    v += py_up[j]
                g[i, j] = v
                px_left = px
            py_up, py = py, py_up
            totals[i] = row


def tv_prior(x, eps, out=None):
    """Total variation value and gradient; see :func:`mfsr.kernels.reference.tv_prior`."""
    if not fast(x) or x.ndim != 2:
        return reference.tv_prior(x, eps, out)
    x = np.ascontiguousarray(x)
    t = x.dtype.type
    g = np.empty_like(x) if out is None else check_numpy_out(out, x.shape, x.dtype)
    totals = np.empty(x.shape[0])
    _tv_prior(x, t(eps), t(float(eps) ** 2), g, totals, min(x.shape[0], 4 * threads()))
    return float(totals.sum()), g

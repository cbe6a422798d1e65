"""Numba data term: the robust residual weighting in one pass (:func:`data_fidelity`),
its value summed per block of :data:`REDUCE_BLOCK` elements; see
:mod:`mfsr.kernels.reference.data`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import reference
from .common import PAR, fast
from .prior import charbonnier, huber, penalty_constants, quadratic

# Elements per partial sum of the data term (a size-only split of the reduction).
REDUCE_BLOCK = 8192


@njit(inline="always")
def _fidelity(pen, k, gain, ax, y, c, r, g):
    total = 0.0
    for p in range(ax.size):
        d = ax[p] - y[p]
        v, dv = pen(d, k)
        r[p] = d
        total += c[p] * v
        g[p] = gain * c[p] * dv
    return total


@njit(**PAR)
def _data_fidelity(ax, y, c, kind, k, gain, r, g, totals, B):
    """One partial sum per block of ``B`` elements (a split by size alone)."""
    n = ax.size
    for t in prange(totals.size):
        lo, hi = t * B, min((t + 1) * B, n)
        a, b, c_, r_, g_ = ax[lo:hi], y[lo:hi], c[lo:hi], r[lo:hi], g[lo:hi]
        if kind == 0:
            totals[t] = _fidelity(quadratic, k, gain, a, b, c_, r_, g_)
        elif kind == 1:
            totals[t] = _fidelity(charbonnier, k, gain, a, b, c_, r_, g_)
        else:
            totals[t] = _fidelity(huber, k, gain, a, b, c_, r_, g_)


def data_fidelity(ax, y, c, kind, param, gain):
    """Robust residual weighting in one pass; see
    :func:`mfsr.kernels.reference.data_fidelity`."""
    code, k = penalty_constants(kind, param, getattr(ax, "dtype", np.float64))
    if not fast(ax, y) or ax.shape != y.shape or ax.dtype != y.dtype:
        return reference.data_fidelity(ax, y, c, kind, param, gain)
    c = np.ascontiguousarray(np.broadcast_to(np.asarray(c, dtype=ax.dtype), ax.shape))
    ax, y = np.ascontiguousarray(ax), np.ascontiguousarray(y)
    r, g = np.empty_like(ax), np.empty_like(ax)
    totals = np.empty(max(1, -(-ax.size // REDUCE_BLOCK)))
    _data_fidelity(ax.ravel(), y.ravel(), c.ravel(), code, k, ax.dtype.type(gain), r.ravel(),
                   g.ravel(), totals, REDUCE_BLOCK)
    return float(gain) * float(totals.sum()), r, g

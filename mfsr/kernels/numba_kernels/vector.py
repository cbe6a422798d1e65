"""Numba vector updates of the solvers, one parallel pass each: ``y += a x``
(:func:`axpy`) and ``out = a x + b y`` (:func:`axpby`); see
:mod:`mfsr.kernels.reference.vector`.
"""
from __future__ import annotations

from numba import njit, prange

from .. import reference
from .common import PAR, fast


def axpy(a, x, y):
    """``y += a * x`` in place, one parallel pass; see :func:`mfsr.kernels.reference.axpy`.

    It is :func:`axpby` with ``out = y``: ``1 * y + a * x`` rounds exactly as
    ``y + a * x``."""
    if x.shape != y.shape:
        raise ValueError(f"x and y must have one shape, got {x.shape} and {y.shape}")
    return axpby(1.0, y, a, x, y)


@njit(**PAR)
def _axpby_parallel(a, x, b, y, out):
    for i in prange(x.size):
        out[i] = a * x[i] + b * y[i]


def axpby(a, x, b, y, out):
    """``out = a x + b y`` in one parallel pass; see :func:`mfsr.kernels.reference.axpby`."""
    if not x.shape == y.shape == out.shape:
        raise ValueError(f"x, y and out must have one shape, got {x.shape}, {y.shape} and "
                         f"{out.shape}")
    if not (fast(x, y, out) and x.dtype == y.dtype == out.dtype
            and x.flags.c_contiguous and y.flags.c_contiguous and out.flags.c_contiguous):
        return reference.axpby(a, x, b, y, out)
    t = out.dtype.type  # float(): a 0-d coefficient array is on the host here (free)
    _axpby_parallel(t(float(a)), x.reshape(-1), t(float(b)), y.reshape(-1), out.reshape(-1))
    return out

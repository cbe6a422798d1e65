"""CuPy data term: the residual, its weighted derivative and the value in one pass
(:func:`data_fidelity`); ``cuda/data.cu``, see :mod:`mfsr.kernels.reference.data`.
"""
from __future__ import annotations

import cupy as cp
import numpy as np

from .. import reference
from ..common import PENALTIES
from .common import fast, kernel, launch


def data_fidelity(ax, y, c, kind, param, gain):
    """Residual, weighted derivative and value in one pass; see
    :func:`mfsr.kernels.reference.data_fidelity`."""
    if kind not in PENALTIES:
        raise ValueError(f"unknown penalty kind {kind!r}")
    if not fast(ax, y, c) or not ax.dtype == y.dtype == c.dtype or \
            not ax.shape == y.shape == c.shape:
        return reference.data_fidelity(ax, y, c, kind, param, gain)
    ax, y, c = (cp.ascontiguousarray(a) for a in (ax, y, c))
    r, g = cp.empty_like(ax), cp.empty_like(ax)
    total = cp.zeros(1, dtype=cp.float64)
    t = ax.dtype.type
    launch(kernel("data_fidelity", ax.dtype), ax.size,
           (ax, y, c, np.int32(PENALTIES[kind]), t(param), t(gain), np.int64(ax.size), r, g,
            total))
    return gain * float(total[0]), r, g

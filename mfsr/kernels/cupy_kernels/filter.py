"""CuPy small separable filters of image stacks, two launches each (rows, columns):
:func:`local_filter`, :func:`normalized_filter` and :func:`remove_offsets`;
``cuda/filter.cu``, see :mod:`mfsr.kernels.reference.filter`.
"""
from __future__ import annotations

import cupy as cp
import numpy as np

from .. import reference
from .common import device_values, fast, kernel, launch

_FILTER_BORDERS = {"zero": 0, "replicate": 1}
# MFSR_FILTER_* and MFSR_FINISH_* in filter.cu
_FILTER_VALUE, _FILTER_SQUARE, _FILTER_WEIGHTED, _FILTER_WEIGHTED_DIFFERENCE = 0, 1, 2, 3
_FINISH_NONE, _FINISH_ROOT, _FINISH_RATIO, _FINISH_MINUS_RATIO = 0, 1, 2, 3


def _filter(a, b, taps, border, mode, finish, floor, zero_image, c=None):
    """The two passes of ``filter.cu`` over C-contiguous ``(n, h, w)`` stacks."""
    n, h, w = a.shape
    taps = device_values(taps, np.float64)
    t = cp.empty_like(a)
    # the weights' filtered image (not read nor written without weights)
    t2 = cp.empty_like(a) if mode >= _FILTER_WEIGHTED else cp.empty(1, a.dtype)
    edge = np.int32(_FILTER_BORDERS[border])
    launch(kernel("filter_rows", a.dtype), a.size,
           (a, a if b is None else b, a if c is None else c, taps, np.int32(taps.size),
            edge, np.int32(mode), np.int64(w), np.int64(a.size), t, t2))
    out = cp.empty_like(a)
    launch(kernel("filter_cols", a.dtype), a.size,
           (t, t2, a, taps, np.int32(taps.size), edge, np.int32(finish), a.dtype.type(floor),
            np.int64(-1 if zero_image is None else zero_image), np.int64(h), np.int64(w),
            np.int64(a.size), out))
    return out


def local_filter(stack, taps, border="zero", square=False, root=False):
    """Two launches (rows, columns); see :func:`mfsr.kernels.reference.local_filter`."""
    if not fast(stack) or stack.ndim < 2 or len(taps) % 2 == 0:
        return reference.local_filter(stack, taps, border, square, root)
    flat = cp.ascontiguousarray(stack).reshape((-1,) + tuple(stack.shape[-2:]))
    out = _filter(flat, None, taps, border, _FILTER_SQUARE if square else _FILTER_VALUE,
                  _FINISH_ROOT if root else _FINISH_NONE, 0.0, None)
    return out.reshape(stack.shape)


def normalized_filter(values, weights, taps, floor=1e-3, zero_image=None):
    """Two launches (rows, columns); see
    :func:`mfsr.kernels.reference.normalized_filter`."""
    if not fast(values, weights) or values.ndim != 3 or weights.shape != values.shape \
            or weights.dtype != values.dtype or len(taps) % 2 == 0:
        return reference.normalized_filter(values, weights, taps, floor, zero_image)
    values, weights = cp.ascontiguousarray(values), cp.ascontiguousarray(weights)
    return _filter(values, weights, taps, "zero", _FILTER_WEIGHTED, _FINISH_RATIO, floor,
                   zero_image)


def remove_offsets(observed, ax, weights, taps, reference, floor=1e-3):
    """Two launches (rows, columns); see :func:`mfsr.kernels.reference.remove_offsets`."""
    if not fast(observed, ax, weights) or observed.ndim != 3 or \
            not observed.shape == ax.shape == weights.shape or \
            not observed.dtype == ax.dtype == weights.dtype or len(taps) % 2 == 0:
        return reference.remove_offsets(observed, ax, weights, taps, reference, floor)
    observed, ax, weights = (cp.ascontiguousarray(a) for a in (observed, ax, weights))
    return _filter(observed, weights, taps, "zero", _FILTER_WEIGHTED_DIFFERENCE,
                   _FINISH_MINUS_RATIO, floor, reference, c=ax)

"""Reference vector updates of the solvers: ``y += a x`` (:func:`axpy`) and
``out = a x + b y`` (:func:`axpby`), whose coefficients may be 0-d device arrays.
"""
from __future__ import annotations

import numpy as np


def axpy(a, x, y):
    """``y += a * x`` in place; return ``y``.

    Parameters
    ----------
    a : float or 0-d array
        A 0-d device array is used on the device (no host read).
    x, y : arrays of one shape; ``y`` is updated.
    """
    if x.shape != y.shape:
        raise ValueError(f"x and y must have one shape, got {x.shape} and {y.shape}")
    y += _coefficient(a, y.dtype) * x
    return y


def axpby(a, x, b, y, out):
    """``out = a x + b y`` elementwise; ``out`` may be ``x`` or ``y``; return ``out``.

    Rounded as the NumPy expression ``a * x + b * y`` in the arrays' dtype, so with
    ``a = 1`` it is bitwise ``x + b * y`` and with ``b = -1`` bitwise ``a * x - y``.

    Parameters
    ----------
    a, b : float or 0-d arrays
        0-d device arrays are used on the device (no host read).
    x, y, out : arrays of one shape and dtype
    """
    if not x.shape == y.shape == out.shape:
        raise ValueError(f"x, y and out must have one shape, got {x.shape}, {y.shape} and "
                         f"{out.shape}")
    out[...] = _coefficient(a, out.dtype) * x + _coefficient(b, out.dtype) * y
    return out


def _coefficient(a, dtype):
    """A scalar coefficient of the vector updates: a Python number as it is; a 0-d array
    (or NumPy scalar) on the host as a ``float`` (free); a 0-d device array stays on the
    device, cast to ``dtype`` (the rounding NumPy gives a Python float against arrays of
    ``dtype``, and no host read)."""
    if isinstance(a, (np.ndarray, np.generic)):
        return float(a)
    if hasattr(a, "astype"):
        return a.astype(dtype, copy=False)
    return a

"""Dtype and colour conversions shared by all layers."""
from __future__ import annotations

import numpy as np

from .backend import get_array_module

# BT.601 full-range (JPEG) YCbCr: invertible, Y is the luma the solver works on.
_RGB_TO_YCBCR = np.array([[0.299, 0.587, 0.114],
                          [-0.168735892, -0.331264108, 0.5],
                          [0.5, -0.418687589, -0.081312411]], dtype=np.float64)
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)


def as_float_image(a, name="image", dtype=None):
    """Convert to floating point in nominal [0, 1]: integers by their dtype's range.

    Parameters
    ----------
    a : array
        Integer (uint8, uint16, ...) or float array; bool becomes 0/1.
    name : str
        Argument name used in error messages.
    dtype : dtype, optional
        Float dtype of the result (float32 by default; float64 input stays float64).

    Returns
    -------
    array
        Float array of the same module as ``a``.
    """
    xp = get_array_module(a)
    if dtype is None:
        dtype = xp.float64 if a.dtype == xp.float64 else xp.float32
    if a.dtype == bool:
        return a.astype(dtype)
    if a.dtype.kind in "ui":
        info = np.iinfo(a.dtype)
        if info.min < 0:
            raise TypeError(f"{name}: signed integer images are not supported, got {a.dtype}")
        return a.astype(dtype) / info.max
    if a.dtype.kind == "f":
        return a.astype(dtype, copy=False)
    raise TypeError(f"{name} must be an integer or float array, got dtype {a.dtype}")


def rgb_to_ycbcr(rgb):
    """RGB in [0, 1] (last axis) to full-range YCbCr (Y in [0, 1], Cb/Cr centred on 0)."""
    xp = get_array_module(rgb)
    m = xp.asarray(_RGB_TO_YCBCR, dtype=rgb.dtype)
    return rgb @ m.T


def ycbcr_to_rgb(ycc):
    """Inverse of :func:`rgb_to_ycbcr`."""
    xp = get_array_module(ycc)
    m = xp.asarray(_YCBCR_TO_RGB, dtype=ycc.dtype)
    return ycc @ m.T

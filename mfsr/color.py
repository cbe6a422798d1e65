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


# --- the sRGB transfer functions (IEC 61966-2-1) ----------------------------------
# Written out rather than colour-science's eotf_sRGB / eotf_inverse_sRGB, which they match
# to 1e-12 (tests/test_enhance.py): colour's take 2.4 s and 0.44 s on a float32 4K frame
# (float64 inside), these 0.12 s, and the job applies them to every 4K output frame.

def srgb_to_linear(coded):
    """The sRGB EOTF (IEC 61966-2-1): coded R'G'B' in [0, 1] to linear RGB.

    Parameters
    ----------
    coded : ndarray
        Float values in [0, 1].

    Returns
    -------
    ndarray
        Same shape and float dtype.

    Examples
    --------
    >>> round(float(srgb_to_linear(np.array(0.5))), 4)
    0.214
    """
    coded = np.asarray(coded)
    dtype = coded.dtype if coded.dtype.kind == "f" else np.float64
    coded = coded.astype(dtype, copy=False)
    return np.where(coded <= 0.04045, coded / 12.92,
                    ((np.maximum(coded, 0.04045) + 0.055) / 1.055) ** 2.4).astype(dtype)


def linear_to_srgb(linear):
    """The inverse sRGB EOTF: linear RGB in [0, 1] to coded R'G'B'.

    Parameters
    ----------
    linear : ndarray
        Float values in [0, 1].

    Returns
    -------
    ndarray
        Same shape and float dtype.

    Examples
    --------
    >>> round(float(linear_to_srgb(np.array(0.18))), 4)
    0.4614
    """
    linear = np.asarray(linear)
    dtype = linear.dtype if linear.dtype.kind == "f" else np.float64
    linear = linear.astype(dtype, copy=False)
    return np.where(linear <= 0.0031308, linear * 12.92,
                    1.055 * np.maximum(linear, 0.0031308) ** (1 / 2.4) - 0.055).astype(dtype)


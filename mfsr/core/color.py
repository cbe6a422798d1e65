"""Dtype and colour conversions shared by all layers."""
from __future__ import annotations

import numpy as np

from .backend import get_array_module
from .device_cache import device_constant
from .validation import check_array, check_float

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


def _matrix_t(matrix, dtype, xp):
    """``matrix.T`` in ``dtype`` on ``xp``'s device, uploaded once per device and dtype."""
    dtype = np.dtype(dtype)
    return device_constant(("colour", matrix is _RGB_TO_YCBCR, dtype.str),
                           lambda: np.asarray(matrix, dtype=dtype).T, xp)


def rgb_to_ycbcr(rgb):
    """RGB in [0, 1] (last axis) to full-range YCbCr (Y in [0, 1], Cb/Cr centred on 0)."""
    return rgb @ _matrix_t(_RGB_TO_YCBCR, rgb.dtype, get_array_module(rgb))


def ycbcr_to_rgb(ycc):
    """Inverse of :func:`rgb_to_ycbcr`."""
    return ycc @ _matrix_t(_YCBCR_TO_RGB, ycc.dtype, get_array_module(ycc))


# --- the sRGB transfer functions (IEC 61966-2-1) ----------------------------------
# Written out rather than colour-science's eotf_sRGB / eotf_inverse_sRGB, which they match
# to 1e-12 (tests/test_enhance.py): colour's take 2.4 s and 0.44 s on a float32 4K frame
# (float64 inside), these 0.12 s, and the job applies them to every 4K output frame.

def _float_values(values):
    """``(xp, values)`` with ``values`` on its module, float (float64 for integers)."""
    xp = get_array_module(values)
    values = xp.asarray(values)
    return xp, values.astype(values.dtype if values.dtype.kind == "f" else np.float64,
                             copy=False)


def srgb_to_linear(coded):
    """The sRGB EOTF (IEC 61966-2-1): coded R'G'B' in [0, 1] to linear RGB.

    Parameters
    ----------
    coded : array
        Float values in [0, 1] (NumPy or CuPy).

    Returns
    -------
    array
        Same shape, module and float dtype.

    Examples
    --------
    >>> round(float(srgb_to_linear(np.array(0.5))), 4)
    0.214
    """
    xp, coded = _float_values(coded)
    dtype = coded.dtype
    return xp.where(coded <= 0.04045, coded / 12.92,
                    ((xp.maximum(coded, 0.04045) + 0.055) / 1.055) ** 2.4).astype(dtype)


def linear_to_srgb(linear):
    """The inverse sRGB EOTF: linear RGB in [0, 1] to coded R'G'B'.

    Parameters
    ----------
    linear : array
        Float values in [0, 1] (NumPy or CuPy).

    Returns
    -------
    array
        Same shape, module and float dtype.

    Examples
    --------
    >>> round(float(linear_to_srgb(np.array(0.18))), 4)
    0.4614
    """
    xp, linear = _float_values(linear)
    dtype = linear.dtype
    return xp.where(linear <= 0.0031308, linear * 12.92,
                    1.055 * xp.maximum(linear, 0.0031308) ** (1 / 2.4) - 0.055).astype(dtype)


def render_srgb(linear_rgb, white_balance=None, color_matrix=None, exposure=1.0, clip=True):
    """Camera-linear RGB (a raw-burst reconstruction) to sRGB-coded values in [0, 1].

    In order: multiply each channel by ``white_balance``, apply ``color_matrix`` (camera
    RGB -> linear sRGB), multiply by ``exposure``, clip to [0, 1] in linear light, then
    encode with the sRGB OETF (:func:`linear_to_srgb`). The three linear steps are folded
    into one 3x3 matrix, ``exposure * color_matrix @ diag(white_balance)``.

    Parameters
    ----------
    linear_rgb : array, shape (H, W, 3) or (K, H, W, 3)
        Linear camera RGB, black at 0 and sensor white at 1 (as a raw reconstruction
        returns it), NumPy or CuPy. Integer arrays are scaled by their dtype's range.
    white_balance : array_like, shape (3,), optional
        R, G, B multipliers, finite and > 0 (e.g. :attr:`mfsr.io.RawImage.white_balance`);
        ones by default.
    color_matrix : array_like, shape (3, 3), optional
        Camera RGB (white balanced) -> linear sRGB, finite (e.g.
        :attr:`mfsr.io.RawImage.color_matrix`); the identity by default.
    exposure : float
        Linear gain (> 0) applied before the clip; 2.0 is one stop brighter.
    clip : bool
        Clip to [0, 1] before the OETF (default). Highlights clip: a channel pushed above
        1 by the white balance or the matrix saturates at 1, which can shift the hue of
        bright areas (no highlight recovery is attempted); out-of-gamut colours (negative
        after the matrix) clip at 0. With ``clip=False`` values outside [0, 1] go through
        the OETF as :func:`linear_to_srgb` extends it: negative values along its linear
        segment (``12.92 x``), values above 1 along its power segment (above 1).

    Returns
    -------
    array
        Same shape and module as ``linear_rgb``; float32 (float64 for float64 input),
        sRGB-coded, in [0, 1] when ``clip`` is True.

    Raises
    ------
    ValueError
        ``linear_rgb`` is not (H, W, 3) or (K, H, W, 3) or holds NaN/Inf;
        ``white_balance`` not 3 finite positive values; ``color_matrix`` not a finite
        3x3 matrix; ``exposure`` not finite and > 0.
    TypeError
        An argument of the wrong type.

    Examples
    --------
    >>> grey = np.full((1, 1, 3), 0.18, dtype=np.float32)
    >>> out = render_srgb(grey)  # identity matrix, unit white balance
    >>> round(float(out[0, 0, 1]), 4)
    0.4614
    >>> out = render_srgb(grey, white_balance=(2.0, 1.0, 1.5), exposure=3.0)
    >>> [round(float(v), 4) for v in out[0, 0]]  # R: 0.18 * 2 * 3 = 1.08 clips at 1
    [1.0, 0.7611, 0.9113]
    """
    linear_rgb = check_array(linear_rgb, "linear_rgb", ndim=(3, 4))
    if linear_rgb.shape[-1] != 3:
        raise ValueError(f"linear_rgb must have shape (H, W, 3) or (K, H, W, 3), got "
                         f"{tuple(linear_rgb.shape)}")
    xp = get_array_module(linear_rgb)
    image = as_float_image(linear_rgb, "linear_rgb")

    def _host(value, name, shape):
        if type(value).__module__.startswith("cupy"):  # a CuPy array: to the host
            value = value.get()
        try:
            a = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be numbers of shape {shape}, got {value!r}") from None
        if a.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains NaN or Inf values: {a.tolist()}")
        return a

    wb = np.ones(3) if white_balance is None else _host(white_balance, "white_balance", (3,))
    if np.any(wb <= 0):
        raise ValueError(f"white_balance must be > 0 in every channel, got {wb.tolist()}")
    matrix = np.eye(3) if color_matrix is None else _host(color_matrix, "color_matrix", (3, 3))
    exposure = check_float(exposure, "exposure", minimum=0.0, strict_min=True)
    if not isinstance(clip, (bool, np.bool_)):
        raise TypeError(f"clip must be True or False, got {clip!r}")

    m = exposure * matrix * wb[None, :]  # exposure * color_matrix @ diag(white_balance)
    if np.array_equal(m, np.eye(3)):
        linear = image.copy()
    else:
        linear = image @ xp.asarray(m.T, dtype=image.dtype)
    if clip:
        linear = xp.clip(linear, 0, 1, out=linear)
    return linear_to_srgb(linear)

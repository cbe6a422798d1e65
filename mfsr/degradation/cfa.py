"""Colour filter arrays (Bayer CFA): sampling, raw levels, half-size grey.

A raw frame from a handheld camera holds one colour per pixel, chosen by a 2x2 pattern
repeated over the sensor. The pattern is named by its 2x2 block read row by row:
``"RGGB"`` is ``R G`` on even rows and ``G B`` on odd rows, so pixel ``(i, j)`` is the
site ``2 * (i % 2) + (j % 2)`` of the block and carries the colour ``pattern[site]``.
The first ``G`` in the name is ``G1``, the second ``G2``.

The CFA sampling ``M`` (:func:`mosaic`) keeps at each pixel its site's channel of an
RGB image; its adjoint (:func:`mosaic_adjoint`) puts each raw value back into that
channel, zeros elsewhere. ``M`` acts on the last three axes ``(H, W, 3)``, so a stack
``(K, H, W, 3)`` is sampled in one call, on NumPy or CuPy arrays alike. In the forward
model of a raw burst it comes last: ``y_k = M D_s B W_k x`` (the CFA is on the LR sensor
grid).

Registration runs on the half-size grey image (:func:`half_size_grey`): the mean of each
aligned 2x2 block, one value per block whatever the pattern. Its pixel ``(i, j)`` is
centred on the full CFA grid at ``(2 i + 0.5, 2 j + 0.5)`` (row, column; the centre of
the block's four pixels). A flow measured on the half grid is brought to the CFA grid by
:func:`flow_to_cfa_grid` (values doubled, sampled at that phase), an affine map by
:func:`affine_to_cfa_grid`.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..core.backend import get_array_module
from ..core.validation import check_array, check_choice, check_float, check_int
from ..kernels.geometry import upsample_flow

CFA_PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")
_CHANNEL = {"R": 0, "G": 1, "B": 2}


def check_pattern(pattern):
    """The CFA pattern name, upper case; ``TypeError`` / ``ValueError`` naming ``pattern``."""
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a string such as 'RGGB', got {type(pattern).__name__}")
    return check_choice(pattern.upper(), "pattern", CFA_PATTERNS)


def _sites(pattern):
    """``((row phase, column phase, channel), ...)`` of the four sites of the 2x2 block."""
    pattern = check_pattern(pattern)
    return tuple((k // 2, k % 2, _CHANNEL[c]) for k, c in enumerate(pattern))


def cfa_masks(pattern, shape):
    """Where each colour is sampled: one boolean plane per channel.

    Parameters
    ----------
    pattern : {"RGGB", "BGGR", "GRBG", "GBRG"}
        The 2x2 block, read row by row.
    shape : tuple of int
        ``(H, W)`` of the sensor (any size; odd sizes end on a partial block).

    Returns
    -------
    ndarray of bool, shape (H, W, 3)
        ``masks[i, j, c]`` is True where pixel ``(i, j)`` sees channel ``c`` (R, G, B);
        exactly one channel per pixel.

    Examples
    --------
    >>> m = cfa_masks("RGGB", (2, 2))
    >>> m[..., 0].astype(int)
    array([[1, 0],
           [0, 0]])
    >>> m.sum(axis=(0, 1))
    array([1, 2, 1])
    """
    sites = _sites(pattern)
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ValueError(f"shape must be a tuple (H, W), got {shape!r}")
    H, W = (check_int(v, "shape", minimum=1) for v in shape)
    masks = np.zeros((H, W, 3), dtype=bool)
    for dy, dx, c in sites:
        masks[dy::2, dx::2, c] = True
    return masks


def _check_rgb(rgb, name="rgb"):
    if not hasattr(rgb, "shape") or not hasattr(rgb, "dtype"):
        raise TypeError(f"{name} must be an array, got {type(rgb).__name__}")
    if rgb.ndim < 3 or rgb.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (..., H, W, 3), got {tuple(rgb.shape)}")
    if rgb.dtype.kind not in "uif":
        raise TypeError(f"{name} must be a real numeric array, got dtype {rgb.dtype}")
    return rgb


def mosaic(rgb, pattern):
    """The CFA sampling ``M``: keep at each pixel the channel its site sees.

    Parameters
    ----------
    rgb : array, shape (..., H, W, 3)
        RGB image or stack (NumPy or CuPy).
    pattern : {"RGGB", "BGGR", "GRBG", "GBRG"}
        The 2x2 block, read row by row.

    Returns
    -------
    array, shape (..., H, W)
        The mosaic, same module and dtype as ``rgb``.

    Notes
    -----
    An operator meant for solver loops: the shape and pattern are checked, the values are
    not (no pass over the data for NaN/Inf).

    Examples
    --------
    >>> rgb = np.zeros((2, 4, 3)); rgb[...] = (0.1, 0.2, 0.3)
    >>> mosaic(rgb, "RGGB")
    array([[0.1, 0.2, 0.1, 0.2],
           [0.2, 0.3, 0.2, 0.3]])
    """
    sites = _sites(pattern)
    _check_rgb(rgb)
    xp = get_array_module(rgb)
    out = xp.empty(rgb.shape[:-1], dtype=rgb.dtype)
    for dy, dx, c in sites:
        out[..., dy::2, dx::2] = rgb[..., dy::2, dx::2, c]
    return out


def mosaic_adjoint(raw, pattern):
    """The adjoint ``M^T`` of :func:`mosaic`: each raw value into its channel, 0 elsewhere.

    Parameters
    ----------
    raw : array, shape (..., H, W)
        Mosaic or stack of mosaics (NumPy or CuPy).
    pattern : {"RGGB", "BGGR", "GRBG", "GBRG"}
        The 2x2 block, read row by row.

    Returns
    -------
    array, shape (..., H, W, 3)
        Same module and dtype as ``raw``. ``M M^T`` is the identity; ``M^T M`` zeroes the
        channels a pixel does not see.

    Examples
    --------
    >>> raw = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> mosaic_adjoint(raw, "RGGB")[..., 1]
    array([[0., 2.],
           [3., 0.]])
    >>> bool(np.all(mosaic(mosaic_adjoint(raw, "GBRG"), "GBRG") == raw))
    True
    """
    sites = _sites(pattern)
    if not hasattr(raw, "shape") or not hasattr(raw, "dtype"):
        raise TypeError(f"raw must be an array, got {type(raw).__name__}")
    if raw.ndim < 2:
        raise ValueError(f"raw must have shape (..., H, W), got {tuple(raw.shape)}")
    if raw.dtype.kind not in "uif":
        raise TypeError(f"raw must be a real numeric array, got dtype {raw.dtype}")
    xp = get_array_module(raw)
    out = xp.zeros(raw.shape + (3,), dtype=raw.dtype)
    for dy, dx, c in sites:
        out[..., dy::2, dx::2, c] = raw[..., dy::2, dx::2]
    return out


def _levels(value, name):
    """A scalar or a 4-tuple (one per 2x2 site) of finite numbers, as a (2, 2) array."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return np.full((2, 2), check_float(value, name))
    if isinstance(value, (tuple, list, np.ndarray)) and len(value) == 4:
        return np.array([check_float(v, name) for v in value]).reshape(2, 2)
    raise TypeError(f"{name} must be a number or 4 numbers (one per site of the 2x2 block, "
                    f"in pattern order), got {value!r}")


def raw_to_float(raw, black_level, white_level, clip=True):
    """Raw sensor values to float in [0, 1]: ``(raw - black) / (white - black)``.

    Parameters
    ----------
    raw : array, shape (..., H, W)
        Raw mosaic (or stack) as the sensor wrote it: unsigned integers (uint16) or floats,
        in the same units as the levels (not scaled by the dtype's range).
    black_level : float or sequence of 4 floats
        Value of no light. Four values are per site of the 2x2 block in pattern order
        (row by row: for ``"RGGB"``, R, G1, G2, B).
    white_level : float or sequence of 4 floats
        Saturation value, above ``black_level`` at every site.
    clip : bool
        Clip the result to [0, 1] (default): values under the black level become 0 and
        saturated ones 1. With ``clip=False`` negative values (noise around black) and
        values above 1 are kept, which leaves the noise unbiased.

    Returns
    -------
    array
        float32 (float64 for float64 input), same shape and module as ``raw``.

    Examples
    --------
    >>> raw = np.array([[64, 1088], [588, 2000]], dtype=np.uint16)
    >>> raw_to_float(raw, 64, 1088).tolist()
    [[0.0, 1.0], [0.51171875, 1.0]]
    >>> raw_to_float(raw, (64, 88, 88, 64), 1088).tolist()  # R, G1, G2, B of "RGGB"
    [[0.0, 1.0], [0.5, 1.0]]
    """
    raw = check_array(raw, "raw")
    if raw.ndim < 2:
        raise ValueError(f"raw must have shape (..., H, W), got {tuple(raw.shape)}")
    if raw.dtype == bool or (raw.dtype.kind == "i" and int(raw.min()) < 0):
        raise TypeError(f"raw must be unsigned integers or floats, got dtype {raw.dtype}")
    black = _levels(black_level, "black_level")
    white = _levels(white_level, "white_level")
    if np.any(white <= black):
        raise ValueError(f"white_level must be above black_level at every site, got "
                         f"black_level={black_level!r}, white_level={white_level!r}")
    xp = get_array_module(raw)
    dtype = xp.float64 if raw.dtype == xp.float64 else xp.float32
    H, W = raw.shape[-2:]
    reps = ((H + 1) // 2, (W + 1) // 2)
    black_map = xp.asarray(np.tile(black, reps)[:H, :W], dtype=dtype)
    range_map = xp.asarray(np.tile(white - black, reps)[:H, :W], dtype=dtype)
    out = (raw.astype(dtype) - black_map) / range_map
    return xp.clip(out, 0, 1) if clip else out


def half_size_grey(raw, pattern="RGGB"):
    """The grey image of each aligned 2x2 block, ``(R + G1 + G2 + B) / 4``.

    What registration runs on: one sample per block, no demosaicking. Half-grid pixel
    ``(i, j)`` is centred on the CFA grid at ``(2 i + 0.5, 2 j + 0.5)``; see
    :func:`flow_to_cfa_grid`.

    Parameters
    ----------
    raw : array, shape (..., H, W)
        Mosaic or stack of mosaics in [0, 1]; ``H`` and ``W`` even.
    pattern : {"RGGB", "BGGR", "GRBG", "GBRG"}
        The CFA; checked, though the block mean is the same for every pattern (each
        block holds one R, two G and one B).

    Returns
    -------
    array, shape (..., H / 2, W / 2)
        float32 (float64 for float64 input), same module as ``raw``.

    Examples
    --------
    >>> raw = mosaic(np.full((4, 4, 3), (0.2, 0.4, 0.8)), "BGGR")
    >>> half_size_grey(raw, "BGGR")
    array([[0.45, 0.45],
           [0.45, 0.45]])
    """
    check_pattern(pattern)
    raw = check_array(raw, "raw")
    if raw.ndim < 2:
        raise ValueError(f"raw must have shape (..., H, W), got {tuple(raw.shape)}")
    H, W = raw.shape[-2:]
    if H % 2 or W % 2 or H == 0 or W == 0:
        raise ValueError(f"raw must have an even, non-zero height and width, got {H}x{W}")
    xp = get_array_module(raw)
    raw = raw.astype(xp.float64 if raw.dtype == xp.float64 else xp.float32, copy=False)
    return (raw[..., 0::2, 0::2] + raw[..., 0::2, 1::2] + raw[..., 1::2, 0::2]
            + raw[..., 1::2, 1::2]) / 4


def flow_to_cfa_grid(flow_half):
    """Bring a dense flow from the half-size grey grid onto the full CFA grid.

    Half-grid pixel ``q`` (``(x, y)``) is centred on the CFA grid at ``p = 2 q + 0.5``, so
    CFA pixel ``p`` reads the half-grid flow at ``(p - 0.5) / 2`` (bilinear, clamped at the
    border) and the displacement doubles. A translation ``t`` (half px) becomes ``2 t``
    (CFA px) everywhere; an affine field is mapped exactly (see
    :func:`affine_to_cfa_grid`) away from the outer half pixel, where it is clamped.

    Parameters
    ----------
    flow_half : array, shape (h, w, 2) or (K, h, w, 2)
        Displacement ``(dx, dy)`` in half-grid pixels (NumPy or CuPy).

    Returns
    -------
    array, shape (2 h, 2 w, 2) or (K, 2 h, 2 w, 2)
        float32, in CFA pixels.

    Examples
    --------
    >>> flow = np.zeros((3, 4, 2)); flow[..., 0] = 0.25; flow[..., 1] = -1.0
    >>> full = flow_to_cfa_grid(flow)
    >>> full.shape, full[0, 0].tolist()
    ((6, 8, 2), [0.5, -2.0])
    """
    flow_half = check_array(flow_half, "flow_half", ndim=(3, 4))
    if flow_half.shape[-1] != 2:
        raise ValueError(f"flow_half must have shape (..., h, w, 2), got {tuple(flow_half.shape)}")
    xp = get_array_module(flow_half)
    if flow_half.ndim == 3:
        return upsample_flow(flow_half, 2, 0.5, xp)
    return xp.stack([upsample_flow(f, 2, 0.5, xp) for f in flow_half])


def affine_to_cfa_grid(matrix_half):
    """Bring affine maps ``p -> A [x, y, 1]`` from the half-size grid to the CFA grid.

    With ``p = 2 q + 0.5``: ``A_full = [L | 2 t + 0.5 (1 - L) 1]`` for ``A_half = [L | t]``
    (``1`` the vector of ones). A pure translation just doubles.

    Parameters
    ----------
    matrix_half : array, shape (2, 3) or (K, 2, 3)
        Affine maps in half-grid pixel coordinates ``(x, y)``.

    Returns
    -------
    ndarray, shape as ``matrix_half``, float64

    Examples
    --------
    >>> affine_to_cfa_grid(np.array([[1.0, 0, 0.25], [0, 1, -1]])).tolist()
    [[1.0, 0.0, 0.5], [0.0, 1.0, -2.0]]
    """
    m = check_array(np.asarray(matrix_half, dtype=np.float64), "matrix_half", ndim=(2, 3))
    if m.shape[-2:] != (2, 3):
        raise ValueError(f"matrix_half must have shape (..., 2, 3), got {m.shape}")
    out = m.copy()
    lin = m[..., :2]
    out[..., 2] = 2 * m[..., 2] + 0.5 * (1 - lin.sum(axis=-1))
    return out


__all__ = ["CFA_PATTERNS", "cfa_masks", "mosaic", "mosaic_adjoint", "raw_to_float",
           "half_size_grey", "flow_to_cfa_grid", "affine_to_cfa_grid", "check_pattern"]

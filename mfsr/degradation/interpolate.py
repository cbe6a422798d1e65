"""Single-frame interpolation on the HR grid with the model's sampling phase."""
from __future__ import annotations

import cv2
import numpy as np

from ..core.backend import get_array_module, to_device, to_numpy
from ..core.device_cache import device_constant
from ..core.validation import check_array, check_choice, check_float, check_int

_INTERP = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR,
           "bicubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}
REMAP_STEPS = 32  # cv2.remap's sub-pixel steps (1 << INTER_BITS)


def _probe_remap_rounds(interpolation, channels):
    """One remap on a ramp: at column 3.01 a rounded coordinate reads exactly 3."""
    ramp = np.tile(np.arange(8, dtype=np.float32), (8, 1))
    image = np.dstack([ramp] * channels) if channels > 1 else ramp
    x, y = np.full((1, 1), 3.01, np.float32), np.full((1, 1), 3.0, np.float32)
    out = cv2.remap(image, x, y, interpolation, borderMode=cv2.BORDER_REPLICATE)
    return float(np.reshape(out, -1)[0]) == 3.0


# probed at import (12 remaps of an 8x8 image), so that device runs, which must not call
# OpenCV, find the answer ready
_REMAP_ROUNDS = {(flag, c): _probe_remap_rounds(flag, c) for name, flag in _INTERP.items()
                 if name != "nearest" for c in (1, 2, 3, 4)}


def remap_rounds(interpolation, channels=1):
    """Whether ``cv2.remap`` quantises float32 map coordinates to 1/32 pixel
    (``INTER_BITS``) for float32 images of ``channels`` channels.

    OpenCV's own remap does; the IPP code that x86-64 wheels take for some cases (here:
    bilinear on 1 and 3 channels, bicubic on any, not bilinear on 2 channels nor
    Lanczos) interpolates at the exact coordinate. Probed on this machine's OpenCV, so
    that the device paths, which cannot call OpenCV, reproduce what the host path
    computes.

    Parameters
    ----------
    interpolation : int
        An OpenCV interpolation flag (``cv2.INTER_LINEAR``, ``cv2.INTER_CUBIC``,
        ``cv2.INTER_LANCZOS4``).
    channels : int
        Channels of the image remapped (1 to 4).

    Returns
    -------
    bool
    """
    key = (interpolation, channels)
    if key not in _REMAP_ROUNDS:
        _REMAP_ROUNDS[key] = _probe_remap_rounds(interpolation, channels)
    return _REMAP_ROUNDS[key]


def upsample(image, scale, phase=None, method="bicubic"):
    """Interpolate an LR image onto the HR grid, LR pixel ``i`` landing on ``s*i + phase``.

    With ``phase = (scale-1)/2`` (the default) this equals
    ``cv2.resize(image, None, fx=scale, fy=scale, interpolation=...)``.

    NumPy images go through ``cv2.remap`` (replicated border). Device (CuPy) images stay
    on the device: the same interpolation (OpenCV's kernels, its coordinate
    quantisation and replicated border) as two matrix products with the per-axis
    interpolation matrices, which are built once per size and kept on the device; the
    result matches ``cv2.remap`` to float32 rounding. Device images are not checked for
    NaN/Inf (that is a device-to-host sync per call; :func:`mfsr.reconstruct` checks its
    frames once); NaN or Inf there gives NaN output.

    Parameters
    ----------
    image : array, shape (h, w) or (h, w, C)
        ``C`` from 1 to 4 (what ``cv2.remap`` takes).
    scale : int
    phase : float, optional
        HR coordinate of LR pixel 0; default ``(scale-1)/2``.
    method : {"nearest", "bilinear", "bicubic", "lanczos"}

    Returns
    -------
    array, shape (s*h, s*w[, C]), same module and float dtype as ``image``
    """
    image = check_array(image, "image", ndim=(2, 3), finite="host")
    if min(image.shape[:2]) < 1 or not 1 <= (image.shape[2:] or (1,))[0] <= 4:  # cv2.remap's
        raise ValueError(f"image must have at least 1x1 pixels and 1 to 4 channels, got shape "
                         f"{tuple(image.shape)}")
    scale = check_int(scale, "scale", minimum=1)
    phase = (scale - 1) / 2 if phase is None else check_float(phase, "phase", minimum=0.0)
    check_choice(method, "interpolation method", tuple(_INTERP))
    xp = get_array_module(image)
    dtype = image.dtype if image.dtype.kind == "f" else np.float32
    if xp is not np:
        return _upsample_xp(image, scale, phase, method).astype(dtype, copy=False)
    img = to_numpy(image).astype(np.float32)
    h, w = img.shape[:2]
    my, mx = _axis_map(h, scale, phase), _axis_map(w, scale, phase)
    map_x = np.broadcast_to(mx[None, :], (scale * h, scale * w)).astype(np.float32)
    map_y = np.broadcast_to(my[:, None], (scale * h, scale * w)).astype(np.float32)
    out = cv2.remap(img, map_x, map_y, _INTERP[method], borderMode=cv2.BORDER_REPLICATE)
    if out.ndim < img.ndim:  # cv2 drops a single channel axis
        out = out[..., None]
    return to_device(out.astype(dtype), xp)


def _axis_map(n, scale, phase):
    """LR coordinate of each HR sample along an axis of ``n`` LR pixels (float32, as
    ``cv2.remap`` gets it)."""
    return (np.arange(scale * n, dtype=np.float32) - phase) / scale


def _coefficients(method, x):
    """OpenCV's interpolation coefficients (``imgwarp.cpp``: ``interpolateLinear``,
    ``interpolateCubic`` with A = -0.75, ``interpolateLanczos4``) at fractional
    positions ``x`` (float32, shape (n,)); returns (first tap offset, (n, taps))."""
    x = x.astype(np.float32)
    one = np.float32(1)
    if method == "nearest":
        return 0, np.ones((len(x), 1), np.float32)
    if method == "bilinear":
        return 0, np.stack([one - x, x], axis=1)
    if method == "bicubic":
        a = np.float32(-0.75)
        x1 = x + one
        c0 = ((a * x1 - 5 * a) * x1 + 8 * a) * x1 - 4 * a
        c1 = ((a + 2) * x - (a + 3)) * x * x + one
        y = one - x
        c2 = ((a + 2) * y - (a + 3)) * y * y + one
        c3 = one - c0 - c1 - c2
        return -1, np.stack([c0, c1, c2, c3], axis=1)
    # lanczos: 8 taps, sin/cos through the angle-addition table, normalised to sum 1
    s45 = 0.70710678118654752440084436210485
    cs = np.array([[1, 0], [-s45, -s45], [0, 1], [s45, -s45], [-1, 0], [s45, s45], [0, -1],
                   [-s45, s45]])
    y0 = -(x.astype(np.float64) + 3) * np.pi * 0.25
    s0, c0 = np.sin(y0), np.cos(y0)
    out = np.empty((len(x), 8), np.float32)
    for i in range(8):
        yi = (x + np.float32(3 - i)).astype(np.float32)
        y = -yi.astype(np.float64) * np.pi * 0.25
        with np.errstate(divide="ignore", invalid="ignore"):
            v = ((cs[i, 0] * s0 + cs[i, 1] * c0) / (y * y)).astype(np.float32)
        out[:, i] = np.where(np.abs(yi) >= np.float32(1e-6), v, np.float32(1e30))
    total = np.zeros(len(x), np.float32)
    for i in range(8):  # float32 running sum, in tap order
        total = (total + out[:, i]).astype(np.float32)
    return -3, out * (one / total)[:, None]


def _interpolation_matrix(n, scale, phase, method, channels):
    """``(scale * n, n)`` float32 matrix ``M``: ``M @ v`` is ``cv2.remap`` of the 1-D
    signal ``v`` at :func:`_axis_map`'s coordinates (quantised as OpenCV does, border
    replicated)."""
    m = _axis_map(n, scale, phase)
    if method == "nearest":  # nearest rounds the coordinate itself
        first = np.rint(m).astype(np.int64)
        offset, w = _coefficients(method, m)
    elif not remap_rounds(_INTERP[method], channels):
        first = np.floor(m).astype(np.int64)
        offset, w = _coefficients(method, (m - first).astype(np.float32))
    else:
        q = np.rint(m * np.float32(REMAP_STEPS)).astype(np.int64)  # cvRound, half to even
        first = q >> 5  # floor division by 32
        offset, w = _coefficients(method, ((q & (REMAP_STEPS - 1)) / np.float32(REMAP_STEPS)))
    rows = np.repeat(np.arange(len(m)), w.shape[1])
    cols = np.clip(first[:, None] + offset + np.arange(w.shape[1]), 0, n - 1).ravel()
    out = np.zeros((len(m), n), np.float32)
    np.add.at(out, (rows, cols), w.ravel())
    return out


def _upsample_xp(image, scale, phase, method):
    """:func:`upsample` written against the image's array module: ``My @ x @ Mx^T`` with
    the interpolation matrices of both axes (float32, cached on the device)."""
    xp = get_array_module(image)
    img = image.astype(xp.float32, copy=False)
    h, w = img.shape[:2]
    channels = 1 if img.ndim == 2 else img.shape[2]
    key = ("upsample", scale, float(phase), method, channels)

    def matrix(n):
        return _interpolation_matrix(n, scale, phase, method, channels)
    my = device_constant(key + (h,), lambda: matrix(h), xp)
    mx = device_constant(key + (w,), lambda: matrix(w), xp)
    if img.ndim == 2:
        return (my @ img) @ mx.T
    c = img.shape[2]
    rows = (my @ img.reshape(h, w * c)).reshape(scale * h, w, c)
    return mx @ rows  # (s*w, w) @ (s*h, w, C) -> (s*h, s*w, C)

"""Dense optical flow written once against ``xp``: runs on the GPU for CuPy arrays.

Pyramidal, iterative Lucas-Kanade with a Gaussian window (the dense "ILK" form of
Lucas & Kanade 1981, Bouguet 2000): at each pyramid level, coarse to fine, the reference
is warped by the current flow, the 2x2 structure tensor and the mismatch are averaged
over a Gaussian window, and the per-pixel least-squares update (with a small Tikhonov
term, so that flat areas keep the coarser estimate) is added; a median filter after
each update removes outliers. Every step is array code on ``xp`` plus
``scipy.ndimage`` / ``cupyx.scipy.ndimage``, so the same function runs on the CPU with
NumPy arrays (where the tests compare it with OpenCV's DIS) and on the GPU with CuPy
arrays, where registration never leaves the device.
"""
from __future__ import annotations

import math

import numpy as np

from .._validation import check_array, check_float, check_int
from ..backend import get_array_module, ndimage_module

# Central differences; the pyramid's anti-alias blur, in pixels of the finer level.
_DERIVATIVE = np.array([-0.5, 0.0, 0.5])
_PYRAMID_SIGMA = 1.0


def bilinear_sample(stack, cy, cx):
    """Sample images bilinearly at ``(cy, cx)``, coordinates clamped to the border.

    Parameters
    ----------
    stack : array, shape (C, h, w)
        Images sampled at the same positions.
    cy, cx : array, shape (H, W)
        Row and column coordinates (float) in pixels of ``stack``.

    Returns
    -------
    array, shape (C, H, W), dtype of ``stack``
    """
    xp = get_array_module(stack, cy)
    c, h, w = stack.shape
    cy = xp.clip(cy, 0, h - 1)
    cx = xp.clip(cx, 0, w - 1)
    y0 = xp.minimum(xp.floor(cy), max(h - 2, 0))
    x0 = xp.minimum(xp.floor(cx), max(w - 2, 0))
    fy = (cy - y0).astype(stack.dtype)
    fx = (cx - x0).astype(stack.dtype)
    i = (y0.astype(xp.int64) * w + x0.astype(xp.int64)).ravel()
    flat = stack.reshape(c, h * w)
    dx = 1 if w > 1 else 0
    dy = w if h > 1 else 0
    top = flat[:, i] + fx.ravel() * (flat[:, i + dx] - flat[:, i])
    bot = flat[:, i + dy] + fx.ravel() * (flat[:, i + dy + dx] - flat[:, i + dy])
    return (top + fy.ravel() * (bot - top)).reshape((c,) + cy.shape)


def _pyramid(image, levels, ndi):
    out = [image]
    for _ in range(levels - 1):
        out.append(ndi.gaussian_filter(out[-1], _PYRAMID_SIGMA, mode="nearest")[::2, ::2])
    return out[::-1]


def _upsample_flow(flow, shape, xp):
    """Bring a flow to the next finer level (twice the size, ``[::2]`` decimation)."""
    h, w = shape
    yy = (xp.arange(h, dtype=xp.float32) / 2)[:, None] + xp.zeros((1, w), xp.float32)
    xx = (xp.arange(w, dtype=xp.float32) / 2)[None, :] + xp.zeros((h, 1), xp.float32)
    return 2.0 * bilinear_sample(flow, yy, xx)


def _lk_level(frame, ref, flow, iterations, window, regularization, smooth, median, ndi, xp):
    """Refine ``flow`` (2, h, w) so that ``ref(p + flow(p)) ~ frame(p)``."""
    h, w = frame.shape
    yy = xp.arange(h, dtype=xp.float32)[:, None] + xp.zeros((1, w), xp.float32)
    xx = xp.arange(w, dtype=xp.float32)[None, :] + xp.zeros((h, 1), xp.float32)
    deriv = xp.asarray(_DERIVATIVE, dtype=xp.float32)
    # the reference and its gradient, sampled together at the warped positions
    ref_stack = xp.stack([ref, ndi.correlate1d(ref, deriv, axis=1, mode="nearest"),
                          ndi.correlate1d(ref, deriv, axis=0, mode="nearest")])
    fx = ndi.correlate1d(frame, deriv, axis=1, mode="nearest")
    fy = ndi.correlate1d(frame, deriv, axis=0, mode="nearest")
    for _ in range(iterations):
        warped, gx, gy = bilinear_sample(ref_stack, yy + flow[1], xx + flow[0])
        # symmetric gradient: mean of the frame's and the warped reference's
        gx = 0.5 * (gx + fx)
        gy = 0.5 * (gy + fy)
        it = warped - frame
        sums = ndi.gaussian_filter(xp.stack([gx * gx, gx * gy, gy * gy, gx * it, gy * it]),
                                   (0, window, window), mode="nearest")
        a11, a12, a22, b1, b2 = sums
        # (A + lam I) u_new = A u - b + lam * mean(u): the data where the window has
        # texture, the neighbours' flow where it has none
        mean = ndi.gaussian_filter(flow, (0, smooth, smooth), mode="nearest") if smooth \
            else flow
        r1 = a11 * flow[0] + a12 * flow[1] - b1 + regularization * mean[0]
        r2 = a12 * flow[0] + a22 * flow[1] - b2 + regularization * mean[1]
        a11 = a11 + regularization
        a22 = a22 + regularization
        det = a11 * a22 - a12 * a12
        flow = xp.stack([a22 * r1 - a12 * r2, a11 * r2 - a12 * r1]) / det
        if median:
            flow = ndi.median_filter(flow, size=(1, median, median), mode="nearest")
    return flow


def flow_lk(frame, reference, window=3.0, iterations=8, levels=None, min_size=12,
            regularization=3e-4, smooth=4.0, median=5):
    """Pyramidal iterative Lucas-Kanade flow on NumPy or CuPy arrays.

    Parameters
    ----------
    frame, reference : array, shape (h, w)
        Grey images in [0, 1] (NumPy or CuPy, same module and shape).
    window : float
        Standard deviation (pixels) of the Gaussian averaging window at every level.
    iterations : int
        Warp-and-update steps per level.
    levels : int, optional
        Pyramid levels (each halves the size); default: as many as keep the coarsest
        level at least ``min_size`` pixels on its short side, at most 6.
    min_size : int
        Smallest short side of the coarsest level when ``levels`` is None.
    regularization : float
        Added to the diagonal of the structure tensor (image units squared): where the
        window has no texture the update shrinks to 0 and the coarser flow is kept.
    median : int
        Side of the median filter applied to the flow after each update (0 or 1: none).

    Returns
    -------
    array, shape (h, w, 2), float32
        ``(dx, dy)`` in pixels with ``frame(p) ~ reference(p + flow(p))``, on the same
        array module as the input.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> rng = np.random.default_rng(0)
    >>> ref = ndimage.gaussian_filter(rng.random((64, 64)), 2).astype(np.float32)
    >>> frame = ndimage.shift(ref, (0.0, -1.5), order=3, mode="nearest")  # ref moved left
    >>> flow = flow_lk(frame, ref)
    >>> print(np.round(np.median(flow[16:-16, 16:-16], axis=(0, 1)), 2) + 0.0)
    [1.5 0. ]
    """
    frame = check_array(frame, "frame", ndim=2)
    reference = check_array(reference, "reference", ndim=2)
    if tuple(frame.shape) != tuple(reference.shape):
        raise ValueError(f"frame {tuple(frame.shape)} and reference {tuple(reference.shape)} "
                         "differ in shape")
    xp = get_array_module(frame, reference)
    if get_array_module(frame) is not get_array_module(reference):
        raise TypeError("frame and reference must be on the same device (both NumPy or "
                        "both CuPy)")
    window = check_float(window, "window", minimum=0.0, strict_min=True)
    iterations = check_int(iterations, "iterations", minimum=1)
    min_size = check_int(min_size, "min_size", minimum=2)
    regularization = check_float(regularization, "regularization", minimum=0.0,
                                 strict_min=True)
    median = check_int(median, "median", minimum=0)
    short = min(frame.shape)
    if levels is None:
        levels = max(1, min(6, 1 + math.floor(math.log2(max(short / min_size, 1.0)))))
    levels = check_int(levels, "levels", minimum=1)
    ndi = ndimage_module(xp)
    frames = _pyramid(frame.astype(xp.float32), levels, ndi)
    refs = _pyramid(reference.astype(xp.float32), levels, ndi)
    flow = xp.zeros((2,) + frames[0].shape, xp.float32)
    for k, (f, r) in enumerate(zip(frames, refs)):
        if k:
            flow = _upsample_flow(flow, f.shape, xp)
        flow = _lk_level(f, r, flow, iterations, window, regularization, smooth,
                         median if median > 1 else 0, ndi, xp)
    return xp.ascontiguousarray(xp.moveaxis(flow, 0, -1)).astype(xp.float32)


#: ``register`` may pass device (CuPy) arrays to this estimator.
flow_lk.device_arrays = True

"""Dense optical flow on NumPy or CuPy arrays, a handful of kernel calls per pyramid level.

Pyramidal, iterative Lucas-Kanade with a Gaussian window (the dense "ILK" form of
Lucas & Kanade 1981, Bouguet 2000): at each pyramid level, coarse to fine, the reference
is warped by the current flow, the 2x2 structure tensor and the mismatch are averaged
over a Gaussian window, and the per-pixel least-squares update (with a small Tikhonov
term, so that flat areas keep the smoothed neighbouring flow) is added; a median filter
after each update removes outliers. The work is done by the kernel set of the arrays
(:func:`mfsr.kernels.kernels_for`: ``lk_pyramid_down``, ``lk_upsample``, ``lk_level``,
CUDA kernels in ``mfsr/kernels/cuda/flow.cu`` for CuPy arrays, Numba or the NumPy
reference on the CPU) for a whole batch of image pairs at once (:func:`flow_lk_batch`):
registering K frames against a reference, forward and backward, costs a few kernel-set
calls per pyramid level, not a Python loop per frame and iteration, and device frames
never leave the device (no host sync, no OpenCV / SciPy).
"""
from __future__ import annotations

import math

from ..core.backend import get_array_module
from ..core.validation import check_array, check_float, check_int
from ..kernels import kernels_for
from ..kernels.common import LK_MAX_MEDIAN
from ..kernels.geometry import bilinear_sample  # noqa: F401 - also public here


def _levels(shape, levels, min_size):
    if levels is None:
        short = min(shape)
        levels = max(1, min(6, 1 + math.floor(math.log2(max(short / min_size, 1.0)))))
    return check_int(levels, "levels", minimum=1)


def flow_lk_batch(images, pairs, window=3.0, iterations=8, levels=None, min_size=12,
                  regularization=3e-4, smooth=4.0, median=5):
    """Pyramidal Lucas-Kanade flows of many image pairs at once (NumPy or CuPy).

    The same estimate as :func:`flow_lk` for each pair, computed for the whole batch by
    the arrays' kernel set: one ``lk_pyramid_down`` per coarser level for all images,
    then per level one ``lk_upsample`` and one ``lk_level`` (all iterations) for all
    pairs. Nothing is read back to the host.

    Parameters
    ----------
    images : array, shape (M, h, w)
        Grey images in [0, 1], float32 (other dtypes are converted).
    pairs : sequence of (int, int)
        ``(frame, reference)`` indices into ``images``; the flow of a pair satisfies
        ``images[frame](p) ~ images[reference](p + flow(p))``.
    window, iterations, levels, min_size, regularization, smooth, median
        As :func:`flow_lk`.

    Returns
    -------
    array, shape (len(pairs), h, w, 2), float32
        ``(dx, dy)`` per pair, on the array module of ``images``.
    """
    images = check_array(images, "images", ndim=3, finite="host")
    xp = get_array_module(images)
    pairs = [(int(f), int(r)) for f, r in pairs]
    if not pairs:
        raise ValueError("pairs must hold at least one (frame, reference) pair")
    m = images.shape[0]
    if any(not (0 <= f < m and 0 <= r < m) for f, r in pairs):
        raise ValueError(f"pairs must index the {m} images, got {pairs}")
    window = check_float(window, "window", minimum=0.0, strict_min=True)
    iterations = check_int(iterations, "iterations", minimum=1)
    min_size = check_int(min_size, "min_size", minimum=2)
    regularization = check_float(regularization, "regularization", minimum=0.0,
                                 strict_min=True)
    smooth = check_float(smooth, "smooth", minimum=0.0)
    median = check_int(median, "median", minimum=0)
    if median > LK_MAX_MEDIAN:
        raise ValueError(f"median must be <= {LK_MAX_MEDIAN}, got {median}")
    levels = _levels(images.shape[1:], levels, min_size)
    images = images.astype(xp.float32, copy=False)
    kernels = kernels_for(images)
    pyramid = [images]
    for _ in range(levels - 1):
        pyramid.append(kernels.lk_pyramid_down(pyramid[-1]))
    flows = None
    for level in reversed(pyramid):
        shape = tuple(int(v) for v in level.shape[1:])
        flows = xp.zeros((len(pairs),) + shape + (2,), xp.float32) if flows is None else \
            kernels.lk_upsample(flows, shape)
        flows = kernels.lk_level(level, pairs, flows, iterations, window, regularization,
                                 smooth, median if median > 1 else 0)
    return flows


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
        window has no texture the update follows the smoothed neighbouring flow.
    smooth : float
        Standard deviation (pixels) of the Gaussian that smooths the flow for that
        regularisation (0: the pixel's own flow).
    median : int
        Side of the median filter applied to the flow after each update (0 or 1: none;
        at most ``mfsr.kernels.reference.LK_MAX_MEDIAN`` = 9).

    Returns
    -------
    array, shape (h, w, 2), float32
        ``(dx, dy)`` in pixels with ``frame(p) ~ reference(p + flow(p))``, on the same
        array module as the input.

    Notes
    -----
    Non-finite values are rejected in NumPy input; CuPy input is not checked (that
    would read a flag back from the device).

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
    frame = check_array(frame, "frame", ndim=2, finite="host")
    reference = check_array(reference, "reference", ndim=2, finite="host")
    if tuple(frame.shape) != tuple(reference.shape):
        raise ValueError(f"frame {tuple(frame.shape)} and reference {tuple(reference.shape)} "
                         "differ in shape")
    xp = get_array_module(frame, reference)
    if get_array_module(frame) is not get_array_module(reference):
        raise TypeError("frame and reference must be on the same device (both NumPy or "
                        "both CuPy)")
    images = xp.stack([frame.astype(xp.float32, copy=False),
                       reference.astype(xp.float32, copy=False)])
    return flow_lk_batch(images, [(0, 1)], window, iterations, levels, min_size,
                         regularization, smooth, median)[0]


#: ``register`` may pass device (CuPy) arrays to this estimator.
flow_lk.device_arrays = True
#: ``register`` computes all forward and backward flows in one call of this.
flow_lk.batched = flow_lk_batch

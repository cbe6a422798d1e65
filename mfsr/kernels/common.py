"""What the kernel sets share: constants, argument checks and small helpers that
:mod:`mfsr.kernels.reference`, ``numba_kernels`` and ``cupy_kernels`` must agree on (the
penalty codes, the IRLS smoothness offsets, the robust scales' threshold, the merge's
constants, the Lucas-Kanade Gaussian taps and checks), and :func:`lk_level_loop`, the
iteration loop of ``lk_level`` that the compiled sets run over their own per-level
kernels. Host code only (NumPy); it imports no kernel set, so every set and the solvers
can import it.
"""
from __future__ import annotations

import numpy as np

#: Penalty codes of the compiled kernels (``MFSR_*`` codes in ``cuda/mfsr_common.cuh``).
PENALTIES = {"quadratic": 0, "charbonnier": 1, "huber": 2}


def pair_slices(offset, shape):
    """Slices ``(a, b)`` with ``x[a] = x(p + o)`` and ``x[b] = x(p)`` over valid ``p``."""
    dy, dx = offset
    H, W = shape

    def axis(d, n):
        return (slice(d, n), slice(0, n - d)) if d >= 0 else (slice(0, n + d), slice(-d, n))

    (ay, by), (ax, bx) = axis(dy, H), axis(dx, W)
    return (ay, ax), (by, bx)


def check_offsets(offsets, weights):
    """A pairwise prior's offsets as ``(int, int)`` pairs, after checking that there is one
    weight per offset."""
    offsets = [(int(dy), int(dx)) for dy, dx in offsets]
    if len(offsets) != len(weights):
        raise ValueError(f"offsets ({len(offsets)}) and weights ({len(weights)}) differ in length")
    return offsets


# ------------------------------------------------------- IRLS smoothness, fused CG steps

#: Neighbour offsets ``(dy, dx)`` of the IRLS smoothness term (4-neighbourhood and
#: diagonals, each pair once) and their weights (``1 / math.sqrt(2)`` on the diagonals).
SMOOTHNESS_OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1))
SMOOTHNESS_WEIGHTS = (1.0, 1.0, 0.7071067811865475, 0.7071067811865475)


def takes_smoothness(fast, v, alphas, base=None):
    """Whether a compiled set's smoothness kernels take ``v`` (H, W), ``alphas``
    (4, H, W) of ``v``'s dtype and ``base`` (none, or ``v``'s shape and dtype), ``fast``
    being the set's test of the arrays it takes."""
    return (fast(v, alphas) and v.ndim == 2 and alphas.dtype == v.dtype
            and tuple(alphas.shape) == (len(SMOOTHNESS_OFFSETS),) + tuple(v.shape)) and (
        base is None or (fast(base) and base.shape == v.shape and base.dtype == v.dtype))


def takes_flow_pair(fast, forward, backward):
    """Whether a compiled set's ``lk_confidence`` kernel takes the batch ``forward`` /
    ``backward``: both (N, h, w, 2) of one shape, ``fast`` being the set's test of the
    arrays it takes."""
    return (fast(forward) and forward.ndim == 4 and forward.shape == backward.shape
            and forward.shape[-1] == 2)


def on_host(*values):
    """True when every value is a Python number or a host (NumPy) scalar / array."""
    return all(isinstance(v, (int, float, np.ndarray, np.generic)) for v in values)


# ------------------------------------------------------------------- IRLS re-weighting

#: MAD to standard deviation (Gaussian) and the smallest robust scale.
IRLS_MAD = 1.4826
IRLS_FLOOR = 1e-4
#: Integer type of the sort keys of :func:`mfsr.kernels.reference.irls_residuals` per
#: residual dtype.
KEY_TYPES = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}


def irls_threshold(median, threshold, dtype, xp=np):
    """``threshold * max(1.4826 * median, 1e-4)`` in float64, then in ``dtype``: the
    number the weights are computed with (a 0-d array of ``xp``)."""
    scale = xp.maximum(xp.asarray(median).astype(xp.float64) * IRLS_MAD, IRLS_FLOOR)
    return xp.asarray(threshold * scale).astype(dtype)


# ---------------------------------------------------------------- kernel-regression merge

#: Gaussian weights with a Mahalanobis distance ``q`` above this are skipped (exp(-30)).
MERGE_CUTOFF = 60.0
#: A total weight at or below this counts as no weight (the nearest-sample fallback).
MERGE_TINY = 1e-30


def merge_constants(radius, dtype):
    """``[radius, 1, 1/2, 2, 3, cutoff, tiny, inf]`` in ``dtype``: the constants of
    :func:`mfsr.kernels.reference.kernel_merge`, shared by every kernel set."""
    return np.array([radius, 1.0, 0.5, 2.0, 3.0, MERGE_CUTOFF, MERGE_TINY, np.inf], dtype=dtype)


def check_merge_shapes(frames, flows, weights, icov, channel):
    """Check the arrays of a kernel merge against ``frames`` (K, h, w, L)."""
    K, h, w, _ = (int(v) for v in frames.shape)
    H, W = (int(v) for v in icov.shape[:2])
    if tuple(flows.shape) != (K, h, w, 2) or tuple(weights.shape) != (K, h, w) or \
            tuple(icov.shape) != (H, W, 3) or tuple(channel.shape) != (h, w):
        raise ValueError("flows (K, h, w, 2), weights (K, h, w), icov (H, W, 3) and channel "
                         "(h, w) must match frames (K, h, w, L)")


# ---------------------------------------------------- Lucas-Kanade flow (registration="gpu")

#: Largest side of ``lk_level``'s median window (the CUDA kernel sorts in registers).
LK_MAX_MEDIAN = 9
#: Standard deviation (px of the finer level) of ``lk_pyramid_down``'s anti-alias blur.
PYRAMID_SIGMA = 1.0


def gaussian_taps(sigma):
    """Normalised Gaussian taps (float64) as ``scipy.ndimage.gaussian_filter`` makes them
    (truncated at 4 sigma: radius ``int(4 sigma + 0.5)``); ``[1.0]`` for radius 0."""
    radius = int(4.0 * float(sigma) + 0.5)
    if radius == 0:
        return np.ones(1)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (float(sigma) * float(sigma)) * x * x)
    return phi / phi.sum()


def lk_check(images, pairs, flows, median):
    """Shared argument checks of ``lk_level``; the pairs as two tuples of ints."""
    if images.ndim != 3 or flows.ndim != 4 or flows.shape[-1] != 2:
        raise ValueError(f"images must be (M, h, w) and flows (N, h, w, 2), got "
                         f"{tuple(images.shape)} and {tuple(flows.shape)}")
    pairs = [(int(f), int(r)) for f, r in pairs]
    m = images.shape[0]
    if len(pairs) != flows.shape[0] or tuple(flows.shape[1:3]) != tuple(images.shape[1:]):
        raise ValueError(f"flows {tuple(flows.shape)} must hold one (h, w, 2) flow per pair "
                         f"({len(pairs)}) of images {tuple(images.shape)}")
    if any(not (0 <= f < m and 0 <= r < m) for f, r in pairs):
        raise ValueError(f"pair indices must be in [0, {m})")
    if not 0 <= int(median) <= LK_MAX_MEDIAN:
        raise ValueError(f"median must be in [0, {LK_MAX_MEDIAN}], got {median}")
    return tuple(f for f, _ in pairs), tuple(r for _, r in pairs)


def lk_level_loop(xp, level_kernels, images, pairs, flows, iterations, window,
                  regularization, smooth, median):
    """``lk_level`` of a compiled kernel set: the checks, the buffers and the iterations,
    each step one call of the set's per-level kernels.

    Parameters
    ----------
    xp : module
        The set's array module (``numpy`` or ``cupy``): the buffers are its arrays.
    level_kernels : callable
        ``level_kernels(images, fi, ri, wa, ws, regularization)``, called once per level
        (``fi``, ``ri``: the pairs' frame and reference indices, tuples of ints; ``wa``,
        ``ws``: the Gaussian taps of the window and of the flow smoothing, float64 NumPy
        arrays), returns an object with the set's kernels ``gradients(images, out)``
        (``out`` (M, 3, h, w)), ``products(grads, flows, out)`` (``out`` (N, 5, h, w)),
        ``vertical(products, flows, out)`` (``out`` (N, 7, h, w)), ``solve(vert, flows,
        out)`` and ``median(flows, m, out)`` (``out`` (N, h, w, 2)).
    images, pairs, flows, iterations, window, regularization, smooth, median
        As for :func:`mfsr.kernels.reference.lk_level`.

    Returns
    -------
    array (N, h, w, 2) of ``images``' dtype, of ``xp``
        A new array (never ``flows`` itself).
    """
    fi, ri = lk_check(images, pairs, flows, median)
    T = images.dtype
    images = xp.ascontiguousarray(images)
    M, h, w = (int(v) for v in images.shape)
    N = len(fi)
    steps = level_kernels(images, fi, ri, gaussian_taps(window), gaussian_taps(smooth),
                          regularization)
    grads = xp.empty((M, 3, h, w), dtype=T)
    steps.gradients(images, grads)
    products = xp.empty((N, 5, h, w), dtype=T)
    vert = xp.empty((N, 7, h, w), dtype=T)
    cur = xp.ascontiguousarray(flows, dtype=T)
    spare = [xp.empty((N, h, w, 2), dtype=T), xp.empty((N, h, w, 2), dtype=T)]
    for _ in range(int(iterations)):
        steps.products(grads, cur, products)
        steps.vertical(products, cur, vert)
        new = spare[0] if cur is not spare[0] else spare[1]
        steps.solve(vert, cur, new)
        if median > 1:
            other = spare[1] if new is spare[0] else spare[0]
            steps.median(new, int(median), other)
            new = other
        cur = new
    return cur if cur is not flows else cur.copy()

"""CuPy Lucas-Kanade flow (``registration="gpu"``): the pyramid steps
(:func:`lk_pyramid_down`, :func:`lk_upsample`), the iterations of one level for a batch
of pairs, four launches per iteration (:func:`lk_level`), and the forward-backward
confidence (:func:`lk_confidence`); ``cuda/flow.cu``, see
:mod:`mfsr.kernels.reference.flow`.
"""
from __future__ import annotations

import cupy as cp
import numpy as np

from .. import reference
from ..common import PYRAMID_SIGMA, gaussian_taps, lk_check
from .common import device_values, fast, kernel, launch


def lk_pyramid_down(images):
    """One pyramid step of a stack; see :func:`mfsr.kernels.reference.lk_pyramid_down`."""
    if not fast(images) or images.ndim != 3:
        return reference.lk_pyramid_down(images)
    images = cp.ascontiguousarray(images)
    M, h, w = (int(v) for v in images.shape)
    ho, wo = (h + 1) // 2, (w + 1) // 2
    taps = gaussian_taps(PYRAMID_SIGMA)
    out = cp.empty((M, ho, wo), dtype=images.dtype)
    launch(kernel("lk_pyramid_down", images.dtype), out.size,
            (images, device_values(taps, np.float64), np.int32(len(taps) // 2),
             np.int64(h), np.int64(w), np.int64(ho), np.int64(wo), np.int64(out.size), out))
    return out


def lk_upsample(flows, shape):
    """Flows to the next finer level; see :func:`mfsr.kernels.reference.lk_upsample`."""
    if not fast(flows) or flows.ndim != 4 or flows.shape[-1] != 2:
        return reference.lk_upsample(flows, shape)
    flows = cp.ascontiguousarray(flows)
    N, h, w = (int(v) for v in flows.shape[:3])
    H, W = (int(v) for v in shape)
    out = cp.empty((N, H, W, 2), dtype=flows.dtype)
    launch(kernel("lk_upsample", flows.dtype), out.size,
            (flows, np.int64(h), np.int64(w), np.int64(H), np.int64(W), np.int64(out.size),
             out))
    return out


def lk_level(images, pairs, flows, iterations, window, regularization, smooth, median):
    """All Lucas-Kanade iterations of one pyramid level for a batch of pairs, four
    launches per iteration (products, row sums, column sums + solve, median); see
    :func:`mfsr.kernels.reference.lk_level`."""
    if not fast(images, flows):
        return reference.lk_level(images, pairs, flows, iterations, window, regularization,
                                  smooth, median)
    fi, ri = lk_check(images, pairs, flows, median)
    T = images.dtype
    images = cp.ascontiguousarray(images)
    M, h, w = (int(v) for v in images.shape)
    N = len(fi)
    fi, ri = device_values(fi, np.int64), device_values(ri, np.int64)
    wa, ws = gaussian_taps(window), gaussian_taps(smooth)
    taps = (device_values(wa, np.float64), np.int32(len(wa) // 2),
            device_values(ws, np.float64), np.int32(len(ws) // 2))
    dims = (np.int64(h), np.int64(w))
    grads = cp.empty((M, 3, h, w), dtype=T)
    launch(kernel("lk_gradients", T), M * h * w, (images, *dims, np.int64(M * h * w), grads))
    products = cp.empty((N, 5, h, w), dtype=T)
    vert = cp.empty((N, 7, h, w), dtype=T)
    cur = cp.ascontiguousarray(flows, dtype=T)
    spare = [cp.empty((N, h, w, 2), dtype=T), cp.empty((N, h, w, 2), dtype=T)]
    n = N * h * w
    for _ in range(int(iterations)):
        launch(kernel("lk_products", T), n, (grads, fi, ri, cur, *dims, np.int64(n), products))
        launch(kernel("lk_vertical", T), 7 * n,
                (products, cur, *taps, *dims, np.int64(7 * n), vert))
        new = spare[0] if cur is not spare[0] else spare[1]
        launch(kernel("lk_solve", T), n,
                (vert, cur, *taps, np.float64(regularization), *dims, np.int64(n), new))
        if median > 1:
            other = spare[1] if new is spare[0] else spare[0]
            launch(kernel("lk_median", T), 2 * n,
                    (new, np.int32(median), *dims, np.int64(2 * n), other))
            new = other
        cur = new
    return cur if cur is not flows else cur.copy()


def lk_confidence(forward, backward, tolerance):
    """Forward-backward consistency of a batch; see
    :func:`mfsr.kernels.reference.lk_confidence`."""
    if not fast(forward) or forward.ndim != 4 or forward.shape != backward.shape or \
            forward.shape[-1] != 2:
        return reference.lk_confidence(forward, backward, tolerance)
    forward = cp.ascontiguousarray(forward)
    backward = cp.ascontiguousarray(backward, dtype=forward.dtype)
    N, h, w = (int(v) for v in forward.shape[:3])
    out = cp.empty((N, h, w), dtype=forward.dtype)
    launch(kernel("lk_confidence", forward.dtype), out.size,
            (forward, backward, np.float64(tolerance), np.int64(h), np.int64(w),
             np.int64(out.size), out))
    return out

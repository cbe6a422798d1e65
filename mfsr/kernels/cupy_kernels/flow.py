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
from ..common import PYRAMID_SIGMA, gaussian_taps, lk_level_loop, takes_flow_pair
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


class _LevelKernels:
    """The kernels of one pyramid level, four launches per iteration (products, row
    sums, column sums + solve, median), with the pairs, taps and sizes on the device
    (:func:`mfsr.kernels.common.lk_level_loop`)."""

    def __init__(self, images, fi, ri, wa, ws, regularization):
        self.T = images.dtype
        h, w = (int(v) for v in images.shape[1:])
        self.fi, self.ri = device_values(fi, np.int64), device_values(ri, np.int64)
        self.taps = (device_values(wa, np.float64), np.int32(len(wa) // 2),
                     device_values(ws, np.float64), np.int32(len(ws) // 2))
        self.dims = (np.int64(h), np.int64(w))
        self.n = len(fi) * h * w
        self.regularization = regularization

    def gradients(self, images, out):
        m = images.size
        launch(kernel("lk_gradients", self.T), m, (images, *self.dims, np.int64(m), out))

    def products(self, grads, flows, out):
        n = self.n
        launch(kernel("lk_products", self.T), n,
               (grads, self.fi, self.ri, flows, *self.dims, np.int64(n), out))

    def vertical(self, products, flows, out):
        n = 7 * self.n
        launch(kernel("lk_vertical", self.T), n,
               (products, flows, *self.taps, *self.dims, np.int64(n), out))

    def solve(self, vert, flows, out):
        n = self.n
        launch(kernel("lk_solve", self.T), n,
               (vert, flows, *self.taps, np.float64(self.regularization), *self.dims,
                np.int64(n), out))

    def median(self, flows, m, out):
        n = 2 * self.n
        launch(kernel("lk_median", self.T), n,
               (flows, np.int32(m), *self.dims, np.int64(n), out))


def lk_level(images, pairs, flows, iterations, window, regularization, smooth, median):
    """All Lucas-Kanade iterations of one pyramid level for a batch of pairs, four
    launches per iteration (products, row sums, column sums + solve, median; the loop of
    :func:`mfsr.kernels.common.lk_level_loop`); see
    :func:`mfsr.kernels.reference.lk_level`."""
    if not fast(images, flows):
        return reference.lk_level(images, pairs, flows, iterations, window, regularization,
                                  smooth, median)
    return lk_level_loop(cp, _LevelKernels, images, pairs, flows, iterations, window,
                         regularization, smooth, median)


def lk_confidence(forward, backward, tolerance):
    """Forward-backward consistency of a batch; see
    :func:`mfsr.kernels.reference.lk_confidence`."""
    if not takes_flow_pair(fast, forward, backward):
        return reference.lk_confidence(forward, backward, tolerance)
    forward = cp.ascontiguousarray(forward)
    backward = cp.ascontiguousarray(backward, dtype=forward.dtype)
    N, h, w = (int(v) for v in forward.shape[:3])
    out = cp.empty((N, h, w), dtype=forward.dtype)
    launch(kernel("lk_confidence", forward.dtype), out.size,
           (forward, backward, np.float64(tolerance), np.int64(h), np.int64(w),
            np.int64(out.size), out))
    return out

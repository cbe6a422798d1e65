"""Numba Lucas-Kanade flow (``registration="gpu"`` on the CPU): the pyramid steps
(:func:`lk_pyramid_down`, :func:`lk_upsample`), the iterations of one level for a batch
of pairs (:func:`lk_level`) and the forward-backward confidence
(:func:`lk_confidence`); see :mod:`mfsr.kernels.reference.flow`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import reference
from ..common import PYRAMID_SIGMA, gaussian_taps, lk_level_loop, takes_flow_pair
from .common import PAR, fast

# The same arithmetic as the reference (mfsr.kernels.reference.lk_level and helpers): the
# samples and products in the dtype, the window sums and the 2x2 solve in float64, rounded
# to the dtype where the reference rounds. ``c`` holds the dtype's constants
# (0.5, 2, 0) so that scalar arithmetic stays in float32 for float32 images.

@njit(inline="always")
def _lk_axis_at(c, top, last):
    """Clamped coordinate -> (first index, fraction); ``top`` = max(n - 2, 0), ``last`` =
    n - 1 (both in the dtype)."""
    c = min(max(c, last - last), last)  # (last - last: a zero of the dtype)
    i0 = min(np.floor(c), top)
    return int(i0), c - i0


@njit(inline="always")
def _lk_bilerp_at(x, i, dx, dy, fy, fx):
    top = x[i] + fx * (x[i + dx] - x[i])
    bot = x[i + dy] + fx * (x[i + dy + dx] - x[i + dy])
    return top + fy * (bot - top)


@njit(inline="always")
def _lk_flow_at(flows, n, i0, j0, dy, dx, d, fy, fx):
    """Component ``d`` of flow ``n`` sampled bilinearly at (i0 + fy, j0 + fx)."""
    a, b = flows[n, i0, j0, d], flows[n, i0, j0 + dx, d]
    c, e = flows[n, i0 + dy, j0, d], flows[n, i0 + dy, j0 + dx, d]
    top = a + fx * (b - a)
    bot = c + fx * (e - c)
    return top + fy * (bot - top)


@njit(**PAR)
def _lk_gradients_nb(images, c, out):
    M, h, w = images.shape
    half = c[0]
    for mi in prange(M * h):
        m, i = mi // h, mi % h
        ip, im = min(i + 1, h - 1), max(i - 1, 0)
        for j in range(w):
            out[m, 0, i, j] = images[m, i, j]
            out[m, 1, i, j] = half * (images[m, i, min(j + 1, w - 1)] -
                                      images[m, i, max(j - 1, 0)])
            out[m, 2, i, j] = half * (images[m, ip, j] - images[m, im, j])


@njit(**PAR)
def _lk_products_nb(grads, fi, ri, flows, ys, xs, c, out):
    N, h, w = flows.shape[:3]
    half = c[0]
    dx = 1 if w > 1 else 0
    dy = w if h > 1 else 0
    for ni in prange(N * h):
        n, i = ni // h, ni % h
        f, r = fi[n], ri[n]
        g0 = grads[r, 0].ravel()
        g1 = grads[r, 1].ravel()
        g2 = grads[r, 2].ravel()
        for j in range(w):
            i0, fy = _lk_axis_at(ys[i] + flows[n, i, j, 1], ys[max(h - 2, 0)], ys[h - 1])
            j0, fx = _lk_axis_at(xs[j] + flows[n, i, j, 0], xs[max(w - 2, 0)], xs[w - 1])
            k = i0 * w + j0
            v0 = _lk_bilerp_at(g0, k, dx, dy, fy, fx)
            v1 = _lk_bilerp_at(g1, k, dx, dy, fy, fx)
            v2 = _lk_bilerp_at(g2, k, dx, dy, fy, fx)
            gx = half * (v1 + grads[f, 1, i, j])
            gy = half * (v2 + grads[f, 2, i, j])
            it = v0 - grads[f, 0, i, j]
            out[n, 0, i, j] = gx * gx
            out[n, 1, i, j] = gx * gy
            out[n, 2, i, j] = gy * gy
            out[n, 3, i, j] = gx * it
            out[n, 4, i, j] = gy * it


@njit(**PAR)
def _lk_vertical_nb(products, flows, wa, ws, out):
    """out[n, 0:5] = products summed over rows by ``wa``; out[n, 5:7] = the flow's
    components summed by ``ws`` (float64 sums in tap order, rounded to the dtype; the
    loop over a row is innermost so that it vectorises)."""
    N, h, w = flows.shape[:3]
    ra, rs = len(wa) // 2, len(ws) // 2
    for ni in prange(N * h):
        n, i = ni // h, ni % h
        acc = np.empty(w)
        for ch in range(7):
            acc[:] = 0.0
            if ch < 5:
                for t in range(len(wa)):
                    src = products[n, ch, min(max(i + t - ra, 0), h - 1)]
                    wt = wa[t]
                    for j in range(w):
                        acc[j] += wt * src[j]
            else:
                for t in range(len(ws)):
                    src = flows[n, min(max(i + t - rs, 0), h - 1)]
                    wt = ws[t]
                    for j in range(w):
                        acc[j] += wt * src[j, ch - 5]
            for j in range(w):
                out[n, ch, i, j] = acc[j]


@njit(inline="always")
def _lk_row_sum(src, taps, acc, dst):
    """dst[j] = sum_t taps[t] src[clamp(j + t - r)] (float64 in tap order, rounded to
    dst's dtype)."""
    w = len(src)
    r = len(taps) // 2
    acc[:] = 0.0
    for t in range(len(taps)):
        wt = taps[t]
        lo = min(max(r - t, 0), w)       # j + t - r < 0 for j < lo
        hi = max(min(w + r - t, w), lo)  # j + t - r > w - 1 for j >= hi
        for j in range(lo):
            acc[j] += wt * src[0]
        for j in range(lo, hi):
            acc[j] += wt * src[j + t - r]
        for j in range(hi, w):
            acc[j] += wt * src[w - 1]
    for j in range(w):
        dst[j] = acc[j]


@njit(**PAR)
def _lk_solve_nb(vert, flows, wa, ws, lam, out):
    N, h, w = flows.shape[:3]
    for ni in prange(N * h):
        n, i = ni // h, ni % h
        acc = np.empty(w)
        s = np.empty((7, w), vert.dtype)  # the window sums, rounded to the dtype
        for ch in range(7):
            _lk_row_sum(vert[n, ch, i], wa if ch < 5 else ws, acc, s[ch])
        for j in range(w):
            a11, a12, a22 = float(s[0, j]), float(s[1, j]), float(s[2, j])
            b1, b2, m0, m1 = float(s[3, j]), float(s[4, j]), float(s[5, j]), float(s[6, j])
            f0, f1 = float(flows[n, i, j, 0]), float(flows[n, i, j, 1])
            r1 = a11 * f0 + a12 * f1 - b1 + lam * m0
            r2 = a12 * f0 + a22 * f1 - b2 + lam * m1
            a11 = a11 + lam
            a22 = a22 + lam
            det = a11 * a22 - a12 * a12
            out[n, i, j, 0] = (a22 * r1 - a12 * r2) / det
            out[n, i, j, 1] = (a11 * r2 - a12 * r1) / det


@njit(inline="always")
def _kth_smallest(a, n, k):
    """The k-th smallest of a[:n] (Wirth's selection, in place): the value of element
    k of the sorted window, whatever the algorithm, so the same as flow.cu's sort."""
    lo, hi = 0, n - 1
    while lo < hi:
        x = a[k]
        i, j = lo, hi
        while True:
            while a[i] < x:
                i += 1
            while x < a[j]:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
            if i > j:
                break
        if j < k:
            lo = i
        if k < i:
            hi = j
    return a[k]


@njit(**PAR)
def _lk_median_nb(flows, m, out):
    N, h, w = flows.shape[:3]
    lo = -(m // 2)
    rank = (m * m) // 2
    for ni in prange(N * h):
        n, i = ni // h, ni % h
        vals = np.empty(m * m, flows.dtype)
        for j in range(w):
            for d in range(2):
                k = 0
                for a in range(m):
                    ii = min(max(i + lo + a, 0), h - 1)
                    for b in range(m):
                        vals[k] = flows[n, ii, min(max(j + lo + b, 0), w - 1), d]
                        k += 1
                out[n, i, j, d] = _kth_smallest(vals, m * m, rank)


@njit(**PAR)
def _lk_pyramid_down_nb(images, taps, out):
    M, h, w = images.shape
    ho, wo = out.shape[1:]
    r = len(taps) // 2
    for mi in prange(M * ho):
        m, io = mi // ho, mi % ho
        i = 2 * io
        row = np.empty(w, images.dtype)  # the vertical pass at row i, rounded
        for j in range(w):
            acc = 0.0
            for t in range(len(taps)):
                acc += taps[t] * images[m, min(max(i + t - r, 0), h - 1), j]
            row[j] = acc
        for jo in range(wo):
            acc = 0.0
            for t in range(len(taps)):
                acc += taps[t] * row[min(max(2 * jo + t - r, 0), w - 1)]
            out[m, io, jo] = acc


@njit(**PAR)
def _lk_upsample_nb(flows, ys, xs, c, out):
    N, h, w = flows.shape[:3]
    H, W = out.shape[1:3]
    two = c[1]
    dx = 1 if w > 1 else 0
    dy = 1 if h > 1 else 0
    for nP in prange(N * H):
        n, P = nP // H, nP % H
        i0, fy = _lk_axis_at(ys[P] / two, ys[max(h - 2, 0)], ys[h - 1])
        for Q in range(W):
            j0, fx = _lk_axis_at(xs[Q] / two, xs[max(w - 2, 0)], xs[w - 1])
            for d in range(2):
                out[n, P, Q, d] = two * _lk_flow_at(flows, n, i0, j0, dy, dx, d, fy, fx)


@njit(**PAR)
def _lk_confidence_nb(forward, backward, ys, xs, tol, out):
    N, h, w = forward.shape[:3]
    dx = 1 if w > 1 else 0
    dy = 1 if h > 1 else 0
    for ni in prange(N * h):
        n, i = ni // h, ni % h
        for j in range(w):
            f0, f1 = forward[n, i, j, 0], forward[n, i, j, 1]
            i0, fy = _lk_axis_at(ys[i] + f1, ys[max(h - 2, 0)], ys[h - 1])
            j0, fx = _lk_axis_at(xs[j] + f0, xs[max(w - 2, 0)], xs[w - 1])
            e0 = f0 + _lk_flow_at(backward, n, i0, j0, dy, dx, 0, fy, fx)
            e1 = f1 + _lk_flow_at(backward, n, i0, j0, dy, dx, 1, fy, fx)
            tx = j + float(f0)
            ty = i + float(f1)
            if tx >= -0.5 and tx <= w - 0.5 and ty >= -0.5 and ty <= h - 0.5:
                out[n, i, j] = np.exp(-0.5 * (float(e0) * e0 + float(e1) * e1) / (tol * tol))
            else:
                out[n, i, j] = 0.0


def _lk_consts(h, w, dtype):
    T = np.dtype(dtype).type
    return (np.arange(h, dtype=dtype), np.arange(w, dtype=dtype),
            np.array([0.5, 2.0, 0.0], dtype=dtype), T)


def lk_pyramid_down(images):
    """One pyramid step of a stack; see :func:`mfsr.kernels.reference.lk_pyramid_down`."""
    if not fast(images) or images.ndim != 3:
        return reference.lk_pyramid_down(images)
    images = np.ascontiguousarray(images)
    M, h, w = images.shape
    out = np.empty((M, (h + 1) // 2, (w + 1) // 2), images.dtype)
    _lk_pyramid_down_nb(images, gaussian_taps(PYRAMID_SIGMA), out)
    return out


def lk_upsample(flows, shape):
    """Flows to the next finer level; see :func:`mfsr.kernels.reference.lk_upsample`."""
    if not fast(flows) or flows.ndim != 4 or flows.shape[-1] != 2:
        return reference.lk_upsample(flows, shape)
    flows = np.ascontiguousarray(flows)
    H, W = (int(v) for v in shape)
    N, h, w = flows.shape[:3]
    ys, xs, c, _ = _lk_consts(max(h, H), max(w, W), flows.dtype)
    out = np.empty((N, H, W, 2), flows.dtype)
    _lk_upsample_nb(flows, ys[:max(h, H)], xs[:max(w, W)], c, out)
    return out


class _LevelKernels:
    """The kernels of one pyramid level, with its constants bound
    (:func:`mfsr.kernels.common.lk_level_loop`)."""

    def __init__(self, images, fi, ri, wa, ws, regularization):
        h, w = images.shape[1:]
        self.ys, self.xs, self.c, _ = _lk_consts(h, w, images.dtype)
        self.fi, self.ri = np.array(fi, np.int64), np.array(ri, np.int64)
        self.wa, self.ws = wa, ws
        self.lam = float(regularization)

    def gradients(self, images, out):
        _lk_gradients_nb(images, self.c, out)

    def products(self, grads, flows, out):
        _lk_products_nb(grads, self.fi, self.ri, flows, self.ys, self.xs, self.c, out)

    def vertical(self, products, flows, out):
        _lk_vertical_nb(products, flows, self.wa, self.ws, out)

    def solve(self, vert, flows, out):
        _lk_solve_nb(vert, flows, self.wa, self.ws, self.lam, out)

    def median(self, flows, m, out):
        _lk_median_nb(flows, m, out)


def lk_level(images, pairs, flows, iterations, window, regularization, smooth, median):
    """All Lucas-Kanade iterations of one pyramid level for a batch of pairs (the loop of
    :func:`mfsr.kernels.common.lk_level_loop` over this set's kernels); see
    :func:`mfsr.kernels.reference.lk_level`."""
    if not fast(images, flows):
        return reference.lk_level(images, pairs, flows, iterations, window, regularization,
                                  smooth, median)
    return lk_level_loop(np, _LevelKernels, images, pairs, flows, iterations, window,
                         regularization, smooth, median)


def lk_confidence(forward, backward, tolerance):
    """Forward-backward consistency of a batch; see
    :func:`mfsr.kernels.reference.lk_confidence`."""
    if not takes_flow_pair(fast, forward, backward):
        return reference.lk_confidence(forward, backward, tolerance)
    forward = np.ascontiguousarray(forward)
    backward = np.ascontiguousarray(backward, dtype=forward.dtype)
    N, h, w = forward.shape[:3]
    ys, xs, _, _ = _lk_consts(h, w, forward.dtype)
    out = np.empty((N, h, w), forward.dtype)
    _lk_confidence_nb(forward, backward, ys, xs, float(tolerance), out)
    return out

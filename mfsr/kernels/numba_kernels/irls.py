"""Numba IRLS kernels: the adaptive smoothness prior as a gather per pixel, the
conjugate-gradient steps on host scalars, and the re-weighting with its medians by radix
selection; see :mod:`mfsr.kernels.reference.irls`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import reference
from ..common import (SMOOTHNESS_OFFSETS, SMOOTHNESS_WEIGHTS, irls_threshold, on_host,
                      takes_smoothness)
from .common import PAR, check_numpy_out, fast, threads, workspace
from .vector import axpby, axpy

# ------------------------------------------------------- IRLS smoothness, fused CG steps
#
# Gather form, parallel over rows: each pixel takes its terms of the pairs it belongs to,
# in the order of the reference (per offset: far end, then base).

_SMOOTH_DY = np.array([o[0] for o in SMOOTHNESS_OFFSETS], np.int64)
_SMOOTH_DX = np.array([o[1] for o in SMOOTHNESS_OFFSETS], np.int64)


@njit(inline="always")
def _far_terms(g, a, vq, vb, w):
    for c in range(g.size):
        g[c] += (a[c] * (vq[c] - vb[c])) * w


@njit(inline="always")
def _base_terms(g, a, vf, vq, w):
    for c in range(g.size):
        g[c] -= (a[c] * (vf[c] - vq[c])) * w


@njit(**PAR)
def _weighted_smoothness(v, alphas, dys, dxs, ws, base, has_base, out):
    # Row by row, each offset's terms over the columns where they exist (no bounds test
    # per pixel, so the loops vectorise); per pixel the terms are still added in the
    # reference's order (per offset: far end, then base), so the result is the same.
    H, W = v.shape
    for r in prange(H):
        g = np.zeros(W, v.dtype)
        vr = v[r]
        for o in range(dys.size):
            dy, dx, w = dys[o], dxs[o], ws[o]
            c0, c1 = max(dx, 0), min(W + dx, W)  # pair (q - o, q): q is its far end
            ry = r - dy
            if 0 <= ry < H:
                _far_terms(g[c0:c1], alphas[o, ry, c0 - dx:c1 - dx], vr[c0:c1],
                           v[ry, c0 - dx:c1 - dx], w)
            c0, c1 = max(-dx, 0), min(W - dx, W)  # pair (q, q + o): q is its base
            ry = r + dy
            if 0 <= ry < H:
                _base_terms(g[c0:c1], alphas[o, r, c0:c1], v[ry, c0 + dx:c1 + dx], vr[c0:c1], w)
        dst = out[r]
        if has_base:
            b = base[r]
            for c in range(W):
                dst[c] = b[c] + g[c]
        else:
            for c in range(W):
                dst[c] = g[c]


@njit(**PAR)
def _weighted_smoothness_value(v, alphas, dys, dxs, ws, rows):
    H, W = v.shape
    for r in prange(H):
        acc = 0.0
        for c in range(W):
            t = 0.0
            for o in range(dys.size):
                ry, cx = r + dys[o], c + dxs[o]
                if 0 <= ry < H and 0 <= cx < W:
                    d = np.float64(v[ry, cx] - v[r, c])
                    t += ws[o] * (np.float64(alphas[o, r, c]) * (d * d))
            acc += 0.5 * t
        rows[r] = acc


@njit(**PAR)
def _smoothness_differences(x, dys, dxs, inf, out):
    H, W = x.shape
    for r in prange(H):
        for o in range(dys.size):
            ry, dx = r + dys[o], dxs[o]
            dst = out[o, r]
            c0, c1 = (max(-dx, 0), min(W - dx, W)) if 0 <= ry < H else (0, 0)
            for c in range(c0):
                dst[c] = inf
            if c1 > c0:
                _abs_differences(dst[c0:c1], x[ry, c0 + dx:c1 + dx], x[r, c0:c1])
            for c in range(max(c1, c0), W):
                dst[c] = inf


@njit(inline="always")
def _abs_differences(dst, a, b):
    for c in range(dst.size):
        dst[c] = abs(a[c] - b[c])


def smoothness_differences(x, out=None):
    """``|x(p + o) - x(p)|`` per offset, ``inf`` outside; see
    :func:`mfsr.kernels.reference.smoothness_differences`."""
    if not fast(x) or x.ndim != 2:
        return reference.smoothness_differences(x, out)
    x = np.ascontiguousarray(x)
    shape = (_SMOOTH_DY.size,) + x.shape
    d = np.empty(shape, x.dtype) if out is None else check_numpy_out(out, shape, x.dtype)
    _smoothness_differences(x, _SMOOTH_DY, _SMOOTH_DX, x.dtype.type(np.inf), d)
    return d


def weighted_smoothness(v, alphas, out=None, base=None):
    """``base + sum_o w_o D_o^T (alphas[o] D_o v)``, a gather per pixel; see
    :func:`mfsr.kernels.reference.weighted_smoothness`."""
    if not takes_smoothness(fast, v, alphas, base):
        return reference.weighted_smoothness(v, alphas, out, base)
    v, alphas = np.ascontiguousarray(v), np.ascontiguousarray(alphas)
    ws = np.asarray(SMOOTHNESS_WEIGHTS, np.float64).astype(v.dtype)
    g = np.empty_like(v) if out is None else check_numpy_out(out, v.shape, v.dtype)
    _weighted_smoothness(v, alphas, _SMOOTH_DY, _SMOOTH_DX, ws,
                         v if base is None else base, base is not None, g)
    return g


def weighted_smoothness_value(v, alphas):
    """``1/2 sum_o w_o sum alphas[o] (D_o v)^2`` as a 0-d float64 array (summed per row);
    see :func:`mfsr.kernels.reference.weighted_smoothness_value`."""
    if not takes_smoothness(fast, v, alphas):
        return reference.weighted_smoothness_value(v, alphas)
    v, alphas = np.ascontiguousarray(v), np.ascontiguousarray(alphas)
    rows = np.empty(v.shape[0])
    _weighted_smoothness_value(v, alphas, _SMOOTH_DY, _SMOOTH_DX,
                               np.asarray(SMOOTHNESS_WEIGHTS, np.float64), rows)
    return np.asarray(rows.sum())


def cg_update(gg, pq, x, p, g, q):
    """``x += alpha p``, ``g -= alpha q``, ``alpha = gg / max(pq, 1e-30)``; see
    :func:`mfsr.kernels.reference.cg_update`."""
    if not x.shape == p.shape == g.shape == q.shape:
        raise ValueError("x, p, g and q must have one shape")
    if not on_host(gg, pq):
        return reference.cg_update(gg, pq, x, p, g, q)
    num, den = float(gg), float(pq)
    alpha = num / max(den, 1e-30) if num != 0.0 else 0.0
    axpy(alpha, p, x)
    axpy(-alpha, q, g)
    return x, g


def cg_direction(gg_new, gg, g, p):
    """``p = g + (gg_new / gg) p``; see :func:`mfsr.kernels.reference.cg_direction`."""
    if g.shape != p.shape:
        raise ValueError(f"g and p must have one shape, got {g.shape} and {p.shape}")
    if not on_host(gg_new, gg):
        return reference.cg_direction(gg_new, gg, g, p)
    num, den = float(gg_new), float(gg)
    return axpby(1.0, g, num / den if den != 0.0 else 0.0, p, p)


def cg_step(gg, x, p, g, q):
    """``pq = <p, q>``, the updates of :func:`cg_update`, and the new ``<g, g>``; see
    :func:`mfsr.kernels.reference.cg_step` (the inner products are ``np.vdot``)."""
    cg_update(gg, np.vdot(p, q), x, p, g, q)
    return np.vdot(g, g)


# ------------------------------------------------------------------- IRLS re-weighting

irls_residuals = reference.irls_residuals  # three NumPy passes over the LR stack


@njit(**PAR)
def _huber_weights(r, c, t, one, eps, out):
    for i in prange(r.size):
        out[i] = c[i] * min(one, t / max(abs(r[i]), eps))


@njit(**PAR)
def _pair_weights(d, t, one, eps, weight, scaled, out):
    for i in prange(d.size):
        a = min(one, t / max(d[i], eps))
        out[i] = a * weight if scaled else a


# The IRLS medians by radix selection: a histogram of the 16 highest bits of the keys
# (order-preserving unsigned integers), the bucket that holds the wanted rank, then the
# next 16 bits among that bucket's elements, and so on (two passes over the data for
# 32-bit values, four for 64-bit), instead of a sort of the whole array. The counts are
# exact integers, so the value selected is the one a sort would put at that rank.
_DIGIT = 16


@njit(**PAR)
def _digit_histogram(u, shift, prefix, mask, digit_mask, hist):
    """``hist[t, b]``: elements of chunk ``t`` of ``u`` with ``u & mask == prefix`` and
    digit ``(u >> shift) & digit_mask == b``. Four sub-histograms take turns, so that
    runs of one digit (data crowded in a few buckets) do not wait on each other."""
    T, n = hist.shape[0], u.size
    B = hist.shape[1]
    for t in prange(T):
        h = np.zeros((4, B), np.int64)
        lo, hi = t * n // T, (t + 1) * n // T
        i = lo
        while i + 4 <= hi:
            for j in range(4):
                v = u[i + j]
                if (v & mask) == prefix:
                    h[j, (v >> shift) & digit_mask] += 1
            i += 4
        for i in range(i, hi):
            v = u[i]
            if (v & mask) == prefix:
                h[0, (v >> shift) & digit_mask] += 1
        for b in range(B):
            hist[t, b] = h[0, b] + h[1, b] + h[2, b] + h[3, b]


def _histogram(u, shift, prefix, mask):
    ut = u.dtype.type
    hist = workspace("radix", (threads(), 1 << _DIGIT), np.int64)
    _digit_histogram(u, ut(shift), ut(prefix), ut(mask), ut((1 << _DIGIT) - 1), hist)
    return hist.sum(axis=0)


def _select(u, k, first):
    """The ``k``-th and ``k + 1``-th smallest (0-based) of the unsigned 1-D array ``u``
    (``k + 1 < u.size``; the second ``None`` where it needs passes of its own);
    ``first``: the histogram of the highest digit (:func:`_histogram`, empty mask)."""
    bits = 8 * u.dtype.itemsize
    prefix = mask = 0
    hist = first
    for shift in range(bits - _DIGIT, -1, -_DIGIT):
        if shift != bits - _DIGIT:
            hist = _histogram(u, shift, prefix, mask)
        cum = np.cumsum(hist)
        digit = int(np.searchsorted(cum, k, side="right"))
        k -= int(cum[digit - 1]) if digit else 0
        prefix |= digit << shift
        mask |= ((1 << _DIGIT) - 1) << shift
    if k + 1 < hist[digit]:  # ties: the next rank holds the same value
        return prefix, prefix
    following = np.flatnonzero(hist[digit + 1:])  # the next value of the last bucket
    return prefix, (prefix + int(following[0]) + 1 if following.size else None)


def _ranks(u, lo, hi, first):
    """The values at ranks ``lo <= hi`` (``hi <= lo + 1``) of ``u``, as unsigned ints."""
    a, b = _select(u, lo, first)
    if hi == lo:
        return a, a
    return a, (b if b is not None else _select(u, hi, first)[0])


def irls_key_median(keys):
    """The median of ``|r|`` from the keys of :func:`irls_residuals` by radix selection
    (the value a sort would give); see :func:`mfsr.kernels.reference.irls_key_median`."""
    if not (type(keys) is np.ndarray and keys.ndim == 1 and keys.size
            and keys.dtype in (np.int32, np.int64)):
        return reference.irls_key_median(keys)
    unsigned = np.uint32 if keys.dtype == np.int32 else np.uint64
    flag = unsigned(1) << unsigned(8 * keys.dtype.itemsize - 1)
    u = np.ascontiguousarray(keys).view(unsigned) ^ flag  # order-preserving
    first = _histogram(u, 8 * u.dtype.itemsize - _DIGIT, 0, 0)
    n = int(first[:1 << (_DIGIT - 1)].sum())  # the flagged (confident) keys come first
    n = n if n else u.size
    a, b = _ranks(u, (n - 1) // 2, n // 2, first)
    dtype = np.float32 if keys.dtype == np.int32 else np.float64
    magnitude = np.array([a, b], unsigned) & ~flag  # the flag (top) bit is the key's tag
    lo, hi = magnitude.view(dtype)
    return np.asarray((lo + hi) * dtype(0.5))


def irls_difference_median(d, n):
    """The median of the ``n`` smallest values of ``d`` by radix selection (the value a
    sort would give); see :func:`mfsr.kernels.reference.irls_difference_median`."""
    n = int(n)
    if not (fast(d) and 0 < n <= d.size):
        return reference.irls_difference_median(d, n)
    unsigned = np.uint32 if d.dtype == np.float32 else np.uint64
    u = np.ascontiguousarray(d).reshape(-1).view(unsigned)  # d >= 0: bits order as values
    a, b = _ranks(u, (n - 1) // 2, n // 2, _histogram(u, 8 * u.dtype.itemsize - _DIGIT, 0, 0))
    lo, hi = np.array([a, b], unsigned).view(d.dtype)
    return np.asarray((lo + hi) * d.dtype.type(0.5))


def irls_data_weights(median, r, confidence, threshold):
    """``c * min(1, t_r / max(|r|, 1e-12))`` in one parallel pass; see
    :func:`mfsr.kernels.reference.irls_data_weights`."""
    if not (fast(r, confidence) and r.dtype == confidence.dtype
            and r.shape == confidence.shape):
        return reference.irls_data_weights(median, r, confidence, threshold)
    T = r.dtype.type
    t = irls_threshold(median, threshold, r.dtype)
    out = np.empty_like(r)
    _huber_weights(np.ascontiguousarray(r).ravel(), np.ascontiguousarray(confidence).ravel(),
                   T(t), T(1.0), T(1e-12), out.ravel())
    return out


def irls_prior_weights(median, d, threshold, weight=1.0, out=None):
    """``weight * min(1, t_p / max(d, 1e-12))`` in one parallel pass (in place when
    ``out`` is ``d``); see :func:`mfsr.kernels.reference.irls_prior_weights`."""
    if not fast(d):
        return reference.irls_prior_weights(median, d, threshold, weight, out)
    T = d.dtype.type
    t = irls_threshold(median, threshold, d.dtype)
    d = np.ascontiguousarray(d)
    out = np.empty_like(d) if out is None else check_numpy_out(out, d.shape, d.dtype)
    _pair_weights(d.ravel(), T(t), T(1.0), T(1e-12), T(weight), weight != 1.0, out.ravel())
    return out


def irls_objective(ax, y, beta, confidence, x, alphas=None):
    """The IRLS history values (NumPy sums, the smoothness value of this set); see
    :func:`mfsr.kernels.reference.irls_objective`."""
    r = ax - y
    data = np.sum(beta * r * r)
    objective = 0.5 * data + weighted_smoothness_value(x, alphas) if alphas is not None \
        else 0.5 * data
    return objective, np.sqrt(np.sum(confidence * r * r))

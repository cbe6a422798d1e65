"""Numba kernels: the functions of :mod:`mfsr.kernels.reference`, compiled for the CPU.

Same names, signatures and results (to float rounding) as the reference; the registry
(:func:`mfsr.kernels.kernels_for`) hands this module out for NumPy arrays under the
``"auto"`` and ``"numba"`` choices. Importing it without Numba raises ``ImportError``,
on which the registry falls back to the reference.

How the kernels are written:

- ``parallel=True`` over output rows (or over one contiguous chunk of rows per thread
  where a thread needs a scratch row); every output element is written by exactly one
  thread with the same operations whatever the chunk bounds, so results do not depend
  on scheduling.
- Results do not depend on the number of threads, bit for bit (a job gives the same
  output on any machine or Dask worker). Where the split of the work sets the order
  of a floating-point sum, the split depends on the problem size alone, ``prange``
  hands the partitions to the threads, and the partial results are combined in a fixed
  order: the scatters (the bilinear splat of the warp adjoints) go to one accumulator
  image per partition, ``min(PARTITIONS, rows)`` of them, summed in partition order; the
  prior values are summed per row, the data values per block of ``REDUCE_BLOCK``
  elements. The thread count only decides how many chunks the gathers are cut into,
  which changes no result (``tests/test_kernel_determinism.py``).
- Arithmetic stays in the array's dtype (float32 by default; the weights are cast to
  it), in the same order as the reference where that is cheap. Sums of many terms (the
  prior and data values) accumulate in float64. ``fastmath`` is not used: the kernels
  are bound by memory traffic and gathers, not by the few flops that reassociation
  would save, and IEEE semantics keep float32 results equal to the reference's.
- ``cache=True``: compiled code is stored next to this file (``__pycache__``) and
  reused by later processes; the first call of each kernel and dtype in a fresh
  environment pays the compile (see ``benchmarks/speed.py``, which reports it).
- Inputs other than C-contiguous float32 / float64 NumPy arrays go to the reference.
- Scratch arrays (splat accumulators, intermediate rows) are kept per thread of the
  caller and reused between calls of the same shape, so a solver loop does not page in
  fresh memory for them at every iteration.
"""
from __future__ import annotations

import threading

import numba
import numpy as np
from numba import njit, prange

from . import common, reference
from .buffers import check_out
from .geometry import flow_axis_weights
# OpenCV / xp code, shared with the reference:
from .reference import (local_filter, normalized_filter, remove_offsets, rho,  # noqa: F401
                        warp_difference)

NAME = "numba"
PENALTIES = {"quadratic": 0, "charbonnier": 1, "huber": 2}
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_JIT = {"cache": True, "nogil": True}
_PAR = {"parallel": True, **_JIT}
_local = threading.local()

# Splat partitions (accumulator images) of the warp adjoints: up to PARTITIONS threads
# splat at once, whatever the machine, and the result is the same on all of them (more
# threads than PARTITIONS do not speed the splat up). Memory: PARTITIONS - 1 HR images of
# workspace (the first partition splats into the output), kept per calling thread:
# 7 x 4 x H x W bytes in float32, 26 MB for a 1280x720 HR image, 232 MB for 3840x2160
# (before: one per thread beyond the first; 1 image on a 2-thread machine, 15 on a
# 16-thread one). Per call, only the rows a partition's splats reach (its band of rows
# and the motion margin) are zeroed and summed, so the memory traffic of a call stays
# near one image however many partitions there are.
PARTITIONS = 8
# Elements per partial sum of the data term (a size-only split of the reduction).
REDUCE_BLOCK = 8192


def _fast(*arrays):
    """True when the compiled kernels handle these arrays (float32/float64 NumPy)."""
    return all(type(a) is np.ndarray and a.dtype in _FLOATS for a in arrays)


def _check_out(out, shape, dtype):
    """``out`` when the compiled kernels can write into it (a C-contiguous NumPy array)."""
    if type(out) is not np.ndarray:
        raise TypeError(f"out must be a NumPy array, got {type(out).__name__}")
    return check_out(out, shape, dtype)


def _workspace(name, shape, dtype):
    """A scratch array kept per calling thread and reused while the shape stays the same."""
    cache = getattr(_local, "arrays", None)
    if cache is None:
        cache = _local.arrays = {}
    shape, dtype = tuple(int(n) for n in shape), np.dtype(dtype)
    a = cache.get(name)
    if a is None or a.shape != shape or a.dtype != dtype:
        a = cache[name] = np.empty(shape, dtype)
    return a


def _threads():
    return numba.get_num_threads()


def _chunks(n):
    """Number of contiguous chunks (one per thread) to split ``n`` rows into; only for
    kernels whose results do not depend on the chunk bounds (pure scheduling)."""
    return max(1, min(int(n), _threads()))


def _partitions(n):
    """Splat partitions for ``n`` rows of work: a function of the problem size only."""
    return max(1, min(int(n), PARTITIONS))


def _warp_args(index, wy, wx, n):
    index = np.ascontiguousarray(index, dtype=np.int64)
    wy = np.ascontiguousarray(wy, dtype=np.float32)
    wx = np.ascontiguousarray(wx, dtype=np.float32)
    if not index.shape[-1] == wy.shape[-1] == wx.shape[-1] == n:
        raise ValueError(f"index, wy and wx must have one entry per pixel ({n}), got "
                         f"{index.shape[-1]}, {wy.shape[-1]}, {wx.shape[-1]}")
    return index, wy, wx


# ------------------------------------------------------------------------- warps

@njit(inline="always")
def _bilerp(f, i, W, wy, wx):
    # unsigned indices: a table index is never negative, and a signed one makes Numba
    # check every load for Python's negative-index wraparound (measurably slower)
    i, W, one = np.uint64(i), np.uint64(W), np.uint64(1)
    a = f[i]
    c = f[i + W]
    top = a + wx * (f[i + one] - a)
    bot = c + wx * (f[i + W + one] - c)
    return top + wy * (bot - top)


@njit(inline="always")
def _splat(buf, i, W, v, wy, wx):
    one = np.float32(1.0)
    a = v * (one - wy)
    b = v * wy
    owx = one - wx
    i, W, u1 = np.uint64(i), np.uint64(W), np.uint64(1)  # as in _bilerp
    buf[i] += a * owx
    buf[i + u1] += a * wx
    buf[i + W] += b * owx
    buf[i + W + u1] += b * wx


@njit(**_PAR)
def _warp_forward(f, index, wy, wx, W, out):
    for p in prange(f.size):
        out[p] = _bilerp(f, index[p], W, wy[p], wx[p])


# The splat adjoints: partition t of P (a contiguous range of work rows) splats into its
# own accumulator, ``out`` for t = 0, ``extra[t - 1]`` else, and the accumulators are summed
# row by row in partition order: the same operations in the same order for any number of
# threads. An accumulator is zeroed lazily, over the band of rows its splats reach
# (``band[t] = [first, end)``, kept contiguous), and only rows inside a band are summed: a
# partition of rows reaches those rows and the motion margin, not the whole image.

@njit(inline="always")
def _splat_rows(ik, W):
    """HR rows ``[r0, r1)`` the splats of these table entries write (top-left neighbour
    ``ik`` and the row below)."""
    lo = hi = ik[0]
    for q in range(1, ik.size):
        v = ik[q]
        lo = min(lo, v)
        hi = max(hi, v)
    return lo // W, hi // W + 2


@njit(inline="always")
def _cover(buf, W, band, t, r0, r1):
    """Zero the rows of ``buf`` (flat, width ``W``) in ``[r0, r1)`` that band ``t`` does not
    cover yet, and widen the band to cover them."""
    lo, hi = band[t, 0], band[t, 1]
    if lo >= hi:
        buf[r0 * W: r1 * W] = 0
        band[t, 0], band[t, 1] = r0, r1
        return
    if r0 < lo:
        buf[r0 * W: lo * W] = 0
        band[t, 0] = r0
    if r1 > hi:
        buf[hi * W: r1 * W] = 0
        band[t, 1] = r1


@njit(**_PAR)
def _reduce_bands(out, extra, band, W):
    """``out = sum_t accumulator_t`` row by row, in partition order, over the rows each
    accumulator's band covers (``out`` is accumulator 0; rows no band covers are 0)."""
    H = out.size // W
    P = band.shape[0]
    for r in prange(H):
        lo, hi = r * W, (r + 1) * W
        dst = out[lo:hi]
        have = band[0, 0] <= r < band[0, 1]
        for t in range(1, P):
            if band[t, 0] <= r < band[t, 1]:
                src = extra[t - 1, lo:hi]
                if have:
                    for q in range(W):
                        dst[q] += src[q]
                else:
                    dst[:] = src
                    have = True
        if not have:
            dst[:] = 0


@njit(**_PAR)
def _warp_adjoint(v, index, wy, wx, W, out, extra):
    H = v.size // W
    P = extra.shape[0] + 1
    band = np.zeros((P, 2), np.int64)
    for t in prange(P):
        buf = out if t == 0 else extra[t - 1]
        for i in range(t * H // P, (t + 1) * H // P):
            lo, hi = i * W, (i + 1) * W
            r0, r1 = _splat_rows(index[lo:hi], W)
            _cover(buf, W, band, t, r0, r1)
            for p in range(lo, hi):
                _splat(buf, index[p], W, v[p], wy[p], wx[p])
    _reduce_bands(out, extra, band, W)


def warp_forward(x, index, wy, wx):
    """Bilinear gather; see :func:`mfsr.kernels.reference.warp_forward`."""
    if not _fast(x) or x.ndim != 2:
        return reference.warp_forward(x, index, wy, wx)
    x = np.ascontiguousarray(x)
    index, wy, wx = _warp_args(index, wy, wx, x.size)
    out = np.empty_like(x)
    _warp_forward(x.ravel(), index, wy, wx, x.shape[1], out.ravel())
    return out


def warp_adjoint(y, index, wy, wx):
    """Bilinear splat (one accumulator per partition of rows, :data:`PARTITIONS`); see
    :func:`mfsr.kernels.reference.warp_adjoint`."""
    if not _fast(y) or y.ndim != 2:
        return reference.warp_adjoint(y, index, wy, wx)
    y = np.ascontiguousarray(y)
    index, wy, wx = _warp_args(index, wy, wx, y.size)
    out = np.empty_like(y)
    extra = _workspace("splat", (_partitions(y.shape[0]) - 1, y.size), y.dtype)
    _warp_adjoint(y.ravel(), index, wy, wx, y.shape[1], out.ravel(), extra)
    return out


# ----------------------------------------------------- strided blur + decimation

def _taps(w, dtype):
    w = np.ascontiguousarray(np.asarray(w, dtype=np.float64).astype(dtype))
    if w.ndim != 1 or w.size < 1:
        raise ValueError("tap arrays must be 1-D with at least one tap")
    return w


def _check_span(ny, nx, start, s, lr_shape, padded_shape):
    (h, w), (ph, pw) = lr_shape, padded_shape
    if min(start) < 0 or start[0] + s * (h - 1) + ny > ph or start[1] + s * (w - 1) + nx > pw:
        raise ValueError(f"taps ({ny}, {nx}) from start {tuple(start)} with scale {s} over "
                         f"{(h, w)} outputs leave the padded shape {(ph, pw)}")


@njit(**_PAR)
def _strided_correlate(xpad, wy, wx, s0, s1, s, out, T):
    L, h, w = out.shape
    PW = xpad.shape[2]
    for t in prange(T):
        tmp = np.empty(PW, xpad.dtype)
        for li in range(t * (L * h) // T, (t + 1) * (L * h) // T):
            l, i = li // h, li % h
            r0 = s0 + s * i
            tmp[:] = 0
            for a in range(wy.size):
                c = wy[a]
                src = xpad[l, r0 + a]
                for q in range(PW):
                    tmp[q] += c * src[q]
            for j in range(w):
                c0 = s1 + s * j
                acc = wx[0] * tmp[c0]
                for b in range(1, wx.size):
                    acc += wx[b] * tmp[c0 + b]
                out[l, i, j] = acc


@njit(**_PAR)
def _strided_correlate_adjoint(y, wy, wx, s0, s1, s, out, t):
    """Horizontal scatter into ``t`` (one LR row each), then vertical gather into ``out``."""
    L, h, w = y.shape
    PH, PW = out.shape[1], out.shape[2]
    ny = wy.size
    for li in prange(L * h):
        l, i = li // h, li % h
        row = t[l, i]
        row[:] = 0
        for j in range(w):
            v = y[l, i, j]
            c0 = s1 + s * j
            for b in range(wx.size):
                row[c0 + b] += wx[b] * v
    for lq in prange(L * PH):
        l, q = lq // PH, lq % PH
        dst = out[l, q]
        dst[:] = 0
        # LR rows i with 0 <= q - s0 - s*i < ny
        d = q - s0
        i_hi = min(h - 1, d // s) if d >= 0 else -1
        i_lo = max(0, -((ny - 1 - d) // s))
        for i in range(i_lo, i_hi + 1):
            c = wy[d - s * i]
            src = t[l, i]
            for p in range(PW):
                dst[p] += c * src[p]


def strided_correlate(xpad, wy, wx, start, scale, lr_shape):
    """Separable strided correlation; see :func:`mfsr.kernels.reference.strided_correlate`."""
    if not _fast(xpad) or xpad.ndim < 2:
        return reference.strided_correlate(xpad, wy, wx, start, scale, lr_shape)
    wy, wx = _taps(wy, xpad.dtype), _taps(wx, xpad.dtype)
    s, (s0, s1) = int(scale), (int(start[0]), int(start[1]))
    lr_shape = (int(lr_shape[0]), int(lr_shape[1]))
    _check_span(wy.size, wx.size, (s0, s1), s, lr_shape, xpad.shape[-2:])
    lead = xpad.shape[:-2]
    x3 = np.ascontiguousarray(xpad).reshape((-1,) + xpad.shape[-2:])
    out = np.empty((x3.shape[0],) + lr_shape, xpad.dtype)
    _strided_correlate(x3, wy, wx, s0, s1, s, out, _chunks(out.shape[0] * out.shape[1]))
    return out.reshape(lead + lr_shape)


def strided_correlate_adjoint(y, wy, wx, start, scale, padded_shape):
    """Adjoint of :func:`strided_correlate`; see
    :func:`mfsr.kernels.reference.strided_correlate_adjoint`."""
    if not _fast(y) or y.ndim < 2:
        return reference.strided_correlate_adjoint(y, wy, wx, start, scale, padded_shape)
    wy, wx = _taps(wy, y.dtype), _taps(wx, y.dtype)
    s, (s0, s1) = int(scale), (int(start[0]), int(start[1]))
    padded_shape = (int(padded_shape[0]), int(padded_shape[1]))
    _check_span(wy.size, wx.size, (s0, s1), s, y.shape[-2:], padded_shape)
    lead = y.shape[:-2]
    y3 = np.ascontiguousarray(y).reshape((-1,) + y.shape[-2:])
    out = np.empty((y3.shape[0],) + padded_shape, y.dtype)
    t = _workspace("strided_t", (y3.shape[0], y3.shape[1], padded_shape[1]), y.dtype)
    _strided_correlate_adjoint(y3, wy, wx, s0, s1, s, out, t)
    return out.reshape(lead + padded_shape)


# ------------------------------------------------- ELL separable gather, fused A
#
# The separable gather ``S_y z S_x^T`` runs "vertical first" when it shrinks the image
# (forward: accumulate the tapped input rows with contiguous, vectorised AXPYs, then
# gather the few output columns from that one row) and "horizontal first" when it grows
# it (adjoint: gather each short input row out to full width once, then AXPY). Either
# way the indexed gathers touch the small side. The rows a step needs come from a small
# per-thread ring cache (slot = row mod R), filled on a miss: warped HR rows for the
# fused forward, expanded LR rows for the fused adjoint. Consecutive output rows share
# most of their taps, so each row is produced about once, and the working set stays in
# cache. A conflict in the ring (possible only for irregular tables) costs a recompute,
# never a wrong result, since each produced row is consumed at once.

def _ell(idx, w, n_in, dtype, name):
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    w = np.ascontiguousarray(np.asarray(w).astype(dtype, copy=False))
    if idx.ndim != 2 or idx.shape != w.shape or idx.shape[1] < 1:
        raise ValueError(f"{name} indices and weights must be 2-D arrays of one shape, got "
                         f"{idx.shape} and {w.shape}")
    if idx.min() < 0 or idx.max() >= n_in:
        raise ValueError(f"{name} indices must lie in [0, {n_in})")
    return idx, w


def _ring_size(idx, w, step):
    """Ring slots that keep all rows of two outputs ``step`` input rows apart (entries
    of weight 0 are skipped by the kernels and do not count)."""
    used = w != 0
    hi = np.where(used, idx, idx.min()).max(axis=1)
    lo = np.where(used, idx, idx.max()).min(axis=1)
    return int(np.maximum(hi - lo, 0).max()) + 1 + max(int(step), 1)


@njit(inline="always")
def _gather_row(src, cols, wc, dst):
    """``dst[j] = sum_b wc[j, b] src[cols[j, b]]``."""
    for j in range(dst.size):
        acc = wc[j, 0] * src[np.uint64(cols[j, 0])]  # unsigned: see _bilerp
        for b in range(1, cols.shape[1]):
            acc += wc[j, b] * src[np.uint64(cols[j, b])]
        dst[j] = acc


@njit(inline="always")
def _axpy(dst, c, src, first):
    if first:
        for q in range(dst.size):
            dst[q] = c * src[q]
    else:
        for q in range(dst.size):
            dst[q] += c * src[q]


@njit(**_PAR)
def _gather_vertical_first(z, rows, wr, cols, wc, out, T):
    L, h, w = out.shape
    n = L * h
    for t in prange(T):
        acc = np.empty(z.shape[2], z.dtype)
        for li in range(t * n // T, (t + 1) * n // T):
            l, i = li // h, li % h
            for a in range(rows.shape[1]):
                _axpy(acc, wr[i, a], z[l, rows[i, a]], a == 0)
            _gather_row(acc, cols, wc, out[l, i])


@njit(**_PAR)
def _gather_horizontal_first(z, rows, wr, cols, wc, out, T, R):
    L, h, w = out.shape
    Hin = z.shape[1]
    n = L * h
    for t in prange(T):
        ring = np.empty((R, w), z.dtype)
        tags = np.full(R, -1, np.int64)
        for li in range(t * n // T, (t + 1) * n // T):
            l, i = li // h, li % h
            dst = out[l, i]
            for a in range(rows.shape[1]):
                r = rows[i, a]
                slot = r % R
                if tags[slot] != l * Hin + r:
                    _gather_row(z[l, r], cols, wc, ring[slot])
                    tags[slot] = l * Hin + r
                _axpy(dst, wr[i, a], ring[slot], a == 0)


def separable_gather(z, rows, row_weights, cols, col_weights):
    """``S_y z S_x^T`` with ELL tables; see :func:`mfsr.kernels.reference.separable_gather`."""
    if not _fast(z) or z.ndim < 2:
        return reference.separable_gather(z, rows, row_weights, cols, col_weights)
    rows, wr = _ell(rows, row_weights, z.shape[-2], z.dtype, "rows")
    cols, wc = _ell(cols, col_weights, z.shape[-1], z.dtype, "cols")
    lead = z.shape[:-2]
    z3 = np.ascontiguousarray(z).reshape((-1,) + z.shape[-2:])
    out = np.empty((z3.shape[0], rows.shape[0], cols.shape[0]), z.dtype)
    T = _chunks(out.shape[0] * out.shape[1])
    if rows.shape[0] <= z3.shape[1]:
        _gather_vertical_first(z3, rows, wr, cols, wc, out, T)
    else:
        _gather_horizontal_first(z3, rows, wr, cols, wc, out, T, _ring_size(rows, wr, 1))
    return out.reshape(lead + out.shape[1:])


@njit(inline="always")
def _warp_row(f, ik, yk, xk, W, z):
    """One row of a warp from its tables (1-D contiguous views)."""
    for q in range(z.size):
        z[q] = _bilerp(f, ik[q], W, yk[q], xk[q])


@njit(inline="always")
def _splat_row(buf, ik, yk, xk, W, z):
    for q in range(z.size):
        _splat(buf, ik[q], W, z[q], yk[q], xk[q])


# The fused kernels visit output rows frame-innermost (row 0 of every frame, then row 1,
# ...): the K frames of one row read (forward) or splat into (adjoint) nearly the same
# HR rows, which then stay in cache across the frames instead of streaming the whole
# image from memory once per frame (benchmarks/kernels_ab.py measures the gain). Each
# frame keeps its own R slots of the ring, at slot ``(row mod R) K + k``, tagged with
# the row.

@njit(**_PAR)
def _wbd_forward(f, W, index, wy, wx, identity, rows, wr, cols, wc, out, T, R):
    """``out[k] = S_y (W_k x) S_x^T``; the ring holds warped HR rows."""
    K, h, w = out.shape
    n = K * h
    for t in prange(T):
        ring = np.empty((R * K, W), f.dtype)
        tags = np.full(R * K, -1, np.int64)
        acc = np.empty(W, f.dtype)
        for row_frame in range(t * n // T, (t + 1) * n // T):
            i, k = row_frame // K, row_frame % K
            first = True
            for a in range(rows.shape[1]):
                c = wr[i, a]
                if c == 0 and a > 0:
                    continue
                r = rows[i, a]
                slot = (r % R) * K + k
                if tags[slot] != r:
                    lo, hi = r * W, (r + 1) * W
                    if identity[k]:
                        ring[slot, :] = f[lo:hi]
                    else:
                        # 1-D views of one frame first: slicing [k, lo:hi] directly gives
                        # non-contiguous typed views that do not vectorise
                        ik, yk, xk = index[k], wy[k], wx[k]
                        _warp_row(f, ik[lo:hi], yk[lo:hi], xk[lo:hi], W, ring[slot])
                    tags[slot] = r
                _axpy(acc, c, ring[slot], first)
                first = False
            _gather_row(acc, cols, wc, out[k, i])


@njit(**_PAR)
def _wbd_adjoint(y, W, index, wy, wx, identity, rows_t, wr_t, cols_t, wc_t, out, extra, R):
    """``out = sum_k W_k^T (S_y^T y_k S_x)``; the ring holds LR rows expanded to width W;
    each HR row is splatted into its partition's accumulator (``out`` for the first),
    and the accumulators are summed at the end (see :func:`_reduce_bands`)."""
    K, h, w = y.shape
    H = rows_t.shape[0]
    n = K * H
    P = extra.shape[0] + 1
    band = np.zeros((P, 2), np.int64)
    for t in prange(P):
        buf = out if t == 0 else extra[t - 1]
        ring = np.empty((R * K, W), y.dtype)
        tags = np.full(R * K, -1, np.int64)
        z = np.empty(W, y.dtype)
        for row_frame in range(t * n // P, (t + 1) * n // P):
            p, k = row_frame // K, row_frame % K
            first = True
            for m in range(rows_t.shape[1]):
                c = wr_t[p, m]
                if c == 0 and m > 0:
                    continue
                i = rows_t[p, m]
                slot = (i % R) * K + k
                if tags[slot] != i:
                    _gather_row(y[k, i], cols_t, wc_t, ring[slot])
                    tags[slot] = i
                _axpy(z, c, ring[slot], first)
                first = False
            lo, hi = p * W, (p + 1) * W
            if identity[k]:
                _cover(buf, W, band, t, p, p + 1)
                dst = buf[lo:hi]
                for q in range(W):
                    dst[q] += z[q]
            else:
                ik, yk, xk = index[k], wy[k], wx[k]
                r0, r1 = _splat_rows(ik[lo:hi], W)
                _cover(buf, W, band, t, r0, r1)
                _splat_row(buf, ik[lo:hi], yk[lo:hi], xk[lo:hi], W, z)
    _reduce_bands(out, extra, band, W)


@njit(inline="always")
def _flow_row(flow, p, r0, r1, ar, frow):
    """Row ``p`` of an LR flow ``(h, w, 2)`` interpolated to HR row ``p`` (still on the
    LR columns), as :func:`mfsr.kernels.geometry.upsample_flow` does."""
    a = ar[p]
    oa = np.float32(1.0) - a
    fa, fb = flow[r0[p]], flow[r1[p]]
    for j in range(frow.shape[0]):
        frow[j, 0] = fa[j, 0] * oa + fb[j, 0] * a
        frow[j, 1] = fa[j, 1] * oa + fb[j, 1] * a


@njit(**_PAR)
def _warp_tables(flows, r0, r1, ar, c0, c1, ac, s, index, wy, wx, moving):
    """:func:`mfsr.kernels.geometry.bilinear_tables` of
    :func:`~mfsr.kernels.geometry.upsample_flow`, row by row, with the same float32
    operations in the same order (so the tables are equal); ``moving[k, p]``: whether HR
    row ``p`` of frame ``k`` has a non-zero flow."""
    K, H, W = index.shape[0], r0.size, c0.size
    one, zero = np.float32(1.0), np.float32(0.0)
    hmax, wmax = np.float32(H - 1), np.float32(W - 1)
    hlim, wlim = np.float32(H - 2), np.float32(W - 2)
    for kp in prange(K * H):
        k, p = kp // H, kp % H
        frow = np.empty((flows.shape[2], 2), np.float32)
        _flow_row(flows[k], p, r0, r1, ar, frow)
        py = np.float32(p)
        ik, yk, xk = index[k], wy[k], wx[k]
        nz = False
        for q in range(W):
            b = ac[q]
            ob = one - b
            fx = (frow[c0[q], 0] * ob + frow[c1[q], 0] * b) * s
            fy = (frow[c0[q], 1] * ob + frow[c1[q], 1] * b) * s
            nz = nz or fx != 0 or fy != 0
            cy = min(max(py + fy, zero), hmax)
            cx = min(max(np.float32(q) + fx, zero), wmax)
            i0 = min(np.floor(cy), hlim)
            j0 = min(np.floor(cx), wlim)
            ik[p * W + q] = int(i0) * W + int(j0)
            yk[p * W + q] = cy - i0
            xk[p * W + q] = cx - j0
        moving[k, p] = nz


def prepare_warps(flows, scale, phase):
    """Stacked bilinear tables of the warps; see :func:`mfsr.kernels.reference.prepare_warps`.

    The same tables as the reference's (computed in parallel, straight from the LR
    flows), with a 32-bit index: 12 bytes per HR pixel and frame, not 16.
    Returns ``(index int32 (K, H*W), wy, wx float32 (K, H*W), identity bool (K,))``.
    """
    if type(flows) is not np.ndarray:
        return reference.prepare_warps(flows, scale, phase)
    if flows.ndim != 4 or flows.shape[-1] != 2:
        raise ValueError(f"flows must have shape (K, h, w, 2), got {flows.shape}")
    scale = int(scale)
    k, h, w = flows.shape[:3]
    H, W = scale * h, scale * w
    if H < 2 or W < 2:
        raise ValueError(f"warps need an HR image of at least 2x2 pixels, got {H}x{W}")
    if H * W >= 2**31:
        raise ValueError(f"HR image of {H * W} pixels is too large for 32-bit warp tables")
    r0, r1, ar = flow_axis_weights(h, scale, phase)
    c0, c1, ac = flow_axis_weights(w, scale, phase)
    index = np.empty((k, H * W), np.int32)
    wy, wx = np.empty((k, H * W), np.float32), np.empty((k, H * W), np.float32)
    moving = np.empty((k, H), np.bool_)
    _warp_tables(np.ascontiguousarray(flows, dtype=np.float32), r0, r1, ar, c0, c1, ac,
                 np.float32(scale), index, wy, wx, moving)
    return index, wy, wx, ~moving.any(axis=1)


def _check_state(warps, n):
    index, wy, wx, identity = warps
    if not (type(index) is np.ndarray and index.dtype == np.int32 and index.ndim == 2
            and index.shape == wy.shape == wx.shape and index.shape[1] == n
            and identity.shape == (index.shape[0],)):
        raise ValueError("warps must come from numba_kernels.prepare_warps for this image size")
    return index, wy, wx, identity


def warp_blur_decimate(x, warps, rows, row_weights, cols, col_weights):
    """Fused ``A x`` over all frames; see :func:`mfsr.kernels.reference.warp_blur_decimate`."""
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D image, got shape {x.shape}")
    index, wy, wx, identity = _check_state(warps, x.size)
    if not _fast(x):
        x = np.asarray(x, dtype=np.float64)
    x = np.ascontiguousarray(x)
    H, W = x.shape
    rows, wr = _ell(rows, row_weights, H, x.dtype, "rows")
    cols, wc = _ell(cols, col_weights, W, x.dtype, "cols")
    K, h, w = index.shape[0], rows.shape[0], cols.shape[0]
    out = np.empty((K, h, w), x.dtype)
    _wbd_forward(x.ravel(), W, index, wy, wx, identity, rows, wr, cols, wc, out,
                 _chunks(K * h), _ring_size(rows, wr, -(-H // h)))
    return out


def warp_blur_decimate_adjoint(y, warps, rows_t, row_weights_t, cols_t, col_weights_t,
                               out=None, weights=None):
    """Fused ``A^T y`` (``A^T (weights * y)`` with ``weights``, the product taken as
    NumPy does, so bitwise that expression); see
    :func:`mfsr.kernels.reference.warp_blur_decimate_adjoint`."""
    H, W = len(rows_t), len(cols_t)
    index, wy, wx, identity = _check_state(warps, H * W)
    K = index.shape[0]
    if y.ndim != 3 or y.shape[0] != K:
        raise ValueError(f"y must have shape (K={K}, h, w), got {y.shape}")
    if weights is not None:
        if weights.shape != y.shape:
            raise ValueError(f"weights must have y's shape {y.shape}, got {weights.shape}")
        y = weights * y
    if not _fast(y):
        y = np.asarray(y, dtype=np.float64)
    y = np.ascontiguousarray(y)
    rows_t, wr = _ell(rows_t, row_weights_t, y.shape[1], y.dtype, "rows_t")
    cols_t, wc = _ell(cols_t, col_weights_t, y.shape[2], y.dtype, "cols_t")
    extra = _workspace("splat", (_partitions(K * H) - 1, H * W), y.dtype)
    out = np.empty((H, W), y.dtype) if out is None else _check_out(out, (H, W), y.dtype)
    _wbd_adjoint(y, W, index, wy, wx, identity, rows_t, wr, cols_t, wc, out.ravel(), extra,
                 _ring_size(rows_t, wr, 1))
    return out


# ---------------------------------------------------------------- priors, data

def _constants(kind, param, dtype):
    """``(kind code, [param, param**2, 2 param, param / 2, 1/2, 1] in dtype)``."""
    if kind not in PENALTIES:
        raise ValueError(f"unknown penalty kind {kind!r}")
    p = float(param)
    return PENALTIES[kind], np.array([p, p * p, 2 * p, p / 2, 0.5, 1.0], dtype=dtype)


@njit(inline="always")
def _quadratic(d, k):
    return k[4] * d * d, d


@njit(inline="always")
def _charbonnier(d, k):
    root = np.sqrt(d * d + k[1])
    return root - k[0], d / root


@njit(inline="always")
def _huber(d, k):
    a = abs(d)
    t = min(max(d / k[0], -k[5]), k[5])
    return (d * d / k[2] if a <= k[0] else a - k[3]), t


@njit(inline="always")
def _pair_row(pen, k, wo, xa, xb, ga, gb, va):
    """One row of one offset: ``d = xa - xb``; ``ga += wo rho'``, ``gb -= wo rho'``,
    ``va += wo rho`` (row views of equal length; branch-free, so it vectorises)."""
    for j in range(xa.size):
        v, dv = pen(xa[j] - xb[j], k)
        va[j] += wo * v
        ga[j] += wo * dv
        gb[j] -= wo * dv


@njit(inline="always")
def _pairwise_rows(pen, x, dys, dxs, ws, k, g, totals, lo, hi):
    """Rows ``lo:hi`` of the gradient (gather form: each pixel takes its own term of
    both pairs it belongs to; a scratch row receives the other end, discarded) and
    the value of the pairs starting in these rows."""
    H, W = x.shape
    vals = np.zeros(W, x.dtype)
    sink = np.empty(W, x.dtype)
    for i in range(lo, hi):
        gi = g[i]
        gi[:] = 0
        xi = x[i]
        for o in range(dys.size):
            dy, dx, wo = dys[o], dxs[o], ws[o]
            j0, j1 = max(0, -dx), min(W, W - dx)  # pair (p, p + o): value, -rho' at p
            if 0 <= i + dy < H and j1 > j0:
                x2 = x[i + dy]
                _pair_row(pen, k, wo, x2[j0 + dx: j1 + dx], xi[j0: j1], sink[j0: j1],
                          gi[j0: j1], vals[j0: j1])
            j0, j1 = max(0, dx), min(W, W + dx)  # pair (p - o, p): +rho' at p
            if 0 <= i - dy < H and j1 > j0:
                x3 = x[i - dy]
                _pair_row(pen, k, wo, xi[j0: j1], x3[j0 - dx: j1 - dx], gi[j0: j1],
                          sink[j0: j1], sink[j0: j1])
        total = 0.0
        for j in range(W):
            total += vals[j]
            vals[j] = 0
        totals[i] = total


@njit(**_PAR)
def _pairwise_prior(x, dys, dxs, ws, kind, k, g, totals, T):
    """``T`` chunks of rows; the value summed per row into ``totals[i]``, so neither it nor
    the gradient depends on ``T``."""
    H = x.shape[0]
    for t in prange(T):
        lo, hi = t * H // T, (t + 1) * H // T
        if kind == 0:
            _pairwise_rows(_quadratic, x, dys, dxs, ws, k, g, totals, lo, hi)
        elif kind == 1:
            _pairwise_rows(_charbonnier, x, dys, dxs, ws, k, g, totals, lo, hi)
        else:
            _pairwise_rows(_huber, x, dys, dxs, ws, k, g, totals, lo, hi)


def pairwise_prior(x, offsets, weights, kind, param, out=None):
    """All offsets in one pass; see :func:`mfsr.kernels.reference.pairwise_prior`."""
    code, k = _constants(kind, param, getattr(x, "dtype", np.float64))
    if not _fast(x) or x.ndim != 2:
        return reference.pairwise_prior(x, offsets, weights, kind, param, out)
    offsets = [(int(dy), int(dx)) for dy, dx in offsets]
    if len(offsets) != len(weights):
        raise ValueError(f"offsets ({len(offsets)}) and weights ({len(weights)}) differ in length")
    x = np.ascontiguousarray(x)
    dys = np.array([o[0] for o in offsets], np.int64)
    dxs = np.array([o[1] for o in offsets], np.int64)
    ws = np.asarray(weights, np.float64).astype(x.dtype)
    g = np.empty_like(x) if out is None else _check_out(out, x.shape, x.dtype)
    totals = np.empty(x.shape[0])
    _pairwise_prior(x, dys, dxs, ws, code, k, g, totals, _chunks(x.shape[0]))
    return float(totals.sum()), g


def pairwise_prior_gradient(x, offsets, weights, kind, param, out=None, base=None,
                            scale=1.0):
    """``base + scale * grad R(x)``; see
    :func:`mfsr.kernels.reference.pairwise_prior_gradient` (the gradient of
    :func:`pairwise_prior`, so the same bits)."""
    g = pairwise_prior(x, offsets, weights, kind, param)[1]
    if scale != 1.0:
        g *= g.dtype.type(scale) if g.dtype in _FLOATS else scale
    if base is not None:
        if base is out:
            out += g
            return out
        g = base + g
    if out is None:
        return g
    out[...] = g
    return out


@njit(**_PAR)
def _tv_prior(x, eps, eps2, g, totals, T):
    """``T`` bands of rows; ``py`` of the row above kept in a scratch row (recomputed, with
    the same operations, at the top of a band); the value summed per row into
    ``totals[i]``, so neither depends on ``T``."""
    H, W = x.shape
    zero = eps - eps
    for t in prange(T):
        lo, hi = t * H // T, (t + 1) * H // T
        py_up = np.zeros(W, x.dtype)
        py = np.empty(W, x.dtype)
        if lo > 0:
            for j in range(W):
                gx = x[lo - 1, j + 1] - x[lo - 1, j] if j < W - 1 else zero
                gy = x[lo, j] - x[lo - 1, j]
                py_up[j] = gy / np.sqrt(gx * gx + gy * gy + eps2)
        for i in range(lo, hi):
            px_left = zero
            row = 0.0
            for j in range(W):
                gx = x[i, j + 1] - x[i, j] if j < W - 1 else zero
                gy = x[i + 1, j] - x[i, j] if i < H - 1 else zero
                mag = np.sqrt(gx * gx + gy * gy + eps2)
                row += mag - eps
                px = gx / mag
                py[j] = gy / mag
                v = -(px + py[j])
                if j > 0:
                    v += px_left
                if i > 0:
                    v += py_up[j]
                g[i, j] = v
                px_left = px
            py_up, py = py, py_up
            totals[i] = row


def tv_prior(x, eps, out=None):
    """Total variation value and gradient; see :func:`mfsr.kernels.reference.tv_prior`."""
    if not _fast(x) or x.ndim != 2:
        return reference.tv_prior(x, eps, out)
    x = np.ascontiguousarray(x)
    t = x.dtype.type
    g = np.empty_like(x) if out is None else _check_out(out, x.shape, x.dtype)
    totals = np.empty(x.shape[0])
    _tv_prior(x, t(eps), t(float(eps) ** 2), g, totals, min(x.shape[0], 4 * _threads()))
    return float(totals.sum()), g


@njit(inline="always")
def _fidelity(pen, k, gain, ax, y, c, r, g):
    total = 0.0
    for p in range(ax.size):
        d = ax[p] - y[p]
        v, dv = pen(d, k)
        r[p] = d
        total += c[p] * v
        g[p] = gain * c[p] * dv
    return total


@njit(**_PAR)
def _data_fidelity(ax, y, c, kind, k, gain, r, g, totals, B):
    """One partial sum per block of ``B`` elements (a split by size alone)."""
    n = ax.size
    for t in prange(totals.size):
        lo, hi = t * B, min((t + 1) * B, n)
        a, b, c_, r_, g_ = ax[lo:hi], y[lo:hi], c[lo:hi], r[lo:hi], g[lo:hi]
        if kind == 0:
            totals[t] = _fidelity(_quadratic, k, gain, a, b, c_, r_, g_)
        elif kind == 1:
            totals[t] = _fidelity(_charbonnier, k, gain, a, b, c_, r_, g_)
        else:
            totals[t] = _fidelity(_huber, k, gain, a, b, c_, r_, g_)


def data_fidelity(ax, y, c, kind, param, gain):
    """Robust residual weighting in one pass; see
    :func:`mfsr.kernels.reference.data_fidelity`."""
    code, k = _constants(kind, param, getattr(ax, "dtype", np.float64))
    if not _fast(ax, y) or ax.shape != y.shape or ax.dtype != y.dtype:
        return reference.data_fidelity(ax, y, c, kind, param, gain)
    c = np.ascontiguousarray(np.broadcast_to(np.asarray(c, dtype=ax.dtype), ax.shape))
    ax, y = np.ascontiguousarray(ax), np.ascontiguousarray(y)
    r, g = np.empty_like(ax), np.empty_like(ax)
    totals = np.empty(max(1, -(-ax.size // REDUCE_BLOCK)))
    _data_fidelity(ax.ravel(), y.ravel(), c.ravel(), code, k, ax.dtype.type(gain), r.ravel(),
                   g.ravel(), totals, REDUCE_BLOCK)
    return float(gain) * float(totals.sum()), r, g



# ---------------------------------------------------------------- vector updates

def axpy(a, x, y):
    """``y += a * x`` in place, one parallel pass; see :func:`mfsr.kernels.reference.axpy`.

    It is :func:`axpby` with ``out = y``: ``1 * y + a * x`` rounds exactly as
    ``y + a * x``."""
    if x.shape != y.shape:
        raise ValueError(f"x and y must have one shape, got {x.shape} and {y.shape}")
    return axpby(1.0, y, a, x, y)


@njit(**_PAR)
def _axpby_parallel(a, x, b, y, out):
    for i in prange(x.size):
        out[i] = a * x[i] + b * y[i]


def axpby(a, x, b, y, out):
    """``out = a x + b y`` in one parallel pass; see :func:`mfsr.kernels.reference.axpby`."""
    if not x.shape == y.shape == out.shape:
        raise ValueError(f"x, y and out must have one shape, got {x.shape}, {y.shape} and "
                         f"{out.shape}")
    if not (_fast(x, y, out) and x.dtype == y.dtype == out.dtype
            and x.flags.c_contiguous and y.flags.c_contiguous and out.flags.c_contiguous):
        return reference.axpby(a, x, b, y, out)
    t = out.dtype.type  # float(): a 0-d coefficient array is on the host here (free)
    _axpby_parallel(t(float(a)), x.reshape(-1), t(float(b)), y.reshape(-1), out.reshape(-1))
    return out


# ------------------------------------------------------- IRLS smoothness, fused CG steps
#
# Gather form, parallel over rows: each pixel takes its terms of the pairs it belongs to,
# in the order of the reference (per offset: far end, then base).

_SMOOTH_DY = np.array([o[0] for o in common.SMOOTHNESS_OFFSETS], np.int64)
_SMOOTH_DX = np.array([o[1] for o in common.SMOOTHNESS_OFFSETS], np.int64)


@njit(inline="always")
def _far_terms(g, a, vq, vb, w):
    for c in range(g.size):
        g[c] += (a[c] * (vq[c] - vb[c])) * w


@njit(inline="always")
def _base_terms(g, a, vf, vq, w):
    for c in range(g.size):
        g[c] -= (a[c] * (vf[c] - vq[c])) * w


@njit(**_PAR)
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


@njit(**_PAR)
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


@njit(**_PAR)
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


def _smoothness_args(v, alphas):
    """True when the compiled smoothness kernels take ``v`` (H, W) and ``alphas`` (4, H, W)."""
    return (_fast(v, alphas) and v.ndim == 2 and alphas.dtype == v.dtype
            and alphas.shape == (_SMOOTH_DY.size,) + v.shape)


def smoothness_differences(x, out=None):
    """``|x(p + o) - x(p)|`` per offset, ``inf`` outside; see
    :func:`mfsr.kernels.reference.smoothness_differences`."""
    if not _fast(x) or x.ndim != 2:
        return reference.smoothness_differences(x, out)
    x = np.ascontiguousarray(x)
    shape = (_SMOOTH_DY.size,) + x.shape
    d = np.empty(shape, x.dtype) if out is None else _check_out(out, shape, x.dtype)
    _smoothness_differences(x, _SMOOTH_DY, _SMOOTH_DX, x.dtype.type(np.inf), d)
    return d


def weighted_smoothness(v, alphas, out=None, base=None):
    """``base + sum_o w_o D_o^T (alphas[o] D_o v)``, a gather per pixel; see
    :func:`mfsr.kernels.reference.weighted_smoothness`."""
    if not _smoothness_args(v, alphas) or (base is not None and (
            not _fast(base) or base.shape != v.shape or base.dtype != v.dtype)):
        return reference.weighted_smoothness(v, alphas, out, base)
    v, alphas = np.ascontiguousarray(v), np.ascontiguousarray(alphas)
    ws = np.asarray(common.SMOOTHNESS_WEIGHTS, np.float64).astype(v.dtype)
    g = np.empty_like(v) if out is None else _check_out(out, v.shape, v.dtype)
    _weighted_smoothness(v, alphas, _SMOOTH_DY, _SMOOTH_DX, ws,
                         v if base is None else base, base is not None, g)
    return g


def weighted_smoothness_value(v, alphas):
    """``1/2 sum_o w_o sum alphas[o] (D_o v)^2`` as a 0-d float64 array (summed per row);
    see :func:`mfsr.kernels.reference.weighted_smoothness_value`."""
    if not _smoothness_args(v, alphas):
        return reference.weighted_smoothness_value(v, alphas)
    v, alphas = np.ascontiguousarray(v), np.ascontiguousarray(alphas)
    rows = np.empty(v.shape[0])
    _weighted_smoothness_value(v, alphas, _SMOOTH_DY, _SMOOTH_DX,
                               np.asarray(common.SMOOTHNESS_WEIGHTS, np.float64), rows)
    return np.asarray(rows.sum())


def cg_update(gg, pq, x, p, g, q):
    """``x += alpha p``, ``g -= alpha q``, ``alpha = gg / max(pq, 1e-30)``; see
    :func:`mfsr.kernels.reference.cg_update`."""
    if not x.shape == p.shape == g.shape == q.shape:
        raise ValueError("x, p, g and q must have one shape")
    if not common.on_host(gg, pq):
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
    if not common.on_host(gg_new, gg):
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


@njit(**_PAR)
def _huber_weights(r, c, t, one, eps, out):
    for i in prange(r.size):
        out[i] = c[i] * min(one, t / max(abs(r[i]), eps))


@njit(**_PAR)
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


@njit(**_PAR)
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
    hist = _workspace("radix", (_threads(), 1 << _DIGIT), np.int64)
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
    if not (_fast(d) and 0 < n <= d.size):
        return reference.irls_difference_median(d, n)
    unsigned = np.uint32 if d.dtype == np.float32 else np.uint64
    u = np.ascontiguousarray(d).reshape(-1).view(unsigned)  # d >= 0: bits order as values
    a, b = _ranks(u, (n - 1) // 2, n // 2, _histogram(u, 8 * u.dtype.itemsize - _DIGIT, 0, 0))
    lo, hi = np.array([a, b], unsigned).view(d.dtype)
    return np.asarray((lo + hi) * d.dtype.type(0.5))


def irls_data_weights(median, r, confidence, threshold):
    """``c * min(1, t_r / max(|r|, 1e-12))`` in one parallel pass; see
    :func:`mfsr.kernels.reference.irls_data_weights`."""
    if not (_fast(r, confidence) and r.dtype == confidence.dtype
            and r.shape == confidence.shape):
        return reference.irls_data_weights(median, r, confidence, threshold)
    T = r.dtype.type
    t = common.irls_threshold(median, threshold, r.dtype)
    out = np.empty_like(r)
    _huber_weights(np.ascontiguousarray(r).ravel(), np.ascontiguousarray(confidence).ravel(),
                   T(t), T(1.0), T(1e-12), out.ravel())
    return out


def irls_prior_weights(median, d, threshold, weight=1.0, out=None):
    """``weight * min(1, t_p / max(d, 1e-12))`` in one parallel pass (in place when
    ``out`` is ``d``); see :func:`mfsr.kernels.reference.irls_prior_weights`."""
    if not _fast(d):
        return reference.irls_prior_weights(median, d, threshold, weight, out)
    T = d.dtype.type
    t = common.irls_threshold(median, threshold, d.dtype)
    d = np.ascontiguousarray(d)
    out = np.empty_like(d) if out is None else _check_out(out, d.shape, d.dtype)
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


# ---------------------------------------------------------------- kernel-regression merge

@njit(inline="always")
def _merge_flow_at(flow, x, y, gx, gy, one):
    """Bilinear sample of ``flow`` (h, w, 2) at ``(x, y)``, clamped, in the order of
    :func:`mfsr.kernels.reference._sample_flow`."""
    h, w = flow.shape[0], flow.shape[1]
    cx = min(max(x, gx[0]), gx[w - 1])
    cy = min(max(y, gy[0]), gy[h - 1])
    j0 = min(int(np.floor(cx)), max(w - 2, 0))
    i0 = min(int(np.floor(cy)), max(h - 2, 0))
    j1, i1 = min(j0 + 1, w - 1), min(i0 + 1, h - 1)
    a = cx - gx[j0]
    b = cy - gy[i0]
    oa, ob = one - a, one - b
    tx = flow[i0, j0, 0] * oa + flow[i0, j1, 0] * a
    bx = flow[i1, j0, 0] * oa + flow[i1, j1, 0] * a
    ty = flow[i0, j0, 1] * oa + flow[i0, j1, 1] * a
    by = flow[i1, j0, 1] * oa + flow[i1, j1, 1] * a
    return tx * ob + bx * b, ty * ob + by * b


@njit(inline="always")
def _merge_taper(j, p, c):
    """``t = u^2 (3 - 2u)``, ``u = clip(radius - |j - p|, 0, 1)`` (0 outside the window)."""
    u = min(max(c[0] - abs(j - p), c[7] - c[7]), c[1])
    return u * u * (c[4] - c[3] * u)


@njit(**_PAR)
def _kernel_merge(frames, flows, weights, icov, channel, ux, uy, gx, gy, c, radius, out,
                  support):
    """One output row per ``prange`` step: each pixel's sums run over frames, rows,
    columns in a fixed order, whatever the thread that computes it."""
    K, h, w, L = frames.shape
    H, W, C = out.shape
    one, half, two = c[1], c[2], c[3]
    cutoff, tiny, inf = c[5], c[6], c[7]
    zero = one - one
    for P in prange(H):
        num = np.empty_like(out[0, 0])
        den = np.empty_like(out[0, 0])
        bestq = np.empty_like(out[0, 0])
        bestv = np.empty_like(out[0, 0])
        vy = uy[P]
        for Q in range(W):
            vx = ux[Q]
            a, b2, cc = icov[P, Q, 0], two * icov[P, Q, 1], icov[P, Q, 2]
            for ch in range(C):
                num[ch] = zero
                den[ch] = zero
                bestq[ch] = inf
                bestv[ch] = zero
            for k in range(K):
                flow = flows[k]
                fx, fy = _merge_flow_at(flow, vx, vy, gx, gy, one)
                px, py = vx - fx, vy - fy
                fx, fy = _merge_flow_at(flow, px, py, gx, gy, one)
                px, py = vx - fx, vy - fy
                bx, by = int(np.floor(px)), int(np.floor(py))
                for jy in range(max(by - radius + 1, 0), min(by + radius, h - 1) + 1):
                    ty = _merge_taper(gy[jy], py, c)
                    if not ty > zero:
                        continue
                    for jx in range(max(bx - radius + 1, 0), min(bx + radius, w - 1) + 1):
                        wgt = weights[k, jy, jx]
                        if not wgt > zero:  # first: a masked-out sample costs one read
                            continue
                        tx = _merge_taper(gx[jx], px, c)
                        if not tx > zero:
                            continue
                        dx = (gx[jx] + flow[jy, jx, 0]) - vx
                        dy = (gy[jy] + flow[jy, jx, 1]) - vy
                        q = a * dx * dx + b2 * dx * dy + cc * dy * dy
                        g = wgt * ty * tx * np.exp(-half * q) if q <= cutoff else zero
                        if L == 1:
                            ch = channel[jy, jx]
                            v = frames[k, jy, jx, 0]
                            num[ch] += g * v
                            den[ch] += g
                            if q < bestq[ch]:
                                bestq[ch] = q
                                bestv[ch] = v
                        else:
                            for ch in range(C):
                                v = frames[k, jy, jx, ch]
                                num[ch] += g * v
                                den[ch] += g
                                if q < bestq[ch]:
                                    bestq[ch] = q
                                    bestv[ch] = v
            for ch in range(C):
                if den[ch] > tiny:
                    out[P, Q, ch] = num[ch] / den[ch]
                    support[P, Q, ch] = den[ch]
                elif bestq[ch] < inf:
                    out[P, Q, ch] = bestv[ch]
                    support[P, Q, ch] = zero
                else:
                    out[P, Q, ch] = zero
                    support[P, Q, ch] = -one


def kernel_merge(frames, flows, weights, icov, channel, n_channels, scale, phase, radius):
    """Kernel-regression merge, parallel over output rows; see
    :func:`mfsr.kernels.reference.kernel_merge`."""
    if not (_fast(frames) and frames.ndim == 4):
        return reference.kernel_merge(frames, flows, weights, icov, channel, n_channels,
                                      scale, phase, radius)
    T = frames.dtype
    K, h, w, L = frames.shape
    H, W = icov.shape[:2]
    C, radius = int(n_channels), int(radius)
    if L not in (1, C):
        raise ValueError(f"frames must hold 1 or n_channels={C} values per sample, got {L}")
    frames = np.ascontiguousarray(frames)
    flows = np.ascontiguousarray(flows, dtype=T)
    weights = np.ascontiguousarray(weights, dtype=T)
    icov = np.ascontiguousarray(icov, dtype=T)
    channel = np.ascontiguousarray(channel, dtype=np.int32)
    if flows.shape != (K, h, w, 2) or weights.shape != (K, h, w) or icov.shape != (H, W, 3) \
            or channel.shape != (h, w):
        raise ValueError("flows (K, h, w, 2), weights (K, h, w), icov (H, W, 3) and channel "
                         "(h, w) must match frames (K, h, w, L)")
    if L == 1 and C > 0 and (channel.min() < 0 or channel.max() >= C):
        raise ValueError(f"channel values must lie in [0, {C})")
    c = common.merge_constants(radius, T)
    ux = (np.arange(W, dtype=T) - T.type(phase)) / T.type(scale)
    uy = (np.arange(H, dtype=T) - T.type(phase)) / T.type(scale)
    gx, gy = np.arange(w, dtype=T), np.arange(h, dtype=T)
    out = np.empty((H, W, C), T)
    support = np.empty((H, W, C), T)
    _kernel_merge(frames, flows, weights, icov, channel, ux, uy, gx, gy, c, radius, out,
                  support)
    return out, support


# ---------------------------------------------------- Lucas-Kanade flow (registration="gpu")
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


@njit(**_PAR)
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


@njit(**_PAR)
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


@njit(**_PAR)
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


@njit(**_PAR)
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


@njit(**_PAR)
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


@njit(**_PAR)
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


@njit(**_PAR)
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


@njit(**_PAR)
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
    if not _fast(images) or images.ndim != 3:
        return reference.lk_pyramid_down(images)
    images = np.ascontiguousarray(images)
    M, h, w = images.shape
    out = np.empty((M, (h + 1) // 2, (w + 1) // 2), images.dtype)
    _lk_pyramid_down_nb(images, common.gaussian_taps(common.PYRAMID_SIGMA), out)
    return out


def lk_upsample(flows, shape):
    """Flows to the next finer level; see :func:`mfsr.kernels.reference.lk_upsample`."""
    if not _fast(flows) or flows.ndim != 4 or flows.shape[-1] != 2:
        return reference.lk_upsample(flows, shape)
    flows = np.ascontiguousarray(flows)
    H, W = (int(v) for v in shape)
    N, h, w = flows.shape[:3]
    ys, xs, c, _ = _lk_consts(max(h, H), max(w, W), flows.dtype)
    out = np.empty((N, H, W, 2), flows.dtype)
    _lk_upsample_nb(flows, ys[:max(h, H)], xs[:max(w, W)], c, out)
    return out


def lk_level(images, pairs, flows, iterations, window, regularization, smooth, median):
    """All Lucas-Kanade iterations of one pyramid level for a batch of pairs; see
    :func:`mfsr.kernels.reference.lk_level`."""
    if not _fast(images, flows):
        return reference.lk_level(images, pairs, flows, iterations, window, regularization,
                                  smooth, median)
    fi, ri = common.lk_check(images, pairs, flows, median)
    images = np.ascontiguousarray(images)
    T = images.dtype
    N = len(fi)
    M, h, w = images.shape
    ys, xs, c, _ = _lk_consts(h, w, T)
    fi, ri = np.array(fi, np.int64), np.array(ri, np.int64)
    wa = common.gaussian_taps(window)
    ws = common.gaussian_taps(smooth)
    grads = np.empty((M, 3, h, w), T)
    _lk_gradients_nb(images, c, grads)
    products = np.empty((N, 5, h, w), T)
    vert = np.empty((N, 7, h, w), T)
    cur = np.ascontiguousarray(flows, dtype=T)
    spare = [np.empty((N, h, w, 2), T), np.empty((N, h, w, 2), T)]
    for _ in range(int(iterations)):
        _lk_products_nb(grads, fi, ri, cur, ys, xs, c, products)
        _lk_vertical_nb(products, cur, wa, ws, vert)
        new = spare[0] if cur is not spare[0] else spare[1]
        _lk_solve_nb(vert, cur, wa, ws, float(regularization), new)
        if median > 1:
            other = spare[1] if new is spare[0] else spare[0]
            _lk_median_nb(new, int(median), other)
            new = other
        cur = new
    return cur if cur is not flows else cur.copy()


def lk_confidence(forward, backward, tolerance):
    """Forward-backward consistency of a batch; see
    :func:`mfsr.kernels.reference.lk_confidence`."""
    if not _fast(forward) or forward.ndim != 4 or forward.shape != backward.shape or \
            forward.shape[-1] != 2:
        return reference.lk_confidence(forward, backward, tolerance)
    forward = np.ascontiguousarray(forward)
    backward = np.ascontiguousarray(backward, dtype=forward.dtype)
    N, h, w = forward.shape[:3]
    ys, xs, _, _ = _lk_consts(h, w, forward.dtype)
    out = np.empty((N, h, w), forward.dtype)
    _lk_confidence_nb(forward, backward, ys, xs, float(tolerance), out)
    return out

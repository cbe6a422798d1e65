"""Numba system operator: the ELL separable gather (:func:`separable_gather`), the warps'
tables computed in parallel from the LR flows (:func:`prepare_warps`) and the fused
``A = D B W_k`` and its adjoint over all frames (:func:`warp_blur_decimate`,
:func:`warp_blur_decimate_adjoint`); see :mod:`mfsr.kernels.reference.operator`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import reference
from ..geometry import flow_axis_weights
from .common import (PAR, bilerp, check_numpy_out, chunks, cover, fast, partitions, reduce_bands,
                     splat, splat_rows, workspace)

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
        acc = wc[j, 0] * src[np.uint64(cols[j, 0])]  # unsigned: see bilerp
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


@njit(**PAR)
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


@njit(**PAR)
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
    if not fast(z) or z.ndim < 2:
        return reference.separable_gather(z, rows, row_weights, cols, col_weights)
    rows, wr = _ell(rows, row_weights, z.shape[-2], z.dtype, "rows")
    cols, wc = _ell(cols, col_weights, z.shape[-1], z.dtype, "cols")
    lead = z.shape[:-2]
    z3 = np.ascontiguousarray(z).reshape((-1,) + z.shape[-2:])
    out = np.empty((z3.shape[0], rows.shape[0], cols.shape[0]), z.dtype)
    T = chunks(out.shape[0] * out.shape[1])
    if rows.shape[0] <= z3.shape[1]:
        _gather_vertical_first(z3, rows, wr, cols, wc, out, T)
    else:
        _gather_horizontal_first(z3, rows, wr, cols, wc, out, T, _ring_size(rows, wr, 1))
    return out.reshape(lead + out.shape[1:])


@njit(inline="always")
def _warp_row(f, ik, yk, xk, W, z):
    """One row of a warp from its tables (1-D contiguous views)."""
    for q in range(z.size):
        z[q] = bilerp(f, ik[q], W, yk[q], xk[q])


@njit(inline="always")
def _splat_row(buf, ik, yk, xk, W, z):
    for q in range(z.size):
        splat(buf, ik[q], W, z[q], yk[q], xk[q])


# The fused kernels visit output rows frame-innermost (row 0 of every frame, then row 1,
# ...): the K frames of one row read (forward) or splat into (adjoint) nearly the same
# HR rows, which then stay in cache across the frames instead of streaming the whole
# image from memory once per frame (benchmarks/kernels_ab.py measures the gain). Each
# frame keeps its own R slots of the ring, at slot ``(row mod R) K + k``, tagged with
# the row.

@njit(**PAR)
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


@njit(**PAR)
def _wbd_adjoint(y, W, index, wy, wx, identity, rows_t, wr_t, cols_t, wc_t, out, extra, R):
    """``out = sum_k W_k^T (S_y^T y_k S_x)``; the ring holds LR rows expanded to width W;
    each HR row is splatted into its partition's accumulator (``out`` for the first),
    and the accumulators are summed at the end (see :func:`reduce_bands`)."""
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
                cover(buf, W, band, t, p, p + 1)
                dst = buf[lo:hi]
                for q in range(W):
                    dst[q] += z[q]
            else:
                ik, yk, xk = index[k], wy[k], wx[k]
                r0, r1 = splat_rows(ik[lo:hi], W)
                cover(buf, W, band, t, r0, r1)
                _splat_row(buf, ik[lo:hi], yk[lo:hi], xk[lo:hi], W, z)
    reduce_bands(out, extra, band, W)


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


@njit(**PAR)
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
    if not fast(x):
        x = np.asarray(x, dtype=np.float64)
    x = np.ascontiguousarray(x)
    H, W = x.shape
    rows, wr = _ell(rows, row_weights, H, x.dtype, "rows")
    cols, wc = _ell(cols, col_weights, W, x.dtype, "cols")
    K, h, w = index.shape[0], rows.shape[0], cols.shape[0]
    out = np.empty((K, h, w), x.dtype)
    _wbd_forward(x.ravel(), W, index, wy, wx, identity, rows, wr, cols, wc, out,
                 chunks(K * h), _ring_size(rows, wr, -(-H // h)))
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
    if not fast(y):
        y = np.asarray(y, dtype=np.float64)
    y = np.ascontiguousarray(y)
    rows_t, wr = _ell(rows_t, row_weights_t, y.shape[1], y.dtype, "rows_t")
    cols_t, wc = _ell(cols_t, col_weights_t, y.shape[2], y.dtype, "cols_t")
    extra = workspace("splat", (partitions(K * H) - 1, H * W), y.dtype)
    out = np.empty((H, W), y.dtype) if out is None else check_numpy_out(out, (H, W), y.dtype)
    _wbd_adjoint(y, W, index, wy, wx, identity, rows_t, wr, cols_t, wc, out.ravel(), extra,
                 _ring_size(rows_t, wr, 1))
    return out

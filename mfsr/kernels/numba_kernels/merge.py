"""Numba kernel-regression merge of a burst, parallel over output rows
(:func:`kernel_merge`); see :mod:`mfsr.kernels.reference.merge`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import reference
from ..common import check_merge_shapes, merge_constants
from .common import PAR, fast


@njit(inline="always")
def _merge_flow_at(flow, x, y, gx, gy, one):
    """Bilinear sample of ``flow`` (h, w, 2) at ``(x, y)``, clamped, in the order of
    ``_sample_flow`` of :mod:`mfsr.kernels.reference.merge`."""
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


@njit(**PAR)
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
    if not (fast(frames) and frames.ndim == 4):
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
    check_merge_shapes(frames, flows, weights, icov, channel)
    if L == 1 and C > 0 and (channel.min() < 0 or channel.max() >= C):
        raise ValueError(f"channel values must lie in [0, {C})")
    c = merge_constants(radius, T)
    ux = (np.arange(W, dtype=T) - T.type(phase)) / T.type(scale)
    uy = (np.arange(H, dtype=T) - T.type(phase)) / T.type(scale)
    gx, gy = np.arange(w, dtype=T), np.arange(h, dtype=T)
    out = np.empty((H, W, C), T)
    support = np.empty((H, W, C), T)
    _kernel_merge(frames, flows, weights, icov, channel, ux, uy, gx, gy, c, radius, out,
                  support)
    return out, support

"""Reference kernel-regression merge of a burst (:func:`kernel_merge`, gather form: one
output pixel reads the LR samples near it; :func:`mfsr.solvers.kernel_merge`);
``cuda/merge.cu`` in the CuPy set.
"""
from __future__ import annotations

import numpy as np

from ...core.backend import get_array_module
from ..common import merge_constants


def _sample_flow(xp, flow, x, y, one):
    """Bilinear sample of one flow ``(h, w, 2)`` at ``(x, y)`` (clamped to the image):
    ``top = f00 (1 - a) + f01 a``, ``bot = f10 (1 - a) + f11 a``, ``top (1 - b) + bot b``."""
    h, w = flow.shape[:2]
    cx = xp.clip(x, 0, w - 1).astype(x.dtype)
    cy = xp.clip(y, 0, h - 1).astype(y.dtype)
    j0 = xp.minimum(xp.floor(cx).astype(xp.int64), max(w - 2, 0))
    i0 = xp.minimum(xp.floor(cy).astype(xp.int64), max(h - 2, 0))
    j1, i1 = xp.minimum(j0 + 1, w - 1), xp.minimum(i0 + 1, h - 1)
    a = cx - j0.astype(x.dtype)
    b = cy - i0.astype(y.dtype)
    oa, ob = one - a, one - b
    out = []
    for d in range(2):
        f = flow[..., d]
        top = f[i0, j0] * oa + f[i0, j1] * a
        bot = f[i1, j0] * oa + f[i1, j1] * a
        out.append(top * ob + bot * b)
    return out


def kernel_merge(frames, flows, weights, icov, channel, n_channels, scale, phase, radius):
    """Kernel-regression merge (gather form): every HR pixel reads the LR samples near it.

    For HR pixel ``X = (Q, P)`` (column, row) and frame ``k``: ``u = (X - phase) / scale``
    is ``X`` on the reference LR grid; ``p = u - flow_k(u)``, then ``p = u - flow_k(p)``
    (flows sampled bilinearly, clamped) is where ``X`` falls in frame ``k``. The LR
    samples ``j`` of frame ``k`` with ``floor(p) - radius < j <= floor(p) + radius`` (per
    axis, inside the frame) contribute, at their exact positions ``j + flow_k(j)``, with
    ``d = j + flow_k(j) - u`` (LR px), ``q = d^T icov(X) d`` and weight
    ``g = weights[k, j] t(j_x - p_x) t(j_y - p_y) exp(-q / 2)`` (``0`` for ``q`` above
    :data:`~mfsr.kernels.common.MERGE_CUTOFF`), where ``t`` is a smooth window that is 1
    within ``radius - 1`` of ``p`` and 0 from ``radius`` on (so the result does not jump
    where ``floor(p)`` does). Samples with ``weights <= 0`` are skipped. The value of
    channel ``c`` is ``sum g y / sum g``; where that total weight is at most
    :data:`~mfsr.kernels.common.MERGE_TINY`, the value of the sample with the smallest
    ``q`` (first in frame, row, column order) is taken.

    Parameters
    ----------
    frames : array (K, h, w, L), float32 or float64
        LR samples. ``L == 1``: each sample goes to channel ``channel[j]`` only (grey or
        a CFA mosaic); ``L == n_channels``: value ``l`` goes to channel ``l``.
    flows : array (K, h, w, 2)
        ``(dx, dy)`` in LR px: frame ``k`` pixel ``p`` sees the reference at
        ``p + flows[k, p]``; cast to the frames' dtype.
    weights : array (K, h, w) of the frames' dtype
        Per-sample weight (confidence times robustness), ``>= 0``.
    icov : array (H, W, 3) of the frames' dtype
        Inverse kernel covariance ``(a, b, c)`` per HR pixel, in LR px^-2:
        ``q = a dx^2 + 2 b dx dy + c dy^2``.
    channel : int32 array (h, w)
        Output channel of each LR sample (used when ``L == 1``).
    n_channels : int
        ``C``.
    scale : int
    phase : float
        HR coordinate of LR pixel 0's centre.
    radius : int
        Half-width of the window in LR px (``2 radius`` samples per axis), ``>= 1``.

    Returns
    -------
    out : array (H, W, C)
    support : array (H, W, C)
        The total weight; ``0`` where the value is the nearest sample's, ``-1`` where no
        sample with a positive weight is in reach (the value is then 0).
    """
    xp = get_array_module(frames)
    T = frames.dtype
    K, h, w, L = frames.shape
    H, W = icov.shape[:2]
    C = int(n_channels)
    r = int(radius)
    c = xp.asarray(merge_constants(r, T))
    one, half, two, three = c[1], c[2], c[3], c[4]
    flows = flows.astype(T, copy=False)
    ux = ((xp.arange(W, dtype=T) - T.type(phase)) / T.type(scale))[None, :]
    uy = ((xp.arange(H, dtype=T) - T.type(phase)) / T.type(scale))[:, None]
    ux, uy = xp.broadcast_to(ux, (H, W)), xp.broadcast_to(uy, (H, W))
    a, b, cc = icov[..., 0], icov[..., 1], icov[..., 2]
    num = xp.zeros((H, W, C), T)
    den = xp.zeros((H, W, C), T)
    bestq = xp.full((H, W, C), np.inf, T)
    bestv = xp.zeros((H, W, C), T)
    for k in range(K):
        fx, fy = _sample_flow(xp, flows[k], ux, uy, one)
        px, py = ux - fx, uy - fy
        fx, fy = _sample_flow(xp, flows[k], px, py, one)
        px, py = ux - fx, uy - fy
        bx = xp.floor(px).astype(xp.int64)
        by = xp.floor(py).astype(xp.int64)
        for oy in range(-r + 1, r + 1):
            jy = by + oy
            iny = (jy >= 0) & (jy < h)
            jyc = xp.clip(jy, 0, h - 1)
            ty = xp.minimum(xp.maximum(c[0] - xp.abs(jy.astype(T) - py), 0), one).astype(T)
            ty = ty * ty * (three - two * ty)
            for ox in range(-r + 1, r + 1):
                jx = bx + ox
                inx = (jx >= 0) & (jx < w)
                jxc = xp.clip(jx, 0, w - 1)
                tx = xp.minimum(xp.maximum(c[0] - xp.abs(jx.astype(T) - px), 0), one).astype(T)
                tx = tx * tx * (three - two * tx)
                valid = iny & inx & (ty > 0) & (tx > 0)
                wgt = weights[k, jyc, jxc]
                valid &= wgt > 0
                f = flows[k, jyc, jxc]
                dx = (jxc.astype(T) + f[..., 0]) - ux
                dy = (jyc.astype(T) + f[..., 1]) - uy
                q = a * dx * dx + two * b * dx * dy + cc * dy * dy
                g = wgt * ty * tx * xp.exp(-half * q)
                g = xp.where(valid & (q <= c[5]), g, 0).astype(T)
                y = frames[k, jyc, jxc]  # (H, W, L)
                for ch in range(C):
                    if L == 1:
                        sel = valid & (channel[jyc, jxc] == ch)
                        v = y[..., 0]
                    else:
                        sel = valid
                        v = y[..., ch]
                    gs = xp.where(sel, g, 0).astype(T)
                    num[..., ch] += gs * v
                    den[..., ch] += gs
                    better = sel & (q < bestq[..., ch])
                    bestq[..., ch] = xp.where(better, q, bestq[..., ch])
                    bestv[..., ch] = xp.where(better, v, bestv[..., ch])
    ok = den > c[6]
    out = xp.where(ok, num / xp.where(ok, den, 1), xp.where(xp.isfinite(bestq), bestv, 0))
    support = xp.where(ok, den, xp.where(xp.isfinite(bestq), 0, -1))
    return out.astype(T, copy=False), support.astype(T, copy=False)

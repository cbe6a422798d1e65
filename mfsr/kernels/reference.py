"""Reference kernels: plain ``xp`` array code, the definition the fast kernels must match.

Every kernel set (this one, ``numba_kernels``, ``cupy_kernels``) exposes the same
functions with the same signatures and results (to float tolerance):

- ``warp_forward`` / ``warp_adjoint``: bilinear backward warp of one image and its splat.
- ``strided_correlate`` / ``strided_correlate_adjoint``: separable blur + decimation of a
  padded stack and its adjoint.
- ``separable_gather``: ``S_y z S_x^T`` for two small sparse matrices in ELL form (fixed
  entries per row); blur + decimation with the border reflection folded in, and, with
  the transposed tables, its adjoint.
- ``prepare_warps``, ``warp_blur_decimate`` / ``warp_blur_decimate_adjoint``: the
  whole system operator ``A = D B W_k`` over a stack of warps, and ``A^T``; each kernel
  set keeps the warps in its own form (tables here, LR flows in the Numba set).
- ``pairwise_prior``, ``tv_prior``: prior values and gradients.
- ``data_fidelity``: robust residual weighting of the data term.
- ``axpy``, ``axpby``: ``y += a x`` in place and ``out = a x + b y`` (the solvers'
  vector updates).
- ``kernel_merge``: the kernel-regression merge of a burst (gather form, one output
  pixel reads the LR samples near it; :func:`mfsr.solvers.kernel_merge`).

The kernels that return an HR image (``warp_blur_decimate_adjoint``, the priors'
gradients) take an optional ``out`` array to write it into (:mod:`mfsr.kernels.buffers`).
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from .buffers import deliver
from .geometry import bilinear_tables, upsample_flow

NAME = "numpy"


def warp_forward(x, index, wy, wx):
    """Bilinear gather: ``out[p] = bilerp(x, index[p], wy[p], wx[p])``.

    ``index`` (int64, flat) is the top-left neighbour of each output pixel in ``x``
    (``(H, W)``, C-contiguous); ``wy``, ``wx`` (float32) the fractional offsets.
    Returns an array of ``x``'s shape and dtype.
    """
    W = x.shape[1]
    f = x.ravel()
    i = index
    top = f[i] + wx * (f[i + 1] - f[i])
    bot = f[i + W] + wx * (f[i + W + 1] - f[i + W])
    return (top + wy * (bot - top)).reshape(x.shape).astype(x.dtype, copy=False)


def warp_adjoint(y, index, wy, wx):
    """Bilinear splat, the exact adjoint of :func:`warp_forward`."""
    xp = get_array_module(y)
    H, W = y.shape
    v = y.ravel()
    a = v * (1 - wy)
    b = v * wy
    idx = xp.concatenate([index, index + 1, index + W, index + W + 1])
    vals = xp.concatenate([a * (1 - wx), a * wx, b * (1 - wx), b * wx])
    return xp.bincount(idx, weights=vals, minlength=H * W).reshape(H, W).astype(y.dtype)


def strided_correlate(xpad, wy, wx, start, scale, lr_shape):
    """Separable strided correlation over the last two axes.

    ``out[..., i, j] = sum_a sum_b wy[a] wx[b] xpad[..., start[0] + s*i + a,
    start[1] + s*j + b]`` for ``i < lr_shape[0]``, ``j < lr_shape[1]``. ``wy``, ``wx``
    are NumPy float64 tap arrays.
    """
    h, w = lr_shape
    s = scale
    t = sum(float(c) * xpad[..., start[0] + a: start[0] + a + s * (h - 1) + 1: s, :]
            for a, c in enumerate(wy))
    out = sum(float(c) * t[..., start[1] + b: start[1] + b + s * (w - 1) + 1: s]
              for b, c in enumerate(wx))
    return out.astype(xpad.dtype, copy=False)


def strided_correlate_adjoint(y, wy, wx, start, scale, padded_shape):
    """Adjoint of :func:`strided_correlate`: returns ``(..., *padded_shape)``."""
    xp = get_array_module(y)
    h, w = y.shape[-2:]
    s = scale
    lead = y.shape[:-2]
    t = xp.zeros(lead + (h, padded_shape[1]), dtype=y.dtype)
    for b, c in enumerate(wx):
        t[..., start[1] + b: start[1] + b + s * (w - 1) + 1: s] += float(c) * y
    g = xp.zeros(lead + tuple(padded_shape), dtype=y.dtype)
    for a, c in enumerate(wy):
        g[..., start[0] + a: start[0] + a + s * (h - 1) + 1: s, :] += float(c) * t
    return g


def separable_gather(z, rows, row_weights, cols, col_weights):
    """Apply two sparse matrices in ELL form along the last two axes: ``S_y z S_x^T``.

    ``out[..., i, j] = sum_a sum_b row_weights[i, a] col_weights[j, b]
    z[..., rows[i, a], cols[j, b]]``.

    Parameters
    ----------
    z : array (..., H, W)
    rows, row_weights : arrays (h, m_y)
        Column indices (into ``H``; int64) and values of each row of ``S_y``; unused
        entries carry weight 0 and any valid index.
    cols, col_weights : arrays (w, m_x)
        The same for ``S_x`` (indices into ``W``).

    Returns
    -------
    array (..., h, w) of ``z``'s dtype
    """
    xp = get_array_module(z)
    rows, cols = xp.asarray(rows), xp.asarray(cols)
    wr = xp.asarray(row_weights, dtype=z.dtype)
    wc = xp.asarray(col_weights, dtype=z.dtype)
    t = sum(wr[:, a, None] * xp.take(z, rows[:, a], axis=-2) for a in range(rows.shape[1]))
    out = sum(wc[:, b] * xp.take(t, cols[:, b], axis=-1) for b in range(cols.shape[1]))
    return out.astype(z.dtype, copy=False)


def prepare_warps(flows, scale, phase):
    """Precompute what :func:`warp_blur_decimate` needs of ``K`` warps (once per operator).

    Parameters
    ----------
    flows : array (K, h, w, 2)
        LR flows ``(dx, dy)`` in LR pixels; the HR warps are
        ``upsample_flow(flows[k], scale, phase)`` (:mod:`mfsr.kernels.geometry`).
    scale : int
    phase : float

    Returns
    -------
    tuple
        An opaque state for this kernel set's :func:`warp_blur_decimate` and
        :func:`warp_blur_decimate_adjoint`. Here the stacked bilinear tables
        ``(index, wy, wx)``, each ``(K, H*W)``, and ``identity``, a NumPy bool array
        ``(K,)`` flagging warps by a zero flow (their tables are not read).
    """
    xp = get_array_module(flows)
    k, h, w = flows.shape[:3]
    n = scale * h * scale * w
    tables = (xp.empty((k, n), xp.int64), xp.empty((k, n), xp.float32),
              xp.empty((k, n), xp.float32))
    identity = np.zeros(k, bool)
    for i in range(k):
        flow_hr = upsample_flow(flows[i], scale, phase)
        identity[i] = not bool(xp.any(flow_hr != 0))
        bilinear_tables(flow_hr, out=tuple(t[i] for t in tables))
    return tables + (identity,)


def warp_blur_decimate(x, warps, rows, row_weights, cols, col_weights):
    """The system operator ``A x = [S_y (W_k x) S_x^T]_k`` for ``K`` warps in one call.

    Parameters
    ----------
    x : array (H, W)
    warps : tuple
        ``prepare_warps(flows, scale, phase)`` of the same kernel set.
    rows, row_weights, cols, col_weights
        Blur + decimation ``D B`` as for :func:`separable_gather`.

    Returns
    -------
    array (K, h, w)
    """
    xp = get_array_module(x)
    index, wy, wx, identity = warps
    z = xp.stack([x.copy() if identity[k] else warp_forward(x, index[k], wy[k], wx[k])
                  for k in range(len(identity))])
    return separable_gather(z, rows, row_weights, cols, col_weights)


def warp_blur_decimate_adjoint(y, warps, rows_t, row_weights_t, cols_t, col_weights_t,
                               out=None):
    """``A^T y = sum_k W_k^T (S_y^T y_k S_x)``, the adjoint of :func:`warp_blur_decimate`.

    The sampling tables are those of the transposed matrices ``S_y^T`` (``(H, m)``) and
    ``S_x^T`` (``(W, m)``). Returns an array ``(H, W)`` (``out`` when given: a
    C-contiguous array of that shape and ``y``'s dtype).
    """
    index, wy, wx, identity = warps
    z = separable_gather(y, rows_t, row_weights_t, cols_t, col_weights_t)
    total = None
    for k in range(len(identity)):
        zk = z[k] if identity[k] else warp_adjoint(z[k], index[k], wy[k], wx[k])
        total = zk.copy() if total is None else total.__iadd__(zk)
    return deliver(total, out)


def _pair_slices(offset, shape):
    """Slices ``(a, b)`` with ``x[a] = x(p + o)`` and ``x[b] = x(p)`` over valid ``p``."""
    dy, dx = offset
    H, W = shape

    def axis(d, n):
        return (slice(d, n), slice(0, n - d)) if d >= 0 else (slice(0, n + d), slice(-d, n))

    (ay, by), (ax, bx) = axis(dy, H), axis(dx, W)
    return (ay, ax), (by, bx)


def rho(d, kind, param, xp):
    """Penalty and its derivative for a pairwise difference ``d``.

    kind ``"quadratic"``: ``d**2/2``; ``"charbonnier"``: ``sqrt(d**2 + p**2) - p``;
    ``"huber"``: ``d**2/(2p)`` for ``|d| <= p``, else ``|d| - p/2``.
    """
    if kind == "quadratic":
        return 0.5 * d * d, d
    if kind == "charbonnier":
        root = xp.sqrt(d * d + param * param)
        return root - param, d / root
    if kind == "huber":
        a = xp.abs(d)
        return xp.where(a <= param, d * d / (2 * param), a - param / 2), xp.clip(d / param, -1, 1)
    raise ValueError(f"unknown penalty kind {kind!r}")


def pairwise_prior(x, offsets, weights, kind, param, out=None):
    """``R(x) = sum_o w_o sum_p rho(x(p + o) - x(p))`` and its gradient.

    Parameters
    ----------
    x : array (H, W)
    offsets : list of (dy, dx)
    weights : list of float
    kind : {"quadratic", "charbonnier", "huber"}
    param : float
        Smoothing / threshold of ``rho`` (ignored for ``"quadratic"``).
    out : array (H, W), optional
        Where to write the gradient (C-contiguous, ``x``'s dtype).

    Returns
    -------
    (float, array (H, W))
    """
    xp = get_array_module(x)
    g = xp.zeros_like(x)
    total = 0.0
    for o, w in zip(offsets, weights):
        a, b = _pair_slices(o, x.shape)
        v, dv = rho(x[a] - x[b], kind, param, xp)
        total += w * float(v.sum())
        dv *= w
        g[a] += dv
        g[b] -= dv
    return total, deliver(g, out)


def tv_prior(x, eps, out=None):
    """Isotropic total variation ``sum sqrt(dx**2 + dy**2 + eps**2) - eps`` and its gradient.

    Forward differences, zero past the last row / column. ``out``: as for
    :func:`pairwise_prior`.

    Returns
    -------
    (float, array (H, W))
    """
    xp = get_array_module(x)
    gx = xp.zeros_like(x)
    gy = xp.zeros_like(x)
    gx[:, :-1] = x[:, 1:] - x[:, :-1]
    gy[:-1, :] = x[1:, :] - x[:-1, :]
    mag = xp.sqrt(gx * gx + gy * gy + eps**2)
    px, py = gx / mag, gy / mag
    g = -(px + py)  # minus divergence, with the adjoint of the forward differences
    g[:, 1:] += px[:, :-1]
    g[1:, :] += py[:-1, :]
    return float((mag - eps).sum()), deliver(g, out)


def data_fidelity(ax, y, c, kind, param, gain):
    """Robust data term of the residual ``r = ax - y`` with per-pixel weights ``c``.

    ``value = gain * sum(c * rho(r))`` with ``rho`` of :func:`rho`.

    Parameters
    ----------
    ax, y, c : arrays of one shape
        Prediction ``A x``, observations and data weights.
    kind, param
        Penalty, as for :func:`rho`.
    gain : float
        Factor on the penalty.

    Returns
    -------
    value : float
    r : array
        ``ax - y``.
    g : array
        ``gain * c * rho'(r)``, the derivative of the value with respect to ``ax``.
    """
    xp = get_array_module(ax)
    r = ax - y
    v, dv = rho(r, kind, param, xp)
    return gain * float((c * v).sum()), r, (gain * c) * dv



def axpy(a, x, y):
    """``y += a * x`` in place; return ``y``.

    Parameters
    ----------
    a : float
    x, y : arrays of one shape; ``y`` is updated.
    """
    if x.shape != y.shape:
        raise ValueError(f"x and y must have one shape, got {x.shape} and {y.shape}")
    y += a * x
    return y


def axpby(a, x, b, y, out):
    """``out = a x + b y`` elementwise; ``out`` may be ``x`` or ``y``; return ``out``.

    Rounded as the NumPy expression ``a * x + b * y`` in the arrays' dtype, so with
    ``a = 1`` it is bitwise ``x + b * y`` and with ``b = -1`` bitwise ``a * x - y``.

    Parameters
    ----------
    a, b : float
    x, y, out : arrays of one shape and dtype
    """
    if not x.shape == y.shape == out.shape:
        raise ValueError(f"x, y and out must have one shape, got {x.shape}, {y.shape} and "
                         f"{out.shape}")
    out[...] = a * x + b * y
    return out


# ---------------------------------------------------------------- kernel-regression merge

#: Gaussian weights with a Mahalanobis distance ``q`` above this are skipped (exp(-30)).
MERGE_CUTOFF = 60.0
#: A total weight at or below this counts as no weight (the nearest-sample fallback).
MERGE_TINY = 1e-30


def _merge_constants(radius, dtype):
    """``[radius, 1, 1/2, 2, 3, cutoff, tiny, inf]`` in ``dtype``: the constants of
    :func:`kernel_merge`, shared by every kernel set."""
    return np.array([radius, 1.0, 0.5, 2.0, 3.0, MERGE_CUTOFF, MERGE_TINY, np.inf], dtype=dtype)


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
    :data:`MERGE_CUTOFF`), where ``t`` is a smooth window that is 1 within ``radius - 1``
    of ``p`` and 0 from ``radius`` on (so the result does not jump where ``floor(p)``
    does). Samples with ``weights <= 0`` are skipped. The value of channel ``c`` is
    ``sum g y / sum g``; where that total weight is at most :data:`MERGE_TINY`, the value
    of the sample with the smallest ``q`` (first in frame, row, column order) is taken.

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
    c = xp.asarray(_merge_constants(r, T))
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

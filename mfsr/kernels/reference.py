"""Reference kernels: plain ``xp`` array code, the definition the fast kernels must match.

Every kernel set (this one, ``numba_kernels``, ``cupy_kernels``) exposes the same
functions with the same signatures and results (to float tolerance).
"""
from __future__ import annotations

from ..backend import get_array_module

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


def pairwise_prior(x, offsets, weights, kind, param):
    """``R(x) = sum_o w_o sum_p rho(x(p + o) - x(p))`` and its gradient.

    Parameters
    ----------
    x : array (H, W)
    offsets : list of (dy, dx)
    weights : list of float
    kind : {"quadratic", "charbonnier", "huber"}
    param : float
        Smoothing / threshold of ``rho`` (ignored for ``"quadratic"``).

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
    return total, g

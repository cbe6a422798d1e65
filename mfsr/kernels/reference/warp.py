"""Reference warps: the bilinear backward warp of one image by its sampling tables
(:func:`warp_forward`, a gather) and its exact adjoint (:func:`warp_adjoint`, a splat);
``cuda/warp.cu`` in the CuPy set.
"""
from __future__ import annotations

from ...core.backend import get_array_module


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

"""Reference strided blur + decimation: the separable strided correlation of a padded
stack (:func:`strided_correlate`) and its adjoint; ``cuda/sampling.cu`` in the CuPy set.
"""
from __future__ import annotations

from ...core.backend import get_array_module


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

"""CuPy IRLS kernels: the adaptive smoothness prior as a gather (no atomics), the
conjugate-gradient steps with their scalars and inner products on the device, and the
re-weighting with its medians, weights and history values, none of which reads a number
back; ``cuda/irls.cu``, see :mod:`mfsr.kernels.reference.irls`.
"""
from __future__ import annotations

import cupy as cp
import numpy as np

from .. import reference
from ..buffers import check_out, deliver
from ..common import KEY_TYPES, SMOOTHNESS_OFFSETS, takes_smoothness
from .common import blocks, fast, kernel, launch, launch_one_block


def smoothness_differences(x, out=None):
    """``|x(p + o) - x(p)|`` per offset, ``inf`` outside, one pass; see
    :func:`mfsr.kernels.reference.smoothness_differences`."""
    if not fast(x) or x.ndim != 2:
        return reference.smoothness_differences(x, out)
    x = cp.ascontiguousarray(x)
    shape = (len(SMOOTHNESS_OFFSETS),) + tuple(x.shape)
    d = cp.empty(shape, dtype=x.dtype) if out is None else check_out(out, shape, x.dtype)
    launch(kernel("smoothness_differences", x.dtype), d.size,
           (x, x.dtype.type(np.inf), np.int64(x.shape[0]), np.int64(x.shape[1]), d))
    return d


def weighted_smoothness(v, alphas, out=None, base=None):
    """The IRLS smoothness operator as a gather (``irls.cu``, no atomics); see
    :func:`mfsr.kernels.reference.weighted_smoothness`."""
    if not takes_smoothness(fast, v, alphas, base):
        return reference.weighted_smoothness(v, alphas, out, base)
    v, alphas = cp.ascontiguousarray(v), cp.ascontiguousarray(alphas)
    if base is not None:
        base = cp.ascontiguousarray(base)
    if out is None or not (isinstance(out, cp.ndarray) and out.shape == v.shape
                           and out.dtype == v.dtype and out.flags.c_contiguous):
        g = cp.empty_like(v)
    else:
        g = out  # written per pixel after reading base at the same pixel: may be base
    launch(kernel("weighted_smoothness", v.dtype), v.size,
           (v, alphas, v if base is None else base, np.int32(base is not None),
            np.int64(v.shape[0]), np.int64(v.shape[1]), g))
    return g if out is None or g is out else deliver(g, out)


def weighted_smoothness_value(v, alphas):
    """The IRLS smoothness value as a 0-d float64 device array (per-pixel values, then one
    deterministic sum; no host read); see
    :func:`mfsr.kernels.reference.weighted_smoothness_value`."""
    if not takes_smoothness(fast, v, alphas):
        return reference.weighted_smoothness_value(v, alphas)
    v, alphas = cp.ascontiguousarray(v), cp.ascontiguousarray(alphas)
    values = cp.empty(v.shape, dtype=cp.float64)
    launch(kernel("weighted_smoothness_value", v.dtype), v.size,
           (v, alphas, np.int64(v.shape[0]), np.int64(v.shape[1]), values))
    return values.sum()


def _scalar_args(dtype, *values):
    """Scalars as one-element device arrays of ``dtype`` for the CG kernels, or None when
    one is not a device array (then the reference runs)."""
    if not all(isinstance(v, cp.ndarray) and v.size == 1 for v in values):
        return None
    return tuple(cp.ascontiguousarray(v, dtype=dtype).reshape(1) for v in values)


def _cg_fast(*arrays):
    return fast(*arrays) and all(a.dtype == arrays[0].dtype and a.flags.c_contiguous
                                 for a in arrays)


def cg_update(gg, pq, x, p, g, q):
    """``x += alpha p``, ``g -= alpha q`` in one pass, ``alpha`` read on the device; see
    :func:`mfsr.kernels.reference.cg_update`."""
    if not x.shape == p.shape == g.shape == q.shape:
        raise ValueError("x, p, g and q must have one shape")
    scalars = _scalar_args(x.dtype, gg, pq) if _cg_fast(x, p, g, q) else None
    if scalars is None:
        return reference.cg_update(gg, pq, x, p, g, q)
    launch(kernel("cg_update", x.dtype), x.size, scalars + (np.int64(x.size), x, p, g, q))
    return x, g


def cg_direction(gg_new, gg, g, p):
    """``p = g + (gg_new / gg) p`` in one pass, the ratio read on the device; see
    :func:`mfsr.kernels.reference.cg_direction`."""
    if g.shape != p.shape:
        raise ValueError(f"g and p must have one shape, got {g.shape} and {p.shape}")
    scalars = _scalar_args(p.dtype, gg_new, gg) if _cg_fast(g, p) else None
    if scalars is None:
        return reference.cg_direction(gg_new, gg, g, p)
    launch(kernel("cg_direction", p.dtype), p.size, scalars + (np.int64(p.size), g, p))
    return p


def cg_step(gg, x, p, g, q):
    """``<p, q>``, the updates of :func:`cg_update` and the new ``<g, g>`` (a 0-d device
    array of ``x``'s dtype) in four launches, the inner products summed in double per
    block and then in one block (deterministic, no atomics, no host read); see
    :func:`mfsr.kernels.reference.cg_step`."""
    if not x.shape == p.shape == g.shape == q.shape:
        raise ValueError("x, p, g and q must have one shape")
    scalars = _scalar_args(x.dtype, gg) if _cg_fast(x, p, g, q) else None
    if scalars is None:
        return reference.cg_step(gg, x, p, g, q)
    T, n = x.dtype, np.int64(x.size)
    nb = blocks(x.size)
    partials = cp.zeros((2, nb), dtype=cp.float64)
    pq, gg_new = cp.empty(1, dtype=T), cp.empty(1, dtype=T)
    launch(kernel("dot_partials", T), x.size, (p, q, n, partials[0]))
    launch_one_block(kernel("sum_partials", T), (partials[0], np.int64(nb), pq))
    launch(kernel("cg_update_dot", T), x.size, scalars + (pq, n, x, p, g, q, partials[1]))
    launch_one_block(kernel("sum_partials", T), (partials[1], np.int64(nb), gg_new))
    return gg_new.reshape(())


_VALUE_TYPES = {np.dtype(k): v for v, k in KEY_TYPES.items()}


def irls_residuals(ax, y, confidence):
    """``r = ax - y`` and the sort keys of ``|r|`` in one pass; see
    :func:`mfsr.kernels.reference.irls_residuals`."""
    if not (fast(ax, y, confidence) and ax.dtype == y.dtype == confidence.dtype
            and ax.shape == y.shape == confidence.shape):
        return reference.irls_residuals(ax, y, confidence)
    ax, y, c = (cp.ascontiguousarray(a) for a in (ax, y, confidence))
    r = cp.empty_like(ax)
    keys = cp.empty(ax.size, dtype=KEY_TYPES[ax.dtype])
    launch(kernel("irls_residuals", ax.dtype), ax.size,
           (ax, y, c, np.int64(ax.size), r, keys))
    return r, keys


def irls_key_median(keys):
    """The residuals' median as a 0-d device array: ``cp.sort`` of the keys, then one
    thread reads it; see :func:`mfsr.kernels.reference.irls_key_median`."""
    if not (isinstance(keys, cp.ndarray) and keys.ndim == 1 and keys.size
            and keys.dtype in _VALUE_TYPES):
        return reference.irls_key_median(keys)
    median = cp.empty((), _VALUE_TYPES[keys.dtype])
    launch(kernel("irls_key_median", median.dtype), 1,
           (cp.sort(keys), np.int64(keys.size), median))
    return median


def irls_difference_median(d, n):
    """The median of the ``n`` smallest differences as a 0-d device array: ``cp.sort``,
    then one thread reads it; see :func:`mfsr.kernels.reference.irls_difference_median`."""
    n = int(n)
    if not (fast(d) and 0 <= n <= d.size):
        return reference.irls_difference_median(d, n)
    median = cp.empty((), d.dtype)
    launch(kernel("irls_sorted_median", d.dtype), 1,
           (cp.sort(d, axis=None), np.int64(n), median))
    return median


def _device_scalar(value, dtype):
    """``value`` as a 0-d device array of ``dtype`` (no copy when it is one)."""
    if isinstance(value, cp.ndarray) and value.dtype == dtype and value.ndim == 0:
        return value
    return cp.asarray(value, dtype=dtype).reshape(())


def irls_data_weights(median, r, confidence, threshold):
    """The data weights in one pass, the median read on the device; see
    :func:`mfsr.kernels.reference.irls_data_weights`."""
    if not (fast(r, confidence) and r.dtype == confidence.dtype and r.shape ==
            confidence.shape):
        return reference.irls_data_weights(median, r, confidence, threshold)
    r, c = cp.ascontiguousarray(r), cp.ascontiguousarray(confidence)
    out = cp.empty_like(r)
    launch(kernel("irls_data_weights", r.dtype), r.size,
           (_device_scalar(median, r.dtype), r, c, np.float64(threshold),
            np.int64(r.size), out))
    return out


def irls_prior_weights(median, d, threshold, weight=1.0, out=None):
    """The pair weights in one pass, the median read on the device (in place when
    ``out`` is ``d``); see :func:`mfsr.kernels.reference.irls_prior_weights`."""
    if not fast(d) or (out is not None and not fast(out)):
        return reference.irls_prior_weights(median, d, threshold, weight, out)
    d = cp.ascontiguousarray(d)
    out = cp.empty_like(d) if out is None else check_out(out, d.shape, d.dtype)
    launch(kernel("irls_prior_weights", d.dtype), d.size,
           (_device_scalar(median, d.dtype), d, np.float64(threshold),
            d.dtype.type(weight), np.int32(weight != 1.0), np.int64(d.size), out))
    return out


def irls_objective(ax, y, beta, confidence, x, alphas=None):
    """The IRLS history values as two 0-d float64 device arrays, in two launches (block
    sums in double, then one block; deterministic, no host read); see
    :func:`mfsr.kernels.reference.irls_objective`."""
    if not (fast(ax, y, beta, confidence) and ax.dtype == y.dtype == beta.dtype ==
            confidence.dtype and ax.shape == y.shape == beta.shape == confidence.shape) or \
            (alphas is not None and not takes_smoothness(fast, x, alphas)) or \
            (alphas is not None and x.dtype != ax.dtype):
        return reference.irls_objective(ax, y, beta, confidence, x, alphas)
    ax, y, beta, c = (cp.ascontiguousarray(a) for a in (ax, y, beta, confidence))
    if alphas is None:
        v = a = ax
        H = W = 0
    else:
        v, a = cp.ascontiguousarray(x), cp.ascontiguousarray(alphas)
        H, W = v.shape
    n = max(ax.size, H * W)
    nb = blocks(n)
    partials = cp.zeros(3 * nb, dtype=cp.float64)
    launch(kernel("irls_objective_partials", ax.dtype), n,
           (ax, y, beta, c, np.int64(ax.size), v, a, np.int32(alphas is not None),
            np.int64(H), np.int64(W), np.int64(nb), partials))
    out = cp.empty(2, dtype=cp.float64)
    launch_one_block(kernel("irls_objective_sum", ax.dtype), (partials, np.int64(nb), out))
    return out[0], out[1]

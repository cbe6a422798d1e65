"""CuPy kernels: the functions of :mod:`mfsr.kernels.reference` as CUDA kernels.

Same names, signatures and results (to float rounding) as the reference; the registry
(:func:`mfsr.kernels.kernels_for`) hands this module out for CuPy arrays, and importing
it without CuPy raises ``ImportError``, on which the registry falls back to the
reference (plain ``xp`` code that also runs on CuPy arrays, only slower).

The CUDA C sources live next to this file in ``cuda/*.cu`` (package data) so that
``nvcc`` can compile them on their own (``tests/test_cuda_compile.py``). They are
compiled at first use by CuPy (NVRTC, cached on disk by CuPy), in ``float`` and
``double`` variants; other dtypes go through the reference code. Kernel arguments that
the solvers pass as small NumPy arrays (PSF taps, prior offsets and weights) are copied
to the device once and cached, so repeated calls inside a solver loop make no
host-to-device copies. Only :func:`pairwise_prior` and :func:`tv_prior` read one number
back (their value, a Python ``float`` as in the reference);
:func:`pairwise_prior_gradient` is the gradient alone, with no read. The sums the
solvers keep on the device (:func:`cg_step`'s inner products, :func:`irls_objective`)
are taken per block in double and then in one block, in a fixed order: deterministic.
"""
from __future__ import annotations

import functools

import cupy as cp
import numpy as np

from . import common, reference
from .buffers import check_out, deliver
from .cuda import KERNELS, SUFFIXES, source
from .geometry import flow_axis_weights
from .reference import axpby, axpy, rho  # noqa: F401  (xp code, shared with the reference)

NAME = "cupy"
PENALTIES = {"quadratic": 0, "charbonnier": 1, "huber": 2}  # MFSR_* codes in mfsr_common.cuh
THREADS = 256
MAX_BLOCKS = 1 << 16  # grid-stride loops cover larger problems
_SUFFIX = {np.dtype(k): v for k, v in SUFFIXES.items()}


@functools.cache
def _module(name):
    return cp.RawModule(code=source(name), options=("-std=c++17",))


def _kernel(function, dtype):
    return _module(KERNELS[function]).get_function(f"{function}_{_SUFFIX[np.dtype(dtype)]}")


def _blocks(n):
    """Blocks of a launch over ``n`` indices (also the number of partial sums a
    ``mfsr_block_store`` kernel leaves)."""
    return max(1, min(-(-int(n) // THREADS), MAX_BLOCKS))


def _launch(kernel, n, args):
    kernel((_blocks(n),), (THREADS,), args)


def _launch_one_block(kernel, args):
    """A kernel that sums partials in one block (``MFSR_ONE_BLOCK_LOOP``)."""
    kernel((1,), (THREADS,), args)


@functools.lru_cache(maxsize=256)
def _constant(values, dtype, device):
    """A small device array made once per (values, dtype, device)."""
    return cp.asarray(np.asarray(values, dtype=dtype))


def _device_constant(values, dtype):
    """``values`` (a few numbers, on the host or the device) as a cached device array."""
    host = cp.asnumpy(values) if isinstance(values, cp.ndarray) else np.asarray(values)
    return _constant(tuple(host.ravel().tolist()), np.dtype(dtype).str, cp.cuda.Device().id)


def _fast(*arrays):
    """True when the CUDA kernels handle these arrays (float32/float64 CuPy arrays)."""
    return all(isinstance(a, cp.ndarray) and a.dtype in _SUFFIX for a in arrays)


def _warp_args(index, wy, wx, n):
    index = cp.ascontiguousarray(index, dtype=cp.int64)
    wy = cp.ascontiguousarray(wy, dtype=cp.float32)
    wx = cp.ascontiguousarray(wx, dtype=cp.float32)
    if not index.size == wy.size == wx.size == n:
        raise ValueError(f"index, wy and wx must have one entry per pixel ({n}), got "
                         f"{index.size}, {wy.size}, {wx.size}")
    return index, wy, wx


def warp_forward(x, index, wy, wx):
    """Bilinear gather; see :func:`mfsr.kernels.reference.warp_forward`."""
    if not _fast(x):
        return reference.warp_forward(x, index, wy, wx)
    x = cp.ascontiguousarray(x)
    index, wy, wx = _warp_args(index, wy, wx, x.size)
    out = cp.empty_like(x)
    _launch(_kernel("warp_forward", x.dtype), x.size,
            (x, index, wy, wx, np.int64(x.shape[1]), np.int64(x.size), out))
    return out


def warp_adjoint(y, index, wy, wx):
    """Bilinear splat (atomic adds); see :func:`mfsr.kernels.reference.warp_adjoint`."""
    if not _fast(y):
        return reference.warp_adjoint(y, index, wy, wx)
    y = cp.ascontiguousarray(y)
    index, wy, wx = _warp_args(index, wy, wx, y.size)
    out = cp.zeros_like(y)
    _launch(_kernel("warp_adjoint", y.dtype), y.size,
            (y, index, wy, wx, np.int64(y.shape[1]), np.int64(y.size), out))
    return out


def _sampling_args(wy, wx, start, scale, lr_shape, padded_shape, dtype):
    (h, w), (ph, pw), s = lr_shape, padded_shape, int(scale)
    ny, nx = len(wy), len(wx)
    if ny < 1 or nx < 1:
        raise ValueError("wy and wx must hold at least one tap each")
    s0, s1 = int(start[0]), int(start[1])
    if min(s0, s1) < 0 or s0 + s * (h - 1) + ny > ph or s1 + s * (w - 1) + nx > pw:
        raise ValueError(f"taps ({ny}, {nx}) from start {tuple(start)} with scale {s} over "
                         f"{(h, w)} outputs leave the padded shape {(ph, pw)}")
    return (_device_constant(wy, dtype), np.int32(ny), _device_constant(wx, dtype),
            np.int32(nx), np.int64(s0), np.int64(s1), np.int64(s), np.int64(ph),
            np.int64(pw), np.int64(h), np.int64(w))


def strided_correlate(xpad, wy, wx, start, scale, lr_shape):
    """Blur + decimate in one pass; see :func:`mfsr.kernels.reference.strided_correlate`."""
    if not _fast(xpad):
        return reference.strided_correlate(xpad, wy, wx, start, scale, lr_shape)
    xpad = cp.ascontiguousarray(xpad)
    args = _sampling_args(wy, wx, start, scale, lr_shape, xpad.shape[-2:], xpad.dtype)
    out = cp.empty(xpad.shape[:-2] + tuple(lr_shape), dtype=xpad.dtype)
    _launch(_kernel("strided_correlate", xpad.dtype), out.size,
            (xpad,) + args + (np.int64(out.size), out))
    return out


def strided_correlate_adjoint(y, wy, wx, start, scale, padded_shape):
    """Gather-form adjoint; see :func:`mfsr.kernels.reference.strided_correlate_adjoint`."""
    if not _fast(y):
        return reference.strided_correlate_adjoint(y, wy, wx, start, scale, padded_shape)
    y = cp.ascontiguousarray(y)
    args = _sampling_args(wy, wx, start, scale, y.shape[-2:], padded_shape, y.dtype)
    out = cp.empty(y.shape[:-2] + tuple(padded_shape), dtype=y.dtype)
    _launch(_kernel("strided_correlate_adjoint", y.dtype), out.size,
            (y,) + args + (np.int64(out.size), out))
    return out


def pairwise_prior(x, offsets, weights, kind, param, out=None):
    """All offsets in one fused pass; see :func:`mfsr.kernels.reference.pairwise_prior`.
    (``out`` receives a copy: CuPy's memory pool already reuses the images.)"""
    if kind not in PENALTIES:
        raise ValueError(f"unknown penalty kind {kind!r}")
    if not _fast(x) or x.ndim != 2:
        return reference.pairwise_prior(x, offsets, weights, kind, param, out)
    offsets = [(int(dy), int(dx)) for dy, dx in offsets]
    if len(offsets) != len(weights):
        raise ValueError(f"offsets ({len(offsets)}) and weights ({len(weights)}) differ in length")
    x = cp.ascontiguousarray(x)
    grad = cp.empty_like(x)
    if not offsets:
        grad.fill(0)
        return 0.0, deliver(grad, out)
    total = cp.zeros(1, dtype=cp.float64)
    _launch(_kernel("pairwise_prior", x.dtype), x.size,
            (x, _device_constant(offsets, np.int32), _device_constant(weights, x.dtype),
             np.int32(len(offsets)), np.int32(PENALTIES[kind]), x.dtype.type(param),
             np.int64(x.shape[0]), np.int64(x.shape[1]), grad, total))
    return float(total[0]), deliver(grad, out)



def pairwise_prior_gradient(x, offsets, weights, kind, param, out=None, base=None,
                            scale=1.0):
    """``base + scale * grad R(x)`` in one pass, no value and no host read; see
    :func:`mfsr.kernels.reference.pairwise_prior_gradient`."""
    if kind not in PENALTIES:
        raise ValueError(f"unknown penalty kind {kind!r}")
    if not _fast(x) or x.ndim != 2 or not offsets or (base is not None and (
            not _fast(base) or base.shape != x.shape or base.dtype != x.dtype)):
        return reference.pairwise_prior_gradient(x, offsets, weights, kind, param, out,
                                                 base, scale)
    offsets = [(int(dy), int(dx)) for dy, dx in offsets]
    if len(offsets) != len(weights):
        raise ValueError(f"offsets ({len(offsets)}) and weights ({len(weights)}) differ in length")
    x = cp.ascontiguousarray(x)
    if base is not None:
        base = cp.ascontiguousarray(base)
    if out is not None and isinstance(out, cp.ndarray) and out.shape == x.shape and \
            out.dtype == x.dtype and out.flags.c_contiguous:
        g = out  # written per pixel after reading base at the same pixel: may be base
    else:
        g = cp.empty_like(x)
    t = x.dtype.type
    _launch(_kernel("pairwise_prior_gradient", x.dtype), x.size,
            (x, _device_constant(offsets, np.int32), _device_constant(weights, x.dtype),
             np.int32(len(offsets)), np.int32(PENALTIES[kind]), t(param),
             np.int64(x.shape[0]), np.int64(x.shape[1]), x if base is None else base,
             np.int32(base is not None), t(scale), np.int32(scale != 1.0), g))
    return g if out is None or g is out else deliver(g, out)


def tv_prior(x, eps, out=None):
    """Isotropic TV in one fused pass; see :func:`mfsr.kernels.reference.tv_prior`."""
    if not _fast(x) or x.ndim != 2:
        return reference.tv_prior(x, eps, out)
    x = cp.ascontiguousarray(x)
    grad = cp.empty_like(x)
    total = cp.zeros(1, dtype=cp.float64)
    _launch(_kernel("tv_prior", x.dtype), x.size,
            (x, x.dtype.type(eps), np.int64(x.shape[0]), np.int64(x.shape[1]), grad, total))
    return float(total[0]), deliver(grad, out)


def data_fidelity(ax, y, c, kind, param, gain):
    """Residual, weighted derivative and value in one pass; see
    :func:`mfsr.kernels.reference.data_fidelity`."""
    if kind not in PENALTIES:
        raise ValueError(f"unknown penalty kind {kind!r}")
    if not _fast(ax, y, c) or not ax.dtype == y.dtype == c.dtype or \
            not ax.shape == y.shape == c.shape:
        return reference.data_fidelity(ax, y, c, kind, param, gain)
    ax, y, c = (cp.ascontiguousarray(a) for a in (ax, y, c))
    r, g = cp.empty_like(ax), cp.empty_like(ax)
    total = cp.zeros(1, dtype=cp.float64)
    t = ax.dtype.type
    _launch(_kernel("data_fidelity", ax.dtype), ax.size,
            (ax, y, c, np.int32(PENALTIES[kind]), t(param), t(gain), np.int64(ax.size), r, g,
             total))
    return gain * float(total[0]), r, g


def _smoothness_args(v, alphas):
    n = len(common.SMOOTHNESS_OFFSETS)
    return (_fast(v, alphas) and v.ndim == 2 and alphas.dtype == v.dtype
            and tuple(alphas.shape) == (n,) + tuple(v.shape))


def smoothness_differences(x, out=None):
    """``|x(p + o) - x(p)|`` per offset, ``inf`` outside, one pass; see
    :func:`mfsr.kernels.reference.smoothness_differences`."""
    if not _fast(x) or x.ndim != 2:
        return reference.smoothness_differences(x, out)
    x = cp.ascontiguousarray(x)
    shape = (len(common.SMOOTHNESS_OFFSETS),) + tuple(x.shape)
    d = cp.empty(shape, dtype=x.dtype) if out is None else check_out(out, shape, x.dtype)
    _launch(_kernel("smoothness_differences", x.dtype), d.size,
            (x, x.dtype.type(np.inf), np.int64(x.shape[0]), np.int64(x.shape[1]), d))
    return d


def weighted_smoothness(v, alphas, out=None, base=None):
    """The IRLS smoothness operator as a gather (``irls.cu``, no atomics); see
    :func:`mfsr.kernels.reference.weighted_smoothness`."""
    if not _smoothness_args(v, alphas) or (base is not None and (
            not _fast(base) or base.shape != v.shape or base.dtype != v.dtype)):
        return reference.weighted_smoothness(v, alphas, out, base)
    v, alphas = cp.ascontiguousarray(v), cp.ascontiguousarray(alphas)
    if base is not None:
        base = cp.ascontiguousarray(base)
    if out is None or not (isinstance(out, cp.ndarray) and out.shape == v.shape
                           and out.dtype == v.dtype and out.flags.c_contiguous):
        g = cp.empty_like(v)
    else:
        g = out  # written per pixel after reading base at the same pixel: may be base
    _launch(_kernel("weighted_smoothness", v.dtype), v.size,
            (v, alphas, v if base is None else base, np.int32(base is not None),
             np.int64(v.shape[0]), np.int64(v.shape[1]), g))
    return g if out is None or g is out else deliver(g, out)


def weighted_smoothness_value(v, alphas):
    """The IRLS smoothness value as a 0-d float64 device array (per-pixel values, then one
    deterministic sum; no host read); see
    :func:`mfsr.kernels.reference.weighted_smoothness_value`."""
    if not _smoothness_args(v, alphas):
        return reference.weighted_smoothness_value(v, alphas)
    v, alphas = cp.ascontiguousarray(v), cp.ascontiguousarray(alphas)
    values = cp.empty(v.shape, dtype=cp.float64)
    _launch(_kernel("weighted_smoothness_value", v.dtype), v.size,
            (v, alphas, np.int64(v.shape[0]), np.int64(v.shape[1]), values))
    return values.sum()


def _scalar_args(dtype, *values):
    """Scalars as one-element device arrays of ``dtype`` for the CG kernels, or None when
    one is not a device array (then the reference runs)."""
    if not all(isinstance(v, cp.ndarray) and v.size == 1 for v in values):
        return None
    return tuple(cp.ascontiguousarray(v, dtype=dtype).reshape(1) for v in values)


def _cg_fast(*arrays):
    return _fast(*arrays) and all(a.dtype == arrays[0].dtype and a.flags.c_contiguous
                                  for a in arrays)


def cg_update(gg, pq, x, p, g, q):
    """``x += alpha p``, ``g -= alpha q`` in one pass, ``alpha`` read on the device; see
    :func:`mfsr.kernels.reference.cg_update`."""
    if not x.shape == p.shape == g.shape == q.shape:
        raise ValueError("x, p, g and q must have one shape")
    scalars = _scalar_args(x.dtype, gg, pq) if _cg_fast(x, p, g, q) else None
    if scalars is None:
        return reference.cg_update(gg, pq, x, p, g, q)
    _launch(_kernel("cg_update", x.dtype), x.size, scalars + (np.int64(x.size), x, p, g, q))
    return x, g


def cg_direction(gg_new, gg, g, p):
    """``p = g + (gg_new / gg) p`` in one pass, the ratio read on the device; see
    :func:`mfsr.kernels.reference.cg_direction`."""
    if g.shape != p.shape:
        raise ValueError(f"g and p must have one shape, got {g.shape} and {p.shape}")
    scalars = _scalar_args(p.dtype, gg_new, gg) if _cg_fast(g, p) else None
    if scalars is None:
        return reference.cg_direction(gg_new, gg, g, p)
    _launch(_kernel("cg_direction", p.dtype), p.size, scalars + (np.int64(p.size), g, p))
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
    nb = _blocks(x.size)
    partials = cp.zeros((2, nb), dtype=cp.float64)
    pq, gg_new = cp.empty(1, dtype=T), cp.empty(1, dtype=T)
    _launch(_kernel("dot_partials", T), x.size, (p, q, n, partials[0]))
    _launch_one_block(_kernel("sum_partials", T), (partials[0], np.int64(nb), pq))
    _launch(_kernel("cg_update_dot", T), x.size, scalars + (pq, n, x, p, g, q, partials[1]))
    _launch_one_block(_kernel("sum_partials", T), (partials[1], np.int64(nb), gg_new))
    return gg_new.reshape(())


_KEY_TYPES = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}
_VALUE_TYPES = {np.dtype(k): v for v, k in _KEY_TYPES.items()}


def irls_residuals(ax, y, confidence):
    """``r = ax - y`` and the sort keys of ``|r|`` in one pass; see
    :func:`mfsr.kernels.reference.irls_residuals`."""
    if not (_fast(ax, y, confidence) and ax.dtype == y.dtype == confidence.dtype
            and ax.shape == y.shape == confidence.shape):
        return reference.irls_residuals(ax, y, confidence)
    ax, y, c = (cp.ascontiguousarray(a) for a in (ax, y, confidence))
    r = cp.empty_like(ax)
    keys = cp.empty(ax.size, dtype=_KEY_TYPES[ax.dtype])
    _launch(_kernel("irls_residuals", ax.dtype), ax.size,
            (ax, y, c, np.int64(ax.size), r, keys))
    return r, keys


def irls_key_median(keys):
    """The residuals' median as a 0-d device array: ``cp.sort`` of the keys, then one
    thread reads it; see :func:`mfsr.kernels.reference.irls_key_median`."""
    if not (isinstance(keys, cp.ndarray) and keys.ndim == 1 and keys.size
            and keys.dtype in _VALUE_TYPES):
        return reference.irls_key_median(keys)
    median = cp.empty((), _VALUE_TYPES[keys.dtype])
    _launch(_kernel("irls_key_median", median.dtype), 1,
            (cp.sort(keys), np.int64(keys.size), median))
    return median


def irls_difference_median(d, n):
    """The median of the ``n`` smallest differences as a 0-d device array: ``cp.sort``,
    then one thread reads it; see :func:`mfsr.kernels.reference.irls_difference_median`."""
    n = int(n)
    if not (_fast(d) and 0 <= n <= d.size):
        return reference.irls_difference_median(d, n)
    median = cp.empty((), d.dtype)
    _launch(_kernel("irls_sorted_median", d.dtype), 1,
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
    if not (_fast(r, confidence) and r.dtype == confidence.dtype and r.shape ==
            confidence.shape):
        return reference.irls_data_weights(median, r, confidence, threshold)
    r, c = cp.ascontiguousarray(r), cp.ascontiguousarray(confidence)
    out = cp.empty_like(r)
    _launch(_kernel("irls_data_weights", r.dtype), r.size,
            (_device_scalar(median, r.dtype), r, c, np.float64(threshold),
             np.int64(r.size), out))
    return out


def irls_prior_weights(median, d, threshold, weight=1.0, out=None):
    """The pair weights in one pass, the median read on the device (in place when
    ``out`` is ``d``); see :func:`mfsr.kernels.reference.irls_prior_weights`."""
    if not _fast(d) or (out is not None and not _fast(out)):
        return reference.irls_prior_weights(median, d, threshold, weight, out)
    d = cp.ascontiguousarray(d)
    out = cp.empty_like(d) if out is None else check_out(out, d.shape, d.dtype)
    _launch(_kernel("irls_prior_weights", d.dtype), d.size,
            (_device_scalar(median, d.dtype), d, np.float64(threshold),
             d.dtype.type(weight), np.int32(weight != 1.0), np.int64(d.size), out))
    return out


def irls_objective(ax, y, beta, confidence, x, alphas=None):
    """The IRLS history values as two 0-d float64 device arrays, in two launches (block
    sums in double, then one block; deterministic, no host read); see
    :func:`mfsr.kernels.reference.irls_objective`."""
    if not (_fast(ax, y, beta, confidence) and ax.dtype == y.dtype == beta.dtype ==
            confidence.dtype and ax.shape == y.shape == beta.shape == confidence.shape) or \
            (alphas is not None and not _smoothness_args(x, alphas)) or \
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
    nb = _blocks(n)
    partials = cp.zeros(3 * nb, dtype=cp.float64)
    _launch(_kernel("irls_objective_partials", ax.dtype), n,
            (ax, y, beta, c, np.int64(ax.size), v, a, np.int32(alphas is not None),
             np.int64(H), np.int64(W), np.int64(nb), partials))
    out = cp.empty(2, dtype=cp.float64)
    _launch_one_block(_kernel("irls_objective_sum", ax.dtype), (partials, np.int64(nb), out))
    return out[0], out[1]


def _ell_args(idx, wts, n_out, name):
    idx = cp.ascontiguousarray(cp.asarray(idx), dtype=cp.int64)
    wts = cp.ascontiguousarray(cp.asarray(wts), dtype=cp.float64)
    if idx.ndim != 2 or idx.shape != wts.shape or idx.shape[0] != n_out:
        raise ValueError(f"{name} tables must be two arrays of shape ({n_out}, m), got "
                         f"{tuple(idx.shape)} and {tuple(wts.shape)}")
    return idx, wts, np.int32(idx.shape[1])


def _gather_rows(z, idx, wts, m, zw=None):
    """``t[..., i, :] = sum_a wts[i, a] z[..., idx[i, a], :]`` (of ``zw * z`` with ``zw``)."""
    n_in, width = z.shape[-2:]
    t = cp.empty(z.shape[:-2] + (idx.shape[0], width), dtype=z.dtype)
    dims = (m, np.int64(n_in), np.int64(idx.shape[0]), np.int64(width), np.int64(t.size), t)
    if zw is None:
        _launch(_kernel("ell_gather_rows", z.dtype), t.size, (z, idx, wts) + dims)
    else:
        _launch(_kernel("ell_gather_rows_weighted", z.dtype), t.size, (z, zw, idx, wts) + dims)
    return t


def _gather_cols(t, idx, wts, m):
    """``out[..., j] = sum_b wts[j, b] t[..., idx[j, b]]``."""
    out = cp.empty(t.shape[:-1] + (idx.shape[0],), dtype=t.dtype)
    _launch(_kernel("ell_gather_cols", t.dtype), out.size,
            (t, idx, wts, m, np.int64(t.shape[-1]), np.int64(idx.shape[0]),
             np.int64(out.size), out))
    return out


def separable_gather(z, rows, row_weights, cols, col_weights):
    """``S_y z S_x^T`` as two gathers (rows, then columns); see
    :func:`mfsr.kernels.reference.separable_gather`."""
    if not _fast(z) or z.ndim < 2:
        return reference.separable_gather(z, rows, row_weights, cols, col_weights)
    z = cp.ascontiguousarray(z)
    rows, row_weights, my = _ell_args(rows, row_weights, len(rows), "row")
    cols, col_weights, mx = _ell_args(cols, col_weights, len(cols), "column")
    t = _gather_rows(z, rows, row_weights, my)
    return _gather_cols(t, cols, col_weights, mx)


class GpuWarps:
    """The warps of :func:`prepare_warps`: the LR flows and the per-axis tables that
    upsample them, from which the kernels compute each HR pixel's bilinear weights on
    the fly (a few bytes per LR pixel, instead of 12-16 bytes per HR pixel and frame)."""

    def __init__(self, flows, scale, phase):
        xp = cp
        self.flows = cp.ascontiguousarray(flows, dtype=cp.float32)
        self.n_frames, h, w = (int(v) for v in self.flows.shape[:3])
        self.lr_shape = (h, w)
        self.scale = int(scale)
        self.hr_shape = (self.scale * h, self.scale * w)
        self.rows = tuple(xp.asarray(a) for a in flow_axis_weights(h, self.scale, phase))
        self.cols = tuple(xp.asarray(a) for a in flow_axis_weights(w, self.scale, phase))
        # one device-to-host copy per operator: which frames do not move
        moving = cp.any(self.flows.reshape(self.n_frames, -1) != 0, axis=1)
        self.identity = ~cp.asnumpy(moving)
        self.identity_device = cp.asarray(self.identity.astype(np.int32))

    def args(self):
        """Kernel arguments from ``r0`` to ``w_lr`` (see ``operator.cu``)."""
        return (*self.rows, *self.cols, np.float32(self.scale), np.int64(self.lr_shape[0]),
                np.int64(self.lr_shape[1]))


def prepare_warps(flows, scale, phase):
    """The warps of ``flows`` (K, h, w, 2) in this kernel set's form (:class:`GpuWarps`);
    see :func:`mfsr.kernels.reference.prepare_warps`."""
    if not isinstance(flows, cp.ndarray):
        return reference.prepare_warps(flows, scale, phase)
    if flows.ndim != 4 or flows.shape[-1] != 2:
        raise ValueError(f"flows must have shape (K, h, w, 2), got {tuple(flows.shape)}")
    return GpuWarps(flows, scale, phase)


def _check_warps(warps, hr_shape):
    if not isinstance(warps, GpuWarps):
        raise TypeError(f"warps must come from cupy_kernels.prepare_warps, got "
                        f"{type(warps).__name__}")
    if warps.hr_shape != tuple(hr_shape):
        raise ValueError(f"warps are for HR images of {warps.hr_shape}, not {tuple(hr_shape)}")
    return warps


def warp_blur_decimate(x, warps, rows, row_weights, cols, col_weights):
    """``A x`` over all frames: warp on the fly, then the two gathers; see
    :func:`mfsr.kernels.reference.warp_blur_decimate`."""
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D image, got shape {tuple(x.shape)}")
    warps = _check_warps(warps, x.shape)
    dtype = x.dtype
    if not _fast(x):
        x = x.astype(cp.float32)
    x = cp.ascontiguousarray(x)
    rows, row_weights, my = _ell_args(rows, row_weights, len(rows), "row")
    cols, col_weights, mx = _ell_args(cols, col_weights, len(cols), "column")
    H, W = x.shape
    z = cp.empty((warps.n_frames, H, W), dtype=x.dtype)
    _launch(_kernel("warp_frames", x.dtype), z.size,
            (x, warps.flows, warps.identity_device, *warps.args(), np.int64(H), np.int64(W),
             np.int64(z.size), z))
    out = _gather_cols(_gather_rows(z, rows, row_weights, my), cols, col_weights, mx)
    return out.astype(dtype, copy=False)


def warp_blur_decimate_adjoint(y, warps, rows_t, row_weights_t, cols_t, col_weights_t,
                               out=None, weights=None):
    """``A^T y``: the row gather (reading ``weights * y`` with ``weights``), then the
    column gather fused with the splats; see
    :func:`mfsr.kernels.reference.warp_blur_decimate_adjoint`."""
    _check_warps(warps, warps.hr_shape if isinstance(warps, GpuWarps) else ())
    if y.ndim != 3 or tuple(y.shape) != (warps.n_frames,) + warps.lr_shape:
        raise ValueError(f"y must have shape {(warps.n_frames,) + warps.lr_shape}, got "
                         f"{tuple(y.shape)}")
    H, W = warps.hr_shape
    dtype = y.dtype
    if not _fast(y):
        y = y.astype(cp.float32)
    y = cp.ascontiguousarray(y)
    if weights is not None:
        if tuple(weights.shape) != tuple(y.shape):
            raise ValueError(f"weights must have y's shape {tuple(y.shape)}, got "
                             f"{tuple(weights.shape)}")
        weights = cp.ascontiguousarray(weights, dtype=y.dtype)
    rows_t, row_weights_t, my = _ell_args(rows_t, row_weights_t, H, "transposed row")
    cols_t, col_weights_t, mx = _ell_args(cols_t, col_weights_t, W, "transposed column")
    t = _gather_rows(y, rows_t, row_weights_t, my, weights)  # (K, H, w)
    total = cp.zeros((H, W), dtype=y.dtype)
    _launch(_kernel("gather_cols_splat", y.dtype), total.size,
            (t, cols_t, col_weights_t, mx, warps.flows, warps.identity_device,
             np.int32(warps.n_frames), *warps.args(), np.int64(H), np.int64(W),
             np.int64(y.shape[2]), total))
    return deliver(total.astype(dtype, copy=False), out)


#: channels one thread accumulates in ``merge.cu`` (MFSR_MERGE_MAX_CHANNELS)
MERGE_MAX_CHANNELS = 8


def kernel_merge(frames, flows, weights, icov, channel, n_channels, scale, phase, radius):
    """Kernel-regression merge, one thread per HR pixel (a gather: no atomics); see
    :func:`mfsr.kernels.reference.kernel_merge`."""
    if not (_fast(frames) and frames.ndim == 4):
        return reference.kernel_merge(frames, flows, weights, icov, channel, n_channels,
                                      scale, phase, radius)
    T = np.dtype(frames.dtype)
    K, h, w, L = (int(v) for v in frames.shape)
    H, W = (int(v) for v in icov.shape[:2])
    C, radius = int(n_channels), int(radius)
    if L not in (1, C):
        raise ValueError(f"frames must hold 1 or n_channels={C} values per sample, got {L}")
    if not 1 <= C <= MERGE_MAX_CHANNELS:
        raise ValueError(f"n_channels must be in [1, {MERGE_MAX_CHANNELS}] on the GPU, got {C}")
    frames = cp.ascontiguousarray(frames)
    flows = cp.ascontiguousarray(flows, dtype=cp.float32)
    weights = cp.ascontiguousarray(weights, dtype=T)
    icov = cp.ascontiguousarray(icov, dtype=T)
    channel = cp.ascontiguousarray(channel, dtype=cp.int32)
    if tuple(flows.shape) != (K, h, w, 2) or tuple(weights.shape) != (K, h, w) or \
            tuple(icov.shape) != (H, W, 3) or tuple(channel.shape) != (h, w):
        raise ValueError("flows (K, h, w, 2), weights (K, h, w), icov (H, W, 3) and channel "
                         "(h, w) must match frames (K, h, w, L)")
    consts = _device_constant(common.merge_constants(radius, T), T)
    out = cp.empty((H, W, C), dtype=T)
    support = cp.empty((H, W, C), dtype=T)
    t = T.type
    _launch(_kernel("kernel_merge", T), H * W,
            (frames, flows, weights, icov, channel, consts, np.int32(radius), np.int64(K),
             np.int64(h), np.int64(w), np.int32(L), np.int32(C), t(scale), t(phase),
             np.int64(H), np.int64(W), out, support))
    return out, support


# ---------------------------------------------------- Lucas-Kanade flow (registration="gpu")

def lk_pyramid_down(images):
    """One pyramid step of a stack; see :func:`mfsr.kernels.reference.lk_pyramid_down`."""
    if not _fast(images) or images.ndim != 3:
        return reference.lk_pyramid_down(images)
    images = cp.ascontiguousarray(images)
    M, h, w = (int(v) for v in images.shape)
    ho, wo = (h + 1) // 2, (w + 1) // 2
    taps = common.gaussian_taps(common.PYRAMID_SIGMA)
    out = cp.empty((M, ho, wo), dtype=images.dtype)
    _launch(_kernel("lk_pyramid_down", images.dtype), out.size,
            (images, _device_constant(taps, np.float64), np.int32(len(taps) // 2),
             np.int64(h), np.int64(w), np.int64(ho), np.int64(wo), np.int64(out.size), out))
    return out


def lk_upsample(flows, shape):
    """Flows to the next finer level; see :func:`mfsr.kernels.reference.lk_upsample`."""
    if not _fast(flows) or flows.ndim != 4 or flows.shape[-1] != 2:
        return reference.lk_upsample(flows, shape)
    flows = cp.ascontiguousarray(flows)
    N, h, w = (int(v) for v in flows.shape[:3])
    H, W = (int(v) for v in shape)
    out = cp.empty((N, H, W, 2), dtype=flows.dtype)
    _launch(_kernel("lk_upsample", flows.dtype), out.size,
            (flows, np.int64(h), np.int64(w), np.int64(H), np.int64(W), np.int64(out.size),
             out))
    return out


def lk_level(images, pairs, flows, iterations, window, regularization, smooth, median):
    """All Lucas-Kanade iterations of one pyramid level for a batch of pairs, four
    launches per iteration (products, row sums, column sums + solve, median); see
    :func:`mfsr.kernels.reference.lk_level`."""
    if not _fast(images, flows):
        return reference.lk_level(images, pairs, flows, iterations, window, regularization,
                                  smooth, median)
    fi, ri = common.lk_check(images, pairs, flows, median)
    T = images.dtype
    images = cp.ascontiguousarray(images)
    M, h, w = (int(v) for v in images.shape)
    N = len(fi)
    fi, ri = _device_constant(fi, np.int64), _device_constant(ri, np.int64)
    wa, ws = common.gaussian_taps(window), common.gaussian_taps(smooth)
    taps = (_device_constant(wa, np.float64), np.int32(len(wa) // 2),
            _device_constant(ws, np.float64), np.int32(len(ws) // 2))
    dims = (np.int64(h), np.int64(w))
    grads = cp.empty((M, 3, h, w), dtype=T)
    _launch(_kernel("lk_gradients", T), M * h * w, (images, *dims, np.int64(M * h * w), grads))
    products = cp.empty((N, 5, h, w), dtype=T)
    vert = cp.empty((N, 7, h, w), dtype=T)
    cur = cp.ascontiguousarray(flows, dtype=T)
    spare = [cp.empty((N, h, w, 2), dtype=T), cp.empty((N, h, w, 2), dtype=T)]
    n = N * h * w
    for _ in range(int(iterations)):
        _launch(_kernel("lk_products", T), n, (grads, fi, ri, cur, *dims, np.int64(n), products))
        _launch(_kernel("lk_vertical", T), 7 * n,
                (products, cur, *taps, *dims, np.int64(7 * n), vert))
        new = spare[0] if cur is not spare[0] else spare[1]
        _launch(_kernel("lk_solve", T), n,
                (vert, cur, *taps, np.float64(regularization), *dims, np.int64(n), new))
        if median > 1:
            other = spare[1] if new is spare[0] else spare[0]
            _launch(_kernel("lk_median", T), 2 * n,
                    (new, np.int32(median), *dims, np.int64(2 * n), other))
            new = other
        cur = new
    return cur if cur is not flows else cur.copy()


def lk_confidence(forward, backward, tolerance):
    """Forward-backward consistency of a batch; see
    :func:`mfsr.kernels.reference.lk_confidence`."""
    if not _fast(forward) or forward.ndim != 4 or forward.shape != backward.shape or \
            forward.shape[-1] != 2:
        return reference.lk_confidence(forward, backward, tolerance)
    forward = cp.ascontiguousarray(forward)
    backward = cp.ascontiguousarray(backward, dtype=forward.dtype)
    N, h, w = (int(v) for v in forward.shape[:3])
    out = cp.empty((N, h, w), dtype=forward.dtype)
    _launch(_kernel("lk_confidence", forward.dtype), out.size,
            (forward, backward, np.float64(tolerance), np.int64(h), np.int64(w),
             np.int64(out.size), out))
    return out


_FILTER_BORDERS = {"zero": 0, "replicate": 1}
# MFSR_FILTER_* and MFSR_FINISH_* in filter.cu
_FILTER_VALUE, _FILTER_SQUARE, _FILTER_WEIGHTED, _FILTER_WEIGHTED_DIFFERENCE = 0, 1, 2, 3
_FINISH_NONE, _FINISH_ROOT, _FINISH_RATIO, _FINISH_MINUS_RATIO = 0, 1, 2, 3


def _filter(a, b, taps, border, mode, finish, floor, zero_image, c=None):
    """The two passes of ``filter.cu`` over C-contiguous ``(n, h, w)`` stacks."""
    n, h, w = a.shape
    taps = _device_constant(taps, np.float64)
    t = cp.empty_like(a)
    # the weights' filtered image (not read nor written without weights)
    t2 = cp.empty_like(a) if mode >= _FILTER_WEIGHTED else cp.empty(1, a.dtype)
    edge = np.int32(_FILTER_BORDERS[border])
    _launch(_kernel("filter_rows", a.dtype), a.size,
            (a, a if b is None else b, a if c is None else c, taps, np.int32(taps.size),
             edge, np.int32(mode), np.int64(w), np.int64(a.size), t, t2))
    out = cp.empty_like(a)
    _launch(_kernel("filter_cols", a.dtype), a.size,
            (t, t2, a, taps, np.int32(taps.size), edge, np.int32(finish), a.dtype.type(floor),
             np.int64(-1 if zero_image is None else zero_image), np.int64(h), np.int64(w),
             np.int64(a.size), out))
    return out


def local_filter(stack, taps, border="zero", square=False, root=False):
    """Two launches (rows, columns); see :func:`mfsr.kernels.reference.local_filter`."""
    if not _fast(stack) or stack.ndim < 2 or len(taps) % 2 == 0:
        return reference.local_filter(stack, taps, border, square, root)
    flat = cp.ascontiguousarray(stack).reshape((-1,) + tuple(stack.shape[-2:]))
    out = _filter(flat, None, taps, border, _FILTER_SQUARE if square else _FILTER_VALUE,
                  _FINISH_ROOT if root else _FINISH_NONE, 0.0, None)
    return out.reshape(stack.shape)


def normalized_filter(values, weights, taps, floor=1e-3, zero_image=None):
    """Two launches (rows, columns); see
    :func:`mfsr.kernels.reference.normalized_filter`."""
    if not _fast(values, weights) or values.ndim != 3 or weights.shape != values.shape \
            or weights.dtype != values.dtype or len(taps) % 2 == 0:
        return reference.normalized_filter(values, weights, taps, floor, zero_image)
    values, weights = cp.ascontiguousarray(values), cp.ascontiguousarray(weights)
    return _filter(values, weights, taps, "zero", _FILTER_WEIGHTED, _FINISH_RATIO, floor,
                   zero_image)


def warp_difference(frames, image, flows):
    """One launch over the stack; see :func:`mfsr.kernels.reference.warp_difference`."""
    if not _fast(frames, image) or frames.ndim != 3 or image.dtype != frames.dtype or \
            tuple(image.shape) != tuple(frames.shape[1:]) or \
            tuple(flows.shape) != tuple(frames.shape) + (2,):
        return reference.warp_difference(frames, image, flows)
    frames, image = cp.ascontiguousarray(frames), cp.ascontiguousarray(image)
    flows = cp.ascontiguousarray(flows, dtype=cp.float32)
    out = cp.empty_like(frames)
    _launch(_kernel("warp_difference", frames.dtype), frames.size,
            (frames, image, flows, np.int64(frames.shape[1]), np.int64(frames.shape[2]),
             np.int64(frames.size), out))
    return out


def remove_offsets(observed, ax, weights, taps, reference, floor=1e-3):
    """Two launches (rows, columns); see :func:`mfsr.kernels.reference.remove_offsets`."""
    if not _fast(observed, ax, weights) or observed.ndim != 3 or \
            not observed.shape == ax.shape == weights.shape or \
            not observed.dtype == ax.dtype == weights.dtype or len(taps) % 2 == 0:
        return reference.remove_offsets(observed, ax, weights, taps, reference, floor)
    observed, ax, weights = (cp.ascontiguousarray(a) for a in (observed, ax, weights))
    return _filter(observed, weights, taps, "zero", _FILTER_WEIGHTED_DIFFERENCE,
                   _FINISH_MINUS_RATIO, floor, reference, c=ax)

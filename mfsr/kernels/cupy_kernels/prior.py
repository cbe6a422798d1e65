"""CuPy priors: the pairwise priors' value and gradient in one fused pass over all offsets
(:func:`pairwise_prior`), the gradient alone with no host read
(:func:`pairwise_prior_gradient`) and total variation (:func:`tv_prior`);
``cuda/prior.cu``, see :mod:`mfsr.kernels.reference.prior`.
"""
from __future__ import annotations

import cupy as cp
import numpy as np

from .. import reference
from ..buffers import deliver
from ..common import PENALTIES, check_offsets
from .common import device_values, fast, kernel, launch


def pairwise_prior(x, offsets, weights, kind, param, out=None):
    """All offsets in one fused pass; see :func:`mfsr.kernels.reference.pairwise_prior`.
    (``out`` receives a copy: CuPy's memory pool already reuses the images.)"""
    if kind not in PENALTIES:
        raise ValueError(f"unknown penalty kind {kind!r}")
    if not fast(x) or x.ndim != 2:
        return reference.pairwise_prior(x, offsets, weights, kind, param, out)
    offsets = check_offsets(offsets, weights)
    x = cp.ascontiguousarray(x)
    grad = cp.empty_like(x)
    if not offsets:
        grad.fill(0)
        return 0.0, deliver(grad, out)
    total = cp.zeros(1, dtype=cp.float64)
    launch(kernel("pairwise_prior", x.dtype), x.size,
           (x, device_values(offsets, np.int32), device_values(weights, x.dtype),
            np.int32(len(offsets)), np.int32(PENALTIES[kind]), x.dtype.type(param),
            np.int64(x.shape[0]), np.int64(x.shape[1]), grad, total))
    return float(total[0]), deliver(grad, out)


def pairwise_prior_gradient(x, offsets, weights, kind, param, out=None, base=None,
                            scale=1.0):
    """``base + scale * grad R(x)`` in one pass, no value and no host read; see
    :func:`mfsr.kernels.reference.pairwise_prior_gradient`."""
    if kind not in PENALTIES:
        raise ValueError(f"unknown penalty kind {kind!r}")
    if not fast(x) or x.ndim != 2 or not offsets or (base is not None and (
            not fast(base) or base.shape != x.shape or base.dtype != x.dtype)):
        return reference.pairwise_prior_gradient(x, offsets, weights, kind, param, out,
                                                 base, scale)
    offsets = check_offsets(offsets, weights)
    x = cp.ascontiguousarray(x)
    if base is not None:
        base = cp.ascontiguousarray(base)
    if out is not None and isinstance(out, cp.ndarray) and out.shape == x.shape and \
            out.dtype == x.dtype and out.flags.c_contiguous:
        g = out  # written per pixel after reading base at the same pixel: may be base
    else:
        g = cp.empty_like(x)
    t = x.dtype.type
    launch(kernel("pairwise_prior_gradient", x.dtype), x.size,
           (x, device_values(offsets, np.int32), device_values(weights, x.dtype),
            np.int32(len(offsets)), np.int32(PENALTIES[kind]), t(param),
            np.int64(x.shape[0]), np.int64(x.shape[1]), x if base is None else base,
            np.int32(base is not None), t(scale), np.int32(scale != 1.0), g))
    return g if out is None or g is out else deliver(g, out)


def tv_prior(x, eps, out=None):
    """Isotropic TV in one fused pass; see :func:`mfsr.kernels.reference.tv_prior`."""
    if not fast(x) or x.ndim != 2:
        return reference.tv_prior(x, eps, out)
    x = cp.ascontiguousarray(x)
    grad = cp.empty_like(x)
    total = cp.zeros(1, dtype=cp.float64)
    launch(kernel("tv_prior", x.dtype), x.size,
           (x, x.dtype.type(eps), np.int64(x.shape[0]), np.int64(x.shape[1]), grad, total))
    return float(total[0]), deliver(grad, out)

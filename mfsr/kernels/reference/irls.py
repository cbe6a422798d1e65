"""Reference IRLS kernels: the adaptive smoothness prior (:func:`smoothness_differences`,
:func:`weighted_smoothness`, :func:`weighted_smoothness_value`), the conjugate-gradient
steps whose scalars stay on the device (:func:`cg_update`, :func:`cg_direction`,
:func:`cg_step`) and the re-weighting with its medians and history values
(:func:`irls_residuals` to :func:`irls_objective`); ``cuda/irls.cu`` in the CuPy set.
"""
from __future__ import annotations

import numpy as np

from ...core.backend import get_array_module
from ..buffers import deliver
from ..common import (KEY_TYPES, SMOOTHNESS_OFFSETS, SMOOTHNESS_WEIGHTS, irls_threshold, on_host,
                      pair_slices)
from .vector import axpby, axpy

# ------------------------------------------------------- IRLS smoothness, fused CG steps


def smoothness_differences(x, out=None):
    """``d[o, p] = |x(p + o) - x(p)|`` for the
    :data:`~mfsr.kernels.common.SMOOTHNESS_OFFSETS`, ``+inf`` where ``p + o`` is outside
    the image.

    Parameters
    ----------
    x : array (H, W)
    out : array (4, H, W), optional

    Returns
    -------
    array (4, H, W) of ``x``'s dtype
        Sorted, the ``n`` valid differences come first (``n = sum (H - |dy|) (W - |dx|)``).
    """
    xp = get_array_module(x)
    d = xp.full((len(SMOOTHNESS_OFFSETS),) + tuple(x.shape), np.inf, dtype=x.dtype)
    for o, offset in enumerate(SMOOTHNESS_OFFSETS):
        a, b = pair_slices(offset, x.shape)
        d[o][b] = xp.abs(x[a] - x[b])
    return deliver(d, out)


def weighted_smoothness(v, alphas, out=None, base=None):
    """``g = base + sum_o w_o D_o^T (alphas[o] D_o v)``: the gradient of
    :func:`weighted_smoothness_value`, a symmetric positive semi-definite map of ``v``.

    ``(D_o v)(p) = v(p + o) - v(p)`` over the
    :data:`~mfsr.kernels.common.SMOOTHNESS_OFFSETS` ``o`` with weights ``w_o``
    (:data:`~mfsr.kernels.common.SMOOTHNESS_WEIGHTS`).

    Parameters
    ----------
    v : array (H, W)
    alphas : array (4, H, W) of ``v``'s dtype
        Weight of each pair at its base ``p`` (``alphas[o, p]`` for the pair
        ``(p, p + o)``); entries whose pair leaves the image are not read.
    out : array (H, W), optional
    base : array (H, W), optional
        Added to the result (e.g. the data term's part of a normal map); may be ``out``.

    Returns
    -------
    array (H, W)
    """
    xp = get_array_module(v)
    g = xp.zeros_like(v)
    for o, (offset, w) in enumerate(zip(SMOOTHNESS_OFFSETS, SMOOTHNESS_WEIGHTS)):
        a, b = pair_slices(offset, v.shape)
        d = (alphas[o][b] * (v[a] - v[b])) * w
        g[a] += d
        g[b] -= d
    if base is not None:
        g = base + g
    return deliver(g, out)


def weighted_smoothness_value(v, alphas):
    """``1/2 sum_o w_o sum_p alphas[o, p] (D_o v)(p)^2`` (see :func:`weighted_smoothness`),
    accumulated in float64, as a 0-d float64 array of ``v``'s array module (on the device
    for device arrays: no host read)."""
    xp = get_array_module(v)
    total = xp.zeros(v.shape, dtype=xp.float64)
    for o, (offset, w) in enumerate(zip(SMOOTHNESS_OFFSETS, SMOOTHNESS_WEIGHTS)):
        a, b = pair_slices(offset, v.shape)
        d = (v[a] - v[b]).astype(xp.float64)
        total[b] += w * (alphas[o][b].astype(xp.float64) * (d * d))
    return xp.asarray((0.5 * total).sum())


def cg_update(gg, pq, x, p, g, q):
    """One conjugate-gradient step in place: ``x += alpha p``, ``g -= alpha q`` with
    ``alpha = gg / max(pq, 1e-30)`` computed in float64 (``0`` when ``gg == 0``) and then
    rounded to the arrays' dtype.

    Parameters
    ----------
    gg, pq : float or 0-d arrays
        ``g . g`` and ``p . q``; 0-d device arrays are read on the device (no host sync).
    x, p, g, q : arrays of one shape and dtype
        ``x`` and ``g`` are updated.
    """
    if not x.shape == p.shape == g.shape == q.shape:
        raise ValueError("x, p, g and q must have one shape")
    if on_host(gg, pq):
        num, den = float(gg), float(pq)
        alpha = num / max(den, 1e-30) if num != 0.0 else 0.0
        axpy(alpha, p, x)
        axpy(-alpha, q, g)
        return x, g
    xp = get_array_module(x)
    num, den = _as_float64(gg, xp), _as_float64(pq, xp)
    alpha = xp.where(num != 0, num / xp.maximum(den, 1e-30), 0).astype(x.dtype)
    x += alpha * p
    g -= alpha * q
    return x, g


def cg_direction(gg_new, gg, g, p):
    """The new conjugate-gradient direction in place: ``p = g + (gg_new / gg) p``, the
    ratio in float64 (``0`` when ``gg == 0``) rounded to the arrays' dtype; scalars as
    for :func:`cg_update`."""
    if g.shape != p.shape:
        raise ValueError(f"g and p must have one shape, got {g.shape} and {p.shape}")
    if on_host(gg_new, gg):
        num, den = float(gg_new), float(gg)
        return axpby(1.0, g, num / den if den != 0.0 else 0.0, p, p)
    xp = get_array_module(p)
    num, den = _as_float64(gg_new, xp), _as_float64(gg, xp)
    ratio = xp.where(den != 0, num / xp.where(den != 0, den, 1), 0).astype(p.dtype)
    p *= ratio
    p += g
    return p


def cg_step(gg, x, p, g, q):
    """One conjugate-gradient step with its two inner products: ``pq = <p, q>``,
    ``x += alpha p``, ``g -= alpha q`` (``alpha`` as in :func:`cg_update`), and return
    the new ``<g, g>``, a 0-d array (or scalar) of ``x``'s array module and dtype, on the
    device for device arrays (no host read).

    The inner products are ``xp.vdot`` here (and in the Numba set); the CUDA set sums
    them per block, in double, in a fixed order (deterministic), and rounds them to the
    dtype.
    """
    xp = get_array_module(x)
    cg_update(gg, xp.vdot(p, q), x, p, g, q)
    return xp.vdot(g, g)


def _as_float64(v, xp):
    return xp.asarray(v).astype(xp.float64)


# ------------------------------------------------------------------- IRLS re-weighting
#
# The robust scales of :mod:`mfsr.solvers.irls` are medians, returned as 0-d arrays so
# that no host read is needed (here from a sorted copy; the Numba set selects them by
# radix passes, the CuPy set sorts on the device). The data weights' median
# runs over the residuals of the pixels with confidence above 1/2 (over all of them when
# there is none): :func:`irls_residuals` makes integer sort keys that put those first,
# in the order of ``|r|``, so that one sort serves both cases.


def irls_residuals(ax, y, confidence):
    """The residual ``r = ax - y`` and the sort keys of ``|r|`` for the data weights.

    Returns
    -------
    r : array, ``ax``'s shape and dtype
    keys : 1-D integer array (int32 for float32, int64 for float64)
        The bits of ``|r|`` (non-negative floats order as their bits), shifted below 0
        (plus the type's minimum) where ``confidence > 0.5``: sorted, the ``n`` confident
        residuals come first in the order of ``|r|``, then the others, also in order.
    """
    xp = get_array_module(ax)
    if ax.dtype not in KEY_TYPES:
        raise ValueError(f"ax must be float32 or float64, got {ax.dtype}")
    r = ax - y
    it = KEY_TYPES[ax.dtype]
    bits = xp.abs(r).view(it).ravel()
    keys = xp.where((confidence > 0.5).ravel(), bits | it(np.iinfo(it).min), bits)
    return r, keys


def _key_median(s, xp):
    """The median of :func:`irls_residuals`' keys sorted (``s``), rounded as
    ``np.median``, over the confident ones (all when there is none), as a 0-d array of
    the residuals' dtype."""
    it = s.dtype.type
    dtype = np.float32 if it is np.int32 else np.float64
    bits = it(np.iinfo(it).max)  # clears the flag (sign) bit
    n = xp.searchsorted(s, it(0))  # the confident residuals (negative keys)
    n = xp.where(n == 0, s.size, n)
    lo = xp.asarray(xp.take(s, (n - 1) // 2) & bits).view(dtype)
    hi = xp.asarray(xp.take(s, n // 2) & bits).view(dtype)
    return (lo + hi) * dtype(0.5)


def irls_key_median(keys):
    """The median of ``|r|`` from :func:`irls_residuals`' keys: over the residuals with
    confidence above 1/2, over all of them when there is none; rounded as ``np.median``
    (the mean of the two middle values).

    Parameters
    ----------
    keys : 1-D int32 or int64 array
        The keys of :func:`irls_residuals`.

    Returns
    -------
    0-d array of the residuals' dtype (float32 for int32 keys), on ``keys``' device.
    """
    xp = get_array_module(keys)
    if keys.ndim != 1 or keys.dtype not in (np.int32, np.int64) or keys.size == 0:
        raise ValueError("keys must be the non-empty 1-D int32/int64 keys of irls_residuals, "
                         f"got {keys.dtype} of shape {keys.shape}")
    return xp.asarray(_key_median(xp.sort(keys), xp))


def irls_difference_median(d, n):
    """The median of the ``n`` smallest values of ``d`` (:func:`smoothness_differences`,
    whose ``n`` finite values come before its ``+inf``), rounded as ``np.median``; ``0``
    for ``n == 0``.

    Returns
    -------
    0-d array of ``d``'s dtype, on ``d``'s device.
    """
    xp = get_array_module(d)
    n = int(n)
    if not 0 <= n <= d.size:
        raise ValueError(f"n must lie in [0, d.size = {d.size}], got {n}")
    dtype = d.dtype.type
    if n == 0:
        return xp.zeros((), d.dtype)
    s = xp.sort(d, axis=None)
    return xp.asarray((s[(n - 1) // 2] + s[n // 2]) * dtype(0.5))


def irls_data_weights(median, r, confidence, threshold):
    """Data weights ``c * min(1, t_r / max(|r|, 1e-12))`` with ``t_r =
    irls_threshold(median, threshold)``; in ``r``'s dtype.

    Parameters
    ----------
    median : 0-d array
        The residuals' robust centre, :func:`irls_key_median` of their keys.
    r, confidence : arrays of one shape and dtype
    threshold : float

    Returns
    -------
    array, ``r``'s shape and dtype
    """
    xp = get_array_module(r)
    t = irls_threshold(median, threshold, r.dtype, xp)
    return confidence * xp.minimum(1.0, t / xp.maximum(xp.abs(r), 1e-12))


def irls_prior_weights(median, d, threshold, weight=1.0, out=None):
    """Pair weights ``weight * min(1, t_p / max(d, 1e-12))`` (each product rounded in the
    dtype) from :func:`smoothness_differences` ``d`` (``+inf`` where a pair leaves the
    image: weight 0 there) and ``t_p = irls_threshold(median, threshold)``, ``median``
    that of the valid differences (:func:`irls_difference_median`).

    ``out``: optional array of ``d``'s shape and dtype to write into (``d`` itself: the
    weights replace the differences).

    Returns
    -------
    array (4, H, W) of ``d``'s dtype
    """
    xp = get_array_module(d)
    t = irls_threshold(median, threshold, d.dtype, xp)
    alphas = xp.minimum(1.0, t / xp.maximum(d, 1e-12))
    return deliver(alphas * weight if weight != 1.0 else alphas, out)


def irls_objective(ax, y, beta, confidence, x, alphas=None):
    """The IRLS history values at ``x`` (``ax = A x``): ``0.5 sum beta r^2`` plus
    :func:`weighted_smoothness_value` of ``(x, alphas)`` (none without ``alphas``), and
    ``sqrt(sum c r^2)``, ``r = ax - y``; two 0-d arrays (on the device for device arrays).
    """
    xp = get_array_module(ax)
    r = ax - y
    data = xp.sum(beta * r * r)
    objective = 0.5 * data + weighted_smoothness_value(x, alphas) if alphas is not None \
        else 0.5 * data
    return objective, xp.sqrt(xp.sum(confidence * r * r))

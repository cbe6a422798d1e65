"""Iteratively re-weighted least squares with adaptive data and prior weights.

In the spirit of IRWSR (Koehler et al., "Robust multiframe super-resolution employing
iteratively re-weighted minimization", IEEE TCI 2016): each outer iteration turns the
robust problem into a weighted least-squares one and solves it by a few conjugate-gradient
steps, warm-started.

- Data weights ``beta = c * min(1, t_r / |r|)``: Huber weights of the residuals, with the
  threshold ``t_r = data_threshold * s_r`` and ``s_r`` a robust (MAD) scale of the current
  residuals, times the registration confidence ``c``. Outlier pixels (occlusions, flow
  errors, a bad frame) lose their pull as the iterations go.
- Prior weights ``a_o(p) = min(1, t_p / |d_o(p)|)`` on the neighbour differences ``d_o``
  (4-neighbourhood and diagonals): spatially adaptive, so edges are smoothed less.

On the GPU a solve makes no host read until its end: the robust scales are medians taken
on the device (a sort and an index, no boolean-mask indexing), the thresholds and the
history's values stay 0-d device arrays, the smoothness operator is one kernel-set call
(:func:`mfsr.kernels.reference.weighted_smoothness`, a gather), each conjugate-gradient
step runs a fixed number of kernel-set calls (:func:`mfsr.solvers.cg_solve` with
``tol=0``), and the history is read back once (:meth:`History.read_back`).
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..kernels import kernels_for
from ..kernels.reference import SMOOTHNESS_OFFSETS, SMOOTHNESS_WEIGHTS, _pair_slices
from .cg import cg_solve
from .history import History

_OFFSETS = SMOOTHNESS_OFFSETS
_WEIGHTS = SMOOTHNESS_WEIGHTS
_MAD = 1.4826  # MAD to standard deviation, Gaussian
_FLOOR = 1e-4  # smallest robust scale


def _n_pairs(shape):
    """Number of valid neighbour pairs of an image of ``shape`` over :data:`_OFFSETS`."""
    H, W = shape
    return sum(max(H - abs(dy), 0) * max(W - abs(dx), 0) for dy, dx in _OFFSETS)


def _sorted_median(s, n, xp):
    """The median of the ``n`` first values of the ascending 1-D array ``s`` (``n`` a host
    int or a 0-d device integer array, read on the device), rounded as ``np.median``: the
    mean of the two middle values (one value counted twice when ``n`` is odd)."""
    if isinstance(n, (int, np.integer)):
        lo, hi = s[(n - 1) // 2], s[n // 2]
    else:
        lo, hi = xp.take(s, (n - 1) // 2), xp.take(s, n // 2)
    return (lo + hi) * 0.5


def _threshold(median, threshold, dtype, xp):
    """``threshold * max(1.4826 * median, 1e-4)`` in float64, then in ``dtype``: the number
    the weights are computed with (a 0-d array; on the device it stays there)."""
    scale = xp.maximum(xp.asarray(median).astype(xp.float64) * _MAD, _FLOOR)
    return xp.asarray(threshold * scale).astype(dtype)


def _data_weights(r, confidence, threshold, xp):
    """``c * min(1, t_r / |r|)`` with ``t_r`` from the median of ``|r|`` over the pixels with
    confidence above 1/2 (over all pixels when there are none), without a host read."""
    absr = xp.abs(r)
    mask = confidence > 0.5
    n = xp.count_nonzero(mask)
    none = n == 0
    s = xp.sort(xp.where(mask | none, absr, np.inf), axis=None)
    t_r = _threshold(_sorted_median(s, xp.where(none, r.size, n), xp), threshold, r.dtype, xp)
    return confidence * xp.minimum(1.0, t_r / xp.maximum(absr, 1e-12))


def _prior_weights(x, threshold, ks, xp):
    """Per-pair weights ``(4, H, W)``: ``min(1, t_p / |d_o(p)|)`` at each pair's base ``p``,
    0 where the pair leaves the image; ``t_p`` from the median of the valid ``|d_o|``."""
    d = ks.smoothness_differences(x)  # +inf where the pair leaves the image
    n = _n_pairs(x.shape)
    median = _sorted_median(xp.sort(d, axis=None), n, xp) if n else 0.0
    t_p = _threshold(median, threshold, x.dtype, xp)
    return xp.minimum(1.0, t_p / xp.maximum(d, 1e-12))


def _weights(operator, frames, x, confidence, data_threshold, prior_threshold, prior=True):
    xp = get_array_module(x)
    r = operator.forward(x) - frames
    beta = _data_weights(r, confidence, data_threshold, xp).astype(x.dtype, copy=False)
    alphas = _prior_weights(x, prior_threshold, kernels_for(x), xp) if prior else None
    return beta, alphas


def irls_weights(operator, frames, x, confidence, data_threshold=2.0, prior_threshold=2.0):
    """Data weights ``(K, h, w)`` and per-offset prior weights at the estimate ``x``.

    Parameters
    ----------
    operator : SystemOperator
    frames : array, shape (K, h, w)
    x : array, shape (H, W)
    confidence : array, shape (K, h, w)
        Registration confidence; multiplies the data weights.
    data_threshold, prior_threshold : float
        Huber thresholds in units of the robust scale of residuals / differences.

    Returns
    -------
    beta : array, shape (K, h, w)
    alphas : list of arrays
        One weight map per neighbour offset (over the valid pairs).
    """
    beta, alphas = _weights(operator, frames, x, confidence, data_threshold, prior_threshold)
    return beta, [alphas[o][_pair_slices(off, x.shape)[1]] for o, off in enumerate(_OFFSETS)]


def irls(operator, frames, x0, weight, outer=5, inner=6, confidence=None,
         data_threshold=2.0, prior_threshold=2.0):
    """Robust super-resolution by IRLS with adaptive data and prior weights.

    Parameters
    ----------
    operator : SystemOperator
    frames : array, shape (K, h, w)
    x0 : array, shape (H, W)
        Initial estimate (e.g. the upsampled reference).
    weight : float
        Prior weight ``lambda`` >= 0 of the weighted quadratic smoothness term.
    outer : int
        Re-weighting steps.
    inner : int
        Conjugate-gradient steps per re-weighting (always all of them: no early stop, so
        that the GPU path needs no host read).
    confidence : array, shape (K, h, w), optional
        Registration confidence; default the operator's.
    data_threshold, prior_threshold : float
        Huber thresholds in robust-scale units (2 by default).

    Returns
    -------
    x : array, shape (H, W)
    history : History
        One entry per outer iteration; ``objective`` is the weighted least-squares value.
        On the GPU the values are read back once, at the end of the solve.
    """
    xp = get_array_module(frames)
    ks = kernels_for(x0)
    conf = operator.confidence if confidence is None else confidence
    x = x0.copy()
    hist = History()
    smooth = bool(weight)
    for _ in range(outer):
        hist.start()
        beta, alphas = _weights(operator, frames, x, conf, data_threshold, prior_threshold,
                                prior=smooth)
        if smooth:
            alphas = alphas * weight  # lambda folded into the pair weights: one call below

            def normal(v):
                data = operator.adjoint(beta * operator.forward(v))
                return ks.weighted_smoothness(v, alphas, out=data, base=data)
        else:
            def normal(v):
                return operator.adjoint(beta * operator.forward(v))

        x = cg_solve(normal, operator.adjoint(beta * frames), x, inner)
        r = operator.forward(x) - frames
        data = xp.sum(beta * r * r)
        objective = 0.5 * data + ks.weighted_smoothness_value(x, alphas) if smooth \
            else 0.5 * data
        hist.record(objective, xp.sqrt(xp.sum(conf * r * r)))
    return x, hist.read_back()

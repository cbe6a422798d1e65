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
"""
from __future__ import annotations

import math

from ..backend import get_array_module
from ..kernels.reference import _pair_slices
from .cg import cg_solve
from .history import History

_OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1))
_WEIGHTS = (1.0, 1.0, 1 / math.sqrt(2), 1 / math.sqrt(2))


def _mad_scale(values, xp, floor=1e-4):
    return max(1.4826 * float(xp.median(xp.abs(values))), floor)


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
    xp = get_array_module(x)
    r = operator.forward(x) - frames
    t_r = data_threshold * _mad_scale(r[confidence > 0.5] if bool((confidence > 0.5).any())
                                      else r, xp)
    beta = confidence * xp.minimum(1.0, t_r / xp.maximum(xp.abs(r), 1e-12))
    diffs = []
    for o in _OFFSETS:
        a, b = _pair_slices(o, x.shape)
        diffs.append(x[a] - x[b])
    t_p = prior_threshold * _mad_scale(xp.concatenate([d.ravel() for d in diffs]), xp)
    alphas = [xp.minimum(1.0, t_p / xp.maximum(xp.abs(d), 1e-12)) for d in diffs]
    return beta.astype(x.dtype), [al.astype(x.dtype) for al in alphas]


def _weighted_smoothness(v, alphas, xp):
    """``sum_o w_o D_o^T (a_o D_o v)`` and ``1/2 sum_o w_o sum a_o (D_o v)^2``."""
    g = xp.zeros_like(v)
    value = 0.0
    for o, w, al in zip(_OFFSETS, _WEIGHTS, alphas):
        a, b = _pair_slices(o, v.shape)
        d = al * (v[a] - v[b]) * w
        value += 0.5 * float(xp.vdot(d, v[a] - v[b]))
        g[a] += d
        g[b] -= d
    return g, value


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
        Conjugate-gradient steps per re-weighting.
    confidence : array, shape (K, h, w), optional
        Registration confidence; default the operator's.
    data_threshold, prior_threshold : float
        Huber thresholds in robust-scale units (2 by default).

    Returns
    -------
    x : array, shape (H, W)
    history : History
        One entry per outer iteration; ``objective`` is the weighted least-squares value.
    """
    xp = get_array_module(frames)
    conf = operator.confidence if confidence is None else confidence
    x = x0.copy()
    hist = History()
    for _ in range(outer):
        hist.start()
        beta, alphas = irls_weights(operator, frames, x, conf, data_threshold, prior_threshold)

        def normal(v):
            out = operator.adjoint(beta * operator.forward(v))
            if weight:
                out += weight * _weighted_smoothness(v, alphas, xp)[0]
            return out

        x = cg_solve(normal, operator.adjoint(beta * frames), x, inner)
        r = operator.forward(x) - frames
        data = 0.5 * float(xp.sum(beta * r * r))
        prior = weight * _weighted_smoothness(x, alphas, xp)[1] if weight else 0.0
        hist.record(data + prior, float(xp.sqrt(xp.sum(conf * r * r))))
    return x, hist

"""Iteratively re-weighted least squares with adaptive data and prior weights.

In the spirit of IRWSR (Koehler et al., "Robust multiframe super-resolution employing
iteratively re-weighted minimization", IEEE TCI 2016): each outer iteration turns the
robust problem into a weighted least-squares one and solves it by a few conjugate-gradient
steps, warm-started.

- Data weights ``beta = c * min(1, t_r / rho)``: Huber weights of the residuals'
  local RMS ``rho`` over 5x5 LR boxes (:data:`PATCH`), with the threshold
  ``t_r = data_threshold * s_r`` and ``s_r`` a robust (MAD) scale of ``rho``, times the
  registration confidence ``c``. Outlier areas (occlusions, non-rigid motion the flow
  does not follow, a bad frame) lose their pull as the iterations go; a patch's RMS
  sees a misregistered area as a whole where a pixel's residual can pass zero (on the
  real-motion development set, 7-frame windows: tennis 34.83 -> 35.03 dB, juggle
  25.44 -> 25.50 against per-pixel weights).
- Prior weights ``a_o(p) = min(1, t_p / |d_o(p)|)`` on the neighbour differences ``d_o``
  (4-neighbourhood and diagonals): spatially adaptive, so edges are smoothed less.

On the GPU a solve makes no host read until its end and runs a fixed number of
kernel-set calls: per re-weighting, the frames less their photometric offsets
(:func:`~mfsr.kernels.reference.remove_offsets`), the residuals and their sort keys
(:func:`~mfsr.kernels.reference.irls_residuals`, again on the patches' RMS from
:func:`~mfsr.kernels.reference.local_filter`), their median
(:func:`~mfsr.kernels.reference.irls_key_median`, a 0-d device array), the data weights
(:func:`~mfsr.kernels.reference.irls_data_weights`), the neighbour differences, their
median (:func:`~mfsr.kernels.reference.irls_difference_median`) and the pair weights with
``lambda`` folded in (:func:`~mfsr.kernels.reference.irls_prior_weights`), and after the
CG steps one call for
both history values (:func:`~mfsr.kernels.reference.irls_objective`, 0-d device arrays);
per CG step ``A p``, ``A^T (beta A p)`` (the weights applied as the adjoint reads),
the smoothness operator added in place, :func:`~mfsr.kernels.reference.cg_step` and
:func:`~mfsr.kernels.reference.cg_direction` (:func:`mfsr.solvers.cg_solve` with
``tol=0``). ``A x`` is computed once per estimate (the history's is the next
re-weighting's), and the CG's starting residual comes from it with one adjoint
(``A^T beta (y - A x)``), not from a normal map of ``x`` and a second adjoint for the
right-hand side. The history is read back once (:meth:`History.read_back`).
"""
from __future__ import annotations

import numpy as np

from ..core.backend import get_array_module
from ..degradation.offsets import without_offsets
from ..kernels import kernels_for
from ..kernels.common import (IRLS_FLOOR, IRLS_MAD, SMOOTHNESS_OFFSETS, SMOOTHNESS_WEIGHTS,
                              pair_slices)
from .cg import cg_solve
from .history import History

#: Side (LR px) of the boxes over which the data weights read the residual's RMS.
PATCH = 5

_OFFSETS = SMOOTHNESS_OFFSETS
_WEIGHTS = SMOOTHNESS_WEIGHTS


def _n_pairs(shape):
    """Number of valid neighbour pairs of an image of ``shape`` over :data:`_OFFSETS`."""
    H, W = shape
    return sum(max(H - abs(dy), 0) * max(W - abs(dx), 0) for dy, dx in _OFFSETS)


def _prior_weights(x, threshold, ks, weight=1.0, out=None):
    """Per-pair weights ``(4, H, W)``: ``weight * min(1, t_p / |d_o(p)|)`` at each pair's
    base ``p``, 0 where the pair leaves the image; ``t_p`` from the median of the valid
    ``|d_o|`` (three kernel-set calls). ``out``: a ``(4, H, W)`` buffer to compute them
    in (the previous weights, no longer needed), so that a solve pages in no fresh
    memory for them at each re-weighting."""
    d = ks.smoothness_differences(x, out=out)  # +inf where the pair leaves the image
    median = ks.irls_difference_median(d, _n_pairs(x.shape))
    return ks.irls_prior_weights(median, d, threshold, weight, out=d)


def local_rms(r, size=PATCH):
    """Root mean square of each image of a residual stack ``(K, h, w)`` over
    ``size x size`` boxes (edges replicated)."""
    return kernels_for(r).local_filter(r, (1.0 / size,) * size, "replicate", square=True,
                                       root=True)


def _weights(operator, frames, x, confidence, data_threshold, prior_threshold, prior=True,
             ax=None, weight=1.0, patch=PATCH, zeros=None, alphas=None):
    xp = get_array_module(x)
    ks = kernels_for(x)
    ax = operator.forward(x) if ax is None else ax
    r, keys = ks.irls_residuals(ax, frames, confidence)
    if patch > 1:   # weights from the residual's local RMS: see irls()
        r = local_rms(r, patch)
        r, keys = ks.irls_residuals(r, xp.zeros_like(r) if zeros is None else zeros,
                                    confidence)
    beta = ks.irls_data_weights(ks.irls_key_median(keys), r, confidence, data_threshold)
    alphas = _prior_weights(x, prior_threshold, ks, weight, out=alphas) if prior else None
    return beta, alphas


def _anchor_weights(x, image, weights, threshold, xp):
    """Huber weights of the anchor term: ``w * min(1, t / |x - p|)``, ``t`` in robust
    (MAD) scales of ``|x - p|`` where ``w > 0``: where the anchor disagrees with the
    rest of it, its pull is capped. (A redescending weight, Welsch at 3 scales, cut the
    recursion's gain on the development clip tennis from +4.39 to +3.80 dB: the
    textured parts, where the anchor's detail is, differ by more than the flat ones.)
    An anchor wrong as a whole is not detected here: its weights must say so, as
    :func:`mfsr.video.recurrence.anchor`'s photometric check does."""
    d = xp.abs(x - image)
    used = d[weights > 0]
    median = xp.median(used) if used.size else xp.asarray(0.0)
    t = threshold * xp.maximum(IRLS_MAD * median, IRLS_FLOOR)
    return (weights * xp.minimum(1.0, t / xp.maximum(d, 1e-12))).astype(x.dtype)


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
    return beta, [alphas[o][pair_slices(off, x.shape)[1]] for o, off in enumerate(_OFFSETS)]


def irls(operator, frames, x0, weight, outer=5, inner=6, confidence=None,
         data_threshold=2.0, prior_threshold=2.0, offsets=None, reference=None,
         anchor=None):
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
    offsets : float, optional
        Model a smooth photometric offset ``b_k`` in every frame but ``reference``
        (``y_k = A_k x + b_k + n_k``, :mod:`mfsr.degradation.offsets`): before each
        re-weighting ``b_k`` is the residual ``y_k - A_k x`` smoothed by a Gaussian of
        this width (LR px), weighted by the current data weights, and the frames minus
        their offsets are fitted. Without it, local brightness differences between
        frames come out as a mesh at the sampling grid's period. None: no offsets.
    reference : int, optional
        The frame without offset (needed with ``offsets``).
    anchor : tuple (array (H, W), array (H, W)), optional
        ``(p, w)``: an HR estimate from elsewhere (in the video job: a neighbouring
        output frame warped into this view) and its per-pixel weights, added as
        ``sum w |x - p|^2`` with Huber re-weighting like the data (threshold
        ``data_threshold`` robust scales of ``|x - p|`` where ``w > 0``), so that where
        the estimate disagrees with the rest of it (a wrong warp, an occlusion) its pull
        is capped; an anchor wrong as a whole must come with low weights.

    Returns
    -------
    x : array, shape (H, W)
    history : History
        One entry per outer iteration; ``objective`` is the weighted least-squares value.
        On the GPU the values are read back once, at the end of the solve.
    """
    if offsets is not None and reference is None:
        raise ValueError("offsets needs the reference frame's index (reference=)")
    ks = kernels_for(x0)
    xp = get_array_module(x0)
    conf = operator.confidence if confidence is None else confidence
    x = x0.copy()
    hist = History()
    smooth = bool(weight)
    ax = operator.forward(x)
    observed, beta, alphas = frames, None, None
    zeros = xp.zeros_like(ax)   # local_rms' keys are those of |rms - 0|
    q = xp.empty_like(x)        # every normal map's result: CG uses it within one step
    if anchor is not None:
        anchor_image, anchor_weights = anchor
    for _ in range(outer):
        hist.start()
        if offsets is not None:   # the last data weights keep outliers out of b
            frames = without_offsets(observed, ax, conf if beta is None else beta, offsets,
                                     reference)
        # lambda folded into the pair weights: one smoothness call per normal map below
        beta, alphas = _weights(operator, frames, x, conf, data_threshold, prior_threshold,
                                prior=smooth, ax=ax, weight=weight, zeros=zeros,
                                alphas=alphas)
        gamma = None if anchor is None else _anchor_weights(x, anchor_image, anchor_weights,
                                                            data_threshold, xp)

        def normal(v):
            out = operator.adjoint(operator.forward(v), weights=beta, out=q)
            if smooth:
                out = ks.weighted_smoothness(v, alphas, out=out, base=out)
            if gamma is not None:
                out += gamma * v
            return out

        # the start's residual A^T beta (y - A x) - lambda S x - gamma (x - p) from the
        # A x at hand: one adjoint and no forward map
        g = operator.adjoint(frames - ax, weights=beta)
        if smooth:
            g -= ks.weighted_smoothness(x, alphas, out=q)
        if gamma is not None:
            g += gamma * (anchor_image - x)
        x = cg_solve(normal, None, x, inner, residual=g)
        ax = operator.forward(x)  # the history's and the next re-weighting's
        hist.record(*ks.irls_objective(ax, frames, beta, conf, x, alphas if smooth else None))
    return x, hist.read_back()

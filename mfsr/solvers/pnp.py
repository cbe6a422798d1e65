"""Plug-and-play ADMM: a denoiser stands in for the proximal map of the prior."""
from __future__ import annotations

import math

import numpy as np

from ..core.backend import get_array_module
from ..core.validation import check_array, check_choice, check_float, check_int
from ..priors.denoisers import make_denoiser
from .cg import cg_solve
from .history import History
from .irls import irls_weights

SPLITTINGS = ("admm", "hqs")

# Defaults for reconstruct(method="pnp"), which starts from the "irls" result, from the LR
# noise level sigma; tuned on 96x128 LR crops of frames 8 and 22 of bigbuckbunny
# (BDx4_noise5 and BDx4; docs/learned_prior.md): lambda = PNP_GAIN * s**2 and denoiser
# levels from PNP_SIGMA_START down to PNP_END * s, with s = max(sigma, floor).
PNP_ITERATIONS = 3
PNP_GAIN = 0.2
PNP_SIGMA_FLOOR = 0.007
PNP_SIGMA_START = 0.03
PNP_END = 1.4
PNP_CG = 5
PNP_ROBUST = 2.0
PNP_ENSEMBLE = 4  # self-ensemble of the shipped CNN in reconstruct(method="pnp")


def pnp_parameters(sigma):
    """Default keyword arguments of :func:`pnp_admm` for an LR noise level ``sigma``.

    ``weight = 0.2 s**2`` and denoiser levels from 0.03 down to ``1.4 s``, with
    ``s = max(sigma, 0.007)`` (the floor stands for the model errors of clean 8-bit
    video), 3 iterations of 5 CG steps, robust data weights (threshold 2). Tuned for a
    good start image (``reconstruct`` starts from the ``"irls"`` result); from a plain
    upsampled frame, more iterations from a higher ``sigma_start`` (e.g. 6 from 0.1) do
    better.

    Parameters
    ----------
    sigma : float
        Noise standard deviation of the LR frames, [0, 1] units.

    Returns
    -------
    dict
    """
    s = max(check_float(sigma, "sigma", minimum=0.0), PNP_SIGMA_FLOOR)
    return {"iterations": PNP_ITERATIONS, "weight": PNP_GAIN * s**2,
            "sigma_start": max(PNP_SIGMA_START, PNP_END * s), "sigma_end": PNP_END * s,
            "cg_iterations": PNP_CG, "robust": PNP_ROBUST}


def sigma_schedule(iterations, sigma_start, sigma_end):
    """Denoiser levels ``sigma_i`` decreasing geometrically from start to end.

    Parameters
    ----------
    iterations : int
        Number of levels (>= 1); one level is ``[sigma_end]``.
    sigma_start, sigma_end : float
        First and last level, ``sigma_start >= sigma_end > 0``.

    Returns
    -------
    list of float
    """
    iterations = check_int(iterations, "iterations", minimum=1)
    sigma_end = check_float(sigma_end, "sigma_end", minimum=0.0, strict_min=True)
    sigma_start = check_float(sigma_start, "sigma_start", minimum=sigma_end)
    if iterations == 1:
        return [sigma_end]
    ratio = math.log(sigma_end / sigma_start)
    return [sigma_start * math.exp(ratio * i / (iterations - 1)) for i in range(iterations)]


def pnp_admm(operator, frames, x0, denoiser="learned", iterations=3, weight=2e-5,
             sigma_start=0.03, sigma_end=0.014, cg_iterations=5, confidence=None,
             splitting="admm", robust=2.0):
    """Plug-and-play ADMM (Venkatakrishnan et al. 2013) with a decreasing noise schedule.

    Approximately solves ``min_x 1/2 sum_k ||sqrt(c_k) (A_k x - y_k)||**2 + lambda R(x)``
    where the prior ``R`` is known only through a denoiser ``D(v, sigma)``, read as the
    proximal map of ``sigma**2 R``. Iteration ``i`` with penalty ``rho_i = lambda /
    sigma_i**2`` (scaled dual ``u``):

    1. ``x = argmin 1/2 ||sqrt(b) (A x - y)||**2 + rho_i/2 ||x - v + u||**2`` by
       ``cg_iterations`` conjugate-gradient steps warm-started at the current ``x``, with
       data weights ``b = c`` or, with ``robust``, the Huber weights of the residuals at
       the current ``v`` times ``c`` (as in :func:`mfsr.solvers.irls`), so that pixels
       the model does not explain (flow errors, occlusions) lose their pull;
    2. ``v = D(x + u, sigma_i)``;
    3. ``u = u + x - v`` (``"admm"``; ``"hqs"``, half-quadratic splitting, keeps
       ``u = 0``).

    ``sigma_i`` decreases geometrically from ``sigma_start`` to ``sigma_end`` (as in
    DPIR, Zhang et al. 2021): large early steps of the denoiser remove the aliasing of
    the start image, the last ones only the remaining noise. When ``rho`` changes the
    scaled dual is rescaled by ``rho_old / rho_new``.

    Parameters
    ----------
    operator : SystemOperator
        ``A`` with ``forward``, ``adjoint`` and ``confidence``.
    frames : array, shape (K, h, w)
        Observed LR frames ``y``.
    x0 : array, shape (H, W)
        Start image: the result of another solver (``reconstruct`` uses ``"irls"``'s) or
        the upsampled reference frame (then use more iterations from a higher
        ``sigma_start``).
    denoiser : Denoiser, callable or {"learned", "bm3d"}
        ``D(x, sigma)``; see :func:`mfsr.priors.denoisers.make_denoiser`.
    iterations : int
        Number of ADMM iterations (denoiser calls), >= 1.
    weight : float
        Prior weight ``lambda`` > 0 (same scale as the data term above). The defaults
        of this and the next three parameters are ``pnp_parameters(0.01)``; use
        :func:`pnp_parameters` for other noise levels.
    sigma_start, sigma_end : float
        First and last denoiser level (image units), ``sigma_start >= sigma_end > 0``.
    cg_iterations : int
        Conjugate-gradient steps per data subproblem, >= 1.
    confidence : array, shape (K, h, w), optional
        Data weights ``c``; default the operator's registration confidence.
    splitting : {"admm", "hqs"}
        Keep the scaled dual (ADMM) or not (half-quadratic splitting).
    robust : float or None
        Huber threshold of the data weights in units of the robust (MAD) scale of the
        residuals; ``None`` keeps the fixed weights ``c`` (plain least squares).

    Returns
    -------
    x : array, shape (H, W)
        The last denoiser output ``v``.
    history : History
        Objective NaN (plug-and-play has none), data residual ``||sqrt(c)(A v - y)||``
        and time per iteration.

    Examples
    --------
    >>> import mfsr
    >>> from skimage import data
    >>> from mfsr.degradation import SystemOperator
    >>> from mfsr.solvers import pnp_admm
    >>> sim = mfsr.simulate(data.camera()[::4, ::4], scale=2, n_frames=4, seed=0)
    >>> A = SystemOperator(sim.motion, 2, sim.psf, sim.phase)
    >>> x0 = mfsr.upsample(sim.frames[2], 2, sim.phase)
    >>> x, hist = pnp_admm(A, sim.frames, x0, iterations=4, sigma_start=0.1)
    >>> x.shape, hist.iterations
    ((128, 128), 4)
    """
    frames = check_array(frames, "frames", ndim=3)
    x0 = check_array(x0, "x0", ndim=2)
    if tuple(frames.shape) != (operator.n_frames,) + tuple(operator.lr_shape):
        raise ValueError(f"frames must have shape {(operator.n_frames,) + operator.lr_shape}, "
                         f"got {tuple(frames.shape)}")
    if tuple(x0.shape) != tuple(operator.hr_shape):
        raise ValueError(f"x0 must have shape {operator.hr_shape}, got {tuple(x0.shape)}")
    weight = check_float(weight, "weight", minimum=0.0, strict_min=True)
    cg_iterations = check_int(cg_iterations, "cg_iterations", minimum=1)
    check_choice(splitting, "splitting", SPLITTINGS)
    if robust is not None:
        robust = check_float(robust, "robust", minimum=0.0, strict_min=True)
    sigmas = sigma_schedule(iterations, sigma_start, sigma_end)
    denoise = make_denoiser(denoiser)

    xp = get_array_module(frames)
    conf = operator.confidence if confidence is None else confidence
    c = conf
    rhs_data = operator.adjoint(c * frames)
    x = x0.astype(np.float32, copy=True)
    v = x.copy()
    u = xp.zeros_like(x)
    hist = History()
    rho_old = None
    for sigma in sigmas:
        hist.start()
        rho = weight / sigma**2
        if rho_old is not None and splitting == "admm":
            u *= rho_old / rho
        if robust is not None:
            c = irls_weights(operator, frames, v, conf, data_threshold=robust)[0]
            rhs_data = operator.adjoint(c * frames)

        def normal(z, rho=rho):
            return operator.adjoint(c * operator.forward(z)) + rho * z

        x = cg_solve(normal, rhs_data + rho * (v - u), x, cg_iterations)
        v = denoise(x + u if splitting == "admm" else x, sigma)
        if splitting == "admm":
            u += x - v
        rho_old = rho
        r = operator.forward(v) - frames
        hist.record(float("nan"), float(xp.sqrt(xp.sum(conf * r * r))))
    return v, hist


__all__ = ["pnp_admm", "pnp_parameters", "sigma_schedule", "SPLITTINGS"]

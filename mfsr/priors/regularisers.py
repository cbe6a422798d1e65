"""Regularisers ``R(x)`` with value and gradient, written once against ``xp``.

All edge-preserving priors penalise differences ``d = x(p + o) - x(p)`` between a pixel
and its neighbour at offset ``o`` with a robust function ``rho`` whose slope tends to 1
for large ``|d|`` (so one ``lambda`` means roughly the same across priors):

- ``tikhonov``: ``d**2 / 2`` over the 4-neighbourhood (quadratic).
- ``tv``: isotropic total variation ``sqrt(dx**2 + dy**2 + eps**2) - eps``.
- ``btv``: bilateral TV (Farsiu et al. 2004): ``sum alpha**(|l|+|m|) rho(d_lm)`` over
  offsets up to ``radius`` with Charbonnier ``rho``.
- ``huber``: Huber-MRF over the 8-neighbourhood, ``rho(d) = d**2/(2 delta)`` for
  ``|d| <= delta``, ``|d| - delta/2`` beyond.

Plug-and-play priors are denoisers rather than functions with a gradient; they live in
:mod:`mfsr.priors.denoisers` and are re-exported here: :class:`~mfsr.priors.denoisers.Denoiser` (any
callable ``denoise(x, sigma)``), :class:`~mfsr.priors.denoisers.LearnedDenoiser` (the small CNN
shipped with mfsr), :class:`~mfsr.priors.denoisers.BM3DDenoiser` (optional ``bm3d`` package) and
:func:`~mfsr.priors.denoisers.make_denoiser`. ``mfsr.reconstruct(frames, prior=...)`` with one
of them runs plug-and-play (``method="pnp"``).
"""
from __future__ import annotations

import math

from ..core.backend import get_array_module
from ..core.validation import check_choice, check_float, check_int
from ..kernels import kernels_for
from ..kernels.buffers import check_out


class Prior:
    """Base class: ``value(x)`` and ``gradient(x)`` of ``R`` for an image ``(H, W)``."""

    quadratic = False
    name = "prior"
    curvature = 0.0  # upper bound on the largest eigenvalue of the Hessian of R

    def value_and_gradient(self, x, out=None):
        """Return ``(R(x), grad R(x))``.

        Parameters
        ----------
        x : array, shape (H, W)
        out : array, shape (H, W), optional
            Where to write the gradient (C-contiguous, ``x``'s dtype and array module);
            by default a new array, which the caller may modify in place. Solvers pass a
            buffer of their own so that an iteration allocates no image.

        Returns
        -------
        value : float
        gradient : array, shape (H, W)
            ``out`` when given.
        """
        raise NotImplementedError

    def value(self, x):
        """Return ``R(x)``."""
        return self.value_and_gradient(x)[0]

    def gradient(self, x):
        """Return ``grad R(x)``."""
        return self.value_and_gradient(x)[1]

    def add_gradient(self, x, out, weight=1.0):
        """``out += weight * grad R(x)`` in place (``weight * grad`` rounded in ``out``'s
        dtype first, as that NumPy expression); return ``out``. The pairwise priors do it
        in one kernel-set call that computes no value (no host read on the GPU)."""
        out += weight * self.gradient(x)
        return out

    def __repr__(self):
        return f"{type(self).__name__}()"


class _PairwisePrior(Prior):
    """Sum over neighbour offsets of ``weight * rho(x(p + o) - x(p))``."""

    kind = "quadratic"  # penalty of mfsr.kernels.reference.rho
    param = 0.0
    max_rho_curvature = 1.0

    def __init__(self, offsets, weights):
        self.offsets = list(offsets)
        self.weights = list(weights)

    @property
    def curvature(self):
        # each difference operator has squared norm <= 4
        return 4.0 * sum(self.weights) * self.max_rho_curvature

    def value_and_gradient(self, x, out=None):
        return kernels_for(x).pairwise_prior(x, self.offsets, self.weights, self.kind,
                                             self.param, out)

    def gradient(self, x):
        """Return ``grad R(x)``, without the value (on the GPU: no host read)."""
        return kernels_for(x).pairwise_prior_gradient(x, self.offsets, self.weights,
                                                      self.kind, self.param)

    def add_gradient(self, x, out, weight=1.0):
        return kernels_for(x).pairwise_prior_gradient(x, self.offsets, self.weights,
                                                      self.kind, self.param, out=out,
                                                      base=out, scale=weight)


def _half_plane(radius):
    """Offsets (dy, dx) with |dy|, |dx| <= radius, one of each +/- pair."""
    return [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(0, radius + 1)
            if dx > 0 or (dx == 0 and dy > 0)]


class Tikhonov(_PairwisePrior):
    """Quadratic smoothness ``1/2 sum |x(p + o) - x(p)|**2`` over the 4-neighbourhood."""

    quadratic = True
    name = "tikhonov"

    def __init__(self):
        super().__init__([(0, 1), (1, 0)], [1.0, 1.0])


class BilateralTV(_PairwisePrior):
    """Bilateral total variation (Farsiu et al. 2004), Charbonnier-smoothed.

    Parameters
    ----------
    radius : int
        Largest shift P >= 1 in each direction.
    alpha : float
        Decay ``0 < alpha <= 1`` of the weight ``alpha**(|l| + |m|)``.
    eps : float
        Charbonnier smoothing (image units), > 0.
    """

    name = "btv"

    def __init__(self, radius=2, alpha=0.7, eps=1e-3):
        self.radius = check_int(radius, "radius", minimum=1)
        self.alpha = check_float(alpha, "alpha", minimum=0.0, maximum=1.0, strict_min=True)
        self.eps = check_float(eps, "eps", minimum=0.0, strict_min=True)
        self.kind, self.param, self.max_rho_curvature = "charbonnier", self.eps, 1.0 / self.eps
        offs = _half_plane(self.radius)
        super().__init__(offs, [self.alpha ** (abs(dy) + abs(dx)) for dy, dx in offs])

    def __repr__(self):
        return f"BilateralTV(radius={self.radius}, alpha={self.alpha:g}, eps={self.eps:g})"


class HuberMRF(_PairwisePrior):
    """Huber Markov random field over the 8-neighbourhood (diagonals weighted 1/sqrt 2).

    Parameters
    ----------
    delta : float
        Threshold between the quadratic and linear parts (image units), > 0.
    """

    name = "huber"

    def __init__(self, delta=0.01):
        self.delta = check_float(delta, "delta", minimum=0.0, strict_min=True)
        self.kind, self.param, self.max_rho_curvature = "huber", self.delta, 1.0 / self.delta
        r = 1 / math.sqrt(2)
        super().__init__([(0, 1), (1, 0), (1, 1), (1, -1)], [1.0, 1.0, r, r])

    def __repr__(self):
        return f"HuberMRF(delta={self.delta:g})"


class TotalVariation(Prior):
    """Isotropic total variation with forward differences, Charbonnier-smoothed.

    Parameters
    ----------
    eps : float
        Smoothing (image units), > 0.
    """

    name = "tv"

    def __init__(self, eps=1e-3):
        self.eps = check_float(eps, "eps", minimum=0.0, strict_min=True)
        self.curvature = 8.0 / self.eps

    def value_and_gradient(self, x, out=None):
        return kernels_for(x).tv_prior(x, self.eps, out)

    def __repr__(self):
        return f"TotalVariation(eps={self.eps:g})"


class NoPrior(Prior):
    """``R = 0``."""

    quadratic = True
    name = "none"

    def value_and_gradient(self, x, out=None):
        if out is None:
            return 0.0, get_array_module(x).zeros_like(x)
        check_out(out, x.shape, x.dtype)
        out[...] = 0
        return 0.0, out


PRIORS = {"none": NoPrior, "tikhonov": Tikhonov, "tv": TotalVariation, "btv": BilateralTV,
          "huber": HuberMRF}


def make_prior(prior, **options) -> Prior:
    """Build a prior from its name (``PRIORS``) or pass a :class:`Prior` through.

    Parameters
    ----------
    prior : str, Prior or None
        ``None`` is ``"none"``.
    **options
        Keyword arguments of the prior's class (e.g. ``radius`` for ``"btv"``).

    Returns
    -------
    Prior
    """
    if isinstance(prior, Prior):
        return prior
    if prior is None:
        prior = "none"
    if not isinstance(prior, str):
        raise TypeError(f"prior must be a name or a Prior, got {type(prior).__name__}")
    check_choice(prior, "prior", tuple(PRIORS))
    return PRIORS[prior](**options)

"""Priors: what the solvers know of the image besides the data.

- :mod:`~mfsr.priors.regularisers`: regularisers ``R(x)`` with value and gradient
  (Tikhonov, TV, bilateral TV, Huber-MRF), written once against ``xp``;
- :mod:`~mfsr.priors.denoisers`: plug-and-play priors, any callable
  ``denoise(x, sigma)``: the small CNN shipped with mfsr (:class:`LearnedDenoiser`), BM3D
  (optional ``bm3d`` package). ``mfsr.reconstruct(frames, prior=...)`` with one of them
  runs plug-and-play (``method="pnp"``).
"""
from .denoisers import (DENOISERS, BM3DDenoiser, Denoiser, LearnedDenoiser, bm3d_available,
                        make_denoiser)
from .regularisers import (PRIORS, BilateralTV, HuberMRF, NoPrior, Prior, Tikhonov, TotalVariation,
                           make_prior)

__all__ = ["Prior", "Tikhonov", "TotalVariation", "BilateralTV", "HuberMRF", "NoPrior",
           "PRIORS", "make_prior", "Denoiser", "LearnedDenoiser", "BM3DDenoiser", "DENOISERS",
           "make_denoiser", "bm3d_available"]

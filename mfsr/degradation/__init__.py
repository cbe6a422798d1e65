"""The physics: PSFs, warps, blur + decimation, the system operator, noise, simulation."""
from .adjoint import dot_test
from .burst import RawBurst, simulate_burst
from .cfa import (CFA_PATTERNS, affine_to_cfa_grid, cfa_masks, flow_to_cfa_grid, half_size_grey,
                  mosaic, mosaic_adjoint, raw_to_float)
from .noise import (GaussianNoise, PoissonGaussianNoise, estimate_noise, estimate_noise_model,
                    make_noise)
from .presets import DEGRADATIONS, degradation_model
from .psf import PSF, BicubicPSF, BoxPSF, GaussianPSF, KernelPSF, make_psf, psf_variance
from .resize import imresize
from .sampling import BlurDecimate
from .simulate import Simulation, simulate, simulate_sequence
from .system import CFASystemOperator, SystemOperator
from .warp import Warp, upsample_flow

__all__ = ["PSF", "GaussianPSF", "BoxPSF", "BicubicPSF", "KernelPSF", "make_psf", "psf_variance",
           "BlurDecimate", "Warp", "upsample_flow", "SystemOperator", "CFASystemOperator", "GaussianNoise",
           "PoissonGaussianNoise", "make_noise", "estimate_noise", "estimate_noise_model", "DEGRADATIONS",
           "degradation_model", "imresize", "simulate", "simulate_sequence", "Simulation",
           "dot_test"]
__all__ += ["CFA_PATTERNS", "cfa_masks", "mosaic", "mosaic_adjoint", "raw_to_float",
            "half_size_grey", "flow_to_cfa_grid", "affine_to_cfa_grid", "RawBurst",
            "simulate_burst"]

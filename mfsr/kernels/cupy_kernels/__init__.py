"""CuPy kernels: the functions of :mod:`mfsr.kernels.reference` as CUDA kernels.

Same names, signatures and results (to float rounding) as the reference; the registry
(:func:`mfsr.kernels.kernels_for`) hands this package out for CuPy arrays, and importing
it without CuPy raises ``ImportError``, on which the registry falls back to the
reference (plain ``xp`` code that also runs on CuPy arrays, only slower).

The CUDA C sources live beside this package in ``mfsr/kernels/cuda/*.cu`` (package
data) so that ``nvcc`` can compile them on their own (``tests/test_cuda_compile.py``).
They are compiled at first use by CuPy (NVRTC, cached on disk by CuPy), in ``float`` and
``double`` variants; other dtypes go through the reference code. Kernel arguments that
the solvers pass as small NumPy arrays (PSF taps, prior offsets and weights) are copied
to the device once and cached, so repeated calls inside a solver loop make no
host-to-device copies. Only :func:`pairwise_prior` and :func:`tv_prior` read one number
back (their value, a Python ``float`` as in the reference);
:func:`pairwise_prior_gradient` is the gradient alone, with no read. The sums the
solvers keep on the device (:func:`cg_step`'s inner products, :func:`irls_objective`)
are taken per block in double and then in one block, in a fixed order: deterministic.

The set is this package; its functions live in one module per CUDA source (``cuda/<name>.cu``):
:mod:`.warp`, :mod:`.sampling`, :mod:`.operator`, :mod:`.prior`, :mod:`.data`,
:mod:`.irls`, :mod:`.merge`, :mod:`.flow`, :mod:`.filter` and :mod:`.photometric`, with
the compilation and launch helpers in :mod:`.common` (and what every set shares in
:mod:`mfsr.kernels.common`). The vector updates and ``rho`` are the reference's (xp code).
"""
from __future__ import annotations

from ..common import PENALTIES
from ..reference import axpby, axpy, rho  # xp code, shared with the reference
from .common import MAX_BLOCKS, THREADS
from .data import data_fidelity
from .filter import local_filter, normalized_filter, remove_offsets
from .flow import lk_confidence, lk_level, lk_pyramid_down, lk_upsample
from .irls import (cg_direction, cg_step, cg_update, irls_data_weights, irls_difference_median,
                   irls_key_median, irls_objective, irls_prior_weights, irls_residuals,
                   smoothness_differences, weighted_smoothness, weighted_smoothness_value)
from .merge import MERGE_MAX_CHANNELS, kernel_merge
from .operator import (GpuWarps, prepare_warps, separable_gather, warp_blur_decimate,
                       warp_blur_decimate_adjoint)
from .photometric import warp_difference
from .prior import pairwise_prior, pairwise_prior_gradient, tv_prior
from .sampling import strided_correlate, strided_correlate_adjoint
from .warp import warp_adjoint, warp_forward

NAME = "cupy"

#: The functions of the set (those of :mod:`mfsr.kernels.reference`) and its constants.
__all__ = [
    "warp_forward", "warp_adjoint",
    "strided_correlate", "strided_correlate_adjoint",
    "separable_gather", "prepare_warps", "warp_blur_decimate", "warp_blur_decimate_adjoint",
    "GpuWarps",
    "rho", "pairwise_prior", "pairwise_prior_gradient", "tv_prior",
    "data_fidelity",
    "axpy", "axpby",
    "smoothness_differences", "weighted_smoothness", "weighted_smoothness_value",
    "cg_update", "cg_direction", "cg_step",
    "irls_residuals", "irls_key_median", "irls_difference_median", "irls_data_weights",
    "irls_prior_weights", "irls_objective",
    "kernel_merge",
    "lk_pyramid_down", "lk_upsample", "lk_level", "lk_confidence",
    "local_filter", "normalized_filter", "remove_offsets",
    "warp_difference",
    "NAME", "PENALTIES", "THREADS", "MAX_BLOCKS", "MERGE_MAX_CHANNELS",
]

"""Numba kernels: the functions of :mod:`mfsr.kernels.reference`, compiled for the CPU.

Same names, signatures and results (to float rounding) as the reference; the registry
(:func:`mfsr.kernels.kernels_for`) hands this package out for NumPy arrays under the
``"auto"`` and ``"numba"`` choices. Importing it without Numba raises ``ImportError``,
on which the registry falls back to the reference.

How the kernels are written:

- ``parallel=True`` over output rows (or over one contiguous chunk of rows per thread
  where a thread needs a scratch row); every output element is written by exactly one
  thread with the same operations whatever the chunk bounds, so results do not depend
  on scheduling.
- Results do not depend on the number of threads, bit for bit (a job gives the same
  output on any machine or Dask worker). Where the split of the work sets the order
  of a floating-point sum, the split depends on the problem size alone, ``prange``
  hands the partitions to the threads, and the partial results are combined in a fixed
  order: the scatters (the bilinear splat of the warp adjoints) go to one accumulator
  image per partition, ``min(PARTITIONS, rows)`` of them, summed in partition order; the
  prior values are summed per row, the data values per block of ``REDUCE_BLOCK``
  elements. The thread count only decides how many chunks the gathers are cut into,
  which changes no result (``tests/test_kernel_determinism.py``).
- Arithmetic stays in the array's dtype (float32 by default; the weights are cast to
  it), in the same order as the reference where that is cheap. Sums of many terms (the
  prior and data values) accumulate in float64. ``fastmath`` is not used: the kernels
  are bound by memory traffic and gathers, not by the few flops that reassociation
  would save, and IEEE semantics keep float32 results equal to the reference's.
- ``cache=True``: compiled code is stored next to each module's file (``__pycache__``)
  and reused by later processes; the first call of each kernel and dtype in a fresh
  environment pays the compile (see ``benchmarks/speed.py``, which reports it). Numba
  invalidates a cached kernel when its own file changes, not when an inline helper it
  calls from another module does (the helpers of :mod:`.common` and :mod:`.prior`):
  after editing one of those, delete the ``__pycache__/*.nbi`` / ``*.nbc`` files of
  this package.
- Inputs other than C-contiguous float32 / float64 NumPy arrays go to the reference.
- Scratch arrays (splat accumulators, intermediate rows) are kept per thread of the
  caller and reused between calls of the same shape, so a solver loop does not page in
  fresh memory for them at every iteration.

The set is this package; its functions live in one module per operator family, named as
the CUDA sources of the CuPy set: :mod:`.warp`, :mod:`.sampling`, :mod:`.operator`,
:mod:`.prior`, :mod:`.data`, :mod:`.vector`, :mod:`.irls`, :mod:`.merge` and
:mod:`.flow`, with what they share in :mod:`.common` (and, with the other sets, in
:mod:`mfsr.kernels.common`). The small filters and the photometric differences are the
reference's (OpenCV / xp code).
"""
from __future__ import annotations

from ..common import PENALTIES

# OpenCV / xp code, shared with the reference:
from ..reference import local_filter, normalized_filter, remove_offsets, rho, warp_difference
from .common import PARTITIONS
from .data import REDUCE_BLOCK, data_fidelity
from .flow import lk_confidence, lk_level, lk_pyramid_down, lk_upsample
from .irls import (cg_direction, cg_step, cg_update, irls_data_weights, irls_difference_median,
                   irls_key_median, irls_objective, irls_prior_weights, irls_residuals,
                   smoothness_differences, weighted_smoothness, weighted_smoothness_value)
from .merge import kernel_merge
from .operator import (prepare_warps, separable_gather, warp_blur_decimate,
                       warp_blur_decimate_adjoint)
from .prior import pairwise_prior, pairwise_prior_gradient, tv_prior
from .sampling import strided_correlate, strided_correlate_adjoint
from .vector import axpby, axpy
from .warp import warp_adjoint, warp_forward

NAME = "numba"

#: The functions of the set (those of :mod:`mfsr.kernels.reference`) and its constants.
__all__ = [
    "warp_forward", "warp_adjoint",
    "strided_correlate", "strided_correlate_adjoint",
    "separable_gather", "prepare_warps", "warp_blur_decimate", "warp_blur_decimate_adjoint",
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
    "NAME", "PENALTIES", "PARTITIONS", "REDUCE_BLOCK",
]

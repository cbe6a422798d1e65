"""Reference kernels: plain ``xp`` array code, the definition the fast kernels must match.

Every kernel set (this one, ``numba_kernels``, ``cupy_kernels``) exposes the same
functions with the same signatures and results (to float tolerance):

- ``warp_forward`` / ``warp_adjoint``: bilinear backward warp of one image and its splat.
- ``strided_correlate`` / ``strided_correlate_adjoint``: separable blur + decimation of a
  padded stack and its adjoint.
- ``separable_gather``: ``S_y z S_x^T`` for two small sparse matrices in ELL form (fixed
  entries per row); blur + decimation with the border reflection folded in, and, with
  the transposed tables, its adjoint.
- ``prepare_warps``, ``warp_blur_decimate`` / ``warp_blur_decimate_adjoint``: the
  whole system operator ``A = D B W_k`` over a stack of warps, and ``A^T`` (optionally
  of ``weights * y``, the data weights applied as it reads); each kernel set keeps the
  warps in its own form (tables here, LR flows in the Numba set).
- ``pairwise_prior``, ``tv_prior``: prior values and gradients.
- ``data_fidelity``: robust residual weighting of the data term.
- ``axpy``, ``axpby``: ``y += a x`` in place and ``out = a x + b y`` (the solvers'
  vector updates; coefficients may be 0-d device arrays).
- ``smoothness_differences``, ``weighted_smoothness``, ``weighted_smoothness_value``: the
  IRLS prior (adaptive weighted quadratic smoothness over four offsets), and
  ``cg_update`` / ``cg_direction``: conjugate-gradient steps whose scalars stay on the
  device, and ``cg_step``: ``cg_update`` with its inner products (``p.q`` and the new
  ``g.g``) in the same call (:mod:`mfsr.solvers.irls`, :func:`mfsr.solvers.cg_solve`).
- ``irls_residuals``, ``irls_key_median``, ``irls_difference_median``,
  ``irls_data_weights``, ``irls_prior_weights``, ``irls_objective``:
  an IRLS re-weighting and its history values in a handful of calls, the medians
  kept on the device (0-d arrays).
- ``warp_difference``: the photometric check's differences ``frames - W_k reference``
  of a whole stack in one call.
- ``local_filter``, ``normalized_filter``, ``remove_offsets``: small separable filters
  of an image stack (local means and RMS, the IRLS photometric offsets' normalised
  convolution) in one call: OpenCV on the host, two matrix products on a device.
- ``pairwise_prior_gradient``: a pairwise prior's gradient alone, scaled and added to a
  base (no value: no host read on the device).
- ``kernel_merge``: the kernel-regression merge of a burst (gather form, one output
  pixel reads the LR samples near it; :func:`mfsr.solvers.kernel_merge`).

The kernels that return an HR image (``warp_blur_decimate_adjoint``, the priors'
gradients) take an optional ``out`` array to write it into (:mod:`mfsr.kernels.buffers`).

The set is this package; its functions live in one module per operator family, named as
the CUDA sources of the CuPy set (``cuda/<name>.cu``): :mod:`.warp`, :mod:`.sampling`,
:mod:`.operator`, :mod:`.prior`, :mod:`.data`, :mod:`.vector`, :mod:`.irls`,
:mod:`.merge`, :mod:`.flow`, :mod:`.filter` and :mod:`.photometric`; the constants and
checks that every set shares are in :mod:`mfsr.kernels.common` (re-exported here).
"""
from __future__ import annotations

from ..common import (IRLS_FLOOR, IRLS_MAD, LK_MAX_MEDIAN, MERGE_CUTOFF, MERGE_TINY, PYRAMID_SIGMA,
                      SMOOTHNESS_OFFSETS, SMOOTHNESS_WEIGHTS)
from .data import data_fidelity
from .filter import local_filter, normalized_filter, remove_offsets
from .flow import lk_confidence, lk_level, lk_pyramid_down, lk_upsample
from .irls import (cg_direction, cg_step, cg_update, irls_data_weights, irls_difference_median,
                   irls_key_median, irls_objective, irls_prior_weights, irls_residuals,
                   smoothness_differences, weighted_smoothness, weighted_smoothness_value)
from .merge import kernel_merge
from .operator import (prepare_warps, separable_gather, warp_blur_decimate,
                       warp_blur_decimate_adjoint)
from .photometric import warp_difference
from .prior import pairwise_prior, pairwise_prior_gradient, rho, tv_prior
from .sampling import strided_correlate, strided_correlate_adjoint
from .vector import axpby, axpy
from .warp import warp_adjoint, warp_forward

NAME = "numpy"

#: The functions of the set (every kernel set implements them) and the shared constants.
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
    "NAME", "SMOOTHNESS_OFFSETS", "SMOOTHNESS_WEIGHTS", "IRLS_MAD", "IRLS_FLOOR",
    "MERGE_CUTOFF", "MERGE_TINY", "LK_MAX_MEDIAN", "PYRAMID_SIGMA",
]

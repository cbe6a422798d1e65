"""CuPy system operator: the ELL separable gather as two gathers
(:func:`separable_gather`), the warps kept as LR flows (:class:`GpuWarps`,
:func:`prepare_warps`) and ``A = D B W_k`` and its adjoint over all frames with the
warps computed on the fly (:func:`warp_blur_decimate`,
:func:`warp_blur_decimate_adjoint`); ``cuda/operator.cu``, see
:mod:`mfsr.kernels.reference.operator`.
"""
from __future__ import annotations

import cupy as cp
import numpy as np

from .. import reference
from ..buffers import deliver
from ..geometry import flow_axis_weights
from .common import fast, kernel, launch


def _ell_args(idx, wts, n_out, name):
    idx = cp.ascontiguousarray(cp.asarray(idx), dtype=cp.int64)
    wts = cp.ascontiguousarray(cp.asarray(wts), dtype=cp.float64)
    if idx.ndim != 2 or idx.shape != wts.shape or idx.shape[0] != n_out:
        raise ValueError(f"{name} tables must be two arrays of shape ({n_out}, m), got "
                         f"{tuple(idx.shape)} and {tuple(wts.shape)}")
    return idx, wts, np.int32(idx.shape[1])


def _gather_rows(z, idx, wts, m, zw=None):
    """``t[..., i, :] = sum_a wts[i, a] z[..., idx[i, a], :]`` (of ``zw * z`` with ``zw``)."""
    n_in, width = z.shape[-2:]
    t = cp.empty(z.shape[:-2] + (idx.shape[0], width), dtype=z.dtype)
    dims = (m, np.int64(n_in), np.int64(idx.shape[0]), np.int64(width), np.int64(t.size), t)
    if zw is None:
        launch(kernel("ell_gather_rows", z.dtype), t.size, (z, idx, wts) + dims)
    else:
        launch(kernel("ell_gather_rows_weighted", z.dtype), t.size, (z, zw, idx, wts) + dims)
    return t


def _gather_cols(t, idx, wts, m):
    """``out[..., j] = sum_b wts[j, b] t[..., idx[j, b]]``."""
    out = cp.empty(t.shape[:-1] + (idx.shape[0],), dtype=t.dtype)
    launch(kernel("ell_gather_cols", t.dtype), out.size,
           (t, idx, wts, m, np.int64(t.shape[-1]), np.int64(idx.shape[0]),
            np.int64(out.size), out))
    return out


def separable_gather(z, rows, row_weights, cols, col_weights):
    """``S_y z S_x^T`` as two gathers (rows, then columns); see
    :func:`mfsr.kernels.reference.separable_gather`."""
    if not fast(z) or z.ndim < 2:
        return reference.separable_gather(z, rows, row_weights, cols, col_weights)
    z = cp.ascontiguousarray(z)
    rows, row_weights, my = _ell_args(rows, row_weights, len(rows), "row")
    cols, col_weights, mx = _ell_args(cols, col_weights, len(cols), "column")
    t = _gather_rows(z, rows, row_weights, my)
    return _gather_cols(t, cols, col_weights, mx)


class GpuWarps:
    """The warps of :func:`prepare_warps`: the LR flows and the per-axis tables that
    upsample them, from which the kernels compute each HR pixel's bilinear weights on
    the fly (a few bytes per LR pixel, instead of 12-16 bytes per HR pixel and frame)."""

    def __init__(self, flows, scale, phase):
        xp = cp
        self.flows = cp.ascontiguousarray(flows, dtype=cp.float32)
        self.n_frames, h, w = (int(v) for v in self.flows.shape[:3])
        self.lr_shape = (h, w)
        self.scale = int(scale)
        self.hr_shape = (self.scale * h, self.scale * w)
        self.rows = tuple(xp.asarray(a) for a in flow_axis_weights(h, self.scale, phase))
        self.cols = tuple(xp.asarray(a) for a in flow_axis_weights(w, self.scale, phase))
        # one device-to-host copy per operator: which frames do not move
        moving = cp.any(self.flows.reshape(self.n_frames, -1) != 0, axis=1)
        self.identity = ~cp.asnumpy(moving)
        self.identity_device = cp.asarray(self.identity.astype(np.int32))

    def args(self):
        """Kernel arguments from ``r0`` to ``w_lr`` (see ``operator.cu``)."""
        return (*self.rows, *self.cols, np.float32(self.scale), np.int64(self.lr_shape[0]),
                np.int64(self.lr_shape[1]))


def prepare_warps(flows, scale, phase):
    """The warps of ``flows`` (K, h, w, 2) in this kernel set's form (:class:`GpuWarps`);
    see :func:`mfsr.kernels.reference.prepare_warps`."""
    if not isinstance(flows, cp.ndarray):
        return reference.prepare_warps(flows, scale, phase)
    if flows.ndim != 4 or flows.shape[-1] != 2:
        raise ValueError(f"flows must have shape (K, h, w, 2), got {tuple(flows.shape)}")
    return GpuWarps(flows, scale, phase)


def _check_warps(warps, hr_shape):
    if not isinstance(warps, GpuWarps):
        raise TypeError(f"warps must come from cupy_kernels.prepare_warps, got "
                        f"{type(warps).__name__}")
    if warps.hr_shape != tuple(hr_shape):
        raise ValueError(f"warps are for HR images of {warps.hr_shape}, not {tuple(hr_shape)}")
    return warps


def warp_blur_decimate(x, warps, rows, row_weights, cols, col_weights):
    """``A x`` over all frames: warp on the fly, then the two gathers; see
    :func:`mfsr.kernels.reference.warp_blur_decimate`."""
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D image, got shape {tuple(x.shape)}")
    warps = _check_warps(warps, x.shape)
    dtype = x.dtype
    if not fast(x):
        x = x.astype(cp.float32)
    x = cp.ascontiguousarray(x)
    rows, row_weights, my = _ell_args(rows, row_weights, len(rows), "row")
    cols, col_weights, mx = _ell_args(cols, col_weights, len(cols), "column")
    H, W = x.shape
    z = cp.empty((warps.n_frames, H, W), dtype=x.dtype)
    launch(kernel("warp_frames", x.dtype), z.size,
           (x, warps.flows, warps.identity_device, *warps.args(), np.int64(H), np.int64(W),
            np.int64(z.size), z))
    out = _gather_cols(_gather_rows(z, rows, row_weights, my), cols, col_weights, mx)
    return out.astype(dtype, copy=False)


def warp_blur_decimate_adjoint(y, warps, rows_t, row_weights_t, cols_t, col_weights_t,
                               out=None, weights=None):
    """``A^T y``: the row gather (reading ``weights * y`` with ``weights``), then the
    column gather fused with the splats; see
    :func:`mfsr.kernels.reference.warp_blur_decimate_adjoint`."""
    _check_warps(warps, warps.hr_shape if isinstance(warps, GpuWarps) else ())
    if y.ndim != 3 or tuple(y.shape) != (warps.n_frames,) + warps.lr_shape:
        raise ValueError(f"y must have shape {(warps.n_frames,) + warps.lr_shape}, got "
                         f"{tuple(y.shape)}")
    H, W = warps.hr_shape
    dtype = y.dtype
    if not fast(y):
        y = y.astype(cp.float32)
    y = cp.ascontiguousarray(y)
    if weights is not None:
        if tuple(weights.shape) != tuple(y.shape):
            raise ValueError(f"weights must have y's shape {tuple(y.shape)}, got "
                             f"{tuple(weights.shape)}")
        weights = cp.ascontiguousarray(weights, dtype=y.dtype)
    rows_t, row_weights_t, my = _ell_args(rows_t, row_weights_t, H, "transposed row")
    cols_t, col_weights_t, mx = _ell_args(cols_t, col_weights_t, W, "transposed column")
    t = _gather_rows(y, rows_t, row_weights_t, my, weights)  # (K, H, w)
    total = cp.zeros((H, W), dtype=y.dtype)
    launch(kernel("gather_cols_splat", y.dtype), total.size,
           (t, cols_t, col_weights_t, mx, warps.flows, warps.identity_device,
            np.int32(warps.n_frames), *warps.args(), np.int64(H), np.int64(W),
            np.int64(y.shape[2]), total))
    return deliver(total.astype(dtype, copy=False), out)

"""CuPy kernel-regression merge of a burst, one thread per HR pixel (:func:`kernel_merge`);
``cuda/merge.cu``, see :mod:`mfsr.kernels.reference.merge`.
"""
from __future__ import annotations

import cupy as cp
import numpy as np

from .. import reference
from ..common import check_merge_shapes, merge_constants
from .common import device_values, fast, kernel, launch

#: channels one thread accumulates in ``merge.cu`` (MFSR_MERGE_MAX_CHANNELS)
MERGE_MAX_CHANNELS = 8


def kernel_merge(frames, flows, weights, icov, channel, n_channels, scale, phase, radius):
    """Kernel-regression merge, one thread per HR pixel (a gather: no atomics); see
    :func:`mfsr.kernels.reference.kernel_merge`."""
    if not (fast(frames) and frames.ndim == 4):
        return reference.kernel_merge(frames, flows, weights, icov, channel, n_channels,
                                      scale, phase, radius)
    T = np.dtype(frames.dtype)
    K, h, w, L = (int(v) for v in frames.shape)
    H, W = (int(v) for v in icov.shape[:2])
    C, radius = int(n_channels), int(radius)
    if L not in (1, C):
        raise ValueError(f"frames must hold 1 or n_channels={C} values per sample, got {L}")
    if not 1 <= C <= MERGE_MAX_CHANNELS:
        raise ValueError(f"n_channels must be in [1, {MERGE_MAX_CHANNELS}] on the GPU, got {C}")
    frames = cp.ascontiguousarray(frames)
    flows = cp.ascontiguousarray(flows, dtype=cp.float32)
    weights = cp.ascontiguousarray(weights, dtype=T)
    icov = cp.ascontiguousarray(icov, dtype=T)
    channel = cp.ascontiguousarray(channel, dtype=cp.int32)
    check_merge_shapes(frames, flows, weights, icov, channel)
    consts = device_values(merge_constants(radius, T), T)
    out = cp.empty((H, W, C), dtype=T)
    support = cp.empty((H, W, C), dtype=T)
    t = T.type
    launch(kernel("kernel_merge", T), H * W,
           (frames, flows, weights, icov, channel, consts, np.int32(radius), np.int64(K),
            np.int64(h), np.int64(w), np.int32(L), np.int32(C), t(scale), t(phase),
            np.int64(H), np.int64(W), out, support))
    return out, support

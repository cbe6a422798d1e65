"""CuPy photometric check: ``frames - W_k image`` of a whole stack in one launch
(:func:`warp_difference`); ``cuda/photometric.cu``, see
:mod:`mfsr.kernels.reference.photometric`.
"""
from __future__ import annotations

import cupy as cp
import numpy as np

from .. import reference
from .common import fast, kernel, launch


def warp_difference(frames, image, flows):
    """One launch over the stack; see :func:`mfsr.kernels.reference.warp_difference`."""
    if not fast(frames, image) or frames.ndim != 3 or image.dtype != frames.dtype or \
            tuple(image.shape) != tuple(frames.shape[1:]) or \
            tuple(flows.shape) != tuple(frames.shape) + (2,):
        return reference.warp_difference(frames, image, flows)
    frames, image = cp.ascontiguousarray(frames), cp.ascontiguousarray(image)
    flows = cp.ascontiguousarray(flows, dtype=cp.float32)
    out = cp.empty_like(frames)
    launch(kernel("warp_difference", frames.dtype), frames.size,
           (frames, image, flows, np.int64(frames.shape[1]), np.int64(frames.shape[2]),
            np.int64(frames.size), out))
    return out

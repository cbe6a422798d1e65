"""Reference photometric check: the differences ``frames - W_k image`` of a whole stack in
one call (:func:`warp_difference`); ``cuda/photometric.cu`` in the CuPy set.
"""
from __future__ import annotations

from ...core.backend import get_array_module
from ..geometry import bilinear_sample


def warp_difference(frames, image, flows):
    """``frames[k] - image`` sampled bilinearly at ``p + flows[k](p)`` (positions clamped
    to the image), for all frames at once.

    Parameters
    ----------
    frames : array, shape (K, h, w)
    image : array, shape (h, w), ``frames``' dtype
    flows : array, shape (K, h, w, 2), float32
        ``(dx, dy)`` per pixel.

    Returns
    -------
    array, shape (K, h, w), ``frames``' dtype
    """
    xp = get_array_module(frames)
    k, h, w = frames.shape
    gy, gx = xp.meshgrid(xp.arange(h, dtype=xp.float32), xp.arange(w, dtype=xp.float32),
                         indexing="ij")
    warped = bilinear_sample(xp.broadcast_to(image, (k, 1, h, w)),
                             (gy + flows[..., 1])[:, None], (gx + flows[..., 0])[:, None])
    return (frames - warped[:, 0]).astype(frames.dtype, copy=False)

"""Per-pixel registration confidence from a forward-backward consistency check."""
from __future__ import annotations

import cv2
import numpy as np

from ..backend import get_array_module
from .gpu_flow import bilinear_sample


def sample(field, flow):
    """Bilinearly sample ``field`` at ``p + flow(p)`` (border replicate)."""
    h, w = flow.shape[:2]
    xp = get_array_module(field, flow)
    if xp is not np:  # device arrays stay on the device
        gy, gx = xp.meshgrid(xp.arange(h, dtype=xp.float32), xp.arange(w, dtype=xp.float32),
                             indexing="ij")
        return xp.moveaxis(bilinear_sample(xp.moveaxis(field, -1, 0), gy + flow[..., 1],
                                           gx + flow[..., 0]), 0, -1)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(field, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def forward_backward_confidence(forward, backward, tolerance=0.5):
    """Confidence in [0, 1] from ``|f(p) + b(p + f(p))|``.

    Parameters
    ----------
    forward : ndarray, shape (h, w, 2)
        Flow frame -> reference.
    backward : ndarray, shape (h, w, 2)
        Flow reference -> frame.
    tolerance : float
        Error (LR px) at which the confidence falls to ``exp(-1/2)``.

    Returns
    -------
    ndarray, shape (h, w), float32
        Gaussian of the round-trip error; 0 where ``p + f(p)`` leaves the frame. On the
        array module of the flows (CuPy flows are processed on the GPU).
    """
    h, w = forward.shape[:2]
    xp = get_array_module(forward, backward)
    err = forward + sample(backward, forward)
    conf = xp.exp(-0.5 * (err[..., 0] ** 2 + err[..., 1] ** 2) / tolerance**2)
    gx, gy = xp.meshgrid(xp.arange(w), xp.arange(h))
    tx, ty = gx + forward[..., 0], gy + forward[..., 1]
    inside = (tx >= -0.5) & (tx <= w - 0.5) & (ty >= -0.5) & (ty <= h - 0.5)
    return (conf * inside).astype(np.float32)

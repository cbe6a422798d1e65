"""Per-pixel registration confidence from a forward-backward consistency check."""
from __future__ import annotations

import cv2
import numpy as np


def sample(field, flow):
    """Bilinearly sample ``field`` at ``p + flow(p)`` (border replicate)."""
    h, w = flow.shape[:2]
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
        Gaussian of the round-trip error; 0 where ``p + f(p)`` leaves the frame.
    """
    h, w = forward.shape[:2]
    err = forward + sample(backward, forward)
    conf = np.exp(-0.5 * (err[..., 0] ** 2 + err[..., 1] ** 2) / tolerance**2)
    gx, gy = np.meshgrid(np.arange(w), np.arange(h))
    tx, ty = gx + forward[..., 0], gy + forward[..., 1]
    inside = (tx >= -0.5) & (tx <= w - 0.5) & (ty >= -0.5) & (ty <= h - 0.5)
    return (conf * inside).astype(np.float32)

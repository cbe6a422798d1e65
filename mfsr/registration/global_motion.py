"""Global motion (translation, affine) between one LR frame and the reference.

Returned as dense flows so that later layers see one representation.
"""
from __future__ import annotations

import cv2
import numpy as np


def affine_to_flow(matrix, shape):
    """Dense flow ``(h, w, 2)`` of the map ``p -> matrix @ [x, y, 1]`` (minus ``p``)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    m = np.asarray(matrix, dtype=np.float64)
    tx = m[0, 0] * xx + m[0, 1] * yy + m[0, 2]
    ty = m[1, 0] * xx + m[1, 1] * yy + m[1, 2]
    return np.stack([tx - xx, ty - yy], axis=-1).astype(np.float32)


def flow_translation(frame, reference, upsample=100):
    """Global translation by phase correlation with sub-pixel refinement (scikit-image)."""
    from skimage.registration import phase_cross_correlation
    shift, _, _ = phase_cross_correlation(reference, frame, upsample_factor=upsample)
    dy, dx = shift
    m = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    return affine_to_flow(m, frame.shape)


def flow_ecc(frame, reference, iterations=200, eps=1e-6):
    """Global affine motion by ECC maximisation (Evangelidis & Psarakis 2008), from the
    phase-correlation translation as a start."""
    from skimage.registration import phase_cross_correlation
    (dy, dx), _, _ = phase_cross_correlation(reference, frame, upsample_factor=20)
    warp = np.array([[1, 0, dx], [0, 1, dy]], dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, eps)
    try:
        _, warp = cv2.findTransformECC(frame.astype(np.float32), reference.astype(np.float32),
                                       warp, cv2.MOTION_AFFINE, criteria, None, 1)
    except cv2.error:
        pass  # ECC did not converge: keep the phase-correlation translation
    return affine_to_flow(warp, frame.shape)

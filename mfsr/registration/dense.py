"""Dense optical flow between one LR frame and the reference (OpenCV, scikit-image).

Each estimator returns ``flow`` of shape ``(h, w, 2)``, ``(dx, dy)`` in LR pixels, such
that ``frame(p) ~ reference(p + flow(p))``.
"""
from __future__ import annotations

import cv2
import numpy as np


def to_uint8(image, lo, hi):
    """Stretch ``[lo, hi]`` to 8 bits, as OpenCV's flow estimators need."""
    span = max(hi - lo, 1e-6)
    return np.clip(np.round((image - lo) * (255.0 / span)), 0, 255).astype(np.uint8)


DIS_MIN_SIZE = 16  # OpenCV's DIS refuses images smaller than its patches


def flow_dis(frame, reference, preset="medium"):
    """OpenCV DIS optical flow (Kroeger et al. 2016), finest scale = full resolution.

    Frames smaller than ``DIS_MIN_SIZE`` pixels on a side are reflect-padded for the
    estimate and the flow cropped back.
    """
    h, w = frame.shape
    pad = ((0, max(0, DIS_MIN_SIZE - h)), (0, max(0, DIS_MIN_SIZE - w)))
    if any(after for _, after in pad):
        mode = "reflect" if min(h, w) > 1 else "edge"
        flow = flow_dis(np.pad(frame, pad, mode=mode), np.pad(reference, pad, mode=mode), preset)
        return np.ascontiguousarray(flow[:h, :w])
    presets = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
               "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
               "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
    dis = cv2.DISOpticalFlow_create(presets[preset])
    dis.setFinestScale(0)
    lo, hi = float(min(frame.min(), reference.min())), float(max(frame.max(), reference.max()))
    return dis.calc(to_uint8(frame, lo, hi), to_uint8(reference, lo, hi), None)


def flow_farneback(frame, reference):
    """OpenCV Farneback polynomial-expansion flow."""
    lo, hi = float(min(frame.min(), reference.min())), float(max(frame.max(), reference.max()))
    return cv2.calcOpticalFlowFarneback(to_uint8(frame, lo, hi), to_uint8(reference, lo, hi),
                                        None, 0.5, 4, 9, 5, 5, 1.1, 0)


def flow_tvl1(frame, reference):
    """scikit-image TV-L1 flow (Zach et al. 2007; Wedel et al. 2009)."""
    from skimage.registration import optical_flow_tvl1
    v, u = optical_flow_tvl1(frame.astype(np.float32), reference.astype(np.float32))
    return np.stack([u, v], axis=-1).astype(np.float32)

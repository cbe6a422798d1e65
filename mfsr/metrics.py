"""Quality metrics with stated conventions.

The project's standard (``../shared/data/README.md``): PSNR and SSIM on Y of BT.601 with
MATLAB ``rgb2ycbcr`` scaling (16-235, peak 255), a border of ``scale`` pixels cropped,
SSIM as ``skimage.metrics.structural_similarity`` with its default 7x7 uniform window.
"""
from __future__ import annotations

import numpy as np

from ._validation import check_array, check_int
from .backend import to_numpy
from .color import as_float_image


def matlab_luma(rgb):
    """Y of BT.601 with MATLAB ``rgb2ycbcr`` scaling: 16..235 for RGB in [0, 1]."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return 16.0 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]


def _prepare(reference, test, crop, luma):
    reference = check_array(to_numpy(reference), "reference", ndim=(2, 3))
    test = check_array(to_numpy(test), "test", ndim=(2, 3))
    if reference.shape != test.shape:
        raise ValueError(f"reference shape {reference.shape} != test shape {test.shape}")
    crop = check_int(crop, "crop", minimum=0)
    a = as_float_image(reference, "reference", np.float64)
    b = np.clip(as_float_image(test, "test", np.float64), 0.0, 1.0)
    peak = 1.0
    if luma:
        if a.ndim != 3 or a.shape[-1] != 3:
            raise ValueError(f"luma=True needs RGB images (H, W, 3), got {a.shape}")
        a, b, peak = matlab_luma(a), matlab_luma(b), 255.0
    if crop:
        if 2 * crop >= min(a.shape[:2]):
            raise ValueError(f"crop {crop} leaves nothing of a {a.shape[:2]} image")
        a, b = a[crop:-crop, crop:-crop], b[crop:-crop, crop:-crop]
    return a, b, peak


def psnr(reference, test, crop=0, luma=False):
    """Peak signal-to-noise ratio in dB.

    Parameters
    ----------
    reference, test : array, shape (H, W) or (H, W, 3)
        Ground truth and estimate; integer images are scaled by their dtype's range,
        float estimates are clipped to [0, 1]. Colour is RGB on the last axis.
    crop : int
        Border width removed on every side before measuring (use ``scale``).
    luma : bool
        Measure on MATLAB-scaled BT.601 Y (peak 255) instead of all channels (peak 1).

    Returns
    -------
    float
    """
    a, b, peak = _prepare(reference, test, crop, luma)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(peak**2 / mse)


def ssim(reference, test, crop=0, luma=False):
    """Structural similarity (scikit-image, 7x7 uniform window), same options as :func:`psnr`."""
    from skimage.metrics import structural_similarity
    a, b, peak = _prepare(reference, test, crop, luma)
    return float(structural_similarity(a, b, data_range=peak,
                                       channel_axis=-1 if a.ndim == 3 else None))


def y_psnr_ssim(reference, test, scale):
    """The project's standard pair: ``(psnr, ssim)`` on Y with a ``scale``-pixel crop."""
    return psnr(reference, test, scale, luma=True), ssim(reference, test, scale, luma=True)

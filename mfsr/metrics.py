"""Quality metrics with stated conventions.

The project's standard (``../shared/data/README.md``): PSNR and SSIM on Y of BT.601 with
MATLAB ``rgb2ycbcr`` scaling (16-235, peak 255), a border of ``scale`` pixels cropped,
SSIM as ``skimage.metrics.structural_similarity`` with its default 7x7 uniform window.
"""
from __future__ import annotations

import numpy as np

from .core.backend import to_numpy
from .core.color import as_float_image
from .core.validation import check_array, check_int


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


def grid_energy(image, scale, crop=None):
    """Mean square of the part of ``image`` that repeats with the x``scale`` sampling
    grid: the mesh a reconstruction leaves at the LR pixel period.

    The image (``crop`` px border removed, default ``scale``; then cut to a multiple of
    ``scale``) is Fourier transformed; the squared magnitudes at ``(k/s, l/s)`` cycles
    per pixel, ``k, l = 0..s-1`` but not both 0, are summed and divided by the pixel
    count squared (Parseval: the mean square of the periodic part).

    Parameters
    ----------
    image : array, shape (H, W) or (H, W, 3)
        A grey image in any units, or RGB, measured on its MATLAB-scaled BT.601 Y
        (0..255 units, as the PSNR convention; integers scaled by their range).
    scale : int
    crop : int, optional

    Returns
    -------
    float
        In the image's squared units ((0..255)^2 for RGB).

    Examples
    --------
    >>> import numpy as np
    >>> mesh = np.tile([[1.0, 0, 0, 0]], (8, 2))          # one spike per 4 px
    >>> round(grid_energy(mesh, 4, crop=0), 4)             # its variance, 3/16
    0.1875
    """
    image = check_array(to_numpy(image), "image", ndim=(2, 3))
    scale = check_int(scale, "scale", minimum=2)
    crop = scale if crop is None else check_int(crop, "crop", minimum=0)
    if image.ndim == 3:
        y = matlab_luma(as_float_image(image, "image", np.float64))
    else:
        y = np.asarray(image, np.float64)
    if crop:
        y = y[crop:-crop, crop:-crop]
    h, w = (y.shape[0] // scale) * scale, (y.shape[1] // scale) * scale
    if h == 0 or w == 0:
        raise ValueError(f"image too small for a x{scale} grid after a {crop}-px crop")
    spectrum = np.abs(np.fft.fft2(y[:h, :w])) ** 2
    rows, cols = np.arange(scale) * (h // scale), np.arange(scale) * (w // scale)
    total = sum(spectrum[r, c] for r in rows for c in cols) - spectrum[0, 0]
    return float(total) / (h * w) ** 2


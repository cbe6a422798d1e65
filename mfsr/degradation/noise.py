"""Noise models and noise-level estimation."""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from .._validation import check_array, check_float


class GaussianNoise:
    """Additive white Gaussian noise of standard deviation ``sigma`` (image units)."""

    def __init__(self, sigma: float):
        self.sigma = check_float(sigma, "sigma", minimum=0.0)

    def std(self, x):
        """Per-pixel standard deviation for clean signal ``x``."""
        return self.sigma

    def add(self, x, rng):
        """Return ``x`` plus a noise draw from ``rng`` (a ``numpy.random.Generator``)."""
        return x + self.sigma * rng.standard_normal(x.shape).astype(x.dtype)

    def __repr__(self):
        return f"GaussianNoise(sigma={self.sigma:g})"


class PoissonGaussianNoise:
    """Signal-dependent noise with variance ``gain * x + sigma**2`` (Foi et al. 2008)."""

    def __init__(self, gain: float, sigma: float):
        self.gain = check_float(gain, "gain", minimum=0.0)
        self.sigma = check_float(sigma, "sigma", minimum=0.0)

    def std(self, x):
        return np.sqrt(np.clip(self.gain * x, 0, None) + self.sigma**2)

    def add(self, x, rng):
        return x + (self.std(x) * rng.standard_normal(x.shape)).astype(x.dtype)

    def __repr__(self):
        return f"PoissonGaussianNoise(gain={self.gain:g}, sigma={self.sigma:g})"


def make_noise(noise):
    """``None``/0 -> no noise, a number -> Gaussian sigma, or a noise object as is."""
    if noise is None:
        return GaussianNoise(0.0)
    if isinstance(noise, (GaussianNoise, PoissonGaussianNoise)):
        return noise
    if isinstance(noise, (int, float)) and not isinstance(noise, bool):
        return GaussianNoise(noise)
    raise TypeError(f"noise must be a number, None or a noise model, got {type(noise).__name__}")


def estimate_noise(image, block=8, fraction=0.15):
    """Estimate the standard deviation of white Gaussian noise in a frame.

    Donoho's MAD rule on the finest diagonal Haar coefficients, restricted to the
    ``fraction`` of ``block`` x ``block`` blocks with the weakest texture (lowest mean
    gradient of the Gaussian-smoothed frame), in the spirit of Liu et al. (2013). On
    aliased LR frames the plain MAD rule over all pixels mistakes texture for noise.

    Parameters
    ----------
    image : array, shape (H, W) or (K, H, W)
        Frame or stack of frames in image units; a stack gives one pooled estimate.
    block : int
        Even block size in pixels.
    fraction : float
        Share of the blocks used, in (0, 1].

    Returns
    -------
    float
        Estimated sigma in the units of ``image``.
    """
    import scipy.ndimage as ndi

    from ..backend import to_numpy
    from .._validation import check_int

    image = check_array(image, "image", ndim=(2, 3))
    block = check_int(block, "block", minimum=2)
    if block % 2:
        raise ValueError(f"block must be even, got {block}")
    fraction = check_float(fraction, "fraction", minimum=0.0, maximum=1.0, strict_min=True)
    stack = to_numpy(image).astype(np.float64)
    if stack.ndim == 2:
        stack = stack[None]
    h, w = (stack.shape[1] // block) * block, (stack.shape[2] // block) * block
    if h == 0 or w == 0:
        raise ValueError(f"image must be at least {block}x{block} pixels, got {image.shape}")
    scores, coeffs = [], []
    for x in stack[:, :h, :w]:
        hh = (x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]) / 2
        smooth = ndi.gaussian_filter(x, 1.0)
        grad = np.hypot(ndi.sobel(smooth, 0), ndi.sobel(smooth, 1))
        scores.append(grad.reshape(h // block, block, w // block, block).mean((1, 3)).ravel())
        b = block // 2
        coeffs.append(hh.reshape(h // block, b, w // block, b).transpose(0, 2, 1, 3)
                      .reshape(-1, b * b))
    scores, coeffs = np.concatenate(scores), np.concatenate(coeffs)
    keep = np.argsort(scores, kind="stable")[: max(1, int(fraction * len(scores)))]
    return float(np.median(np.abs(coeffs[keep]))) / 0.6745

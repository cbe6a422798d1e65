"""Noise models and noise-level estimation."""
from __future__ import annotations

import numpy as np

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


def _blocks(image, block):
    """Per ``block`` x ``block`` block of every frame: texture score, mean, the finest
    diagonal Haar coefficients (``(n_blocks, block**2 / 4)``) and whether the block
    touches the stack's minimum or maximum value."""
    import scipy.ndimage as ndi

    from ..backend import to_numpy
    from .._validation import check_int

    image = check_array(image, "image", ndim=(2, 3))
    block = check_int(block, "block", minimum=2)
    if block % 2:
        raise ValueError(f"block must be even, got {block}")
    stack = to_numpy(image).astype(np.float64)
    if stack.ndim == 2:
        stack = stack[None]
    h, w = (stack.shape[1] // block) * block, (stack.shape[2] // block) * block
    if h == 0 or w == 0:
        raise ValueError(f"image must be at least {block}x{block} pixels, got {image.shape}")
    scores, means, coeffs, touches = [], [], [], []
    b = block // 2
    lo, hi = stack.min(), stack.max()
    grid = (h // block, block, w // block, block)  # a frame as its blocks
    for x in stack[:, :h, :w]:
        hh = (x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]) / 2
        smooth = ndi.gaussian_filter(x, 1.0)
        grad = np.hypot(ndi.sobel(smooth, 0), ndi.sobel(smooth, 1))
        tiles = x.reshape(grid)
        touches.append(((tiles.min((1, 3)) <= lo) | (tiles.max((1, 3)) >= hi)).ravel())
        scores.append(grad.reshape(grid).mean((1, 3)).ravel())
        means.append(smooth.reshape(grid).mean((1, 3)).ravel())
        coeffs.append(hh.reshape(h // block, b, w // block, b).transpose(0, 2, 1, 3)
                      .reshape(-1, b * b))
    return (np.concatenate(scores), np.concatenate(means), np.concatenate(coeffs),
            np.concatenate(touches))


def _weakest(scores, fraction):
    return np.argsort(scores, kind="stable")[: max(1, int(fraction * len(scores)))]


def estimate_noise(image, block=8, fraction=0.15):
    """Estimate the standard deviation of white Gaussian noise in a frame or stack.

    Donoho's MAD rule on the finest diagonal Haar coefficients, restricted to the
    ``fraction`` of ``block`` x ``block`` blocks with the weakest texture (lowest mean
    gradient of the Gaussian-smoothed frame), in the spirit of Liu et al. (2013). On
    aliased LR frames the plain MAD rule over all pixels mistakes texture for noise.
    Blocks that touch the stack's minimum or maximum value (clipped, saturated areas,
    where the noise is cut off) are used last.

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
    fraction = check_float(fraction, "fraction", minimum=0.0, maximum=1.0, strict_min=True)
    scores, _, coeffs, touches = _blocks(image, block)
    # clipped (saturated) blocks have their noise cut off, so they would pass for the
    # flattest and pull the estimate down: they are ranked last (a stack that is not
    # clipped loses only the one or two blocks holding its extremes)
    scores = np.where(touches, np.inf, scores)
    return float(np.median(np.abs(coeffs[_weakest(scores, fraction)]))) / 0.6745


def estimate_noise_model(image, block=8, fraction=0.2, bins=6):
    """Estimate signal-dependent noise ``var(x) = gain * x + sigma**2`` (Poisson-Gaussian).

    The weak-texture blocks (as in :func:`estimate_noise`) are grouped into intensity
    bins, the noise variance of each bin is measured with the MAD rule, and a straight
    line ``var = gain * mean + sigma**2`` is fitted by least squares with non-negative
    coefficients.

    Parameters
    ----------
    image : array, shape (H, W) or (K, H, W)
        Frame or stack in [0, 1] units.
    block : int
        Even block size in pixels.
    fraction : float
        Share of the weakest-texture blocks used.
    bins : int
        Number of intensity bins (quantiles of the selected blocks' means).

    Returns
    -------
    PoissonGaussianNoise
    """
    from scipy.optimize import nnls

    from .._validation import check_int

    fraction = check_float(fraction, "fraction", minimum=0.0, maximum=1.0, strict_min=True)
    bins = check_int(bins, "bins", minimum=1)
    # clipped blocks are kept here: the intensity bins need the dark and bright ends
    # (excluding them measured worse on astronaut, benchmarks/calibration.py)
    scores, means, coeffs, _ = _blocks(image, block)
    keep = _weakest(scores, fraction)
    means, coeffs = means[keep], coeffs[keep]
    edges = np.quantile(means, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, means, side="right") - 1, 0, bins - 1)
    mu, var = [], []
    for b in range(bins):
        members = which == b
        if members.sum() < 4:
            continue
        mu.append(float(np.mean(means[members])))
        var.append((float(np.median(np.abs(coeffs[members]))) / 0.6745) ** 2)
    if not mu:
        raise ValueError("image too small to estimate a noise model")
    design = np.stack([np.asarray(mu), np.ones(len(mu))], axis=1)
    (gain, offset), _ = nnls(design, np.asarray(var))
    return PoissonGaussianNoise(float(gain), float(np.sqrt(offset)))

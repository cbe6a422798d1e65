"""Noise models and noise-level estimation."""
from __future__ import annotations

import numpy as np

from ..core.backend import get_array_module, to_numpy
from ..core.device_cache import device_constant
from ..core.validation import check_array, check_float, check_int


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


# scipy.ndimage.gaussian_filter(x, 1.0)'s taps (truncate 4: radius 4) and sobel's
_GAUSS = np.exp(-0.5 * np.arange(-4, 5) ** 2.0)
_GAUSS /= _GAUSS.sum()
_DERIVATIVE, _SMOOTH = np.array([-1.0, 0.0, 1.0]), np.array([1.0, 2.0, 1.0])


def _filter_matrix(n, weights):
    """``(n, n)`` matrix of ``scipy.ndimage.correlate1d(., weights, mode="reflect")``
    along an axis of length ``n`` (the symmetric border folded in)."""
    r = len(weights) // 2
    rows = np.repeat(np.arange(n), len(weights))
    q = np.mod(np.arange(n)[:, None] + np.arange(len(weights)) - r, 2 * n)
    cols = np.where(q < n, q, 2 * n - 1 - q).ravel()
    out = np.zeros((n, n))
    np.add.at(out, (rows, cols), np.tile(weights, n))
    return out


def _gradient_matrices(n):
    """``(2, n, n)``: the derivative and the smoothing of Sobel, each after the Gaussian
    (sigma 1) along an axis of length ``n``, as matrices (float64)."""
    g = _filter_matrix(n, _GAUSS)
    return np.stack([_filter_matrix(n, _DERIVATIVE) @ g, _filter_matrix(n, _SMOOTH) @ g])


def _estimate_noise_xp(image, block, fraction):
    """:func:`estimate_noise` written against the image's array module (NumPy or CuPy),
    a few dozen array operations for the whole stack and one read-back.

    The Gaussian-then-Sobel gradient of the host path (``scipy.ndimage``, reflected
    border) is ``L x R`` per frame with per-axis matrices built on the host once per
    size and kept on the device (:func:`_gradient_matrices`), both gradient components
    in one broadcast product; the Haar coefficients are one contraction of the frames'
    2x2 cells in block order; block ranking (stable sort) and median stay on the
    device. The NaN/Inf check of ``image`` is read back with the median (the stack's
    minimum and maximum are finite exactly when every value is).
    """
    image = check_array(image, "image", ndim=(2, 3), finite="host")
    block = check_int(block, "block", minimum=2)
    if block % 2:
        raise ValueError(f"block must be even, got {block}")
    xp = get_array_module(image)
    k = 1 if image.ndim == 2 else image.shape[0]
    h, w = (image.shape[-2] // block) * block, (image.shape[-1] // block) * block
    if h == 0 or w == 0:
        raise ValueError(f"image must be at least {block}x{block} pixels, got {image.shape}")
    stack = image.astype(xp.float64)
    lo, hi = stack.min(), stack.max()
    x = stack.reshape(k, image.shape[-2], image.shape[-1])[:, :h, :w]
    left = device_constant(("noise-left", h), lambda: _gradient_matrices(h), xp)
    right = device_constant(("noise-right", w), lambda: _gradient_matrices(w)[::-1]
                            .transpose(0, 2, 1).copy(), xp)
    # component 0: d/dy (derivative along rows, smoothing along columns); 1: d/dx
    grad = xp.linalg.norm((left @ x[:, None]) @ right, axis=1)
    nb, b = (k, h // block, block, w // block, block), block // 2
    scores = grad.reshape(nb).mean(axis=(2, 4))
    tiles = x.reshape(nb)
    touches = (tiles.min(axis=(2, 4)) <= lo) | (tiles.max(axis=(2, 4)) >= hi)
    scores = xp.where(touches, xp.inf, scores)
    haar = device_constant("haar-diagonal", lambda: np.array([[0.5, -0.5], [-0.5, 0.5]]), xp)
    cells = x.reshape(k, h // block, b, 2, w // block, b, 2).transpose(0, 1, 4, 2, 5, 3, 6)
    coeffs = xp.tensordot(cells, haar, axes=([5, 6], [0, 1])).reshape(-1, b * b)
    n = max(1, int(fraction * coeffs.shape[0]))
    weakest = xp.argsort(scores, axis=None, kind="stable")[:n]
    median, lo, hi = to_numpy(xp.stack([xp.median(xp.abs(coeffs[weakest])), lo, hi]))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("image contains NaN or Inf values")
    return float(median) / 0.6745


def estimate_noise(image, block=8, fraction=0.15):
    """Estimate the standard deviation of white Gaussian noise in a frame or stack.

    Donoho's MAD rule on the finest diagonal Haar coefficients, restricted to the
    ``fraction`` of ``block`` x ``block`` blocks with the weakest texture (lowest mean
    gradient of the Gaussian-smoothed frame), in the spirit of Liu et al. (2013). On
    aliased LR frames the plain MAD rule over all pixels mistakes texture for noise.
    Blocks that touch the stack's minimum or maximum value (clipped, saturated areas,
    where the noise is cut off) are used last.

    Device (CuPy) input is estimated on the device (no SciPy, no copy of the frames to
    the host): the same filters as matrix products, the ranking and the median as array
    operations, and one read-back of the result (which carries the NaN/Inf check).

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
    if get_array_module(image) is not np:  # NumPy keeps SciPy's filters: 3x faster on
        return _estimate_noise_xp(image, block, fraction)  # 5 x 540x960 than the matrices
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

"""Point spread functions, in HR pixels, and their discrete taps at a sampling phase.

An LR pixel ``i`` is the PSF-weighted sum of HR pixels around the HR coordinate
``c = s*i + phase``. Writing ``c = s*i + p0 + frac`` with integer ``p0`` and
``0 <= frac < 1``, the weight of HR pixel ``s*i + p0 + d`` is ``psf(d - frac)``.
``taps(frac)`` returns those weights and the first offset ``d``; the integer part
``p0`` is handled by the decimation.
"""
from __future__ import annotations

import math

import numpy as np

from ..core.validation import check_array, check_float


class PSF:
    """Base class. Separable PSFs implement :meth:`taps`, others :meth:`taps_2d`."""

    separable = True

    def taps(self, frac: float):
        """Return ``(weights, first_offset)`` of the 1-D kernel for a sampling phase."""
        raise NotImplementedError

    def taps_2d(self, frac_y: float, frac_x: float):
        """Return ``(weights_2d, (first_offset_y, first_offset_x))``."""
        wy, oy = self.taps(frac_y)
        wx, ox = self.taps(frac_x)
        return np.outer(wy, wx), (oy, ox)


def _normalised(w, first):
    w = np.asarray(w, dtype=np.float64)
    # trim by magnitude: a kernel's negative lobes (bicubic's) are part of it
    nz = np.nonzero(np.abs(w) > 1e-12 * np.abs(w).max())[0]
    w = w[nz[0]: nz[-1] + 1]
    return w / w.sum(), first + int(nz[0])


class GaussianPSF(PSF):
    """Gaussian PSF sampled at integer offsets (as ``scipy.ndimage.gaussian_filter``).

    Parameters
    ----------
    sigma : float
        Standard deviation in HR pixels, >= 0 (0 is no blur).
    truncate : float
        Support radius in standard deviations (scipy's default is 4.0).
    """

    def __init__(self, sigma: float, truncate: float = 4.0):
        self.sigma = check_float(sigma, "sigma", minimum=0.0)
        self.truncate = check_float(truncate, "truncate", minimum=0.0, strict_min=True)

    def taps(self, frac):
        if self.sigma == 0:
            if frac == 0:
                return np.ones(1), 0
            return np.array([1.0 - frac, frac]), 0  # linear interpolation
        r = int(self.truncate * self.sigma + 0.5)
        d = np.arange(math.floor(frac - r), math.ceil(frac + r) + 1)
        t = d - frac
        with np.errstate(over="ignore"):  # a subnormal sigma: exp(-inf) = 0, see below
            w = np.exp(-0.5 * (t / self.sigma) ** 2)
        w[np.abs(t) > r] = 0.0
        if not w.any():  # no tap within the support (r = 0, fractional phase) or all underflow:
            w = (np.abs(t) == np.abs(t).min()).astype(np.float64)  # the limit, nearest tap(s)
        return _normalised(w, int(d[0]))

    def __repr__(self):
        return f"GaussianPSF(sigma={self.sigma:g})"


class BoxPSF(PSF):
    """Box PSF (sensor pixel area) of a given width, integrated over HR pixels.

    Parameters
    ----------
    width : float
        Width of the box in HR pixels (``scale`` for an ideal area sensor).
    """

    def __init__(self, width: float):
        self.width = check_float(width, "width", minimum=0.0, strict_min=True)

    def taps(self, frac):
        half = self.width / 2
        d = np.arange(math.floor(frac - half - 1), math.ceil(frac + half + 1) + 1)
        lo = np.maximum(d - frac - 0.5, -half)
        hi = np.minimum(d - frac + 0.5, half)
        return _normalised(np.clip(hi - lo, 0, None), int(d[0]))

    def __repr__(self):
        return f"BoxPSF(width={self.width:g})"


def _cubic(t, a=-0.5):
    t = np.abs(t)
    return np.where(t <= 1, (a + 2) * t**3 - (a + 3) * t**2 + 1,
                    np.where(t < 2, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a, 0.0))


class BicubicPSF(PSF):
    """Antialiased bicubic kernel of a ``scale``-fold downscale (MATLAB ``imresize``).

    Used by the ``"BI"`` preset: Keys' cubic (a = -0.5) stretched by ``scale``.
    """

    def __init__(self, scale: int):
        self.scale = check_float(scale, "scale", minimum=1.0)

    def taps(self, frac):
        s = self.scale
        d = np.arange(math.floor(frac - 2 * s), math.ceil(frac + 2 * s) + 1)
        return _normalised(_cubic((d - frac) / s), int(d[0]))

    def __repr__(self):
        return f"BicubicPSF(scale={self.scale:g})"


class KernelPSF(PSF):
    """A user-given 2-D kernel in HR pixels, centred on its middle, normalised to sum 1.

    A fractional sampling phase shifts the kernel by linear interpolation.

    Parameters
    ----------
    kernel : array_like, shape (kh, kw)
        Non-negative weights with a positive sum.
    """

    separable = False

    def __init__(self, kernel):
        k = check_array(np.asarray(kernel, dtype=np.float64), "kernel", ndim=2)
        if k.sum() <= 0 or (k < 0).any():
            raise ValueError("kernel must be non-negative with a positive sum")
        self.kernel = k / k.sum()

    def taps(self, frac):  # pragma: no cover - not separable
        raise TypeError("KernelPSF is not separable; use taps_2d")

    def taps_2d(self, frac_y, frac_x):
        k = self.kernel
        cy, cx = (k.shape[0] - 1) / 2, (k.shape[1] - 1) / 2
        if frac_y or frac_x:
            from scipy.ndimage import shift
            k = shift(np.pad(k, 1), (frac_y, frac_x), order=1, mode="constant")
            cy, cx = cy + 1, cx + 1
        k = k / k.sum()
        # first offsets relative to the integer sampling position
        return k, (-int(math.floor(cy)), -int(math.floor(cx)))

    def __repr__(self):
        return f"KernelPSF(shape={self.kernel.shape})"


def make_psf(psf, scale: int = 4) -> PSF:
    """Build a :class:`PSF` from a user-facing description.

    Parameters
    ----------
    psf : PSF, float, str or array_like
        A PSF object; a number = Gaussian sigma in HR pixels; ``"area"`` = box of
        width ``scale``; ``"bicubic"`` = antialiased bicubic; ``"none"`` = no blur;
        a 2-D array = custom kernel.
    scale : int
        Upscaling factor, used by ``"area"`` and ``"bicubic"``.

    Returns
    -------
    PSF
    """
    if isinstance(psf, PSF):
        return psf
    if isinstance(psf, str):
        names = {"area": lambda: BoxPSF(scale), "bicubic": lambda: BicubicPSF(scale),
                 "none": lambda: GaussianPSF(0.0)}
        if psf not in names:
            raise ValueError(f"unknown psf {psf!r}; valid: {', '.join(map(repr, names))}, "
                             "a Gaussian sigma, a 2-D kernel or a PSF object")
        return names[psf]()
    if isinstance(psf, (int, float)) and not isinstance(psf, bool):
        return GaussianPSF(psf)
    if hasattr(psf, "shape") or isinstance(psf, (list, tuple)):
        return KernelPSF(psf)
    raise TypeError(f"psf must be a PSF, a number, a name or a 2-D kernel, got {type(psf).__name__}")


def psf_variance(psf):
    """Variance of a PSF along one axis (HR pixels squared), from its taps at offset 0.

    Parameters
    ----------
    psf : PSF

    Returns
    -------
    float
    """
    weights, (first, _) = psf.taps_2d(0.0, 0.0)
    marginal = np.asarray(weights).sum(axis=1)
    x = first + np.arange(len(marginal))
    mean = float(np.sum(marginal * x) / np.sum(marginal))
    return float(np.sum(marginal * (x - mean) ** 2) / np.sum(marginal))

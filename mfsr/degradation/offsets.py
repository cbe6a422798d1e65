"""Smooth photometric offsets between frames: ``y_k = D B W_k x + b_k + n_k``.

Real frames of one scene never agree in local brightness to the noise level: exposure
and flicker, shading that changes with the motion, motion blur, the codec's drift of
block means. The frames' samples sit at different sub-pixel phases, and for a frame
whose motion is close to a whole number of LR pixels a component of ``x`` at the
frequencies of the x``s`` sampling grid (``k/s`` cycles per HR pixel) shows as a local
constant. A local brightness difference between frames is therefore "explained" by
the solver as a mesh at the x``s`` period, amplified by the blur's small response there
(about 0.04 at 1/4 cycle per pixel for the BD Gaussian of sigma 1.6). Giving each
non-reference frame a smooth offset field ``b_k`` that absorbs those differences removes
the mesh: on bigbuckbunny BDx4 (15 frames) its x4 grid energy fell from 14x the ground
truth's to 1.1x, with +0.3 dB (docs/real_motion.md). The offsets are low-pass, so the
aliased detail that super-resolution lives on stays in the data term.

The reference frame has no offset: the output keeps its brightness.
"""
from __future__ import annotations

import functools

import numpy as np

from ..core.validation import check_float
from ..kernels import kernels_for

__all__ = ["frame_offsets", "smooth_weighted", "without_offsets"]


@functools.lru_cache(maxsize=16)
def _gaussian_taps(sigma):
    """Normalised Gaussian taps of radius ``max(1, round(3 sigma))``, as a tuple."""
    radius = max(1, int(3.0 * sigma + 0.5))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 * (t / sigma) ** 2)
    return tuple(float(v) for v in taps / taps.sum())


def smooth_weighted(values, weights, sigma, floor=1e-3):
    """Normalised convolution: ``G * (w v) / max(G * w, floor)`` per image of a stack.

    Parameters
    ----------
    values, weights : arrays, shape (K, h, w)
    sigma : float
        Gaussian standard deviation in pixels.
    floor : float
        Smallest denominator (where no weight is near, the result falls to 0).

    Returns
    -------
    array, shape (K, h, w), ``values``' dtype
    """
    return kernels_for(values).normalized_filter(values, weights, _gaussian_taps(sigma),
                                                 floor)


def frame_offsets(residual, weights, sigma, reference):
    """The smooth offset field ``b_k`` of each frame from its residual ``y_k - A_k x``.

    Parameters
    ----------
    residual : array, shape (K, h, w)
        ``y - A x`` at the current estimate.
    weights : array, shape (K, h, w)
        Trust in each residual (data weights times registration confidence): occluded
        or misregistered pixels do not pull the offsets of their neighbours.
    sigma : float
        Width (LR px) of the offsets' Gaussian smoothing, > 0; the narrower, the more of
        the frames' disagreement the offsets absorb (1 LR px began to take detail on
        simulated data: -0.2 dB; 2 cost 0.04 dB there).
    reference : int
        The frame whose offset is 0 (its brightness is the output's).

    Returns
    -------
    array, shape (K, h, w)
        ``b``, with ``b[reference] = 0``.

    Examples
    --------
    >>> import numpy as np
    >>> r = np.zeros((3, 16, 16), np.float32); r[2] += 0.1
    >>> b = frame_offsets(r, np.ones_like(r), 2.0, reference=1)
    >>> float(b[1].max()), round(float(b[2].mean()), 3)
    (0.0, 0.1)
    """
    sigma = check_float(sigma, "sigma", minimum=0.0, strict_min=True)
    return kernels_for(residual).normalized_filter(residual, weights, _gaussian_taps(sigma),
                                                   zero_image=reference)


def without_offsets(observed, ax, weights, sigma, reference):
    """The frames less their offsets, ``y - frame_offsets(y - A x, weights, sigma,
    reference)``, in one kernel-set call (what IRLS fits against).

    Parameters
    ----------
    observed : array, shape (K, h, w)
        The frames ``y``.
    ax : array, shape (K, h, w)
        The model's prediction ``A x`` at the current estimate.
    weights, sigma, reference
        As in :func:`frame_offsets`.

    Returns
    -------
    array, shape (K, h, w), ``observed``'s dtype
    """
    sigma = check_float(sigma, "sigma", minimum=0.0, strict_min=True)
    return kernels_for(observed).remove_offsets(observed, ax, weights, _gaussian_taps(sigma),
                                                reference)

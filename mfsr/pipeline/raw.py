"""Joint demosaicking and super-resolution of raw Bayer bursts.

The CFA is one more sampling step of the model: raw frame ``k`` holds
``y_k = M D_s B W_k x`` with ``M`` keeping one colour per LR pixel
(:mod:`mfsr.degradation.cfa`). A channel of ``x`` is therefore seen only where the
mosaic carries it, which for the solvers is a data weight of 0 elsewhere: the operator
of channel ``c`` is ``A`` with its confidence multiplied by the mask of ``c``
(:meth:`~mfsr.degradation.SystemOperator.with_confidence`). Every method solves the
mosaic this way; the frames' different CFA offsets fill each other's gaps.

Priors on luminance and chrominance, in the colour-difference form (as in Farsiu et al.,
"Multiframe demosaicing and super-resolution of color images", IEEE TIP 2006, where
chrominance is kept smooth): green, sampled at half the pixels, carries the detail and
is solved first with the method's own (edge-preserving) prior; red and blue are solved
as the differences ``R - G`` and ``B - G`` with a strong quadratic smoothness prior, from
the residual their samples leave after the green estimate. Colour edges then follow the
green's, and red and blue, sampled at a quarter of the pixels, alias far less than a
per-channel solve would.

``method="kernel"`` merges all three channels at once (:func:`mfsr.solvers.kernel_merge`
with the CFA masks).

Registration runs on the half-size grey image (the mean of each 2x2 block,
:func:`~mfsr.degradation.cfa.half_size_grey`); its flows and confidence are brought to
the CFA grid. The noise level is estimated on that grey image and doubled (a block mean
of four samples has half their standard deviation).
"""
from __future__ import annotations

import numpy as np

from .. import solvers
from ..core.backend import get_array_module, ndimage_module, to_device
from ..core.motion import Motion
from ..core.validation import check_array
from ..degradation import CFASystemOperator, SystemOperator, estimate_noise
from ..degradation.cfa import (cfa_masks, check_pattern, flow_to_cfa_grid, half_size_grey,
                               raw_to_float)
from ..degradation.interpolate import upsample
from ..priors import Tikhonov
from ..registration.confidence import photometric_confidence
from .methods import METHODS, Problem, prior_weight
from .options import NOISE_BLOCK, estimate_motion, reference_index

# R - G and B - G: weight of the quadratic smoothness prior relative to the default
# Tikhonov rule, divided by s**2 (an HR pixel gets s**2 times fewer samples), and CG
# steps; tuned on a bigbuckbunny frame and skimage's immunohistochemistry, not on the
# benchmark's four images (benchmarks/raw_burst.py)
CHROMA_GAIN = 4.0
CHROMA_ITERATIONS = 20


def mosaics_to_float(frames, black_level=None, white_level=None):
    """Raw mosaics ``(K, h, w)`` as float in [0, 1].

    Integer mosaics are scaled by ``(raw - black) / (white - black)`` with ``black``
    default 0 and ``white`` default the dtype's maximum; float mosaics are taken as
    scaled already unless levels are given.
    """
    frames = check_array(frames, "frames", ndim=3)
    if frames.dtype.kind in "ui":
        black = 0 if black_level is None else black_level
        white = np.iinfo(frames.dtype).max if white_level is None else white_level
        return raw_to_float(frames, black, white, clip=False).astype(np.float32)
    if black_level is not None or white_level is not None:
        return raw_to_float(frames, 0 if black_level is None else black_level,
                            1.0 if white_level is None else white_level, clip=False)
    if frames.dtype.kind != "f":
        raise TypeError(f"frames must be unsigned integers or floats, got {frames.dtype}")
    return frames.astype(np.float32, copy=False) if frames.dtype != np.float64 else frames


def _cfa_motion(options, grey, ref, shape, sigma, xp):
    """Motion on the CFA grid: the call's, or registered on the half-size grey frames;
    either way frames lose weight where they disagree with the warped reference
    (:func:`~mfsr.registration.confidence.photometric_confidence` on the grey frames),
    so what the flow does not follow (a moving object, an occlusion) does not ghost."""
    if options.motion is not None:
        motion = options.motion
        if motion.n_frames != grey.shape[0] or motion.lr_shape != tuple(shape):
            raise ValueError(f"motion is for {motion.n_frames} frames of {motion.lr_shape}, "
                             f"frames are {grey.shape[0]} mosaics of {tuple(shape)}")
        motion = motion.to(xp)
        half = Motion(_blocks_2x2_mean(motion.flows) / 2, _blocks_2x2_mean(motion.confidence),
                      ref)
    else:
        half = estimate_motion(options, grey, ref, xp)
        motion = Motion(flow_to_cfa_grid(half.flows), _repeat_2x2(half.confidence, xp), ref)
    agree = photometric_confidence(grey, half, sigma / 2)  # a block mean: half the noise
    return Motion(motion.flows, motion.confidence * _repeat_2x2(agree, xp), ref)


def _blocks_2x2_mean(a):
    """Mean of each 2x2 block over axes 1 and 2 of ``(K, h, w, ...)``."""
    return (a[:, 0::2, 0::2] + a[:, 0::2, 1::2] + a[:, 1::2, 0::2] + a[:, 1::2, 1::2]) / 4


def _repeat_2x2(a, xp):
    """Each value of ``(K, h/2, w/2)`` over its 2x2 block of the CFA grid."""
    return xp.repeat(xp.repeat(a, 2, axis=1), 2, axis=2)


def fill_from_mask(plane, mask):
    """Bilinear demosaicking of one channel: the normalised convolution of its samples
    with the 3x3 tent, ``conv(mask * plane) / conv(mask)`` (exact at the samples)."""
    xp = get_array_module(plane)
    ndi = ndimage_module(xp)
    tent = xp.asarray(np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]).astype(plane.dtype))
    m = mask.astype(plane.dtype)
    num = ndi.convolve(plane * m, tent, mode="mirror")
    den = ndi.convolve(m, tent, mode="mirror")
    return num / xp.maximum(den, 1e-6)


def reconstruct_mosaics(frames, options, xp):
    """HR linear camera RGB from raw Bayer mosaics; see :func:`mfsr.reconstruct` with
    ``cfa=``.

    Parameters
    ----------
    frames : array, shape (K, h, w)
        Raw mosaics (integers in sensor units, or floats in [0, 1]).
    options : mfsr.pipeline.options.Options
        The call's checked options (``options.cfa`` is the pattern).
    xp : module
        Array module the work runs on.

    Returns
    -------
    hr : array, shape (s*h, s*w, 3)
    history : list of History
        ``[green, red, blue]`` for the iterative methods, one entry for ``"kernel"``.
    """

    pattern = check_pattern(options.cfa)
    frames = to_device(mosaics_to_float(frames, options.black_level, options.white_level), xp)
    k, h, w = frames.shape
    if h % 2 or w % 2:
        raise ValueError(f"raw mosaics must have an even height and width (whole 2x2 "
                         f"blocks), got {h}x{w}")
    if options.estimate_psf:
        raise ValueError('psf="estimate" is not available for raw mosaics yet')
    ref = reference_index(options.reference, k)
    if options.noise is None and min(h, w) < 2 * NOISE_BLOCK:   # estimated on half-size grey
        side = 2 * NOISE_BLOCK
        raise ValueError(f"frames (raw mosaics) must be at least {side}x{side} pixels for "
                         f"the noise estimate, got {h}x{w}: give noise=")
    grey = half_size_grey(frames, pattern)
    sigma = 2.0 * estimate_noise(grey) if options.noise is None else options.noise
    motion = _cfa_motion(options, grey, ref, (h, w), sigma, xp)
    masks = xp.moveaxis(xp.asarray(cfa_masks(pattern, (h, w))), -1, 0)  # (3, h, w)
    operator = SystemOperator(motion, options.scale, options.psf, options.phase)
    cfa = CFASystemOperator(operator, masks)

    if options.solve.method == "kernel":
        hr, hist = solvers.kernel_merge(operator, frames, masks=masks, noise=sigma)
        return hr, [hist]
    merged = None
    if options.init == "kernel":
        merged = solvers.kernel_merge(operator, frames, masks=masks, noise=sigma)[0]

    green_op = cfa.channel(1)
    green_init = (lambda stack: merged[..., 1]) if merged is not None else \
        _green_init(green_op, masks[1], ref)
    green = Problem(green_op, ref, sigma, _frames_taking_part(green_op), green_init)
    g_hr, g_hist = METHODS[options.solve.method].build(options.solve, green)(frames)
    out, hists = [None, g_hr, None], [None, g_hist, None]
    for c in (0, 2):
        op = cfa.channel(c)
        start = None if merged is None else merged[..., c] - g_hr
        out[c], hists[c] = _colour_difference(op, frames, g_hr, masks[c], ref, sigma,
                                             _frames_taking_part(op), start)
    return xp.stack(out, axis=-1), hists


def _frames_taking_part(operator):
    """Frames that take part in a channel's data, counted by its mean data weight (the
    mask's share, the confidence): the prior weights grow with it, so an area where only
    the reference agrees is regularised as one frame's samples, not K."""
    xp = get_array_module(operator.confidence)
    return max(float(xp.sum(xp.mean(operator.confidence, axis=(1, 2)))), 0.25)


def _green_init(op, mask, ref):
    """``init(stack)``: the reference's green bilinearly demosaicked, then upsampled."""
    return lambda stack: upsample(fill_from_mask(stack[ref], mask), op.scale, op.phase)


def _colour_difference(op, frames, green, mask, ref, sigma, n_effective, start=None):
    """Channel ``G + d`` with ``d`` the smooth colour difference that the channel's
    samples leave after the green estimate: ``min ||A d - (y - A G)||_C^2 + l ||grad d||^2``."""
    residual = frames - op.forward(green)
    x0 = upsample(fill_from_mask(residual[ref], mask), op.scale, op.phase) if start is None \
        else start
    weight = CHROMA_GAIN * prior_weight(sigma, n_effective, "tikhonov") / op.scale ** 2
    d, hist = solvers.conjugate_gradient(op, residual, x0, Tikhonov(), weight,
                                         CHROMA_ITERATIONS)
    return green + d, hist


__all__ = ["reconstruct_mosaics", "mosaics_to_float", "fill_from_mask", "CHROMA_GAIN"]

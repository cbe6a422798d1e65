"""Self-calibration: the PSF width estimated from the frames themselves."""
from __future__ import annotations

import numpy as np

from .. import solvers
from ..core.motion import Motion
from ..core.validation import check_array, check_float, check_int
from ..degradation import GaussianPSF, SystemOperator, estimate_noise
from ..degradation.interpolate import upsample

DEFAULT_SIGMAS = tuple(np.round(np.arange(0.6, 2.61, 0.2), 2))

# Prior weight of the held-out reconstructions: lambda = CV_GAIN * K_fit * max(sigma, floor)^2.
# The estimate trades against this weight (a stronger prior gives a narrower PSF, a weaker
# one lets noise through and gives a wider one); the gain was calibrated on simulated BD
# stacks (camera, astronaut; noise 0.005-0.02; PSF sigma 1.0-2.0), see docs/results.md.
CV_GAIN = 7.0
CV_SIGMA_FLOOR = 0.004
# Conjugate-gradient steps of each held-out reconstruction (outer x inner): fewer steps
# leave the reconstruction too smooth and bias the estimate low for wide PSFs.
CV_OUTER, CV_INNER = 3, 20
# A frame is held out only if it moves against the reference: with no sub-pixel motion a
# held-out frame is predicted equally well by every PSF width.
MIN_MOTION = 0.25


def _motion_extent(flow):
    """90th percentile of the flow magnitude (LR px) of one frame."""
    return float(np.percentile(np.hypot(flow[..., 0], flow[..., 1]), 90))


def cross_validation_weight(noise, n_fit):
    """Prior weight of the held-out reconstructions, from the noise level.

    Parameters
    ----------
    noise : float
        Noise standard deviation of the frames, [0, 1] units.
    n_fit : int
        Number of frames each held-out reconstruction is fitted to.

    Returns
    -------
    float
        ``CV_GAIN * n_fit * max(noise, CV_SIGMA_FLOOR) ** 2``.
    """
    return CV_GAIN * n_fit * max(float(noise), CV_SIGMA_FLOOR) ** 2


def _centre_crop(motion, frames, size):
    h, w = frames.shape[1:]
    ch, cw = min(h, size), min(w, size)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    sl = (slice(None), slice(y0, y0 + ch), slice(x0, x0 + cw))
    return Motion(motion.flows[sl], motion.confidence[sl], motion.reference), frames[sl]


def cross_validation_error(frames, motion, scale, sigma, phase=0.0, held_out=None,
                           weight=1e-3, border=4):
    """Error of predicting held-out frames from a reconstruction of the others.

    For each held-out frame, the HR image is reconstructed (IRLS, 3 x 20 CG steps) from
    the remaining frames with a Gaussian PSF of width ``sigma``, then projected into the
    held-out frame's view; the confidence-weighted squared error is summed.

    Parameters
    ----------
    frames : array, shape (K, h, w)
    motion : Motion
    scale : int
    sigma : float
        Candidate Gaussian PSF sigma, HR pixels.
    phase : float
    held_out : sequence of int, optional
        Frames to predict; default all but the reference.
    weight : float
        Prior weight of the reconstructions (:func:`cross_validation_weight`).
    border : int
        LR pixels ignored at the border.

    Returns
    -------
    float
    """
    ref = motion.reference
    held_out = [i for i in range(len(frames)) if i != ref] if held_out is None else held_out
    total = 0.0
    for hold in held_out:
        keep = [i for i in range(len(frames)) if i != hold]
        fit = SystemOperator(Motion(motion.flows[keep], motion.confidence[keep], keep.index(ref)),
                             scale, GaussianPSF(sigma), phase)
        x, _ = solvers.irls(fit, frames[keep], upsample(frames[ref], scale, phase), weight,
                            outer=CV_OUTER, inner=CV_INNER)
        probe = SystemOperator(Motion(motion.flows[[hold]], motion.confidence[[hold]], 0),
                               scale, GaussianPSF(sigma), phase)
        r = probe.forward(x)[0] - frames[hold]
        c = motion.confidence[hold]
        total += float(np.sum((c * r * r)[border:-border, border:-border]))
    return total


def estimate_psf(frames, scale, motion, phase=0.0, sigmas=DEFAULT_SIGMAS, crop=64, folds=3,
                 noise=None):
    """Blind estimate of a Gaussian PSF width by cross-validation over the stack.

    Every candidate sigma is scored by how well a reconstruction from all but one frame
    predicts the frame left out (:func:`cross_validation_error`); the minimum over the
    grid is refined by a parabola through its neighbours. The reconstructions' prior
    weight follows the noise level (:func:`cross_validation_weight`). Needs sub-pixel
    motion between the frames and at least 3 frames; 7 frames are recommended.

    Measured on simulated BD stacks (docs/results.md, ``benchmarks/calibration.py``):
    within 0.12 HR px for sigma 1.0-2.0 and noise 0.005-0.02 on 7-frame stacks of
    natural images; on a small, mostly flat crop it over-estimates. Not dependable on
    real video motion (flow errors blur the held-out reconstructions).

    Parameters
    ----------
    frames : array, shape (K, h, w)
        Grey LR frames in [0, 1] (NumPy).
    scale : int
    motion : Motion
        Motion of the frames (e.g. from :func:`mfsr.register`).
    phase : float
        Sampling phase of the model.
    sigmas : sequence of float
        Candidate widths in HR pixels (ascending, evenly spaced).
    crop : int
        The score is computed on a centred crop of at most ``crop`` x ``crop`` LR pixels.
    folds : int
        Number of held-out frames: the ones nearest the reference among those that
        move against it (90th-percentile flow of at least ``MIN_MOTION`` LR px).
    noise : float, optional
        Noise standard deviation; estimated from the frames when None
        (:func:`mfsr.degradation.estimate_noise`).

    Returns
    -------
    sigma : float
        Estimated PSF sigma in HR pixels.
    scores : ndarray
        Cross-validation error of each candidate.

    Raises
    ------
    ValueError
        For bad arguments, or when no frame moves against the reference (a static scene
        carries no information on the PSF).
    """
    frames = check_array(frames, "frames", ndim=3)
    scale = check_int(scale, "scale", minimum=1)
    phase = check_float(phase, "phase", minimum=0.0)
    folds = check_int(folds, "folds", minimum=1)
    if frames.shape[0] < 3:
        raise ValueError(f"PSF estimation needs at least 3 frames, got {frames.shape[0]}")
    if not isinstance(motion, Motion) or motion.n_frames != frames.shape[0]:
        raise ValueError("motion must be a Motion for the same frames")
    sigmas = np.asarray(sigmas, dtype=np.float64)
    if sigmas.ndim != 1 or len(sigmas) < 3 or np.any(np.diff(sigmas) <= 0):
        raise ValueError("sigmas must be an ascending sequence of at least 3 values")
    noise = estimate_noise(frames) if noise is None else check_float(noise, "noise", 0.0)
    crop = check_int(crop, "crop", 16)
    motion, frames = _centre_crop(motion, np.asarray(frames, np.float32), crop)
    weight = cross_validation_weight(noise, frames.shape[0] - 1)
    ref = motion.reference
    moving = [i for i in range(frames.shape[0]) if i != ref
              and _motion_extent(motion.flows[i]) >= MIN_MOTION]
    if not moving:
        raise ValueError(f"the frames do not move against the reference (every frame's "
                         f"90th-percentile flow in the {frames.shape[1]}x{frames.shape[2]} "
                         f"centre crop is under {MIN_MOTION} LR px): the PSF cannot be "
                         "estimated from them; pass psf= explicitly")
    held_out = sorted(moving, key=lambda i: abs(i - ref))[:folds]
    scores = np.array([cross_validation_error(frames, motion, scale, s, phase, held_out, weight)
                       for s in sigmas])
    i = int(np.argmin(scores))
    if 0 < i < len(sigmas) - 1:
        a, b, c = scores[i - 1], scores[i], scores[i + 1]
        curvature = a - 2 * b + c
        step = sigmas[i + 1] - sigmas[i]
        if curvature > 0:
            return float(sigmas[i] + 0.5 * step * (a - c) / curvature), scores
    return float(sigmas[i]), scores

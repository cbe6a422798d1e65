"""Self-calibration: the PSF width estimated from the frames themselves."""
from __future__ import annotations

import numpy as np

from . import solvers
from ._validation import check_array, check_float, check_int
from .degradation import GaussianPSF, SystemOperator
from .interpolate import upsample
from .motion import Motion

DEFAULT_SIGMAS = tuple(np.round(np.arange(0.6, 2.61, 0.2), 2))


def _centre_crop(motion, frames, size):
    h, w = frames.shape[1:]
    ch, cw = min(h, size), min(w, size)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    sl = (slice(None), slice(y0, y0 + ch), slice(x0, x0 + cw))
    return Motion(motion.flows[sl], motion.confidence[sl], motion.reference), frames[sl]


def cross_validation_error(frames, motion, scale, sigma, phase=0.0, held_out=None,
                           weight=1e-4, border=4):
    """Error of predicting held-out frames from a reconstruction of the others.

    For each held-out frame, the HR image is reconstructed (IRLS, 3 x 5 CG steps) from
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
        Prior weight of the reconstructions (weak, so the PSF is not traded for smoothing).
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
                            outer=3, inner=5)
        probe = SystemOperator(Motion(motion.flows[[hold]], motion.confidence[[hold]], 0),
                               scale, GaussianPSF(sigma), phase)
        r = probe.forward(x)[0] - frames[hold]
        c = motion.confidence[hold]
        total += float(np.sum((c * r * r)[border:-border, border:-border]))
    return total


def estimate_psf(frames, scale, motion, phase=0.0, sigmas=DEFAULT_SIGMAS, crop=64, folds=3):
    """Blind estimate of a Gaussian PSF width by cross-validation over the stack.

    Every candidate sigma is scored by how well a reconstruction from all but one frame
    predicts the frame left out (:func:`cross_validation_error`); the minimum over the
    grid is refined by a parabola through its neighbours. Needs sub-pixel motion
    between the frames and at least 3 frames.

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
        Number of held-out frames (the ones nearest the reference).

    Returns
    -------
    sigma : float
        Estimated PSF sigma in HR pixels.
    scores : ndarray
        Cross-validation error of each candidate.
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
    motion, frames = _centre_crop(motion, np.asarray(frames, np.float32), check_int(crop, "crop", 16))
    ref = motion.reference
    order = sorted((i for i in range(frames.shape[0]) if i != ref), key=lambda i: abs(i - ref))
    held_out = order[:folds]
    scores = np.array([cross_validation_error(frames, motion, scale, s, phase, held_out)
                       for s in sigmas])
    i = int(np.argmin(scores))
    if 0 < i < len(sigmas) - 1:
        a, b, c = scores[i - 1], scores[i], scores[i + 1]
        curvature = a - 2 * b + c
        step = sigmas[i + 1] - sigmas[i]
        if curvature > 0:
            return float(sigmas[i] + 0.5 * step * (a - c) / curvature), scores
    return float(sigmas[i]), scores

"""Per-pixel registration confidence from a forward-backward consistency check."""
from __future__ import annotations

import cv2
import numpy as np

from ..core.backend import get_array_module
from ..core.motion import Motion
from ..core.validation import check_array
from ..kernels import kernels_for
from ..kernels.geometry import bilinear_sample


def sample(field, flow):
    """Bilinearly sample ``field`` at ``p + flow(p)`` (border replicate)."""
    h, w = flow.shape[:2]
    xp = get_array_module(field, flow)
    if xp is not np:  # device arrays stay on the device
        gy, gx = xp.meshgrid(xp.arange(h, dtype=xp.float32), xp.arange(w, dtype=xp.float32),
                             indexing="ij")
        if field.ndim == 2:  # one channel: (h, w) in, (h, w) out, as cv2.remap
            return bilinear_sample(field[None], gy + flow[..., 1], gx + flow[..., 0])[0]
        return xp.moveaxis(bilinear_sample(xp.moveaxis(field, -1, 0), gy + flow[..., 1],
                                           gx + flow[..., 0]), 0, -1)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(field, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def forward_backward_confidence(forward, backward, tolerance=0.5):
    """Confidence in [0, 1] from ``|f(p) + b(p + f(p))|``.

    Parameters
    ----------
    forward : array, shape (h, w, 2) or (N, h, w, 2)
        Flow(s) frame -> reference.
    backward : array, same shape
        Flow(s) reference -> frame.
    tolerance : float
        Error (LR px) at which the confidence falls to ``exp(-1/2)``.

    Returns
    -------
    array, shape (h, w) or (N, h, w), float32
        Gaussian of the round-trip error (``b`` sampled bilinearly, clamped); 0 where
        ``p + f(p)`` leaves the frame. One call of the flows' kernel set
        (``lk_confidence``) for the whole batch, on the flows' array module.
    """
    xp = get_array_module(forward, backward)
    single = forward.ndim == 3
    if forward.ndim not in (3, 4) or forward.shape[-1] != 2 or \
            tuple(forward.shape) != tuple(backward.shape):
        raise ValueError(f"forward and backward must be (h, w, 2) or (N, h, w, 2) flows of "
                         f"one shape, got {tuple(forward.shape)} and {tuple(backward.shape)}")
    forward = forward.astype(xp.float32, copy=False)
    backward = backward.astype(xp.float32, copy=False)
    if single:
        forward, backward = forward[None], backward[None]
    conf = kernels_for(forward).lk_confidence(forward, backward, float(tolerance))
    return conf[0] if single else conf


def _local_mean(image, xp, square=False):
    """Separable 5-tap binomial smoothing ([1, 4, 6, 4, 1] / 16) of ``image`` (of its
    square with ``square``), edges replicated."""
    return kernels_for(image).local_filter(image, (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16),
                                           "replicate", square=square)


def photometric_confidence(frames, motion, sigma, noise_factor=2.0, texture_factor=0.3):
    """Confidence in [0, 1] from how well each frame agrees with the warped reference.

    Each frame is compared with the reference sampled where the flow says it shows the
    same scene; the local means (5x5 binomial) of the difference are scored against
    what noise and aliasing explain, ``noise_factor * sigma`` plus ``texture_factor``
    times the reference's local standard deviation (as the handheld burst merge's
    robustness term, Wronski et al. 2019). A frame that shows something else where the
    flow failed (occlusion, a cut, unrelated content) gets weight near 0 there, so the
    reconstruction falls back to the frames that agree, at worst the reference alone.

    Parameters
    ----------
    frames : array, shape (K, h, w)
        Grey frames (luma) in [0, 1].
    motion : Motion
        Their motion (flows frame k -> reference).
    sigma : float
        Noise (or codec error) level of the frames.
    noise_factor, texture_factor : float
        Tolerances in units of ``sigma`` and of the local standard deviation (the
        defaults are what ``reconstruct`` uses on codec-degraded frames; on bigbuckbunny
        BDx4 they also measured better than 3 and 0.5).

    Returns
    -------
    array, shape (K, h, w), float32
        ``exp(-d^2 / (2 t^2))`` per pixel; 1 for the reference. On the frames' module.
    """
    frames = check_array(frames, "frames", ndim=3, finite="host")
    if not isinstance(motion, Motion) or motion.n_frames != frames.shape[0] or \
            motion.lr_shape != tuple(frames.shape[1:]):
        raise ValueError(f"motion must be a Motion for the {frames.shape[0]} frames of "
                         f"{tuple(frames.shape[1:])}")
    xp = get_array_module(frames)
    ref = motion.reference
    reference = frames[ref]
    mean = _local_mean(reference, xp)
    variance = xp.maximum(_local_mean(reference, xp, square=True) - mean * mean, 0.0)
    # -1 / (2 tolerance^2), tolerance^2 = (noise_factor sigma)^2 + (texture_factor std)^2
    scale = -0.5 / ((noise_factor * max(float(sigma), 1e-3)) ** 2 + texture_factor ** 2 * variance)
    if xp is np:
        out = np.ones(frames.shape, np.float32)
        for k in range(frames.shape[0]):
            if k == ref:
                continue
            warped = sample(reference[..., None], motion.flows[k])
            warped = warped[..., 0] if warped.ndim == 3 else warped  # cv2 drops one channel
            d = _local_mean(frames[k] - warped, xp)
            out[k] = xp.exp(d * d * scale)
        return out
    # on a device all frames at once (the reference's own flow is zero: d = 0, weight 1)
    d = _local_mean(kernels_for(frames).warp_difference(frames, reference, motion.flows), xp)
    return xp.exp(d * d * scale).astype(xp.float32, copy=False)

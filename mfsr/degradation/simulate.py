"""Synthetic LR stacks from HR images with known motion: the one source of test data."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.color import as_float_image
from ..core.motion import Motion
from ..core.validation import check_array, check_float, check_int
from .noise import make_noise
from .presets import degradation_model
from .sampling import BlurDecimate
from .system import SystemOperator


@dataclass
class Simulation:
    """Result of :func:`simulate`.

    Attributes
    ----------
    frames : ndarray, shape (K, h, w) or (K, h, w, C)
        The LR stack, float32.
    hr : ndarray, shape (s*h, s*w) or (s*h, s*w, C)
        The HR ground truth seen from the reference frame (cropped to a multiple of s).
    motion : Motion or None
        True motion (LR px, frame k to reference); None for :func:`simulate_sequence`.
    psf, phase, noise
        The degradation used.
    """

    frames: np.ndarray
    hr: np.ndarray
    motion: Motion | None
    psf: object
    phase: float
    noise: object


def _per_channel(fn, x, channel_axis):
    if channel_axis is None:
        return fn(x)
    x = np.moveaxis(x, channel_axis, -1)
    return np.stack([fn(x[..., c]) for c in range(x.shape[-1])], axis=-1)


def finish_frames(lr, noise, rng, clip, bits):
    """Add ``noise`` (drawn from ``rng``), clip to [0, 1] if ``clip``, quantise to ``bits``
    bits if given: the last steps of every simulated LR stack; float32."""
    if noise.sigma or getattr(noise, "gain", 0):
        lr = noise.add(lr, rng)
    if clip:
        lr = np.clip(lr, 0.0, 1.0)
    if bits:
        levels = 2**bits - 1
        lr = np.round(lr * levels) / levels
    return lr.astype(np.float32)


def crop_to_scale(hr, scale, channel_axis):
    """``hr`` cropped to a multiple of ``scale`` (at least ``2 scale``) on each side."""
    H, W = (hr.shape[:2] if channel_axis is not None else hr.shape[-2:])
    H, W = H - H % scale, W - W % scale
    if H < 2 * scale or W < 2 * scale:
        raise ValueError(f"hr image too small for scale {scale}: {hr.shape}")
    return hr[:H, :W] if channel_axis is not None else hr[..., :H, :W]


def simulate(hr, scale=4, n_frames=7, *, shifts=None, max_shift=1.0, degradation="BD",
             psf=None, phase=None, noise=None, reference=None, channel_axis=None, seed=None,
             clip=True, bits=None) -> Simulation:
    """Make an LR stack ``y_k = D B W_k x + n_k`` from one HR image with known motion.

    Parameters
    ----------
    hr : array_like, shape (H, W) or (H, W, C)
        HR image; integers are scaled by their dtype's range. Cropped to a multiple of
        ``scale``.
    scale : int
        Downscaling factor s >= 1.
    n_frames : int
        Number of LR frames K >= 1 (ignored when ``shifts`` is given).
    shifts : array_like, shape (K, 2), optional
        Global translations ``(dx, dy)`` in LR px from frame k to the reference. By
        default drawn uniformly in ``[-max_shift, max_shift]``, zero for the reference.
    max_shift : float
        Range of the random shifts, LR px.
    degradation : {"BD", "BI", "area"}
        Preset PSF and phase (see :func:`degradation_model`); ``psf``/``phase`` override.
    noise : float or noise model, optional
        Gaussian sigma in [0, 1] image units, or a noise object.
    reference : int, optional
        Reference frame index; default the middle frame.
    channel_axis : int, optional
        Axis of colour channels in a 3-D ``hr`` (None: grey image, 2-D ``hr``).
    seed : int, optional
        Seed of the shift and noise draws.
    clip : bool
        Clip the noisy frames to [0, 1].
    bits : int, optional
        Round the frames to this many bits (8 for 8-bit data).

    Returns
    -------
    Simulation

    Examples
    --------
    >>> from skimage import data
    >>> sim = simulate(data.camera(), scale=2, n_frames=4, noise=0.01, seed=0)
    >>> sim.frames.shape
    (4, 256, 256)
    """
    scale = check_int(scale, "scale", minimum=1)
    hr = as_float_image(check_array(hr, "hr", ndim=3 if channel_axis is not None else 2), "hr")
    if channel_axis is not None:
        if check_int(channel_axis, "channel_axis", minimum=-3) > 2:
            raise ValueError(f"channel_axis must be an axis of hr (-3 to 2), got {channel_axis}")
        hr = np.moveaxis(hr, channel_axis, -1)
        channel_axis = -1
    hr = crop_to_scale(hr, scale, channel_axis)
    rng = np.random.default_rng(seed)
    if shifts is None:
        n_frames = check_int(n_frames, "n_frames", minimum=1)
        max_shift = check_float(max_shift, "max_shift", minimum=0.0)
        shifts = rng.uniform(-max_shift, max_shift, size=(n_frames, 2))
        ref = n_frames // 2 if reference is None else check_int(reference, "reference", minimum=0)
        if ref >= n_frames:
            raise ValueError(f"reference {ref} out of range for {n_frames} frames")
        shifts[ref] = 0.0
    else:
        shifts = check_array(np.asarray(shifts, dtype=np.float64), "shifts", ndim=2)
        if shifts.shape[1] != 2:
            raise ValueError(f"shifts must have shape (K, 2), got {shifts.shape}")
        ref = len(shifts) // 2 if reference is None else check_int(reference, "reference", minimum=0)
    psf, phase = degradation_model(degradation, scale, psf, phase)
    H, W = hr.shape[:2]
    motion = Motion.from_translations(shifts, (H // scale, W // scale), reference=ref)
    op = SystemOperator(motion, scale, psf, phase)
    noise = make_noise(noise)
    lr = _per_channel(op.forward, hr, channel_axis)
    return Simulation(finish_frames(lr, noise, rng, clip, bits), hr.astype(np.float32), motion,
                      psf, phase, noise)


def simulate_sequence(frames, scale=4, *, degradation="BD", psf=None, phase=None, noise=None,
                      channel_axis=None, seed=None, clip=True, bits=None) -> Simulation:
    """Degrade each frame of an HR sequence (real motion, unknown to the solver).

    Parameters
    ----------
    frames : array_like, shape (K, H, W) or (K, H, W, C)
        HR frames.
    scale, degradation, psf, phase, noise, channel_axis, seed, clip, bits
        As in :func:`simulate`; ``channel_axis`` refers to the per-frame axes.

    Returns
    -------
    Simulation
        ``hr`` holds all HR frames (cropped); ``motion`` is None.
    """
    scale = check_int(scale, "scale", minimum=1)
    frames = as_float_image(check_array(frames, "frames",
                                        ndim=(3, 4) if channel_axis is not None else 3), "frames")
    if channel_axis is not None:
        frames = np.moveaxis(frames, channel_axis if channel_axis < 0 else channel_axis + 1, -1)
        channel_axis = -1
        frames = frames[:, : frames.shape[1] - frames.shape[1] % scale,
                        : frames.shape[2] - frames.shape[2] % scale]
    else:
        frames = crop_to_scale(frames, scale, None)
    psf, phase = degradation_model(degradation, scale, psf, phase)
    db = BlurDecimate(frames.shape[1:3], scale, psf, phase)
    lr = _per_channel(db.forward, frames, channel_axis)
    rng = np.random.default_rng(seed)
    noise = make_noise(noise)
    return Simulation(finish_frames(lr, noise, rng, clip, bits), frames.astype(np.float32), None,
                      psf, phase, noise)

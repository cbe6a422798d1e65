"""Simulated raw handheld bursts: ``y_k = M D_s B W_k x + n_k`` from one sRGB image.

:func:`simulate_burst` is the synthetic source of the raw (CFA) tests, docs and
benchmarks, as :func:`mfsr.degradation.simulate` is for RGB and grey stacks; the CFA
sampling ``M`` itself is :mod:`mfsr.degradation.cfa`.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..core.color import as_float_image, srgb_to_linear
from ..core.validation import check_array, check_float, check_int
from .cfa import check_pattern, mosaic
from .noise import PoissonGaussianNoise, make_noise
from .psf import GaussianPSF
from .sampling import BlurDecimate
from .simulate import crop_to_scale, finish_frames

# simulate_burst: Gaussian PSF sigma (HR px) per unit of scale (the BD preset's 1.6 at x4)
PSF_SIGMA_PER_SCALE = 0.4


@dataclass
class RawBurst:
    """Result of :func:`simulate_burst`.

    Attributes
    ----------
    frames : ndarray, shape (K, h, w)
        Raw mosaics in [0, 1], float32 (noisy, clipped).
    pattern : str
        The CFA pattern.
    truth : ndarray, shape (s*h, s*w, 3)
        Linear RGB HR scene seen from the reference frame 0 (with the moving object at its
        frame-0 place), float32.
    motions : ndarray, shape (K, 2, 3)
        Affine map per frame, in LR (CFA grid) pixels: frame-k pixel ``(x, y)`` sees the
        reference point ``A_k [x, y, 1]``; its flow ``A_k p - p`` is the motion from frame
        k to the reference. ``motions[0]`` is the identity.
    object_masks : ndarray of bool, shape (K, h, w), or None
        LR pixels whose ``s x s`` HR footprint is at least half covered by the moving
        object (which does not follow ``motions``).
    scale, psf, phase
        The decimation used: ``y_k = M D_s B W_k x`` with ``B`` the PSF (HR px) and LR
        pixel ``i`` centred on HR coordinate ``s i + phase``.
    """

    frames: np.ndarray
    pattern: str
    truth: np.ndarray
    motions: np.ndarray
    object_masks: np.ndarray | None
    scale: int = 2
    psf: object = None
    phase: float = 0.5


_OBJECT_KEYS = ("size", "value", "start", "velocity")


def _object_track(moving_object, n_frames, lr_shape):
    """``(size, value (3,), positions (K, 2) top-left (x, y) LR px)`` or None."""
    if moving_object is None or moving_object is False:
        return None
    h, w = lr_shape
    spec = {} if moving_object is True else moving_object
    if not isinstance(spec, dict):
        raise TypeError(f"moving_object must be None, True or a dict with keys "
                        f"{_OBJECT_KEYS}, got {type(moving_object).__name__}")
    unknown = set(spec) - set(_OBJECT_KEYS)
    if unknown:
        raise ValueError(f"moving_object has unknown keys {sorted(unknown)}; valid: "
                         f"{', '.join(map(repr, _OBJECT_KEYS))}")
    size = check_float(spec.get("size", max(2, min(h, w) // 6)), "moving_object size",
                       minimum=0.0, strict_min=True)
    value = np.broadcast_to(np.asarray(spec.get("value", 1.0), dtype=np.float64), (3,))
    start = np.asarray(spec.get("start", (w / 8, (h - size) / 2)), dtype=np.float64)
    default_v = ((0.75 * w - size) / max(n_frames - 1, 1), 0.0)
    velocity = np.asarray(spec.get("velocity", default_v), dtype=np.float64)
    if start.shape != (2,) or velocity.shape != (2,):
        raise ValueError("moving_object start and velocity must be pairs (x, y) in LR px")
    return size, value, start + np.arange(n_frames)[:, None] * velocity


def _check_image(image):
    image = check_array(image, "image", ndim=(2, 3))
    if image.ndim == 3 and image.shape[-1] != 3:
        raise ValueError(f"image must be grey (H, W) or RGB (H, W, 3), got {image.shape}")
    image = as_float_image(np.asarray(image), "image")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return np.clip(image, 0.0, 1.0)


def simulate_burst(image, n_frames=8, pattern="RGGB", scale=2, shift=2.0, rotation=0.5,
                   noise=(1e-4, 4e-6), moving_object=None, seed=0, *,
                   psf_sigma=None) -> RawBurst:
    """A raw handheld burst: ``y_k = M D_s B W_k x + n_k`` from one sRGB image.

    1. The image (sRGB-coded, [0, 1]) is linearised with the sRGB EOTF
       (:func:`mfsr.core.color.srgb_to_linear`) and cropped to a multiple of ``2 * scale``
       (even LR frames): that is the HR scene ``x``.
    2. Handheld motion: frame ``k > 0`` is turned by an angle uniform in
       ``[-rotation, rotation]`` degrees about the LR image centre and moved by a
       translation uniform in ``[-shift, shift]`` LR px per axis; frame 0 is the reference
       (identity). The HR scene is warped by OpenCV's ``cv2.warpAffine`` (bicubic,
       ``BORDER_REFLECT_101``; values clipped to [0, 1] after the cubic).
    3. Optionally a bright square moves across the frames (in frame coordinates,
       independent of the camera motion), painted on the warped HR frame.
    4. Blur by a Gaussian PSF of ``psf_sigma`` HR px and keep one sample per LR pixel,
       LR pixel ``i`` centred on HR coordinate ``s i + (s - 1) / 2`` (area phase), with
       :class:`mfsr.degradation.BlurDecimate`.
    5. Mosaic with ``pattern`` (:func:`mosaic`), add Poisson-Gaussian noise of variance
       ``a * y + b`` and clip to [0, 1].

    Parameters
    ----------
    image : array_like, shape (H, W, 3) or (H, W)
        sRGB image; integers are scaled by their dtype's range; grey is repeated to RGB.
    n_frames : int
        Number of frames K >= 1.
    pattern : {"RGGB", "BGGR", "GRBG", "GBRG"}
        The CFA.
    scale : int
        HR / LR factor s >= 1.
    shift : float
        Largest translation per axis, LR px (>= 0).
    rotation : float
        Largest rotation, degrees (>= 0).
    noise : (float, float) or None
        ``(a, b)``: variance ``a * y + b`` on [0, 1] (a shot-noise gain, b the read-noise
        variance); None for no noise.
    moving_object : None, bool or dict
        True for the default square (side ``min(h, w) // 6`` LR px, linear value 1,
        moving from ``w / 8`` to ``3 w / 4`` along the middle row); a dict overrides any of
        ``size`` (LR px), ``value`` (linear, scalar or RGB), ``start`` (top-left ``(x, y)``
        in frame 0, LR px) and ``velocity`` (LR px per frame).
    seed : int or None
        Seed of the motion and noise draws (motion drawn first).
    psf_sigma : float, optional
        Gaussian PSF sigma in HR px; default ``0.4 * scale`` (the BD preset's 1.6 at x4).

    Returns
    -------
    RawBurst

    Examples
    --------
    >>> from skimage import data
    >>> burst = simulate_burst(data.astronaut()[:64, :64], n_frames=3, seed=0)
    >>> burst.frames.shape, burst.truth.shape, burst.motions.shape
    ((3, 32, 32), (64, 64, 3), (3, 2, 3))
    >>> burst.motions[0].tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    pattern = check_pattern(pattern)
    n_frames = check_int(n_frames, "n_frames", minimum=1)
    scale = check_int(scale, "scale", minimum=1)
    shift = check_float(shift, "shift", minimum=0.0)
    rotation = check_float(rotation, "rotation", minimum=0.0)
    if psf_sigma is None:
        psf_sigma = PSF_SIGMA_PER_SCALE * scale
    psf = GaussianPSF(check_float(psf_sigma, "psf_sigma", minimum=0.0))
    if noise is None:
        noise_model = make_noise(None)
    else:
        if not isinstance(noise, (tuple, list)) or len(noise) != 2:
            raise TypeError(f"noise must be None or a pair (a, b), got {noise!r}")
        a = check_float(noise[0], "noise", minimum=0.0)
        b = check_float(noise[1], "noise", minimum=0.0)
        noise_model = PoissonGaussianNoise(a, float(np.sqrt(b)))
    image = _check_image(image)
    try:
        hr = crop_to_scale(image, 2 * scale, -1)
    except ValueError as exc:
        raise ValueError(f"image too small: {exc}") from None
    scene = srgb_to_linear(hr).astype(np.float32)
    H, W = scene.shape[:2]
    h, w = H // scale, W // scale
    phase = (scale - 1) / 2
    rng = np.random.default_rng(seed)

    # motion: frame-k LR pixel p sees the reference point R (p - c) + c + t
    motions = np.zeros((n_frames, 2, 3))
    motions[:, 0, 0] = motions[:, 1, 1] = 1.0
    angles = np.deg2rad(rng.uniform(-rotation, rotation, n_frames))
    shifts = rng.uniform(-shift, shift, (n_frames, 2))
    angles[0], shifts[0] = 0.0, 0.0
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    for k in range(1, n_frames):
        cs, sn = np.cos(angles[k]), np.sin(angles[k])
        lin = np.array([[cs, -sn], [sn, cs]])
        motions[k] = np.hstack([lin, (centre - lin @ centre + shifts[k])[:, None]])

    track = _object_track(moving_object, n_frames, (h, w))
    warped = np.empty((n_frames, H, W, 3), np.float32)
    hr_masks = np.zeros((n_frames, H, W), bool)
    ones = np.ones(2)
    for k in range(n_frames):
        if k == 0:
            warped[k] = scene
        else:
            # the same map on the HR grid: X_ref = L X + s t + (I - L) phase
            lin, t = motions[k, :, :2], motions[k, :, 2]
            m_hr = np.hstack([lin, (scale * t + phase * (ones - lin @ ones))[:, None]])
            warped[k] = cv2.warpAffine(scene, m_hr, (W, H),
                                       flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                                       borderMode=cv2.BORDER_REFLECT_101)
        if track is not None:
            size, value, positions = track
            x0, y0 = np.round(scale * positions[k]).astype(int)
            side = int(round(scale * size))
            ys, xs = slice(max(y0, 0), max(y0 + side, 0)), slice(max(x0, 0), max(x0 + side, 0))
            warped[k, ys, xs] = value
            hr_masks[k, ys, xs] = True
    np.clip(warped, 0.0, 1.0, out=warped)

    db = BlurDecimate((H, W), scale, psf, phase)
    lr = np.moveaxis(db.forward(np.ascontiguousarray(np.moveaxis(warped, -1, 1))), 1, -1)
    raw = mosaic(lr.astype(np.float64), pattern)
    frames = finish_frames(raw, noise_model, rng, True, None)
    object_masks = None
    if track is not None:
        cover = hr_masks.reshape(n_frames, h, scale, w, scale).mean(axis=(2, 4))
        object_masks = cover >= 0.5
    return RawBurst(frames, pattern, warped[0].copy(), motions, object_masks, scale, psf, phase)


__all__ = ["RawBurst", "simulate_burst", "PSF_SIGMA_PER_SCALE"]

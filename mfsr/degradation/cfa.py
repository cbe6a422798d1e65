"""Colour filter arrays (Bayer CFA): sampling, raw levels, half-size grey, raw bursts.

A raw frame from a handheld camera holds one colour per pixel, chosen by a 2x2 pattern
repeated over the sensor. The pattern is named by its 2x2 block read row by row:
``"RGGB"`` is ``R G`` on even rows and ``G B`` on odd rows, so pixel ``(i, j)`` is the
site ``2 * (i % 2) + (j % 2)`` of the block and carries the colour ``pattern[site]``.
The first ``G`` in the name is ``G1``, the second ``G2``.

The CFA sampling ``M`` (:func:`mosaic`) keeps at each pixel its site's channel of an
RGB image; its adjoint (:func:`mosaic_adjoint`) puts each raw value back into that
channel, zeros elsewhere. ``M`` acts on the last three axes ``(H, W, 3)``, so a stack
``(K, H, W, 3)`` is sampled in one call, on NumPy or CuPy arrays alike. In the forward
model of a raw burst it comes last: ``y_k = M D_s B W_k x`` (the CFA is on the LR sensor
grid).

Registration runs on the half-size grey image (:func:`half_size_grey`): the mean of each
aligned 2x2 block, one value per block whatever the pattern. Its pixel ``(i, j)`` is
centred on the full CFA grid at ``(2 i + 0.5, 2 j + 0.5)`` (row, column; the centre of
the block's four pixels). A flow measured on the half grid is brought to the CFA grid by
:func:`flow_to_cfa_grid` (values doubled, sampled at that phase), an affine map by
:func:`affine_to_cfa_grid`.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from ..core.backend import get_array_module
from ..core.validation import check_array, check_choice, check_float, check_int

CFA_PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")
_CHANNEL = {"R": 0, "G": 1, "B": 2}

# simulate_burst: Gaussian PSF sigma (HR px) per unit of scale (the BD preset's 1.6 at x4)
PSF_SIGMA_PER_SCALE = 0.4


def _check_pattern(pattern):
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a string such as 'RGGB', got {type(pattern).__name__}")
    return check_choice(pattern.upper(), "pattern", CFA_PATTERNS)


def _sites(pattern):
    """``((row phase, column phase, channel), ...)`` of the four sites of the 2x2 block."""
    pattern = _check_pattern(pattern)
    return tuple((k // 2, k % 2, _CHANNEL[c]) for k, c in enumerate(pattern))


def cfa_masks(pattern, shape):
    """Where each colour is sampled: one boolean plane per channel.

    Parameters
    ----------
    pattern : {"RGGB", "BGGR", "GRBG", "GBRG"}
        The 2x2 block, read row by row.
    shape : tuple of int
        ``(H, W)`` of the sensor (any size; odd sizes end on a partial block).

    Returns
    -------
    ndarray of bool, shape (H, W, 3)
        ``masks[i, j, c]`` is True where pixel ``(i, j)`` sees channel ``c`` (R, G, B);
        exactly one channel per pixel.

    Examples
    --------
    >>> m = cfa_masks("RGGB", (2, 2))
    >>> m[..., 0].astype(int)
    array([[1, 0],
           [0, 0]])
    >>> m.sum(axis=(0, 1))
    array([1, 2, 1])
    """
    sites = _sites(pattern)
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ValueError(f"shape must be a tuple (H, W), got {shape!r}")
    H, W = (check_int(v, "shape", minimum=1) for v in shape)
    masks = np.zeros((H, W, 3), dtype=bool)
    for dy, dx, c in sites:
        masks[dy::2, dx::2, c] = True
    return masks


def _check_rgb(rgb, name="rgb"):
    if not hasattr(rgb, "shape") or not hasattr(rgb, "dtype"):
        raise TypeError(f"{name} must be an array, got {type(rgb).__name__}")
    if rgb.ndim < 3 or rgb.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (..., H, W, 3), got {tuple(rgb.shape)}")
    if rgb.dtype.kind not in "uif":
        raise TypeError(f"{name} must be a real numeric array, got dtype {rgb.dtype}")
    return rgb


def mosaic(rgb, pattern):
    """The CFA sampling ``M``: keep at each pixel the channel its site sees.

    Parameters
    ----------
    rgb : array, shape (..., H, W, 3)
        RGB image or stack (NumPy or CuPy).
    pattern : {"RGGB", "BGGR", "GRBG", "GBRG"}
        The 2x2 block, read row by row.

    Returns
    -------
    array, shape (..., H, W)
        The mosaic, same module and dtype as ``rgb``.

    Notes
    -----
    An operator meant for solver loops: the shape and pattern are checked, the values are
    not (no pass over the data for NaN/Inf).

    Examples
    --------
    >>> rgb = np.zeros((2, 4, 3)); rgb[...] = (0.1, 0.2, 0.3)
    >>> mosaic(rgb, "RGGB")
    array([[0.1, 0.2, 0.1, 0.2],
           [0.2, 0.3, 0.2, 0.3]])
    """
    sites = _sites(pattern)
    _check_rgb(rgb)
    xp = get_array_module(rgb)
    out = xp.empty(rgb.shape[:-1], dtype=rgb.dtype)
    for dy, dx, c in sites:
        out[..., dy::2, dx::2] = rgb[..., dy::2, dx::2, c]
    return out


def mosaic_adjoint(raw, pattern):
    """The adjoint ``M^T`` of :func:`mosaic`: each raw value into its channel, 0 elsewhere.

    Parameters
    ----------
    raw : array, shape (..., H, W)
        Mosaic or stack of mosaics (NumPy or CuPy).
    pattern : {"RGGB", "BGGR", "GRBG", "GBRG"}
        The 2x2 block, read row by row.

    Returns
    -------
    array, shape (..., H, W, 3)
        Same module and dtype as ``raw``. ``M M^T`` is the identity; ``M^T M`` zeroes the
        channels a pixel does not see.

    Examples
    --------
    >>> raw = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> mosaic_adjoint(raw, "RGGB")[..., 1]
    array([[0., 2.],
           [3., 0.]])
    >>> bool(np.all(mosaic(mosaic_adjoint(raw, "GBRG"), "GBRG") == raw))
    True
    """
    sites = _sites(pattern)
    if not hasattr(raw, "shape") or not hasattr(raw, "dtype"):
        raise TypeError(f"raw must be an array, got {type(raw).__name__}")
    if raw.ndim < 2:
        raise ValueError(f"raw must have shape (..., H, W), got {tuple(raw.shape)}")
    if raw.dtype.kind not in "uif":
        raise TypeError(f"raw must be a real numeric array, got dtype {raw.dtype}")
    xp = get_array_module(raw)
    out = xp.zeros(raw.shape + (3,), dtype=raw.dtype)
    for dy, dx, c in sites:
        out[..., dy::2, dx::2, c] = raw[..., dy::2, dx::2]
    return out


def _levels(value, name):
    """A scalar or a 4-tuple (one per 2x2 site) of finite numbers, as a (2, 2) array."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return np.full((2, 2), check_float(value, name))
    if isinstance(value, (tuple, list, np.ndarray)) and len(value) == 4:
        return np.array([check_float(v, name) for v in value]).reshape(2, 2)
    raise TypeError(f"{name} must be a number or 4 numbers (one per site of the 2x2 block, "
                    f"in pattern order), got {value!r}")


def raw_to_float(raw, black_level, white_level, clip=True):
    """Raw sensor values to float in [0, 1]: ``(raw - black) / (white - black)``.

    Parameters
    ----------
    raw : array, shape (..., H, W)
        Raw mosaic (or stack) as the sensor wrote it: unsigned integers (uint16) or floats,
        in the same units as the levels (not scaled by the dtype's range).
    black_level : float or sequence of 4 floats
        Value of no light. Four values are per site of the 2x2 block in pattern order
        (row by row: for ``"RGGB"``, R, G1, G2, B).
    white_level : float or sequence of 4 floats
        Saturation value, above ``black_level`` at every site.
    clip : bool
        Clip the result to [0, 1] (default): values under the black level become 0 and
        saturated ones 1. With ``clip=False`` negative values (noise around black) and
        values above 1 are kept, which leaves the noise unbiased.

    Returns
    -------
    array
        float32 (float64 for float64 input), same shape and module as ``raw``.

    Examples
    --------
    >>> raw = np.array([[64, 1088], [588, 2000]], dtype=np.uint16)
    >>> raw_to_float(raw, 64, 1088).tolist()
    [[0.0, 1.0], [0.51171875, 1.0]]
    >>> raw_to_float(raw, (64, 88, 88, 64), 1088).tolist()  # R, G1, G2, B of "RGGB"
    [[0.0, 1.0], [0.5, 1.0]]
    """
    raw = check_array(raw, "raw")
    if raw.ndim < 2:
        raise ValueError(f"raw must have shape (..., H, W), got {tuple(raw.shape)}")
    if raw.dtype == bool or (raw.dtype.kind == "i" and int(raw.min()) < 0):
        raise TypeError(f"raw must be unsigned integers or floats, got dtype {raw.dtype}")
    black = _levels(black_level, "black_level")
    white = _levels(white_level, "white_level")
    if np.any(white <= black):
        raise ValueError(f"white_level must be above black_level at every site, got "
                         f"black_level={black_level!r}, white_level={white_level!r}")
    xp = get_array_module(raw)
    dtype = xp.float64 if raw.dtype == xp.float64 else xp.float32
    H, W = raw.shape[-2:]
    reps = ((H + 1) // 2, (W + 1) // 2)
    black_map = xp.asarray(np.tile(black, reps)[:H, :W], dtype=dtype)
    range_map = xp.asarray(np.tile(white - black, reps)[:H, :W], dtype=dtype)
    out = (raw.astype(dtype) - black_map) / range_map
    return xp.clip(out, 0, 1) if clip else out


def half_size_grey(raw, pattern="RGGB"):
    """The grey image of each aligned 2x2 block, ``(R + G1 + G2 + B) / 4``.

    What registration runs on: one sample per block, no demosaicking. Half-grid pixel
    ``(i, j)`` is centred on the CFA grid at ``(2 i + 0.5, 2 j + 0.5)``; see
    :func:`flow_to_cfa_grid`.

    Parameters
    ----------
    raw : array, shape (..., H, W)
        Mosaic or stack of mosaics in [0, 1]; ``H`` and ``W`` even.
    pattern : {"RGGB", "BGGR", "GRBG", "GBRG"}
        The CFA; checked, though the block mean is the same for every pattern (each
        block holds one R, two G and one B).

    Returns
    -------
    array, shape (..., H / 2, W / 2)
        float32 (float64 for float64 input), same module as ``raw``.

    Examples
    --------
    >>> raw = mosaic(np.full((4, 4, 3), (0.2, 0.4, 0.8)), "BGGR")
    >>> half_size_grey(raw, "BGGR")
    array([[0.45, 0.45],
           [0.45, 0.45]])
    """
    _check_pattern(pattern)
    raw = check_array(raw, "raw")
    if raw.ndim < 2:
        raise ValueError(f"raw must have shape (..., H, W), got {tuple(raw.shape)}")
    H, W = raw.shape[-2:]
    if H % 2 or W % 2 or H == 0 or W == 0:
        raise ValueError(f"raw must have an even, non-zero height and width, got {H}x{W}")
    xp = get_array_module(raw)
    raw = raw.astype(xp.float64 if raw.dtype == xp.float64 else xp.float32, copy=False)
    return (raw[..., 0::2, 0::2] + raw[..., 0::2, 1::2] + raw[..., 1::2, 0::2]
            + raw[..., 1::2, 1::2]) / 4


def flow_to_cfa_grid(flow_half):
    """Bring a dense flow from the half-size grey grid onto the full CFA grid.

    Half-grid pixel ``q`` (``(x, y)``) is centred on the CFA grid at ``p = 2 q + 0.5``, so
    CFA pixel ``p`` reads the half-grid flow at ``(p - 0.5) / 2`` (bilinear, clamped at the
    border) and the displacement doubles. A translation ``t`` (half px) becomes ``2 t``
    (CFA px) everywhere; an affine field is mapped exactly (see
    :func:`affine_to_cfa_grid`) away from the outer half pixel, where it is clamped.

    Parameters
    ----------
    flow_half : array, shape (h, w, 2) or (K, h, w, 2)
        Displacement ``(dx, dy)`` in half-grid pixels (NumPy or CuPy).

    Returns
    -------
    array, shape (2 h, 2 w, 2) or (K, 2 h, 2 w, 2)
        float32, in CFA pixels.

    Examples
    --------
    >>> flow = np.zeros((3, 4, 2)); flow[..., 0] = 0.25; flow[..., 1] = -1.0
    >>> full = flow_to_cfa_grid(flow)
    >>> full.shape, full[0, 0].tolist()
    ((6, 8, 2), [0.5, -2.0])
    """
    from ..kernels.geometry import upsample_flow

    flow_half = check_array(flow_half, "flow_half", ndim=(3, 4))
    if flow_half.shape[-1] != 2:
        raise ValueError(f"flow_half must have shape (..., h, w, 2), got {tuple(flow_half.shape)}")
    xp = get_array_module(flow_half)
    if flow_half.ndim == 3:
        return upsample_flow(flow_half, 2, 0.5, xp)
    return xp.stack([upsample_flow(f, 2, 0.5, xp) for f in flow_half])


def affine_to_cfa_grid(matrix_half):
    """Bring affine maps ``p -> A [x, y, 1]`` from the half-size grid to the CFA grid.

    With ``p = 2 q + 0.5``: ``A_full = [L | 2 t + 0.5 (1 - L) 1]`` for ``A_half = [L | t]``
    (``1`` the vector of ones). A pure translation just doubles.

    Parameters
    ----------
    matrix_half : array, shape (2, 3) or (K, 2, 3)
        Affine maps in half-grid pixel coordinates ``(x, y)``.

    Returns
    -------
    ndarray, shape as ``matrix_half``, float64

    Examples
    --------
    >>> affine_to_cfa_grid(np.array([[1.0, 0, 0.25], [0, 1, -1]])).tolist()
    [[1.0, 0.0, 0.5], [0.0, 1.0, -2.0]]
    """
    m = check_array(np.asarray(matrix_half, dtype=np.float64), "matrix_half", ndim=(2, 3))
    if m.shape[-2:] != (2, 3):
        raise ValueError(f"matrix_half must have shape (..., 2, 3), got {m.shape}")
    out = m.copy()
    lin = m[..., :2]
    out[..., 2] = 2 * m[..., 2] + 0.5 * (1 - lin.sum(axis=-1))
    return out


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
    from ..core.color import as_float_image

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
       (:func:`mfsr.enhance.srgb_to_linear`) and cropped to a multiple of ``2 * scale``
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
    import cv2

    from ..core.color import srgb_to_linear
    from .noise import PoissonGaussianNoise, make_noise
    from .psf import GaussianPSF
    from .sampling import BlurDecimate
    from .simulate import _crop_to_scale, _finish

    pattern = _check_pattern(pattern)
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
        hr = _crop_to_scale(image, 2 * scale, -1)
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
    frames = _finish(raw, noise_model, rng, True, None)
    object_masks = None
    if track is not None:
        cover = hr_masks.reshape(n_frames, h, scale, w, scale).mean(axis=(2, 4))
        object_masks = cover >= 0.5
    return RawBurst(frames, pattern, warped[0].copy(), motions, object_masks, scale, psf, phase)


__all__ = ["CFA_PATTERNS", "cfa_masks", "mosaic", "mosaic_adjoint", "raw_to_float",
           "half_size_grey", "flow_to_cfa_grid", "affine_to_cfa_grid", "RawBurst",
           "simulate_burst"]

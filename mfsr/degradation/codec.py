"""A model of codec degradation, estimated from the decoded frames themselves.

Lossy codecs (H.264/H.265 video, JPEG) do not add white noise: they quantise transform
coefficients block by block, smooth the result (in-loop deblocking), predict frames from
each other and keep chroma at half resolution (4:2:0). Their error is several times larger
than what :func:`mfsr.degradation.estimate_noise` finds in flat areas, which the codec
leaves clean (bigbuckbunny BDx4 through x264 at CRF 23: error 0.015, flat-area estimate
0.003, the 8-bit rounding level; 0.000 at CRF 28), so a model that trusts the noise
estimate fits the artefacts and turns them into a mesh. This module tells codec-degraded frames from clean ones and gives the
error level the reconstruction should assume.

Detection (:func:`detect_codec`):

- Decoded video: FFmpeg's unscaled YUV 4:2:0 -> RGB conversion (what PyAV, OpenCV's
  ``VideoCapture`` and ``ffmpeg -i in.mp4 out%04d.png`` give) repeats each chroma sample
  over a 2x2 block, so the chroma planes are constant on the aligned 2x2 blocks and not on
  the blocks offset by one pixel (:func:`chroma_block_score`: 0.0003-0.008 on x264/x265 at
  CRF 18-33 on bigbuckbunny and carphone, 0.92-1.04 on their uncompressed frames).
- JPEG: a JPEG-decoded image is nearly unchanged when it is compressed again at its own
  quality on its own 8x8 grid, and changed as much as any image when the grid is moved
  by 4 pixels (:func:`jpeg_quality`; the "JPEG ghost" of image forensics). The ratio of
  the two changes is 0.009-0.16 for qualities 50-90 and 0.79-1.0 for frames never
  JPEG-compressed (bigbuckbunny, carphone: ``benchmarks/results/compressed_sets.json``);
  the quality where it is smallest is the quality the frames were saved at, which sets
  the error level. The test runs OpenCV's encoder on the host, so ``codec="auto"`` runs
  it on NumPy frames only; device (CuPy) frames are tested for 4:2:0 video on the
  device, and JPEG is then said with ``codec="jpeg"``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.backend import get_array_module, to_numpy
from ..core.color import as_float_image, rgb_to_ycbcr
from ..core.motion import Motion
from ..core.validation import all_finite, check_array, check_choice, raise_if_not_finite
from .psf import GaussianPSF, psf_variance
from .system import SystemOperator

CODECS = ("auto", "none", "video", "jpeg")
# aliases a user may pass for codec="video"
VIDEO_ALIASES = ("h264", "h265", "hevc", "avc", "x264", "x265", "mpeg4", "vp9", "av1")

# chroma_block_score below this: chroma repeated on 2x2 blocks (decoded 4:2:0 video)
CHROMA_BLOCK_THRESHOLD = 0.3
# jpeg_quality's ratio below this: the frames were JPEG-compressed
JPEG_GHOST_THRESHOLD = 0.5
JPEG_QUALITIES = tuple(range(40, 100, 5))
# largest crop (pixels, from the image origin so the 8x8 grid stays) and frames examined
JPEG_CROP, JPEG_FRAMES = 256, 2

# Error level assumed for decoded video (H.264/H.265, any CRF; the frames do not tell the
# CRF). From a scan of levels 0.005-0.045 on bigbuckbunny through x264 (closing note of
# issue 12): best at 0.010 for CRF 23, 0.015 for CRF 28, 0.02 for CRF 33; 0.015 costs
# 0.06 dB at CRF 23 and keeps every CRF 33 frame above bicubic. The codec's RMS error on
# the LR luma there is 0.011 (CRF 18) to 0.030 (CRF 33) (benchmarks/make_compressed.py).
VIDEO_SIGMA = 0.015
# JPEG: error level by quality, interpolated between (50, 0.03) and (90, 0.012) (the best
# level of the same scan at quality 50, and the RMS error at quality 90), within bounds
JPEG_SIGMA_AT = ((50, 0.03), (90, 0.012))
JPEG_SIGMA_BOUNDS = (0.008, 0.035)
# Relative error of I, P and B pictures (RMS on x264 CRF 23 bigbuckbunny: 0.0125, 0.0150,
# 0.0158; benchmarks/results/compressed_sets.json): intra-coded frames are trusted more (measured effect
# on the reconstruction: +0.002 dB; the video jobs pass the types the file's bitstream
# gives, -0.001 to +0.004 dB: benchmarks/side_info_ab.py).
PICTURE_TYPE_ERROR = {"I": 0.8, "P": 0.93, "B": 1.0}
# Per-block error level of decoded video from the decoded block's texture (issue 25):
# log(block RMS error, 8-bit codes) = a + b log(1 + g), g the block's mean squared
# forward difference of the luma (codes^2), 8x8 LR blocks; fitted over bigbuckbunny and
# carphone BDx4 through x264 at CRF 23 and 28 at once (R^2 0.49; per set 0.39-0.64):
# ``python benchmarks/codec_error.py``, its "pooled 8x8 fit" line
TEXTURE_ERROR_FIT = {"a": 0.460, "b": 0.194, "block": 8}


@dataclass(frozen=True)
class CodecModel:
    """What the codec did to a stack of frames, as the reconstruction models it.

    Attributes
    ----------
    kind : {"none", "video", "jpeg"}
        ``"none"``: frames not found to be codec-degraded (the white-noise model holds).
    sigma : float
        Error level (standard deviation, [0, 1] units) of the frame with the most error;
        the reconstruction uses ``max(noise estimate, sigma)`` for its prior weight.
    frame_weights : ndarray, shape (K,)
        Relative data weights of the frames in (0, 1], ``(sigma_min / sigma_k)**2``: 1
        for the frames with the least error (from the picture types when known, else
        all 1). They multiply the registration confidence.
    evidence : dict
        The measured scores the decision was made on.
    """

    kind: str
    sigma: float
    frame_weights: np.ndarray
    evidence: dict

    @property
    def degraded(self):
        """True when the frames are codec-degraded."""
        return self.kind != "none"


def chroma_block_score(frames):
    """How constant the chroma is on aligned 2x2 blocks, against blocks offset by 1 px.

    Runs on the frames' array module (NumPy or CuPy: a dozen array operations, one
    read-back of the two deviations and of the NaN/Inf check).

    Parameters
    ----------
    frames : array, shape (K, h, w, 3)
        RGB frames in [0, 1] (or uint8).

    Returns
    -------
    float
        Mean absolute deviation of Cb/Cr from their 2x2 block means on the aligned grid,
        divided by the same on the grid shifted by one pixel: near 0 for chroma repeated
        from a 4:2:0 plane, near 1 for full-resolution chroma, ``nan`` when the frames
        have no chroma detail at all (grey).
    """

    frames = check_array(frames, "frames", ndim=4, finite="host")
    if frames.shape[-1] != 3:
        raise ValueError(f"frames must be RGB (K, h, w, 3), got shape {frames.shape}")
    h, w = (frames.shape[1] // 2) * 2, (frames.shape[2] // 2) * 2
    if h < 4 or w < 4:
        raise ValueError(f"frames must be at least 4x4 pixels, got {frames.shape[1:3]}")
    xp = get_array_module(frames)
    chroma = rgb_to_ycbcr(as_float_image(frames))[..., 1:]

    def deviation(c):
        blocks = _blocks_2x2(c)
        return xp.abs(blocks - blocks.mean((2, 4), keepdims=True)).mean()

    parts = [deviation(chroma[:, :h, :w]), deviation(chroma[:, 1:h - 1, 1:w - 1])]
    if xp is not np:  # the NaN/Inf check check_array left out, read back with the result
        parts.append(all_finite(frames).astype(parts[0].dtype))
    values = to_numpy(xp.stack(parts))
    if xp is not np:
        raise_if_not_finite(values[2], "frames")
    aligned, shifted = float(values[0]), float(values[1])
    return aligned / shifted if shifted > 1e-6 else float("nan")


def jpeg_quality(frames, qualities=JPEG_QUALITIES):
    """Test for JPEG compression by compressing again: the "JPEG ghost".

    Each candidate quality ``q`` compresses the frames again (OpenCV's libjpeg) on their
    own 8x8 grid and on the grid moved by 4 pixels; the mean absolute change on the
    aligned grid over the change on the moved one is smallest at the quality the frames
    were saved at, and small only if they were JPEG-compressed there.

    Parameters
    ----------
    frames : array, shape (K, h, w) or (K, h, w, 3)
        Frames in [0, 1] (or uint8), RGB on the last axis, as decoded (not cropped by a
        number of pixels that is not a multiple of 8 at the top or left).
    qualities : sequence of int
        Candidate qualities.

    Returns
    -------
    ratio : float
        Smallest aligned / moved change over the candidates: 0.009-0.16 for JPEG
        qualities 50-90, 0.79-1.0 for frames never JPEG-compressed (see the module
        docstring).
    quality : int
        The candidate where it is smallest.
    """
    import cv2


    frames = check_array(frames, "frames", ndim=(3, 4))
    if min(frames.shape[1:3]) < 16:
        raise ValueError(f"frames must be at least 16x16 pixels, got {frames.shape[1:3]}")
    images = np.round(np.clip(as_float_image(np.asarray(frames[:JPEG_FRAMES])), 0, 1) * 255)
    images = images.astype(np.uint8)[:, :JPEG_CROP, :JPEG_CROP]
    if images.ndim == 4:
        images = images[..., ::-1] if images.shape[-1] == 3 else images[..., 0]

    def change(image, q):
        ok, data = cv2.imencode(".jpg", np.ascontiguousarray(image),
                                [cv2.IMWRITE_JPEG_QUALITY, int(q)])
        again = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        return float(np.abs(again.astype(np.float32) - image).mean())

    best = (np.inf, int(qualities[0]))
    for q in qualities:
        aligned = sum(change(im, q) for im in images)
        moved = sum(change(im[4:, 4:], q) for im in images)
        ratio = aligned / moved if moved > 0 else 1.0
        if ratio < best[0]:
            best = (ratio, int(q))
    return float(best[0]), best[1]


def jpeg_sigma(quality):
    """Error level assumed for JPEG frames of ``quality`` (see ``JPEG_SIGMA_AT``)."""
    (q0, s0), (q1, s1) = JPEG_SIGMA_AT
    sigma = s0 + (float(quality) - q0) * (s1 - s0) / (q1 - q0)
    return float(np.clip(sigma, *JPEG_SIGMA_BOUNDS))


def _frame_weights(picture_types, n_frames):
    if picture_types is None:
        return np.ones(n_frames)
    if len(picture_types) != n_frames:
        raise ValueError(f"picture_types has {len(picture_types)} entries for "
                         f"{n_frames} frames")
    errors = []
    for t in picture_types:
        if not isinstance(t, str):
            raise TypeError(f"picture_types must be strings such as 'I', 'P', 'B', got "
                            f"{type(t).__name__}")
        errors.append(PICTURE_TYPE_ERROR.get(t.upper(), 1.0))
    errors = np.asarray(errors)
    return (errors.min() / errors) ** 2


def detect_codec(frames, codec="auto", picture_types=None):
    """The codec model of a stack of decoded frames.

    Parameters
    ----------
    frames : array, shape (K, h, w) or (K, h, w, 3)
        Frames in [0, 1] (or uint8), RGB on the last axis.
    codec : {"auto", "none", "video", "jpeg"} or a video codec name
        ``"auto"`` decides from the frames (decoded 4:2:0 video from the chroma, so
        colour frames only; JPEG by compressing again, for NumPy frames only: device
        (CuPy) frames are tested for 4:2:0 video on the device, and JPEG needs
        ``"jpeg"``, since the test runs OpenCV's encoder on the host); the other values
        say what the frames went through (``"h264"``, ``"h265"``, ``"hevc"``, ...
        mean ``"video"``).
    picture_types : sequence of str, optional
        ``"I"``/``"P"``/``"B"`` per frame as the decoder reports them
        (:func:`mfsr.degradation.compression.decode_video`); intra frames then weigh more.

    Returns
    -------
    CodecModel
    """

    # device frames: no NaN/Inf check here (a sync); chroma_block_score reads its own
    # check back with its result, and the host JPEG test checks its copy
    frames = check_array(frames, "frames", ndim=(3, 4), finite="host")
    on_device = get_array_module(frames) is not np
    if not isinstance(codec, str):
        raise TypeError(f"codec must be a string, got {type(codec).__name__}")
    codec = "video" if codec.lower() in VIDEO_ALIASES else codec.lower()
    check_choice(codec, "codec", CODECS + VIDEO_ALIASES)
    n = frames.shape[0]
    colour = frames.ndim == 4 and frames.shape[-1] == 3
    evidence = {}
    if codec == "auto":
        codec = "none"
        if colour and min(frames.shape[1:3]) >= 4:
            evidence["chroma_block_score"] = chroma_block_score(frames)
            if evidence["chroma_block_score"] < CHROMA_BLOCK_THRESHOLD:
                codec = "video"
        if codec == "none" and min(frames.shape[1:3]) >= 16 and not on_device:
            evidence["jpeg_ghost"], evidence["jpeg_quality"] = jpeg_quality(frames)
            if evidence["jpeg_ghost"] < JPEG_GHOST_THRESHOLD:
                codec = "jpeg"
    if codec == "none":
        return CodecModel("none", 0.0, np.ones(n), evidence)
    if codec == "video":
        return CodecModel("video", VIDEO_SIGMA, _frame_weights(picture_types, n), evidence)
    if "jpeg_quality" not in evidence and min(frames.shape[1:3]) >= 16:
        # said explicitly: the quality is measured on a host copy of the frames it uses
        evidence["jpeg_ghost"], evidence["jpeg_quality"] = jpeg_quality(
            to_numpy(frames[:JPEG_FRAMES, :JPEG_CROP, :JPEG_CROP]) if on_device else frames)
    return CodecModel("jpeg", jpeg_sigma(evidence.get("jpeg_quality", 75)), np.ones(n),
                      evidence)


def block_error_level(frames, coefficients=None):
    """Per-pixel codec error level predicted from the decoded frames' block texture.

    Each ``block x block`` block of the luma (the last blocks of a side that does not
    divide take what is left) gets ``exp(a + b log(1 + g)) / 255``, ``g`` the block's
    mean squared forward difference of the luma in 8-bit codes squared: textured blocks
    keep more quantisation error than flat ones, which the codec leaves clean
    (:data:`TEXTURE_ERROR_FIT`, measured by ``benchmarks/codec_error.py``). The level
    does not know the CRF: it is a relative map at a typical streaming rate.

    Parameters
    ----------
    frames : array, shape (K, h, w) or (K, h, w, 3)
        Decoded luma (or RGB, whose BT.601 luma is taken) in [0, 1] (or uint8); NumPy or
        CuPy.
    coefficients : dict, optional
        ``{"a": float, "b": float, "block": int}``; default :data:`TEXTURE_ERROR_FIT`.

    Returns
    -------
    array, shape (K, h, w), float32
        The error level (standard deviation, [0, 1] units) of each pixel's block, on the
        frames' array module.
    """

    frames = check_array(frames, "frames", ndim=(3, 4), finite="host")
    coefficients = TEXTURE_ERROR_FIT if coefficients is None else coefficients
    if not isinstance(coefficients, dict):
        raise TypeError(f"coefficients must be a dict, got {type(coefficients).__name__}")
    if set(coefficients) != {"a", "b", "block"}:
        raise ValueError(f"coefficients must have the keys 'a', 'b', 'block', got "
                         f"{sorted(coefficients)}")
    block = coefficients["block"]
    if not isinstance(block, (int, np.integer)) or block < 2:
        raise ValueError(f"coefficients['block'] must be an int >= 2, got {block!r}")
    xp = get_array_module(frames)
    images = as_float_image(frames)
    if images.ndim == 4:
        if images.shape[-1] != 3:
            raise ValueError(f"frames must be (K, h, w) luma or (K, h, w, 3) RGB, got "
                             f"shape {frames.shape}")
        images = rgb_to_ycbcr(images)[..., 0]
    y = images.astype(xp.float32) * 255
    k, h, w = y.shape
    g = xp.zeros_like(y)
    g[:, :, :-1] += xp.diff(y, axis=2) ** 2
    g[:, :-1] += xp.diff(y, axis=1) ** 2
    hb, wb = -(-h // block), -(-w // block)
    # block sums over whole blocks of an edge-padded copy, the count of real pixels each
    padded = xp.zeros((k, hb * block, wb * block), xp.float32)
    padded[:, :h, :w] = g
    count = xp.zeros((hb * block, wb * block), xp.float32)
    count[:h, :w] = 1
    sums = padded.reshape(k, hb, block, wb, block).sum(axis=(2, 4))
    counts = count.reshape(hb, block, wb, block).sum(axis=(1, 3))
    level = xp.exp(coefficients["a"] + coefficients["b"] * xp.log1p(sums / counts)) / 255
    level = xp.repeat(xp.repeat(level, block, axis=1), block, axis=2)[:, :h, :w]
    return xp.ascontiguousarray(level.astype(xp.float32))


def chroma_420_planes(chroma):
    """The 4:2:0 chroma planes of decoded video: the mean of each aligned 2x2 block.

    FFmpeg's conversion to RGB repeats each chroma sample over its 2x2 block, so the
    block mean is the decoder's sample (up to RGB rounding).

    Parameters
    ----------
    chroma : array, shape (K, h, w)
        One chroma plane (Cb or Cr) of each frame at luma resolution; ``h``, ``w`` even.

    Returns
    -------
    array, shape (K, h // 2, w // 2)
    """
    k, h, w = chroma.shape
    if h % 2 or w % 2:
        raise ValueError(f"chroma must have even height and width, got {h}x{w}")
    return _blocks_2x2(chroma).mean(axis=(2, 4))


def chroma_420_operator(motion, scale, psf, phase):
    """The system operator of 4:2:0 chroma: the luma model on the half-resolution grid.

    A chroma sample stands for a 2x2 block of luma pixels, so it is centred on HR
    coordinate ``2 s j + phase + s / 2`` (``phase``: the luma's), sampled every ``2 s``
    HR pixels, and blurred by the luma PSF and the encoder's 2x2 chroma downsampling (a
    Gaussian of the summed variances, the box of ``2 s`` HR pixels counted as
    ``(2 s)**2 / 12``). The motion is the luma motion averaged over the blocks, in
    half-resolution pixels.

    Parameters
    ----------
    motion : Motion
        Luma motion, ``(K, h, w)`` with ``h``, ``w`` even.
    scale : int
        Luma upscaling factor ``s``.
    psf : PSF
        Luma PSF (HR pixels).
    phase : float
        Luma sampling phase.

    Returns
    -------
    SystemOperator
        From the HR image ``(s h, s w)`` to chroma planes ``(K, h / 2, w / 2)``.
    """
    k, h, w = motion.confidence.shape
    if h % 2 or w % 2:
        raise ValueError(f"motion must have even height and width, got {h}x{w}")
    flows = _blocks_2x2(motion.flows).mean(axis=(2, 4)) / 2
    confidence = _blocks_2x2(motion.confidence).mean(axis=(2, 4))
    half = Motion(flows.astype(np.float32), confidence.astype(np.float32), motion.reference)
    sigma = np.sqrt(psf_variance(psf) + (2 * scale) ** 2 / 12)
    return SystemOperator(half, 2 * scale, GaussianPSF(float(sigma)), phase + scale / 2)


def _blocks_2x2(a):
    """View of ``a`` (shape ``(K, h, w, ...)``, ``h`` and ``w`` even) as its aligned 2x2
    blocks: ``(K, h / 2, 2, w / 2, 2, ...)``."""
    k, h, w = a.shape[:3]
    return a.reshape((k, h // 2, 2, w // 2, 2) + tuple(a.shape[3:]))


__all__ = ["CodecModel", "detect_codec", "block_error_level", "chroma_block_score",
           "jpeg_quality", "jpeg_sigma",
           "chroma_420_planes", "chroma_420_operator", "CODECS"]

"""A model of codec degradation, estimated from the decoded frames themselves.

Lossy codecs (H.264/H.265 video, JPEG) do not add white noise: they quantise transform
coefficients block by block, smooth the result (in-loop deblocking), predict frames from
each other and keep chroma at half resolution (4:2:0). Their error is 5-15 times larger
than what :func:`mfsr.degradation.estimate_noise` finds in flat areas, which the codec
leaves clean (measured on bigbuckbunny BDx4 through x264 at CRF 23: error 0.015, flat-area
estimate 0.002), so a model that trusts the noise estimate fits the artefacts and turns
them into a mesh. This module tells codec-degraded frames from clean ones and gives the
error level the reconstruction should assume.

Detection (:func:`detect_codec`):

- Decoded video: FFmpeg's unscaled YUV 4:2:0 -> RGB conversion (what PyAV, OpenCV's
  ``VideoCapture`` and ``ffmpeg -i in.mp4 out%04d.png`` give) repeats each chroma sample
  over a 2x2 block, so the chroma planes are constant on the aligned 2x2 blocks and not on
  the blocks offset by one pixel (:func:`chroma_block_score`: ~0.003 on x264/x265 at
  CRF 18-33, ~1 on frames that never went through 4:2:0).
- JPEG: libjpeg interpolates 4:2:0 chroma with a triangle filter, which leaves the same
  score between ~0.7 and ~0.85; and with no deblocking, the luma gradients across the
  8x8 block grid are larger than inside the blocks (:func:`blockiness`), which also
  sets the error level when the frames are large enough to measure it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_array, check_choice, check_int

CODECS = ("auto", "none", "video", "jpeg")
# aliases a user may pass for codec="video"
VIDEO_ALIASES = ("h264", "h265", "hevc", "avc", "x264", "x265", "mpeg4", "vp9", "av1")

# chroma_block_score below this: chroma repeated on 2x2 blocks (decoded 4:2:0 video)
CHROMA_BLOCK_THRESHOLD = 0.1
# between the two: chroma interpolated from 4:2:0 by libjpeg's triangle filter ("fancy
# upsampling"), which leaves the aligned 2x2 blocks smoother than the offset ones
# (JPEG quality 50-90: 0.71-0.85 per frame on bigbuckbunny and carphone; frames that
# never went through 4:2:0: 0.91-1.07)
CHROMA_INTERPOLATED_THRESHOLD = 0.87
# blockiness on the 8-px grid above this: JPEG-style blocks (clean frames: 1.00-1.07 on
# bigbuckbunny; JPEG quality 50: 1.37)
JPEG_BLOCKINESS_THRESHOLD = 1.15
# blockiness is measured only on frames with at least this many blocks each way
MIN_BLOCKS = 8

# Error level assumed for decoded video (H.264/H.265, any CRF): the level whose prior
# weight gave the best mean gain over CRF 18-33 on bigbuckbunny (benchmarks/compressed.py,
# docs/compressed.md). The codec's true error there is 0.010 (CRF 18) to 0.030 (CRF 33).
VIDEO_SIGMA = 0.015
# JPEG: sigma = JPEG_SIGMA_BASE + JPEG_SIGMA_SLOPE * (blockiness - 1), within the bounds;
# JPEG_SIGMA_DEFAULT where the frames are too small to measure the block grid
JPEG_SIGMA_BASE, JPEG_SIGMA_SLOPE = 0.01, 0.06
JPEG_SIGMA_MAX = 0.035
JPEG_SIGMA_DEFAULT = 0.02
# Relative error of I, P and B pictures (x264 CRF 23 on bigbuckbunny: 0.0116, 0.0141,
# 0.0152): frames the decoder reports as intra-coded are trusted more.
PICTURE_TYPE_ERROR = {"I": 0.8, "P": 0.93, "B": 1.0}


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
    from ..color import as_float_image, rgb_to_ycbcr

    frames = check_array(frames, "frames", ndim=4)
    if frames.shape[-1] != 3:
        raise ValueError(f"frames must be RGB (K, h, w, 3), got shape {frames.shape}")
    chroma = rgb_to_ycbcr(as_float_image(np.asarray(frames)))[..., 1:]
    h, w = (frames.shape[1] // 2) * 2, (frames.shape[2] // 2) * 2
    if h < 4 or w < 4:
        raise ValueError(f"frames must be at least 4x4 pixels, got {frames.shape[1:3]}")

    def deviation(c):
        k, hh, ww, _ = c.shape
        blocks = c.reshape(k, hh // 2, 2, ww // 2, 2, 2)
        return float(np.abs(blocks - blocks.mean((2, 4), keepdims=True)).mean())

    aligned = deviation(chroma[:, :h, :w])
    shifted = deviation(chroma[:, 1:h - 1, 1:w - 1])
    return aligned / shifted if shifted > 1e-6 else float("nan")


def blockiness(luma, period=8):
    """Ratio of the mean luma step across the strongest grid line to the median step.

    For each axis the mean absolute difference between neighbouring pixels is averaged
    per position modulo ``period``; the largest of these ``period`` values over their
    median is the axis' score, and the two axes' scores are averaged. About 1 for frames
    without a block grid, above 1 where a block transform left steps on its grid.

    Parameters
    ----------
    luma : array, shape (K, h, w) or (h, w)
        Grey frames.
    period : int
        Block size of the grid looked for, pixels.

    Returns
    -------
    score : float
    offsets : tuple of int
        Position of the strongest grid line modulo ``period`` (rows, columns).
    """
    luma = check_array(luma, "luma", ndim=(2, 3))
    period = check_int(period, "period", minimum=2)
    stack = np.asarray(luma, dtype=np.float64)
    stack = stack[None] if stack.ndim == 2 else stack
    if min(stack.shape[1:]) < 2 * period:
        raise ValueError(f"luma must be at least {2 * period} pixels each way, "
                         f"got {stack.shape[1:]}")
    scores, offsets = [], []
    for axis in (1, 2):
        steps = np.abs(np.diff(stack, axis=axis)).mean(axis=(0, 3 - axis))
        profile = np.array([steps[o::period].mean() for o in range(period)])
        # a step between pixels o and o+1 sits on the grid line at o+1
        offsets.append((int(np.argmax(profile)) + 1) % period)
        scores.append(float(profile.max() / max(np.median(profile), 1e-12)))
    return float(np.mean(scores)), tuple(offsets)


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
        ``"auto"`` decides from the frames (decoded 4:2:0 video from the chroma, JPEG
        from the block grid; grey frames only from the block grid); the other values
        say what the frames went through (``"h264"``, ``"h265"``, ``"hevc"``, ...
        mean ``"video"``).
    picture_types : sequence of str, optional
        ``"I"``/``"P"``/``"B"`` per frame as the decoder reports them
        (:func:`mfsr.degradation.compression.decode_video`); intra frames then weigh more.

    Returns
    -------
    CodecModel
    """
    frames = check_array(frames, "frames", ndim=(3, 4))
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
            elif evidence["chroma_block_score"] < CHROMA_INTERPOLATED_THRESHOLD:
                codec = "jpeg"
        if codec == "none":
            luma = _luma(frames)
            if min(luma.shape[1:]) >= MIN_BLOCKS * 8:
                evidence["blockiness"] = blockiness(luma, 8)[0]
                if evidence["blockiness"] > JPEG_BLOCKINESS_THRESHOLD:
                    codec = "jpeg"
    if codec == "none":
        return CodecModel("none", 0.0, np.ones(n), evidence)
    if codec == "video":
        return CodecModel("video", VIDEO_SIGMA, _frame_weights(picture_types, n), evidence)
    luma = _luma(frames)
    if "blockiness" not in evidence and min(luma.shape[1:]) >= MIN_BLOCKS * 8:
        evidence["blockiness"] = blockiness(luma, 8)[0]
    if "blockiness" in evidence:
        sigma = float(np.clip(JPEG_SIGMA_BASE + JPEG_SIGMA_SLOPE * (evidence["blockiness"] - 1),
                              JPEG_SIGMA_BASE, JPEG_SIGMA_MAX))
    else:
        sigma = JPEG_SIGMA_DEFAULT
    return CodecModel("jpeg", sigma, np.ones(n), evidence)


def _luma(frames):
    from ..color import as_float_image, rgb_to_ycbcr

    frames = as_float_image(np.asarray(frames))
    if frames.ndim == 4:
        return rgb_to_ycbcr(frames)[..., 0] if frames.shape[-1] == 3 else frames[..., 0]
    return frames


__all__ = ["CodecModel", "detect_codec", "chroma_block_score", "blockiness", "CODECS"]

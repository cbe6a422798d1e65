"""Whole-clip temporal reach for the video job: a bidirectional recursion.

Deep video SR takes its lead from carrying information along the whole clip (BasicVSR:
forward and backward recurrence with flow); the classical counterpart is recursive
fusion with a per-pixel confidence (Farsiu, Elad & Milanfar, "Video-to-video dynamic
super-resolution", 2006). Here each output frame ``t`` is solved from a short window of
LR frames (:data:`WINDOW`) plus an *anchor* (``irls(anchor=...)``): the neighbouring
frame's result warped into ``t``'s view, weighted per pixel by how far it can be
trusted. A forward pass (anchor from ``t - 1``) carries what the frames before ``t``
showed, a backward pass (anchor from ``t + 1``) what the frames after it showed; the
output's luma is the mean of the two passes' (its colour the forward pass's). What a
frame far away contributes reaches ``t`` only through every link between them, each
weighted by its flow's forward-backward consistency and by the photometric agreement
of the warped estimate with the frame it is warped to, so the confidence decays along
the chain and stops at an occlusion or a cut.

The clip is cut into segments of :data:`SEGMENT` output frames at fixed positions
(multiples of ``SEGMENT`` from frame 0); each segment's passes start :data:`WARMUP`
frames outside it. A frame's result thus depends on the clip alone (not on the job's
start, end, chunking or a resume), and the cost per output frame does not grow with the
clip's length: two solves of a 3-frame window per frame, plus ``2 WARMUP / SEGMENT``.

This module holds the pieces that do not know the video job: the plan of the passes
and the anchor. The job's loop is :func:`mfsr.video._iter_recursive`.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .core.backend import get_array_module
from .degradation import BlurDecimate
from .degradation.interpolate import upsample
from .kernels.geometry import upsample_flow
from .core.motion import Motion
from .registration.confidence import photometric_confidence

#: LR frames in each output frame's own window (the anchors bring the rest).
WINDOW = 3
#: Weight of the anchor per HR pixel and window frame, at full confidence (tuned on the
#: real-motion development set, benchmarks/realmotion: 0.003 / 0.006 / 0.012 gave a mean
#: gain over bicubic of 1.67 / 1.68 / 1.64 dB on BDx4).
ANCHOR_WEIGHT = 0.006
#: How the anchor's weight grows with the frames' noise level ``sigma`` (above
#: :data:`ANCHOR_SIGMA_FLOOR`): ``(sigma / floor) ** ANCHOR_NOISE_EXPONENT``. The data
#: term's pull shrinks as the frames get noisier while the anchor (an output already
#: denoised) does not get worse at the same rate (see :func:`anchor_weight`). Tuned on
#: the development set with noise of sigma 5/255 added (``BDx4_noise5``, first 16 frames
#: of each clip, mean gain over bicubic on the BD grid): exponents 0 / 1 / 1.5 / 2 / 2.5 /
#: 3 gave +1.09 / +1.22 / +1.25 / +1.24 / +1.18 / +1.06 dB (5-frame windows +1.08); on
#: the clean clips 0 and 1.5 give +1.716 / +1.714 (benchmarks/anchor_noise.py,
#: benchmarks/results/anchor_noise.json).
ANCHOR_NOISE_EXPONENT = 1.5
ANCHOR_SIGMA_FLOOR = 0.004
#: Output frames per segment and frames of warm-up on each side of it.
SEGMENT = 32
WARMUP = 8


@dataclass(frozen=True)
class PassPlan:
    """The frames one segment's passes run over.

    Attributes
    ----------
    outputs : range
        Output frames the segment yields (those of the job's range in it).
    first, last : int
        The passes run over frames ``first .. last`` (the warm-up included): the
        forward pass from ``first`` up to ``outputs[-1]``, the backward pass from
        ``last`` down to ``outputs[0]``.
    """

    outputs: range
    first: int
    last: int


def plan_segments(start, stop, n_frames, segment=SEGMENT, warmup=WARMUP):
    """The :class:`PassPlan` of each segment that holds output frames ``start..stop-1``.

    Parameters
    ----------
    start, stop : int
        The job's output frames.
    n_frames : int
        Length of the clip.
    segment, warmup : int
        Output frames per segment (None: the whole clip is one segment) and warm-up
        frames on each side.

    Returns
    -------
    list of PassPlan

    Examples
    --------
    >>> [(p.outputs, p.first, p.last) for p in plan_segments(30, 40, 100, 32, 8)]
    [(range(30, 32), 0, 39), (range(32, 40), 24, 71)]
    """
    if segment is None:
        return [PassPlan(range(start, stop), 0, n_frames - 1)] if stop > start else []
    plans = []
    for a in range((start // segment) * segment, stop, segment):
        b = min(a + segment, n_frames)
        outputs = range(max(a, start), min(b, stop))
        if len(outputs):
            plans.append(PassPlan(outputs, max(0, a - warmup), min(n_frames, b + warmup) - 1))
    return plans


def warp_estimate(image, flow, scale, phase):
    """An HR estimate seen from another frame: backward warp by an LR flow.

    Parameters
    ----------
    image : array, shape (H, W)
        HR estimate of frame ``j``.
    flow : array, shape (h, w, 2)
        LR flow from frame ``t`` to frame ``j`` (frame ``t`` at ``p`` shows frame ``j``
        at ``p + flow(p)``, the :class:`~mfsr.core.motion.Motion` convention).
    scale : int
    phase : float
        Sampling phase of the model (where LR pixel 0 sits on the HR grid).

    Returns
    -------
    array, shape (H, W), float32
        ``image`` at ``u + F(u)``, ``F`` the flow brought to the HR grid
        (:func:`~mfsr.kernels.geometry.upsample_flow`); bicubic (OpenCV's
        ``INTER_CUBIC``: the cubic convolution kernel with a = -0.75), border replicated. Bilinear sampling would blur the
        estimate a little at every link of the chain; the cubic keeps its detail.
    """
    xp = get_array_module(image)
    f = upsample_flow(flow, scale, phase)
    H, W = image.shape
    if xp is np:
        gx, gy = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
        return cv2.remap(np.ascontiguousarray(image, np.float32), gx + f[..., 0],
                         gy + f[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    gy, gx = xp.meshgrid(xp.arange(H, dtype=xp.float32), xp.arange(W, dtype=xp.float32),
                         indexing="ij")
    return _cubic_sample(image.astype(xp.float32), gy + f[..., 1], gx + f[..., 0], xp)


#: OpenCV's INTER_CUBIC parameter (``interpolateCubic``: the cubic convolution kernel
#: with a = -0.75, not Keys' -0.5), so that host and device warps agree.
CUBIC_A = -0.75


def _keys(t, xp):
    """Cubic convolution weights (a = :data:`CUBIC_A`, OpenCV's) of the four taps at
    offsets ``-1, 0, 1, 2`` from the sample's integer part, for the fractions ``t``."""
    a = CUBIC_A
    u, v = t + 1, 1 - t
    w0 = ((a * u - 5 * a) * u + 8 * a) * u - 4 * a
    w1 = ((a + 2) * t - (a + 3)) * t * t + 1
    w2 = ((a + 2) * v - (a + 3)) * v * v + 1
    return w0, w1, w2, 1 - w0 - w1 - w2


def _cubic_sample(image, cy, cx, xp):
    """Bicubic sampling of ``image`` at ``(cy, cx)`` with the border replicated, written
    against ``xp`` for device arrays."""
    h, w = image.shape
    y0, x0 = xp.floor(cy), xp.floor(cx)
    wy, wx = _keys(cy - y0, xp), _keys(cx - x0, xp)
    y0, x0 = y0.astype(xp.int64), x0.astype(xp.int64)
    flat = image.ravel()
    out = xp.zeros(cy.shape, xp.float32)
    for i in range(4):
        rows = xp.clip(y0 + (i - 1), 0, h - 1) * w
        acc = xp.zeros(cy.shape, xp.float32)
        for j in range(4):
            acc += wx[j] * flat[rows + xp.clip(x0 + (j - 1), 0, w - 1)]
        out += wy[i] * acc
    return out


def anchor_weight(sigma, n_frames):
    """Weight of the anchor at full confidence, per HR pixel, for a window of ``n_frames``
    frames of noise level ``sigma``: :data:`ANCHOR_WEIGHT` per frame, times
    ``(max(sigma, floor) / floor) ** ANCHOR_NOISE_EXPONENT`` (floor
    :data:`ANCHOR_SIGMA_FLOOR`, so clean frames get :data:`ANCHOR_WEIGHT` per frame).

    Parameters
    ----------
    sigma : float
        Noise level of the frames, [0, 1] units.
    n_frames : int
        Frames in the solve's window.

    Returns
    -------
    float
    """
    ratio = max(float(sigma), ANCHOR_SIGMA_FLOOR) / ANCHOR_SIGMA_FLOOR
    return ANCHOR_WEIGHT * n_frames * ratio ** ANCHOR_NOISE_EXPONENT


def anchor(previous, flow, link_confidence, frame, scale, psf, phase, sigma, weight):
    """The anchor of a frame's solve: a neighbour's estimate warped, and its weights.

    Parameters
    ----------
    previous : array, shape (H, W)
        The neighbour's HR luma estimate.
    flow : array, shape (h, w, 2)
        LR flow from this frame to the neighbour.
    link_confidence : array, shape (h, w)
        The flow's forward-backward confidence.
    frame : array, shape (h, w)
        This frame's LR luma.
    scale, psf, phase
        The degradation model (PSF object and sampling phase).
    sigma : float
        Noise level of the frames.
    weight : float
        Weight of the anchor at full confidence, per HR pixel.

    Returns
    -------
    image : array, shape (H, W), float32
        The warped estimate.
    weights : array, shape (H, W), float32
        ``weight`` times the link's confidence times the photometric agreement of the
        warped estimate, blurred and sampled as the frame was
        (:func:`~mfsr.registration.confidence.photometric_confidence` of the pair),
        brought to the HR grid bilinearly.
    """
    xp = get_array_module(previous)
    image = warp_estimate(previous, flow, scale, phase)
    predicted = BlurDecimate(image.shape, scale, psf, phase).forward(image)
    h, w = frame.shape
    pair = xp.stack([frame.astype(xp.float32), predicted.astype(xp.float32)])
    same_view = Motion.zeros(2, (h, w), 0, xp)
    agree = photometric_confidence(pair, same_view, sigma)[1]
    confidence = (link_confidence * agree).astype(xp.float32)
    weights = upsample(confidence, scale, phase, method="bilinear")
    return image, (weight * xp.clip(weights, 0.0, 1.0)).astype(xp.float32)


__all__ = ["WINDOW", "ANCHOR_WEIGHT", "ANCHOR_NOISE_EXPONENT", "ANCHOR_SIGMA_FLOOR",
           "anchor_weight", "SEGMENT", "WARMUP", "PassPlan", "plan_segments",
           "warp_estimate", "anchor"]

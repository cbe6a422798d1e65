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

This module holds the plan of the passes (:func:`plan_segments`), the anchor
(:func:`anchor`) and the job's loop over them (:func:`iter_recursive`).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import cv2
import numpy as np

from ..core.backend import get_array_module, resolve_backend, to_device, to_numpy
from ..core.motion import Motion
from ..degradation import BlurDecimate, degradation_model
from ..degradation.interpolate import upsample
from ..kernels.geometry import upsample_flow
from ..pipeline.options import default_registration
from ..registration.confidence import photometric_confidence
from ..registration.flows import PairMotion
from .tiles import reconstruct_tiled, tile_grid
from .windows import FrameFailure, luma_of, picture_type_of, window_indices, window_options

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



STATE_MEMORY = 1 << 30      # bytes of a segment's backward estimates held in memory


class _States:
    """HR luma estimates by frame index: in memory up to ``limit`` bytes, beyond that in
    a temporary folder (a 4K segment's backward pass holds ~40 of 33 MB)."""

    def __init__(self, limit=STATE_MEMORY):
        self.limit, self.held, self.memory, self.folder = limit, 0, {}, None

    def __setitem__(self, t, image):
        if self.held + image.nbytes <= self.limit:
            self.memory[t] = image
            self.held += image.nbytes
            return
        if self.folder is None:
            self.folder = tempfile.TemporaryDirectory(prefix="mfsr-states-")
        np.save(os.path.join(self.folder.name, f"{t}.npy"), to_numpy(image))
        self.memory[t] = None

    def get(self, t, xp=np):
        if t not in self.memory:
            return None
        image = self.memory[t]
        if image is None:
            image = to_device(np.load(os.path.join(self.folder.name, f"{t}.npy")), xp)
        return image

    def close(self):
        if self.folder is not None:
            self.folder.cleanup()


def iter_recursive(source, scale, start, end, todo, max_memory, registration, overlap,
                    kwargs, stats=None, segment=SEGMENT, warmup=WARMUP):
    """Yield ``(index, hr)`` for output frames ``start..end-1`` by the bidirectional
    recursion of :mod:`mfsr.video.recurrence`, with the conventions of
    :func:`iter_reconstruct` (None for frames ``todo`` rejects, a
    :class:`FrameFailure` for a frame that could not be read or reconstructed).

    Per segment (:func:`~mfsr.video.recurrence.plan_segments`) the LR frames of its passes
    are read once; the backward pass solves the luma of every frame from the
    segment's last warm-up frame down to its first output, each anchored to the
    previous result; the forward pass then solves from the first warm-up frame up,
    anchored the same way, in colour (every frame, so that the chain, and with it each
    output, is the same whichever frames the job writes or skips), and each output's
    luma becomes the mean of the two passes'. A frame that cannot be read is left out of
    the windows and the chain links its neighbours; a failed solve restarts the chain.
    """
    xp = resolve_backend("cupy") if kwargs.get("backend") == "cupy" else np
    if registration is None:
        registration = default_registration(xp)
    if isinstance(kwargs.get("psf"), str) and kwargs["psf"] == "estimate":
        raise ValueError("psf='estimate' needs the windowed job (give a window)")
    psf, phase = degradation_model(kwargs.get("degradation"), scale, kwargs.get("psf"),
                                   kwargs.get("phase"))
    n = len(source)
    if start >= n:
        raise ValueError(f"start {start} is past the end of {source.path} ({n} frames)")
    stop = n if end is None else min(end, n)
    radius = WINDOW // 2
    for plan in plan_segments(start, stop, n, segment, warmup):
        if todo is not None and not any(todo(i) for i in plan.outputs):
            for i in plan.outputs:
                yield i, None
            continue
        yield from _recursive_segment(source, plan, scale, radius, xp, registration,
                                      psf, phase, todo, max_memory, overlap, kwargs, stats)


def _recursive_segment(source, plan, scale, radius, xp, registration, psf, phase, todo,
                       max_memory, overlap, kwargs, stats):
    frames, luma, unreadable, types = {}, {}, {}, {}
    n = len(source)
    for k in range(max(0, plan.first - radius), min(n, plan.last + radius + 1)):
        try:
            f = source.read(k)
        except ValueError as exc:
            unreadable[k] = exc
            continue
        f = xp.asarray(f) if xp is not np else f
        frames[k], luma[k] = f, luma_of(f)
        types[k] = picture_type_of(source, k)
    pairs = PairMotion(registration, xp=xp)
    windows = {}

    def window(t):
        """Window, motion, noise level and codec model of output frame ``t`` (once)."""
        if t not in windows:
            indices = [k for k in window_indices(t, n, WINDOW)[0] if k in frames]
            ref = indices.index(t)
            opts = window_options(xp.stack([frames[k] for k in indices]), luma, indices,
                                   kwargs, types)
            windows[t] = (indices, pairs.motion(indices, ref, luma), opts)
            if stats is not None:
                stats.setdefault("windows", {})[t] = list(indices)
        return windows[t]

    def solve(t, neighbour, estimate, colour):
        indices, motion, opts = window(t)
        opts = dict(opts)
        if estimate is not None:
            flow, confidence = pairs.link(t, neighbour, luma)
            opts["anchor"] = anchor(estimate, flow, confidence, luma[t], scale, psf, phase,
                                    opts["noise"],
                                    anchor_weight(opts["noise"], len(indices)))
        stack = xp.stack([(frames if colour else luma)[k] for k in indices])
        tiles = tile_grid(stack.shape[1:3], scale, len(indices), max_memory, overlap)
        hr = to_device(reconstruct_tiled(stack, scale, motion, tiles, overlap, **opts), xp)
        return hr, (luma_of(hr) if colour else hr)

    readable = [k for k in range(plan.first, plan.last + 1) if k in frames]
    backward = _States()
    try:
        previous = None
        for t in reversed([k for k in readable if k >= plan.outputs[0]]):
            try:
                backward[t] = solve(t, *(previous or (None, None)), colour=False)[1]
                previous = (t, backward.get(t, xp))
            except Exception:           # the chain restarts after a failed frame
                previous = None
        previous = None
        for t in range(plan.first, plan.outputs[-1] + 1):
            output = t in plan.outputs
            if t in unreadable:         # the chain links its readable neighbours
                if output:
                    yield t, FrameFailure(t, unreadable[t])
                continue
            if t not in frames:
                continue
            wanted = output and (todo is None or todo(t))
            try:        # every frame in colour: its state must not depend on the range
                hr, state = solve(t, *(previous or (None, None)), colour=True)
            except Exception as exc:    # this frame fails; the job goes on
                previous = None
                if output:
                    yield t, FrameFailure(t, exc)
                continue
            previous = (t, state)
            if not output:
                continue
            if not wanted:
                yield t, None
                continue
            other = backward.get(t, xp)
            if other is not None:       # the mean of the two passes' luma
                shift = 0.5 * (other - state)
                hr = hr + (shift[..., None] if hr.ndim == 3 else shift)
            yield t, to_numpy(xp.clip(hr, 0.0, 1.0).astype(xp.float32))
    finally:
        backward.close()


__all__ = ["WINDOW", "ANCHOR_WEIGHT", "ANCHOR_NOISE_EXPONENT", "ANCHOR_SIGMA_FLOOR",
           "anchor_weight", "SEGMENT", "WARMUP", "PassPlan", "plan_segments",
           "warp_estimate", "anchor", "iter_recursive", "STATE_MEMORY"]

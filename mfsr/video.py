"""`reconstruct_video`: a video (or folder of frames) in, HR frames out, one at a time.

Each output frame ``c`` is reconstructed from the window of LR frames
``max(0, c - r) .. min(n - 1, c + r)`` with ``r = window // 2``: near the ends of the
video the window is shorter and asymmetric (no frame is repeated). Motion is estimated
once per pair of consecutive LR frames, in both directions, and each window's motion to
its reference is composed from those pairwise flows. Frames too large for
``max_memory`` are reconstructed in overlapping tiles blended with linear ramps.
Only the LR frames of the current window are held. With ``backend="cupy"`` the window
is kept on the device (frames uploaded once each; luma, pair flows, their composition,
noise and codec estimates and tiles computed there) and each HR frame comes to the host
once, at the end.
"""
from __future__ import annotations

import math
import os
import tempfile

import cv2
import numpy as np

from .core.device_cache import device_constant
from .core.validation import check_choice, check_int
from .core.backend import get_array_module, resolve_backend, to_device, to_numpy
from .core.color import as_float_image, rgb_to_ycbcr
from .degradation import degradation_model, estimate_noise
from .degradation.interpolate import REMAP_STEPS, remap_rounds
from .io import FrameSource
from .kernels.geometry import bilinear_sample
from .core.motion import Motion
from .pipeline.methods import METHODS, resolve_method
from .pipeline.api import codec_model
from .pipeline.options import default_registration
from .pipeline import reconstruct
from .recurrence import SEGMENT, WARMUP, WINDOW, anchor, anchor_weight, plan_segments
from .registration import ESTIMATORS, REGISTRATION_METHODS, forward_backward_confidence
from .registration.confidence import sample

DEFAULT_MAX_MEMORY = 1 << 30
TILE_OVERLAP = 8            # LR pixels each tile reaches past its core, on each side
STATE_MEMORY = 1 << 30      # bytes of a segment's backward estimates held in memory
DEFAULT_WINDOW = 5          # frames per window of the windowed job


def window_indices(center, n_frames, window=5):
    """Frames used for output frame ``center``: the centred window, cut at the ends.

    Parameters
    ----------
    center : int
        Index of the output frame, ``0 <= center < n_frames``.
    n_frames : int
        Length of the video.
    window : int
        Nominal window length (odd values are symmetric), >= 1.

    Returns
    -------
    indices : list of int
        Consecutive frame indices; shorter than ``window`` near the ends.
    reference : int
        Position of ``center`` in ``indices``.

    Examples
    --------
    >>> window_indices(0, 10, 5)
    ([0, 1, 2], 0)
    >>> window_indices(5, 10, 5)
    ([3, 4, 5, 6, 7], 2)
    >>> window_indices(9, 10, 5)
    ([7, 8, 9], 2)
    """
    n_frames = check_int(n_frames, "n_frames", minimum=1)
    center = check_int(center, "center", minimum=0)
    window = check_int(window, "window", minimum=1)
    if center >= n_frames:
        raise ValueError(f"center {center} out of range for {n_frames} frames")
    before = (window - 1) // 2
    after = window - 1 - before
    lo, hi = max(0, center - before), min(n_frames - 1, center + after)
    return list(range(lo, hi + 1)), center - lo


def luma_of(frame):
    """Float32 luma (BT.601 Y) of an RGB or grey frame, as registration uses it.

    Parameters
    ----------
    frame : array, shape (h, w) or (h, w, 3)
        NumPy or CuPy (a device frame's luma is computed on the device).

    Returns
    -------
    array, shape (h, w), float32, on the frame's array module
    """
    xp = get_array_module(frame)
    f = as_float_image(xp.asarray(frame), "frame")
    if f.ndim == 3:
        f = rgb_to_ycbcr(f)[..., 0] if f.shape[-1] == 3 else f[..., 0]
    return xp.ascontiguousarray(f, dtype=xp.float32)


def compose_flows(pair_flows, pair_confidence=None):
    """Compose a chain of flows into one: frame 0 to frame ``m``.

    ``pair_flows[j]`` maps frame ``j`` to frame ``j + 1`` in the convention of
    :class:`~mfsr.core.motion.Motion` (frame ``j`` at ``p`` shows frame ``j + 1`` at
    ``p + f_j(p)``), so ``F(p) = f_0(p) + F_1(p + f_0(p))``, evaluated from the far end
    with bilinear sampling (border replicated). NumPy flows are sampled by OpenCV's
    ``remap``; device (CuPy) flows stay on the device (the sampling written against
    ``xp``, flow and confidence sampled together).

    Parameters
    ----------
    pair_flows : sequence of array, shape (h, w, 2)
        The chain, nearest to frame 0 first; at least one.
    pair_confidence : sequence of array, shape (h, w), optional
        Confidence of each link; the composed confidence is their product along the
        path.

    Returns
    -------
    flow : array, shape (h, w, 2), float32
    confidence : array, shape (h, w), float32
        All ones when ``pair_confidence`` is None. On the flows' array module.

    Examples
    --------
    >>> f = np.full((4, 5, 2), 0.5, np.float32)
    >>> float(compose_flows([f, f, f])[0][2, 2, 0])
    1.5
    """
    if len(pair_flows) < 1:
        raise ValueError("pair_flows must hold at least one flow")
    xp = get_array_module(*pair_flows, *(pair_confidence or ()))
    if xp is not np:
        h, w = pair_flows[-1].shape[:2]
        fields = [_field(xp.asarray(f),
                         xp.ones((h, w), xp.float32) if pair_confidence is None
                         else xp.asarray(c), xp)
                  for f, c in zip(pair_flows, pair_confidence or [None] * len(pair_flows))]
        field = _compose_chains([fields], xp)[0]
        return xp.ascontiguousarray(xp.moveaxis(field[:2], 0, -1)), field[2]
    flow = np.asarray(pair_flows[-1], dtype=np.float32)
    conf = (np.ones(flow.shape[:2], np.float32) if pair_confidence is None
            else np.asarray(pair_confidence[-1], dtype=np.float32))
    for j in range(len(pair_flows) - 2, -1, -1):
        f = np.asarray(pair_flows[j], dtype=np.float32)
        if pair_confidence is not None:
            conf = np.asarray(pair_confidence[j], np.float32) * sample(conf, f)
        flow = f + sample(flow, f)
    return flow, conf


# On the device a link of a chain is one "field" (3, h, w): dx, dy and confidence, so
# that a composition step is one bilinear sampling of all three.

def _field(flow, confidence, xp):
    """``(3, h, w)`` float32 field of a flow ``(h, w, 2)`` and its confidence ``(h, w)``."""
    return xp.concatenate([xp.moveaxis(flow.astype(xp.float32, copy=False), -1, 0),
                           confidence.astype(xp.float32, copy=False)[None]])


def _grid(h, w, xp):
    """Pixel rows and columns ``(2, h, w)`` float32, kept on the device."""
    return device_constant(("video-grid", h, w), lambda: np.stack(np.meshgrid(
        np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")), xp)


def _identity_field(h, w, xp):
    """The field of the reference: no motion, full confidence."""
    return device_constant(("video-identity", h, w), lambda: np.concatenate(
        [np.zeros((2, h, w), np.float32), np.ones((1, h, w), np.float32)]), xp)


def _compose_chains(chains, xp):
    """:func:`compose_flows` of chains of fields (each nearest to frame 0 first) on
    ``xp``: the chains step together from their far ends, one batched bilinear sampling
    per step for all of them (a window of 5 needs one step), the flows added and the
    confidences multiplied. Returns the composed ``(3, h, w)`` field of each chain.

    It samples as the host path's ``cv2.remap`` does, so that the device job composes
    what the NumPy job composes: OpenCV's own remap rounds float maps to 1/32 px
    (``INTER_BITS`` = 5, half to even); the IPP remap that x86-64 wheels use for 1-, 3-
    and 4-channel images does not (:func:`mfsr.degradation.interpolate.remap_rounds`). Without
    the rounding the composed flows differ from the host's by up to 4e-3 px where the
    flow varies fastest."""
    fields = [chain[-1] for chain in chains]
    for step in range(1, max(len(chain) for chain in chains)):
        active = [k for k, chain in enumerate(chains) if len(chain) > step]
        far = xp.stack([fields[k] for k in active])
        link = xp.stack([chains[k][-1 - step] for k in active])
        h, w = far.shape[2:]
        grid = _grid(h, w, xp)
        cy = (grid[0] + link[:, 1])[:, None]
        cx = (grid[1] + link[:, 0])[:, None]
        # the host samples the flows (2 channels) and the confidence (1) by cv2.remap
        flow_rounds, conf_rounds = (remap_rounds(cv2.INTER_LINEAR, c) for c in (2, 1))
        at = {}
        for rounds in {flow_rounds, conf_rounds}:
            at[rounds] = (xp.rint(cy * REMAP_STEPS) / REMAP_STEPS,
                          xp.rint(cx * REMAP_STEPS) / REMAP_STEPS) if rounds else (cy, cx)
        if len(at) == 1:                 # flows and confidence at the same points
            y, x = at.popitem()[1]
        else:                            # channels dx, dy as the flows, 2 as confidence
            flow, conf = at[flow_rounds], at[conf_rounds]
            y = xp.concatenate([flow[0], flow[0], conf[0]], axis=1)
            x = xp.concatenate([flow[1], flow[1], conf[1]], axis=1)
        moved = bilinear_sample(far, y, x)
        moved = xp.concatenate([link[:, :2] + moved[:, :2], link[:, 2:] * moved[:, 2:]],
                               axis=1)
        for j, k in enumerate(active):
            fields[k] = moved[j]
    return fields


class _PairMotion:
    """Flows between neighbouring readable LR frames, computed once each and dropped when
    no longer needed: ``pair(a, b)`` holds the flows a -> b and b -> a (``b`` is the next
    readable frame after ``a``: ``a + 1`` unless frames between could not be read).

    With ``xp`` a device module (the video job on CuPy) the lumas are device arrays and
    everything stays there: the new pairs a window needs are estimated together (one
    batched call of a batched estimator such as ``"gpu"``, forward and backward; a host
    estimator such as ``"dis"`` gets host copies of the lumas and its flows go back up),
    their confidence is one kernel-set call, and each pair is kept as two fields
    (:func:`_field`) that :meth:`motion` composes on the device."""

    def __init__(self, method, confidence=True, xp=np):
        self.estimate = ESTIMATORS[method]
        self.confidence = confidence
        self.xp = xp
        self.pairs = {}
        self.computed = []          # first frames of the pairs, in the order estimated

    def pair(self, a, b, luma):
        if (a, b) not in self.pairs:
            if self.xp is not np:
                self._estimate_on_device([(a, b)], luma)
                return self.pairs[a, b]
            fwd, bwd = self.estimate(luma[a], luma[b]), self.estimate(luma[b], luma[a])
            if self.confidence:
                cf = forward_backward_confidence(fwd, bwd)
                cb = forward_backward_confidence(bwd, fwd)
            else:
                cf = cb = np.ones(luma[a].shape, np.float32)
            self.pairs[a, b] = (np.asarray(fwd, np.float32), np.asarray(bwd, np.float32),
                                cf, cb)
            self.computed.append(a)
        return self.pairs[a, b]

    def _estimate_on_device(self, missing, luma):
        """Estimate the pairs ``missing`` (in order) together; store their fields."""
        xp, n = self.xp, len(missing)
        ids = sorted({k for key in missing for k in key})
        batched = getattr(self.estimate, "batched", None)
        if batched is not None:
            at = {k: i for i, k in enumerate(ids)}
            est = batched(xp.stack([luma[k] for k in ids]),
                          [(at[a], at[b]) for a, b in missing]
                          + [(at[b], at[a]) for a, b in missing])
        else:   # a host estimator (OpenCV, scikit-image): the lumas go down, flows up
            host = {k: to_numpy(luma[k]) for k in ids}
            est = xp.asarray(np.stack([self.estimate(host[a], host[b]) for a, b in missing]
                                      + [self.estimate(host[b], host[a])
                                         for a, b in missing]).astype(np.float32))
        if self.confidence:
            conf = forward_backward_confidence(est, xp.concatenate([est[n:], est[:n]]))
        else:
            conf = xp.ones(est.shape[:3], xp.float32)
        fields = xp.concatenate([xp.moveaxis(est, -1, 1), conf[:, None]], axis=1)
        for i, key in enumerate(missing):
            self.pairs[key] = (fields[i], fields[n + i])
            self.computed.append(key[0])

    def drop_before(self, i):
        for key in [key for key in self.pairs if key[0] < i]:
            del self.pairs[key]

    def link(self, t, j, luma):
        """Flow ``(h, w, 2)`` from frame ``t`` to its readable neighbour ``j`` (either
        side) and its forward-backward confidence ``(h, w)``, on the pairs' module."""
        a, b = min(t, j), max(t, j)
        if self.xp is not np:
            if (a, b) not in self.pairs:
                self._estimate_on_device([(a, b)], luma)
            field = self.pairs[a, b][0 if t == a else 1]
            return self.xp.moveaxis(field[:2], 0, -1), field[2]
        fwd, bwd, cf, cb = self.pair(a, b, luma)
        return (fwd, cf) if t == a else (bwd, cb)

    def motion(self, indices, ref, luma):
        """Motion of frames ``indices`` (increasing) to frame ``indices[ref]``, composed
        along the links between neighbours in ``indices``."""
        if self.xp is not np:
            return self._motion_on_device(indices, ref, luma)
        c = indices[ref]
        h, w = luma[c].shape
        flows = np.zeros((len(indices), h, w, 2), np.float32)
        conf = np.ones((len(indices), h, w), np.float32)
        for pos, k in enumerate(indices):
            if pos < ref:    # k -> ... -> c: forward links
                links = [self.pair(indices[j], indices[j + 1], luma) for j in range(pos, ref)]
                flows[pos], conf[pos] = compose_flows([p[0] for p in links],
                                                      [p[2] for p in links])
            elif pos > ref:  # k -> ... -> c: backward links
                links = [self.pair(indices[j - 1], indices[j], luma)
                         for j in range(pos, ref, -1)]
                flows[pos], conf[pos] = compose_flows([p[1] for p in links],
                                                      [p[3] for p in links])
        return Motion(flows, conf, ref)

    def _motion_on_device(self, indices, ref, luma):
        xp = self.xp
        h, w = luma[indices[ref]].shape
        links = list(zip(indices[:-1], indices[1:]))
        missing = [key for key in links if key not in self.pairs]
        if missing:
            self._estimate_on_device(missing, luma)
        chains = {}
        for pos in range(len(indices)):
            if pos < ref:    # forward links, pos -> ... -> ref
                chains[pos] = [self.pairs[links[j]][0] for j in range(pos, ref)]
            elif pos > ref:  # backward links, pos -> ... -> ref
                chains[pos] = [self.pairs[links[j - 1]][1] for j in range(pos, ref, -1)]
        composed = dict(zip(chains, _compose_chains(list(chains.values()), xp))) \
            if chains else {}
        stack = xp.stack([composed[pos] if pos != ref else _identity_field(h, w, xp)
                          for pos in range(len(indices))])
        return Motion(xp.ascontiguousarray(xp.moveaxis(stack[:, :2], 1, -1)),
                      xp.ascontiguousarray(stack[:, 2]), ref)


def tile_grid(lr_shape, scale, n_frames, max_memory, overlap=TILE_OVERLAP):
    """Split an LR frame into tiles whose reconstruction fits ``max_memory``.

    The working memory of :func:`mfsr.reconstruct` is estimated as
    ``1.25 * (96 + 16 K)`` bytes per HR pixel of the tile (measured with ``tracemalloc``
    on the default ``"irls"`` method, colour frames, K = 3 and 5).

    Parameters
    ----------
    lr_shape : tuple of int
        ``(h, w)`` of the LR frames.
    scale : int
    n_frames : int
        Frames in the window.
    max_memory : int or None
        Budget in bytes for one reconstruction; None: one tile.
    overlap : int
        LR pixels each tile reaches past its core on every inner side.

    Returns
    -------
    list of tuple
        ``(y0, y1, x0, x1)`` core boxes in LR pixels that partition the frame.
    """
    h, w = lr_shape
    if max_memory is None:
        return [(0, h, 0, w)]
    per_px = 1.25 * (96 + 16 * n_frames)
    # cores at least 2 * overlap wide, so that a tile's two ramps never meet
    most_y, most_x = max(1, h // max(1, 2 * overlap)), max(1, w // max(1, 2 * overlap))
    for n in range(1, 1 + max(h, w)):
        ny = min(most_y, max(1, round(n * h / max(h, w))))
        nx = min(most_x, max(1, round(n * w / max(h, w))))
        th = math.ceil(h / ny) + (2 * overlap if ny > 1 else 0)
        tw = math.ceil(w / nx) + (2 * overlap if nx > 1 else 0)
        if th * tw * scale * scale * per_px <= max_memory or (ny == most_y and nx == most_x):
            break
    ys = np.linspace(0, h, ny + 1).round().astype(int)
    xs = np.linspace(0, w, nx + 1).round().astype(int)
    return [(int(ys[i]), int(ys[i + 1]), int(xs[j]), int(xs[j + 1]))
            for i in range(ny) for j in range(nx)]


def _ramp(n_hr, lo_pad, hi_pad):
    """1-D blending weight of a tile: linear ramps over its padded ends."""
    wgt = np.ones(n_hr, np.float32)
    if lo_pad:
        wgt[: 2 * lo_pad] = (np.arange(2 * lo_pad, dtype=np.float32) + 0.5) / (2 * lo_pad)
    if hi_pad:
        wgt[n_hr - 2 * hi_pad:] = np.minimum(
            wgt[n_hr - 2 * hi_pad:],
            (np.arange(2 * hi_pad, 0, -1, dtype=np.float32) - 0.5) / (2 * hi_pad))
    return wgt


def reconstruct_tiled(frames, scale, motion, tiles, overlap=TILE_OVERLAP, **kwargs):
    """Reconstruct one HR frame tile by tile and blend the tiles without seams.

    Each tile is its core box grown by ``overlap`` LR pixels on its inner sides; the
    motion is cropped with it (flows are relative, so a crop stays valid). Neighbouring
    tiles overlap by ``2 * overlap`` LR pixels, where their weights ramp linearly in
    opposite directions. On the CuPy backend (device frames, or ``backend="cupy"``) the
    tiles are cut, reconstructed and blended on the device, and the HR frame comes to
    the host once, at the end.

    Parameters
    ----------
    frames : array, shape (K, h, w) or (K, h, w, C)
    scale : int
    motion : Motion
    tiles : list of tuple
        Core boxes from :func:`tile_grid`.
    overlap : int
    **kwargs
        Passed to :func:`mfsr.reconstruct` (pass ``noise=`` so all tiles share it); an
        ``anchor`` (HR arrays) is cut into each tile's HR region.

    Returns
    -------
    ndarray, shape (s*h, s*w[, C]), float32
    """
    backend = kwargs.get("backend", "auto")
    xp = resolve_backend(backend, frames) if backend in ("auto", "cupy") else np
    frames = to_device(frames, xp)
    h, w = frames.shape[1:3]
    if len(tiles) == 1:
        return to_numpy(reconstruct(frames, scale, motion=motion,
                                    reference=motion.reference, **kwargs))
    anchor = kwargs.pop("anchor", None)
    mp = get_array_module(motion.flows)
    out = weight = None
    for (y0, y1, x0, x1) in tiles:
        py0, py1 = max(0, y0 - overlap), min(h, y1 + overlap)
        px0, px1 = max(0, x0 - overlap), min(w, x1 + overlap)
        sub = Motion(mp.ascontiguousarray(motion.flows[:, py0:py1, px0:px1]),
                     mp.ascontiguousarray(motion.confidence[:, py0:py1, px0:px1]),
                     motion.reference)
        crop = xp.ascontiguousarray(frames[:, py0:py1, px0:px1])
        region = (slice(py0 * scale, py1 * scale), slice(px0 * scale, px1 * scale))
        if anchor is not None:   # the anchor is HR: its tile is the tile's HR region
            kwargs["anchor"] = tuple(xp.ascontiguousarray(a[region]) for a in anchor)
        hr = to_device(reconstruct(crop, scale, motion=sub, reference=motion.reference,
                                   **kwargs), xp)
        if out is None:
            out = xp.zeros((h * scale, w * scale) + hr.shape[2:], xp.float32)
            weight = xp.zeros((h * scale, w * scale), xp.float32)
        wy = _ramp_on(xp, hr.shape[0], (y0 - py0) * scale, (py1 - y1) * scale)
        wx = _ramp_on(xp, hr.shape[1], (x0 - px0) * scale, (px1 - x1) * scale)
        wgt = wy[:, None] * wx[None, :]
        out[region] += hr * (wgt[..., None] if hr.ndim == 3 else wgt)
        weight[region] += wgt
    out /= weight[..., None] if out.ndim == 3 else weight
    return to_numpy(out)


def _ramp_on(xp, n_hr, lo_pad, hi_pad):
    """:func:`_ramp` on ``xp`` (a device copy kept per size)."""
    return device_constant(("video-ramp", n_hr, lo_pad, hi_pad),
                           lambda: _ramp(n_hr, lo_pad, hi_pad), xp)


class FrameFailure:
    """An output frame that could not be made: its index and the error, as one line.

    Attributes
    ----------
    index : int
    error : str
    exception : BaseException
    """

    def __init__(self, index, exception):
        self.index, self.exception = index, exception
        self.error = f"{type(exception).__name__}: {exception}"

    def __repr__(self):
        return f"FrameFailure({self.index}, {self.error!r})"


def _iter_reconstruct(source, scale, window, start, end, todo, max_memory, registration,
                      overlap, kwargs, stats=None, reach=None):
    """The job's output frames: the bidirectional recursion (:func:`_iter_recursive`)
    when ``window`` is None and the method takes an anchor, else sliding windows of
    ``window`` frames (:data:`DEFAULT_WINDOW` for methods without an anchor)
    (:func:`_iter_windows`)."""
    if window is None:
        if METHODS[resolve_method(kwargs.get("method"), kwargs.get("prior")).name].anchored:
            segment, warmup = _segments(reach)
            return _iter_recursive(source, scale, start, end, todo, max_memory,
                                   registration, overlap, kwargs, stats, segment, warmup)
        window = DEFAULT_WINDOW
    return _iter_windows(source, scale, window, start, end, todo, max_memory, registration,
                         overlap, kwargs, stats)


def _segments(reach):
    """``(segment, warmup)`` of the recursion for ``reach``: None, the default segments;
    ``"clip"``, one segment; an int R, every output frame its own segment with
    ``(R - 3) // 2`` frames of warm-up on each side (so it draws on R frames)."""
    if reach is None:
        return SEGMENT, WARMUP
    if reach == "clip":
        return None, 0
    reach = check_int(reach, "reach", minimum=WINDOW)
    return 1, (reach - WINDOW) // 2


def _iter_windows(source, scale, window, start, end, todo, max_memory, registration,
                  overlap, kwargs, stats=None):
    """Yield ``(index, hr)`` for output frames ``start..end-1``: ``hr`` is None for frames
    ``todo(index)`` rejects, and a :class:`FrameFailure` for a frame that could not be
    read or reconstructed. An unreadable frame is left out of the windows that hold it
    (they are reconstructed from the rest, the flows linking its neighbours directly).
    Holds only the LR frames of the current window.

    With ``backend="cupy"`` in ``kwargs`` the window lives on the device: each LR frame
    is uploaded once when it is read and its luma computed there, the pair flows, their
    composition, the noise estimate, the codec model and the tiles stay there, and each
    HR frame comes to the host once. ``registration`` None: the default for the
    backend (:func:`mfsr.pipeline.options.default_registration`: ``"gpu"`` on the device)."""
    before = (window - 1) // 2
    after = window - 1 - before
    xp = resolve_backend("cupy") if kwargs.get("backend") == "cupy" else np
    if registration is None:
        registration = default_registration(xp)
    pairs = _PairMotion(registration, xp=xp)
    frames, luma, unreadable = {}, {}, {}
    c = start
    while end is None or c < end:
        for k in [k for k in frames if k < c - before]:   # drop what left the window
            del frames[k], luma[k]
        pairs.drop_before(c - before)
        # read ahead until the window is full or the video ends
        last = None
        for k in range(max(0, c - before), c + after + 1):
            if k not in frames and k not in unreadable:
                try:
                    f = source.read(k)
                except ValueError as exc:
                    unreadable[k] = exc
                    f = False
                if f is None:
                    break
                if f is not False:
                    if xp is not np:        # uploaded once, where the window lives
                        f = xp.asarray(f)
                    frames[k], luma[k] = f, luma_of(f)
            last = k
        if last is None or last < c:      # past the end of the video
            if c == start:
                raise ValueError(f"start {start} is past the end of {source.path} "
                                 f"({len(source)} frames)")
            return
        # the window only looks `after` frames ahead, so `last + 1` frames stand for the
        # video's length whether or not it goes on
        indices, ref = window_indices(c, last + 1, window)
        indices = [k for k in indices if k not in unreadable]
        if stats is not None:
            stats.setdefault("windows", {})[c] = list(indices)
            stats["max_held"] = max(stats.get("max_held", 0), len(frames))
        if todo is not None and not todo(c):
            yield c, None
        elif c in unreadable:
            yield c, FrameFailure(c, unreadable[c])
        else:
            try:
                hr = _reconstruct_window(frames, luma, indices, indices.index(c), pairs,
                                         scale, max_memory, overlap, kwargs, stats)
            except Exception as exc:       # this frame fails; the job goes on
                hr = FrameFailure(c, exc)
            yield c, hr
        c += 1


def _reconstruct_window(frames, luma, indices, ref, pairs, scale, max_memory, overlap,
                        kwargs, stats):
    xp = get_array_module(frames[indices[ref]])
    stack = xp.stack([frames[k] for k in indices])
    motion = pairs.motion(indices, ref, luma)
    opts = _window_options(stack, luma, indices, kwargs)
    tiles = tile_grid(stack.shape[1:3], scale, len(indices), max_memory, overlap)
    if stats is not None:
        stats["tiles"] = len(tiles)
        stats["pairs"] = list(pairs.computed)
    return reconstruct_tiled(stack, scale, motion, tiles, overlap, **opts)


def _window_options(stack, luma, indices, kwargs):
    """``kwargs`` with the window's noise level (estimated from the luma of frames
    ``indices`` unless given) and its codec model (from ``stack``, the window's frames):
    one of each per window, shared by its tiles."""
    xp = get_array_module(stack)
    opts = dict(kwargs)
    if opts.get("noise") is None:
        opts["noise"] = estimate_noise(xp.stack([luma[k] for k in indices]))
    opts["codec"] = codec_model(stack, opts.get("codec", "auto"))
    return opts


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


def _iter_recursive(source, scale, start, end, todo, max_memory, registration, overlap,
                    kwargs, stats=None, segment=SEGMENT, warmup=WARMUP):
    """Yield ``(index, hr)`` for output frames ``start..end-1`` by the bidirectional
    recursion of :mod:`mfsr.recurrence`, with the conventions of
    :func:`_iter_reconstruct` (None for frames ``todo`` rejects, a
    :class:`FrameFailure` for a frame that could not be read or reconstructed).

    Per segment (:func:`~mfsr.recurrence.plan_segments`) the LR frames of its passes
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
    frames, luma, unreadable = {}, {}, {}
    n = len(source)
    for k in range(max(0, plan.first - radius), min(n, plan.last + radius + 1)):
        try:
            f = source.read(k)
        except ValueError as exc:
            unreadable[k] = exc
            continue
        f = xp.asarray(f) if xp is not np else f
        frames[k], luma[k] = f, luma_of(f)
    pairs = _PairMotion(registration, xp=xp)
    windows = {}

    def window(t):
        """Window, motion, noise level and codec model of output frame ``t`` (once)."""
        if t not in windows:
            indices = [k for k in window_indices(t, n, WINDOW)[0] if k in frames]
            ref = indices.index(t)
            opts = _window_options(xp.stack([frames[k] for k in indices]), luma, indices,
                                   kwargs)
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


def _check_options(scale, window, start, end, max_memory, registration, overlap):
    scale = check_int(scale, "scale", minimum=1)
    if window is not None:
        window = check_int(window, "window", minimum=1)
    start = check_int(start, "start", minimum=0)
    if end is not None:
        end = check_int(end, "end", minimum=start + 1)
    if max_memory is not None:
        max_memory = check_int(max_memory, "max_memory", minimum=1)
    if registration is not None:
        check_choice(registration, "registration", REGISTRATION_METHODS)
    overlap = check_int(overlap, "overlap", minimum=0)
    return scale, window, start, end, max_memory, overlap


def _open(source):
    if isinstance(source, FrameSource):
        return source, False
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a path or FrameSource, got {type(source).__name__}")
    return FrameSource(source), True


def reconstruct_video(source, scale=4, window=None, *, method="irls", degradation=None,
                      registration=None, start=0, end=None, max_memory=DEFAULT_MAX_MEMORY,
                      overlap=TILE_OVERLAP, backend="auto", reach=None, **kwargs):
    """Super-resolve every frame of a video, drawing on the whole clip.

    By default (``window=None``) each output frame draws on every frame the motion can
    follow, forward and backward (:mod:`mfsr.recurrence`): it is solved from a 3-frame
    window plus the neighbouring frames' results warped into its view, in a forward and
    a backward pass over segments of 32 frames (8 frames of warm-up on each side), with
    a per-pixel confidence that decays along the chain of flows; the cost per frame is
    about two 3-frame solves whatever the clip's length. ``window=K`` gives the
    windowed job instead: each frame from the K frames around it, nothing else.

    Parameters
    ----------
    source : str or FrameSource
        Video file (OpenCV) or folder of PNG/TIFF/JPEG frames (sorted naturally).
    scale : int
        Upscaling factor.
    window : int, optional
        None (default): the whole-clip recursion. An int: frames per window, centred on
        the output frame; near the ends of the video the window is cut (shorter,
        asymmetric), never padded with copies.
    method, degradation, backend
        As in :func:`mfsr.reconstruct`. The recursion needs a method that takes an
        anchor (``"irls"``, ``"pnp"``); others run the windowed job with 5 frames when
        ``window`` is None.
    registration : {"dis", "farneback", "tvl1", "translation", "ecc", "gpu"}, optional
        Estimator of the pairwise flows between consecutive LR frames (forward and
        backward, each pair once); window motions are composed from them. Default
        :func:`mfsr.pipeline.options.default_registration` of the backend: ``"dis"`` (OpenCV,
        host) on NumPy, ``"gpu"`` with ``backend="cupy"``, where the job keeps its
        window on the device (frames uploaded once each, luma, pair flows, their
        composition, noise and codec estimates and tiles computed there; each HR frame
        comes to the host once). Host estimators still work on the device, on host
        copies of the lumas.
    start, end : int
        Output frames ``start .. end - 1`` (default: to the end). Windows and the
        recursion's segments still use the frames outside this range, so a frame's
        result does not depend on them.
    max_memory : int or None
        Bytes one reconstruction may use (estimate of :func:`tile_grid`); larger frames
        are split into overlapping tiles blended with linear ramps. None: never tile.
    overlap : int
        LR pixels by which tiles reach past their cores.
    reach : None, "clip" or int
        How far the recursion reaches (``window=None`` only): None (default) the
        segments above; ``"clip"``, one segment, the whole clip (every backward result
        of the job held at once, in memory up to 1 GiB, then in a temporary folder); an
        int R >= 3, each output frame from the R frames around it (its own passes: R - 1
        solves per frame, for measurements of quality against reach).
    **kwargs
        More options of :func:`mfsr.reconstruct` (``iterations``, ``noise``, ``psf``,
        ``color``, ...). The noise level, when not given, is estimated once per window
        and shared by its tiles.

    Yields
    ------
    ndarray, shape (s*h, s*w[, 3]), float32
        HR frames in order, RGB on the last axis for colour input.

    Raises
    ------
    ValueError
        Bad arguments or unreadable input (the message names the file).

    Examples
    --------
    >>> import mfsr                                      # doctest: +SKIP
    >>> for hr in mfsr.reconstruct_video("clip.mp4", scale=2):  # doctest: +SKIP
    ...     print(hr.shape)
    """
    scale, window, start, end, max_memory, overlap = _check_options(
        scale, window, start, end, max_memory, registration, overlap)
    _check_kwargs(kwargs)
    kwargs.update(method=method, degradation=degradation, backend=backend)
    src, owned = _open(source)
    if reach is not None and window is not None:
        raise ValueError("reach applies to the recursion (window=None), not to windows")
    _segments(reach)   # checked before the first frame
    return _frames_only(src, owned, _iter_reconstruct(src, scale, window, start, end, None,
                                                      max_memory, registration, overlap,
                                                      kwargs, reach=reach))


def _frames_only(src, owned, items):
    try:
        for index, hr in items:
            if isinstance(hr, FrameFailure):
                kind = ValueError if isinstance(hr.exception, ValueError) else RuntimeError
                raise kind(f"frame {index} ({src.name(index)}) failed: {hr.error}") \
                    from hr.exception
            yield hr
    finally:
        if owned:
            src.close()


def _check_kwargs(kwargs):
    for name in ("reference", "motion", "frames", "return_history"):
        if name in kwargs:
            raise TypeError(f"{name} is set per window by reconstruct_video; do not pass it")


def output_path(output, source, index, fmt="png"):
    """File name of output frame ``index`` in the folder ``output``: the input frame's
    name with extension ``fmt`` for folders, ``0012.png`` style for video input.

    Parameters
    ----------
    output : str
    source : FrameSource
    index : int
    fmt : str

    Returns
    -------
    str
    """
    if source.names is not None:
        stem = os.path.splitext(source.names[index])[0]
    else:
        stem = f"{index:0{max(4, len(str(max(len(source), 1) - 1)))}d}"
    return os.path.join(output, f"{stem}.{fmt}")


__all__ = ["reconstruct_video", "FrameFailure", "window_indices", "compose_flows",
           "tile_grid", "reconstruct_tiled", "output_path", "luma_of"]

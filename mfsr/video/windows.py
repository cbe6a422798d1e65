"""The windowed video job: each output frame from the K LR frames around it.

Output frame ``c`` is reconstructed from the window of LR frames
``max(0, c - r) .. min(n - 1, c + r)`` with ``r = window // 2``: near the ends of the
video the window is shorter and asymmetric (no frame is repeated). Motion is estimated
once per pair of consecutive LR frames, in both directions, and each window's motion to
its reference is composed from those pairwise flows
(:class:`~mfsr.registration.flows.PairMotion`). Only the LR frames of the current window
are held. With ``backend="cupy"`` the window is kept on the device (frames uploaded once
each; luma, pair flows, their composition, noise and codec estimates and tiles computed
there) and each HR frame comes to the host once, at the end. Where the source reports
each frame's picture type (a video file: :meth:`mfsr.io.FrameSource.side_info`), the
window's codec model weighs its I, P and B frames by them
(:func:`mfsr.degradation.codec.detect_codec`); a folder of frames has none.
"""
from __future__ import annotations

import numpy as np

from ..core.backend import get_array_module, resolve_backend
from ..core.color import as_float_image, rgb_to_ycbcr
from ..core.validation import check_int
from ..degradation import estimate_noise
from ..pipeline.api import codec_model
from ..pipeline.options import default_registration
from ..registration.flows import PairMotion
from .tiles import reconstruct_tiled, tile_grid

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


def picture_type_of(source, index):
    """The picture type (``"I"``, ``"P"``, ``"B"``, ...) the source's bitstream gives
    frame ``index``, or None (a folder of frames, a decoder that reports none, a source
    without :meth:`~mfsr.io.FrameSource.side_info`).

    Parameters
    ----------
    source : FrameSource
    index : int
        A frame already read (its side information was recorded then).

    Returns
    -------
    str or None
    """
    side_info = getattr(source, "side_info", None)
    info = side_info(index) if side_info is not None else None
    return getattr(info, "picture_type", None)


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


def iter_windows(source, scale, window, start, end, todo, max_memory, registration,
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
    pairs = PairMotion(registration, xp=xp)
    frames, luma, unreadable, types = {}, {}, {}, {}
    c = start
    while end is None or c < end:
        for k in [k for k in frames if k < c - before]:   # drop what left the window
            del frames[k], luma[k], types[k]
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
                    types[k] = picture_type_of(source, k)
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
                hr = _reconstruct_window(frames, luma, types, indices, indices.index(c),
                                         pairs, scale, max_memory, overlap, kwargs, stats)
            except Exception as exc:       # this frame fails; the job goes on
                hr = FrameFailure(c, exc)
            yield c, hr
        c += 1


def _reconstruct_window(frames, luma, types, indices, ref, pairs, scale, max_memory,
                        overlap, kwargs, stats):
    xp = get_array_module(frames[indices[ref]])
    stack = xp.stack([frames[k] for k in indices])
    motion = pairs.motion(indices, ref, luma)
    opts = window_options(stack, luma, indices, kwargs, types)
    tiles = tile_grid(stack.shape[1:3], scale, len(indices), max_memory, overlap)
    if stats is not None:
        stats["tiles"] = len(tiles)
        stats["pairs"] = list(pairs.computed)
    return reconstruct_tiled(stack, scale, motion, tiles, overlap, **opts)


def window_options(stack, luma, indices, kwargs, picture_types=None):
    """The reconstruction's options for one window, shared by its tiles.

    Parameters
    ----------
    stack : array, shape (K, h, w[, 3])
        The window's frames.
    luma : dict
        Luma of each frame by index.
    indices : list of int
        The window's frames' indices.
    kwargs : dict
        The job's options of :func:`mfsr.reconstruct`.
    picture_types : dict, optional
        Picture type (or None) of each frame by index, as :func:`picture_type_of` gives
        it; used only when every frame of the window has one.

    Returns
    -------
    dict
        ``kwargs`` with the window's noise level (estimated from the luma of frames
        ``indices`` unless given) and its codec model (from ``stack``, with the frames'
        picture types where all are known, so that a decoded video's I frames weigh
        more).
    """
    xp = get_array_module(stack)
    opts = dict(kwargs)
    if opts.get("noise") is None:
        opts["noise"] = estimate_noise(xp.stack([luma[k] for k in indices]))
    types = [picture_types.get(k) for k in indices] if picture_types else None
    if types is not None and any(t is None for t in types):
        types = None
    opts["codec"] = codec_model(stack, opts.get("codec", "auto"), types)
    return opts


__all__ = ["window_indices", "luma_of", "picture_type_of", "FrameFailure", "iter_windows", "window_options",
           "DEFAULT_WINDOW"]

"""`reconstruct_video`: a video (or folder of frames) in, HR frames out, one at a time.

The job checks its options once and hands its frames to one of two loops: the
whole-clip recursion (:mod:`mfsr.video.recurrence`, the default) or sliding windows
(:mod:`mfsr.video.windows`). Both yield ``(index, frame)`` pairs, with a
:class:`~mfsr.video.windows.FrameFailure` in place of a frame that could not be made, so
that the writers (:mod:`mfsr.video.frame_loop`) can go on past it.
"""
from __future__ import annotations

import os

from ..core.validation import check_choice, check_int
from ..io import FrameSource
from ..pipeline.methods import METHODS, resolve_method
from ..registration import REGISTRATION_METHODS
from .recurrence import SEGMENT, WARMUP, WINDOW, iter_recursive
from .tiles import DEFAULT_MAX_MEMORY, TILE_OVERLAP
from .windows import DEFAULT_WINDOW, FrameFailure, iter_windows


def iter_reconstruct(source, scale, window, start, end, todo, max_memory, registration,
                      overlap, kwargs, stats=None, reach=None):
    """The job's output frames: the bidirectional recursion (:func:`iter_recursive`)
    when ``window`` is None and the method takes an anchor, else sliding windows of
    ``window`` frames (:data:`DEFAULT_WINDOW` for methods without an anchor)
    (:func:`iter_windows`)."""
    if window is None:
        if METHODS[resolve_method(kwargs.get("method"), kwargs.get("prior")).name].anchored:
            segment, warmup = reach_segments(reach)
            return iter_recursive(source, scale, start, end, todo, max_memory,
                                   registration, overlap, kwargs, stats, segment, warmup)
        window = DEFAULT_WINDOW
    return iter_windows(source, scale, window, start, end, todo, max_memory, registration,
                         overlap, kwargs, stats)


def reach_segments(reach):
    """``(segment, warmup)`` of the recursion for ``reach``: None, the default segments;
    ``"clip"``, one segment; an int R, every output frame its own segment with
    ``(R - 3) // 2`` frames of warm-up on each side (so it draws on R frames)."""
    if reach is None:
        return SEGMENT, WARMUP
    if reach == "clip":
        return None, 0
    reach = check_int(reach, "reach", minimum=WINDOW)
    return 1, (reach - WINDOW) // 2


def check_job_options(scale, window, start, end, max_memory, registration, overlap):
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


def open_source(source):
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
    follow, forward and backward (:mod:`mfsr.video.recurrence`): it is solved from a 3-frame
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
    scale, window, start, end, max_memory, overlap = check_job_options(
        scale, window, start, end, max_memory, registration, overlap)
    check_job_kwargs(kwargs)
    kwargs.update(method=method, degradation=degradation, backend=backend)
    src, owned = open_source(source)
    if reach is not None and window is not None:
        raise ValueError("reach applies to the recursion (window=None), not to windows")
    reach_segments(reach)   # checked before the first frame
    return _frames_only(src, owned, iter_reconstruct(src, scale, window, start, end, None,
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


def check_job_kwargs(kwargs):
    """TypeError for the options of :func:`mfsr.reconstruct` that the video job sets per
    window (``reference``, ``motion``, ``picture_types``, ...)."""
    for name in ("reference", "motion", "frames", "return_history"):
        if name in kwargs:
            raise TypeError(f"{name} is set per window by reconstruct_video; do not pass it")
    if "picture_types" in kwargs:
        raise TypeError("picture_types is set per window by reconstruct_video, from the "
                        "picture types the video's decoder reports "
                        "(FrameSource.side_info); do not pass it")


__all__ = ["reconstruct_video", "iter_reconstruct", "reach_segments", "check_job_options",
           "check_job_kwargs", "open_source"]

"""The upscaling job: decode -> (enhance) -> reconstruct -> (HDR) -> write, resumable.

:func:`upscale_video` is what ``mfsr upscale`` runs. Every output frame is a function of
its index alone (its window of LR frames, the enhancement parameters of the frames around
it), so a job can stop anywhere and resume, and chunks of it can run anywhere.

Output is a folder of frames or a video file. A video file is made in two steps: the
frames go to a folder beside it (``OUTPUT.frames/``, 8-bit PNG for 8-bit video, 16-bit
for 10-bit), each written atomically, so a killed job loses at most the frame in flight
and a rerun picks up where it stopped; once every frame is there, they are encoded in one
pass with the input's timestamps, colour tags and audio, to a temporary file moved into
place at the end. The folder is then removed (``keep_frames`` keeps it). Encoding is
deterministic, so a killed and resumed job gives the same decoded frames as an
uninterrupted one.
"""
from __future__ import annotations

import os

import numpy as np

from ..core.validation import check_choice, check_float
from ..io import is_video_path
from ..io.video_file import OUTPUT_CONTAINERS
from .distributed import write_frames
from .encode import HDR_TRANSFERS, VideoEncoding, encode_frames
from .frame_loop import FramesFailed, output_path, remove_stale_temporaries, write_job_frames
from .job import check_job_kwargs, check_job_options, open_source
from .stages import ENHANCE_MODES
from .tiles import DEFAULT_MAX_MEMORY, TILE_OVERLAP

FRAME_FORMATS = ("png", "tif", "tiff", "jpg")


def upscale_video(source, output, scale=4, window=None, *, start=0, end=None, bits=None,
                  fmt="png", resume=True, progress=None, max_memory=DEFAULT_MAX_MEMORY,
                  registration=None, overlap=TILE_OVERLAP, encoding=None, enhance="off",
                  hdr=None, peak=1000.0, keep_frames=False, client=None, chunk=None,
                  **kwargs):
    """Super-resolve a video and write it: a folder of frames, or a video file.

    The chain is decode -> enhance (optional) -> reconstruct -> HDR (optional) -> write.
    Frames go to a folder one by one, each written atomically (temporary file in the same
    folder, then ``os.replace``), so an interrupted run leaves only complete frames. With
    ``resume`` (the default) frames already there are not recomputed; since a frame
    depends only on its index, the resumed result equals an uninterrupted run. A video
    file is encoded from such a folder (``OUTPUT.frames``) once all of its frames exist
    (see the module's description).

    Parameters
    ----------
    source : str
        Video file or folder of frames.
    output : str
        Folder of frames, or a video file (``.mp4``, ``.mkv``, ``.mov``, ``.m4v``).
    scale, window, start, end, max_memory, registration, overlap
        As in :func:`mfsr.reconstruct_video`: ``window`` None (the default) is the
        whole-clip recursion for the methods that take an anchor (the default ``irls``,
        ``pnp``), 5-frame windows for the others.
    bits : {8, 16}, optional
        Sample depth of the frames written to a folder; default the input's (16 with
        ``hdr``). For video files see ``encoding``.
    fmt : {"png", "tif", "tiff", "jpg"}
        Format of the frames in a folder.
    resume : bool
        Skip frames whose output file exists.
    progress : callable, optional
        Called with ``(index, written)`` after each frame (``written`` False when
        skipped); the first call is ``progress(None, n_todo)``.
    encoding : VideoEncoding, optional
        Codec, CRF, preset and bit depth of a video file (default H.264 CRF 18, 8 bits).
    enhance : {"off", "auto"}
        Exposure and colour correction, consistent over time (:mod:`mfsr.grading.enhance`).
    hdr : {None, "pq", "hlg"}
        Map the result to HDR (:mod:`mfsr.grading`): BT.2020, PQ or HLG; a video file is then
        10-bit H.265 with HDR10 metadata.
    peak : float
        Peak luminance of the HDR mapping, cd/m2 (default 1000).
    keep_frames : bool
        Keep the frame folder of a video file after encoding.
    client : distributed.Client, optional
        Run the frames as Dask tasks of ``chunk`` output frames each
        (:mod:`mfsr.video.distributed`); input and output must be on storage the workers
        see. The results are the same frames as a single-process run's.
    chunk : int, optional
        Output frames per Dask task (default :data:`mfsr.video.distributed.DEFAULT_CHUNK`, one
        segment of the recursion: 32).
    **kwargs
        Options of :func:`mfsr.reconstruct` (``method``, ``degradation``, ``codec`` for
        the input's compression, ...).

    Returns
    -------
    dict
        ``{"written": [...], "skipped": [...], "output": output}``; for a video file also
        ``"encoded"`` (frames in the file) and, with HDR, ``"max_cll"``, ``"max_fall"``.

    Raises
    ------
    ValueError
        Bad arguments, unreadable input.
    FramesFailed
        Some frames could not be read or reconstructed: an unreadable input frame is left
        out of the windows that hold it, its own output frame fails; every other frame is
        written (a video file is then not encoded), and the exception lists the failed
        frames with their errors (``.result["failed"]``).
    """
    scale, window, start, end, max_memory, overlap = check_job_options(
        scale, window, start, end, max_memory, registration, overlap)
    check_choice(fmt, "fmt", FRAME_FORMATS)
    check_choice(enhance, "enhance", ENHANCE_MODES)
    check_choice(hdr, "hdr", (None,) + HDR_TRANSFERS)
    peak = check_float(peak, "peak", minimum=203.0, maximum=10000.0)
    check_job_kwargs(kwargs)
    output = os.fspath(output)
    as_video = is_video_path(output)
    if encoding is None:
        encoding = VideoEncoding()
    elif not isinstance(encoding, VideoEncoding):
        raise TypeError(f"encoding must be a VideoEncoding, got {type(encoding).__name__}")
    if as_video:
        check_choice(os.path.splitext(output)[1].lower(), "video extension", OUTPUT_CONTAINERS)
        encoding = encoding.checked(hdr)
        if bits is not None:
            raise ValueError("bits is for frame folders; a video's depth is encoding.bits")
        bits, fmt = (8 if encoding.bits == 8 else 16), "png"
        folder = output + ".frames"
    else:
        folder = output
    src, owned = open_source(source)
    try:
        if bits is None:
            bits = 16 if (hdr or (src.dtype == np.uint16 and fmt != "jpg")) else 8
        check_choice(bits, "bits", (8, 16))
        if bits == 16 and fmt == "jpg":
            raise ValueError("JPEG cannot hold 16-bit samples; use png or tif")
        if start >= len(src):
            raise ValueError(f"start {start} is past the end of {src.path} ({len(src)} frames)")
        stop = min(len(src), end) if end is not None else len(src)
        os.makedirs(folder, exist_ok=True)
        remove_stale_temporaries(folder, fmt)
        if client is not None:
            if not (resume or as_video):
                raise ValueError("a distributed job always resumes (resume=False is for "
                                 "single-process runs)")
            result = write_frames(
                client, os.path.abspath(src.path), os.path.abspath(folder), scale, window,
                start, stop, lambda i: output_path(folder, src, i, fmt),
                progress, chunk=chunk, video_index=src.video_index, bits=bits, fmt=fmt,
                enhance=enhance, hdr=hdr,
                peak=peak, max_memory=max_memory, registration=registration,
                overlap=overlap, **kwargs)
        else:
            result = write_job_frames(src, folder, scale, window, start, stop, bits, fmt,
                                  resume or as_video, progress, max_memory, registration,
                                  overlap, enhance, hdr, peak, kwargs)
        result["output"] = output
        if result["failed"]:
            raise FramesFailed(result)
        if as_video:
            indices = list(range(start, stop))
            paths = [output_path(folder, src, i, fmt) for i in indices]
            encoded = encode_frames(paths, output, src, indices, encoding, hdr, peak)
            result["encoded"] = encoded.pop("frames")
            result.update(encoded)
            if not keep_frames:
                for path in paths:
                    os.remove(path)
                if not os.listdir(folder):
                    os.rmdir(folder)
        return result
    finally:
        if owned:
            src.close()


__all__ = ["upscale_video", "FRAME_FORMATS"]

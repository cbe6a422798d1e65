"""The frame loop of the upscaling job: output frames written one by one, resumable.

Each output frame goes to a folder as soon as it is made (written atomically by
:func:`mfsr.io.write_image`), so a killed job loses at most the frame in flight and a
rerun skips the frames already there. The single-process job and each distributed task
(:mod:`mfsr.video.distributed`) run the same loop.
"""
from __future__ import annotations

import os

from ..io import FrameSource, write_image
from .job import iter_reconstruct
from .stages import TemporalEnhancement, finish_stage, hdr_stage
from .tiles import DEFAULT_MAX_MEMORY, TILE_OVERLAP
from .windows import FrameFailure


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


class FramesFailed(RuntimeError):
    """Some output frames could not be made; all the others were written.

    Attributes
    ----------
    result : dict
        What :func:`upscale_video` returns, with ``"failed"``: ``{index: message}``.
    """

    def __init__(self, result):
        self.result = result
        failed = result["failed"]
        super().__init__(f"{len(failed)} frame{'s' * (len(failed) > 1)} failed (the "
                         f"others were written): " + "; ".join(failed.values()))


def remove_stale_temporaries(folder, fmt):
    """Drop the temporary files an interrupted :func:`~mfsr.io.write_image` left."""
    for name in os.listdir(folder):
        if name.startswith(".") and name.endswith(".tmp") and f".{fmt}." in name:
            os.remove(os.path.join(folder, name))


def run_frames(source, folder, scale, window, start, end, *, bits, fmt="png", enhance="off",
               hdr=None, peak=1000.0, max_memory=DEFAULT_MAX_MEMORY, registration=None,
               overlap=TILE_OVERLAP, video_index=None, **kwargs):
    """Frames ``start`` to ``end - 1`` of a job into an existing folder, skipping those there:
    the body of one distributed task (:mod:`mfsr.video.distributed`).

    Unlike :func:`upscale_video` it leaves other writers' temporary files alone (other
    tasks write into the same folder) and reports failed frames instead of raising.
    ``video_index`` (the input's :class:`~mfsr.io.video_file.PacketIndex`) spares each
    task a pass over the whole input file.

    Returns
    -------
    dict
        ``{"written": [...], "skipped": [...], "failed": {index: message}}``.
    """
    with FrameSource(source, index=video_index) as src:
        return write_job_frames(src, folder, scale, window, start, min(end, len(src)), bits, fmt,
                            True, None, max_memory, registration, overlap, enhance, hdr, peak,
                            kwargs)


def write_job_frames(src, folder, scale, window, start, stop, bits, fmt, resume, progress,
                 max_memory, registration, overlap, enhance, hdr, peak, kwargs):
    """The frames of this process's job, through its stages."""
    enhancement = (TemporalEnhancement(src.path, index=src.video_index)
                   if enhance == "auto" else None)
    try:
        return _write_frames(src, folder, scale, window, start, stop, bits, fmt, resume,
                             progress, max_memory, registration, overlap,
                             finish_stage(enhancement, hdr_stage(hdr, peak)), kwargs)
    finally:
        if enhancement is not None:
            enhancement.close()


def _write_frames(src, folder, scale, window, start, stop, bits, fmt, resume, progress,
                  max_memory, registration, overlap, finish, kwargs):
    """Reconstruct frames ``start..stop-1`` into ``folder``; return written/skipped."""

    def todo(i):
        return not os.path.exists(output_path(folder, src, i, fmt))

    todo = todo if resume else None
    if progress is not None:
        n = stop - start
        if todo is not None:
            n = sum(1 for i in range(start, stop) if todo(i))
        progress(None, n)
    kwargs = dict(kwargs, backend=kwargs.get("backend", "auto"))
    written, skipped, failed = [], [], {}
    frames = iter_reconstruct(src, scale, window, start, stop, todo, max_memory,
                               registration, overlap, kwargs)
    index = start
    while True:
        try:
            item = next(frames)
        except StopIteration:
            break
        except ValueError as exc:
            raise ValueError(f"frame {index} ({src.name(index)}): {exc}") from exc
        except Exception as exc:
            raise RuntimeError(f"frame {index} ({src.name(index)}) failed: "
                               f"{type(exc).__name__}: {exc}") from exc
        index, hr = item
        if hr is None:
            skipped.append(index)
        elif isinstance(hr, FrameFailure):
            failed[index] = f"frame {index} ({src.name(index)}): {hr.error}"
        else:
            if finish is not None:
                hr = finish(index, hr)
            write_image(output_path(folder, src, index, fmt), hr, bits)
            written.append(index)
        if progress is not None:
            progress(index, hr is not None and not isinstance(hr, FrameFailure))
        index += 1
    return {"written": written, "skipped": skipped, "failed": failed}


__all__ = ["output_path", "FramesFailed", "run_frames", "write_job_frames",
           "remove_stale_temporaries"]

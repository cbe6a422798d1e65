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
from dataclasses import dataclass, replace

import numpy as np

from .core.validation import check_choice, check_float
from .grading import (LightLevels, decode, mastering_display, sdr_to_hdr,
                      x265_hdr10_params)
from .grading import enhance as enhance_module
from .io import (FrameSource, VideoWriter, is_video_path, normalise_codec, read_image,
                 write_image)
from .io.video_file import OUTPUT_CONTAINERS, PRESETS, PRIMARIES, TRANSFERS, VIDEO_BITS
from .video import (DEFAULT_MAX_MEMORY, TILE_OVERLAP, FrameFailure, _check_kwargs,
                    _check_options, _iter_reconstruct, _open, output_path)

FRAME_FORMATS = ("png", "tif", "tiff", "jpg")
HDR_TRANSFERS = ("pq", "hlg")
ENHANCE_MODES = ("off", "auto")
_HDR_TAGS = {"pq": "smpte2084", "hlg": "arib-std-b67"}


@dataclass(frozen=True)
class VideoEncoding:
    """How a video file is encoded.

    Parameters
    ----------
    codec : {"h264", "h265"}, optional
        Also ``x264``, ``avc``, ``x265``, ``hevc``. Default H.264, H.265 for HDR output.
    crf : int, optional
        Constant rate factor, 0-51 (default 18 for H.264, 20 for H.265: visually
        transparent for most content).
    preset : str
        x264/x265 speed preset (default ``medium``).
    bits : {8, 10}
        Sample depth (default 8; HDR output is always 10).
    """

    codec: str = None
    crf: int = None
    preset: str = "medium"
    bits: int = 8

    def checked(self, hdr):
        """This encoding validated, with HDR's requirements (H.265, 10 bits) applied."""
        codec = normalise_codec(self.codec or ("h265" if hdr else "h264"))
        check_choice(self.preset, "preset", PRESETS)
        check_choice(self.bits, "bits", VIDEO_BITS)
        if hdr is not None:
            if codec != "h265":
                raise ValueError(f"HDR10 output is H.265; got codec={self.codec!r}")
            return replace(self, codec=codec, bits=10)
        return replace(self, codec=codec)


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


def _remove_stale_temporaries(folder, fmt):
    """Drop the temporary files an interrupted :func:`~mfsr.io.write_image` left."""
    for name in os.listdir(folder):
        if name.startswith(".") and name.endswith(".tmp") and f".{fmt}." in name:
            os.remove(os.path.join(folder, name))


def _hdr_stage(hdr, peak):
    """SR output (BT.709 SDR) -> coded BT.2020 HDR signal, or None without HDR."""
    if hdr is None:
        return None

    def to_hdr(frame):
        if frame.ndim == 2:
            frame = np.repeat(frame[..., None], 3, axis=2)
        return sdr_to_hdr(np.clip(frame, 0, 1), transfer=hdr, peak=peak)

    return to_hdr


class TemporalEnhancement:
    """The enhancement of output frame ``t``: :func:`mfsr.grading.enhance.temporal_params` over
    the per-frame estimates of the LR frames ``t - radius .. t + radius``, applied to the
    SR output.

    Each LR frame is measured once, by a reader of its own (the job's reader keeps
    moving forwards), and forgotten once behind the window; so the parameters of a frame
    depend on its index alone, as resuming and distributed runs need. The correction is
    applied after the reconstruction: measured on the enhancement benchmark it is as good
    as before it (``docs/enhance.md``), and the codec detector and the noise estimate
    then see the decoded frames as they are.

    Parameters
    ----------
    path : str
        The job's input (video file or folder).
    radius : int
        Frames on each side (:data:`mfsr.grading.enhance.DEFAULT_RADIUS`).
    index : PacketIndex, optional
        The job reader's packet index of a video input (its pass over the file is not
        made again).
    """

    def __init__(self, path, radius=None, index=None):
        self._enhance = enhance_module
        self.radius = enhance_module.DEFAULT_RADIUS if radius is None else radius
        self._source = FrameSource(path, index=index)
        if len(self._source.shape) != 3:
            self._source.close()
            raise ValueError("enhance needs colour frames; the input is grey")
        self._estimates, self._features = {}, {}

    def _measure(self, j):
        if j not in self._estimates:
            frame = self._source.read(j)
            self._estimates[j] = self._enhance.estimate(frame)
            self._features[j] = self._enhance.shot_feature(frame)

    def params(self, index):
        """:class:`~mfsr.grading.enhance.EnhanceParams` of output frame ``index``."""
        lo, hi = max(0, index - self.radius), min(len(self._source) - 1, index + self.radius)
        for j in [j for j in self._estimates if j < lo]:
            del self._estimates[j], self._features[j]
        for j in range(lo, hi + 1):
            self._measure(j)
        span = range(lo, hi + 1)
        cuts = self._enhance.detect_cuts([self._features[j] for j in span])
        return self._enhance.temporal_params([self._estimates[j] for j in span],
                                             index - lo, radius=self.radius, cuts=cuts)

    def __call__(self, index, hr):
        return self._enhance.apply(np.clip(hr, 0, 1), self.params(index))

    def close(self):
        """Release the reader."""
        self._source.close()


def _finish_stage(enhancement, to_hdr):
    """``finish(index, hr)``: the stages after the reconstruction, in order."""
    if enhancement is None and to_hdr is None:
        return None

    def finish(index, hr):
        if enhancement is not None:
            hr = enhancement(index, hr)
        return to_hdr(hr) if to_hdr is not None else hr

    return finish


def _hdr10_params(paths, transfer, peak):
    """x265 HDR10 parameters: mastering display, and MaxCLL / MaxFALL (CTA-861.3)
    measured on the frames about to be encoded."""
    levels = LightLevels()
    for path in paths:
        signal = read_image(path).astype(np.float32) / 65535
        levels.update(decode(signal, transfer=transfer, peak=peak))
    display = mastering_display(peak=peak)
    return x265_hdr10_params(display, levels.max_cll, levels.max_fall), levels


def encode_frames(paths, output, source, indices, encoding, hdr=None, peak=1000.0):
    """Encode written frames into a video file with the source's timing, tags and audio.

    Parameters
    ----------
    paths : list of str
        Frame files in output order.
    output : str
        Video file (``.mp4``, ``.mkv``, ``.mov``).
    source : FrameSource
        The job's input: its timestamps (video) or 25 frames/s (folders), its colour
        primaries and transfer tags, its audio and subtitles are carried over.
    indices : list of int
        Input frame of each path.
    encoding : VideoEncoding, optional
        Default H.264 (H.265 with ``hdr``), CRF default, preset medium, 8 bits.
    hdr : {"pq", "hlg"}, optional
        The frames hold a coded BT.2020 HDR signal: tag it and add HDR10 metadata.
    peak : float
        Peak luminance of the HDR mapping, cd/m2.

    Returns
    -------
    dict
        ``{"frames": n}``, plus ``"max_cll"`` and ``"max_fall"`` for HDR.
    """
    encoding = (encoding or VideoEncoding()).checked(hdr)
    first = read_image(paths[0])
    height, width = first.shape[:2]
    info = source.video
    options = dict(codec=encoding.codec, crf=encoding.crf, preset=encoding.preset,
                   bits=encoding.bits)
    result = {"frames": len(paths)}
    if hdr is not None:
        params, levels = _hdr10_params(paths, hdr, peak)
        options.update(matrix="bt2020nc", primaries="bt2020", transfer=_HDR_TAGS[hdr],
                       x265_params=params)
        result.update(max_cll=levels.max_cll, max_fall=levels.max_fall)
    elif info is not None:
        # the input's SDR tags (an HDR transfer is only written with ``hdr``)
        primaries = {number: name for name, number in PRIMARIES.items()}
        transfers = {number: name for name, number in TRANSFERS.items()
                     if name not in _HDR_TAGS.values()}
        if info.primaries in primaries:
            options["primaries"] = primaries[info.primaries]
        if info.transfer in transfers:
            options["transfer"] = transfers[info.transfer]
    if info is not None:
        whole = indices[0] == 0 and indices[-1] == info.frames - 1
        offset = 0 if whole else info.pts[indices[0]]
        pts = [info.pts[i] - offset for i in indices]
        window = None if whole else (offset * info.time_base,
                                     None if indices[-1] == info.frames - 1 else
                                     info.pts[indices[-1] + 1] * info.time_base)
        writer = VideoWriter(output, (width, height), rate=info.fps, time_base=info.time_base,
                             copy_from=source.path,
                             copy_window=window, **options)
    else:
        pts = list(range(len(paths)))
        writer = VideoWriter(output, (width, height), rate=source.fps, **options)
    try:
        for path, t in zip(paths, pts):
            writer.write(read_image(path), pts=t)
    except BaseException:
        writer.abort()
        raise
    writer.close()
    return result


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
        (:mod:`mfsr.distributed`); input and output must be on storage the workers
        see. The results are the same frames as a single-process run's.
    chunk : int, optional
        Output frames per Dask task (default :data:`mfsr.distributed.DEFAULT_CHUNK`, one
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
    scale, window, start, end, max_memory, overlap = _check_options(
        scale, window, start, end, max_memory, registration, overlap)
    check_choice(fmt, "fmt", FRAME_FORMATS)
    check_choice(enhance, "enhance", ENHANCE_MODES)
    check_choice(hdr, "hdr", (None,) + HDR_TRANSFERS)
    peak = check_float(peak, "peak", minimum=203.0, maximum=10000.0)
    _check_kwargs(kwargs)
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
    src, owned = _open(source)
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
        _remove_stale_temporaries(folder, fmt)
        if client is not None:
            from .distributed import write_frames
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
            result = _write_local(src, folder, scale, window, start, stop, bits, fmt,
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


def run_frames(source, folder, scale, window, start, end, *, bits, fmt="png", enhance="off",
               hdr=None, peak=1000.0, max_memory=DEFAULT_MAX_MEMORY, registration=None,
               overlap=TILE_OVERLAP, video_index=None, **kwargs):
    """Frames ``start .. end - 1`` of a job into an existing folder, skipping those there:
    the body of one distributed task (:mod:`mfsr.distributed`).

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
        return _write_local(src, folder, scale, window, start, min(end, len(src)), bits, fmt,
                            True, None, max_memory, registration, overlap, enhance, hdr, peak,
                            kwargs)


def _write_local(src, folder, scale, window, start, stop, bits, fmt, resume, progress,
                 max_memory, registration, overlap, enhance, hdr, peak, kwargs):
    """The frames of this process's job, through its stages."""
    enhancement = (TemporalEnhancement(src.path, index=src.video_index)
                   if enhance == "auto" else None)
    try:
        return _write_frames(src, folder, scale, window, start, stop, bits, fmt, resume,
                             progress, max_memory, registration, overlap,
                             _finish_stage(enhancement, _hdr_stage(hdr, peak)), kwargs)
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
    frames = _iter_reconstruct(src, scale, window, start, stop, todo, max_memory,
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


__all__ = ["upscale_video", "encode_frames", "VideoEncoding", "TemporalEnhancement",
           "FramesFailed", "run_frames", "HDR_TRANSFERS",
           "ENHANCE_MODES", "FRAME_FORMATS"]

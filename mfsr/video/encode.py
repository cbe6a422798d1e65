"""Frames of a finished job encoded into one video file (PyAV), with HDR10 tags."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..core.validation import check_choice
from ..grading import LightLevels, decode, mastering_display, x265_hdr10_params
from ..io import VideoWriter, normalise_codec, read_image
from ..io.video_file import PRESETS, PRIMARIES, TRANSFERS, VIDEO_BITS

HDR_TRANSFERS = ("pq", "hlg")


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


__all__ = ["VideoEncoding", "encode_frames", "HDR_TRANSFERS"]

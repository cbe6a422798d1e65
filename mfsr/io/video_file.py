"""Video files through PyAV (FFmpeg): frame-accurate reading, H.264/H.265 writing.

:class:`VideoReader` opens anything FFmpeg demuxes (mp4, mkv, mov, y4m, ...; 8 to 16-bit
Y'CbCr). At open it lists the video packets' timestamps (no decoding), so it knows the
exact frame count, each frame's presentation time (variable frame rates included) and the
key frames; ``read(i)`` seeks to the key frame before frame ``i`` and decodes forwards,
so any frame is reached without reading the file from the start. Frames come out as RGB
made with the file's own Y'CbCr matrix and range (:mod:`mfsr.io.ycbcr`), turned upright
when the file carries a display rotation. What the bitstream says of each decoded frame
(its picture type; for H.264 its macroblock QP map) is recorded as it is decoded
(:meth:`VideoReader.side_info`, :mod:`mfsr.io.side_info`).

:class:`VideoWriter` encodes H.264 (libx264) or H.265 (libx265) at 8 or 10 bits, 4:2:0,
with the presentation timestamps it is given (the input's, so the frame rate, variable
or not, and the duration survive), explicit colour tags, optional x265 parameters (HDR10
metadata), and the audio and subtitle packets of another file copied unchanged. The file
is written to a hidden temporary name and moved into place by :meth:`VideoWriter.close`.
"""
from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..core.color import as_float_image
from ..core.validation import check_choice, check_int
from .side_info import SideInfoCache, decoder_options, frame_side_info
from .ycbcr import AVCOL_SPC, SPC_AVCOL, default_matrix, rgb_to_ycbcr, ycbcr_to_rgb

OUTPUT_CONTAINERS = (".mp4", ".mkv", ".mov", ".m4v")
CODECS = {"h264": "libx264", "h265": "libx265"}
CODEC_ALIASES = {"x264": "h264", "avc": "h264", "x265": "h265", "hevc": "h265"}
DEFAULT_CRF = {"h264": 18, "h265": 20}
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
           "slower", "veryslow", "placebo")
VIDEO_BITS = (8, 10)
# AVColorPrimaries / AVColorTransferCharacteristic numbers (libavutil/pixfmt.h)
PRIMARIES = {"bt709": 1, "bt470bg": 5, "smpte170m": 6, "bt2020": 9}
TRANSFERS = {"bt709": 1, "smpte170m": 6, "srgb": 13, "smpte2084": 16, "arib-std-b67": 18}
_RANGE_TAG = {"tv": 1, "pc": 2}
# libx265 in PyAV's wheels corrupts its heap on frames under 64 px (see
# mfsr.degradation.compression); such frames are refused rather than risked
_X265_MIN_SIZE = 64
_MP4_SUBTITLES = ("mov_text",)
# The AVX-512 code of the libx264 in PyAV's wheels reads memory it has not written: on a
# CPU with AVX-512 the same frames encode to different streams from run to run (3
# outcomes in 8 encodes, measured), which would break "a resumed or distributed job
# decodes to the same frames". x264's other SIMD paths are deterministic and agree with
# each other, so x264 is told the CPU's features less AVX-512 (cpuinfo flag -> x264 name).
_X264_FLAGS = (("sse", "MMX2"), ("sse", "SSE"), ("sse2", "SSE2"), ("sse2", "SSE2Fast"),
               ("pni", "SSE3"), ("ssse3", "SSSE3"), ("sse4_1", "SSE4"), ("sse4_2", "SSE4.2"),
               ("avx", "AVX"), ("fma", "FMA3"), ("bmi1", "BMI1"), ("bmi2", "BMI2"),
               ("avx2", "AVX2"), ("abm", "LZCNT"))


@functools.lru_cache(maxsize=None)
def _x264_asm():
    """x264's ``asm=`` value without AVX-512, or None where AVX-512 is absent (or the CPU's
    flags cannot be read: x264's own detection is then used)."""
    try:
        with open("/proc/cpuinfo") as fh:
            line = next(l for l in fh if l.startswith("flags"))
    except (OSError, StopIteration):
        return None
    flags = set(line.split(":", 1)[1].split())
    if "avx512f" not in flags:
        return None
    return ",".join(name for flag, name in _X264_FLAGS if flag in flags)


def _open_error(path, exc):
    return ValueError(f"{path}: cannot open the video (unknown format, truncated or corrupt "
                      f"file): {exc}")


@dataclass(frozen=True)
class VideoInfo:
    """What :class:`VideoReader` found in a file.

    Attributes
    ----------
    path : str
    width, height : int
        Size of the frames as returned (after the display rotation).
    frames : int
        Exact number of frames (counted from the packets).
    time_base : fractions.Fraction
        Unit of ``pts`` in seconds.
    pts : tuple of int
        Presentation timestamp of each frame, in display order.
    fps : fractions.Fraction
        Average frame rate.
    duration : fractions.Fraction
        Seconds from the first frame's start to the last frame's end.
    bits : int
        Bit depth of the samples (8, 10, 12, ...).
    pix_fmt : str
        FFmpeg pixel format of the stream (``yuv420p``, ``yuv420p10le``, ...).
    matrix : str
        Y'CbCr matrix used to make RGB: the file's tag, else BT.709 from 720 lines up
        and BT.601 below.
    matrix_tagged : bool
        Whether the matrix came from the file.
    color_range : {"tv", "pc"}
    primaries, transfer : int
        The file's AVColorPrimaries / AVColorTransferCharacteristic numbers (2: not tagged).
    rotation : int
        Counter-clockwise display rotation in degrees that was applied to the frames.
    codec : str
    has_audio : bool
    """

    path: str
    width: int
    height: int
    frames: int
    time_base: Fraction
    pts: tuple
    fps: Fraction
    duration: Fraction
    bits: int
    pix_fmt: str
    matrix: str
    matrix_tagged: bool
    color_range: str
    primaries: int
    transfer: int
    rotation: int
    codec: str
    has_audio: bool

    @property
    def variable_frame_rate(self):
        """True when the frames are not evenly spaced in time."""
        steps = np.diff(np.asarray(self.pts, dtype=np.int64))
        return bool(steps.size and steps.min() != steps.max())


def _plane(plane, dtype):
    """One plane of a frame as a 2-D array (the row padding dropped)."""
    itemsize = np.dtype(dtype).itemsize
    data = np.frombuffer(memoryview(plane), dtype=dtype)
    return data.reshape(-1, plane.line_size // itemsize)[:plane.height, :plane.width]


def _is_planar_ycbcr(fmt):
    name = fmt.name
    return (name.startswith(("yuv420p", "yuv422p", "yuv444p", "yuvj420p", "yuvj422p",
                             "yuvj444p")) and "a" not in name[4:] and
            (name.endswith("p") or name.endswith("le")))


@dataclass(frozen=True)
class PacketIndex:
    """What :class:`VideoReader` learns from a pass over a file's video packets: the
    frames' presentation timestamps in display order, the key frames', whether the
    timestamps were missing (frames then numbered in order), and the file's size and
    modification time (an index of another version of the file is not used)."""

    pts: tuple
    keys: tuple
    numbered: bool
    size: int
    mtime_ns: int


class VideoReader:
    """Random access to the frames of a video file.

    Parameters
    ----------
    path : str
        Any file FFmpeg demuxes with a video stream (the first one is read).
    index : PacketIndex, optional
        The :attr:`index` of another reader of this file: the pass over the packets
        (reading the whole file) is skipped. Ignored if the file changed since.

    Attributes
    ----------
    info : VideoInfo

    Notes
    -----
    An H.264 stream is decoded with ``export_side_data=venc_params`` (the QP map of
    :meth:`side_info`); the pixels are the same as without it.

    Raises
    ------
    ValueError
        Missing, truncated or corrupt file, no video stream (the message names the file).

    Examples
    --------
    >>> with VideoReader("clip.mp4") as video:          # doctest: +SKIP
    ...     print(video.info.frames, video.info.fps)
    ...     frame = video.read(12)                       # uint8 RGB, (H, W, 3)
    """

    def __init__(self, path, index=None):
        import av

        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise ValueError(f"{self.path}: no such file")
        self._given_index = index
        try:
            self._container = av.open(self.path)
        except (av.FFmpegError, UnicodeDecodeError) as exc:
            raise _open_error(self.path, exc) from exc
        try:
            if not self._container.streams.video:
                raise ValueError(f"{self.path}: cannot open the video (no video stream; truncated "
                                 f"or not a video?)")
            self._stream = self._container.streams.video[0]
            self._side = SideInfoCache()
            self._side_options = decoder_options(self._stream.codec_context.name)
            self._set_side_options()
            self._index_packets()
            self._index_of = {p: i for i, p in enumerate(self._pts)}
            self._decoder, self._next = None, None
            try:
                first = self._decode(0)
            except ValueError:
                if not self._side_options:
                    raise
                # a decoder that refuses the option: read without side data (no QP map)
                self._side_options = {}
                self._reopen()
                first = self._decode(0)
            self.info = self._describe(first)
        except BaseException:
            self._container.close()
            raise

    @property
    def index(self):
        """:class:`PacketIndex` of the file: give it to another reader of the same file
        (a distributed task) to spare it the pass over the packets."""
        stat = os.stat(self.path)
        return PacketIndex(tuple(self._pts), tuple(self._keys), self._numbered,
                           stat.st_size, stat.st_mtime_ns)

    def _index_packets(self):
        import av

        given = self._given_index
        if given is not None:
            if not isinstance(given, PacketIndex):
                raise TypeError(f"index must be a PacketIndex, got {type(given).__name__}")
            stat = os.stat(self.path)
            if (given.size, given.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                self._pts, self._keys = list(given.pts), list(given.keys)
                self._numbered = given.numbered
                self._seek_to(0)
                return
        pts, keys = [], []
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0:
                    continue
                pts.append(packet.pts)
                if packet.is_keyframe:
                    keys.append(packet.pts)
        except av.FFmpegError as exc:
            raise _open_error(self.path, exc) from exc
        if not pts:
            raise ValueError(f"{self.path}: the video holds no frame")
        if any(p is None for p in pts):
            # elementary streams without timestamps: frames are numbered in order
            pts, keys = list(range(len(pts))), [0]
            self._numbered = True
        else:
            self._numbered = False
        self._pts = sorted(pts)
        if len(set(self._pts)) != len(self._pts):
            raise ValueError(f"{self.path}: two frames share a timestamp; cannot index them")
        self._keys = sorted(k for k in keys if k is not None) or [self._pts[0]]
        self._seek_to(0)

    def _seek_to(self, index):
        """Restart decoding at the last key frame at or before frame ``index``."""
        import av

        keys = [k for k in self._keys if k <= self._pts[index]]
        try:
            if self._numbered or not keys or keys[-1] == self._pts[0]:
                self._container.seek(0)
            else:
                self._container.seek(keys[-1], stream=self._stream, backward=True)
        except av.FFmpegError:       # a stream that cannot seek: read it again
            self._reopen()
        self._decoder = self._frames()
        self._next = None

    def _reopen(self):
        import av

        self._container.close()
        self._container = av.open(self.path)
        self._stream = self._container.streams.video[0]
        self._side = SideInfoCache()
        self._set_side_options()

    def _set_side_options(self):
        """Ask the decoder for the side data of :meth:`side_info` (H.264's QP map);
        where the options cannot be set, none is asked for (no QP map)."""
        if not self._side_options:
            return
        try:
            self._stream.codec_context.options = dict(self._side_options)
        except Exception:            # noqa: BLE001 - any refusal: read without it
            self._side_options = {}

    def _record(self, frame):
        """Keep the side information of a decoded frame (once per frame index)."""
        index = self._index_of.get(frame.pts) if frame.pts is not None else None
        if index is not None and index not in self._side:
            turns = int(round((frame.rotation or 0) / 90)) % 4
            self._side.put(index, frame_side_info(frame, turns, bool(self._side_options)))

    def _frames(self):
        counter = 0
        for frame in self._container.decode(self._stream):
            if self._numbered:
                frame.pts = counter
                counter += 1
            yield frame

    def _decode(self, index):
        """Decoded av.VideoFrame ``index``."""
        import av

        target = self._pts[index]
        behind = self._next is not None and index >= self._next
        if not behind or self._keys_between(self._next, index):
            self._seek_to(index)
        for attempt in range(2):
            try:
                for frame in self._decoder:
                    self._record(frame)
                    if frame.pts is None or frame.pts < target:
                        continue
                    if frame.pts == target:
                        self._next = index + 1
                        return frame
                    break                    # landed after it: seek further back
            except av.FFmpegError as exc:
                raise ValueError(f"{self.path}: frame {index} cannot be decoded: {exc}") from exc
            if attempt == 0:
                self._seek_to(0)
        raise ValueError(f"{self.path}: frame {index} cannot be decoded (the file lists "
                         f"{len(self._pts)} frames; truncated or corrupt?)")

    def _keys_between(self, start, index):
        """True when a key frame lies after frame ``start`` and at or before ``index``:
        seeking is then cheaper than decoding forwards."""
        lo, hi = self._pts[start], self._pts[index]
        return any(lo < k <= hi for k in self._keys)

    def _describe(self, frame):
        stream = self._stream
        fmt = frame.format
        bits = max(c.bits for c in fmt.components)
        tagged = frame.colorspace in AVCOL_SPC
        matrix = AVCOL_SPC[frame.colorspace] if tagged else default_matrix(frame.height)
        full = frame.color_range == 2 or fmt.name.startswith("yuvj")
        rotation = int(round(frame.rotation or 0)) % 360
        width, height = frame.width, frame.height
        if rotation in (90, 270):
            width, height = height, width
        tb = Fraction(stream.time_base) if stream.time_base else Fraction(1, 25)
        pts = tuple(self._pts)
        if self._numbered:
            rate = Fraction(stream.average_rate or stream.guessed_rate or 25)
            tb = 1 / rate
        steps = np.diff(np.asarray(pts, dtype=np.int64))
        last = int(np.median(steps)) if steps.size else int(round(1 / tb / 25)) or 1
        duration = (pts[-1] - pts[0] + last) * tb
        fps = Fraction(stream.average_rate) if stream.average_rate else \
            (len(pts) / duration if duration else Fraction(25))
        return VideoInfo(self.path, width, height, len(pts), tb, pts, fps, duration, bits,
                         stream.codec_context.pix_fmt or fmt.name, matrix, tagged,
                         "pc" if full else "tv", int(frame.color_primaries or 2),
                         int(frame.color_trc or 2), rotation, stream.codec_context.name,
                         bool(self._container.streams.audio))

    def __len__(self):
        return len(self._pts)

    def read(self, index):
        """Frame ``index`` as RGB (``uint8`` for 8-bit video, else ``uint16`` scaled to
        the full 16-bit range), or None past the end.

        Parameters
        ----------
        index : int

        Returns
        -------
        ndarray or None
            (H, W, 3), upright; (H, W) for grey video.

        Raises
        ------
        ValueError
            The frame cannot be decoded (message names the file and frame).
        """
        index = check_int(index, "index", minimum=0)
        if index >= len(self._pts):
            return None
        return self._to_array(self._decode(index))

    def side_info(self, index):
        """What the bitstream says of frame ``index``: its picture type and, for H.264,
        its macroblock QP map.

        Recorded when the frame is decoded (by :meth:`read`, or on the way to another
        frame), so asking after a read decodes nothing; a frame not decoded lately is
        decoded for it (not converted to RGB).

        Parameters
        ----------
        index : int

        Returns
        -------
        FrameSideInfo or None
            None past the end, or where the decoder reports neither a picture type nor
            a QP map. ``qp`` is None for codecs other than H.264 (FFmpeg's HEVC decoder
            exports none).

        Raises
        ------
        ValueError
            The frame cannot be decoded (message names the file and frame).
        """
        index = check_int(index, "index", minimum=0)
        if index >= len(self._pts):
            return None
        if index not in self._side:
            self._decode(index)
        return self._side.get(index)

    def _to_array(self, frame):
        info = getattr(self, "info", None)
        matrix = info.matrix if info else default_matrix(frame.height)
        color_range = info.color_range if info else "tv"
        fmt = frame.format
        bits = max(c.bits for c in fmt.components)
        dtype = np.uint8 if bits <= 8 else np.uint16
        if fmt.name.startswith("gray"):
            y = _plane(frame.planes[0], dtype).astype(np.float32)
            lo, span = (0, 2**bits - 1) if color_range == "pc" else \
                (16 * 2 ** (bits - 8), 219 * 2 ** (bits - 8))
            top = 255 if bits <= 8 else 65535
            out = np.rint(np.clip((y - lo) / span, 0, 1) * top).astype(dtype)
        elif _is_planar_ycbcr(fmt):
            planes = [_plane(p, dtype) for p in frame.planes[:3]]
            out = ycbcr_to_rgb(*planes, matrix=matrix, bits=bits, color_range=color_range,
                               out_bits=8 if bits <= 8 else 16)
        else:   # packed or semi-planar formats: FFmpeg converts, told the matrix
            from av.video.reformatter import ColorRange, Colorspace
            spaces = {"bt709": Colorspace.ITU709, "bt601": Colorspace.ITU601,
                      "bt2020nc": Colorspace.BT2020, "smpte240m": Colorspace.SMPTE240M}
            out = frame.to_ndarray(format="rgb24" if bits <= 8 else "rgb48le",
                                   src_colorspace=spaces[matrix],
                                   src_color_range=ColorRange.JPEG if color_range == "pc"
                                   else ColorRange.MPEG)
        return self._upright(out, frame)

    @staticmethod
    def _upright(image, frame):
        turns = int(round((frame.rotation or 0) / 90)) % 4
        return np.ascontiguousarray(np.rot90(image, turns)) if turns else image

    def close(self):
        """Close the file."""
        self._container.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def normalise_codec(codec):
    """``"h264"`` or ``"h265"`` from a codec name or alias (``x264``, ``hevc``, ...).

    Parameters
    ----------
    codec : str

    Returns
    -------
    str

    Examples
    --------
    >>> normalise_codec("hevc")
    'h265'
    """
    if isinstance(codec, str):
        codec = CODEC_ALIASES.get(codec.lower(), codec.lower())
    check_choice(codec, "codec", tuple(CODECS) + tuple(CODEC_ALIASES))
    return codec


class VideoWriter:
    """An H.264 / H.265 file written frame by frame, moved into place on :meth:`close`.

    Parameters
    ----------
    path : str
        Output file: ``.mp4``, ``.mkv``, ``.mov`` or ``.m4v``.
    size : tuple of int
        ``(width, height)``; both even (4:2:0 chroma).
    rate : fractions.Fraction or float
        Nominal frame rate (used for timestamps when :meth:`write` is given none).
    time_base : fractions.Fraction, optional
        Unit of the timestamps passed to :meth:`write` (the input's); default ``1/rate``.
    codec : {"h264", "h265"} or alias
    crf : int, optional
        Constant rate factor (lower is better; default 18 for H.264, 20 for H.265).
    preset : str
        x264/x265 speed preset (``medium``).
    bits : {8, 10}
        Sample depth of the stream (``yuv420p`` or ``yuv420p10le``).
    matrix : {"bt709", "bt601", "bt2020nc", "smpte240m"}, optional
        Y'CbCr matrix used and tagged; default BT.709 from 720 lines up, BT.601 below.
    color_range : {"tv", "pc"}
    primaries, transfer : str, optional
        Tags (``bt709``, ``bt2020``, ``smpte170m``; ``bt709``, ``smpte2084``,
        ``arib-std-b67``, ...); default the matrix's family (BT.709 / BT.601 525 / BT.2020
        primaries, BT.709 transfer).
    x265_params : str, optional
        More libx265 parameters, ``key=value:key=value`` (HDR10 metadata).
    copy_from : str, optional
        File whose audio and subtitle streams are copied, packet for packet.
    copy_window : tuple, optional
        ``(start, end)`` in seconds (end None: to the end): only packets starting in it
        are copied, moved earlier by ``start``. Default: all, unchanged.
    threads : int, optional
        Encoder threads (default: the encoder's choice).

    Raises
    ------
    ValueError
        Bad arguments, odd size, a stream the container cannot hold.

    Examples
    --------
    >>> w = VideoWriter("out.mp4", (3840, 2160), rate=25, bits=10)   # doctest: +SKIP
    >>> w.write(hr_frame, pts=0); w.close()                          # doctest: +SKIP
    """

    def __init__(self, path, size, *, rate=25, time_base=None, codec="h264", crf=None,
                 preset="medium", bits=8, matrix=None, color_range="tv", primaries=None,
                 transfer=None, x265_params=None, copy_from=None, copy_window=None,
                 threads=None):
        import av

        self.path = os.fspath(path)
        ext = os.path.splitext(self.path)[1].lower()
        check_choice(ext, "video extension", OUTPUT_CONTAINERS)
        self.codec = normalise_codec(codec)
        check_choice(preset, "preset", PRESETS)
        check_choice(bits, "bits", VIDEO_BITS)
        crf = DEFAULT_CRF[self.codec] if crf is None else check_int(crf, "crf", minimum=0)
        if crf > 51:
            raise ValueError(f"crf must be in 0..51, got {crf}")
        width, height = (check_int(size[0], "width", 2), check_int(size[1], "height", 2))
        if width % 2 or height % 2:
            raise ValueError(f"4:2:0 video needs an even width and height, got "
                             f"{width}x{height}; write a frame folder instead")
        if self.codec == "h265" and min(width, height) < _X265_MIN_SIZE:
            raise ValueError(f"H.265 frames must be at least {_X265_MIN_SIZE} px on each "
                             f"side, got {width}x{height}")
        self.size, self.bits = (width, height), bits
        self.matrix = matrix or default_matrix(height)
        check_choice(self.matrix, "matrix", tuple(SPC_AVCOL))
        check_choice(color_range, "color_range", tuple(_RANGE_TAG))
        self.color_range = color_range
        family = {"bt709": "bt709", "bt601": "smpte170m", "bt2020nc": "bt2020",
                  "smpte240m": "smpte170m"}[self.matrix]
        primaries = primaries or family
        transfer = transfer or ("smpte170m" if family == "smpte170m" else "bt709")
        check_choice(primaries, "primaries", tuple(PRIMARIES))
        check_choice(transfer, "transfer", tuple(TRANSFERS))
        rate = Fraction(rate).limit_denominator(1001000)
        self.time_base = Fraction(time_base) if time_base is not None else 1 / rate
        self._rate = rate

        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        self._tmp = os.path.join(folder, f".{os.path.basename(self.path)}.partial{ext}")
        self._container = av.open(self._tmp, "w")
        try:
            stream = self._container.add_stream(CODECS[self.codec], rate=rate)
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p" if bits == 8 else "yuv420p10le"
            stream.time_base = self.time_base
            cc = stream.codec_context
            cc.time_base = self.time_base
            cc.colorspace = SPC_AVCOL[self.matrix]
            cc.color_range = _RANGE_TAG[color_range]
            cc.color_primaries = PRIMARIES[primaries]
            cc.color_trc = TRANSFERS[transfer]
            options = {"crf": str(crf), "preset": preset}
            if threads is not None:
                options["threads"] = str(check_int(threads, "threads", minimum=1))
            if self.codec == "h265":
                params = ["log-level=error"] + ([x265_params] if x265_params else [])
                options["x265-params"] = ":".join(params)
                stream.codec_tag = "hvc1"        # what Apple players want in mp4/mov
            elif x265_params:
                raise ValueError("x265_params needs codec='h265'")
            elif _x264_asm():
                options["x264-params"] = f"asm={_x264_asm()}"
            stream.options = options
            self._stream = stream
            self._side = _SideStreams(self._container, ext, copy_from, copy_window)
        except BaseException:
            self._container.close()
            os.remove(self._tmp)
            raise
        self._count = 0

    def write(self, image, pts=None):
        """Encode one frame.

        Parameters
        ----------
        image : ndarray, shape (H, W, 3) or (H, W)
            R'G'B' (or grey) float in [0, 1], or ``uint8`` / ``uint16`` by dtype range.
        pts : int, optional
            Presentation timestamp in ``time_base`` units (default: frame count / rate).
        """
        import av


        image = as_float_image(np.asarray(image), "image")
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        if image.shape[1::-1] != self.size or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"{self.path}: frame of shape {image.shape} does not match the "
                             f"video's {self.size[0]}x{self.size[1]} RGB")
        planes = rgb_to_ycbcr(image, self.matrix, self.bits, self.color_range, "420")
        packed = np.concatenate([p.ravel() for p in planes]).reshape(-1, self.size[0])
        frame = av.VideoFrame.from_ndarray(packed, format=self._stream.pix_fmt)
        if pts is None:
            pts = int(round(self._count / self._rate / self.time_base))
        frame.pts = int(pts)
        frame.time_base = self.time_base
        for packet in self._stream.encode(frame):
            self._mux(packet)
        self._count += 1

    def _mux(self, packet):
        if packet.dts is not None:
            self._side.mux_until(float(packet.dts * packet.time_base))
        self._container.mux(packet)

    def close(self):
        """Flush the encoder, copy the remaining side packets, move the file into place."""
        try:
            for packet in self._stream.encode():
                self._mux(packet)
            self._side.mux_until(None)
            self._side.close()
            self._container.close()
        except BaseException:
            self.abort()
            raise
        os.replace(self._tmp, self.path)

    def abort(self):
        """Drop the partial file."""
        try:
            self._side.close()
            self._container.close()
        except Exception:   # closing a broken muxer may fail again; the file goes anyway
            pass
        if os.path.exists(self._tmp):
            os.remove(self._tmp)


class _SideStreams:
    """Audio and subtitle packets of another file, copied in time order between the
    video packets (FFmpeg's interleaving then holds only a few of them)."""

    def __init__(self, container, ext, copy_from, window):
        self._input, self._pending, self._packets = None, None, None
        self._output = container
        if copy_from is None:
            return
        import av

        try:
            self._input = av.open(os.fspath(copy_from))
        except av.FFmpegError as exc:
            raise _open_error(os.fspath(copy_from), exc) from exc
        self._map = {}
        for stream in list(self._input.streams.audio) + list(self._input.streams.subtitles):
            name = stream.codec_context.name if stream.codec_context else "?"
            if stream.type == "subtitle" and ext != ".mkv" and name not in _MP4_SUBTITLES:
                warnings.warn(f"{copy_from}: {name} subtitles cannot go into {ext}; "
                              f"not copied (use .mkv)", stacklevel=3)
                continue
            self._map[stream.index] = container.add_stream_from_template(stream)
        self._window = window is not None
        self._start, self._end = (window or (0, None))
        self._start = Fraction(self._start).limit_denominator(10**9)
        if not self._map:
            self.close()
            return
        streams = [self._input.streams[i] for i in self._map]
        self._packets = self._input.demux(*streams)
        self._advance()

    def _advance(self):
        self._pending = None
        for packet in self._packets:
            if packet.dts is None or packet.size == 0:
                continue
            t = packet.pts if packet.pts is not None else packet.dts
            seconds = Fraction(t) * packet.time_base
            if self._window and (seconds < self._start or
                                 (self._end is not None and seconds >= self._end)):
                continue
            self._pending = (seconds, packet)
            return

    def mux_until(self, seconds):
        """Copy the packets that start before ``seconds`` (None: all that are left)."""
        while self._pending is not None and (seconds is None or
                                             self._pending[0] - self._start <= seconds):
            _, packet = self._pending
            if self._start:
                shift = int(self._start / packet.time_base)
                packet.pts = packet.pts - shift if packet.pts is not None else None
                packet.dts = packet.dts - shift
            target = self._map[packet.stream.index]
            packet.stream = target
            self._output.mux(packet)
            self._advance()

    def close(self):
        if self._input is not None:
            self._input.close()
            self._input = None
            self._pending = None


__all__ = ["VideoReader", "VideoWriter", "VideoInfo", "PacketIndex", "normalise_codec", "OUTPUT_CONTAINERS",
           "CODECS", "PRESETS", "PRIMARIES", "TRANSFERS"]

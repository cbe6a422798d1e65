"""Lossy compression as a degradation: frames through a real video codec or JPEG.

The codecs are the real ones (libx264, libx265 and FFmpeg's decoders from PyAV's wheels,
OpenCV's libjpeg), so codec-degraded test data is made exactly as users' video was made:
YUV 4:2:0, quantised transform coefficients, in-loop deblocking, frames predicted from
each other. Used by the tests, the docs and ``benchmarks/make_compressed.py``.
"""
from __future__ import annotations

import io

import numpy as np

from ..core.validation import check_array, check_choice, check_int

VIDEO_CODECS = {"x264": ("libx264", "mp4"), "x265": ("libx265", "mp4")}
# libx265 (PyAV 18's wheels) corrupts its heap now and then on frames smaller than one
# 64 px coding tree unit, so such frames are edge-padded to 64 px before x265 encodes them
X265_MIN_SIZE = 64
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
           "slower", "veryslow")


def _import_av():
    try:
        import av
    except ImportError as err:  # pragma: no cover - av is a dependency
        raise ImportError("video compression needs PyAV: pip install 'av>=18'") from err
    return av


def _as_uint8_rgb(frames, name):
    frames = check_array(frames, name, ndim=(3, 4))
    if frames.dtype != np.uint8:
        if frames.dtype.kind != "f":
            raise TypeError(f"{name} must be uint8 or float in [0, 1], got {frames.dtype}")
        frames = np.round(np.clip(frames, 0.0, 1.0) * 255).astype(np.uint8)
    if frames.ndim == 3:
        frames = np.repeat(frames[..., None], 3, axis=-1)
    if frames.shape[-1] != 3:
        raise ValueError(f"{name} must be (K, h, w) grey or (K, h, w, 3) RGB, "
                         f"got shape {frames.shape}")
    return np.ascontiguousarray(frames)


def _pad_to(frames, size):
    """Edge-pad frames at the bottom and right to at least ``size`` pixels each way."""
    h, w = frames.shape[1:3]
    if h >= size and w >= size:
        return frames
    return np.pad(frames, ((0, 0), (0, max(size - h, 0)), (0, max(size - w, 0)), (0, 0)),
                  mode="edge")


def encode_video(frames, codec="x264", crf=23, preset="medium", gop=None, fps=25):
    """Encode frames with x264 or x265 into an MP4 file held in memory.

    Parameters
    ----------
    frames : array, shape (K, h, w, 3) or (K, h, w)
        RGB (or grey) frames, uint8 or float in [0, 1]; ``h`` and ``w`` even (4:2:0).
    codec : {"x264", "x265"}
        H.264 by libx264 or H.265 by libx265.
    crf : int
        Constant rate factor, 0..51: higher is smaller and worse (18 near-transparent,
        23 x264's default, 28 streaming, 33 heavy).
    preset : str
        Encoder speed preset, ``"ultrafast"`` .. ``"veryslow"``.
    gop : int, optional
        Maximum distance between intra frames (keyint); default the encoder's (250).
    fps : int
        Frame rate stored in the file.

    Returns
    -------
    bytes
        The MP4 file (one yuv420p video stream). For x265, frames smaller than 64 px
        are edge-padded at the bottom and right to 64 px first (libx265 is not reliable
        below one coding tree unit); :func:`compress_video` crops them back.
    """
    av = _import_av()
    frames = _as_uint8_rgb(frames, "frames")
    check_choice(codec, "codec", tuple(VIDEO_CODECS))
    check_choice(preset, "preset", PRESETS)
    crf = check_int(crf, "crf", minimum=0)
    if crf > 51:
        raise ValueError(f"crf must be in [0, 51], got {crf}")
    h, w = frames.shape[1:3]
    if h % 2 or w % 2:
        raise ValueError(f"frames must have even height and width for 4:2:0, got {h}x{w}")
    options = {"crf": str(crf), "preset": preset}
    if gop is not None:
        options["g"] = str(check_int(gop, "gop", minimum=1))
    if codec == "x264":
        options["threads"] = "1"  # so the stream does not depend on the core count
    else:
        frames = _pad_to(frames, X265_MIN_SIZE)
        h, w = frames.shape[1:3]
        # one frame thread, so the stream does not depend on the core count (and on
        # frames padded to 64 px it came out the same in every run here)
        options["x265-params"] = "log-level=1:pools=1:frame-threads=1"
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream(VIDEO_CODECS[codec][0], rate=int(fps), options=options)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def _picture_type(value):
    """``"I"``, ``"P"``, ``"B"``, ... from PyAV's picture type (an int enum in PyAV 18)."""
    from av.video.frame import PictureType

    return PictureType(int(value)).name


def decode_video(data):
    """Decode a video file to RGB frames and each frame's picture type.

    Parameters
    ----------
    data : bytes or str
        The file's bytes, or its path.

    Returns
    -------
    frames : uint8 array, shape (K, h, w, 3)
    picture_types : list of str
        ``"I"``, ``"P"`` or ``"B"`` per frame, as the decoder reports them.
    """
    av = _import_av()
    source = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    frames, types = [], []
    with av.open(source) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            types.append(_picture_type(frame.pict_type))
    if not frames:
        raise ValueError("the video holds no decodable frame")
    return np.stack(frames), types


def compress_video(frames, codec="x264", crf=23, preset="medium", gop=None):
    """Round-trip frames through a video codec: encode, then decode.

    Parameters
    ----------
    frames : array, shape (K, h, w, 3) or (K, h, w)
        uint8 or float in [0, 1].
    codec, crf, preset, gop
        As :func:`encode_video`.

    Returns
    -------
    uint8 array, shape (K, h, w, 3)
        The decoded RGB frames (grey input comes back as RGB with equal channels, as
        decoders return it).

    Examples
    --------
    >>> import numpy as np
    >>> from mfsr.degradation.compression import compress_video
    >>> frames = np.random.default_rng(0).integers(0, 255, (3, 32, 48, 3), dtype=np.uint8)
    >>> compress_video(frames, crf=28).shape
    (3, 32, 48, 3)
    """
    frames = _as_uint8_rgb(frames, "frames")
    decoded, _ = decode_video(encode_video(frames, codec, crf, preset, gop))
    if len(decoded) != len(frames):
        raise RuntimeError(f"the codec returned {len(decoded)} frames for {len(frames)}")
    return decoded[:, :frames.shape[1], :frames.shape[2]]


def compress_jpeg(frames, quality=75):
    """JPEG-compress each frame (OpenCV's libjpeg, 4:2:0 chroma) and decode it again.

    Parameters
    ----------
    frames : array, shape (K, h, w, 3) or (K, h, w)
        uint8 or float in [0, 1]; a burst of still images.
    quality : int
        JPEG quality 1..100.

    Returns
    -------
    uint8 array, shape (K, h, w, 3)
    """
    import cv2

    frames = _as_uint8_rgb(frames, "frames")
    quality = check_int(quality, "quality", minimum=1)
    if quality > 100:
        raise ValueError(f"quality must be in [1, 100], got {quality}")
    out = []
    for image in frames:
        ok, data = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:  # pragma: no cover - libjpeg does not fail on valid uint8 input
            raise RuntimeError("JPEG encoding failed")
        out.append(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])
    return np.stack(out)

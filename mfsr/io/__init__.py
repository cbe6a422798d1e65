"""Frames and video in and out.

- :mod:`~mfsr.io.images`: still images and folders of frames (OpenCV), atomic writes;
- :mod:`~mfsr.io.video_file`: video files on PyAV (FFmpeg): frame-accurate reading with
  timestamps and colour tags, H.264/H.265 writing at 8 or 10 bits with the input's audio;
- :mod:`~mfsr.io.side_info`: what the bitstream says of each decoded frame (picture type,
  H.264 macroblock QP map), as :meth:`VideoReader.side_info` records it;
- :mod:`~mfsr.io.ycbcr`: the Y'CbCr matrices and ranges of video;
- :mod:`~mfsr.io.raw`: camera raw files (Bayer mosaics with their levels, white balance and
  colour matrix) through LibRaw, an optional dependency (``pip install "mfsr[raw]"``,
  imported only when a raw file is read);
- :class:`FrameSource`: one reader over a video file or a folder.
"""
from .frames import FrameSource
from .images import (IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, is_video_path, list_frames, natural_key,
                     read_image, to_integer_image, write_image)
from .raw import RawBurstFiles, RawImage, read_raw, read_raw_burst
from .side_info import FrameSideInfo
from .video_file import (CODECS, OUTPUT_CONTAINERS, PRESETS, VideoInfo, VideoReader, VideoWriter,
                         normalise_codec)

__all__ = ["FrameSource", "VideoReader", "VideoWriter", "VideoInfo", "FrameSideInfo", "read_image",
           "write_image", "list_frames", "natural_key", "is_video_path", "to_integer_image",
           "normalise_codec", "IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "OUTPUT_CONTAINERS",
           "CODECS", "PRESETS", "read_raw", "read_raw_burst", "RawImage", "RawBurstFiles"]

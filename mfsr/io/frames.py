"""One reader for the two kinds of input: a video file or a folder of frames."""
from __future__ import annotations

import os

from ..core.validation import check_int
from .images import describe_frame, list_frames, read_image
from .video_file import VideoReader


class FrameSource:
    """Frames of a video file or of a folder of images, read one at a time, at random.

    Video files are read with :class:`~mfsr.io.VideoReader` (PyAV): exact frame count,
    frame-accurate seeking, the file's timestamps and colour tags. Only the frame asked
    for is held.

    Parameters
    ----------
    path : str
        Video file (anything FFmpeg reads) or folder of frames.
    index : PacketIndex, optional
        A video's packet index from another reader of it (:attr:`video_index`).

    Attributes
    ----------
    path : str
    is_video : bool
    names : list of str or None
        File names of a folder's frames (None for video).
    fps : float
        Average frame rate of a video (25 for folders).
    video : VideoInfo or None
        Everything known of a video file (timestamps, colour tags, audio, ...).
    shape : tuple
        Shape of the first frame.
    dtype : numpy dtype
        Sample type of the first frame.

    Raises
    ------
    ValueError
        Missing path, empty folder, a non-image file, undecodable video.
    """

    def __init__(self, path, index=None):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise ValueError(f"{self.path}: no such file or folder")
        self.is_video = os.path.isfile(self.path)
        self._reader = None
        if self.is_video:
            self.names = None
            self._reader = VideoReader(self.path, index=index)
            self.video = self._reader.info
            self.fps = float(self.video.fps)
            self._length = self.video.frames
        else:
            self._files = list_frames(self.path)
            self.names = [os.path.basename(f) for f in self._files]
            self.fps = 25.0
            self.video = None
            self._length = len(self._files)
        first = self.read(0)
        self.shape, self.dtype = first.shape, first.dtype

    @property
    def video_index(self):
        """The video's :class:`~mfsr.io.video_file.PacketIndex` (None for folders)."""
        return self._reader.index if self._reader is not None else None

    def __len__(self):
        """Number of frames."""
        return self._length

    def length_known(self):
        """True: the length is exact for folders and (from the packet index) for video."""
        return True

    def name(self, index):
        """Name of frame ``index``: its file name, or ``frame 12`` for video."""
        return self.names[index] if self.names is not None else f"frame {index}"

    def read(self, index):
        """Return frame ``index``, or None past the end.

        Parameters
        ----------
        index : int

        Returns
        -------
        ndarray or None
            ``uint8`` / ``uint16``, RGB on the last axis for colour.

        Raises
        ------
        ValueError
            The frame cannot be decoded, or its size or type differs from frame 0
            (the message names the file and frame).
        """
        index = check_int(index, "index", minimum=0)
        if index >= self._length:
            return None
        if self.is_video:
            frame = self._reader.read(index)
            where = f"{self.path} frame {index}"
        else:
            frame = read_image(self._files[index])
            where = self._files[index]
        if hasattr(self, "shape") and (frame.shape != self.shape or frame.dtype != self.dtype):
            raise ValueError(f"{where}: frame of {describe_frame(frame.shape, frame.dtype)} "
                             f"differs from the first frame's "
                             f"{describe_frame(self.shape, self.dtype)}")
        return frame

    def side_info(self, index):
        """What the bitstream says of frame ``index`` (:meth:`VideoReader.side_info
        <mfsr.io.VideoReader.side_info>`: picture type, H.264 QP map), recorded when the
        frame was read.

        Parameters
        ----------
        index : int

        Returns
        -------
        FrameSideInfo or None
            None for a folder of frames, past the end, and for video whose decoder
            reports nothing.
        """
        index = check_int(index, "index", minimum=0)
        if self._reader is None or index >= self._length:
            return None
        return self._reader.side_info(index)

    def close(self):
        """Release the video file."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


__all__ = ["FrameSource"]

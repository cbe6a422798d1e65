"""Frames and video in and out: folders of images, video files, atomic writes.

Readers return frames as they are stored: ``uint8`` or ``uint16`` arrays, RGB on the last
axis for colour (OpenCV's BGR is swapped), 2-D for grey images. Writers take float images
in [0, 1] (or integer images) and write 8- or 16-bit PNG/TIFF, or 8-bit video. Every error
about a file names it.
"""
from __future__ import annotations

import os
import re
import tempfile

import cv2
import numpy as np

from ._validation import check_array, check_choice, check_int
from .color import as_float_image

IMAGE_EXTENSIONS = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm")
FOURCC = {".avi": "MJPG", ".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".mkv": "mp4v",
          ".webm": "VP80"}
BITS = (8, 16)


def natural_key(name):
    """Sort key that orders ``frame2.png`` before ``frame10.png``.

    Parameters
    ----------
    name : str
        File name.

    Returns
    -------
    tuple
        Text and number parts, numbers compared as integers.

    Examples
    --------
    >>> sorted(["f10.png", "f2.png", "f1.png"], key=natural_key)
    ['f1.png', 'f2.png', 'f10.png']
    """
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part.lower())
                 for part in re.split(r"(\d+)", name) if part)


def is_video_path(path):
    """True when ``path`` ends with a video extension (``.mp4``, ``.avi``, ...).

    Parameters
    ----------
    path : str
        File name or path.

    Returns
    -------
    bool
    """
    return os.path.splitext(str(path))[1].lower() in VIDEO_EXTENSIONS


def list_frames(folder):
    """Image files of a folder, sorted naturally.

    Hidden files (names starting with ``.``, such as the temporary files of
    :func:`write_image`) are ignored; any other file must be an image.

    Parameters
    ----------
    folder : str
        Folder of PNG / TIFF / JPEG frames.

    Returns
    -------
    list of str
        Paths of the frames.

    Raises
    ------
    ValueError
        The folder does not exist, holds no frames, or holds a file that is not an
        image (the error names it).
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise ValueError(f"{folder}: no such folder")
    names = sorted((n for n in os.listdir(folder) if not n.startswith(".")), key=natural_key)
    files = [n for n in names if os.path.isfile(os.path.join(folder, n))]
    for name in files:
        if os.path.splitext(name)[1].lower() not in IMAGE_EXTENSIONS:
            raise ValueError(f"{os.path.join(folder, name)}: not an image file (frames must "
                             f"be {', '.join(IMAGE_EXTENSIONS)})")
    if not files:
        raise ValueError(f"{folder}: no image frames ({', '.join(IMAGE_EXTENSIONS)}) found")
    return [os.path.join(folder, n) for n in files]


def _from_cv(image, path):
    if image is None or image.size == 0:
        raise ValueError(f"{path}: cannot decode the image (corrupt or not an image)")
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{path}: unsupported sample type {image.dtype} (need 8 or 16 bit)")
    if image.ndim == 3:
        if image.shape[2] == 1:
            return image[..., 0]
        return np.ascontiguousarray(image[..., 2::-1])  # BGR(A) -> RGB, alpha dropped
    return image


def read_image(path):
    """Read one frame.

    Parameters
    ----------
    path : str
        PNG, TIFF or JPEG file (8 or 16 bit, grey, RGB or RGBA).

    Returns
    -------
    ndarray, shape (H, W) or (H, W, 3), uint8 or uint16
        RGB order for colour images; alpha is dropped.

    Raises
    ------
    ValueError
        Missing or undecodable file (the message names it).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    return _from_cv(image, path)


class FrameSource:
    """Frames of a video file or of a folder of images, read one at a time.

    Folders are read at random; video files are decoded forwards (reading an earlier
    frame reopens the file). Only the frame asked for is held.

    Parameters
    ----------
    path : str
        Video file (anything OpenCV's FFmpeg backend opens) or folder of frames.

    Attributes
    ----------
    path : str
    is_video : bool
    names : list of str or None
        File names of a folder's frames (None for video).
    fps : float
        Frame rate of a video (25 for folders).
    shape : tuple
        Shape of the first frame.
    dtype : numpy dtype
        Sample type of the first frame.

    Raises
    ------
    ValueError
        Missing path, empty folder, a non-image file, undecodable video.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise ValueError(f"{self.path}: no such file or folder")
        self.is_video = os.path.isfile(self.path)
        self._cap = None
        self._pos = 0
        if self.is_video:
            self.names = None
            self._open()
            self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or 25.0
            count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
            self._claimed = count if count > 0 else None
            self._length = None
        else:
            self._files = list_frames(self.path)
            self.names = [os.path.basename(f) for f in self._files]
            self.fps = 25.0
            self._length = len(self._files)
        first = self.read(0)
        self.shape, self.dtype = first.shape, first.dtype

    def _open(self):
        if self._cap is not None:
            self._cap.release()
        cap = cv2.VideoCapture(self.path)
        if not cap.isOpened():
            raise ValueError(f"{self.path}: cannot open the video (unknown format, truncated "
                             f"or corrupt file)")
        self._cap, self._pos = cap, 0

    def __len__(self):
        """Number of frames (a video's header count until its end has been reached)."""
        if self._length is not None:
            return self._length
        return self._claimed if self._claimed is not None else 0

    def length_known(self):
        """True when :func:`len` is exact (always for folders)."""
        return self._length is not None

    def name(self, index):
        """Name of frame ``index``: its file name, or ``frame 12`` for video."""
        return self.names[index] if self.names is not None else f"frame {index}"

    def read(self, index):
        """Return frame ``index``, or None past the end of a video.

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
        if not self.is_video:
            if index >= self._length:
                return None
            frame = read_image(self._files[index])
            where = self._files[index]
        else:
            frame = self._read_video(index)
            if frame is None:
                return None
            where = f"{self.path} frame {index}"
        if hasattr(self, "shape") and (frame.shape != self.shape or frame.dtype != self.dtype):
            raise ValueError(f"{where}: frame of {_describe(frame.shape, frame.dtype)} differs "
                             f"from the first frame's {_describe(self.shape, self.dtype)}")
        return frame

    def _read_video(self, index):
        if self._length is not None and index >= self._length:
            return None
        if index < self._pos:
            self._open()
        while self._pos < index:
            if not self._cap.grab():
                return self._ended(self._pos, index)
            self._pos += 1
        ok, frame = self._cap.read()
        if not ok:
            return self._ended(index, index)
        self._pos += 1
        return _from_cv(frame, f"{self.path} frame {index}")

    def _ended(self, at, wanted):
        if self._claimed is not None and at < self._claimed:
            raise ValueError(f"{self.path}: frame {at} cannot be decoded (the header "
                             f"announces {self._claimed} frames; truncated or corrupt file?)")
        if at == 0:
            raise ValueError(f"{self.path}: the video holds no decodable frame")
        self._length = at
        return None

    def close(self):
        """Release the video file."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _describe(shape, dtype):
    return f"{shape[1]}x{shape[0]}{'x%d' % shape[2] if len(shape) == 3 else ''} {dtype}"


def to_integer_image(image, bits=8):
    """Convert an image in [0, 1] to ``uint8`` / ``uint16`` (rounded, clipped).

    Parameters
    ----------
    image : array
        Float in [0, 1] or integer image (integers are rescaled to ``bits``).
    bits : {8, 16}

    Returns
    -------
    ndarray
    """
    check_choice(bits, "bits", BITS)
    image = as_float_image(check_array(np.asarray(image), "image", ndim=(2, 3)), "image",
                           np.float64)
    levels = 2**bits - 1
    return np.clip(np.round(image * levels), 0, levels).astype(np.uint8 if bits == 8
                                                                 else np.uint16)


def _to_cv(image, bits):
    out = to_integer_image(image, bits)
    if out.ndim == 3:
        if out.shape[2] not in (1, 3):
            raise ValueError(f"image must have 1 or 3 channels, got {out.shape[2]}")
        out = out[..., ::-1] if out.shape[2] == 3 else out[..., 0]
    return np.ascontiguousarray(out)


def write_image(path, image, bits=8):
    """Write one frame atomically: to a hidden temporary file in the same folder, then
    ``os.replace``, so that ``path`` is either absent or complete.

    Parameters
    ----------
    path : str
        ``.png``, ``.tif``/``.tiff`` (8 or 16 bit) or ``.jpg`` (8 bit).
    image : array, shape (H, W) or (H, W, 3)
        Float in [0, 1] (RGB order) or integer image.
    bits : {8, 16}

    Raises
    ------
    ValueError
        Unknown extension, 16 bits in JPEG, or the encoder failed.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    check_choice(ext, "image extension", IMAGE_EXTENSIONS)
    if bits == 16 and ext in (".jpg", ".jpeg"):
        raise ValueError(f"{path}: JPEG cannot hold 16-bit samples; use .png or .tif")
    ok, buf = cv2.imencode(ext, _to_cv(image, bits))
    if not ok:
        raise ValueError(f"{path}: OpenCV could not encode the image")
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buf.tobytes())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


class VideoWriter:
    """8-bit video file written through ``cv2.VideoWriter``, made atomic as a whole: the
    frames go to a hidden temporary file beside ``path`` that replaces it on
    :meth:`close` (and is removed on :meth:`abort`).

    Parameters
    ----------
    path : str
        Output file; the container follows the extension (``.mp4``: MPEG-4 part 2,
        ``.avi``: Motion-JPEG, ...).
    fps : float
        Frame rate.
    size : tuple of int
        ``(width, height)`` of the frames.
    """

    def __init__(self, path, fps, size):
        self.path = os.fspath(path)
        ext = os.path.splitext(self.path)[1].lower()
        check_choice(ext, "video extension", VIDEO_EXTENSIONS)
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        self._tmp = os.path.join(folder, f".{os.path.basename(self.path)}.partial{ext}")
        self.size = (int(size[0]), int(size[1]))
        self._writer = cv2.VideoWriter(self._tmp, cv2.VideoWriter_fourcc(*FOURCC[ext]),
                                       float(fps), self.size)
        if not self._writer.isOpened():
            raise ValueError(f"{self.path}: OpenCV cannot write this video format")

    def write(self, image):
        """Append one frame (float in [0, 1] or uint8; RGB or grey)."""
        out = _to_cv(image, 8)
        if out.shape[1::-1] != self.size:
            raise ValueError(f"{self.path}: frame of {out.shape[1]}x{out.shape[0]} does not "
                             f"match the video's {self.size[0]}x{self.size[1]}")
        if out.ndim == 2:
            out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
        self._writer.write(out)

    def close(self):
        """Finish the file and move it into place."""
        self._writer.release()
        os.replace(self._tmp, self.path)

    def abort(self):
        """Drop the partial file."""
        self._writer.release()
        if os.path.exists(self._tmp):
            os.remove(self._tmp)


__all__ = ["FrameSource", "VideoWriter", "read_image", "write_image", "list_frames",
           "natural_key", "is_video_path", "to_integer_image", "IMAGE_EXTENSIONS",
           "VIDEO_EXTENSIONS"]

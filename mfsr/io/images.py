"""Still images and folders of frames (OpenCV): natural order, 8/16 bits, atomic writes.

Readers return frames as they are stored: ``uint8`` or ``uint16`` arrays, RGB on the last
axis for colour (OpenCV's BGR is swapped), 2-D for grey images. Writers take float images
in [0, 1] (or integer images) and write 8- or 16-bit PNG/TIFF. Every error about a file
names it.
"""
from __future__ import annotations

import os
import re
import tempfile

import cv2
import numpy as np

from ..core.color import as_float_image
from ..core.validation import check_array, check_choice

IMAGE_EXTENSIONS = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".m4v", ".avi", ".webm", ".y4m", ".ts", ".mts")
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


def describe_frame(shape, dtype):
    """``"WxH[xC] dtype"`` of a frame, for error messages."""
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


__all__ = ["read_image", "write_image", "list_frames", "natural_key", "is_video_path",
           "to_integer_image", "IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS"]

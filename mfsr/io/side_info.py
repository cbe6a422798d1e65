"""Bitstream side information of decoded video frames: picture type and H.264 QP map.

What the decoder knows of each frame beyond its pixels, as :class:`~mfsr.io.VideoReader`
records it while decoding (issue 25: the codec's error is not white noise, and the
bitstream says where and when it is larger):

- the **picture type** (``"I"``, ``"P"``, ``"B"``, ...), from FFmpeg's ``pict_type``,
  for every codec that reports one (H.264, H.265, MPEG-4, ...);
- the **macroblock QP map** of H.264, from FFmpeg's ``venc_params`` side data (the
  decoder opened with ``export_side_data=venc_params``): one quantiser per 16x16
  macroblock, ``(ceil(h / 16), ceil(w / 16))``, on FFmpeg's scale (0..51 for 8-bit
  video, up to ``51 + 6 (bits - 8)`` above). FFmpeg's HEVC decoder exports no QP, so
  H.265 frames have a picture type and no QP map.

No per-macroblock skip map is given: FFmpeg exports none through PyAV (its motion-vector
side data, ``export_mvs``, does not mark skipped blocks), and inferring one from the
vectors would not be robust.

Reading side information does not change the decoded pixels (the option only adds side
data to the frames).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

#: Codecs (FFmpeg decoder names) whose decoder is asked for the QP map.
QP_CODECS = ("h264",)
#: Side information recorded per reader (most recently decoded frames first kept).
SIDE_INFO_FRAMES = 256
#: Side length of an H.264 macroblock, pixels.
MACROBLOCK = 16
_PICTURE_TYPES = {1: "I", 2: "P", 3: "B", 4: "S", 5: "SI", 6: "SP", 7: "BI"}


@dataclass(frozen=True, eq=False)
class FrameSideInfo:
    """What the bitstream says of one decoded frame.

    Attributes
    ----------
    picture_type : str or None
        ``"I"``, ``"P"``, ``"B"`` (or ``"S"``, ``"SI"``, ``"SP"``, ``"BI"``) as the
        decoder reports it; None where it reports none.
    qp : ndarray or None
        H.264 macroblock QP map, int16, shape ``(ceil(h / 16), ceil(w / 16))`` in the
        orientation of the frames as read (turned with the display rotation); None for
        other codecs or where the decoder does not export it.

    Examples
    --------
    >>> info = FrameSideInfo("I", None)
    >>> info.picture_type, info.qp
    ('I', None)
    """

    picture_type: str | None
    qp: np.ndarray | None

    def __eq__(self, other):
        if not isinstance(other, FrameSideInfo):
            return NotImplemented
        if self.picture_type != other.picture_type or (self.qp is None) != (other.qp is None):
            return False
        return self.qp is None or (self.qp.shape == other.qp.shape and
                                   bool(np.array_equal(self.qp, other.qp)))

    __hash__ = None


def decoder_options(codec):
    """Decoder options that make FFmpeg export the side information of ``codec``.

    Parameters
    ----------
    codec : str
        FFmpeg decoder name of the stream (``"h264"``, ``"hevc"``, ...).

    Returns
    -------
    dict
        ``{"export_side_data": "venc_params"}`` for H.264, else empty.

    Examples
    --------
    >>> decoder_options("h264")
    {'export_side_data': 'venc_params'}
    >>> decoder_options("hevc")
    {}
    """
    return {"export_side_data": "venc_params"} if codec in QP_CODECS else {}


def picture_type(frame):
    """``"I"``, ``"P"``, ``"B"``, ... of a PyAV video frame, or None.

    Parameters
    ----------
    frame : av.VideoFrame

    Returns
    -------
    str or None
        None where the decoder reports no type (``AV_PICTURE_TYPE_NONE``).
    """
    value = getattr(frame, "pict_type", None)
    if value is None:
        return None
    try:           # an int in PyAV 18, an enum with a name in others
        return _PICTURE_TYPES.get(int(value))
    except (TypeError, ValueError):
        name = getattr(value, "name", None)
        return name if name in _PICTURE_TYPES.values() else None


def _side_data(frame):
    """The side data entries of a frame (PyAV 18.1.0 iterates over the entries, 18.1.1
    over their types, as a mapping)."""
    side = getattr(frame, "side_data", None)
    if side is None:
        return []
    try:
        return [side[k] if not hasattr(k, "type") else k for k in side]
    except (KeyError, TypeError, ValueError):
        return []


def _block_qp(entry, shape):
    """The QP map of a ``venc_params`` entry read from its bytes at once (FFmpeg's
    ``AVVideoEncParams``: the frame's ``qp``, then ``nb_blocks`` ``AVVideoBlockParams``
    of ``block_size`` bytes from ``blocks_offset``, each ``int src_x, src_y, w, h;
    int32 delta_qp``), or None where the layout is not that (PyAV's ``qp_map`` then)."""
    try:
        n, offset, size = int(entry.nb_blocks), int(entry.blocks_offset), int(entry.block_size)
        base = int(entry.qp)
        data = np.frombuffer(memoryview(entry), np.uint8)
    except (AttributeError, TypeError, ValueError, BufferError):
        return None
    if n != shape[0] * shape[1] or size < 20 or size % 4 or offset + n * size > data.size:
        return None
    blocks = data[offset:offset + n * size].view(np.int32).reshape(n, size // 4)
    x, y, w, h = (blocks[:, i] for i in range(4))
    if np.any(w != MACROBLOCK) or np.any(h != MACROBLOCK) or np.any(x % MACROBLOCK) or \
            np.any(y % MACROBLOCK):
        return None
    rows, cols = y // MACROBLOCK, x // MACROBLOCK
    if rows.min() < 0 or cols.min() < 0 or rows.max() >= shape[0] or cols.max() >= shape[1]:
        return None
    qp = np.full(shape, -1, np.int32)
    qp[rows, cols] = base + blocks[:, 4]
    return None if qp.min() < 0 else qp


def qp_map(frame, turns=0):
    """The macroblock QP map of a decoded H.264 frame, or None.

    Parameters
    ----------
    frame : av.VideoFrame
        Decoded by a decoder opened with :func:`decoder_options`.
    turns : int
        Quarter turns counter-clockwise (the display rotation applied to the pixels).

    Returns
    -------
    ndarray of int16, shape (ceil(h / 16), ceil(w / 16)), or None
        None when the frame carries no ``venc_params`` side data or its map does not
        have one entry per macroblock.
    """
    shape = (-(-frame.height // MACROBLOCK), -(-frame.width // MACROBLOCK))
    for entry in _side_data(frame):
        if not hasattr(entry, "qp_map"):
            continue
        qp = _block_qp(entry, shape)
        if qp is None:
            try:        # PyAV's own map (a Python loop over the blocks: ~13 ms at 4K)
                qp = np.asarray(entry.qp_map())
            except (ValueError, TypeError, RuntimeError):
                return None
        if qp.shape != shape or qp.dtype.kind not in "iu":
            return None
        qp = qp.astype(np.int16)
        return np.ascontiguousarray(np.rot90(qp, turns)) if turns % 4 else qp
    return None


def frame_side_info(frame, turns=0, qp=True):
    """The :class:`FrameSideInfo` of a decoded PyAV frame, or None when the decoder
    reported neither a picture type nor a QP map.

    Parameters
    ----------
    frame : av.VideoFrame
    turns : int
        Quarter turns counter-clockwise applied to the frame's pixels.
    qp : bool
        Whether to look for the QP map (the decoder was asked to export it).

    Returns
    -------
    FrameSideInfo or None
    """
    kind = picture_type(frame)
    qmap = qp_map(frame, turns) if qp else None
    if kind is None and qmap is None:
        return None
    return FrameSideInfo(kind, qmap)


class SideInfoCache:
    """Side information of the frames decoded last, by frame index (at most ``limit``:
    a 4K QP map is 64 KB).

    Parameters
    ----------
    limit : int
    """

    def __init__(self, limit=SIDE_INFO_FRAMES):
        self.limit = limit
        self._items = OrderedDict()

    def __contains__(self, index):
        return index in self._items

    def put(self, index, info):
        """Record ``info`` (a :class:`FrameSideInfo` or None) for frame ``index``."""
        self._items[index] = info
        self._items.move_to_end(index)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def get(self, index):
        """The recorded side information of frame ``index`` (KeyError if none)."""
        return self._items[index]


__all__ = ["FrameSideInfo", "SideInfoCache", "decoder_options", "picture_type", "qp_map",
           "frame_side_info", "QP_CODECS", "SIDE_INFO_FRAMES", "MACROBLOCK"]

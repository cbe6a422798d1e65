"""Y'CbCr of video files: the matrix and range stated, never guessed silently.

Decoded video is Y'CbCr with subsampled chroma; the RGB the library works on is made
here, with the matrix and range the file is tagged with. Untagged files follow FFmpeg's
and the broadcast convention: BT.709 from 720 lines up (HD and UHD), BT.601 below (SD),
limited ("tv") range. Written video is made the same way, in reverse, and tagged.

The luma/chroma weights (Kr, Kb) are ITU-R BT.601, BT.709, BT.2020 (non-constant
luminance) and SMPTE 240M; the tests check them and the code values against
``colour-science``'s ``RGB_to_YCbCr``. The conversion is written out here (float32, one
matrix product) because colour's takes seconds on a 4K frame.

Chroma is downsampled by the mean of each 2x2 (4:2:0) or 2x1 (4:2:2) block, the model
:mod:`mfsr.degradation.codec` assumes for decoded chroma, and upsampled by repeating each
sample over its block, as FFmpeg's default YUV -> RGB does (the codec detector relies on it).
"""
from __future__ import annotations

import numpy as np

from ..core.validation import check_array, check_choice

# (Kr, Kb) per matrix; Kg = 1 - Kr - Kb
WEIGHTS = {
    "bt601": (0.299, 0.114),
    "bt709": (0.2126, 0.0722),
    "bt2020nc": (0.2627, 0.0593),
    "smpte240m": (0.2122, 0.0865),
}
# FFmpeg's AVColorSpace numbers (libavutil/pixfmt.h) -> our names
AVCOL_SPC = {1: "bt709", 5: "bt601", 6: "bt601", 7: "smpte240m", 9: "bt2020nc"}
SPC_AVCOL = {"bt709": 1, "bt601": 6, "smpte240m": 7, "bt2020nc": 9}
RANGES = ("tv", "pc")
SUBSAMPLING = {"420": (2, 2), "422": (1, 2), "444": (1, 1)}   # (rows, columns) per sample
HD_LINES = 720


def default_matrix(height):
    """Matrix of an untagged video: BT.709 from 720 lines up, BT.601 below.

    Parameters
    ----------
    height : int
        Frame height in pixels.

    Returns
    -------
    str
        ``"bt709"`` or ``"bt601"``.

    Examples
    --------
    >>> default_matrix(540), default_matrix(2160)
    ('bt601', 'bt709')
    """
    return "bt709" if height >= HD_LINES else "bt601"


def _matrix(matrix):
    check_choice(matrix, "matrix", tuple(WEIGHTS))
    kr, kb = WEIGHTS[matrix]
    kg = 1.0 - kr - kb
    return np.array([[kr, kg, kb],
                     [-0.5 * kr / (1 - kb), -0.5 * kg / (1 - kb), 0.5],
                     [0.5, -0.5 * kg / (1 - kr), -0.5 * kb / (1 - kr)]])


def _levels(bits, color_range):
    """(luma offset, luma span, chroma span) in code values."""
    check_choice(color_range, "color_range", RANGES)
    top = 2**bits - 1
    if color_range == "pc":
        return 0.0, float(top), float(top)
    unit = 2 ** (bits - 8)
    return 16.0 * unit, 219.0 * unit, 224.0 * unit


def _block_mean(plane, rows, cols):
    h, w = plane.shape
    if (rows, cols) == (1, 1):
        return plane
    plane = np.pad(plane, ((0, -h % rows), (0, -w % cols)), mode="edge")
    h2, w2 = plane.shape
    return plane.reshape(h2 // rows, rows, w2 // cols, cols).mean(axis=(1, 3))


def rgb_to_ycbcr(rgb, matrix="bt709", bits=8, color_range="tv", subsampling="420"):
    """Non-linear R'G'B' in [0, 1] to Y'CbCr code values with subsampled chroma.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3)
        Float R'G'B' in [0, 1] (values outside are clipped).
    matrix : {"bt709", "bt601", "bt2020nc", "smpte240m"}
    bits : int
        Bit depth of the code values (8, 10, 12).
    color_range : {"tv", "pc"}
        Limited (16-235 / 16-240 at 8 bits) or full range.
    subsampling : {"420", "422", "444"}

    Returns
    -------
    tuple of ndarray
        ``(y, cb, cr)`` as ``uint16`` (``uint8`` at 8 bits); chroma planes of
        ``ceil(H / 2)`` rows (4:2:0) and ``ceil(W / 2)`` columns (4:2:0, 4:2:2).

    Examples
    --------
    >>> y, cb, cr = rgb_to_ycbcr(np.ones((4, 4, 3)), "bt709", 10)
    >>> int(y[0, 0]), int(cb[0, 0]), cb.shape
    (940, 512, (2, 2))
    """
    rgb = check_array(np.asarray(rgb), "rgb", ndim=3)
    if rgb.shape[2] != 3:
        raise ValueError(f"rgb must have 3 channels on its last axis, got {rgb.shape[2]}")
    check_choice(subsampling, "subsampling", tuple(SUBSAMPLING))
    offset, luma_span, chroma_span = _levels(bits, color_range)
    ycc = np.clip(rgb.astype(np.float32), 0, 1) @ _matrix(matrix).T.astype(np.float32)
    mid = 2 ** (bits - 1)
    rows, cols = SUBSAMPLING[subsampling]
    out_type = np.uint8 if bits == 8 else np.uint16
    top = 2**bits - 1
    y = offset + luma_span * ycc[..., 0]
    cb = mid + chroma_span * _block_mean(ycc[..., 1], rows, cols)
    cr = mid + chroma_span * _block_mean(ycc[..., 2], rows, cols)
    return tuple(np.clip(np.rint(p), 0, top).astype(out_type) for p in (y, cb, cr))


def ycbcr_to_rgb(y, cb, cr, matrix="bt709", bits=8, color_range="tv", out_bits=None):
    """Y'CbCr code values (chroma at any 4:2:0 / 4:2:2 / 4:4:4 size) to R'G'B'.

    ``R'G'B' = Y' + C(Cb, Cr)``: the chroma part ``C`` is computed once per chroma sample
    and repeated over its block. With ``out_bits``, the result is integer code values and
    the luma and chroma parts are rounded apart before they are added, as FFmpeg's
    table-driven converter does: the chroma computed back from the RGB of a block is then
    exactly the same at its pixels (rounding the sum instead adds a rounding noise that
    the 4:2:0 detector of :mod:`mfsr.degradation.codec` reads as chroma detail: its score
    on x264 frames went from 0.003 to 0.077). Each value is within one code of the exact
    conversion.

    Parameters
    ----------
    y, cb, cr : ndarray
        Integer planes; ``cb``/``cr`` of the luma's size or half of it in either axis.
    matrix : {"bt709", "bt601", "bt2020nc", "smpte240m"}
    bits : int
    color_range : {"tv", "pc"}
    out_bits : {None, 8, 16}
        None: float32 in [0, 1]; 8 or 16: ``uint8`` / ``uint16`` code values.

    Returns
    -------
    ndarray, shape (H, W, 3)

    Examples
    --------
    >>> rgb = ycbcr_to_rgb(np.full((2, 2), 235), np.full((1, 1), 128), np.full((1, 1), 128))
    >>> rgb[0, 0].tolist()
    [1.0, 1.0, 1.0]
    >>> ycbcr_to_rgb(np.full((2, 2), 126), np.full((1, 1), 90), np.full((1, 1), 160),
    ...              out_bits=8)[1, 1].tolist()
    [185, 119, 48]
    """
    check_choice(out_bits, "out_bits", (None, 8, 16))
    h, w = y.shape
    offset, luma_span, chroma_span = _levels(bits, color_range)
    mid = 2 ** (bits - 1)
    luma = (np.asarray(y, np.float32) - offset) / luma_span
    blocks = []
    for name, c in (("cb", cb), ("cr", cr)):
        rows, cols = -(-h // c.shape[0]), -(-w // c.shape[1])
        if (rows, cols) not in SUBSAMPLING.values() or c.shape != (-(-h // rows), -(-w // cols)):
            raise ValueError(f"{name} plane of {c.shape} does not fit a luma plane of {(h, w)}")
        blocks.append((np.asarray(c, np.float32) - mid) / chroma_span)
    if blocks[0].shape != blocks[1].shape:
        raise ValueError(f"cb {blocks[0].shape} and cr {blocks[1].shape} planes differ")
    inverse = np.linalg.inv(_matrix(matrix)).astype(np.float32)  # first column: all ones
    chroma = np.stack(blocks, axis=-1) @ inverse[:, 1:].T          # per chroma sample
    if out_bits is not None:
        top = 2**out_bits - 1
        luma, chroma = np.rint(luma * top), np.rint(chroma * top)
    else:
        top = 1
    chroma = np.repeat(np.repeat(chroma, rows, axis=0), cols, axis=1)[:h, :w]
    rgb = np.clip(luma[..., None] + chroma, 0, top)
    return rgb if out_bits is None else rgb.astype(np.uint8 if out_bits == 8 else np.uint16)


__all__ = ["rgb_to_ycbcr", "ycbcr_to_rgb", "default_matrix", "WEIGHTS", "RANGES"]

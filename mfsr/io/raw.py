"""Camera raw files (DNG, CR2, NEF, ARW, ...) through LibRaw, for raw bursts.

The reader returns the Bayer mosaic as the sensor wrote it, with what it takes to turn it
into a picture: the CFA pattern, the black and white levels, the as-shot white balance and
the camera-to-sRGB colour matrix. Nothing is demosaicked, denoised or scaled here; that is
the reconstruction's job (:mod:`mfsr.degradation.cfa` holds the CFA sampling, and
:func:`mfsr.core.color.render_srgb` renders its camera-linear RGB result).

LibRaw is reached through `rawpy <https://github.com/letmaik/rawpy>`_, an optional
dependency (``pip install "mfsr[raw]"``). Importing :mod:`mfsr` or this module never
imports it; :func:`read_raw` and :func:`read_raw_burst` do, and raise ``ImportError`` with
that command when it is missing.

Conventions (see :mod:`mfsr.degradation.cfa`): ``pattern`` names the 2x2 block at the
top-left pixel of ``mosaic`` read row by row, pixel ``(i, j)`` is the site
``2 * (i % 2) + (j % 2)``, and the four ``black_level`` values are in that site order.

What LibRaw does that is worth knowing:

- The visible area (``raw_image_visible``: the sensor without its masked border, the DNG
  ``ActiveArea``) always starts on an even row and column for Bayer sensors: LibRaw rounds
  an odd ``ActiveArea`` origin up (one row or column is lost), so that its colour indices
  hold on the full sensor and on the visible area alike. The pattern is read at the
  visible area's origin all the same (``raw_color(top_margin + i, left_margin + j)``).
- Black levels come from ``black_level_per_channel``: LibRaw's common black plus the
  per-colour part, indexed by colour index (0 R, 1 G, 2 B, 3 the second G), with a 2x2
  ``BlackLevelRepeatDim`` pattern folded in. They are mapped to sites through the colour
  index of each site. With an odd DNG ``ActiveArea`` origin LibRaw phases the 2x2 black
  pattern from its (rounded) visible origin rather than from ``ActiveArea`` as the DNG
  specification says, so the per-site values may be swapped for such files; uniform
  black levels are unaffected.
- ``DefaultCrop`` (the DNG's recommended output crop) is not applied: the mosaic is the
  whole visible area. The mosaic is in sensor orientation; ``flip`` holds LibRaw's
  orientation code (0 none, 3 180 degrees, 5 90 degrees counter-clockwise, 6 90 degrees
  clockwise) should the caller want to rotate the result.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..degradation.cfa import CFA_PATTERNS, raw_to_float

INSTALL_HINT = 'pip install "mfsr[raw]"'

# Linear sRGB (D65) -> CIE XYZ, the constants dcraw and LibRaw use (``xyz_rgb``).
SRGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423],
                        [0.212671, 0.715160, 0.072169],
                        [0.019334, 0.119193, 0.950227]])

WHITE_BALANCE_SOURCES = ("as_shot", "daylight", "none")
COLOR_MATRIX_SOURCES = ("rgb_xyz_matrix", "color_matrix", "identity")


def _rawpy():
    try:
        import rawpy
    except ImportError as exc:
        raise ImportError("reading camera raw files needs rawpy (LibRaw), an optional "
                          f"dependency of mfsr; install it with: {INSTALL_HINT}") from exc
    return rawpy


@dataclass(eq=False)
class RawImage:
    """One camera raw frame: the Bayer mosaic and what it takes to render it.

    Attributes
    ----------
    mosaic : ndarray, shape (h, w), uint16
        The visible raw area (sensor values, not scaled), CFA pattern ``pattern`` from its
        top-left pixel.
    pattern : {"RGGB", "BGGR", "GRBG", "GBRG"}
        The 2x2 block at ``mosaic[0:2, 0:2]``, read row by row.
    black_level : tuple of 4 float
        Black level of each site of the 2x2 block, in site order
        (``2 * (row % 2) + (col % 2)``; for ``"RGGB"``: R, G1, G2, B).
    white_level : float
        Saturation level (LibRaw's ``white_level``), in sensor units.
    white_balance : ndarray, shape (3,), float64
        R, G, B multipliers, normalised so that G is 1. See ``white_balance_source``.
    color_matrix : ndarray, shape (3, 3), float64
        Camera RGB (white balanced) to linear sRGB; each row sums to 1 (so white stays
        white). See ``color_matrix_source``.
    path : str
        The file read.
    white_balance_source : {"as_shot", "daylight", "none"}
        ``"as_shot"``: the camera's multipliers (rawpy's ``camera_whitebalance``; for a
        DNG, ``1 / AsShotNeutral``); ``"daylight"``: when those are missing, LibRaw's
        daylight multipliers (``daylight_whitebalance``); ``"none"``: neither is valid,
        the multipliers are ones.
    color_matrix_source : {"rgb_xyz_matrix", "color_matrix", "identity"}
        ``"rgb_xyz_matrix"``: derived from LibRaw's XYZ -> camera matrix (Adobe's
        ``ColorMatrix``) as ``inv(normalise_rows(xyz_to_cam @ SRGB_TO_XYZ))``, which is
        dcraw's ``rgb_cam``; normalising the rows of ``xyz_to_cam @ SRGB_TO_XYZ`` makes a
        white-balanced camera white map to sRGB white. ``"color_matrix"``: LibRaw's own
        camera -> sRGB matrix (``color_matrix[:, :3]``, already in that form; this is
        where LibRaw puts the matrix it derives from a DNG's ``ColorMatrix1/2``) when
        ``rgb_xyz_matrix`` is zero. ``"identity"``: neither is available.
    flip : int
        LibRaw's orientation code (0 none, 3 180 degrees, 5 90 degrees counter-clockwise,
        6 90 degrees clockwise); the mosaic itself is in sensor orientation.
    """

    mosaic: np.ndarray
    pattern: str
    black_level: tuple
    white_level: float
    white_balance: np.ndarray
    color_matrix: np.ndarray
    path: str
    white_balance_source: str = "as_shot"
    color_matrix_source: str = "rgb_xyz_matrix"
    flip: int = 0

    @property
    def shape(self):
        """``(h, w)`` of the mosaic."""
        return tuple(self.mosaic.shape)

    def to_float(self, clip=True):
        """The mosaic in [0, 1]: ``(mosaic - black) / (white - black)`` per site.

        Parameters
        ----------
        clip : bool
            Clip to [0, 1] (default). ``clip=False`` keeps the noise around black
            unbiased (negative values) and values above white; see
            :func:`mfsr.degradation.cfa.raw_to_float`.

        Returns
        -------
        ndarray, shape (h, w), float32
        """
        return raw_to_float(self.mosaic, self.black_level, self.white_level, clip=clip)


@dataclass(eq=False)
class RawBurstFiles:
    """Raw frames of one burst read from files, as a float stack with the metadata they
    share. (Not :class:`mfsr.degradation.RawBurst`, the simulated burst with its truth.)

    Attributes
    ----------
    frames : ndarray, shape (K, h, w), float32
        Each mosaic through :meth:`RawImage.to_float` (black 0, white 1).
    pattern, black_level, white_level
        Shared by every frame (checked).
    white_balance, color_matrix, white_balance_source, color_matrix_source, flip
        Those of the first frame (the reference); the others' may differ (auto white
        balance between shots) and are not used.
    paths : tuple of str
        The files, in stack order.
    """

    frames: np.ndarray
    pattern: str
    black_level: tuple
    white_level: float
    white_balance: np.ndarray
    color_matrix: np.ndarray
    paths: tuple
    white_balance_source: str = "as_shot"
    color_matrix_source: str = "rgb_xyz_matrix"
    flip: int = 0

    def __len__(self):
        return len(self.frames)


def _check_path(path, name="path"):
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path (str or os.PathLike), got "
                        f"{type(path).__name__}")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise ValueError(f"{path}: not a file (a camera raw file is needed)")
    return path


def _libraw_message(exc):
    msg = exc.args[0] if exc.args else str(exc)
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    return f"{type(exc).__name__}: {msg}"


def _site_colours(raw, path):
    """Colour letter and LibRaw colour index of the four sites of the visible area."""
    s = raw.sizes
    top, left = s.top_margin, s.left_margin
    desc = raw.color_desc.decode("ascii", "replace")
    # 4x4 so that a pattern that only repeats every 4 rows/columns is caught
    idx = np.array([[raw.raw_color(top + i, left + j) for j in range(4)] for i in range(4)])
    letters = [[desc[k] if 0 <= k < len(desc) else "?" for k in row] for row in idx]
    tiles = {"".join(letters[i][j] for i in (a, a + 1) for j in (b, b + 1))
             for a in (0, 2) for b in (0, 2)}
    name = "".join(letters[i][j] for i in (0, 1) for j in (0, 1))
    if len(tiles) != 1 or name not in CFA_PATTERNS:
        raise ValueError(f"{path}: not a 2x2 Bayer RGB sensor: LibRaw reports the colours "
                         f"{desc!r}, the 2x2 block {name!r} at the origin"
                         f"{'' if len(tiles) == 1 else ' not repeating every 2 pixels'}; "
                         f"valid patterns: {', '.join(CFA_PATTERNS)}")
    return name, [int(k) for k in idx[:2, :2].ravel()]


def _site_black(black_per_colour, colour_index):
    """Per-site black levels from LibRaw's per-colour ones (0 R, 1 G, 2 B, 3 G2)."""
    index = list(colour_index)
    greens = [k for k, c in enumerate(index) if c == 1]
    if len(greens) == 2:  # three-colour numbering: the second green is colour 3 for black
        index[greens[1]] = 3
    return tuple(float(black_per_colour[c]) for c in index)


def _valid_multipliers(values):
    v = np.asarray(values[:3], dtype=np.float64)
    return bool(np.all(np.isfinite(v)) and np.all(v > 0))


def _white_balance(raw):
    for source, values in (("as_shot", raw.camera_whitebalance),
                           ("daylight", raw.daylight_whitebalance)):
        if _valid_multipliers(values):
            v = np.asarray(values[:3], dtype=np.float64)
            return v / v[1], source
    return np.ones(3), "none"


def cam_xyz_to_srgb(xyz_to_cam):
    """Camera -> linear sRGB matrix from an XYZ -> camera matrix (dcraw's ``rgb_cam``).

    Parameters
    ----------
    xyz_to_cam : array_like, shape (3, 3)
        XYZ (D65) -> camera RGB, as Adobe's DNG ``ColorMatrix`` and LibRaw's
        ``rgb_xyz_matrix`` give it.

    Returns
    -------
    ndarray, shape (3, 3)
        ``inv(normalise_rows(xyz_to_cam @ SRGB_TO_XYZ))``: rows of the sRGB -> camera
        matrix scaled to sum to 1 (the white-balanced camera sees sRGB white as
        (1, 1, 1)), then inverted; its rows sum to 1 too.

    Raises
    ------
    ValueError
        A row of ``xyz_to_cam @ SRGB_TO_XYZ`` sums to 0 or the matrix is singular.

    Examples
    --------
    >>> m = cam_xyz_to_srgb(np.linalg.inv(SRGB_TO_XYZ))  # a camera that sees sRGB
    >>> np.allclose(m, np.eye(3))
    True
    """
    m = np.asarray(xyz_to_cam, dtype=np.float64)
    if m.shape != (3, 3) or not np.all(np.isfinite(m)):
        raise ValueError(f"xyz_to_cam must be a finite 3x3 matrix, got {m!r}")
    cam_rgb = m @ SRGB_TO_XYZ
    sums = cam_rgb.sum(axis=1, keepdims=True)
    if np.any(np.abs(sums) < 1e-12):
        raise ValueError(f"xyz_to_cam maps sRGB white to 0 in a channel: {m!r}")
    try:
        return np.linalg.inv(cam_rgb / sums)
    except np.linalg.LinAlgError as exc:
        raise ValueError(f"xyz_to_cam is singular: {m!r}") from exc


def _color_matrix(raw):
    xyz_to_cam = np.asarray(raw.rgb_xyz_matrix, dtype=np.float64)[:3]
    if np.any(xyz_to_cam != 0) and np.all(np.isfinite(xyz_to_cam)):
        try:
            return cam_xyz_to_srgb(xyz_to_cam), "rgb_xyz_matrix"
        except ValueError:
            pass
    cmatrix = np.asarray(raw.color_matrix, dtype=np.float64)[:, :3]
    if np.any(cmatrix != 0) and np.all(np.isfinite(cmatrix)):
        return cmatrix, "color_matrix"
    return np.eye(3), "identity"


def read_raw(path):
    """Read one camera raw file (anything LibRaw reads: DNG, CR2/CR3, NEF, ARW, RAF, ...).

    Parameters
    ----------
    path : str or os.PathLike
        The raw file.

    Returns
    -------
    RawImage
        The visible Bayer mosaic (uint16, sensor units) with its pattern, levels, as-shot
        white balance and camera -> sRGB matrix.

    Raises
    ------
    ImportError
        rawpy is not installed (``pip install "mfsr[raw]"``).
    FileNotFoundError
        No such file (the message names it).
    ValueError
        Not a file, not a raw file LibRaw can read (with LibRaw's message), or not a
        2x2 Bayer RGB sensor (X-Trans, Foveon, monochrome, linear DNG, CMYG, ...).
    TypeError
        ``path`` is not a path.

    Examples
    --------
    >>> frame = read_raw("burst/IMG_0001.dng")  # doctest: +SKIP
    >>> frame.pattern, frame.black_level, frame.white_level  # doctest: +SKIP
    ('RGGB', (512.0, 512.0, 512.0, 512.0), 16383.0)
    >>> cfa = frame.to_float()  # float32 in [0, 1], black at 0  # doctest: +SKIP
    """
    rawpy = _rawpy()
    path = _check_path(path)
    try:
        with rawpy.imread(path) as raw:
            try:
                cfa = raw.raw_pattern
            except NotImplementedError as exc:  # rawpy: a filter layout it cannot describe
                raise ValueError(f"{path}: not a 2x2 Bayer sensor ({exc})") from None
            if raw.raw_type != rawpy.RawType.Flat or cfa is None:
                raise ValueError(f"{path}: not a Bayer mosaic: LibRaw reads it as "
                                 f"{raw.num_colors} colour values per pixel (a linear DNG, "
                                 "Foveon or sRAW file)")
            if cfa.shape != (2, 2):
                kind = {(6, 6): " (Fujifilm X-Trans)", (1, 1): " (monochrome)"}.get(
                    cfa.shape, "")
                raise ValueError(f"{path}: not a 2x2 Bayer sensor: LibRaw reports a "
                                 f"{cfa.shape[0]}x{cfa.shape[1]} "
                                 f"colour filter pattern{kind}")
            pattern, colour_index = _site_colours(raw, path)
            mosaic = np.array(raw.raw_image_visible, dtype=np.uint16, copy=True)
            black = _site_black(raw.black_level_per_channel, colour_index)
            white = float(raw.white_level)
            wb, wb_source = _white_balance(raw)
            matrix, matrix_source = _color_matrix(raw)
            flip = int(raw.sizes.flip)
    except rawpy.LibRawError as exc:
        raise ValueError(f"{path}: LibRaw cannot read it as a camera raw file "
                         f"({_libraw_message(exc)})") from exc
    if mosaic.ndim != 2 or min(mosaic.shape) < 2:
        raise ValueError(f"{path}: raw area of shape {mosaic.shape} is not a 2-D mosaic")
    if not white > max(black):
        raise ValueError(f"{path}: white level {white} is not above the black levels {black}")
    return RawImage(mosaic=mosaic, pattern=pattern, black_level=black, white_level=white,
                    white_balance=wb, color_matrix=matrix, path=path,
                    white_balance_source=wb_source, color_matrix_source=matrix_source,
                    flip=flip)


def read_raw_burst(paths, clip=True):
    """Read the raw frames of one burst into a float stack.

    Parameters
    ----------
    paths : sequence of str or os.PathLike
        The files, reference first (at least one).
    clip : bool
        Clip each frame to [0, 1] (default); see :meth:`RawImage.to_float`.

    Returns
    -------
    RawBurstFiles
        ``frames`` (K, h, w) float32 with the shared pattern and levels, and the first
        frame's white balance and colour matrix.

    Raises
    ------
    ValueError
        A file :func:`read_raw` rejects, or a frame whose pattern, size or levels differ
        from the first one's (the message names it).
    TypeError
        ``paths`` is not a sequence of paths (a single string is refused).

    Examples
    --------
    >>> burst = read_raw_burst(sorted(glob.glob("burst/*.dng")))  # doctest: +SKIP
    >>> burst.frames.shape, burst.pattern  # doctest: +SKIP
    ((8, 3000, 4000), 'RGGB')
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError("paths must be a sequence of file paths, got a single path; "
                        "use [path] for one frame")
    try:
        paths = list(paths)
    except TypeError:
        raise TypeError(f"paths must be a sequence of file paths, got "
                        f"{type(paths).__name__}") from None
    if not paths:
        raise ValueError("paths is empty: a burst needs at least one raw file")
    if not isinstance(clip, (bool, np.bool_)):
        raise TypeError(f"clip must be True or False, got {clip!r}")
    _rawpy()
    first = read_raw(paths[0])
    frames = np.empty((len(paths),) + first.shape, dtype=np.float32)
    frames[0] = first.to_float(clip=clip)
    names = [first.path]
    for k, path in enumerate(paths[1:], start=1):
        frame = read_raw(path)
        for what, mine, ref in (("size (h, w)", frame.shape, first.shape),
                                ("CFA pattern", frame.pattern, first.pattern),
                                ("black levels", frame.black_level, first.black_level),
                                ("white level", frame.white_level, first.white_level)):
            if mine != ref:
                raise ValueError(f"{frame.path}: {what} {mine} differs from {ref} of the "
                                 f"first frame {first.path}; a burst needs one sensor mode")
        frames[k] = frame.to_float(clip=clip)
        names.append(frame.path)
    return RawBurstFiles(frames=frames, pattern=first.pattern, black_level=first.black_level,
                    white_level=first.white_level, white_balance=first.white_balance,
                    color_matrix=first.color_matrix, paths=tuple(names),
                    white_balance_source=first.white_balance_source,
                    color_matrix_source=first.color_matrix_source, flip=first.flip)


__all__ = ["RawImage", "RawBurstFiles", "read_raw", "read_raw_burst", "cam_xyz_to_srgb",
           "SRGB_TO_XYZ"]

"""HDR10 static metadata: the content light levels and the mastering display, for x265.

:func:`light_levels` and :class:`LightLevels` measure MaxCLL / MaxFALL (CTA-861.3) on
linear BT.2020 light (:func:`light_levels_of_signal` on coded frames),
:func:`mastering_display` describes the mastering display (SMPTE ST 2086), and
:func:`x265_hdr10_params` writes both as the x265 parameters of the HDR10 SEI messages.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.validation import check_choice, check_float
from .checks import as_nits, check_peak, check_rgb
from .transfer import colour_science, decode

MASTERING_PRIMARIES = ("ITU-R BT.2020", "P3-D65")
# x265 --master-display units: chromaticity in 0.00002, luminance in 0.0001 cd/m2
_X265_XY_UNIT, _X265_L_UNIT = 0.00002, 0.0001


def _frames(a):
    """(K, H, W, 3) view of a frame or a stack of frames."""
    return a[None] if a.ndim == 3 else a


class LightLevels:
    """Streaming MaxCLL / MaxFALL (CTA-861.3) over the frames of a video.

    For each pixel, its light level is ``max(R, G, B)`` of the linear BT.2020 display light
    in cd/m2 (what a display decodes from the signal; negative values count as 0). MaxCLL
    is the largest light level over all pixels of all frames; MaxFALL the largest, over
    frames, of the frame's mean light level. Values are kept unrounded (HDR10 signals them
    as integers: :func:`x265_hdr10_params` rounds).

    Examples
    --------
    >>> import numpy as np
    >>> from mfsr.grading import LightLevels
    >>> levels = LightLevels()
    >>> levels.update(np.full((2, 2, 3), 100.0)).update(np.full((2, 2, 3), 50.0))
    LightLevels(frames=2, max_cll=100.0, max_fall=100.0)
    """

    def __init__(self):
        self.frames = 0
        self._max_cll = 0.0
        self._max_fall = 0.0

    def update(self, frame_linear_nits):
        """Add a frame (H, W, 3) or frames (K, H, W, 3) of linear BT.2020 light in cd/m2.

        Parameters
        ----------
        frame_linear_nits : array, shape (H, W, 3) or (K, H, W, 3)
            Linear light in cd/m2 (for example :func:`~mfsr.grading.transfer.decode` of the
            coded frames).

        Returns
        -------
        LightLevels
            ``self``, for chaining.

        Raises
        ------
        TypeError, ValueError
            Not a real (H, W, 3) / (K, H, W, 3) array, or NaN/Inf.
        """
        nits = as_nits(frame_linear_nits, "frame_linear_nits")
        for frame in _frames(nits):
            level = np.maximum(frame.max(axis=-1), 0)
            self._max_cll = max(self._max_cll, float(level.max()))
            self._max_fall = max(self._max_fall, float(level.mean(dtype=np.float64)))
            self.frames += 1
        return self

    @property
    def max_cll(self):
        """Maximum content light level so far (cd/m2); 0 before any frame."""
        return self._max_cll

    @property
    def max_fall(self):
        """Maximum frame-average light level so far (cd/m2); 0 before any frame."""
        return self._max_fall

    def __repr__(self):
        return (f"LightLevels(frames={self.frames}, max_cll={self._max_cll:.1f}, "
                f"max_fall={self._max_fall:.1f})")


def light_levels(frames_linear_nits):
    """MaxCLL and MaxFALL (CTA-861.3) of frames of linear light, in cd/m2.

    Per pixel, the light level is ``max(R, G, B)`` in cd/m2 (negative values as 0); MaxCLL
    is its maximum over all pixels of all frames, MaxFALL the maximum over frames of its
    frame average. The batch form of :class:`LightLevels`.

    Parameters
    ----------
    frames_linear_nits : array, shape (K, H, W, 3) or (H, W, 3)
        Linear BT.2020 display light in cd/m2 (one frame, or K frames).

    Returns
    -------
    max_cll, max_fall : float
        In cd/m2, unrounded.

    Raises
    ------
    TypeError, ValueError
        Not a real (H, W, 3) / (K, H, W, 3) array, or NaN/Inf.

    Examples
    --------
    >>> import numpy as np
    >>> from mfsr import grading
    >>> frames = np.zeros((2, 2, 2, 3))
    >>> frames[0, 0, 0] = (400.0, 10.0, 0.0)   # one bright red pixel in frame 0
    >>> frames[1] = 50.0                        # frame 1: flat grey
    >>> grading.light_levels(frames)
    (400.0, 100.0)
    """
    levels = LightLevels().update(as_nits(frames_linear_nits, "frames_linear_nits"))
    return levels.max_cll, levels.max_fall


def light_levels_of_signal(signal, transfer="pq", peak=1000.0):
    """MaxCLL and MaxFALL (cd/m2) of coded frames: :func:`~mfsr.grading.transfer.decode`
    (as a display of nominal peak ``peak`` does), then :func:`light_levels`, one frame at a
    time.

    Parameters
    ----------
    signal : array, shape (K, H, W, 3) or (H, W, 3)
        BT.2020 PQ or HLG R'G'B' in [0, 1] (or integer).
    transfer : {"pq", "hlg"}
        Transfer function of ``signal``.
    peak : float
        Nominal peak of the HLG display (cd/m2).

    Returns
    -------
    max_cll, max_fall : float
        In cd/m2, unrounded.

    Raises
    ------
    TypeError, ValueError
        As :func:`~mfsr.grading.transfer.decode`.

    Examples
    --------
    >>> import numpy as np
    >>> from mfsr import grading
    >>> cll, fall = grading.light_levels_of_signal(np.full((1, 2, 2, 3), 0.75), "pq")
    >>> print(f"{cll:.1f} {fall:.1f}")
    983.4 983.4
    """
    v = check_rgb(signal, "signal")
    levels = LightLevels()
    for frame in _frames(v):
        levels.update(decode(frame, transfer=transfer, peak=peak))
    return levels.max_cll, levels.max_fall


@dataclass(frozen=True)
class MasteringDisplay:
    """Colour volume of the mastering display (SMPTE ST 2086), as HDR10 signals it.

    Attributes
    ----------
    red, green, blue, white : tuple of float
        CIE 1931 (x, y) chromaticities of the primaries and of the white point.
    max_luminance, min_luminance : float
        Peak and black luminance in cd/m2.
    """

    red: tuple
    green: tuple
    blue: tuple
    white: tuple
    max_luminance: float
    min_luminance: float


def mastering_display(peak=1000.0, min_luminance=0.0001, primaries="ITU-R BT.2020"):
    """The mastering display of the HDR10 output: primaries and white from colour-science.

    Parameters
    ----------
    peak : float
        Peak luminance, cd/m2, in (203, 10000].
    min_luminance : float
        Black luminance, cd/m2, in [0, 1).
    primaries : {"ITU-R BT.2020", "P3-D65"}
        colour-science colourspace whose primaries and (D65) white point are taken.

    Returns
    -------
    MasteringDisplay

    Raises
    ------
    TypeError, ValueError
        A number out of range or an unknown ``primaries`` (named in the message).

    Examples
    --------
    >>> from mfsr import grading
    >>> d = grading.mastering_display(1000.0)
    >>> d.green, d.white, d.max_luminance
    ((0.17, 0.797), (0.3127, 0.329), 1000.0)
    """
    peak = check_peak(peak)
    min_luminance = check_float(min_luminance, "min_luminance", minimum=0.0)
    if min_luminance >= 1.0:
        raise ValueError(f"min_luminance must be < 1 cd/m2, got {min_luminance}")
    check_choice(primaries, "primaries", MASTERING_PRIMARIES)
    space = colour_science().RGB_COLOURSPACES[primaries]
    (r, g, b), wp = np.asarray(space.primaries, float), np.asarray(space.whitepoint, float)

    def xy(p):
        return (round(float(p[0]), 6), round(float(p[1]), 6))

    return MasteringDisplay(red=xy(r), green=xy(g), blue=xy(b), white=xy(wp),
                            max_luminance=peak, min_luminance=min_luminance)


def _units(value, unit):
    return int(np.floor(value / unit + 0.5))


def x265_hdr10_params(display, max_cll, max_fall):
    """The x265 parameters of HDR10's static metadata, for ``-x265-params``.

    ``master-display=G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min)`` (x265's order: green, blue, red,
    white; chromaticities in units of 0.00002, luminances in 0.0001 cd/m2) and
    ``max-cll=MaxCLL,MaxFALL`` in cd/m2, all rounded to the nearest integer.

    Parameters
    ----------
    display : MasteringDisplay
        From :func:`mastering_display`.
    max_cll, max_fall : float
        Content light levels in cd/m2 (:func:`light_levels`), 0 to 65535, with
        ``max_fall <= max_cll``.

    Returns
    -------
    str
        ``"master-display=...:max-cll=...,..."``.

    Raises
    ------
    TypeError
        ``display`` not a :class:`MasteringDisplay`, or a level not a number.
    ValueError
        A level out of range, or ``max_fall > max_cll``.

    Examples
    --------
    >>> from mfsr import grading
    >>> grading.x265_hdr10_params(grading.mastering_display(1000.0, 0.0001), 1000, 400)
    'master-display=G(8500,39850)B(6550,2300)R(35400,14600)WP(15635,16450)L(10000000,1):max-cll=1000,400'
    """
    if not isinstance(display, MasteringDisplay):
        raise TypeError(f"display must be a MasteringDisplay (see mastering_display), got "
                        f"{type(display).__name__}")
    max_cll = check_float(max_cll, "max_cll", minimum=0.0, maximum=65535.0)
    max_fall = check_float(max_fall, "max_fall", minimum=0.0, maximum=65535.0)
    if max_fall > max_cll:
        raise ValueError(f"max_fall ({max_fall}) must be <= max_cll ({max_cll})")

    def xy(p):
        return f"({_units(p[0], _X265_XY_UNIT)},{_units(p[1], _X265_XY_UNIT)})"

    levels = (f"L({_units(display.max_luminance, _X265_L_UNIT)},"
              f"{_units(display.min_luminance, _X265_L_UNIT)})")
    master = (f"G{xy(display.green)}B{xy(display.blue)}R{xy(display.red)}"
              f"WP{xy(display.white)}{levels}")
    return f"master-display={master}:max-cll={_units(max_cll, 1)},{_units(max_fall, 1)}"


__all__ = ["light_levels", "light_levels_of_signal", "LightLevels", "MasteringDisplay",
           "mastering_display", "x265_hdr10_params"]

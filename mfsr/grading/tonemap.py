"""SDR to HDR and back: BT.709 SDR frames to BT.2020 PQ (HDR10) or HLG signals by inverse
tone mapping, and the tone mapping back to SDR.

The super-resolved frames are BT.709 SDR: non-linear R'G'B' in [0, 1]. This module turns
them into BT.2100 HDR signals, on plain float arrays (writing a video file is left to the
encoder; :func:`~mfsr.grading.metadata.x265_hdr10_params` gives it the static metadata):

1. **Linearise** the SDR signal with the BT.1886 EOTF, gamma 2.4, black 0, white 1
   (``L = V**2.4``; ``sdr_eotf="srgb"`` uses the IEC 61966-2-1 sRGB EOTF instead): relative
   display light, 1 = SDR peak white.
2. **Primaries**: BT.709 to BT.2020 (both D65) with colour-science's 3x3 matrix. Every
   BT.709 colour lies inside BT.2020 and the matrix has no negative entry, so signals
   clipped to [0, 1] (step 1 clips the super-resolution's over- and undershoots) give
   no negative BT.2020 values.
3. **Inverse tone mapping** on the BT.2020 luminance ``Y = 0.2627 R + 0.6780 G + 0.0593 B``,
   then ``RGB * f(Y) / Y`` (chromaticity, hence hue, kept). ``f`` is the inverse tone curve
   of Report ITU-R BT.2446-1 method C (a linear part, then an exponential highlight part,
   C1 at the knee) with its knee put at SDR diffuse white: with ``w`` the SDR diffuse
   white (relative luminance), ``Y_ref = 203`` cd/m2 (ITU-R BT.2408 HDR reference white)
   and ``u = (Y - w) / w``::

       f(Y) = Y_ref * Y / w                           Y <= w
       f(Y) = Y_ref * (1 + (exp(b * u) - 1) / b)      Y >  w

   ``b > 0`` is solved so that SDR peak (``Y = 1``) lands at ``peak`` cd/m2. In method C's
   own notation this is ``Y_HDR = Y_SDR / k1`` below the inflection point and
   ``Y_HDR = Y_HDR,ip * (exp((Y_SDR - k4) / k2) + k3)`` above, with ``Y_SDR,ip = w``,
   ``Y_HDR,ip = 203``, ``k1 = w / 203``, ``k3 = 1 - 1 / b``, ``k2 = k1 (1 - k3) Y_HDR,ip``,
   ``k4 = k1 Y_HDR,ip - k2 ln(1 - k3)`` (:func:`itm_parameters`). The default ``w`` is
   :data:`DIFFUSE_WHITE`, 0.9065: the SDR luminance that method C's published forward
   curve (``k1 = 0.83802``, ``k3 = 0.74204``, ``Y_SDR,ip = 58.535`` %) gives 203 cd/m2,
   i.e. SDR signal 0.960 through BT.1886. Below diffuse white the mapping is a pure gain
   of ``203 / w`` (BT.2408's display-light SDR-to-HDR mapping, with diffuse white rather
   than signal 1.0 at 203 cd/m2); ``f(Y) / Y`` grows with ``Y`` and reaches ``peak`` at
   ``Y = 1``, so no channel of an SDR colour exceeds ``peak``.
4. **Coding**: SMPTE ST 2084 (PQ, absolute, 10000 cd/m2 at signal 1) or BT.2100 HLG with
   nominal peak ``L_W = peak``, black 0 and the BT.2100 system gamma
   ``1.2 + 0.42 log10(peak / 1000)``; 203 cd/m2 is HLG 0.7499 at ``peak=1000`` (BT.2408's
   75 %). The transfer functions are colour-science's (:mod:`mfsr.grading.transfer`).

:func:`tone_map_to_sdr` goes back (the forward method C curve with the same parameters),
to preview HDR frames on an SDR screen. The HDR10 metadata (MaxCLL / MaxFALL, the
mastering display) is :mod:`mfsr.grading.metadata`'s.

colour-science is imported on first use, not with ``mfsr`` (it takes about a second).
"""
from __future__ import annotations

import functools

import numpy as np

from ..core.validation import check_float
from .checks import PQ_PEAK, REFERENCE_WHITE, as_signal, check_peak, check_sdr_eotf, check_transfer
from .transfer import colour_science, decode, encode, per_pixel, sdr_linear, sdr_nonlinear

# BT.2446-1 method C's published tone curve, HDR cd/m2 -> SDR % of SDR peak. These three
# give its k2 = 15.09968 and k4 = 78.99439; Y_SDR,ip = 58.535 (not 58.5) is what matches them.
METHOD_C_K1, METHOD_C_K3, METHOD_C_SDR_IP = 0.83802, 0.74204, 58.535


def _method_c_forward(y_hdr, k1=METHOD_C_K1, k3=METHOD_C_K3, y_sdr_ip=METHOD_C_SDR_IP):
    """BT.2446 method C's tone curve: HDR luminance (cd/m2) -> SDR luminance (%)."""
    y_hdr_ip = y_sdr_ip / k1
    k2 = k1 * (1 - k3) * y_hdr_ip
    k4 = k1 * y_hdr_ip - k2 * np.log(1 - k3)
    if y_hdr < y_hdr_ip:
        return k1 * y_hdr
    return k2 * np.log(y_hdr / y_hdr_ip - k3) + k4


# SDR diffuse white, relative display luminance (1 = SDR peak): where method C puts 203 cd/m2
DIFFUSE_WHITE = float(_method_c_forward(REFERENCE_WHITE) / 100.0)


@functools.lru_cache(maxsize=None)
def _rgb_matrix(source, target):
    c = colour_science()
    return c.matrix_RGB_to_RGB(c.RGB_COLOURSPACES[source], c.RGB_COLOURSPACES[target],
                               chromatic_adaptation_transform=None)


@functools.lru_cache(maxsize=None)
def _bt2020_luminance_weights():
    return np.array(colour_science().RGB_COLOURSPACES["ITU-R BT.2020"].matrix_RGB_to_XYZ[1])


# ---------------------------------------------------------------------------- checks


def _check_diffuse_white(diffuse_white):
    w = check_float(diffuse_white, "diffuse_white", minimum=0.0, strict_min=True)
    if w >= 1.0:
        raise ValueError(f"diffuse_white must be < 1 (SDR peak), got {w}")
    return w


# ---------------------------------------------------------------------------- tone curve


def _growth(b, u):
    """``(exp(b u) - 1) / b``, ``u`` at ``b = 0``."""
    return u if b == 0 else np.expm1(b * u) / b


@functools.lru_cache(maxsize=256)
def _highlight_rate(peak, diffuse_white):
    """The ``b`` that takes SDR peak to ``peak``: ``203 (1 + growth(b, u1)) = peak``."""
    from scipy.optimize import brentq

    u1 = (1.0 - diffuse_white) / diffuse_white
    target = peak / REFERENCE_WHITE - 1.0
    if target <= u1:  # only at peak == 203 / w (checked before): the straight line
        return 0.0
    hi = 1.0
    while _growth(hi, u1) < target:
        hi *= 2.0
    return float(brentq(lambda b: np.log(_growth(b, u1) / target), hi / 2 if hi > 1 else 0.0,
                        hi, xtol=1e-13, rtol=1e-14))


def _curve(peak, diffuse_white):
    peak = check_peak(peak)
    w = _check_diffuse_white(diffuse_white)
    lowest = REFERENCE_WHITE / w
    if peak < lowest:
        raise ValueError(f"peak must be >= 203 / diffuse_white = {lowest:.1f} cd/m2 (below it "
                         f"the highlights would be compressed, not expanded), got {peak}")
    return w, _highlight_rate(peak, w)


def _expand(y, w, b):
    """SDR relative luminance -> HDR cd/m2 (the inverse tone curve ``f``)."""
    u = np.maximum(y - w, 0.0) / w
    return np.where(y <= w, REFERENCE_WHITE * y / w, REFERENCE_WHITE * (1.0 + _growth(b, u)))


def _compress(y, w, b):
    """HDR cd/m2 -> SDR relative luminance: the inverse of :func:`_expand`."""
    r = np.maximum(y / REFERENCE_WHITE - 1.0, 0.0)
    u = r if b == 0 else np.log1p(b * r) / b
    return np.where(y <= REFERENCE_WHITE, w * y / REFERENCE_WHITE, w * (1.0 + u))


def _scale_luminance(rgb, curve, gain_at_black):
    """``rgb * curve(Y) / Y`` with ``Y`` the BT.2020 luminance (``gain_at_black`` at Y=0)."""
    y = rgb @ _bt2020_luminance_weights()
    safe = np.maximum(y, 1e-12)
    ratio = np.where(y > 1e-12, curve(safe) / safe, gain_at_black)
    return rgb * ratio[:, None]


def itm_parameters(peak=1000.0, diffuse_white=DIFFUSE_WHITE):
    """The inverse tone curve's constants, in BT.2446 method C's notation.

    Parameters
    ----------
    peak : float
        HDR luminance (cd/m2) of SDR peak white; at least ``203 / diffuse_white``.
    diffuse_white : float
        SDR diffuse white as relative display luminance (1 = SDR peak), in (0, 1).

    Returns
    -------
    dict
        ``b`` (highlight rate), ``k1``, ``k2``, ``k3``, ``k4``, ``y_sdr_ip`` (= ``w``,
        relative) and ``y_hdr_ip`` (203 cd/m2), with SDR luminance relative to SDR peak
        (method C's percentages divided by 100); ``k2`` and ``k4`` are NaN when ``b = 0``.

    Raises
    ------
    ValueError
        ``peak`` outside (203, 10000] or below ``203 / diffuse_white``, ``diffuse_white``
        outside (0, 1).

    Examples
    --------
    >>> from mfsr import grading
    >>> p = grading.itm_parameters(1000.0)
    >>> print(f"k1={p['k1']:.5f} k3={p['k3']:.5f} b={p['b']:.2f}")
    k1=0.00447 k3=0.98060 b=51.54
    """
    w, b = _curve(peak, diffuse_white)
    k1 = w / REFERENCE_WHITE
    k3 = 1.0 - 1.0 / b if b > 0 else -np.inf
    k2 = k1 * (1 - k3) * REFERENCE_WHITE if b > 0 else np.nan
    k4 = k1 * REFERENCE_WHITE - k2 * np.log(1 - k3) if b > 0 else np.nan
    return {"b": b, "k1": k1, "k2": float(k2), "k3": float(k3), "k4": float(k4),
            "y_sdr_ip": w, "y_hdr_ip": REFERENCE_WHITE}


# ---------------------------------------------------------------------------- SDR -> HDR


def inverse_tone_map(rgb_sdr, peak=1000.0, diffuse_white=DIFFUSE_WHITE, sdr_eotf="bt1886"):
    """BT.709 SDR R'G'B' to linear BT.2020 display light in cd/m2.

    Steps 1-3 of the module docstring: SDR EOTF, BT.709 -> BT.2020, then the inverse tone
    curve ``f`` on the BT.2020 luminance ``Y`` applied as ``RGB * f(Y) / Y``::

        f(Y) = 203 Y / w                          Y <= w
        f(Y) = 203 (1 + (exp(b u) - 1) / b)       Y >  w,   u = (Y - w) / w

    with ``b`` such that ``f(1) = peak`` (:func:`itm_parameters`). The curve is increasing,
    continuous with a continuous slope at ``w``; diffuse white goes to 203 cd/m2 and SDR
    white (signal 1) to ``peak``.

    Parameters
    ----------
    rgb_sdr : array, shape (H, W, 3) or (K, H, W, 3)
        Non-linear BT.709 R'G'B', float in [0, 1] (values outside are clipped) or integer
        (scaled by its dtype's range).
    peak : float
        Luminance (cd/m2) of SDR white, at least ``203 / diffuse_white`` (223.9 with the
        default) and at most 10000.
    diffuse_white : float
        SDR diffuse white as relative display luminance (1 = SDR peak), in (0, 1); the
        default :data:`DIFFUSE_WHITE` (0.9065, BT.1886 signal 0.960) is BT.2446 method C's.
    sdr_eotf : {"bt1886", "srgb"}
        SDR linearisation: BT.1886 with gamma 2.4 and black 0 (``V**2.4``), or sRGB.

    Returns
    -------
    ndarray
        Linear BT.2020 RGB in cd/m2, in [0, peak], float32 (float64 for float64 input).

    Raises
    ------
    TypeError
        ``rgb_sdr`` not a real array, or a parameter not a number.
    ValueError
        ``rgb_sdr`` not (H, W, 3) / (K, H, W, 3) or not finite; ``peak``,
        ``diffuse_white`` or ``sdr_eotf`` out of range (the message names it).

    Examples
    --------
    >>> import numpy as np
    >>> from mfsr import grading
    >>> grey = np.full((1, 1, 3), grading.DIFFUSE_WHITE ** (1 / 2.4), np.float32)
    >>> print(f"{grading.inverse_tone_map(grey)[0, 0, 1]:.1f}")
    203.0
    >>> print(f"{grading.inverse_tone_map(np.ones((1, 1, 3)), peak=1000.0)[0, 0, 0]:.1f}")
    1000.0
    """
    rgb = as_signal(rgb_sdr, "rgb_sdr")
    w, b = _curve(peak, diffuse_white)
    sdr_eotf = check_sdr_eotf(sdr_eotf)
    to_2020 = _rgb_matrix("ITU-R BT.709", "ITU-R BT.2020")

    def convert(block):
        lin = sdr_linear(block, sdr_eotf) @ to_2020.T
        return _scale_luminance(lin, lambda y: _expand(y, w, b), REFERENCE_WHITE / w)

    return per_pixel(convert, rgb)


def sdr_to_hdr(rgb_sdr, transfer="pq", peak=1000.0, max_cll=None,
               diffuse_white=DIFFUSE_WHITE, sdr_eotf="bt1886"):
    """BT.709 SDR R'G'B' to a BT.2020 PQ or HLG R'G'B' signal: :func:`inverse_tone_map`
    then :func:`~mfsr.grading.transfer.encode`.

    Parameters
    ----------
    rgb_sdr : array, shape (H, W, 3) or (K, H, W, 3)
        Non-linear BT.709 R'G'B' in [0, 1] (or integer), as the super-resolution gives it.
    transfer : {"pq", "hlg"}
        Transfer function of the result.
    peak : float
        Luminance (cd/m2) of SDR white (see :func:`inverse_tone_map`), also the HLG
        display's nominal peak.
    max_cll : float, optional
        When given, linear light is clipped per channel to ``max_cll`` cd/m2 before coding
        (so that the content stays within a signalled MaxCLL); in (0, 10000].
    diffuse_white, sdr_eotf
        As in :func:`inverse_tone_map`.

    Returns
    -------
    ndarray
        Coded BT.2020 R'G'B' in [0, 1], float32 (float64 for float64 input), same shape.

    Raises
    ------
    TypeError, ValueError
        As :func:`inverse_tone_map` and :func:`~mfsr.grading.transfer.encode`; ``max_cll``
        out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from mfsr import grading
    >>> white = np.ones((2, 2, 3))
    >>> np.round(grading.sdr_to_hdr(white, "pq", peak=1000.0)[0, 0], 4).tolist()
    [0.7518, 0.7518, 0.7518]
    >>> np.round(grading.sdr_to_hdr(white, "pq", peak=1000.0, max_cll=600.0)[0, 0], 4).tolist()
    [0.6963, 0.6963, 0.6963]
    """
    transfer = check_transfer(transfer)
    if max_cll is not None:
        max_cll = check_float(max_cll, "max_cll", minimum=0.0, strict_min=True,
                              maximum=PQ_PEAK)
    nits = inverse_tone_map(rgb_sdr, peak=peak, diffuse_white=diffuse_white,
                            sdr_eotf=sdr_eotf)
    if max_cll is not None:
        np.minimum(nits, max_cll, out=nits)
    return encode(nits, transfer=transfer, peak=peak)


def tone_map_to_sdr(signal, transfer="pq", peak=1000.0, diffuse_white=DIFFUSE_WHITE,
                    sdr_eotf="bt1886"):
    """A BT.2020 PQ or HLG signal to BT.709 SDR R'G'B', to look at HDR frames on an SDR
    screen: the inverse of :func:`sdr_to_hdr`.

    :func:`~mfsr.grading.transfer.decode`, then BT.2446 method C's forward curve with the
    parameters of :func:`inverse_tone_map` (the exact inverse of ``f``) on the BT.2020
    luminance::

        g(Y) = w Y / 203                          Y <= 203
        g(Y) = w (1 + ln(1 + b (Y / 203 - 1)) / b)  Y >  203

    applied as ``RGB * g(Y) / Y``; then BT.2020 -> BT.709, clipping per channel to [0, 1]
    (colours outside BT.709, and light above ``peak``, which ``g`` takes above SDR white,
    are clipped there), and the inverse SDR EOTF. SDR -> HDR -> SDR gives back the input up
    to float rounding (and to the HDR signal's quantisation when it is stored).

    Parameters
    ----------
    signal : array, shape (H, W, 3) or (K, H, W, 3)
        BT.2020 PQ or HLG R'G'B' in [0, 1] (or integer, scaled by its dtype's range).
    transfer : {"pq", "hlg"}
        Transfer function of ``signal``.
    peak : float
        HDR luminance of SDR white for the curve, and the HLG display's nominal peak.
    diffuse_white, sdr_eotf
        As in :func:`inverse_tone_map`.

    Returns
    -------
    ndarray
        Non-linear BT.709 R'G'B' in [0, 1], float32 (float64 for float64 input).

    Raises
    ------
    TypeError, ValueError
        As :func:`~mfsr.grading.transfer.decode` and :func:`inverse_tone_map`.

    Examples
    --------
    >>> import numpy as np
    >>> from mfsr import grading
    >>> sdr = np.array([[[0.2, 0.5, 0.9]]])
    >>> back = grading.tone_map_to_sdr(grading.sdr_to_hdr(sdr, "pq"), "pq")
    >>> bool(np.abs(back - sdr).max() < 1e-6)
    True
    """
    nits = decode(signal, transfer=transfer, peak=peak)
    w, b = _curve(peak, diffuse_white)
    sdr_eotf = check_sdr_eotf(sdr_eotf)
    to_709 = _rgb_matrix("ITU-R BT.2020", "ITU-R BT.709")

    def convert(block):
        rel = _scale_luminance(np.maximum(block, 0.0), lambda y: _compress(y, w, b),
                               w / REFERENCE_WHITE)
        return sdr_nonlinear(rel @ to_709.T, sdr_eotf)

    return per_pixel(convert, nits)


__all__ = ["inverse_tone_map", "sdr_to_hdr", "tone_map_to_sdr", "itm_parameters",
           "DIFFUSE_WHITE", "REFERENCE_WHITE"]

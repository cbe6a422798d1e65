"""SDR to HDR: BT.709 SDR frames to BT.2020 PQ (HDR10) or HLG signals, and HDR10 metadata.

The super-resolved frames are BT.709 SDR: non-linear R'G'B' in [0, 1]. This module turns
them into BT.2100 HDR signals, on plain float arrays (writing a video file is left to the
encoder; :func:`x265_hdr10_params` gives it the static metadata):

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
   75 %). The transfer functions are colour-science's.

:func:`tone_map_to_sdr` goes back (the forward method C curve with the same parameters),
to preview HDR frames on an SDR screen; :func:`light_levels` and :class:`LightLevels`
measure MaxCLL / MaxFALL (CTA-861.3) and :func:`mastering_display` describes the
mastering display, for the HDR10 SEI messages.

colour-science is imported on first use, not with ``mfsr`` (it takes about a second).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .core.validation import check_array, check_choice, check_float
from .core.backend import to_numpy

TRANSFERS = ("pq", "hlg")
SDR_EOTFS = ("bt1886", "srgb")
MASTERING_PRIMARIES = ("ITU-R BT.2020", "P3-D65")

REFERENCE_WHITE = 203.0  # cd/m2: HDR reference (diffuse) white, ITU-R BT.2408
PQ_PEAK = 10000.0        # cd/m2 at PQ signal 1.0 (SMPTE ST 2084)
# BT.2446-1 method C's published tone curve, HDR cd/m2 -> SDR % of SDR peak. These three
# give its k2 = 15.09968 and k4 = 78.99439; Y_SDR,ip = 58.535 (not 58.5) is what matches them.
METHOD_C_K1, METHOD_C_K3, METHOD_C_SDR_IP = 0.83802, 0.74204, 58.535
# x265 --master-display units: chromaticity in 0.00002, luminance in 0.0001 cd/m2
_X265_XY_UNIT, _X265_L_UNIT = 0.00002, 0.0001
_CHUNK = 1 << 18  # pixels per block: bounds the float64 temporaries of colour-science


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
def _colour():
    # importing colour sets NumPy's print options (legacy="1.13") for the whole process
    options = np.get_printoptions()
    import colour
    np.set_printoptions(**options)
    return colour


@functools.lru_cache(maxsize=None)
def _rgb_matrix(source, target):
    c = _colour()
    return c.matrix_RGB_to_RGB(c.RGB_COLOURSPACES[source], c.RGB_COLOURSPACES[target],
                               chromatic_adaptation_transform=None)


@functools.lru_cache(maxsize=None)
def _bt2020_luminance_weights():
    return np.array(_colour().RGB_COLOURSPACES["ITU-R BT.2020"].matrix_RGB_to_XYZ[1])


# ---------------------------------------------------------------------------- checks


def _check_peak(peak):
    return check_float(peak, "peak", minimum=REFERENCE_WHITE, strict_min=True,
                       maximum=PQ_PEAK)


def _check_transfer(transfer):
    if isinstance(transfer, str):
        transfer = transfer.lower()
    return check_choice(transfer, "transfer", TRANSFERS)


def _check_sdr_eotf(sdr_eotf):
    if isinstance(sdr_eotf, str):
        sdr_eotf = sdr_eotf.lower()
    return check_choice(sdr_eotf, "sdr_eotf", SDR_EOTFS)


def _check_diffuse_white(diffuse_white):
    w = check_float(diffuse_white, "diffuse_white", minimum=0.0, strict_min=True)
    if w >= 1.0:
        raise ValueError(f"diffuse_white must be < 1 (SDR peak), got {w}")
    return w


def _check_rgb(a, name):
    a = check_array(a, name, ndim=(3, 4))
    if a.shape[-1] != 3:
        raise ValueError(f"{name} must be RGB on its last axis, (H, W, 3) or (K, H, W, 3), "
                         f"got shape {tuple(a.shape)}")
    return to_numpy(a)


def _as_signal(a, name):
    """A coded signal (SDR or HDR) as float in [0, 1]: integers by their dtype's range."""
    from .core.color import as_float_image
    return as_float_image(_check_rgb(a, name), name)


def _as_nits(a, name):
    """Linear light in cd/m2 as float: integers are cd/m2 as they are."""
    a = _check_rgb(a, name)
    if a.dtype.kind == "f":
        return a
    return a.astype(np.float32)


def _per_pixel(fn, a):
    """Apply ``fn`` ((N, 3) float64 -> (N, 3)) to the pixels of ``a`` block by block; the
    result has ``a``'s shape and float dtype."""
    flat = a.reshape(-1, 3)
    out = np.empty(flat.shape, a.dtype)
    for start in range(0, flat.shape[0], _CHUNK):
        out[start:start + _CHUNK] = fn(flat[start:start + _CHUNK].astype(np.float64))
    return out.reshape(a.shape)


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
    peak = _check_peak(peak)
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
    >>> from mfsr import hdr
    >>> p = hdr.itm_parameters(1000.0)
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


def _sdr_linear(v, sdr_eotf):
    m = _colour().models
    v = np.clip(v, 0.0, 1.0)
    return m.eotf_BT1886(v, L_B=0, L_W=1) if sdr_eotf == "bt1886" else m.eotf_sRGB(v)


def _sdr_nonlinear(lin, sdr_eotf):
    m = _colour().models
    lin = np.clip(lin, 0.0, 1.0)
    return m.eotf_inverse_BT1886(lin, L_B=0, L_W=1) if sdr_eotf == "bt1886" \
        else m.eotf_inverse_sRGB(lin)


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
    >>> from mfsr import hdr
    >>> grey = np.full((1, 1, 3), hdr.DIFFUSE_WHITE ** (1 / 2.4), np.float32)
    >>> print(f"{hdr.inverse_tone_map(grey)[0, 0, 1]:.1f}")
    203.0
    >>> print(f"{hdr.inverse_tone_map(np.ones((1, 1, 3)), peak=1000.0)[0, 0, 0]:.1f}")
    1000.0
    """
    rgb = _as_signal(rgb_sdr, "rgb_sdr")
    w, b = _curve(peak, diffuse_white)
    sdr_eotf = _check_sdr_eotf(sdr_eotf)
    to_2020 = _rgb_matrix("ITU-R BT.709", "ITU-R BT.2020")

    def convert(block):
        lin = _sdr_linear(block, sdr_eotf) @ to_2020.T
        return _scale_luminance(lin, lambda y: _expand(y, w, b), REFERENCE_WHITE / w)

    return _per_pixel(convert, rgb)


def encode(linear_nits, transfer="pq", peak=1000.0):
    """Code linear BT.2020 display light (cd/m2) as a PQ or HLG signal.

    - ``"pq"``: SMPTE ST 2084 inverse EOTF (``colour.models.eotf_inverse_ST2084``), absolute:
      signal 1.0 is 10000 cd/m2 whatever ``peak`` (which is only checked); 100 cd/m2 is
      0.508, 203 cd/m2 0.581.
    - ``"hlg"``: BT.2100 HLG inverse EOTF (``colour.models.eotf_inverse_BT2100_HLG``) for a
      display of nominal peak ``L_W = peak``, black ``L_B = 0``, system gamma
      ``1.2 + 0.42 log10(peak / 1000)`` (1.2 at 1000 cd/m2); the inverse OOTF works on the
      BT.2020 luminance, so hues are kept. 203 cd/m2 grey is 0.7499 at ``peak=1000``.

    Light is clipped to [0, 10000] cd/m2 first (negative light has no code), and the
    signal to [0, 1] (HLG: light above the display's peak, e.g. saturated colours near it).

    Parameters
    ----------
    linear_nits : array, shape (H, W, 3) or (K, H, W, 3)
        Linear BT.2020 RGB in cd/m2 (integers are taken as cd/m2).
    transfer : {"pq", "hlg"}
        Transfer function.
    peak : float
        Nominal peak luminance of the HLG display (cd/m2), in (203, 10000].

    Returns
    -------
    ndarray
        Non-linear R'G'B' signal in [0, 1], float32 (float64 for float64 input).

    Raises
    ------
    TypeError
        ``linear_nits`` not a real array, or ``peak`` not a number.
    ValueError
        Wrong shape, NaN/Inf, unknown ``transfer`` (the valid ones are listed), ``peak``
        out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from mfsr import hdr
    >>> nits = np.array([[[100.0, 203.0, 10000.0]]])
    >>> np.round(hdr.encode(nits, "pq"), 4).tolist()
    [[[0.5081, 0.5807, 1.0]]]
    >>> np.round(hdr.encode(np.full((1, 1, 3), 203.0), "hlg", peak=1000.0), 4).tolist()
    [[[0.7499, 0.7499, 0.7499]]]
    """
    nits = _as_nits(linear_nits, "linear_nits")
    transfer = _check_transfer(transfer)
    peak = _check_peak(peak)
    m = _colour().models

    def code(block):
        block = np.clip(block, 0.0, PQ_PEAK)
        if transfer == "pq":
            signal = m.eotf_inverse_ST2084(block, L_p=PQ_PEAK)
        else:
            # colour's HLG OETF evaluates its log branch on the dark values too (then
            # discards it): silence that branch's warnings
            with np.errstate(invalid="ignore", divide="ignore"):
                signal = m.eotf_inverse_BT2100_HLG(block, L_B=0, L_W=peak)
        return np.clip(signal, 0.0, 1.0)

    return _per_pixel(code, nits)


def decode(signal, transfer="pq", peak=1000.0):
    """Linear BT.2020 display light (cd/m2) of a PQ or HLG signal: the inverse of
    :func:`encode`, as a display of nominal peak ``peak`` shows it (HLG; PQ is absolute).

    Parameters
    ----------
    signal : array, shape (H, W, 3) or (K, H, W, 3)
        Non-linear BT.2020 R'G'B', float in [0, 1] (clipped) or integer (scaled by its
        dtype's range: a 10-bit code must be divided by 1023 by the caller).
    transfer : {"pq", "hlg"}
        Transfer function.
    peak : float
        Nominal peak luminance of the HLG display (cd/m2), in (203, 10000].

    Returns
    -------
    ndarray
        Linear BT.2020 RGB in cd/m2, float32 (float64 for float64 input).

    Raises
    ------
    TypeError
        ``signal`` not a real array, or ``peak`` not a number.
    ValueError
        Wrong shape, NaN/Inf, unknown ``transfer``, ``peak`` out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from mfsr import hdr
    >>> np.round(hdr.decode(np.array([[[0.5, 0.75, 1.0]]]), "pq"), 1).tolist()
    [[[92.2, 983.4, 10000.0]]]
    """
    v = _as_signal(signal, "signal")
    transfer = _check_transfer(transfer)
    peak = _check_peak(peak)
    m = _colour().models

    def light(block):
        block = np.clip(block, 0.0, 1.0)
        if transfer == "pq":
            return m.eotf_ST2084(block, L_p=PQ_PEAK)
        return m.eotf_BT2100_HLG(block, L_B=0, L_W=peak)

    return _per_pixel(light, v)


def sdr_to_hdr(rgb_sdr, transfer="pq", peak=1000.0, max_cll=None,
               diffuse_white=DIFFUSE_WHITE, sdr_eotf="bt1886"):
    """BT.709 SDR R'G'B' to a BT.2020 PQ or HLG R'G'B' signal: :func:`inverse_tone_map`
    then :func:`encode`.

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
        As :func:`inverse_tone_map` and :func:`encode`; ``max_cll`` out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from mfsr import hdr
    >>> white = np.ones((2, 2, 3))
    >>> np.round(hdr.sdr_to_hdr(white, "pq", peak=1000.0)[0, 0], 4).tolist()
    [0.7518, 0.7518, 0.7518]
    >>> np.round(hdr.sdr_to_hdr(white, "pq", peak=1000.0, max_cll=600.0)[0, 0], 4).tolist()
    [0.6963, 0.6963, 0.6963]
    """
    transfer = _check_transfer(transfer)
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

    :func:`decode`, then BT.2446 method C's forward curve with the parameters of
    :func:`inverse_tone_map` (the exact inverse of ``f``) on the BT.2020 luminance::

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
        As :func:`decode` and :func:`inverse_tone_map`.

    Examples
    --------
    >>> import numpy as np
    >>> from mfsr import hdr
    >>> sdr = np.array([[[0.2, 0.5, 0.9]]])
    >>> back = hdr.tone_map_to_sdr(hdr.sdr_to_hdr(sdr, "pq"), "pq")
    >>> bool(np.abs(back - sdr).max() < 1e-6)
    True
    """
    nits = decode(signal, transfer=transfer, peak=peak)
    w, b = _curve(peak, diffuse_white)
    sdr_eotf = _check_sdr_eotf(sdr_eotf)
    to_709 = _rgb_matrix("ITU-R BT.2020", "ITU-R BT.709")

    def convert(block):
        rel = _scale_luminance(np.maximum(block, 0.0), lambda y: _compress(y, w, b),
                               w / REFERENCE_WHITE)
        return _sdr_nonlinear(rel @ to_709.T, sdr_eotf)

    return _per_pixel(convert, nits)


# ---------------------------------------------------------------------------- metadata


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
    >>> from mfsr.hdr import LightLevels
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
            Linear light in cd/m2 (for example :func:`decode` of the coded frames).

        Returns
        -------
        LightLevels
            ``self``, for chaining.

        Raises
        ------
        TypeError, ValueError
            Not a real (H, W, 3) / (K, H, W, 3) array, or NaN/Inf.
        """
        nits = _as_nits(frame_linear_nits, "frame_linear_nits")
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
    >>> from mfsr import hdr
    >>> frames = np.zeros((2, 2, 2, 3))
    >>> frames[0, 0, 0] = (400.0, 10.0, 0.0)   # one bright red pixel in frame 0
    >>> frames[1] = 50.0                        # frame 1: flat grey
    >>> hdr.light_levels(frames)
    (400.0, 100.0)
    """
    levels = LightLevels().update(_as_nits(frames_linear_nits, "frames_linear_nits"))
    return levels.max_cll, levels.max_fall


def light_levels_of_signal(signal, transfer="pq", peak=1000.0):
    """MaxCLL and MaxFALL (cd/m2) of coded frames: :func:`decode` (as a display of nominal
    peak ``peak`` does), then :func:`light_levels`, one frame at a time.

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
        As :func:`decode`.

    Examples
    --------
    >>> import numpy as np
    >>> from mfsr import hdr
    >>> cll, fall = hdr.light_levels_of_signal(np.full((1, 2, 2, 3), 0.75), "pq")
    >>> print(f"{cll:.1f} {fall:.1f}")
    983.4 983.4
    """
    v = _check_rgb(signal, "signal")
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
    >>> from mfsr import hdr
    >>> d = hdr.mastering_display(1000.0)
    >>> d.green, d.white, d.max_luminance
    ((0.17, 0.797), (0.3127, 0.329), 1000.0)
    """
    peak = _check_peak(peak)
    min_luminance = check_float(min_luminance, "min_luminance", minimum=0.0)
    if min_luminance >= 1.0:
        raise ValueError(f"min_luminance must be < 1 cd/m2, got {min_luminance}")
    check_choice(primaries, "primaries", MASTERING_PRIMARIES)
    space = _colour().RGB_COLOURSPACES[primaries]
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
    >>> from mfsr import hdr
    >>> hdr.x265_hdr10_params(hdr.mastering_display(1000.0, 0.0001), 1000, 400)
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


__all__ = ["inverse_tone_map", "encode", "decode", "sdr_to_hdr", "tone_map_to_sdr",
           "itm_parameters", "light_levels", "light_levels_of_signal", "LightLevels",
           "MasteringDisplay", "mastering_display", "x265_hdr10_params",
           "DIFFUSE_WHITE", "REFERENCE_WHITE", "TRANSFERS", "SDR_EOTFS"]

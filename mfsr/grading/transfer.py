"""Transfer functions: the SDR EOTFs, and the PQ / HLG coding of linear BT.2020 light.

- **SDR** (``sdr_linear``, ``sdr_nonlinear``): the BT.1886 EOTF with gamma 2.4,
  black 0 and white 1 (``L = V**2.4``), or the IEC 61966-2-1 sRGB EOTF
  (``sdr_eotf="srgb"``), and their inverses; linear light is relative display light,
  1 = SDR peak white.
- **HDR** (:func:`encode`, :func:`decode`): SMPTE ST 2084 (PQ, absolute, 10000 cd/m2 at
  signal 1) or BT.2100 HLG with nominal peak ``L_W = peak``, black 0 and the BT.2100 system
  gamma ``1.2 + 0.42 log10(peak / 1000)``; 203 cd/m2 is HLG 0.7499 at ``peak=1000``
  (BT.2408's 75 %).

The transfer functions are colour-science's, applied block by block (``per_pixel``).
colour-science is imported on first use (``colour_science()``), not with ``mfsr`` (it
takes about a second).
"""
from __future__ import annotations

import functools

import numpy as np

from .checks import PQ_PEAK, SDR_EOTFS, TRANSFERS, as_nits, as_signal, check_peak, check_transfer

_CHUNK = 1 << 18  # pixels per block: bounds the float64 temporaries of colour-science


@functools.lru_cache(maxsize=None)
def colour_science():
    """The ``colour`` package (colour-science), imported on the first call."""
    # importing colour sets NumPy's print options (legacy="1.13") for the whole process
    options = np.get_printoptions()
    import colour
    np.set_printoptions(**options)
    return colour


def per_pixel(fn, a):
    """Apply ``fn`` ((N, 3) float64 -> (N, 3)) to the pixels of ``a`` block by block; the
    result has ``a``'s shape and float dtype."""
    flat = a.reshape(-1, 3)
    out = np.empty(flat.shape, a.dtype)
    for start in range(0, flat.shape[0], _CHUNK):
        out[start:start + _CHUNK] = fn(flat[start:start + _CHUNK].astype(np.float64))
    return out.reshape(a.shape)


def sdr_linear(v, sdr_eotf):
    """SDR signal (clipped to [0, 1]) -> relative display light, by ``sdr_eotf``."""
    m = colour_science().models
    v = np.clip(v, 0.0, 1.0)
    return m.eotf_BT1886(v, L_B=0, L_W=1) if sdr_eotf == "bt1886" else m.eotf_sRGB(v)


def sdr_nonlinear(lin, sdr_eotf):
    """Relative display light (clipped to [0, 1]) -> SDR signal: the inverse of
    ``sdr_linear``."""
    m = colour_science().models
    lin = np.clip(lin, 0.0, 1.0)
    return m.eotf_inverse_BT1886(lin, L_B=0, L_W=1) if sdr_eotf == "bt1886" \
        else m.eotf_inverse_sRGB(lin)


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
    >>> from mfsr import grading
    >>> nits = np.array([[[100.0, 203.0, 10000.0]]])
    >>> np.round(grading.encode(nits, "pq"), 4).tolist()
    [[[0.5081, 0.5807, 1.0]]]
    >>> np.round(grading.encode(np.full((1, 1, 3), 203.0), "hlg", peak=1000.0), 4).tolist()
    [[[0.7499, 0.7499, 0.7499]]]
    """
    nits = as_nits(linear_nits, "linear_nits")
    transfer = check_transfer(transfer)
    peak = check_peak(peak)
    m = colour_science().models

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

    return per_pixel(code, nits)


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
    >>> from mfsr import grading
    >>> np.round(grading.decode(np.array([[[0.5, 0.75, 1.0]]]), "pq"), 1).tolist()
    [[[92.2, 983.4, 10000.0]]]
    """
    v = as_signal(signal, "signal")
    transfer = check_transfer(transfer)
    peak = check_peak(peak)
    m = colour_science().models

    def light(block):
        block = np.clip(block, 0.0, 1.0)
        if transfer == "pq":
            return m.eotf_ST2084(block, L_p=PQ_PEAK)
        return m.eotf_BT2100_HLG(block, L_B=0, L_W=peak)

    return per_pixel(light, v)


__all__ = ["encode", "decode", "TRANSFERS", "SDR_EOTFS"]

"""Argument checks shared by the HDR modules (:mod:`~mfsr.grading.transfer`,
:mod:`~mfsr.grading.tonemap`, :mod:`~mfsr.grading.metadata`), and the constants they check
against.

Each check returns the checked value (names of a transfer function or an SDR EOTF in lower
case, frames as a NumPy array) or raises ``TypeError`` / ``ValueError`` naming the argument.
"""
from __future__ import annotations

import numpy as np

from ..core.backend import to_numpy
from ..core.color import as_float_image
from ..core.validation import check_array, check_choice, check_float

TRANSFERS = ("pq", "hlg")
SDR_EOTFS = ("bt1886", "srgb")

REFERENCE_WHITE = 203.0  # cd/m2: HDR reference (diffuse) white, ITU-R BT.2408
PQ_PEAK = 10000.0        # cd/m2 at PQ signal 1.0 (SMPTE ST 2084)


def check_peak(peak):
    """``peak`` (cd/m2) as a float in (REFERENCE_WHITE, PQ_PEAK]."""
    return check_float(peak, "peak", minimum=REFERENCE_WHITE, strict_min=True,
                       maximum=PQ_PEAK)


def check_transfer(transfer):
    """``transfer``, lower-cased, one of ``TRANSFERS``."""
    if isinstance(transfer, str):
        transfer = transfer.lower()
    return check_choice(transfer, "transfer", TRANSFERS)


def check_sdr_eotf(sdr_eotf):
    """``sdr_eotf``, lower-cased, one of ``SDR_EOTFS``."""
    if isinstance(sdr_eotf, str):
        sdr_eotf = sdr_eotf.lower()
    return check_choice(sdr_eotf, "sdr_eotf", SDR_EOTFS)


def check_rgb(a, name):
    """A real, finite RGB frame (H, W, 3) or stack (K, H, W, 3) as a NumPy array."""
    a = check_array(a, name, ndim=(3, 4))
    if a.shape[-1] != 3:
        raise ValueError(f"{name} must be RGB on its last axis, (H, W, 3) or (K, H, W, 3), "
                         f"got shape {tuple(a.shape)}")
    return to_numpy(a)


def as_signal(a, name):
    """A coded signal (SDR or HDR) as float in [0, 1]: integers by their dtype's range."""
    return as_float_image(check_rgb(a, name), name)


def as_nits(a, name):
    """Linear light in cd/m2 as float: integers are cd/m2 as they are."""
    a = check_rgb(a, name)
    if a.dtype.kind == "f":
        return a
    return a.astype(np.float32)


__all__ = ["check_peak", "check_transfer", "check_sdr_eotf", "check_rgb", "as_signal",
           "as_nits", "TRANSFERS", "SDR_EOTFS", "REFERENCE_WHITE", "PQ_PEAK"]

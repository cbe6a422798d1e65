"""Input checks shared by the public functions; each error names the argument."""
from __future__ import annotations

import numbers

import numpy as np

from .backend import get_array_module


def check_array(a, name, ndim=None, finite=True):
    """Check that ``a`` is a real numeric array of the given ndim(s), without NaN/Inf.

    ``finite``: True checks for NaN/Inf, False does not, ``"host"`` checks NumPy arrays
    only. On a device (CuPy) array the test is a device-to-host sync (the answer has to
    reach Python), so functions that the pipeline calls on device data pass ``"host"``
    and either leave the check to their caller (:func:`mfsr.reconstruct` checks its
    frames once) or fetch :func:`all_finite` together with the one result they read
    back anyway (:func:`mfsr.degradation.estimate_noise`), so that a public call on
    device input costs at most one sync.
    """
    if isinstance(a, (list, tuple)):
        try:
            a = np.asarray(a)
        except ValueError:  # ragged: NumPy's message does not say which argument
            raise ValueError(f"{name} must be an array of one shape; its items have "
                             "different shapes (frames of different sizes?)") from None
    if not hasattr(a, "dtype") or not hasattr(a, "shape"):
        raise TypeError(f"{name} must be an array, got {type(a).__name__}")
    if a.dtype.kind not in "uif" and a.dtype != bool:
        raise TypeError(f"{name} must be a real numeric array, got dtype {a.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if a.ndim not in allowed:
            want = " or ".join(str(n) for n in allowed)
            raise ValueError(f"{name} must have {want} dimensions, got shape {tuple(a.shape)}")
    if finite and a.dtype.kind == "f":
        xp = get_array_module(a)
        if finite != "host" or xp is np:
            if not bool(xp.all(xp.isfinite(a))):
                raise ValueError(f"{name} contains NaN or Inf values")
    return a


def all_finite(a):
    """Whether ``a`` holds no NaN/Inf, as a 0-d array of ``a``'s module (no sync on the
    device: read it back with the call's result, then :func:`raise_if_not_finite`)."""
    xp = get_array_module(a)
    if a.dtype.kind != "f":
        return xp.asarray(True) if xp is np else xp.ones((), dtype=bool)
    return xp.all(xp.isfinite(a))


def raise_if_not_finite(ok, name):
    """The error :func:`check_array` raises, for an :func:`all_finite` read back."""
    if not bool(ok):
        raise ValueError(f"{name} contains NaN or Inf values")


def check_int(v, name, minimum=None):
    """Check that ``v`` is an integer (not bool) and at least ``minimum``."""
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {v!r}")
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return int(v)


def check_float(v, name, minimum=None, maximum=None, strict_min=False):
    """Check that ``v`` is a finite real number in the given range."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be a number, got {v!r}")
    v = float(v)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if minimum is not None and (v < minimum or (strict_min and v == minimum)):
        op = ">" if strict_min else ">="
        raise ValueError(f"{name} must be {op} {minimum}, got {v}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {v}")
    return v


def check_choice(v, name, choices):
    """Check that ``v`` is one of ``choices``; the error lists them."""
    if v not in choices:
        raise ValueError(f"unknown {name} {v!r}; valid: {', '.join(map(repr, choices))}")
    return v

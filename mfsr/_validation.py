"""Input checks shared by the public functions; each error names the argument."""
from __future__ import annotations

import numbers

import numpy as np

from .backend import get_array_module


def check_array(a, name, ndim=None, finite=True):
    """Check that ``a`` is a real numeric array of the given ndim(s), without NaN/Inf."""
    if isinstance(a, (list, tuple)):
        a = np.asarray(a)
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
        if not bool(xp.all(xp.isfinite(a))):
            raise ValueError(f"{name} contains NaN or Inf values")
    return a


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

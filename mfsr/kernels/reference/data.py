"""Reference data term: the robust weighting of the residual ``A x - y``
(:func:`data_fidelity`); ``cuda/data.cu`` in the CuPy set.
"""
from __future__ import annotations

from ...core.backend import get_array_module
from .prior import rho


def data_fidelity(ax, y, c, kind, param, gain):
    """Robust data term of the residual ``r = ax - y`` with per-pixel weights ``c``.

    ``value = gain * sum(c * rho(r))`` with ``rho`` of :func:`rho`.

    Parameters
    ----------
    ax, y, c : arrays of one shape
        Prediction ``A x``, observations and data weights.
    kind, param
        Penalty, as for :func:`rho`.
    gain : float
        Factor on the penalty.

    Returns
    -------
    value : float
    r : array
        ``ax - y``.
    g : array
        ``gain * c * rho'(r)``, the derivative of the value with respect to ``ax``.
    """
    xp = get_array_module(ax)
    r = ax - y
    v, dv = rho(r, kind, param, xp)
    return gain * float((c * v).sum()), r, (gain * c) * dv

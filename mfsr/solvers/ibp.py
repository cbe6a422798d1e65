"""Iterative back-projection (Irani & Peleg 1991) with a SART-style normalisation."""
from __future__ import annotations

from ..core.backend import get_array_module
from .history import History


def ibp(operator, frames, x0, iterations=20, step=1.0, confidence=None):
    """Back-project the weighted LR residuals until the HR estimate explains the frames.

    ``x <- x + step * A^T (c (y - A x)) / A^T c``: the back-projection kernel is the
    PSF itself, normalised per HR pixel by the weight that reaches it, so ``step = 1``
    is stable for any number of frames.

    Parameters
    ----------
    operator : SystemOperator
    frames : array, shape (K, h, w)
    x0 : array, shape (H, W)
        Initial HR estimate.
    iterations : int
    step : float
        Relaxation in (0, 2).
    confidence : array, shape (K, h, w), optional
        Data weights; default the operator's.

    Returns
    -------
    x : array, shape (H, W)
    history : History
    """
    xp = get_array_module(frames)
    c = operator.confidence if confidence is None else confidence
    norm = operator.adjoint(c)
    norm = xp.maximum(norm, 1e-3 * float(norm.max()))
    x = x0.copy()
    hist = History()
    r = frames - operator.forward(x)
    for _ in range(iterations):
        hist.start()
        x += step * operator.adjoint(c * r) / norm
        r = frames - operator.forward(x)
        rn = float(xp.sqrt(xp.sum(c * r * r)))
        hist.record(0.5 * rn**2, rn)
    return x, hist

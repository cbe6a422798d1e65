"""The MAP objective ``sum_k sum_p c rho(A x - y) + lambda R(x)``."""
from __future__ import annotations

from ..backend import get_array_module
from ..priors import NoPrior, Prior
from .data_terms import L2, DataTerm


class Objective:
    """Weighted robust data term plus a weighted prior.

    Parameters
    ----------
    operator : SystemOperator
        ``A``, HR ``(H, W)`` to LR stack ``(K, h, w)``.
    frames : array, shape (K, h, w)
        Observed LR frames ``y``.
    data_term : DataTerm
        ``rho``.
    prior : Prior
        ``R``.
    weight : float
        ``lambda`` >= 0.
    confidence : array, shape (K, h, w), optional
        Per-pixel data weights ``c``; default the operator's registration confidence.
    """

    def __init__(self, operator, frames, data_term: DataTerm = None, prior: Prior = None,
                 weight=0.0, confidence=None):
        self.A = operator
        self.y = frames
        self.data_term = data_term or L2()
        self.prior = prior or NoPrior()
        self.weight = float(weight)
        self.c = operator.confidence if confidence is None else confidence

    def residual(self, x):
        """``A x - y``."""
        return self.A.forward(x) - self.y

    def residual_norm(self, r):
        """``||sqrt(c) r||``."""
        xp = get_array_module(r)
        return float(xp.sqrt(xp.sum(self.c * r * r)))

    def value_and_gradient(self, x):
        """Return ``(f(x), grad f(x), r)`` with ``r = A x - y``."""
        xp = get_array_module(x)
        r = self.residual(x)
        v, dv = self.data_term.value_and_derivative(r, xp)
        value = float(xp.sum(self.c * v))
        grad = self.A.adjoint(self.c * dv)
        if self.weight:
            pv, pg = self.prior.value_and_gradient(x)
            value += self.weight * pv
            grad += self.weight * pg
        return value, grad, r

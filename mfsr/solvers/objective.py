"""The MAP objective ``sum_k sum_p c rho(A x - y) + lambda R(x)``."""
from __future__ import annotations

from ..core.backend import get_array_module
from ..kernels import kernels_for
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
        self._prior_gradient = None  # scratch image, kept between evaluations

    def residual(self, x):
        """``A x - y``."""
        return self.A.forward(x) - self.y

    def residual_norm(self, r):
        """``||sqrt(c) r||``."""
        xp = get_array_module(r)
        return float(xp.sqrt(xp.sum(self.c * r * r)))

    def value_and_gradient(self, x, out=None):
        """Return ``(f(x), grad f(x), r)`` with ``r = A x - y``.

        Data terms with a ``penalty`` weight the residuals in one kernel pass
        (:func:`mfsr.kernels.reference.data_fidelity`), others through their
        ``value_and_derivative``.

        Parameters
        ----------
        x : array, shape (H, W)
        out : array, shape (H, W), optional
            Where to write the gradient (C-contiguous, ``x``'s dtype); by default a new
            array. The prior's gradient goes through a scratch image the objective keeps,
            so with ``out`` an evaluation allocates no HR image.
        """
        ax = self.A.forward(x)
        if self.data_term.penalty is not None:
            value, r, dr = kernels_for(ax).data_fidelity(ax, self.y, self.c,
                                                         *self.data_term.penalty)
        else:
            xp = get_array_module(x)
            r = ax - self.y
            v, dv = self.data_term.value_and_derivative(r, xp)
            value, dr = float(xp.sum(self.c * v)), self.c * dv
        grad = self.A.adjoint(dr, out=out)
        if self.weight:
            pv, pg = self.prior.value_and_gradient(x, out=self._scratch(x))
            value += self.weight * pv
            kernels_for(grad).axpy(self.weight, pg, grad)
        return value, grad, r

    def _scratch(self, x):
        buf = self._prior_gradient
        if buf is None or type(buf) is not type(x) or buf.shape != x.shape \
                or buf.dtype != x.dtype:
            buf = self._prior_gradient = get_array_module(x).empty(x.shape, x.dtype)
        return buf

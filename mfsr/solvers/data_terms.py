"""Data-fidelity functions ``rho(r)`` of the residual ``r = A x - y``."""
from __future__ import annotations

from ..core.validation import check_choice, check_float


class DataTerm:
    """``value_and_derivative(r, xp) -> (sum rho(r) elementwise array, rho'(r))``.

    ``penalty``: ``(kind, param, gain)`` when ``rho = gain * rho_kind(r; param)`` for a
    penalty of :func:`mfsr.kernels.reference.rho`, so that the objective can weight the
    residuals in one kernel pass (``kernels.data_fidelity``); None otherwise.
    """

    name = "data"
    quadratic = False
    curvature = 1.0  # upper bound on rho''
    penalty = None

    def value_and_derivative(self, r, xp):
        raise NotImplementedError


class L2(DataTerm):
    """``rho(r) = r**2 / 2``."""

    name = "l2"
    quadratic = True
    penalty = ("quadratic", 0.0, 1.0)

    def value_and_derivative(self, r, xp):
        return 0.5 * r * r, r


class L1(DataTerm):
    """Charbonnier-smoothed ``|r|``: ``sqrt(r**2 + eps**2) - eps``, scaled by ``scale``.

    ``scale`` (the noise level) makes the curvature near 0 match ``l2`` / ``scale``.
    """

    name = "l1"

    def __init__(self, eps=1e-3, scale=1.0):
        self.eps = check_float(eps, "eps", minimum=0.0, strict_min=True)
        self.scale = check_float(scale, "scale", minimum=0.0, strict_min=True)
        self.curvature = self.scale / self.eps
        self.penalty = ("charbonnier", self.eps, self.scale)

    def value_and_derivative(self, r, xp):
        root = xp.sqrt(r * r + self.eps**2)
        return self.scale * (root - self.eps), self.scale * r / root


class Huber(DataTerm):
    """``r**2 / 2`` for ``|r| <= delta``, ``delta (|r| - delta/2)`` beyond: l2 on inliers,
    l1 on outliers (misregistration, occlusion)."""

    name = "huber"

    def __init__(self, delta=0.02):
        self.delta = check_float(delta, "delta", minimum=0.0, strict_min=True)
        self.penalty = ("huber", self.delta, self.delta)  # delta * (r**2 / (2 delta), ...)

    def value_and_derivative(self, r, xp):
        a = xp.abs(r)
        value = xp.where(a <= self.delta, 0.5 * r * r, self.delta * (a - 0.5 * self.delta))
        return value, xp.clip(r, -self.delta, self.delta)


DATA_TERMS = {"l2": L2, "l1": L1, "huber": Huber}


def make_data_term(data, **options) -> DataTerm:
    """Build a data term from its name (``"l2"``, ``"l1"``, ``"huber"``) or pass one through."""
    if isinstance(data, DataTerm):
        return data
    check_choice(data, "data term", tuple(DATA_TERMS))
    return DATA_TERMS[data](**options)

"""Conjugate gradients for the quadratic MAP problem (l2 data, quadratic prior)."""
from __future__ import annotations

from ..core.backend import get_array_module
from ..kernels import kernels_for
from .history import History


def cg_solve(normal, rhs, x, iterations, tol=0.0, callback=None, residual=None):
    """Solve ``normal(x) = rhs`` for a symmetric positive (semi-)definite linear map.

    The scalars of the iteration (``g.g``, ``p.q`` and the step sizes) stay 0-d arrays of
    the data's module and are used where they are: a step is ``normal(p)`` and two
    kernel-set calls, :func:`~mfsr.kernels.reference.cg_step` (``p.q``, the updates of
    ``x`` and ``g`` and the new ``g.g`` in one call) and
    :func:`~mfsr.kernels.reference.cg_direction`, so that on the GPU a step makes no host
    read. Only the early stop reads a number back (once per step): it runs when
    ``tol > 0`` or a ``callback`` is given. With ``tol=0`` (what the IRLS and ADMM inner
    solves and the chroma fusion use) all ``iterations`` steps run; a step from an exact
    solution (``g.g == 0``) leaves ``x`` as it is.

    Parameters
    ----------
    normal : callable
        ``v -> M v``.
    rhs : array
    x : array
        Start; updated in place and returned.
    iterations : int
        Maximum number of steps (the number of steps when ``tol=0`` and no callback).
    tol : float
        Stop when ``||rhs - M x|| <= tol * ||rhs - M x0||`` (checked on the host).
    callback : callable, optional
        Called with ``x`` after each step.
    residual : array, optional
        ``rhs - normal(x)`` at the start, when the caller has it more cheaply (a solver
        that holds ``A x`` gets it with one adjoint and no forward map); ``rhs`` is then
        not used and may be None. Consumed (updated in place).

    Returns
    -------
    array
        ``x``.
    """
    xp = get_array_module(x)
    vec = kernels_for(x)  # in-place, parallel vector updates: no image per step
    g = rhs - normal(x) if residual is None else residual
    p = g.copy()
    gg = xp.vdot(g, g)
    stop = tol > 0 or callback is not None
    gg0 = float(gg) if stop else None  # host reads: only when asked for
    for i in range(iterations):
        if stop:
            ggf = gg0 if i == 0 else float(gg)
            if ggf == 0.0 or ggf <= tol**2 * gg0:  # converged (or x0 was exact)
                break
        q = normal(p)
        gg_new = vec.cg_step(gg, x, p, g, q)  # x += alpha p, g -= alpha q; new g.g
        vec.cg_direction(gg_new, gg, g, p)  # p = g + (gg_new / gg) p
        gg = gg_new
        if callback is not None:
            callback(x)
    return x


def conjugate_gradient(operator, frames, x0, prior, weight=0.0, iterations=30, confidence=None,
                       tol=1e-6, record=True):
    """Solve ``(A^T C A + lambda H_R) x = A^T C y`` by conjugate gradients.

    Parameters
    ----------
    operator : SystemOperator
    frames : array, shape (K, h, w)
    x0 : array, shape (H, W)
    prior : Prior
        Must be quadratic (``prior.quadratic``); its gradient is the linear map ``H_R x``.
    weight : float
        ``lambda`` >= 0.
    iterations : int
    confidence : array, optional
        ``C``; default the operator's confidence.
    tol : float
        Stop when the residual norm falls below ``tol`` times its start.
    record : bool
        Record the objective and data residual after every step in the history. Each
        record costs one more ``A x`` per step; with False it is skipped and the
        history stays empty.

    Returns
    -------
    x : array, shape (H, W)
    history : History
    """
    if not prior.quadratic:
        raise ValueError(f"conjugate gradients needs a quadratic prior, got {prior.name!r}")
    xp = get_array_module(frames)
    c = operator.confidence if confidence is None else confidence

    def normal(v):
        out = operator.adjoint(operator.forward(v), weights=c)
        if weight:  # out += weight * grad R(v), in one call for the pairwise priors
            prior.add_gradient(v, out, weight)
        return out

    hist = History()

    def record_step(x):
        r = operator.forward(x) - frames
        rn = float(xp.sqrt(xp.sum(c * r * r)))
        hist.record(0.5 * rn**2 + (weight * prior.value(x) if weight else 0.0), rn)
        hist.start()

    hist.start()
    x = cg_solve(normal, operator.adjoint(frames, weights=c), x0.copy(), iterations, tol,
                 record_step if record else None)
    return x, hist

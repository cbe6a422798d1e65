"""MAP estimation by gradient-based descent: L-BFGS (default) or steepest descent."""
from __future__ import annotations

from ..core.backend import get_array_module
from ..kernels import kernels_for
from .history import History
from .objective import Objective


def map_gradient_descent(objective: Objective, x0, iterations=50, step=None):
    """Steepest descent with a fixed step (Farsiu et al. 2004).

    Parameters
    ----------
    objective : Objective
    x0 : array, shape (H, W)
    iterations : int
    step : float, optional
        Step size; default ``1 / L`` with ``L`` the power-iteration estimate of the data
        term's curvature (``||A^T C A||``) plus the prior's, at the smoothing scale.

    Returns
    -------
    x : array, shape (H, W)
    history : History
    """
    if step is None:
        step = 1.0 / _lipschitz(objective)
    x = x0.copy()
    grad = get_array_module(x).empty_like(x)
    axpy = kernels_for(x).axpy
    hist = History()
    for _ in range(iterations):
        hist.start()
        value, grad, r = objective.value_and_gradient(x, out=grad)
        axpy(-step, grad, x)
        hist.record(value, objective.residual_norm(r))
    return x, hist


def _lipschitz(objective):
    """Upper bound on the curvature of the objective (for a safe fixed step)."""
    data = objective.A.norm_squared(objective.c, iterations=10) * objective.data_term.curvature
    return data + objective.weight * objective.prior.curvature


def map_lbfgs(objective: Objective, x0, iterations=50, memory=6, tol=1e-7):
    """Limited-memory BFGS with Armijo backtracking, on ``xp`` arrays (CPU or GPU).

    Parameters
    ----------
    objective : Objective
        Smooth (all mfsr data terms and priors are smoothed where needed).
    x0 : array, shape (H, W)
    iterations : int
        Number of accepted steps.
    memory : int
        Number of curvature pairs kept.
    tol : float
        Stop when the relative decrease of the objective in a step falls below ``tol``.

    Returns
    -------
    x : array, shape (H, W)
    history : History
    """
    xp = get_array_module(x0)
    vec = kernels_for(x0)  # parallel vector updates on the CPU
    x = x0.copy()
    f, g, r = objective.value_and_gradient(x)
    # The images of the loop are allocated once and reused, so that an iteration allocates
    # none: the trial point and its gradient swap roles with the current ones on
    # acceptance, and a curvature pair that drops out of the memory holds the next one.
    x_new, g_new, d = xp.empty_like(x), xp.empty_like(x), xp.empty_like(x)
    spare = None  # arrays for the next curvature pair
    pairs = []
    hist = History()
    gamma = 1.0 / max(objective.A.norm_squared(objective.c, iterations=5), 1e-12)
    for _ in range(iterations):
        hist.start()
        _two_loop(g, pairs, gamma, d)
        slope = float(xp.vdot(g, d))
        if slope >= 0:  # not a descent direction: restart from the gradient
            pairs.clear()
            xp.multiply(g, -gamma, out=d)
            slope = -gamma * float(xp.vdot(g, g))
        t = 1.0
        for _ls in range(20):
            vec.axpby(1.0, x, t, d, x_new)
            f_new, g_new, r_new = objective.value_and_gradient(x_new, out=g_new)
            if f_new <= f + 1e-4 * t * slope:
                break
            t *= 0.5
        else:
            hist.record(f, objective.residual_norm(r))
            break
        s, yv = spare if spare is not None else (xp.empty_like(x), xp.empty_like(x))
        spare = None
        vec.axpby(1.0, x_new, -1.0, x, s)
        vec.axpby(1.0, g_new, -1.0, g, yv)
        sy = float(xp.vdot(s, yv))
        if sy > 1e-12:
            pairs.append((s, yv, 1.0 / sy))
            if len(pairs) > memory:
                spare = pairs.pop(0)[:2]
            gamma = sy / float(xp.vdot(yv, yv))
        else:
            spare = (s, yv)
        decrease = f - f_new
        x, x_new, g, g_new = x_new, x, g_new, g
        f, r = f_new, r_new
        hist.record(f, objective.residual_norm(r))
        if decrease <= tol * abs(f):
            break
    return x, hist


def _two_loop(g, pairs, gamma, out):
    """The L-BFGS direction ``-H g``, written into ``out``.

    The first update reads ``g`` itself (no copy of it), and the sign is taken together
    with the scaling by ``gamma``, so that the second loop works on ``-q``: the same
    floating-point values as the textbook recursion followed by a negation, in two
    passes over the image fewer.
    """
    xp = get_array_module(g)
    vec = kernels_for(g)
    q = out
    alphas = []
    src = g
    for s, y, rho in reversed(pairs):
        a = rho * float(xp.vdot(s, src))
        alphas.append(a)
        vec.axpby(1.0, src, -a, y, q)
        src = q
    if src is g:
        xp.multiply(g, -gamma, out=q)
    else:
        q *= -gamma
    for (s, y, rho), a in zip(pairs, reversed(alphas)):
        b = rho * float(xp.vdot(y, q))  # minus the textbook value, as q is negated
        vec.axpy(-(a + b), s, q)
    return q

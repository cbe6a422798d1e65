"""MAP estimation by gradient-based descent: L-BFGS (default) or steepest descent."""
from __future__ import annotations

from ..backend import get_array_module
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
    hist = History()
    for _ in range(iterations):
        hist.start()
        value, grad, r = objective.value_and_gradient(x)
        x -= step * grad
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
    x = x0.copy()
    f, g, r = objective.value_and_gradient(x)
    pairs = []
    hist = History()
    gamma = 1.0 / max(objective.A.norm_squared(objective.c, iterations=5), 1e-12)
    for _ in range(iterations):
        hist.start()
        d = _two_loop(g, pairs, gamma, xp)
        slope = float(xp.vdot(g, d))
        if slope >= 0:  # not a descent direction: restart from the gradient
            pairs.clear()
            d, slope = -gamma * g, -gamma * float(xp.vdot(g, g))
        t = 1.0
        for _ls in range(20):
            x_new = x + t * d
            f_new, g_new, r_new = objective.value_and_gradient(x_new)
            if f_new <= f + 1e-4 * t * slope:
                break
            t *= 0.5
        else:
            hist.record(f, objective.residual_norm(r))
            break
        s, yv = x_new - x, g_new - g
        sy = float(xp.vdot(s, yv))
        if sy > 1e-12:
            pairs.append((s, yv, 1.0 / sy))
            if len(pairs) > memory:
                pairs.pop(0)
            gamma = sy / float(xp.vdot(yv, yv))
        decrease = f - f_new
        x, f, g, r = x_new, f_new, g_new, r_new
        hist.record(f, objective.residual_norm(r))
        if decrease <= tol * abs(f):
            break
    return x, hist


def _two_loop(g, pairs, gamma, xp):
    axpy = kernels_for(g).axpy  # in place: no temporary image per pair
    q = g.copy()
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * float(xp.vdot(s, q))
        alphas.append(a)
        axpy(-a, y, q)
    q *= gamma
    for (s, y, rho), a in zip(pairs, reversed(alphas)):
        b = rho * float(xp.vdot(y, q))
        axpy(a - b, s, q)
    q *= -1
    return q

"""Reference priors: the robust penalties (:func:`rho`), the pairwise priors' value and
gradient (:func:`pairwise_prior`, :func:`pairwise_prior_gradient`) and isotropic total
variation (:func:`tv_prior`); ``cuda/prior.cu`` in the CuPy set.
"""
from __future__ import annotations

from ...core.backend import get_array_module
from ..buffers import deliver
from ..common import pair_slices


def rho(d, kind, param, xp):
    """Penalty and its derivative for a pairwise difference ``d``.

    kind ``"quadratic"``: ``d**2/2``; ``"charbonnier"``: ``sqrt(d**2 + p**2) - p``;
    ``"huber"``: ``d**2/(2p)`` for ``|d| <= p``, else ``|d| - p/2``.
    """
    if kind == "quadratic":
        return 0.5 * d * d, d
    if kind == "charbonnier":
        root = xp.sqrt(d * d + param * param)
        return root - param, d / root
    if kind == "huber":
        a = xp.abs(d)
        return xp.where(a <= param, d * d / (2 * param), a - param / 2), xp.clip(d / param, -1, 1)
    raise ValueError(f"unknown penalty kind {kind!r}")


def pairwise_prior(x, offsets, weights, kind, param, out=None):
    """``R(x) = sum_o w_o sum_p rho(x(p + o) - x(p))`` and its gradient.

    Parameters
    ----------
    x : array (H, W)
    offsets : list of (dy, dx)
    weights : list of float
    kind : {"quadratic", "charbonnier", "huber"}
    param : float
        Smoothing / threshold of ``rho`` (ignored for ``"quadratic"``).
    out : array (H, W), optional
        Where to write the gradient (C-contiguous, ``x``'s dtype).

    Returns
    -------
    (float, array (H, W))
    """
    xp = get_array_module(x)
    g = xp.zeros_like(x)
    total = 0.0
    for o, w in zip(offsets, weights):
        a, b = pair_slices(o, x.shape)
        v, dv = rho(x[a] - x[b], kind, param, xp)
        total += w * float(v.sum())
        dv *= w
        g[a] += dv
        g[b] -= dv
    return total, deliver(g, out)


def pairwise_prior_gradient(x, offsets, weights, kind, param, out=None, base=None,
                            scale=1.0):
    """``base + scale * grad R(x)`` of :func:`pairwise_prior` without its value (so a
    device kernel set reads nothing back).

    ``scale * grad`` is rounded in ``x``'s dtype and then added to ``base``, as the NumPy
    expression ``base + scale * g`` (``base`` may be ``out``: ``out += scale * g``).
    Without ``base`` the result is ``scale * g`` (``g`` itself for ``scale == 1``).

    Returns
    -------
    array (H, W)
    """
    g = pairwise_prior(x, offsets, weights, kind, param)[1]
    if scale != 1.0:
        g = scale * g
    if base is not None:
        g = base + g
    return deliver(g, out)


def tv_prior(x, eps, out=None):
    """Isotropic total variation ``sum sqrt(dx**2 + dy**2 + eps**2) - eps`` and its gradient.

    Forward differences, zero past the last row / column. ``out``: as for
    :func:`pairwise_prior`.

    Returns
    -------
    (float, array (H, W))
    """
    xp = get_array_module(x)
    gx = xp.zeros_like(x)
    gy = xp.zeros_like(x)
    gx[:, :-1] = x[:, 1:] - x[:, :-1]
    gy[:-1, :] = x[1:, :] - x[:-1, :]
    mag = xp.sqrt(gx * gx + gy * gy + eps**2)
    px, py = gx / mag, gy / mag
    g = -(px + py)  # minus divergence, with the adjoint of the forward differences
    g[:, 1:] += px[:, :-1]
    g[1:, :] += py[:-1, :]
    return float((mag - eps).sum()), deliver(g, out)

"""The dot test: is a pair of functions a linear operator and its adjoint?

Every operator of :mod:`mfsr.degradation` (``Warp``, ``BlurDecimate``,
``SystemOperator``, ``CFASystemOperator``, :func:`~mfsr.degradation.mosaic`, the 4:2:0
chroma operator) comes with its adjoint, which the solvers trust blindly: a wrong
adjoint makes a gradient that is not one, and the solvers then converge slowly or to
the wrong image without any error. :func:`dot_test` checks the pair the way PyLops'
``dottest`` does, on random vectors.
"""
from __future__ import annotations

import numpy as np

from ..core.validation import check_float

__all__ = ["dot_test"]


def _shape(shape, name):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a tuple of ints, got {shape!r}") from None
    if any(n < 0 for n in shape):
        raise ValueError(f"{name} must not have negative sizes, got {shape}")
    return shape


def dot_test(forward, adjoint, x_shape, y_shape, *, rng=None, dtype=np.float64, rtol=1e-6,
             atol=0.0, relative_to="products", xp=None, raise_error=True):
    """Check ``<A x, y> == <x, A^T y>`` on random ``x`` and ``y``.

    For a linear operator ``A`` and its adjoint ``A^T`` the two inner products are equal
    for every ``x`` and ``y``; computed, they agree to the rounding of the operators'
    arithmetic. ``x`` and ``y`` are drawn from a standard normal distribution (on the
    host, by ``rng``) and cast to ``dtype``; the inner products are summed in float64.

    Parameters
    ----------
    forward : callable
        ``forward(x) -> A x``, for ``x`` of shape ``x_shape``.
    adjoint : callable
        ``adjoint(y) -> A^T y``, for ``y`` of shape ``y_shape``.
    x_shape, y_shape : tuple of int
        Shapes of the operator's domain and range (what ``forward`` takes and returns).
    rng : numpy.random.Generator or int, optional
        The random draws, or a seed for :func:`numpy.random.default_rng` (default
        ``None``: fresh entropy).
    dtype : dtype
        Real floating dtype of ``x`` and ``y`` (default float64; float32 for operators
        meant for float32 data, which then agree to about ``1e-6`` only).
    rtol, atol : float
        The pair passes when ``|lhs - rhs| <= atol + rtol * scale``.
    relative_to : {"products", "norms"}
        ``scale``: ``"products"`` (default, as PyLops' ``dottest``) ``max(|lhs|, |rhs|)``;
        ``"norms"`` ``max(||A x|| ||y||, ||x|| ||A^T y||)``, the Cauchy-Schwarz bound of
        both products. The rounding error of the products grows with the norms, not
        with the products, so on random vectors ``"products"`` fails now and then by
        chance, when both products happen to be small (``<A x, y>`` is normal with
        standard deviation ``||A x||``: below ``1e-3 ||A x||`` one draw in a thousand);
        ``"norms"`` never does, at a sensitivity ``sqrt(size)`` times lower. Use it
        for many random draws (property tests).
    xp : module, optional
        Array module to hand ``x`` and ``y`` to the operators in (``cupy`` for device
        operators); default NumPy.
    raise_error : bool
        Raise :class:`AssertionError` when the pair fails (default); with False return
        the inner products without judging them.

    Returns
    -------
    lhs, rhs : float
        ``<A x, y>`` and ``<x, A^T y>``.

    Raises
    ------
    AssertionError
        With ``raise_error=True``, when the inner products differ by more than the
        tolerance (the message gives both and their relative difference).
    ValueError
        When ``forward`` or ``adjoint`` returns an array of another shape than
        ``y_shape`` / ``x_shape`` (the operator does not map the spaces it is said to),
        or for an unknown ``relative_to``.
    TypeError
        When ``dtype`` is not a real floating dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from mfsr.degradation import BlurDecimate, dot_test
    >>> bd = BlurDecimate((12, 8), 2, "area")
    >>> lhs, rhs = dot_test(bd.forward, bd.adjoint, (12, 8), (6, 4), rng=0, rtol=1e-12)
    >>> bool(abs(lhs - rhs) <= 1e-12 * abs(lhs))
    True

    A function that is not the adjoint fails:

    >>> dot_test(bd.forward, lambda y: 2 * bd.adjoint(y), (12, 8), (6, 4), rng=0)
    Traceback (most recent call last):
    ...
    AssertionError: dot test failed: <A x, y> = ..., <x, A^T y> = ...
    """
    x_shape, y_shape = _shape(x_shape, "x_shape"), _shape(y_shape, "y_shape")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a real floating dtype, got {dtype}")
    rtol = check_float(rtol, "rtol", minimum=0.0)
    atol = check_float(atol, "atol", minimum=0.0)
    if relative_to not in ("products", "norms"):
        raise ValueError(f"unknown relative_to {relative_to!r}; valid: 'products', 'norms'")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    xp = np if xp is None else xp
    x = xp.asarray(rng.standard_normal(x_shape).astype(dtype))
    y = xp.asarray(rng.standard_normal(y_shape).astype(dtype))
    ax = forward(x)
    if tuple(ax.shape) != y_shape:
        raise ValueError(f"forward returned shape {tuple(ax.shape)}, y_shape is {y_shape}")
    aty = adjoint(y)
    if tuple(aty.shape) != x_shape:
        raise ValueError(f"adjoint returned shape {tuple(aty.shape)}, x_shape is {x_shape}")
    ax, aty = ax.astype(xp.float64).ravel(), aty.astype(xp.float64).ravel()
    x, y = x.astype(xp.float64).ravel(), y.astype(xp.float64).ravel()
    lhs, rhs = float(xp.vdot(ax, y)), float(xp.vdot(x, aty))
    if raise_error:
        err = abs(lhs - rhs)
        if relative_to == "norms":
            norm = [float(xp.linalg.norm(v)) for v in (ax, y, x, aty)]
            scale = max(norm[0] * norm[1], norm[2] * norm[3])
        else:
            scale = max(abs(lhs), abs(rhs))
        if not err <= atol + rtol * scale:   # also fails on NaN
            rel = err / scale if scale > 0 else float("inf")
            raise AssertionError(f"dot test failed: <A x, y> = {lhs!r}, <x, A^T y> = {rhs!r}, "
                                 f"relative difference {rel:.3g} (to the {relative_to}) > "
                                 f"rtol {rtol:g} (atol {atol:g})")
    return lhs, rhs

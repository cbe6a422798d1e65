"""Reference kernels: plain ``xp`` array code, the definition the fast kernels must match.

Every kernel set (this one, ``numba_kernels``, ``cupy_kernels``) exposes the same
functions with the same signatures and results (to float tolerance):

- ``warp_forward`` / ``warp_adjoint``: bilinear backward warp of one image and its splat.
- ``strided_correlate`` / ``strided_correlate_adjoint``: separable blur + decimation of a
  padded stack and its adjoint.
- ``separable_gather``: ``S_y z S_x^T`` for two small sparse matrices in ELL form (fixed
  entries per row); blur + decimation with the border reflection folded in, and, with
  the transposed tables, its adjoint.
- ``prepare_warps``, ``warp_blur_decimate`` / ``warp_blur_decimate_adjoint``: the
  whole system operator ``A = D B W_k`` over a stack of warps, and ``A^T`` (optionally
  of ``weights * y``, the data weights applied as it reads); each kernel set keeps the
  warps in its own form (tables here, LR flows in the Numba set).
- ``pairwise_prior``, ``tv_prior``: prior values and gradients.
- ``data_fidelity``: robust residual weighting of the data term.
- ``axpy``, ``axpby``: ``y += a x`` in place and ``out = a x + b y`` (the solvers'
  vector updates; coefficients may be 0-d device arrays).
- ``smoothness_differences``, ``weighted_smoothness``, ``weighted_smoothness_value``: the
  IRLS prior (adaptive weighted quadratic smoothness over four offsets), and
  ``cg_update`` / ``cg_direction``: conjugate-gradient steps whose scalars stay on the
  device, and ``cg_step``: ``cg_update`` with its inner products (``p.q`` and the new
  ``g.g``) in the same call (:mod:`mfsr.solvers.irls`, :func:`mfsr.solvers.cg_solve`).
- ``irls_residuals``, ``irls_key_median``, ``irls_difference_median``,
  ``irls_data_weights``, ``irls_prior_weights``, ``irls_objective``:
  an IRLS re-weighting and its history values in a handful of calls, the medians
  kept on the device (0-d arrays).
- ``warp_difference``: the photometric check's differences ``frames - W_k reference``
  of a whole stack in one call.
- ``local_filter``, ``normalized_filter``, ``remove_offsets``: small separable filters of an image stack
  (local means and RMS, the IRLS photometric offsets' normalised convolution) in one
  call: OpenCV on the host, two matrix products on a device.
- ``pairwise_prior_gradient``: a pairwise prior's gradient alone, scaled and added to a
  base (no value: no host read on the device).
- ``kernel_merge``: the kernel-regression merge of a burst (gather form, one output
  pixel reads the LR samples near it; :func:`mfsr.solvers.kernel_merge`).

The kernels that return an HR image (``warp_blur_decimate_adjoint``, the priors'
gradients) take an optional ``out`` array to write it into (:mod:`mfsr.kernels.buffers`).
"""
from __future__ import annotations

import numpy as np

from ..core.backend import get_array_module
from .buffers import deliver
from .filters import separable_filter
from .geometry import bilinear_sample, bilinear_tables, upsample_flow

NAME = "numpy"


def warp_forward(x, index, wy, wx):
    """Bilinear gather: ``out[p] = bilerp(x, index[p], wy[p], wx[p])``.

    ``index`` (int64, flat) is the top-left neighbour of each output pixel in ``x``
    (``(H, W)``, C-contiguous); ``wy``, ``wx`` (float32) the fractional offsets.
    Returns an array of ``x``'s shape and dtype.
    """
    W = x.shape[1]
    f = x.ravel()
    i = index
    top = f[i] + wx * (f[i + 1] - f[i])
    bot = f[i + W] + wx * (f[i + W + 1] - f[i + W])
    return (top + wy * (bot - top)).reshape(x.shape).astype(x.dtype, copy=False)


def warp_adjoint(y, index, wy, wx):
    """Bilinear splat, the exact adjoint of :func:`warp_forward`."""
    xp = get_array_module(y)
    H, W = y.shape
    v = y.ravel()
    a = v * (1 - wy)
    b = v * wy
    idx = xp.concatenate([index, index + 1, index + W, index + W + 1])
    vals = xp.concatenate([a * (1 - wx), a * wx, b * (1 - wx), b * wx])
    return xp.bincount(idx, weights=vals, minlength=H * W).reshape(H, W).astype(y.dtype)


def strided_correlate(xpad, wy, wx, start, scale, lr_shape):
    """Separable strided correlation over the last two axes.

    ``out[..., i, j] = sum_a sum_b wy[a] wx[b] xpad[..., start[0] + s*i + a,
    start[1] + s*j + b]`` for ``i < lr_shape[0]``, ``j < lr_shape[1]``. ``wy``, ``wx``
    are NumPy float64 tap arrays.
    """
    h, w = lr_shape
    s = scale
    t = sum(float(c) * xpad[..., start[0] + a: start[0] + a + s * (h - 1) + 1: s, :]
            for a, c in enumerate(wy))
    out = sum(float(c) * t[..., start[1] + b: start[1] + b + s * (w - 1) + 1: s]
              for b, c in enumerate(wx))
    return out.astype(xpad.dtype, copy=False)


def strided_correlate_adjoint(y, wy, wx, start, scale, padded_shape):
    """Adjoint of :func:`strided_correlate`: returns ``(..., *padded_shape)``."""
    xp = get_array_module(y)
    h, w = y.shape[-2:]
    s = scale
    lead = y.shape[:-2]
    t = xp.zeros(lead + (h, padded_shape[1]), dtype=y.dtype)
    for b, c in enumerate(wx):
        t[..., start[1] + b: start[1] + b + s * (w - 1) + 1: s] += float(c) * y
    g = xp.zeros(lead + tuple(padded_shape), dtype=y.dtype)
    for a, c in enumerate(wy):
        g[..., start[0] + a: start[0] + a + s * (h - 1) + 1: s, :] += float(c) * t
    return g


def separable_gather(z, rows, row_weights, cols, col_weights):
    """Apply two sparse matrices in ELL form along the last two axes: ``S_y z S_x^T``.

    ``out[..., i, j] = sum_a sum_b row_weights[i, a] col_weights[j, b]
    z[..., rows[i, a], cols[j, b]]``.

    Parameters
    ----------
    z : array (..., H, W)
    rows, row_weights : arrays (h, m_y)
        Column indices (into ``H``; int64) and values of each row of ``S_y``; unused
        entries carry weight 0 and any valid index.
    cols, col_weights : arrays (w, m_x)
        The same for ``S_x`` (indices into ``W``).

    Returns
    -------
    array (..., h, w) of ``z``'s dtype
    """
    xp = get_array_module(z)
    rows, cols = xp.asarray(rows), xp.asarray(cols)
    wr = xp.asarray(row_weights, dtype=z.dtype)
    wc = xp.asarray(col_weights, dtype=z.dtype)
    t = sum(wr[:, a, None] * xp.take(z, rows[:, a], axis=-2) for a in range(rows.shape[1]))
    out = sum(wc[:, b] * xp.take(t, cols[:, b], axis=-1) for b in range(cols.shape[1]))
    return out.astype(z.dtype, copy=False)


def prepare_warps(flows, scale, phase):
    """Precompute what :func:`warp_blur_decimate` needs of ``K`` warps (once per operator).

    Parameters
    ----------
    flows : array (K, h, w, 2)
        LR flows ``(dx, dy)`` in LR pixels; the HR warps are
        ``upsample_flow(flows[k], scale, phase)`` (:mod:`mfsr.kernels.geometry`).
    scale : int
    phase : float

    Returns
    -------
    tuple
        An opaque state for this kernel set's :func:`warp_blur_decimate` and
        :func:`warp_blur_decimate_adjoint`. Here the stacked bilinear tables
        ``(index, wy, wx)``, each ``(K, H*W)``, and ``identity``, a NumPy bool array
        ``(K,)`` flagging warps by a zero flow (their tables are not read).
    """
    xp = get_array_module(flows)
    k, h, w = flows.shape[:3]
    n = scale * h * scale * w
    tables = (xp.empty((k, n), xp.int64), xp.empty((k, n), xp.float32),
              xp.empty((k, n), xp.float32))
    identity = np.zeros(k, bool)
    for i in range(k):
        flow_hr = upsample_flow(flows[i], scale, phase)
        identity[i] = not bool(xp.any(flow_hr != 0))
        bilinear_tables(flow_hr, out=tuple(t[i] for t in tables))
    return tables + (identity,)


def warp_blur_decimate(x, warps, rows, row_weights, cols, col_weights):
    """The system operator ``A x = [S_y (W_k x) S_x^T]_k`` for ``K`` warps in one call.

    Parameters
    ----------
    x : array (H, W)
    warps : tuple
        ``prepare_warps(flows, scale, phase)`` of the same kernel set.
    rows, row_weights, cols, col_weights
        Blur + decimation ``D B`` as for :func:`separable_gather`.

    Returns
    -------
    array (K, h, w)
    """
    xp = get_array_module(x)
    index, wy, wx, identity = warps
    z = xp.stack([x.copy() if identity[k] else warp_forward(x, index[k], wy[k], wx[k])
                  for k in range(len(identity))])
    return separable_gather(z, rows, row_weights, cols, col_weights)


def warp_blur_decimate_adjoint(y, warps, rows_t, row_weights_t, cols_t, col_weights_t,
                               out=None, weights=None):
    """``A^T y = sum_k W_k^T (S_y^T y_k S_x)``, the adjoint of :func:`warp_blur_decimate`.

    The sampling tables are those of the transposed matrices ``S_y^T`` (``(H, m)``) and
    ``S_x^T`` (``(W, m)``). Returns an array ``(H, W)`` (``out`` when given: a
    C-contiguous array of that shape and ``y``'s dtype). ``weights`` (``y``'s shape and
    dtype), when given, multiplies ``y`` as it is read: ``A^T (weights * y)``, each
    product rounded in the dtype as the NumPy expression (the data weights of the
    solvers' normal maps, at no extra pass).
    """
    if weights is not None:
        if tuple(weights.shape) != tuple(y.shape):
            raise ValueError(f"weights must have y's shape {tuple(y.shape)}, got "
                             f"{tuple(weights.shape)}")
        y = weights * y
    index, wy, wx, identity = warps
    z = separable_gather(y, rows_t, row_weights_t, cols_t, col_weights_t)
    total = None
    for k in range(len(identity)):
        zk = z[k] if identity[k] else warp_adjoint(z[k], index[k], wy[k], wx[k])
        total = zk.copy() if total is None else total.__iadd__(zk)
    return deliver(total, out)


def _pair_slices(offset, shape):
    """Slices ``(a, b)`` with ``x[a] = x(p + o)`` and ``x[b] = x(p)`` over valid ``p``."""
    dy, dx = offset
    H, W = shape

    def axis(d, n):
        return (slice(d, n), slice(0, n - d)) if d >= 0 else (slice(0, n + d), slice(-d, n))

    (ay, by), (ax, bx) = axis(dy, H), axis(dx, W)
    return (ay, ax), (by, bx)


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
        a, b = _pair_slices(o, x.shape)
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



def axpy(a, x, y):
    """``y += a * x`` in place; return ``y``.

    Parameters
    ----------
    a : float or 0-d array
        A 0-d device array is used on the device (no host read).
    x, y : arrays of one shape; ``y`` is updated.
    """
    if x.shape != y.shape:
        raise ValueError(f"x and y must have one shape, got {x.shape} and {y.shape}")
    y += _coefficient(a, y.dtype) * x
    return y


def axpby(a, x, b, y, out):
    """``out = a x + b y`` elementwise; ``out`` may be ``x`` or ``y``; return ``out``.

    Rounded as the NumPy expression ``a * x + b * y`` in the arrays' dtype, so with
    ``a = 1`` it is bitwise ``x + b * y`` and with ``b = -1`` bitwise ``a * x - y``.

    Parameters
    ----------
    a, b : float or 0-d arrays
        0-d device arrays are used on the device (no host read).
    x, y, out : arrays of one shape and dtype
    """
    if not x.shape == y.shape == out.shape:
        raise ValueError(f"x, y and out must have one shape, got {x.shape}, {y.shape} and "
                         f"{out.shape}")
    out[...] = _coefficient(a, out.dtype) * x + _coefficient(b, out.dtype) * y
    return out


def _coefficient(a, dtype):
    """A scalar coefficient of the vector updates: a Python number as it is; a 0-d array
    (or NumPy scalar) on the host as a ``float`` (free); a 0-d device array stays on the
    device, cast to ``dtype`` (the rounding NumPy gives a Python float against arrays of
    ``dtype``, and no host read)."""
    if isinstance(a, (np.ndarray, np.generic)):
        return float(a)
    if hasattr(a, "astype"):
        return a.astype(dtype, copy=False)
    return a


# ------------------------------------------------------- IRLS smoothness, fused CG steps

#: Neighbour offsets ``(dy, dx)`` of the IRLS smoothness term (4-neighbourhood and
#: diagonals, each pair once) and their weights (``1 / math.sqrt(2)`` on the diagonals).
SMOOTHNESS_OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1))
SMOOTHNESS_WEIGHTS = (1.0, 1.0, 0.7071067811865475, 0.7071067811865475)


def smoothness_differences(x, out=None):
    """``d[o, p] = |x(p + o) - x(p)|`` for the :data:`SMOOTHNESS_OFFSETS`, ``+inf`` where
    ``p + o`` is outside the image.

    Parameters
    ----------
    x : array (H, W)
    out : array (4, H, W), optional

    Returns
    -------
    array (4, H, W) of ``x``'s dtype
        Sorted, the ``n`` valid differences come first (``n = sum (H - |dy|) (W - |dx|)``).
    """
    xp = get_array_module(x)
    d = xp.full((len(SMOOTHNESS_OFFSETS),) + tuple(x.shape), np.inf, dtype=x.dtype)
    for o, offset in enumerate(SMOOTHNESS_OFFSETS):
        a, b = _pair_slices(offset, x.shape)
        d[o][b] = xp.abs(x[a] - x[b])
    return deliver(d, out)


def weighted_smoothness(v, alphas, out=None, base=None):
    """``g = base + sum_o w_o D_o^T (alphas[o] D_o v)``: the gradient of
    :func:`weighted_smoothness_value`, a symmetric positive semi-definite map of ``v``.

    ``(D_o v)(p) = v(p + o) - v(p)`` over the :data:`SMOOTHNESS_OFFSETS` ``o`` with weights
    ``w_o`` (:data:`SMOOTHNESS_WEIGHTS`).

    Parameters
    ----------
    v : array (H, W)
    alphas : array (4, H, W) of ``v``'s dtype
        Weight of each pair at its base ``p`` (``alphas[o, p]`` for the pair
        ``(p, p + o)``); entries whose pair leaves the image are not read.
    out : array (H, W), optional
    base : array (H, W), optional
        Added to the result (e.g. the data term's part of a normal map); may be ``out``.

    Returns
    -------
    array (H, W)
    """
    xp = get_array_module(v)
    g = xp.zeros_like(v)
    for o, (offset, w) in enumerate(zip(SMOOTHNESS_OFFSETS, SMOOTHNESS_WEIGHTS)):
        a, b = _pair_slices(offset, v.shape)
        d = (alphas[o][b] * (v[a] - v[b])) * w
        g[a] += d
        g[b] -= d
    if base is not None:
        g = base + g
    return deliver(g, out)


def weighted_smoothness_value(v, alphas):
    """``1/2 sum_o w_o sum_p alphas[o, p] (D_o v)(p)^2`` (see :func:`weighted_smoothness`),
    accumulated in float64, as a 0-d float64 array of ``v``'s array module (on the device
    for device arrays: no host read)."""
    xp = get_array_module(v)
    total = xp.zeros(v.shape, dtype=xp.float64)
    for o, (offset, w) in enumerate(zip(SMOOTHNESS_OFFSETS, SMOOTHNESS_WEIGHTS)):
        a, b = _pair_slices(offset, v.shape)
        d = (v[a] - v[b]).astype(xp.float64)
        total[b] += w * (alphas[o][b].astype(xp.float64) * (d * d))
    return xp.asarray((0.5 * total).sum())


def cg_update(gg, pq, x, p, g, q):
    """One conjugate-gradient step in place: ``x += alpha p``, ``g -= alpha q`` with
    ``alpha = gg / max(pq, 1e-30)`` computed in float64 (``0`` when ``gg == 0``) and then
    rounded to the arrays' dtype.

    Parameters
    ----------
    gg, pq : float or 0-d arrays
        ``g . g`` and ``p . q``; 0-d device arrays are read on the device (no host sync).
    x, p, g, q : arrays of one shape and dtype
        ``x`` and ``g`` are updated.
    """
    if not x.shape == p.shape == g.shape == q.shape:
        raise ValueError("x, p, g and q must have one shape")
    if _on_host(gg, pq):
        num, den = float(gg), float(pq)
        alpha = num / max(den, 1e-30) if num != 0.0 else 0.0
        axpy(alpha, p, x)
        axpy(-alpha, q, g)
        return x, g
    xp = get_array_module(x)
    num, den = _as_float64(gg, xp), _as_float64(pq, xp)
    alpha = xp.where(num != 0, num / xp.maximum(den, 1e-30), 0).astype(x.dtype)
    x += alpha * p
    g -= alpha * q
    return x, g


def cg_direction(gg_new, gg, g, p):
    """The new conjugate-gradient direction in place: ``p = g + (gg_new / gg) p``, the
    ratio in float64 (``0`` when ``gg == 0``) rounded to the arrays' dtype; scalars as
    for :func:`cg_update`."""
    if g.shape != p.shape:
        raise ValueError(f"g and p must have one shape, got {g.shape} and {p.shape}")
    if _on_host(gg_new, gg):
        num, den = float(gg_new), float(gg)
        return axpby(1.0, g, num / den if den != 0.0 else 0.0, p, p)
    xp = get_array_module(p)
    num, den = _as_float64(gg_new, xp), _as_float64(gg, xp)
    ratio = xp.where(den != 0, num / xp.where(den != 0, den, 1), 0).astype(p.dtype)
    p *= ratio
    p += g
    return p


def cg_step(gg, x, p, g, q):
    """One conjugate-gradient step with its two inner products: ``pq = <p, q>``,
    ``x += alpha p``, ``g -= alpha q`` (``alpha`` as in :func:`cg_update`), and return
    the new ``<g, g>``, a 0-d array (or scalar) of ``x``'s array module and dtype, on the
    device for device arrays (no host read).

    The inner products are ``xp.vdot`` here (and in the Numba set); the CUDA set sums
    them per block, in double, in a fixed order (deterministic), and rounds them to the
    dtype.
    """
    xp = get_array_module(x)
    cg_update(gg, xp.vdot(p, q), x, p, g, q)
    return xp.vdot(g, g)


def _on_host(*values):
    """True when every value is a Python number or a host (NumPy) scalar / array."""
    return all(isinstance(v, (int, float, np.ndarray, np.generic)) for v in values)


def _as_float64(v, xp):
    return xp.asarray(v).astype(xp.float64)


# ------------------------------------------------------------------- IRLS re-weighting
#
# The robust scales of :mod:`mfsr.solvers.irls` are medians, returned as 0-d arrays so
# that no host read is needed (here from a sorted copy; the Numba set selects them by
# radix passes, the CuPy set sorts on the device). The data weights' median
# runs over the residuals of the pixels with confidence above 1/2 (over all of them when
# there is none): :func:`irls_residuals` makes integer sort keys that put those first,
# in the order of ``|r|``, so that one sort serves both cases.

#: MAD to standard deviation (Gaussian) and the smallest robust scale.
IRLS_MAD = 1.4826
IRLS_FLOOR = 1e-4
_KEY_TYPES = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}


def _irls_threshold(median, threshold, dtype, xp=np):
    """``threshold * max(1.4826 * median, 1e-4)`` in float64, then in ``dtype``: the
    number the weights are computed with (a 0-d array of ``xp``)."""
    scale = xp.maximum(xp.asarray(median).astype(xp.float64) * IRLS_MAD, IRLS_FLOOR)
    return xp.asarray(threshold * scale).astype(dtype)


def irls_residuals(ax, y, confidence):
    """The residual ``r = ax - y`` and the sort keys of ``|r|`` for the data weights.

    Returns
    -------
    r : array, ``ax``'s shape and dtype
    keys : 1-D integer array (int32 for float32, int64 for float64)
        The bits of ``|r|`` (non-negative floats order as their bits), shifted below 0
        (plus the type's minimum) where ``confidence > 0.5``: sorted, the ``n`` confident
        residuals come first in the order of ``|r|``, then the others, also in order.
    """
    xp = get_array_module(ax)
    if ax.dtype not in _KEY_TYPES:
        raise ValueError(f"ax must be float32 or float64, got {ax.dtype}")
    r = ax - y
    it = _KEY_TYPES[ax.dtype]
    bits = xp.abs(r).view(it).ravel()
    keys = xp.where((confidence > 0.5).ravel(), bits | it(np.iinfo(it).min), bits)
    return r, keys


def _key_median(s, xp):
    """The median of :func:`irls_residuals`' keys sorted (``s``), rounded as
    ``np.median``, over the confident ones (all when there is none), as a 0-d array of
    the residuals' dtype."""
    it = s.dtype.type
    dtype = np.float32 if it is np.int32 else np.float64
    bits = it(np.iinfo(it).max)  # clears the flag (sign) bit
    n = xp.searchsorted(s, it(0))  # the confident residuals (negative keys)
    n = xp.where(n == 0, s.size, n)
    lo = xp.asarray(xp.take(s, (n - 1) // 2) & bits).view(dtype)
    hi = xp.asarray(xp.take(s, n // 2) & bits).view(dtype)
    return (lo + hi) * dtype(0.5)


def irls_key_median(keys):
    """The median of ``|r|`` from :func:`irls_residuals`' keys: over the residuals with
    confidence above 1/2, over all of them when there is none; rounded as ``np.median``
    (the mean of the two middle values).

    Parameters
    ----------
    keys : 1-D int32 or int64 array
        The keys of :func:`irls_residuals`.

    Returns
    -------
    0-d array of the residuals' dtype (float32 for int32 keys), on ``keys``' device.
    """
    xp = get_array_module(keys)
    if keys.ndim != 1 or keys.dtype not in (np.int32, np.int64) or keys.size == 0:
        raise ValueError("keys must be the non-empty 1-D int32/int64 keys of irls_residuals, "
                         f"got {keys.dtype} of shape {keys.shape}")
    return xp.asarray(_key_median(xp.sort(keys), xp))


def irls_difference_median(d, n):
    """The median of the ``n`` smallest values of ``d`` (:func:`smoothness_differences`,
    whose ``n`` finite values come before its ``+inf``), rounded as ``np.median``; ``0``
    for ``n == 0``.

    Returns
    -------
    0-d array of ``d``'s dtype, on ``d``'s device.
    """
    xp = get_array_module(d)
    n = int(n)
    if not 0 <= n <= d.size:
        raise ValueError(f"n must lie in [0, d.size = {d.size}], got {n}")
    dtype = d.dtype.type
    if n == 0:
        return xp.zeros((), d.dtype)
    s = xp.sort(d, axis=None)
    return xp.asarray((s[(n - 1) // 2] + s[n // 2]) * dtype(0.5))


def irls_data_weights(median, r, confidence, threshold):
    """Data weights ``c * min(1, t_r / max(|r|, 1e-12))`` with ``t_r =
    _irls_threshold(median, threshold)``; in ``r``'s dtype.

    Parameters
    ----------
    median : 0-d array
        The residuals' robust centre, :func:`irls_key_median` of their keys.
    r, confidence : arrays of one shape and dtype
    threshold : float

    Returns
    -------
    array, ``r``'s shape and dtype
    """
    xp = get_array_module(r)
    t = _irls_threshold(median, threshold, r.dtype, xp)
    return confidence * xp.minimum(1.0, t / xp.maximum(xp.abs(r), 1e-12))


def irls_prior_weights(median, d, threshold, weight=1.0, out=None):
    """Pair weights ``weight * min(1, t_p / max(d, 1e-12))`` (each product rounded in the
    dtype) from :func:`smoothness_differences` ``d`` (``+inf`` where a pair leaves the
    image: weight 0 there) and ``t_p = _irls_threshold(median, threshold)``, ``median``
    that of the valid differences (:func:`irls_difference_median`).

    ``out``: optional array of ``d``'s shape and dtype to write into (``d`` itself: the
    weights replace the differences).

    Returns
    -------
    array (4, H, W) of ``d``'s dtype
    """
    xp = get_array_module(d)
    t = _irls_threshold(median, threshold, d.dtype, xp)
    alphas = xp.minimum(1.0, t / xp.maximum(d, 1e-12))
    return deliver(alphas * weight if weight != 1.0 else alphas, out)


def irls_objective(ax, y, beta, confidence, x, alphas=None):
    """The IRLS history values at ``x`` (``ax = A x``): ``0.5 sum beta r^2`` plus
    :func:`weighted_smoothness_value` of ``(x, alphas)`` (none without ``alphas``), and
    ``sqrt(sum c r^2)``, ``r = ax - y``; two 0-d arrays (on the device for device arrays).
    """
    xp = get_array_module(ax)
    r = ax - y
    data = xp.sum(beta * r * r)
    objective = 0.5 * data + weighted_smoothness_value(x, alphas) if alphas is not None \
        else 0.5 * data
    return objective, xp.sqrt(xp.sum(confidence * r * r))


# ---------------------------------------------------------------- kernel-regression merge

#: Gaussian weights with a Mahalanobis distance ``q`` above this are skipped (exp(-30)).
MERGE_CUTOFF = 60.0
#: A total weight at or below this counts as no weight (the nearest-sample fallback).
MERGE_TINY = 1e-30


def _merge_constants(radius, dtype):
    """``[radius, 1, 1/2, 2, 3, cutoff, tiny, inf]`` in ``dtype``: the constants of
    :func:`kernel_merge`, shared by every kernel set."""
    return np.array([radius, 1.0, 0.5, 2.0, 3.0, MERGE_CUTOFF, MERGE_TINY, np.inf], dtype=dtype)


def _sample_flow(xp, flow, x, y, one):
    """Bilinear sample of one flow ``(h, w, 2)`` at ``(x, y)`` (clamped to the image):
    ``top = f00 (1 - a) + f01 a``, ``bot = f10 (1 - a) + f11 a``, ``top (1 - b) + bot b``."""
    h, w = flow.shape[:2]
    cx = xp.clip(x, 0, w - 1).astype(x.dtype)
    cy = xp.clip(y, 0, h - 1).astype(y.dtype)
    j0 = xp.minimum(xp.floor(cx).astype(xp.int64), max(w - 2, 0))
    i0 = xp.minimum(xp.floor(cy).astype(xp.int64), max(h - 2, 0))
    j1, i1 = xp.minimum(j0 + 1, w - 1), xp.minimum(i0 + 1, h - 1)
    a = cx - j0.astype(x.dtype)
    b = cy - i0.astype(y.dtype)
    oa, ob = one - a, one - b
    out = []
    for d in range(2):
        f = flow[..., d]
        top = f[i0, j0] * oa + f[i0, j1] * a
        bot = f[i1, j0] * oa + f[i1, j1] * a
        out.append(top * ob + bot * b)
    return out


def kernel_merge(frames, flows, weights, icov, channel, n_channels, scale, phase, radius):
    """Kernel-regression merge (gather form): every HR pixel reads the LR samples near it.

    For HR pixel ``X = (Q, P)`` (column, row) and frame ``k``: ``u = (X - phase) / scale``
    is ``X`` on the reference LR grid; ``p = u - flow_k(u)``, then ``p = u - flow_k(p)``
    (flows sampled bilinearly, clamped) is where ``X`` falls in frame ``k``. The LR
    samples ``j`` of frame ``k`` with ``floor(p) - radius < j <= floor(p) + radius`` (per
    axis, inside the frame) contribute, at their exact positions ``j + flow_k(j)``, with
    ``d = j + flow_k(j) - u`` (LR px), ``q = d^T icov(X) d`` and weight
    ``g = weights[k, j] t(j_x - p_x) t(j_y - p_y) exp(-q / 2)`` (``0`` for ``q`` above
    :data:`MERGE_CUTOFF`), where ``t`` is a smooth window that is 1 within ``radius - 1``
    of ``p`` and 0 from ``radius`` on (so the result does not jump where ``floor(p)``
    does). Samples with ``weights <= 0`` are skipped. The value of channel ``c`` is
    ``sum g y / sum g``; where that total weight is at most :data:`MERGE_TINY`, the value
    of the sample with the smallest ``q`` (first in frame, row, column order) is taken.

    Parameters
    ----------
    frames : array (K, h, w, L), float32 or float64
        LR samples. ``L == 1``: each sample goes to channel ``channel[j]`` only (grey or
        a CFA mosaic); ``L == n_channels``: value ``l`` goes to channel ``l``.
    flows : array (K, h, w, 2)
        ``(dx, dy)`` in LR px: frame ``k`` pixel ``p`` sees the reference at
        ``p + flows[k, p]``; cast to the frames' dtype.
    weights : array (K, h, w) of the frames' dtype
        Per-sample weight (confidence times robustness), ``>= 0``.
    icov : array (H, W, 3) of the frames' dtype
        Inverse kernel covariance ``(a, b, c)`` per HR pixel, in LR px^-2:
        ``q = a dx^2 + 2 b dx dy + c dy^2``.
    channel : int32 array (h, w)
        Output channel of each LR sample (used when ``L == 1``).
    n_channels : int
        ``C``.
    scale : int
    phase : float
        HR coordinate of LR pixel 0's centre.
    radius : int
        Half-width of the window in LR px (``2 radius`` samples per axis), ``>= 1``.

    Returns
    -------
    out : array (H, W, C)
    support : array (H, W, C)
        The total weight; ``0`` where the value is the nearest sample's, ``-1`` where no
        sample with a positive weight is in reach (the value is then 0).
    """
    xp = get_array_module(frames)
    T = frames.dtype
    K, h, w, L = frames.shape
    H, W = icov.shape[:2]
    C = int(n_channels)
    r = int(radius)
    c = xp.asarray(_merge_constants(r, T))
    one, half, two, three = c[1], c[2], c[3], c[4]
    flows = flows.astype(T, copy=False)
    ux = ((xp.arange(W, dtype=T) - T.type(phase)) / T.type(scale))[None, :]
    uy = ((xp.arange(H, dtype=T) - T.type(phase)) / T.type(scale))[:, None]
    ux, uy = xp.broadcast_to(ux, (H, W)), xp.broadcast_to(uy, (H, W))
    a, b, cc = icov[..., 0], icov[..., 1], icov[..., 2]
    num = xp.zeros((H, W, C), T)
    den = xp.zeros((H, W, C), T)
    bestq = xp.full((H, W, C), np.inf, T)
    bestv = xp.zeros((H, W, C), T)
    for k in range(K):
        fx, fy = _sample_flow(xp, flows[k], ux, uy, one)
        px, py = ux - fx, uy - fy
        fx, fy = _sample_flow(xp, flows[k], px, py, one)
        px, py = ux - fx, uy - fy
        bx = xp.floor(px).astype(xp.int64)
        by = xp.floor(py).astype(xp.int64)
        for oy in range(-r + 1, r + 1):
            jy = by + oy
            iny = (jy >= 0) & (jy < h)
            jyc = xp.clip(jy, 0, h - 1)
            ty = xp.minimum(xp.maximum(c[0] - xp.abs(jy.astype(T) - py), 0), one).astype(T)
            ty = ty * ty * (three - two * ty)
            for ox in range(-r + 1, r + 1):
                jx = bx + ox
                inx = (jx >= 0) & (jx < w)
                jxc = xp.clip(jx, 0, w - 1)
                tx = xp.minimum(xp.maximum(c[0] - xp.abs(jx.astype(T) - px), 0), one).astype(T)
                tx = tx * tx * (three - two * tx)
                valid = iny & inx & (ty > 0) & (tx > 0)
                wgt = weights[k, jyc, jxc]
                valid &= wgt > 0
                f = flows[k, jyc, jxc]
                dx = (jxc.astype(T) + f[..., 0]) - ux
                dy = (jyc.astype(T) + f[..., 1]) - uy
                q = a * dx * dx + two * b * dx * dy + cc * dy * dy
                g = wgt * ty * tx * xp.exp(-half * q)
                g = xp.where(valid & (q <= c[5]), g, 0).astype(T)
                y = frames[k, jyc, jxc]  # (H, W, L)
                for ch in range(C):
                    if L == 1:
                        sel = valid & (channel[jyc, jxc] == ch)
                        v = y[..., 0]
                    else:
                        sel = valid
                        v = y[..., ch]
                    gs = xp.where(sel, g, 0).astype(T)
                    num[..., ch] += gs * v
                    den[..., ch] += gs
                    better = sel & (q < bestq[..., ch])
                    bestq[..., ch] = xp.where(better, q, bestq[..., ch])
                    bestv[..., ch] = xp.where(better, v, bestv[..., ch])
    ok = den > c[6]
    out = xp.where(ok, num / xp.where(ok, den, 1), xp.where(xp.isfinite(bestq), bestv, 0))
    support = xp.where(ok, den, xp.where(xp.isfinite(bestq), 0, -1))
    return out.astype(T, copy=False), support.astype(T, copy=False)


# ---------------------------------------------------- Lucas-Kanade flow (registration="gpu")

#: Largest side of :func:`lk_level`'s median window (the CUDA kernel sorts in registers).
LK_MAX_MEDIAN = 9
#: Standard deviation (px of the finer level) of :func:`lk_pyramid_down`'s anti-alias blur.
PYRAMID_SIGMA = 1.0


def _gaussian_taps(sigma):
    """Normalised Gaussian taps (float64) as ``scipy.ndimage.gaussian_filter`` makes them
    (truncated at 4 sigma: radius ``int(4 sigma + 0.5)``); ``[1.0]`` for radius 0."""
    radius = int(4.0 * float(sigma) + 0.5)
    if radius == 0:
        return np.ones(1)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (float(sigma) * float(sigma)) * x * x)
    return phi / phi.sum()


def _lk_check(images, pairs, flows, median):
    """Shared argument checks of :func:`lk_level`; the pairs as two tuples of ints."""
    if images.ndim != 3 or flows.ndim != 4 or flows.shape[-1] != 2:
        raise ValueError(f"images must be (M, h, w) and flows (N, h, w, 2), got "
                         f"{tuple(images.shape)} and {tuple(flows.shape)}")
    pairs = [(int(f), int(r)) for f, r in pairs]
    m = images.shape[0]
    if len(pairs) != flows.shape[0] or tuple(flows.shape[1:3]) != tuple(images.shape[1:]):
        raise ValueError(f"flows {tuple(flows.shape)} must hold one (h, w, 2) flow per pair "
                         f"({len(pairs)}) of images {tuple(images.shape)}")
    if any(not (0 <= f < m and 0 <= r < m) for f, r in pairs):
        raise ValueError(f"pair indices must be in [0, {m})")
    if not 0 <= int(median) <= LK_MAX_MEDIAN:
        raise ValueError(f"median must be in [0, {LK_MAX_MEDIAN}], got {median}")
    return tuple(f for f, _ in pairs), tuple(r for _, r in pairs)


def _lk_axis(xp, c, n):
    """Clamped bilinear coordinates ``c`` on an axis of ``n`` px: first index, second
    index and fraction (``c``'s dtype), as :func:`mfsr.registration.gpu_flow.bilinear_sample`."""
    c = xp.clip(c, 0, n - 1)
    i0 = xp.minimum(xp.floor(c), max(n - 2, 0))
    frac = (c - i0).astype(c.dtype)
    i0 = i0.astype(xp.int64)
    return i0, i0 + (1 if n > 1 else 0), frac


def _lk_bilerp(a, b, c, d, fy, fx):
    top = a + fx * (b - a)
    bot = c + fx * (d - c)
    return top + fy * (bot - top)


def _lk_sample(xp, images, cy, cx):
    """Bilinear samples of ``images`` (N, C, h, w) at ``(cy, cx)`` (N, h', w') -> (N, C, h', w')."""
    n, c, h, w = images.shape
    i0, i1, fy = _lk_axis(xp, cy, h)
    j0, j1, fx = _lk_axis(xp, cx, w)
    flat = images.reshape(n, c, h * w)

    def at(i, j):
        return xp.take_along_axis(flat, (i * w + j).reshape(n, 1, -1), axis=2).reshape(
            (n, c) + cy.shape[1:])
    return _lk_bilerp(at(i0, j0), at(i0, j1), at(i1, j0), at(i1, j1), fy[:, None],
                      fx[:, None])


def _lk_correlate(xp, a, taps, axis, out_index=None):
    """``sum_t taps[t] a[..., clamp(i + t - r), ...]`` along ``axis`` (-2 or -1),
    accumulated in float64 in tap order, at the positions ``out_index`` (default all),
    rounded to ``a``'s dtype."""
    n = a.shape[axis]
    r = len(taps) // 2
    pos = xp.arange(n) if out_index is None else out_index
    acc = None
    for t, wt in enumerate(taps):
        idx = xp.clip(pos + (t - r), 0, n - 1)
        term = float(wt) * xp.take(a, idx, axis=axis).astype(xp.float64)
        acc = term if acc is None else acc + term
    return acc.astype(a.dtype)


def lk_pyramid_down(images):
    """One pyramid step of a stack: Gaussian blur (sigma :data:`PYRAMID_SIGMA`, edges
    replicated, rows then columns, each pass summed in float64 and rounded to the
    dtype) and every second pixel kept, as ``scipy.ndimage.gaussian_filter(image, 1.0,
    mode="nearest")[::2, ::2]``.

    Parameters
    ----------
    images : array (M, h, w), float32 or float64

    Returns
    -------
    array (M, (h + 1) // 2, (w + 1) // 2)
    """
    xp = get_array_module(images)
    if images.ndim != 3:
        raise ValueError(f"images must be (M, h, w), got {tuple(images.shape)}")
    taps = _gaussian_taps(PYRAMID_SIGMA)
    h, w = images.shape[1:]
    rows = _lk_correlate(xp, images, taps, -2, xp.arange(0, h, 2))
    return _lk_correlate(xp, rows, taps, -1, xp.arange(0, w, 2))


def lk_upsample(flows, shape):
    """Flows of a pyramid level brought to the next finer one: ``2 f(P / 2, Q / 2)``,
    bilinear, clamped (the ``[::2]`` decimation of :func:`lk_pyramid_down`).

    Parameters
    ----------
    flows : array (N, h, w, 2)
    shape : (H, W)
        The finer level's size.

    Returns
    -------
    array (N, H, W, 2) of ``flows``' dtype
    """
    xp = get_array_module(flows)
    if flows.ndim != 4 or flows.shape[-1] != 2:
        raise ValueError(f"flows must be (N, h, w, 2), got {tuple(flows.shape)}")
    T = flows.dtype
    n, h, w, _ = flows.shape
    H, W = (int(v) for v in shape)
    i0, i1, fy = _lk_axis(xp, xp.arange(H, dtype=T) / T.type(2), h)
    j0, j1, fx = _lk_axis(xp, xp.arange(W, dtype=T) / T.type(2), w)
    i0, i1, fy = i0[:, None], i1[:, None], fy[:, None, None]
    v = _lk_bilerp(flows[:, i0, j0], flows[:, i0, j1], flows[:, i1, j0], flows[:, i1, j1],
                   fy, fx[:, None])
    return (T.type(2) * v).astype(T, copy=False)


def _lk_gradients(xp, images):
    """(M, 3, h, w): each image and its central differences along x and y (edges
    replicated), ``0.5 (a[+1] - a[-1])`` in the dtype."""
    half = images.dtype.type(0.5)
    h, w = images.shape[1:]
    jp, jm = xp.minimum(xp.arange(w) + 1, w - 1), xp.maximum(xp.arange(w) - 1, 0)
    ip, im = xp.minimum(xp.arange(h) + 1, h - 1), xp.maximum(xp.arange(h) - 1, 0)
    gx = half * (images[:, :, jp] - images[:, :, jm])
    gy = half * (images[:, ip, :] - images[:, im, :])
    return xp.stack([images, gx, gy], axis=1)


def _lk_products(xp, grads, fi, ri, flows):
    """(N, 5, h, w): ``gx^2, gx gy, gy^2, gx it, gy it`` of each pair, with the
    reference and its gradient sampled at ``p + flow(p)``, the gradient the mean of the
    frame's and the warped reference's and ``it = warped - frame``."""
    T = grads.dtype
    h, w = grads.shape[2:]
    frame, ref = grads[list(fi)], grads[list(ri)]
    cy = xp.arange(h, dtype=T)[None, :, None] + flows[..., 1]
    cx = xp.arange(w, dtype=T)[None, None, :] + flows[..., 0]
    v = _lk_sample(xp, ref, cy, cx)
    half = T.type(0.5)
    gx = half * (v[:, 1] + frame[:, 1])
    gy = half * (v[:, 2] + frame[:, 2])
    it = v[:, 0] - frame[:, 0]
    return xp.stack([gx * gx, gx * gy, gy * gy, gx * it, gy * it], axis=1)


def _lk_solve(xp, products, flows, wa, ws, regularization):
    """The regularised 2x2 update of every pixel (float64, rounded to the dtype):
    ``(A + lam I) u = A u0 - b + lam mean(u0)``, with ``A``, ``b`` the window sums
    (``wa``) and ``mean`` the flow smoothed by ``ws``."""
    T = flows.dtype
    s = _lk_correlate(xp, _lk_correlate(xp, products, wa, -2), wa, -1).astype(xp.float64)
    f = xp.moveaxis(flows, -1, 1)
    m = _lk_correlate(xp, _lk_correlate(xp, f, ws, -2), ws, -1).astype(xp.float64)
    f = f.astype(xp.float64)
    lam = float(regularization)
    a11, a12, a22, b1, b2 = (s[:, c] for c in range(5))
    r1 = a11 * f[:, 0] + a12 * f[:, 1] - b1 + lam * m[:, 0]
    r2 = a12 * f[:, 0] + a22 * f[:, 1] - b2 + lam * m[:, 1]
    a11 = a11 + lam
    a22 = a22 + lam
    det = a11 * a22 - a12 * a12
    return xp.stack([(a22 * r1 - a12 * r2) / det, (a11 * r2 - a12 * r1) / det],
                    axis=-1).astype(T)


def _lk_median(xp, flows, m):
    """Median of each flow component over an ``m x m`` window (offsets ``-(m // 2)`` to
    ``m - 1 - m // 2``, edges replicated; element ``m * m // 2`` of the sorted window,
    as ``scipy.ndimage.median_filter``)."""
    h, w = flows.shape[1:3]
    lo = -(m // 2)
    rows, cols = xp.arange(h), xp.arange(w)
    window = [flows[:, xp.clip(rows + a, 0, h - 1)][:, :, xp.clip(cols + b, 0, w - 1)]
              for a in range(lo, lo + m) for b in range(lo, lo + m)]
    return xp.sort(xp.stack(window), axis=0)[(m * m) // 2]


def lk_level(images, pairs, flows, iterations, window, regularization, smooth, median):
    """All Lucas-Kanade iterations of one pyramid level for a batch of image pairs.

    For pair ``n = (f, r)``: the flow ``u`` (``flows[n]``) is refined ``iterations``
    times so that ``images[r](p + u(p)) ~ images[f](p)``. Each iteration: the reference
    and its gradient (central differences) are sampled bilinearly (clamped) at
    ``p + u(p)``; ``g`` = mean of that gradient and the frame's, ``it`` = warped
    reference - frame; the structure tensor ``A = sum g g^T`` and ``b = sum g it`` are
    summed over a Gaussian window (``window`` px, separable, rows then columns, float64
    sums rounded to the dtype, edges replicated); the update solves
    ``(A + lam I) u_new = A u - b + lam mean(u)`` per pixel in float64 (``mean``: ``u``
    smoothed by a Gaussian of ``smooth`` px, or ``u`` itself for 0), so that where the
    window has no texture the neighbours' flow is kept; then each component is
    median-filtered over ``median x median`` pixels (none for 0 or 1). A pair of an
    image with itself keeps a zero flow exactly.

    Parameters
    ----------
    images : array (M, h, w), float32 or float64
        The images of this level (frames and references).
    pairs : sequence of (int, int)
        ``(frame, reference)`` indices into ``images``, one per flow.
    flows : array (N, h, w, 2)
        Initial ``(dx, dy)`` per pair; not modified.
    iterations : int
    window, smooth : float
        Standard deviations (px) of the summation window and of the flow smoothing.
    regularization : float
        ``lam``, added to the diagonal of ``A``.
    median : int
        Side of the median window, 0 to :data:`LK_MAX_MEDIAN`.

    Returns
    -------
    array (N, h, w, 2) of ``images``' dtype
    """
    xp = get_array_module(images, flows)
    fi, ri = _lk_check(images, pairs, flows, median)
    flows = flows.astype(images.dtype)
    wa, ws = _gaussian_taps(window), _gaussian_taps(smooth)
    grads = _lk_gradients(xp, images)
    for _ in range(int(iterations)):
        flows = _lk_solve(xp, _lk_products(xp, grads, fi, ri, flows), flows, wa, ws,
                          regularization)
        if median > 1:
            flows = _lk_median(xp, flows, int(median))
    return flows


def lk_confidence(forward, backward, tolerance):
    """Forward-backward consistency of a batch of flow pairs.

    ``e = f(p) + b(p + f(p))`` (``b`` sampled bilinearly, clamped, in the dtype);
    confidence ``exp(-|e|^2 / (2 tolerance^2))`` (float64, rounded to the dtype), 0 where
    ``p + f(p)`` leaves the frame by more than half a pixel.

    Parameters
    ----------
    forward, backward : array (N, h, w, 2)
    tolerance : float

    Returns
    -------
    array (N, h, w) of ``forward``'s dtype
    """
    xp = get_array_module(forward, backward)
    if forward.ndim != 4 or forward.shape[-1] != 2 or forward.shape != backward.shape:
        raise ValueError(f"forward and backward must be (N, h, w, 2) of one shape, got "
                         f"{tuple(forward.shape)} and {tuple(backward.shape)}")
    T = forward.dtype
    backward = backward.astype(T, copy=False)
    n, h, w, _ = forward.shape
    cy = xp.arange(h, dtype=T)[None, :, None] + forward[..., 1]
    cx = xp.arange(w, dtype=T)[None, None, :] + forward[..., 0]
    v = _lk_sample(xp, xp.moveaxis(backward, -1, 1), cy, cx)
    e0 = (forward[..., 0] + v[:, 0]).astype(xp.float64)
    e1 = (forward[..., 1] + v[:, 1]).astype(xp.float64)
    tol = float(tolerance)
    conf = xp.exp(-0.5 * (e0 * e0 + e1 * e1) / (tol * tol))
    tx = xp.arange(w, dtype=xp.float64)[None, None, :] + forward[..., 0].astype(xp.float64)
    ty = xp.arange(h, dtype=xp.float64)[None, :, None] + forward[..., 1].astype(xp.float64)
    inside = (tx >= -0.5) & (tx <= w - 0.5) & (ty >= -0.5) & (ty <= h - 0.5)
    return xp.where(inside, conf, 0.0).astype(T)


def _as_stack(a):
    """``a`` as a ``(n, h, w)`` stack (a view) and the shape to return."""
    return a.reshape((-1,) + tuple(a.shape[-2:])), a.shape


def local_filter(stack, taps, border="zero", square=False, root=False):
    """Filter each ``(h, w)`` image of ``stack`` by ``taps`` along both axes.

    Parameters
    ----------
    stack : array, shape (..., h, w)
    taps : tuple of float
        Odd number of taps, centred.
    border : {"zero", "replicate"}
        Values outside the image: 0, or the edge value.
    square : bool
        Filter ``stack ** 2`` instead of ``stack``.
    root : bool
        Return the square root of the filtered image (clipped at 0): with ``square``,
        the local RMS.

    Returns
    -------
    array, ``stack``'s shape and dtype
    """
    xp = get_array_module(stack)
    flat, shape = _as_stack(stack)
    out = separable_filter(flat * flat if square else flat, tuple(taps), border)
    if root:
        out = xp.sqrt(xp.maximum(out, 0))
    return out.reshape(shape).astype(stack.dtype, copy=False)


def normalized_filter(values, weights, taps, floor=1e-3, zero_image=None):
    """Normalised convolution ``G (w v) / max(G w, floor)`` of each image of a stack,
    ``G`` the separable filter ``taps`` with zeros outside the image.

    Parameters
    ----------
    values, weights : arrays, shape (K, h, w)
    taps : tuple of float
        Odd number of taps, centred.
    floor : float
        Smallest denominator.
    zero_image : int, optional
        Index of an image whose result is set to 0.

    Returns
    -------
    array, shape (K, h, w), ``values``' dtype
    """
    xp = get_array_module(values)
    k = values.shape[0]
    both = separable_filter(xp.concatenate([weights * values, weights]).astype(
        values.dtype, copy=False), tuple(taps), "zero")      # numerator, denominator
    out = (both[:k] / xp.maximum(both[k:], floor)).astype(values.dtype, copy=False)
    if zero_image is not None:
        out[zero_image] = 0
    return out


def warp_difference(frames, image, flows):
    """``frames[k] - image`` sampled bilinearly at ``p + flows[k](p)`` (positions clamped
    to the image), for all frames at once.

    Parameters
    ----------
    frames : array, shape (K, h, w)
    image : array, shape (h, w), ``frames``' dtype
    flows : array, shape (K, h, w, 2), float32
        ``(dx, dy)`` per pixel.

    Returns
    -------
    array, shape (K, h, w), ``frames``' dtype
    """
    xp = get_array_module(frames)
    k, h, w = frames.shape
    gy, gx = xp.meshgrid(xp.arange(h, dtype=xp.float32), xp.arange(w, dtype=xp.float32),
                         indexing="ij")
    warped = bilinear_sample(xp.broadcast_to(image, (k, 1, h, w)),
                             (gy + flows[..., 1])[:, None], (gx + flows[..., 0])[:, None])
    return (frames - warped[:, 0]).astype(frames.dtype, copy=False)


def remove_offsets(observed, ax, weights, taps, reference, floor=1e-3):
    """The frames without their smooth photometric offsets: ``observed - b`` with
    ``b = normalized_filter(observed - ax, weights, taps, floor, reference)`` (see
    :func:`mfsr.degradation.offsets.frame_offsets`).

    Parameters
    ----------
    observed, ax, weights : arrays, shape (K, h, w)
        The frames, the model's prediction ``A x`` and the residuals' weights.
    taps : tuple of float
        Odd number of taps, centred.
    reference : int or None
        The frame whose offset is 0.
    floor : float
        Smallest denominator.

    Returns
    -------
    array, shape (K, h, w), ``observed``'s dtype
    """
    b = normalized_filter((observed - ax).astype(observed.dtype, copy=False), weights, taps,
                          floor, reference)
    return (observed - b).astype(observed.dtype, copy=False)

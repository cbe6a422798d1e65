"""Reference Lucas-Kanade flow (``registration="gpu"``): the pyramid steps
(:func:`lk_pyramid_down`, :func:`lk_upsample`), all iterations of one level for a batch
of image pairs (:func:`lk_level`) and the forward-backward confidence
(:func:`lk_confidence`); ``cuda/flow.cu`` in the CuPy set.
"""
from __future__ import annotations

from ...core.backend import get_array_module
from ..common import PYRAMID_SIGMA, gaussian_taps, lk_check


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
    """One pyramid step of a stack: Gaussian blur (sigma
    :data:`~mfsr.kernels.common.PYRAMID_SIGMA`, edges replicated, rows then columns, each
    pass summed in float64 and rounded to the dtype) and every second pixel kept, as
    ``scipy.ndimage.gaussian_filter(image, 1.0, mode="nearest")[::2, ::2]``.

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
    taps = gaussian_taps(PYRAMID_SIGMA)
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
        Side of the median window, 0 to :data:`~mfsr.kernels.common.LK_MAX_MEDIAN`.

    Returns
    -------
    array (N, h, w, 2) of ``images``' dtype
    """
    xp = get_array_module(images, flows)
    fi, ri = lk_check(images, pairs, flows, median)
    flows = flows.astype(images.dtype)
    wa, ws = gaussian_taps(window), gaussian_taps(smooth)
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

"""Reference small separable filters of image stacks: local means and RMS
(:func:`local_filter`), normalised convolution (:func:`normalized_filter`) and the IRLS
photometric offsets' removal built on it (:func:`remove_offsets`); OpenCV on the host,
two matrix products on a device (:mod:`mfsr.kernels.filters`); ``cuda/filter.cu`` in
the CuPy set.
"""
from __future__ import annotations

from ...core.backend import get_array_module
from ..filters import separable_filter


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

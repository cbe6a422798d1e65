"""Small separable filters of image stacks: OpenCV on the host, two matrix products on
a device.

On a GPU a filter written with slices costs dozens of array operations; a separable
filter of an ``(..., h, w)`` stack is instead ``F_h @ x @ F_w^T`` with the ``(n, n)``
filter matrices built once per size on the host and kept on the device
(:func:`mfsr.core.device_cache.device_constant`).
"""
from __future__ import annotations

import cv2
import numpy as np

from ..core.backend import get_array_module
from ..core.device_cache import device_constant

BORDERS = ("zero", "replicate")


def filter_matrix(n, taps, border="zero"):
    """The ``(n, n)`` matrix of a 1-D correlation with the odd-length ``taps``.

    Parameters
    ----------
    n : int
        Length of the axis.
    taps : sequence of float
        Filter taps, centred.
    border : {"zero", "replicate"}
        Values outside the axis: 0, or the edge value.

    Returns
    -------
    ndarray, shape (n, n), float64
    """
    taps = np.asarray(taps, np.float64)
    r = len(taps) // 2
    m = np.zeros((n, n))
    for i in range(n):
        for j, t in enumerate(taps):
            q = i + j - r
            if border == "replicate":
                q = min(max(q, 0), n - 1)
            elif not 0 <= q < n:
                continue
            m[i, q] += t
    return m


_CV2_BORDERS = {"zero": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE}


def separable_filter(stack, taps, border="zero"):
    """Filter each ``(h, w)`` image of a ``(K, h, w)`` stack by ``taps`` along both
    axes: ``cv2.sepFilter2D`` for NumPy stacks, :func:`separable_filter_device` for
    device stacks (the same result to float rounding).

    Parameters
    ----------
    stack : array, shape (K, h, w)
    taps : sequence of float
        Odd number of taps, centred.
    border : {"zero", "replicate"}

    Returns
    -------
    array, ``stack``'s shape and dtype
    """
    xp = get_array_module(stack)
    if xp is not np:
        return separable_filter_device(stack, tuple(taps), border)
    kernel = np.asarray(taps, np.float64)
    out = np.empty_like(stack)
    for k in range(stack.shape[0]):
        out[k] = cv2.sepFilter2D(stack[k], -1, kernel, kernel, borderType=_CV2_BORDERS[border])
    return out


def separable_filter_device(stack, taps, border="zero"):
    """Filter each ``(h, w)`` image of a device stack by ``taps`` along both axes.

    Parameters
    ----------
    stack : array, shape (..., h, w)
        A device (CuPy) array.
    taps : tuple of float
    border : {"zero", "replicate"}

    Returns
    -------
    array, ``stack``'s shape and dtype
    """
    xp = get_array_module(stack)
    h, w = stack.shape[-2:]
    key = tuple(float(t) for t in taps)
    rows, cols = (device_constant(("separable-filter", n, key, border, stack.dtype.str),
                                  lambda n=n: filter_matrix(n, key, border).astype(stack.dtype),
                                  xp) for n in (h, w))
    return xp.matmul(xp.matmul(rows, stack), cols.T)

"""MATLAB-compatible bicubic ``imresize``: the "BI" protocol of the SR literature.

The standard BI data sets (and the plain-bicubic rows of SR papers) were made with
MATLAB's ``imresize(x, scale, 'bicubic')``, which differs from OpenCV's and PIL's
bicubic: for a downscale it stretches Keys' cubic (a = -0.5) by ``1/scale``
(antialiasing), output pixel ``j`` (0-based) sits on input coordinate
``(j + 0.5) / scale - 0.5``, weights are normalised per output pixel, out-of-range taps are clamped to the edge
sample (MATLAB's ``contributions``: "Clamp out-of-range indices; has the effect of
replicating end-points"), and the rows are resized before the columns. An integer image stays integer after each pass (MATLAB's ``imresizemex``
rounds half away from zero and saturates), so ``uint8`` in gives the exact ``uint8``
MATLAB writes; a float image is resized in float64.
"""
from __future__ import annotations

import math

import numpy as np

from ..core.validation import check_array, check_float

__all__ = ["imresize", "imresize_weights"]


def _matlab_cubic(t):
    t = np.abs(t)
    t2, t3 = t * t, t * t * t
    return ((1.5 * t3 - 2.5 * t2 + 1) * (t <= 1)
            + (-0.5 * t3 + 2.5 * t2 - 4 * t + 2) * ((t > 1) & (t <= 2)))


def imresize_weights(in_length, out_length, scale, antialiasing=True):
    """Weights and source indices of one resized dimension (MATLAB ``contributions``).

    Parameters
    ----------
    in_length, out_length : int
        Input and output lengths of the dimension.
    scale : float
        Output over input size (``< 1`` shrinks).
    antialiasing : bool
        Stretch the kernel by ``1 / scale`` when shrinking (MATLAB's default).

    Returns
    -------
    weights : ndarray, shape (out_length, P), float64
        Rows sum to 1.
    indices : ndarray, shape (out_length, P), int
        0-based input indices, clamped into ``[0, in_length)`` (the edge sample is
        replicated).
    """
    if scale < 1 and antialiasing:
        def kernel(x):
            return scale * _matlab_cubic(scale * x)
        width = 4.0 / scale
    else:
        kernel, width = _matlab_cubic, 4.0
    x = np.arange(1, out_length + 1, dtype=np.float64)        # MATLAB's 1-based grid
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    indices = left[:, None] + np.arange(taps)[None, :]
    weights = kernel(u[:, None] - indices)
    weights /= weights.sum(axis=1, keepdims=True)
    # replicate, not mirror: MATLAB's own LR images (SelfExSR's Set5/Set14) match this
    # to 0 grey levels, and differ by up to 10 on the border with a symmetric extension
    indices = np.clip(indices.astype(np.int64) - 1, 0, in_length - 1)
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], indices[:, keep]


def _resize_axis(image, axis, weights, indices):
    moved = np.moveaxis(image, axis, 0)
    out = np.einsum("op,op...->o...", weights, moved[indices].astype(np.float64))
    if image.dtype.kind in "ui":     # imresizemex keeps the class: round, saturate
        info = np.iinfo(image.dtype)
        out = np.clip(np.sign(out) * np.floor(np.abs(out) + 0.5), info.min, info.max)
        out = out.astype(image.dtype)
    return np.moveaxis(out, 0, axis)


def imresize(image, scale=None, output_shape=None, *, antialiasing=True):
    """Resize like MATLAB's ``imresize(image, scale, 'bicubic')``.

    Parameters
    ----------
    image : array, shape (H, W) or (H, W, C)
        uint8/uint16 (the result keeps the type, rounded after each pass as MATLAB
        does) or float (resized in float64, not clipped).
    scale : float, optional
        Factor applied to both dimensions; the output is ``ceil(scale * H)`` by
        ``ceil(scale * W)``. Give ``scale`` or ``output_shape``.
    output_shape : tuple of 2 int, optional
        ``(rows, cols)`` of the output; each dimension's scale is then its size ratio.
    antialiasing : bool
        MATLAB's ``'Antialiasing'`` (default true: the kernel is widened when
        shrinking).

    Returns
    -------
    ndarray
        ``image`` resized; integer input keeps its dtype, float input gives float64.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    >>> imresize(x, 1 / 4).shape
    (2, 2)
    """
    image = check_array(image, "image", ndim=(2, 3))
    if image.dtype == bool:
        raise TypeError("image must be a numeric array, got dtype bool")
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale and output_shape")
    in_shape = image.shape[:2]
    if scale is not None:
        scale = check_float(scale, "scale", minimum=0.0, strict_min=True)
        scales = (scale, scale)
        out_shape = tuple(int(math.ceil(scale * n)) for n in in_shape)
    else:
        if len(output_shape) != 2 or any(int(n) != n or n < 1 for n in output_shape):
            raise ValueError(f"output_shape must be 2 positive integers, got {output_shape}")
        out_shape = tuple(int(n) for n in output_shape)
        scales = tuple(o / i for o, i in zip(out_shape, in_shape))
    if image.dtype.kind == "f":
        image = image.astype(np.float64)
    # MATLAB resizes the dimension with the smaller scale first (rows on a tie)
    for axis in sorted((0, 1), key=lambda a: scales[a]):
        weights, indices = imresize_weights(in_shape[axis], out_shape[axis], scales[axis],
                                            antialiasing)
        image = _resize_axis(image, axis, weights, indices)
    return image

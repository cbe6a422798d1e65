"""Output buffers: kernels that return an image can write it into one the caller owns.

A solver loop that passes its own buffers allocates no image per iteration, so its speed
does not depend on the allocator. Whether a freed image of a few megabytes is reused or
handed back to the operating system (and page-faulted in again at the next allocation)
depends on the state of the heap: in the benchmark's MAP solve it was mostly reused, but
in other call sequences a 720p evaluation spent a good part of its time faulting pages in.
CuPy's memory pool has no such cost; the CuPy kernels copy into ``out``.
"""
from __future__ import annotations

import numpy as np


def check_out(out, shape, dtype):
    """Return ``out`` if a kernel can write a result of ``shape`` and ``dtype`` into it.

    Parameters
    ----------
    out : array
        Candidate buffer (NumPy or CuPy).
    shape : tuple of int
    dtype : dtype

    Returns
    -------
    array
        ``out``.

    Raises
    ------
    ValueError
        If ``out`` is not C-contiguous or has another shape or dtype.
    """
    if tuple(out.shape) != tuple(shape) or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous array of shape {tuple(shape)} and dtype "
                         f"{np.dtype(dtype)}, got shape {tuple(out.shape)}, dtype {out.dtype}"
                         f"{'' if out.flags.c_contiguous else ', not contiguous'}")
    return out


def deliver(result, out):
    """Return ``result``, or copy it into ``out`` (checked by :func:`check_out`) and return
    ``out``.

    Parameters
    ----------
    result : array
    out : array or None

    Returns
    -------
    array
    """
    if out is None:
        return result
    check_out(out, result.shape, result.dtype)
    out[...] = result
    return out

"""What the modules of the Numba set share: the compile options (``JIT``, ``PAR``), the
test of which arrays the compiled kernels take (:func:`fast`), the per-thread scratch
arrays (:func:`workspace`), the split of the work into chunks and splat partitions
(:data:`PARTITIONS`), and the inline bilinear gather / splat and splat-partition
helpers of the warp adjoints and the fused operator.
"""
from __future__ import annotations

import threading

import numba
import numpy as np
from numba import njit, prange

from ..buffers import check_out

#: The dtypes of the compiled kernels; the options of every ``njit`` kernel (``JIT``) and
#: of the parallel ones (``PAR``).
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
JIT = {"cache": True, "nogil": True}
PAR = {"parallel": True, **JIT}
_local = threading.local()

# Splat partitions (accumulator images) of the warp adjoints: up to PARTITIONS threads
# splat at once, whatever the machine, and the result is the same on all of them (more
# threads than PARTITIONS do not speed the splat up). Memory: PARTITIONS - 1 HR images of
# workspace (the first partition splats into the output), kept per calling thread:
# 7 x 4 x H x W bytes in float32, 26 MB for a 1280x720 HR image, 232 MB for 3840x2160
# (before: one per thread beyond the first; 1 image on a 2-thread machine, 15 on a
# 16-thread one). Per call, only the rows a partition's splats reach (its band of rows
# and the motion margin) are zeroed and summed, so the memory traffic of a call stays
# near one image however many partitions there are.
PARTITIONS = 8


def fast(*arrays):
    """True when the compiled kernels handle these arrays (float32/float64 NumPy)."""
    return all(type(a) is np.ndarray and a.dtype in FLOATS for a in arrays)


def check_numpy_out(out, shape, dtype):
    """``out`` when the compiled kernels can write into it (a C-contiguous NumPy array)."""
    if type(out) is not np.ndarray:
        raise TypeError(f"out must be a NumPy array, got {type(out).__name__}")
    return check_out(out, shape, dtype)


def workspace(name, shape, dtype):
    """A scratch array kept per calling thread and reused while the shape stays the same."""
    cache = getattr(_local, "arrays", None)
    if cache is None:
        cache = _local.arrays = {}
    shape, dtype = tuple(int(n) for n in shape), np.dtype(dtype)
    a = cache.get(name)
    if a is None or a.shape != shape or a.dtype != dtype:
        a = cache[name] = np.empty(shape, dtype)
    return a


def workspaces():
    """The scratch arrays of :func:`workspace` kept for the calling thread, by name."""
    return getattr(_local, "arrays", {})


def threads():
    """The number of Numba threads (only ever a split of the work, never of a sum)."""
    return numba.get_num_threads()


def chunks(n):
    """Number of contiguous chunks (one per thread) to split ``n`` rows into; only for
    kernels whose results do not depend on the chunk bounds (pure scheduling)."""
    return max(1, min(int(n), threads()))


def partitions(n):
    """Splat partitions for ``n`` rows of work: a function of the problem size only."""
    return max(1, min(int(n), PARTITIONS))


@njit(inline="always")
def bilerp(f, i, W, wy, wx):
    # unsigned indices: a table index is never negative, and a signed one makes Numba
    # check every load for Python's negative-index wraparound (measurably slower)
    i, W, one = np.uint64(i), np.uint64(W), np.uint64(1)
    a = f[i]
    c = f[i + W]
    top = a + wx * (f[i + one] - a)
    bot = c + wx * (f[i + W + one] - c)
    return top + wy * (bot - top)


@njit(inline="always")
def splat(buf, i, W, v, wy, wx):
    one = np.float32(1.0)
    a = v * (one - wy)
    b = v * wy
    owx = one - wx
    i, W, u1 = np.uint64(i), np.uint64(W), np.uint64(1)  # as in bilerp
    buf[i] += a * owx
    buf[i + u1] += a * wx
    buf[i + W] += b * owx
    buf[i + W + u1] += b * wx


# The splat adjoints: partition t of P (a contiguous range of work rows) splats into its
# own accumulator, ``out`` for t = 0, ``extra[t - 1]`` else, and the accumulators are summed
# row by row in partition order: the same operations in the same order for any number of
# threads. An accumulator is zeroed lazily, over the band of rows its splats reach
# (``band[t] = [first, end)``, kept contiguous), and only rows inside a band are summed: a
# partition of rows reaches those rows and the motion margin, not the whole image.

@njit(inline="always")
def splat_rows(ik, W):
    """HR rows ``[r0, r1)`` the splats of these table entries write (top-left neighbour
    ``ik`` and the row below)."""
    lo = hi = ik[0]
    for q in range(1, ik.size):
        v = ik[q]
        lo = min(lo, v)
        hi = max(hi, v)
    return lo // W, hi // W + 2


@njit(inline="always")
def cover(buf, W, band, t, r0, r1):
    """Zero the rows of ``buf`` (flat, width ``W``) in ``[r0, r1)`` that band ``t`` does not
    cover yet, and widen the band to cover them."""
    lo, hi = band[t, 0], band[t, 1]
    if lo >= hi:
        buf[r0 * W: r1 * W] = 0
        band[t, 0], band[t, 1] = r0, r1
        return
    if r0 < lo:
        buf[r0 * W: lo * W] = 0
        band[t, 0] = r0
    if r1 > hi:
        buf[hi * W: r1 * W] = 0
        band[t, 1] = r1


@njit(**PAR)
def reduce_bands(out, extra, band, W):
    """``out = sum_t accumulator_t`` row by row, in partition order, over the rows each
    accumulator's band covers (``out`` is accumulator 0; rows no band covers are 0)."""
    H = out.size // W
    P = band.shape[0]
    for r in prange(H):
        lo, hi = r * W, (r + 1) * W
        dst = out[lo:hi]
        have = band[0, 0] <= r < band[0, 1]
        for t in range(1, P):
            if band[t, 0] <= r < band[t, 1]:
                src = extra[t - 1, lo:hi]
                if have:
                    for q in range(W):
                        dst[q] += src[q]
                else:
                    dst[:] = src
                    have = True
        if not have:
            dst[:] = 0

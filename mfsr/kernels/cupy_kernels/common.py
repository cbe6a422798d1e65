"""What the modules of the CuPy set share: the CUDA sources compiled once per file
(:func:`kernel`, from ``cuda/<name>.cu``), the launch geometry (:data:`THREADS`,
:func:`blocks`, :func:`launch`, :func:`launch_one_block`), small kernel arguments kept
on the device (:func:`device_values`) and the test of which arrays the CUDA kernels take
(:func:`fast`).
"""
from __future__ import annotations

import functools

import cupy as cp
import numpy as np

from ..cuda import KERNELS, SUFFIXES, source

#: Threads per block, and the most blocks of a launch.
THREADS = 256
MAX_BLOCKS = 1 << 16  # grid-stride loops cover larger problems
_SUFFIX = {np.dtype(k): v for k, v in SUFFIXES.items()}


@functools.cache
def _module(name):
    return cp.RawModule(code=source(name), options=("-std=c++17",))


def kernel(function, dtype):
    """The CUDA kernel ``function`` (a name of :data:`mfsr.kernels.cuda.KERNELS`) for
    ``dtype``, its source file compiled at first use."""
    return _module(KERNELS[function]).get_function(f"{function}_{_SUFFIX[np.dtype(dtype)]}")


def blocks(n):
    """Blocks of a launch over ``n`` indices (also the number of partial sums a
    ``mfsr_block_store`` kernel leaves)."""
    return max(1, min(-(-int(n) // THREADS), MAX_BLOCKS))


def launch(kernel, n, args):
    """Launch ``kernel`` over ``n`` indices (grid-stride loops beyond :data:`MAX_BLOCKS`)."""
    kernel((blocks(n),), (THREADS,), args)


def launch_one_block(kernel, args):
    """A kernel that sums partials in one block (``MFSR_ONE_BLOCK_LOOP``)."""
    kernel((1,), (THREADS,), args)


@functools.lru_cache(maxsize=256)
def _constant(values, dtype, device):
    """A small device array made once per (values, dtype, device)."""
    return cp.asarray(np.asarray(values, dtype=dtype))


def device_values(values, dtype):
    """``values`` (a few numbers, on the host or the device) as a cached device array."""
    host = cp.asnumpy(values) if isinstance(values, cp.ndarray) else np.asarray(values)
    return _constant(tuple(host.ravel().tolist()), np.dtype(dtype).str, cp.cuda.Device().id)


def fast(*arrays):
    """True when the CUDA kernels handle these arrays (float32/float64 CuPy arrays)."""
    return all(isinstance(a, cp.ndarray) and a.dtype in _SUFFIX for a in arrays)

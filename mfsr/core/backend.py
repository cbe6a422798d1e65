"""Array-module selection: every layer above is written once against ``xp``.

The array's own module picks the backend: NumPy arrays run on the CPU, CuPy
arrays on the GPU. Importing :mod:`mfsr` never imports CuPy; it is looked up
lazily, only when a caller hands in a CuPy array or asks for ``backend="cupy"``.
"""
from __future__ import annotations

import numpy as np

BACKENDS = ("auto", "numpy", "numba", "cupy")


def _cupy():
    try:
        import cupy  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the machine
        return None
    return cupy


def gpu_available() -> bool:
    """Return True when CuPy imports and sees at least one CUDA device."""
    cp = _cupy()
    if cp is None:
        return False
    try:
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:  # pragma: no cover - driver missing or broken
        return False


def get_array_module(*arrays):
    """Return ``cupy`` if any argument is a CuPy array, else ``numpy``.

    Parameters
    ----------
    *arrays : array_like or None
        Arrays to inspect; ``None`` and Python scalars are ignored.

    Returns
    -------
    module
        ``numpy`` or ``cupy``.
    """
    for a in arrays:
        mod = type(a).__module__
        if mod.startswith("cupy"):
            return _cupy()
    return np


def resolve_backend(backend: str, *arrays):
    """Map a ``backend`` argument and the input data to an array module.

    Parameters
    ----------
    backend : {"auto", "numpy", "numba", "cupy"}
        ``"auto"`` follows the arrays (CuPy arrays stay on the GPU). ``"numpy"`` and
        ``"numba"`` both compute on the CPU; they differ in the kernels used
        (see :mod:`mfsr.kernels`).
    *arrays : array_like
        The data the call works on.

    Returns
    -------
    module
        The array module to compute with.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return get_array_module(*arrays)
    if backend in ("numpy", "numba"):
        return np
    cp = _cupy()
    if cp is None:
        raise ValueError('backend="cupy" needs CuPy: pip install "mfsr[gpu]"')
    return cp


def to_device(a, xp):
    """Return ``a`` as an array of module ``xp`` (no copy when already there)."""
    if xp is np:
        return to_numpy(a)
    return xp.asarray(a)


def to_numpy(a):
    """Return ``a`` as a NumPy array, copying from the GPU when needed."""
    if hasattr(a, "get") and type(a).__module__.startswith("cupy"):
        return a.get()
    return np.asarray(a)


def ndimage_module(xp):
    """Return the ``scipy.ndimage`` work-alike for ``xp``."""
    if xp is np:
        import scipy.ndimage as ndi
    else:  # pragma: no cover - GPU only
        import cupyx.scipy.ndimage as ndi
    return ndi

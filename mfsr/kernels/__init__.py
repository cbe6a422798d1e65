"""Kernel registry: the hot loops, one implementation per device, chosen from the data.

Operators and priors never call a kernel set directly; they ask :func:`kernels_for`
with the array they work on. CuPy arrays get the CuPy kernels; NumPy arrays get the
CPU set chosen with :func:`use` (``"auto"`` = Numba when it imports, else the NumPy
reference). All sets implement the functions of :mod:`mfsr.kernels.reference`.
"""
from __future__ import annotations

import contextlib
import contextvars
import importlib

from . import reference

CPU_KERNELS = ("auto", "numpy", "numba")
_cpu_choice = contextvars.ContextVar("mfsr_cpu_kernels", default="auto")
_loaded = {}


def _load(name):
    """Import a kernel set by name, or return None when it cannot run here."""
    if name not in _loaded:
        try:
            _loaded[name] = importlib.import_module(f".{name}_kernels", __name__)
        except ImportError:
            _loaded[name] = None
    return _loaded[name]


@contextlib.contextmanager
def use(name):
    """Select the CPU kernel set inside a ``with`` block.

    Parameters
    ----------
    name : {"auto", "numpy", "numba"}
    """
    if name not in CPU_KERNELS:
        raise ValueError(f"unknown CPU kernels {name!r}; valid: {', '.join(map(repr, CPU_KERNELS))}")
    if name == "numba" and _load("numba") is None:
        raise ValueError('CPU kernels "numba" requested but numba is not importable')
    token = _cpu_choice.set(name)
    try:
        yield
    finally:
        _cpu_choice.reset(token)


def kernels_for(array):
    """Return the kernel set (a module) for computations on ``array``."""
    if type(array).__module__.startswith("cupy"):
        return _load("cupy") or reference
    choice = _cpu_choice.get()
    if choice in ("auto", "numba"):
        return _load("numba") or reference
    return reference


__all__ = ["kernels_for", "use", "CPU_KERNELS", "reference"]

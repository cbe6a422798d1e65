"""The CUDA C kernels built as host code, standing in for CuPy on machines without a GPU.

With ``MFSR_HOST_EMULATION`` each kernel of ``mfsr/kernels/cuda/*.cu`` becomes a C
function with the same name and parameters, looping over all indices. :func:`load`
imports ``mfsr/kernels/cupy_kernels`` unchanged over a small CuPy stand-in whose
``RawModule`` builds those sources with the host C++ compiler and checks every launch's
argument types against the kernel's C signature (and that no kernel writes outside its
arrays). Used by ``tests/test_kernels.py``; what it cannot check (thread mapping,
atomics, the block reduction) is left to ``tests/test_gpu.py`` on a GPU machine.
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

from mfsr.kernels import reference


def find_program(*names):
    """The first of ``names`` found on PATH (or an executable absolute path), or None."""
    for name in names:
        path = shutil.which(name) or (name if os.path.isabs(name) and os.access(name, os.X_OK)
                                      else None)
        if path:
            return path
    return None


CXX = find_program(os.environ.get("CXX", "c++"), "g++", "clang++")


_C_TYPES = {  # C parameter type -> (kind, dtype, ctypes type)
    "float*": ("array", np.float32), "double*": ("array", np.float64),
    "int*": ("array", np.int32), "mfsr_index*": ("array", np.int64),
    "float": ("scalar", np.float32), "double": ("scalar", np.float64),
    "int": ("scalar", np.int32), "mfsr_index": ("scalar", np.int64),
}
_CTYPES = {np.float32: ctypes.c_float, np.float64: ctypes.c_double,
           np.int32: ctypes.c_int, np.int64: ctypes.c_longlong}


def _signatures(preprocessed):
    """{kernel name: [(kind, dtype), ...]} from the host build's expanded source."""
    sigs = {}
    for name, params in re.findall(r'extern "C" void (\w+)\s*\(([^)]*)\)', preprocessed):
        parsed = []
        for p in params.split(","):
            p = re.sub(r"\b(const|__restrict__)\b", " ", p)
            ctype = re.sub(r"\s+", "", p.strip().rsplit(None, 1)[0] if "*" not in p
                           else p[: p.rindex("*") + 1])
            parsed.append(_C_TYPES[ctype])
        sigs[name] = parsed
    return sigs


class _HostKernel:
    GUARD = 64  # elements of guard band on each side of every array argument

    def __init__(self, name, function, signature):
        self.name, self.signature = name, signature
        function.restype = None
        function.argtypes = [ctypes.c_void_p if k == "array" else _CTYPES[d]
                             for k, d in signature]
        self.function = function

    def __call__(self, grid, block, args):
        assert len(grid) == 1 and int(grid[0]) >= 1, grid
        assert len(block) == 1 and int(block[0]) % 32 == 0 and block[0] <= 1024, block
        assert len(args) == len(self.signature), \
            f"{self.name}: {len(args)} arguments for {len(self.signature)} parameters"
        values, guarded = [], []
        for i, (a, (kind, dtype)) in enumerate(zip(args, self.signature)):
            if kind == "array":
                assert isinstance(a, np.ndarray) and a.dtype == dtype and \
                    a.flags.c_contiguous, f"{self.name} argument {i}: want {dtype.__name__}*"
                # copy into a buffer with guard bands: NaN for floats, so that reading past
                # either end shows in the results; any write there fails the check below
                fill = np.nan if a.dtype.kind == "f" else np.iinfo(dtype).min
                buf = np.full(a.size + 2 * self.GUARD, fill, dtype)
                buf[self.GUARD: self.GUARD + a.size] = a.ravel()
                guarded.append((a, buf))
                values.append(buf[self.GUARD:].ctypes.data)
            else:
                assert type(a) is dtype, \
                    f"{self.name} argument {i}: want {dtype.__name__}, got {type(a).__name__}"
                values.append(a)
        self.function(*values)
        for a, buf in guarded:
            bands = np.concatenate([buf[: self.GUARD], buf[self.GUARD + a.size:]])
            intact = np.isnan(bands) if a.dtype.kind == "f" else bands == np.iinfo(a.dtype).min
            assert intact.all(), f"{self.name} wrote outside an argument array"
            a.ravel()[...] = buf[self.GUARD: self.GUARD + a.size]


def fma_flags():
    """C++ flags that make the host compiler contract ``a * b + c`` into FMA instructions
    wherever it may, as nvcc / NVRTC do on the device by default (``--fmad=true``); or
    None when this CPU cannot run such code (an x86 CPU without FMA). The host build
    with them shows on any machine whether a kernel's result depends on that contraction
    (e.g. float32 warp weights that must round as NumPy does)."""
    if CXX is None:
        return None
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686", "x86"):
        return ["-ffp-contract=fast"]  # e.g. aarch64: FMA is part of the base ISA
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            has_fma = re.search(r"^flags\s*:.*\bfma\b", f.read(), re.MULTILINE) is not None
    except OSError:
        has_fma = False
    return ["-mfma", "-ffp-contract=fast"] if has_fma else None


def _host_cupy(build_dir, extra_flags=()):
    """A stand-in for the parts of CuPy that cupy_kernels uses, on NumPy arrays."""
    cache = {}

    class RawModule:
        def __init__(self, code, options=()):
            assert "-std=c++17" in options
            if code not in cache:
                key = len(cache)
                src = build_dir / f"kernels_{key}.cpp"
                src.write_text("#define MFSR_HOST_EMULATION 1\n" + code)
                lib = build_dir / f"kernels_{key}.so"
                flags = ["-std=c++17", "-O2", "-Wall", "-Werror", *extra_flags, "-x", "c++"]
                built = subprocess.run([CXX, *flags, "-shared", "-fPIC", str(src), "-o",
                                        str(lib)], capture_output=True, text=True, check=False)
                assert built.returncode == 0, built.stderr
                expanded = subprocess.run([CXX, *flags, "-E", "-P", str(src)], check=True,
                                          capture_output=True, text=True).stdout
                cache[code] = (ctypes.CDLL(str(lib)), _signatures(expanded))
            self.lib, self.signatures = cache[code]

        def get_function(self, name):
            return _HostKernel(name, getattr(self.lib, name), self.signatures[name])

    cp = types.ModuleType("cupy")
    cp.ndarray = np.ndarray
    for name in ("ascontiguousarray", "asarray", "empty", "empty_like", "zeros", "zeros_like",
                 "any", "sort", "float32", "float64", "int32", "int64"):
        setattr(cp, name, getattr(np, name))
    cp.asnumpy = np.asarray
    cp.RawModule = RawModule
    cp.cuda = types.SimpleNamespace(Device=lambda: types.SimpleNamespace(id=0))
    return cp



def import_cupy_set(name):
    """The package ``mfsr/kernels/cupy_kernels`` imported afresh as ``name`` (a name under
    ``mfsr.kernels``, so that its relative imports reach the other kernel modules), over
    the ``cupy`` that ``sys.modules`` holds now; its modules are run anew and left out of
    ``sys.modules`` afterwards (the next import is fresh again)."""
    folder = os.path.join(os.path.dirname(os.path.dirname(reference.__file__)),
                          "cupy_kernels")
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)

    def mine(key):
        return key == name or key.startswith(name + ".")
    for key in [k for k in sys.modules if mine(k)]:
        del sys.modules[key]
    sys.modules[name] = module  # the package, for its modules' relative imports
    try:
        spec.loader.exec_module(module)
    finally:
        for key in [k for k in sys.modules if mine(k)]:
            del sys.modules[key]
    return module


def load(build_dir, extra_flags=()):
    """``mfsr/kernels/cupy_kernels`` imported over the host-built kernels (built with
    ``extra_flags`` added to the C++ compiler's, e.g. :func:`fma_flags`)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "cupy", _host_cupy(build_dir, tuple(extra_flags)))
        return import_cupy_set("mfsr.kernels._cupy_kernels_host")

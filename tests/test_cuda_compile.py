"""The CUDA C kernels, checked on machines without a GPU.

- ``nvcc`` compiles every ``mfsr/kernels/cuda/*.cu`` once, for sm_80 (A100) and sm_90
  (H100), warnings as errors, and every kernel the CuPy module asks for is in the PTX in
  both dtypes. Skipped with a reason when ``nvcc`` is absent.
- The same sources built as host code (``MFSR_HOST_EMULATION``: each kernel becomes a C
  function with the same name and parameters, looping over all indices) stand in for
  CuPy: ``mfsr/kernels/cupy_kernels.py`` runs unchanged on NumPy arrays through a small
  CuPy stand-in that checks every launch's argument types against the kernel's C
  signature. Its results must match the NumPy reference to 1e-4 (float32) / 1e-10
  (float64), the pairs must be adjoint, and a whole ``reconstruct`` with these kernels
  must match the reference kernels. Skipped when no C++ compiler is found. What this
  cannot check (thread mapping, atomics, the block reduction) is left to
  ``tests/test_gpu.py`` on a GPU machine.
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

from mfsr.degradation import BlurDecimate, GaussianPSF, Warp
from mfsr.kernels import cuda, reference
from mfsr.priors import BilateralTV, HuberMRF, Tikhonov

CUDA_DIR = os.path.dirname(cuda.__file__)
ARCHS = ("80", "90")


def _find(*names):
    for name in names:
        path = shutil.which(name) or (name if os.path.isabs(name) and os.access(name, os.X_OK)
                                      else None)
        if path:
            return path
    return None


NVCC = _find(os.environ.get("NVCC", "nvcc"), "/usr/local/cuda/bin/nvcc")
CXX = _find(os.environ.get("CXX", "c++"), "g++", "clang++")
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc not found: install the CUDA toolkit "
                                "or set NVCC to compile-check the CUDA kernels")
needs_cxx = pytest.mark.skipif(CXX is None, reason="no C++ compiler (c++/g++/clang++) to build "
                               "the CUDA kernels as host code")


# ---------------------------------------------------------------- nvcc compile check

@pytest.fixture(scope="module")
def ptx(tmp_path_factory):
    """Compile each source once with nvcc; return {source: {arch: ptx text}} or errors."""
    out = {}
    for name in cuda.SOURCES:
        build = tmp_path_factory.mktemp(f"nvcc_{name}")
        gencode = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in ARCHS]
        cmd = [NVCC, "-std=c++17", "-c", "-Werror", "all-warnings", "-I", CUDA_DIR, *gencode,
               "--keep", "--keep-dir", str(build), os.path.join(CUDA_DIR, f"{name}.cu"),
               "-o", str(build / f"{name}.o")]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode:
            out[name] = " ".join(cmd) + "\n" + proc.stdout + proc.stderr
            continue
        out[name] = {a: (build / f"{name}.compute_{a}.ptx").read_text() for a in ARCHS}
    return out


@needs_nvcc
@pytest.mark.parametrize("name", cuda.SOURCES)
def test_cuda_source_compiles_for_sm80_and_sm90(name, ptx):
    result = ptx[name]
    assert isinstance(result, dict), result
    wanted = {f"{f}_{s}" for f, src in cuda.KERNELS.items() if src == name
              for s in cuda.SUFFIXES.values()}
    for arch, text in result.items():
        entries = set(re.findall(r"\.entry\s+(\w+)\(", text))
        assert wanted <= entries, f"sm_{arch}: missing {sorted(wanted - entries)}"
        assert re.search(rf"\.target\s+sm_{arch}\b", text)


def test_sources_inline_the_shared_header():
    for name in cuda.SOURCES:
        text = cuda.source(name)
        assert "#include \"" not in text
        assert text.count("typedef long long mfsr_index;") == 1
    with pytest.raises(ValueError, match="unknown CUDA source"):
        cuda.source("nope")


# ---------------------------------------------------------------- host emulation

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


def _host_cupy(build_dir):
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
                flags = ["-std=c++17", "-O2", "-Wall", "-Werror", "-x", "c++"]
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
                 "any", "float32", "float64", "int32", "int64"):
        setattr(cp, name, getattr(np, name))
    cp.asnumpy = np.asarray
    cp.RawModule = RawModule
    cp.cuda = types.SimpleNamespace(Device=lambda: types.SimpleNamespace(id=0))
    return cp


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    """mfsr/kernels/cupy_kernels.py, imported over the host-built kernels."""
    path = os.path.join(os.path.dirname(reference.__file__), "cupy_kernels.py")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "cupy", _host_cupy(tmp_path_factory.mktemp("host_kernels")))
        spec = importlib.util.spec_from_file_location("mfsr.kernels._cupy_kernels_host", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


TOL = {np.float32: {"rtol": 1e-4, "atol": 1e-4}, np.float64: {"rtol": 1e-10, "atol": 1e-10}}
DTYPES = [np.float32, np.float64]


def _warp(rng, shape=(23, 31), amplitude=3.0):
    return Warp((amplitude * rng.standard_normal(shape + (2,))).astype(np.float32))


@needs_cxx
@pytest.mark.parametrize("dtype", DTYPES)
def test_host_warp_matches_reference_and_is_adjoint(host, dtype, rng):
    w = _warp(rng)
    x = rng.random(w.shape).astype(dtype)
    y = rng.standard_normal(w.shape).astype(dtype)
    fwd = host.warp_forward(x, w.index, w.wy, w.wx)
    adj = host.warp_adjoint(y, w.index, w.wy, w.wx)
    assert fwd.dtype == adj.dtype == dtype
    np.testing.assert_allclose(fwd, reference.warp_forward(x, w.index, w.wy, w.wx), **TOL[dtype])
    np.testing.assert_allclose(adj, reference.warp_adjoint(y, w.index, w.wy, w.wx), **TOL[dtype])
    lhs, rhs = np.vdot(fwd, y), np.vdot(x, adj)
    # the weights are float32 (and 1 - w is rounded to float32, as in the reference)
    assert abs(lhs - rhs) <= 1e-5 * max(abs(lhs), 1.0)


SAMPLERS = [((36, 28), 4, GaussianPSF(1.6), 0.0), ((36, 28), 4, "area", None),
            ((27, 21), 3, "bicubic", 1.0), ((20, 14), 2, GaussianPSF(0.0), 0.5),
            ((9, 7), 1, GaussianPSF(0.7), 0.0)]


@needs_cxx
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hr_shape,scale,psf,phase", SAMPLERS)
def test_host_strided_correlate_matches_reference_and_is_adjoint(host, hr_shape, scale, psf,
                                                                 phase, dtype, rng):
    op = BlurDecimate(hr_shape, scale, psf, phase)
    wy, wx = op.weights
    start = (op.rows.offset, op.cols.offset)
    padded = (op.rows.before + hr_shape[0] + op.rows.after,
              op.cols.before + hr_shape[1] + op.cols.after)
    xpad = rng.random((3,) + padded).astype(dtype)
    y = rng.standard_normal((3,) + op.lr_shape).astype(dtype)
    fwd = host.strided_correlate(xpad, wy, wx, start, scale, op.lr_shape)
    adj = host.strided_correlate_adjoint(y, wy, wx, start, scale, padded)
    assert fwd.shape == y.shape and adj.shape == xpad.shape
    np.testing.assert_allclose(fwd, reference.strided_correlate(xpad, wy, wx, start, scale,
                                                                op.lr_shape), **TOL[dtype])
    np.testing.assert_allclose(adj, reference.strided_correlate_adjoint(y, wy, wx, start, scale,
                                                                        padded), **TOL[dtype])
    lhs, rhs = np.vdot(fwd, y), np.vdot(xpad, adj)
    assert abs(lhs - rhs) <= 100 * np.finfo(dtype).eps * max(abs(lhs), 1.0)


@needs_cxx
def test_host_strided_correlate_rejects_taps_outside_the_padding(host):
    x = np.zeros((10, 10), np.float32)
    with pytest.raises(ValueError, match="leave the padded shape"):
        host.strided_correlate(x, np.ones(3), np.ones(3), (0, 0), 4, (3, 2))


@needs_cxx
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("prior", [Tikhonov(), BilateralTV(radius=2, eps=0.05), HuberMRF(0.05)],
                         ids=repr)
def test_host_pairwise_prior_matches_reference(host, prior, dtype, rng):
    x = rng.random((19, 26)).astype(dtype)
    args = (prior.offsets, prior.weights, prior.kind, prior.param)
    value, grad = host.pairwise_prior(x, *args)
    ref_value, ref_grad = reference.pairwise_prior(x, *args)
    assert isinstance(value, float) and grad.dtype == dtype
    assert value == pytest.approx(ref_value, rel=TOL[dtype]["rtol"])
    np.testing.assert_allclose(grad, ref_grad, **TOL[dtype])
    with pytest.raises(ValueError, match="unknown penalty kind"):
        host.pairwise_prior(x, prior.offsets, prior.weights, "cauchy", 1.0)


def _operator(rng, scale=3, psf="bicubic", phase=None, k=3, shape=(9, 11)):
    """A BlurDecimate with its ELL tables, and LR flows with one identity frame."""
    op = BlurDecimate((scale * shape[0], scale * shape[1]), scale, psf, phase)
    flows = (1.5 * rng.standard_normal((k,) + shape + (2,))).astype(np.float32)
    flows[1] = 0.0
    return op, flows


@needs_cxx
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale,psf,phase", [(3, "bicubic", None), (4, GaussianPSF(1.6), 0.0),
                                             (2, "area", None)])
def test_host_separable_gather_matches_reference(host, scale, psf, phase, dtype, rng):
    op, _ = _operator(rng, scale, psf, phase)
    z = rng.random((2,) + op.hr_shape).astype(dtype)
    y = rng.standard_normal((2,) + op.lr_shape).astype(dtype)
    fwd = host.separable_gather(z, *op.gather_tables)
    adj = host.separable_gather(y, *op.gather_tables_t)
    np.testing.assert_allclose(fwd, reference.separable_gather(z, *op.gather_tables),
                               **TOL[dtype])
    np.testing.assert_allclose(adj, reference.separable_gather(y, *op.gather_tables_t),
                               **TOL[dtype])
    np.testing.assert_allclose(fwd, op.forward(z), **TOL[dtype])  # the tables are D B


@needs_cxx
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale,psf,phase", [(3, "bicubic", None), (4, GaussianPSF(1.6), 0.0),
                                             (2, "area", 0.5)])
def test_host_warp_blur_decimate_matches_reference_and_is_adjoint(host, scale, psf, phase,
                                                                  dtype, rng):
    op, flows = _operator(rng, scale, psf, phase)
    ours = host.prepare_warps(flows, scale, op.phase)
    ref = reference.prepare_warps(flows, scale, op.phase)
    assert list(ours.identity) == list(ref[3]) == [False, True, False]
    x = rng.random(op.hr_shape).astype(dtype)
    y = rng.standard_normal((3,) + op.lr_shape).astype(dtype)
    fwd = host.warp_blur_decimate(x, ours, *op.gather_tables)
    adj = host.warp_blur_decimate_adjoint(y, ours, *op.gather_tables_t)
    assert fwd.dtype == adj.dtype == dtype and adj.shape == op.hr_shape
    np.testing.assert_allclose(fwd, reference.warp_blur_decimate(x, ref, *op.gather_tables),
                               **TOL[dtype])
    np.testing.assert_allclose(adj, reference.warp_blur_decimate_adjoint(
        y, ref, *op.gather_tables_t), **TOL[dtype])
    lhs, rhs = np.vdot(fwd, y), np.vdot(x, adj)
    assert abs(lhs - rhs) <= 1e-5 * max(abs(lhs), 1.0)
    with pytest.raises(TypeError, match="warps must come from"):
        host.warp_blur_decimate(x, ref, *op.gather_tables)
    with pytest.raises(ValueError, match="warps are for HR images"):
        host.warp_blur_decimate(x[:-1], ours, *op.gather_tables)
    with pytest.raises(ValueError, match="y must have shape"):
        host.warp_blur_decimate_adjoint(y[:2], ours, *op.gather_tables_t)


@needs_cxx
@pytest.mark.parametrize("dtype", DTYPES)
def test_host_tv_prior_matches_reference(host, dtype, rng):
    x = rng.random((17, 23)).astype(dtype)
    value, grad = host.tv_prior(x, 0.02)
    ref_value, ref_grad = reference.tv_prior(x, 0.02)
    assert value == pytest.approx(ref_value, rel=TOL[dtype]["rtol"])
    np.testing.assert_allclose(grad, ref_grad, **TOL[dtype])


@needs_cxx
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,param,gain", [("quadratic", 0.0, 1.0), ("huber", 0.05, 0.05),
                                             ("charbonnier", 0.01, 0.02)])
def test_host_data_fidelity_matches_reference(host, kind, param, gain, dtype, rng):
    ax, y = (rng.random((3, 8, 9)).astype(dtype) for _ in range(2))
    c = rng.uniform(0, 1, (3, 8, 9)).astype(dtype)
    value, r, g = host.data_fidelity(ax, y, c, kind, param, gain)
    ref_value, ref_r, ref_g = reference.data_fidelity(ax, y, c, kind, param, gain)
    assert value == pytest.approx(ref_value, rel=TOL[dtype]["rtol"])
    np.testing.assert_allclose(r, ref_r, **TOL[dtype])
    np.testing.assert_allclose(g, ref_g, **TOL[dtype])


@needs_cxx
def test_host_kernels_cover_the_reference(host):
    public = {n for n, f in vars(reference).items()
              if callable(f) and not n.startswith("_") and f.__module__ == reference.__name__}
    missing = sorted(n for n in public if not hasattr(host, n))
    assert not missing, f"cupy_kernels lacks {missing}"


@needs_cxx
def test_host_kernels_reconstruct_like_the_reference(host, camera, monkeypatch):
    """A whole MAP reconstruction through the CUDA kernel code gives the reference result."""
    import mfsr
    import mfsr.kernels

    sim = mfsr.simulate(camera[:64, :64], scale=2, n_frames=4, noise=0.01, seed=3)
    motion = mfsr.register(sim.frames, reference=1, method="dis")
    kwargs = {"scale": 2, "method": "map", "reference": 1, "motion": motion,
              "degradation": "BD", "iterations": 8, "backend": "numpy"}
    expected = mfsr.reconstruct(sim.frames, **kwargs)
    patched = [m for name, m in sys.modules.items() if name.startswith("mfsr.")
               and getattr(m, "kernels_for", None) is mfsr.kernels.kernels_for]
    assert len(patched) >= 3  # the operators, the priors, ...
    for module in patched:
        monkeypatch.setattr(module, "kernels_for", lambda array: host)
    got = mfsr.reconstruct(sim.frames, **kwargs)
    assert np.abs(got - expected).max() < 1e-4
    assert mfsr.metrics.psnr(got, expected) > 80


def _nvrtc():
    try:
        from cupy.cuda import nvrtc
        nvrtc.getVersion()
    except Exception as exc:  # noqa: BLE001 - CuPy or libnvrtc missing, any error
        return None, f"CuPy's NVRTC is not usable here: {type(exc).__name__}: {exc}"
    return nvrtc, ""


@pytest.mark.parametrize("name", cuda.SOURCES)
def test_inlined_source_compiles_with_nvrtc(name):
    """What CuPy compiles at run time (the inlined text), through NVRTC, no device needed."""
    nvrtc, why = _nvrtc()
    if nvrtc is None:
        pytest.skip(why)
    for arch in ARCHS:
        prog = nvrtc.createProgram(cuda.source(name), f"{name}.cu", [], [])
        try:
            nvrtc.compileProgram(prog, ["-std=c++17", f"--gpu-architecture=compute_{arch}"])
        except Exception:  # noqa: BLE001 - NVRTCError; the log says why
            pytest.fail(nvrtc.getProgramLog(prog))
        ptx = nvrtc.getPTX(prog)
        ptx = ptx.decode() if isinstance(ptx, bytes) else ptx
        entries = set(re.findall(r"\.entry\s+(\w+)\(", ptx))
        assert {f"{f}_f32" for f, s in cuda.KERNELS.items() if s == name} <= entries
        nvrtc.destroyProgram(prog)

"""Every kernel set against the NumPy reference (:mod:`mfsr.kernels.reference`).

The same checks run on each set: the Numba kernels, the CuPy kernels with their CUDA C
sources built as host code (``tests/cuda_host.py``; skipped without a C++ compiler), and
the CuPy kernels on a CUDA device (marked ``gpu``; skipped without one).
Results must match the reference to 1e-4 (float32) / 1e-10 (float64), each
forward/adjoint pair must pass the dot test, and a whole ``reconstruct`` through the set
must give the reference's result.
"""
from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import types

import cuda_host
import numpy as np
import pytest

from mfsr.degradation import BlurDecimate, GaussianPSF, Warp, dot_test
from mfsr.kernels import reference
from mfsr.priors import BilateralTV, HuberMRF, Tikhonov

KERNEL_SETS = ["numba", "cuda_host", pytest.param("cupy", marks=pytest.mark.gpu)]


class OnDevice:
    """A device kernel set called with host arrays: NumPy arguments (positional or keyword,
    also inside tuples) go to the device, array results come back, so that one test body
    checks every set. The kernels write into some arguments in place (``axpy``'s ``y``,
    ``axpby``'s and the priors' ``out``), and the solvers rely on it, so every host array
    argument gets the device copy's contents back after the call, and a result that is
    one of the device copies comes back as the caller's array itself."""

    def __init__(self, module, cp):
        self.module, self.cp = module, cp

    def _to_device(self, value, moved):
        if isinstance(value, tuple):
            return tuple(self._to_device(v, moved) for v in value)
        if isinstance(value, np.ndarray):
            # one device copy per host array, so that aliasing (out is x) stays aliasing
            if id(value) not in moved:
                moved[id(value)] = (value, self.cp.asarray(value))
            return moved[id(value)][1]
        return value

    def _to_host(self, value, moved):
        if isinstance(value, tuple):
            return tuple(self._to_host(v, moved) for v in value)
        if isinstance(value, self.cp.ndarray):
            for host, device in moved.values():
                if value is device:
                    return host
            return self.cp.asnumpy(value)
        return value

    def __getattr__(self, name):
        attr = getattr(self.module, name)
        if not callable(attr) or isinstance(attr, type):
            return attr

        def on_device(*args, **kwargs):
            moved = {}
            args = self._to_device(args, moved)
            kwargs = {k: self._to_device(v, moved) for k, v in kwargs.items()}
            result = attr(*args, **kwargs)
            for host, device in moved.values():  # in-place writes come back
                back = self.cp.asnumpy(device)
                if host.flags.writeable and not np.array_equal(back, host, equal_nan=True):
                    host[...] = back
            return self._to_host(result, moved)
        return on_device


@pytest.fixture(scope="module", params=KERNEL_SETS)
def kernel_set(request, tmp_path_factory):
    """One kernel set under test (a module, or a device set wrapped to take NumPy arrays)."""
    if request.param == "numba":
        return pytest.importorskip("mfsr.kernels.numba_kernels", reason="numba not importable")
    if request.param == "cupy":
        cp = pytest.importorskip("cupy", reason="CuPy is not installed (pip install 'mfsr[gpu]')")
        from mfsr.kernels import kernels_for
        module = kernels_for(cp.zeros(1))
        assert module.NAME == "cupy", "cupy_kernels did not import; the registry fell back"
        return OnDevice(module, cp)
    if cuda_host.CXX is None:
        pytest.skip("no C++ compiler (c++/g++/clang++) to build the CUDA kernels as host code")
    return cuda_host.load(tmp_path_factory.mktemp("host_kernels"))


TOL = {np.float32: {"rtol": 1e-4, "atol": 1e-4}, np.float64: {"rtol": 1e-10, "atol": 1e-10}}
DTYPES = [np.float32, np.float64]


def _warp(rng, shape=(23, 31), amplitude=3.0):
    return Warp((amplitude * rng.standard_normal(shape + (2,))).astype(np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
def test_warp_matches_reference_and_is_adjoint(kernel_set, dtype, rng):
    w = _warp(rng)
    x = rng.random(w.shape).astype(dtype)
    y = rng.standard_normal(w.shape).astype(dtype)
    fwd = kernel_set.warp_forward(x, w.index, w.wy, w.wx)
    adj = kernel_set.warp_adjoint(y, w.index, w.wy, w.wx)
    assert fwd.dtype == adj.dtype == dtype
    np.testing.assert_allclose(fwd, reference.warp_forward(x, w.index, w.wy, w.wx), **TOL[dtype])
    np.testing.assert_allclose(adj, reference.warp_adjoint(y, w.index, w.wy, w.wx), **TOL[dtype])
    # the weights are float32 (and 1 - w is rounded to float32, as in the reference)
    dot_test(lambda v: kernel_set.warp_forward(v, w.index, w.wy, w.wx),
             lambda v: kernel_set.warp_adjoint(v, w.index, w.wy, w.wx), w.shape, w.shape,
             rng=rng, dtype=dtype, rtol=1e-5, atol=1e-5)


SAMPLERS = [((36, 28), 4, GaussianPSF(1.6), 0.0), ((36, 28), 4, "area", None),
            ((27, 21), 3, "bicubic", 1.0), ((20, 14), 2, GaussianPSF(0.0), 0.5),
            ((9, 7), 1, GaussianPSF(0.7), 0.0)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hr_shape,scale,psf,phase", SAMPLERS)
def test_strided_correlate_matches_reference_and_is_adjoint(kernel_set, hr_shape, scale, psf,
                                                                 phase, dtype, rng):
    op = BlurDecimate(hr_shape, scale, psf, phase)
    wy, wx = op.weights
    start = (op.rows.offset, op.cols.offset)
    padded = (op.rows.before + hr_shape[0] + op.rows.after,
              op.cols.before + hr_shape[1] + op.cols.after)
    xpad = rng.random((3,) + padded).astype(dtype)
    y = rng.standard_normal((3,) + op.lr_shape).astype(dtype)
    fwd = kernel_set.strided_correlate(xpad, wy, wx, start, scale, op.lr_shape)
    adj = kernel_set.strided_correlate_adjoint(y, wy, wx, start, scale, padded)
    assert fwd.shape == y.shape and adj.shape == xpad.shape
    np.testing.assert_allclose(fwd, reference.strided_correlate(xpad, wy, wx, start, scale,
                                                                op.lr_shape), **TOL[dtype])
    np.testing.assert_allclose(adj, reference.strided_correlate_adjoint(y, wy, wx, start, scale,
                                                                        padded), **TOL[dtype])
    tol = 100 * np.finfo(dtype).eps
    dot_test(lambda v: kernel_set.strided_correlate(v, wy, wx, start, scale, op.lr_shape),
             lambda v: kernel_set.strided_correlate_adjoint(v, wy, wx, start, scale, padded),
             xpad.shape, y.shape, rng=rng, dtype=dtype, rtol=tol, atol=tol)


def test_strided_correlate_rejects_taps_outside_the_padding(kernel_set):
    x = np.zeros((10, 10), np.float32)
    with pytest.raises(ValueError, match="leave the padded shape"):
        kernel_set.strided_correlate(x, np.ones(3), np.ones(3), (0, 0), 4, (3, 2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("prior", [Tikhonov(), BilateralTV(radius=2, eps=0.05), HuberMRF(0.05)],
                         ids=repr)
def test_pairwise_prior_matches_reference(kernel_set, prior, dtype, rng):
    x = rng.random((19, 26)).astype(dtype)
    args = (prior.offsets, prior.weights, prior.kind, prior.param)
    value, grad = kernel_set.pairwise_prior(x, *args)
    ref_value, ref_grad = reference.pairwise_prior(x, *args)
    assert isinstance(value, float) and grad.dtype == dtype
    assert value == pytest.approx(ref_value, rel=TOL[dtype]["rtol"])
    np.testing.assert_allclose(grad, ref_grad, **TOL[dtype])
    with pytest.raises(ValueError, match="unknown penalty kind"):
        kernel_set.pairwise_prior(x, prior.offsets, prior.weights, "cauchy", 1.0)


def _operator(rng, scale=3, psf="bicubic", phase=None, k=3, shape=(9, 11)):
    """A BlurDecimate with its ELL tables, and LR flows with one identity frame."""
    op = BlurDecimate((scale * shape[0], scale * shape[1]), scale, psf, phase)
    flows = (1.5 * rng.standard_normal((k,) + shape + (2,))).astype(np.float32)
    flows[1] = 0.0
    return op, flows


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale,psf,phase", [(3, "bicubic", None), (4, GaussianPSF(1.6), 0.0),
                                             (2, "area", None)])
def test_separable_gather_matches_reference(kernel_set, scale, psf, phase, dtype, rng):
    op, _ = _operator(rng, scale, psf, phase)
    z = rng.random((2,) + op.hr_shape).astype(dtype)
    y = rng.standard_normal((2,) + op.lr_shape).astype(dtype)
    fwd = kernel_set.separable_gather(z, *op.gather_tables)
    adj = kernel_set.separable_gather(y, *op.gather_tables_t)
    np.testing.assert_allclose(fwd, reference.separable_gather(z, *op.gather_tables),
                               **TOL[dtype])
    np.testing.assert_allclose(adj, reference.separable_gather(y, *op.gather_tables_t),
                               **TOL[dtype])
    np.testing.assert_allclose(fwd, op.forward(z), **TOL[dtype])  # the tables are D B


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale,psf,phase", [(3, "bicubic", None), (4, GaussianPSF(1.6), 0.0),
                                             (2, "area", 0.5)])
def test_warp_blur_decimate_matches_reference_and_is_adjoint(kernel_set, scale, psf, phase, dtype,
                                                             rng):
    op, flows = _operator(rng, scale, psf, phase)
    ours = kernel_set.prepare_warps(flows, scale, op.phase)
    ref = reference.prepare_warps(flows, scale, op.phase)
    assert list(ref[3]) == [False, True, False]  # frame 1 takes the no-warp path
    x = rng.random(op.hr_shape).astype(dtype)
    y = rng.standard_normal((3,) + op.lr_shape).astype(dtype)
    fwd = kernel_set.warp_blur_decimate(x, ours, *op.gather_tables)
    adj = kernel_set.warp_blur_decimate_adjoint(y, ours, *op.gather_tables_t)
    assert fwd.dtype == adj.dtype == dtype and adj.shape == op.hr_shape
    np.testing.assert_allclose(fwd, reference.warp_blur_decimate(x, ref, *op.gather_tables),
                               **TOL[dtype])
    np.testing.assert_allclose(adj, reference.warp_blur_decimate_adjoint(
        y, ref, *op.gather_tables_t), **TOL[dtype])
    dot_test(lambda v: kernel_set.warp_blur_decimate(v, ours, *op.gather_tables),
             lambda v: kernel_set.warp_blur_decimate_adjoint(v, ours, *op.gather_tables_t),
             op.hr_shape, y.shape, rng=rng, dtype=dtype, rtol=1e-5, atol=1e-5)
    # each set has its own warp state: another set's, or another image size's, is refused
    with pytest.raises((TypeError, ValueError), match="warps must come from"):
        kernel_set.warp_blur_decimate(x, ref, *op.gather_tables)
    with pytest.raises(ValueError, match="warps"):
        kernel_set.warp_blur_decimate(x[:-1], ours, *op.gather_tables)
    with pytest.raises(ValueError, match="y must have shape"):
        kernel_set.warp_blur_decimate_adjoint(y[:2], ours, *op.gather_tables_t)


@pytest.fixture(scope="module")
def fma_host_kernels(tmp_path_factory):
    """The CUDA kernels built as host code with FMA contraction on, as nvcc / NVRTC
    generate device code (``cuda_host.fma_flags``)."""
    flags = cuda_host.fma_flags()
    if flags is None:
        pytest.skip("no C++ compiler, or this x86 CPU has no FMA instructions")
    return cuda_host.load(tmp_path_factory.mktemp("host_kernels_fma"), flags)


@pytest.mark.parametrize("scale,psf,phase", [(3, "bicubic", None), (4, GaussianPSF(1.6), 0.0),
                                             (2, "area", None)])
def test_float64_operator_does_not_depend_on_fma_contraction(fma_host_kernels, scale, psf,
                                                              phase):
    """The warp weights the CUDA kernels compute on the fly are float32 numbers that the
    reference defines (``geometry.upsample_flow`` / ``bilinear_tables``, each operation
    rounded by NumPy). Contracted into FMAs (the device's default) they moved by an ulp of
    the position (up to ~2e-6 here), so the float64 operator on an H200 differed from the
    reference by 2.7e-7; this host build with contraction on showed 5.4e-7 before the
    kernels rounded each operation of the table on its own. Now only float64 rounding of
    the bilinear sums and the gathers remains: 1e-12 (observed ~4e-16)."""
    rng = np.random.default_rng(7)
    for _ in range(3):
        op, flows = _operator(rng, scale, psf, phase)
        ours = fma_host_kernels.prepare_warps(flows, scale, op.phase)
        ref = reference.prepare_warps(flows, scale, op.phase)
        x = rng.random(op.hr_shape)
        y = rng.standard_normal((3,) + op.lr_shape)
        np.testing.assert_allclose(
            fma_host_kernels.warp_blur_decimate(x, ours, *op.gather_tables),
            reference.warp_blur_decimate(x, ref, *op.gather_tables), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            fma_host_kernels.warp_blur_decimate_adjoint(y, ours, *op.gather_tables_t),
            reference.warp_blur_decimate_adjoint(y, ref, *op.gather_tables_t),
            rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tv_prior_matches_reference(kernel_set, dtype, rng):
    x = rng.random((17, 23)).astype(dtype)
    value, grad = kernel_set.tv_prior(x, 0.02)
    ref_value, ref_grad = reference.tv_prior(x, 0.02)
    assert value == pytest.approx(ref_value, rel=TOL[dtype]["rtol"])
    np.testing.assert_allclose(grad, ref_grad, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,param,gain", [("quadratic", 0.0, 1.0), ("huber", 0.05, 0.05),
                                             ("charbonnier", 0.01, 0.02)])
def test_data_fidelity_matches_reference(kernel_set, kind, param, gain, dtype, rng):
    ax, y = (rng.random((3, 8, 9)).astype(dtype) for _ in range(2))
    c = rng.uniform(0, 1, (3, 8, 9)).astype(dtype)
    value, r, g = kernel_set.data_fidelity(ax, y, c, kind, param, gain)
    ref_value, ref_r, ref_g = reference.data_fidelity(ax, y, c, kind, param, gain)
    assert value == pytest.approx(ref_value, rel=TOL[dtype]["rtol"])
    np.testing.assert_allclose(r, ref_r, **TOL[dtype])
    np.testing.assert_allclose(g, ref_g, **TOL[dtype])


def splat_reorder_bound(y, flows, scale, op, dtype):
    """How far two calls of ``warp_blur_decimate_adjoint`` may differ, per HR pixel, in a
    kernel set that accumulates its splats with atomic adds (the CuPy set on a device).

    The splat kernel adds to each HR pixel q, starting from 0, the n_q values c_i that
    land on it: 4 bilinear corners from every source pixel of every moving frame whose
    splat reaches q, plus one sum over the identity frames. The c_i themselves are the
    same in every call (gathers and products, computed in a fixed order); only the order
    of the adds is the hardware's. Recursive summation in any order is within
    gamma_{n-1} * sum |c_i| of the exact sum, gamma_m = m u / (1 - m u), u = eps / 2
    (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., (4.4)); two orders
    thus differ by at most twice that. sum |c_i| <= the adjoint applied to |y| with the
    absolute values of the tables (computed here in float64 by the reference); the
    factor 1.001 covers the rounding of the c_i (relative ~m u, m the ELL width) that
    this magnitude, computed without it, does not see. Pixels reached by one value
    (n_q <= 1) get 0: one add onto 0 is exact.
    """
    H, W = op.hr_shape
    rows_t, wr, cols_t, wc = op.gather_tables_t
    index, wy, wx, identity = reference.prepare_warps(flows, scale, op.phase)
    n = np.zeros(H * W)
    for k in np.flatnonzero(~identity):
        for corner in (0, 1, W, W + 1):
            n += np.bincount(index[k] + corner, minlength=H * W)
    n += bool(identity.any())
    magnitude = reference.warp_blur_decimate_adjoint(
        np.abs(y).astype(np.float64), (index, wy, wx, identity), rows_t, np.abs(wr), cols_t,
        np.abs(wc))
    mu = np.maximum(n - 1, 0) * np.finfo(dtype).eps / 2
    return 2 * (mu / (1 - mu)).reshape(H, W) * magnitude * 1.001


@pytest.mark.parametrize("dtype", DTYPES)
def test_image_results_go_into_out(kernel_set, dtype, rng):
    """The kernels that return an HR image write it into a caller's buffer when given one
    (the solvers' loops allocate no image); a buffer that does not fit is refused.

    With a buffer or without, the result is the same: bitwise, except for the adjoint of
    a set that splats with atomic adds (the CuPy set on a device), whose sums are added
    in a different order each call: there the two calls may differ by the reordering
    bound of :func:`splat_reorder_bound` (1 ulp in 25 % of the pixels on an H200)."""
    op, flows = _operator(rng, 4, GaussianPSF(1.6), 0.0)
    warps = kernel_set.prepare_warps(flows, 4, op.phase)
    x = rng.random(op.hr_shape).astype(dtype)
    y = rng.standard_normal((3,) + op.lr_shape).astype(dtype)
    btv = BilateralTV(radius=2, eps=0.05)
    calls = {
        "adjoint": lambda out: kernel_set.warp_blur_decimate_adjoint(
            y, warps, *op.gather_tables_t, out),
        "pairwise_prior": lambda out: kernel_set.pairwise_prior(
            x, btv.offsets, btv.weights, btv.kind, btv.param, out)[1],
        "tv_prior": lambda out: kernel_set.tv_prior(x, 0.05, out)[1],
    }
    other = np.float64 if dtype == np.float32 else np.float32
    for name, call in calls.items():
        expected = call(None)
        out = np.full(op.hr_shape, np.nan, dtype)
        got = call(out)
        if name == "adjoint" and isinstance(kernel_set, OnDevice):  # atomic splats
            bound = splat_reorder_bound(y, flows, 4, op, dtype)
            excess = np.abs(got.astype(np.float64) - expected) - bound
            assert excess.max() <= 0, (name, float(excess.max()))
            assert got.dtype == expected.dtype == dtype
        else:
            np.testing.assert_array_equal(got, expected, err_msg=name)
        if not isinstance(kernel_set, OnDevice):  # a device set writes a device copy
            assert got is out, name
        for bad in (np.empty((5, 5), dtype), np.empty(op.hr_shape, other)):
            with pytest.raises(ValueError, match="out must be a C-contiguous array"):
                call(bad)
        if not isinstance(kernel_set, OnDevice):
            with pytest.raises(ValueError, match="not contiguous"):
                call(np.empty((op.hr_shape[0], 2 * op.hr_shape[1]), dtype)[:, ::2])
        if kernel_set.NAME == "numba":  # compiled code writes only into NumPy arrays
            with pytest.raises(TypeError, match="out must be a NumPy array"):
                call(np.ma.masked_array(np.empty(op.hr_shape, dtype)))


def test_kernels_cover_the_reference(kernel_set):
    public = {n for n in reference.__all__ if callable(getattr(reference, n))}
    missing = sorted(n for n in public if not hasattr(kernel_set, n))
    assert not missing, f"{kernel_set.__name__} lacks {missing}"


def test_reference_exports_every_function_of_its_modules():
    """The reference package is the list of the sets' functions: each public function of
    its modules is exported (``__all__``) by it, and is one of the package's own."""
    public = {n for n in reference.__all__ if callable(getattr(reference, n))}
    for info in pkgutil.iter_modules(reference.__path__):
        module = importlib.import_module(f"{reference.__name__}.{info.name}")
        defined = {n for n, f in vars(module).items() if isinstance(f, types.FunctionType)
                   and not n.startswith("_") and f.__module__ == module.__name__}
        assert defined <= public, (info.name, sorted(defined - public))
        assert all(getattr(reference, n) is getattr(module, n) for n in defined)


def test_kernels_reconstruct_like_the_reference(kernel_set, camera, monkeypatch):
    """A whole MAP reconstruction through the kernel set gives the reference result."""
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
        monkeypatch.setattr(module, "kernels_for", lambda array: kernel_set)
    got = mfsr.reconstruct(sim.frames, **kwargs)
    assert np.abs(got - expected).max() < 1e-4
    assert mfsr.metrics.psnr(got, expected) > 80


@pytest.mark.parametrize("method,tolerance", [("map", 1e-5), ("cg", 1e-5), ("ibp", 1e-5),
                                              ("irls", 1e-4)])
def test_backend_numba_reconstructs_like_numpy(camera, method, tolerance):
    """``backend=`` picks the kernels; both give the same image (float32 rounding apart).

    IRLS thresholds its residuals into weights at every re-weighting, which lets float32
    rounding differences grow a little more than in the other solvers (1.6e-5 measured).
    """
    pytest.importorskip("mfsr.kernels.numba_kernels", reason="numba not importable")
    import mfsr
    from mfsr.kernels import kernels_for, use

    for name in ("numba", "numpy"):
        with use(name):
            assert kernels_for(camera) is not reference or name == "numpy"
            assert kernels_for(camera) is reference or name == "numba"

    sim = mfsr.simulate(camera[:64, :64], scale=2, n_frames=4, noise=0.01, seed=3)
    motion = mfsr.register(sim.frames, reference=1)
    kwargs = {"scale": 2, "method": method, "reference": 1, "motion": motion,
              "degradation": "BD", "iterations": 8}
    with_numpy = mfsr.reconstruct(sim.frames, backend="numpy", **kwargs)
    with_numba = mfsr.reconstruct(sim.frames, backend="numba", **kwargs)
    assert np.abs(with_numba - with_numpy).max() < tolerance


def test_importing_mfsr_does_not_import_cupy():
    """CuPy is optional: it is loaded only for device arrays."""
    code = ("import sys, mfsr, numpy as np\n"
            "assert 'cupy' not in sys.modules, 'import mfsr imported cupy'\n"
            "mfsr.reconstruct(np.zeros((2, 8, 8), np.float32), scale=2, method='saa')\n"
            "assert 'cupy' not in sys.modules, 'a CPU reconstruct imported cupy'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("dtype", DTYPES)
def test_axpy_updates_in_place_like_the_reference(kernel_set, dtype, rng):
    x, y = (rng.standard_normal((37, 41)).astype(dtype) for _ in range(2))
    expected = reference.axpy(-0.3, x, y.copy())
    got = kernel_set.axpy(-0.3, x, y)
    np.testing.assert_allclose(got, expected, **TOL[dtype])
    with pytest.raises(ValueError, match="one shape"):
        kernel_set.axpy(1.0, x, y[:-1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_axpby_rounds_like_the_numpy_expression(kernel_set, dtype, rng):
    """``out = a x + b y``, bitwise the NumPy expression (the solvers rely on it to keep
    their results), also when ``out`` is ``x`` or ``y``."""
    x, y = (rng.standard_normal((37, 41)).astype(dtype) for _ in range(2))
    for a, b in ((1.0, 0.37), (1.0, -1.0), (-0.3, 2.5)):
        expected = a * x + b * y
        np.testing.assert_array_equal(kernel_set.axpby(a, x, b, y, np.empty_like(x)), expected)
        if not isinstance(kernel_set, OnDevice):  # in place: the result is out itself
            x2, y2 = x.copy(), y.copy()
            assert kernel_set.axpby(a, x2, b, y, x2) is x2
            assert kernel_set.axpby(a, x, b, y2, y2) is y2
            np.testing.assert_array_equal(x2, expected)
            np.testing.assert_array_equal(y2, expected)
    with pytest.raises(ValueError, match="one shape"):
        kernel_set.axpby(1.0, x, 1.0, y[:-1], np.empty_like(x))


FILTER_TAPS = [(0.25, 0.5, 0.25), (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16), (0.2,) * 5]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("taps", FILTER_TAPS)
@pytest.mark.parametrize("border", ["zero", "replicate"])
@pytest.mark.parametrize("square,root", [(False, False), (True, False), (True, True)])
def test_local_filter_matches_reference(kernel_set, taps, border, square, root, dtype, rng):
    stack = (rng.random((3, 13, 17)) - 0.3).astype(dtype)
    got = kernel_set.local_filter(stack, taps, border, square=square, root=root)
    want = reference.local_filter(stack, taps, border, square=square, root=root)
    assert got.shape == stack.shape and got.dtype == stack.dtype
    np.testing.assert_allclose(got, want, **TOL[dtype])
    # one image (h, w) works as a stack of one
    np.testing.assert_allclose(kernel_set.local_filter(stack[1], taps, border), 
                               reference.local_filter(stack, taps, border)[1], **TOL[dtype])


def test_local_filter_is_the_separable_convolution(rng):
    """Against a direct 2-D sum: zero border and edge replication, the taps centred."""
    image = rng.random((9, 11))
    taps = np.array([0.1, 0.2, 0.4, 0.3])[:3] / 0.7
    for border, mode in (("zero", "constant"), ("replicate", "edge")):
        padded = np.pad(image, 1, mode=mode)
        want = sum(taps[a] * taps[b] * padded[a:a + 9, b:b + 11]
                   for a in range(3) for b in range(3))
        np.testing.assert_allclose(reference.local_filter(image, tuple(taps), border), want,
                                   atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("zero_image", [None, 1])
def test_normalized_filter_and_remove_offsets_match_reference(kernel_set, zero_image, dtype,
                                                              rng):
    taps = (0.05, 0.25, 0.4, 0.25, 0.05)
    observed = rng.random((3, 12, 15)).astype(dtype)
    ax = rng.random((3, 12, 15)).astype(dtype)
    weights = (rng.random((3, 12, 15)) > 0.3).astype(dtype)
    weights[0, :4] = 0      # no weight nearby: the floor keeps the result finite
    got = kernel_set.normalized_filter(observed - ax, weights, taps, 1e-3, zero_image)
    want = reference.normalized_filter(observed - ax, weights, taps, 1e-3, zero_image)
    np.testing.assert_allclose(got, want, **TOL[dtype])
    if zero_image is not None:
        assert not got[zero_image].any()
    got = kernel_set.remove_offsets(observed, ax, weights, taps, zero_image)
    np.testing.assert_allclose(got, observed - want, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_warp_difference_matches_reference(kernel_set, dtype, rng):
    frames = rng.random((3, 14, 19)).astype(dtype)
    image = rng.random((14, 19)).astype(dtype)
    flows = (rng.standard_normal((3, 14, 19, 2)) * 4).astype(np.float32)  # some leave
    got = kernel_set.warp_difference(frames, image, flows)
    np.testing.assert_allclose(got, reference.warp_difference(frames, image, flows),
                               **TOL[dtype])
    # zero flow: the difference to the image itself
    np.testing.assert_allclose(kernel_set.warp_difference(frames, image, 0 * flows),
                               frames - image, **TOL[dtype])

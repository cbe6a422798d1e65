"""The CuPy path on a CUDA device: every CUDA kernel against the NumPy reference, the
operators' adjoint tests on the device, ``reconstruct`` on CuPy frames against the CPU
result, and ``registration="gpu"`` on the device.

All tests are marked ``gpu``: tests/conftest.py skips them, with the reason, when CuPy or
a device is missing. Tolerances: 1e-4 (float32), 1e-10 (float64) against the reference,
as the issue asks; the atomics of the splat kernels reorder float32 sums, which is well
inside 1e-4.
"""
from __future__ import annotations

import numpy as np
import pytest

import mfsr
from mfsr import kernels
from mfsr.degradation import BlurDecimate, GaussianPSF, SystemOperator, Warp
from mfsr.kernels import reference
from mfsr.motion import Motion
from mfsr.priors import BilateralTV, HuberMRF, Tikhonov
from mfsr.registration.gpu_flow import flow_lk

pytestmark = pytest.mark.gpu
cp = pytest.importorskip("cupy", reason="CuPy is not installed (pip install 'mfsr[gpu]')")

TOL = {np.float32: {"rtol": 1e-4, "atol": 1e-4}, np.float64: {"rtol": 1e-10, "atol": 1e-10}}
DTYPES = [np.float32, np.float64]


@pytest.fixture(scope="module")
def ck():
    """The CUDA kernel set, as the registry hands it out for CuPy arrays."""
    module = kernels.kernels_for(cp.zeros(1))
    assert module.NAME == "cupy", "cupy_kernels did not import; the registry fell back"
    return module


def host(a):
    return cp.asnumpy(a) if isinstance(a, cp.ndarray) else a


def dev(a):
    return cp.asarray(a) if isinstance(a, np.ndarray) else a


def test_every_reference_kernel_has_a_cuda_version(ck):
    public = {n for n, f in vars(reference).items()
              if callable(f) and not n.startswith("_") and f.__module__ == reference.__name__}
    assert not sorted(n for n in public if not hasattr(ck, n))


@pytest.mark.parametrize("dtype", DTYPES)
def test_warp_kernels_match_reference(ck, dtype, rng):
    w = Warp((3 * rng.standard_normal((45, 61, 2))).astype(np.float32))
    x = rng.random(w.shape).astype(dtype)
    y = rng.standard_normal(w.shape).astype(dtype)
    tables = (w.index, w.wy, w.wx)
    got = ck.warp_forward(dev(x), *map(dev, tables))
    assert isinstance(got, cp.ndarray) and got.dtype == dtype
    np.testing.assert_allclose(host(got), reference.warp_forward(x, *tables), **TOL[dtype])
    np.testing.assert_allclose(host(ck.warp_adjoint(dev(y), *map(dev, tables))),
                               reference.warp_adjoint(y, *tables), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale,psf,phase", [(4, GaussianPSF(1.6), 0.0), (4, "area", None),
                                             (3, "bicubic", 1.0), (2, GaussianPSF(0.0), 0.5)])
def test_sampling_kernels_match_reference(ck, scale, psf, phase, dtype, rng):
    op = BlurDecimate((12 * scale, 10 * scale), scale, psf, phase)
    wy, wx = op.weights
    start = (op.rows.offset, op.cols.offset)
    padded = (op.rows.before + op.hr_shape[0] + op.rows.after,
              op.cols.before + op.hr_shape[1] + op.cols.after)
    xpad = rng.random((3,) + padded).astype(dtype)
    y = rng.standard_normal((3,) + op.lr_shape).astype(dtype)
    np.testing.assert_allclose(
        host(ck.strided_correlate(dev(xpad), wy, wx, start, scale, op.lr_shape)),
        reference.strided_correlate(xpad, wy, wx, start, scale, op.lr_shape), **TOL[dtype])
    np.testing.assert_allclose(
        host(ck.strided_correlate_adjoint(dev(y), wy, wx, start, scale, padded)),
        reference.strided_correlate_adjoint(y, wy, wx, start, scale, padded), **TOL[dtype])
    if op.gather_tables is not None:
        z = rng.random((2,) + op.hr_shape).astype(dtype)
        tables = [dev(t) for t in op.gather_tables]
        np.testing.assert_allclose(host(ck.separable_gather(dev(z), *tables)),
                                   reference.separable_gather(z, *op.gather_tables),
                                   **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale,psf,phase", [(4, GaussianPSF(1.6), 0.0), (3, "bicubic", None)])
def test_fused_operator_matches_reference_and_is_adjoint(ck, scale, psf, phase, dtype, rng):
    op = BlurDecimate((11 * scale, 13 * scale), scale, psf, phase)
    flows = (1.5 * rng.standard_normal((4, 11, 13, 2))).astype(np.float32)
    flows[2] = 0
    ours = ck.prepare_warps(dev(flows), scale, op.phase)
    ref = reference.prepare_warps(flows, scale, op.phase)
    fwd_t = [dev(t) for t in op.gather_tables]
    adj_t = [dev(t) for t in op.gather_tables_t]
    x = rng.random(op.hr_shape).astype(dtype)
    y = rng.standard_normal((4,) + op.lr_shape).astype(dtype)
    fwd = ck.warp_blur_decimate(dev(x), ours, *fwd_t)
    adj = ck.warp_blur_decimate_adjoint(dev(y), ours, *adj_t)
    np.testing.assert_allclose(host(fwd), reference.warp_blur_decimate(x, ref, *op.gather_tables),
                               **TOL[dtype])
    np.testing.assert_allclose(host(adj), reference.warp_blur_decimate_adjoint(
        y, ref, *op.gather_tables_t), **TOL[dtype])
    lhs = float(cp.vdot(fwd.astype(cp.float64), dev(y).astype(cp.float64)))
    rhs = float(cp.vdot(dev(x).astype(cp.float64), adj.astype(cp.float64)))
    assert abs(lhs - rhs) <= 1e-5 * max(abs(lhs), 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("prior", [Tikhonov(), BilateralTV(radius=2, eps=0.05), HuberMRF(0.05)],
                         ids=repr)
def test_prior_kernels_match_reference(ck, prior, dtype, rng):
    x = rng.random((67, 45)).astype(dtype)
    args = (prior.offsets, prior.weights, prior.kind, prior.param)
    value, grad = ck.pairwise_prior(dev(x), *args)
    ref_value, ref_grad = reference.pairwise_prior(x, *args)
    assert value == pytest.approx(ref_value, rel=TOL[dtype]["rtol"])
    np.testing.assert_allclose(host(grad), ref_grad, **TOL[dtype])
    value, grad = ck.tv_prior(dev(x), 0.01)
    ref_value, ref_grad = reference.tv_prior(x, 0.01)
    assert value == pytest.approx(ref_value, rel=TOL[dtype]["rtol"])
    np.testing.assert_allclose(host(grad), ref_grad, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,param,gain", [("quadratic", 0.0, 1.0), ("huber", 0.05, 0.05),
                                             ("charbonnier", 0.01, 0.02)])
def test_data_fidelity_kernel_matches_reference(ck, kind, param, gain, dtype, rng):
    ax, y = (rng.random((5, 33, 41)).astype(dtype) for _ in range(2))
    c = rng.uniform(0, 1, (5, 33, 41)).astype(dtype)
    value, r, g = ck.data_fidelity(dev(ax), dev(y), dev(c), kind, param, gain)
    ref_value, ref_r, ref_g = reference.data_fidelity(ax, y, c, kind, param, gain)
    assert value == pytest.approx(ref_value, rel=TOL[dtype]["rtol"])
    np.testing.assert_allclose(host(r), ref_r, **TOL[dtype])
    np.testing.assert_allclose(host(g), ref_g, **TOL[dtype])


def _dot_test(forward, adjoint, x, y):
    lhs = float(cp.vdot(forward(x).astype(cp.float64), y.astype(cp.float64)))
    rhs = float(cp.vdot(x.astype(cp.float64), adjoint(y).astype(cp.float64)))
    return abs(lhs - rhs) / max(abs(lhs), abs(rhs), 1e-12)


@pytest.mark.parametrize("scale,phase,psf", [(2, 0.5, "area"), (4, 0.0, GaussianPSF(1.6)),
                                             (4, 1.5, "bicubic")])
def test_operators_are_adjoint_on_the_device(scale, phase, psf, rng):
    k, h, w = 3, 14, 17
    flows = (rng.standard_normal((k, h, w, 2)) * 0.8).astype(np.float32)
    flows[1] = 0.0
    motion = Motion(cp.asarray(flows), cp.asarray(rng.uniform(0, 1, (k, h, w)),
                                                  dtype=cp.float32), reference=1)
    A = SystemOperator(motion, scale, psf, phase)
    x = cp.asarray(rng.standard_normal(A.hr_shape), dtype=cp.float32)
    y = cp.asarray(rng.standard_normal((k, h, w)), dtype=cp.float32)
    assert isinstance(A.forward(x), cp.ndarray) and isinstance(A.adjoint(y), cp.ndarray)
    assert _dot_test(A.forward, A.adjoint, x, y) < 1e-5
    bd = A.blur_decimate
    assert _dot_test(bd.forward, bd.adjoint, cp.asarray(rng.standard_normal((k,) + A.hr_shape)),
                     y.astype(cp.float64)) < 1e-12
    warp = Warp(cp.asarray(3 * rng.standard_normal(A.hr_shape + (2,)), dtype=cp.float32))
    assert _dot_test(warp.forward, warp.adjoint, x, cp.asarray(
        rng.standard_normal(A.hr_shape), dtype=cp.float32)) < 1e-5


@pytest.fixture(scope="module")
def window():
    from skimage import data
    return mfsr.simulate(data.astronaut()[64:320, 96:352], scale=4, n_frames=5, noise=0.01,
                         seed=5, channel_axis=-1)


@pytest.mark.parametrize("method", ["map", "irls", "cg", "ibp", "saa"])
def test_reconstruct_on_the_device_equals_the_cpu_result(window, method):
    motion = mfsr.register(window.frames, method="dis")
    kwargs = {"scale": 4, "method": method, "degradation": "BD", "motion": motion,
              "noise": 0.01}
    cpu = mfsr.reconstruct(window.frames, backend="numpy", **kwargs)
    gpu = mfsr.reconstruct(cp.asarray(window.frames), **kwargs)
    assert isinstance(gpu, cp.ndarray) and gpu.shape == cpu.shape
    assert float(np.abs(host(gpu) - cpu).max()) < 1e-4


def test_reconstruct_backend_cupy_moves_numpy_frames_to_the_device(window):
    gpu = mfsr.reconstruct(window.frames[..., 1], scale=4, method="map", degradation="BD",
                           registration="gpu", backend="cupy", iterations=5)
    assert isinstance(gpu, cp.ndarray) and gpu.shape == (256, 256)


def test_gpu_flow_on_the_device_matches_the_cpu_and_the_truth(window):
    luma = window.frames[..., 1]
    cpu = flow_lk(luma[0], luma[2])
    gpu = flow_lk(cp.asarray(luma[0]), cp.asarray(luma[2]))
    assert isinstance(gpu, cp.ndarray)
    np.testing.assert_allclose(host(gpu), cpu, atol=1e-3)
    motion = mfsr.register(cp.asarray(luma), reference=2, method="gpu")
    assert isinstance(motion.flows, cp.ndarray) and isinstance(motion.confidence, cp.ndarray)
    m = 8
    true = window.motion.flows[:, m:-m, m:-m].reshape(5, -1, 2)
    est = host(motion.flows)[:, m:-m, m:-m].reshape(5, -1, 2)
    assert np.abs(np.median(est - true, axis=1)).max() <= 0.1
    assert float(motion.confidence[0].mean()) > 0.5

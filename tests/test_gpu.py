"""The CuPy path on a CUDA device: the operators' adjoint tests on the device,
``reconstruct`` on CuPy frames against the CPU result, and ``registration="gpu"`` on the
device. Every CUDA kernel against the NumPy reference runs in ``tests/test_kernels.py``
(its ``cupy`` kernel set).

All tests are marked ``gpu``: tests/conftest.py skips them, with the reason, when CuPy or
a device is missing. Reconstructions must match the CPU result to 1e-4, as the issue
asks, except IRLS: the atomics of the splat kernels reorder float32 sums, which the other
solvers carry through well inside 1e-4 but IRLS amplifies (``DEVICE_TOLERANCE``).
"""
from __future__ import annotations

import numpy as np
import pytest

import mfsr
from mfsr.degradation import GaussianPSF, SystemOperator, Warp, dot_test
from mfsr.core.motion import Motion
from mfsr.registration.gpu_flow import flow_lk

pytestmark = pytest.mark.gpu
cp = pytest.importorskip("cupy", reason="CuPy is not installed (pip install 'mfsr[gpu]')")

def host(a):
    return cp.asnumpy(a) if isinstance(a, cp.ndarray) else a


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
    dot_test(A.forward, A.adjoint, A.hr_shape, (k, h, w), rng=rng, dtype=np.float32,
             rtol=1e-5, xp=cp)
    bd = A.blur_decimate
    dot_test(bd.forward, bd.adjoint, (k,) + A.hr_shape, (k, h, w), rng=rng, rtol=1e-12, xp=cp)
    warp = Warp(cp.asarray(3 * rng.standard_normal(A.hr_shape + (2,)), dtype=cp.float32))
    dot_test(warp.forward, warp.adjoint, A.hr_shape, A.hr_shape, rng=rng, dtype=np.float32,
             rtol=1e-5, xp=cp)


@pytest.fixture(scope="module")
def window():
    from skimage import data
    return mfsr.simulate(data.astronaut()[64:320, 96:352], scale=4, n_frames=5, noise=0.01,
                         seed=5, channel_axis=-1)


# Largest |device - CPU| per method. The device adjoint A^T splats with atomic adds, so
# each call adds its sums in another order, each within gamma_{n-1} sum |c_i| of the exact
# sum (tests/test_kernels.py::splat_reorder_bound; n ~ 4 K + 1 values per HR pixel; on an
# H200: 1 ulp in 25 % of the pixels). How far a solver carries that depends on the
# solver. Injected on the CPU into every A^T of this very test's solve (window below,
# K = 5, x4), uniform noise within that per-pixel bound moved the result by at most
# 2.2e-6 (map, ibp, saa; 3 runs each) and 1.04e-5 (cg): inside the 1e-4, kept for
# them. IRLS re-derives its weights from the residuals at every re-weighting (a median
# scale and min(1, t / |r|)) and amplifies the same noise ~100x: up to 1.34e-3 at single
# pixels in 8 runs (mean 1.3e-5, PSNR >= 92 dB against the unperturbed result); noise of
# just 1 ulp in a random 25 % of A^T's pixels (as on the H200) gave 1.8e-5 to 1.05e-4,
# and the H200 run 1.48e-4. So IRLS gets 3e-3 at single pixels (about twice the largest
# injected move) and a mean difference under 5e-5 (about four times the largest injected
# mean), which a wrong kernel would not meet.
DEVICE_TOLERANCE = {"map": (1e-4, None), "cg": (1e-4, None), "ibp": (1e-4, None),
                    "saa": (1e-4, None), "irls": (3e-3, 5e-5)}


@pytest.mark.parametrize("method", ["map", "irls", "cg", "ibp", "saa"])
def test_reconstruct_on_the_device_equals_the_cpu_result(window, method):
    motion = mfsr.register(window.frames, method="dis")
    kwargs = {"scale": 4, "method": method, "degradation": "BD", "motion": motion,
              "noise": 0.01}
    cpu = mfsr.reconstruct(window.frames, backend="numpy", **kwargs)
    gpu = mfsr.reconstruct(cp.asarray(window.frames), **kwargs)
    assert isinstance(gpu, cp.ndarray) and gpu.shape == cpu.shape
    largest, mean = DEVICE_TOLERANCE[method]
    diff = np.abs(host(gpu).astype(np.float64) - cpu)
    assert float(diff.max()) < largest, (method, float(diff.max()))
    if mean is not None:
        assert float(diff.mean()) < mean, (method, float(diff.mean()))


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

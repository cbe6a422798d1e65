"""Adjoint (dot) tests and reference checks of W, D B and A = D B W."""
import cv2
import numpy as np
import pytest
import scipy.ndimage as ndi

from mfsr import kernels
from mfsr.degradation import (BlurDecimate, BoxPSF, GaussianPSF, KernelPSF, SystemOperator,
                              Warp, dot_test, upsample_flow)
from mfsr.core.motion import Motion


PSFS = [GaussianPSF(1.6), GaussianPSF(0.7), GaussianPSF(0.0), BoxPSF(4), "bicubic",
        KernelPSF(np.outer([1, 2, 1], [1, 3, 3, 1]))]


@pytest.mark.parametrize("cpu", ["numpy", "auto"])
@pytest.mark.parametrize("psf", PSFS, ids=repr)
@pytest.mark.parametrize("scale,phase", [(1, 0.0), (2, 0.0), (2, 0.5), (3, 1.0), (4, 0.0),
                                         (4, 1.5), (4, 3.25)])
def test_blur_decimate_adjoint(psf, scale, phase, cpu, rng):
    op = BlurDecimate((9 * scale, 7 * scale), scale, psf, phase)
    with kernels.use(cpu):
        dot_test(op.forward, op.adjoint, (2, 9 * scale, 7 * scale), (2, 9, 7), rng=rng,
                 rtol=1e-12)


@pytest.mark.parametrize("cpu", ["numpy", "auto"])
@pytest.mark.parametrize("amplitude", [0.3, 2.0, 15.0])
def test_warp_adjoint(amplitude, cpu, rng):
    flow = (amplitude * rng.standard_normal((23, 31, 2))).astype(np.float32)
    w = Warp(flow)
    with kernels.use(cpu):
        dot_test(w.forward, w.adjoint, (23, 31), (23, 31), rng=rng, dtype=np.float32, rtol=1e-5)


@pytest.mark.parametrize("scale,phase,psf", [(1, 0.0, GaussianPSF(0.5)), (2, 0.5, "area"),
                                             (3, 0.0, GaussianPSF(1.2)), (4, 0.0, GaussianPSF(1.6)),
                                             (4, 1.5, "bicubic")])
def test_system_operator_adjoint(scale, phase, psf, rng):
    k, h, w = 3, 10, 12
    flows = (rng.standard_normal((k, h, w, 2)) * 0.8).astype(np.float32)
    flows[1] = 0.0
    motion = Motion(flows, rng.uniform(0, 1, (k, h, w)).astype(np.float32), reference=1)
    A = SystemOperator(motion, scale, psf, phase)
    dot_test(A.forward, A.adjoint, A.hr_shape, (k, h, w), rng=rng, dtype=np.float32, rtol=1e-5)


@pytest.mark.parametrize("separable", [True, False])
def test_system_operator_adjoint_into_out(separable, rng):
    """``A^T`` writes into a caller's buffer, through the fused kernels (separable PSF) and
    through the per-frame warps (a 2-D kernel PSF)."""
    k, h, w = 3, 10, 12
    flows = (rng.standard_normal((k, h, w, 2)) * 0.8).astype(np.float32)
    motion = Motion(flows, np.ones((k, h, w), np.float32), reference=1)
    psf = GaussianPSF(1.2) if separable else np.outer([1, 2, 1], [1, 3, 1]) + np.eye(3)
    A = SystemOperator(motion, 2, psf)
    assert (A._sampling_t is not None) == separable
    r = rng.standard_normal((k, h, w)).astype(np.float32)
    out = np.full(A.hr_shape, np.nan, np.float32)
    assert A.adjoint(r, out=out) is out
    np.testing.assert_array_equal(out, A.adjoint(r))
    with pytest.raises(ValueError, match="out must be"):
        A.adjoint(r, out=np.empty(A.hr_shape, np.float64))


def test_bd_matches_scipy_gaussian_filter(rng):
    x = rng.random((64, 48))
    op = BlurDecimate(x.shape, 4, GaussianPSF(1.6), 0.0)
    expected = ndi.gaussian_filter(x, 1.6, mode="reflect")[::4, ::4]
    np.testing.assert_allclose(op.forward(x), expected, atol=1e-12)


def test_area_matches_opencv_inter_area(rng):
    x = rng.random((64, 48)).astype(np.float32)
    op = BlurDecimate(x.shape, 4, "area")
    expected = cv2.resize(x, (12, 16), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(op.forward(x), expected, atol=1e-6)


def test_warp_integer_shift_is_exact(rng):
    x = rng.random((20, 30)).astype(np.float32)
    flow = np.zeros((20, 30, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.0, -2.0  # read x(u + (3, -2))
    out = Warp(flow).forward(x)
    np.testing.assert_allclose(out[2:, :-3], x[:-2, 3:], atol=1e-6)


def test_upsample_flow_phase():
    flow = np.zeros((5, 6, 2), np.float32)
    flow[..., 1] = np.arange(6)[None, :]
    hr = upsample_flow(flow, 4, 1.5)
    # HR column u sits at LR coordinate (u - 1.5) / 4; the flow is 4 x that (clamped)
    assert hr.shape == (20, 24, 2)
    np.testing.assert_allclose(hr[0, :8, 1], [0, 0, 0.5, 1.5, 2.5, 3.5, 4.5, 5.5])


def test_operator_of_constant_is_constant():
    motion = Motion.from_translations([[0.3, -0.7], [0, 0]], (8, 8), reference=1)
    A = SystemOperator(motion, 3, GaussianPSF(1.0), 1.0)
    np.testing.assert_allclose(A.forward(np.full(A.hr_shape, 0.25, np.float32)), 0.25, atol=1e-6)

"""Kernel-regression merge (:func:`mfsr.solvers.kernel_merge`) and its kernels.

The kernel sets agree with the NumPy reference (Numba; the CUDA C source built as host
code, ``tests/cuda_host.py``); the merge never returns NaN, beats single-frame
demosaicking + bicubic on a simulated raw burst, and does not ghost a moving object.
"""
from __future__ import annotations

import cuda_host
import numpy as np
import pytest
from skimage import data

from mfsr import Motion
from mfsr.degradation import SystemOperator
from mfsr.degradation.cfa import cfa_masks
from mfsr.degradation.burst import simulate_burst
from mfsr.degradation.interpolate import upsample
from mfsr.kernels import reference
from mfsr.metrics import psnr
from mfsr.solvers import History, kernel_merge

TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-5}, np.float64: {"rtol": 1e-10, "atol": 1e-10}}


@pytest.fixture(scope="module", params=["numba", "cuda_host"])
def kernel_set(request, tmp_path_factory):
    if request.param == "numba":
        return pytest.importorskip("mfsr.kernels.numba_kernels", reason="numba not importable")
    if cuda_host.CXX is None:
        pytest.skip("no C++ compiler (c++/g++/clang++) to build the CUDA kernels as host code")
    return cuda_host.load(tmp_path_factory.mktemp("host_merge"))


def _kernel_args(rng, dtype, n_values, n_channels, sparse=False, K=3, h=9, w=11, s=2):
    frames = rng.random((K, h, w, n_values)).astype(dtype)
    flows = (0.8 * rng.standard_normal((K, h, w, 2))).astype(np.float32)
    flows[0] = 0
    weights = rng.random((K, h, w)).astype(dtype)
    weights[weights < (0.9 if sparse else 0.2)] = 0
    a = rng.random((s * h, s * w, 2, 2))
    cov = a @ np.swapaxes(a, -1, -2) + 0.05 * np.eye(2)
    if sparse:
        cov *= 1e-3  # narrow kernels: most HR pixels get no weight
    inv = np.linalg.inv(cov)
    icov = np.stack([inv[..., 0, 0], inv[..., 0, 1], inv[..., 1, 1]], -1).astype(dtype)
    channel = rng.integers(0, n_channels, (h, w)).astype(np.int32)
    return frames, flows, weights, icov, channel, n_channels, s, 0.5, 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_values,n_channels", [(1, 1), (1, 3), (3, 3)])
def test_kernel_merge_matches_reference(kernel_set, dtype, n_values, n_channels, rng):
    args = _kernel_args(rng, dtype, n_values, n_channels)
    want_out, want_support = reference.kernel_merge(*args)
    out, support = kernel_set.kernel_merge(*args)
    assert out.dtype == support.dtype == dtype
    assert out.shape == support.shape == (18, 22, n_channels)
    np.testing.assert_allclose(out, want_out, **TOL[dtype])
    np.testing.assert_allclose(support, want_support, **TOL[dtype])


@pytest.mark.parametrize("n_values,n_channels", [(1, 3), (3, 3)])
def test_kernel_merge_sparse_samples_fall_back_without_nan(kernel_set, n_values, n_channels,
                                                           rng):
    args = _kernel_args(rng, np.float32, n_values, n_channels, sparse=True)
    out, support = kernel_set.kernel_merge(*args)
    want_out, want_support = reference.kernel_merge(*args)
    assert np.isfinite(out).all() and np.isfinite(support).all()
    assert (support == 0).any()  # some pixels take the nearest sample
    np.testing.assert_allclose(out, want_out, **TOL[np.float32])
    np.testing.assert_array_equal(support <= 0, want_support <= 0)


def test_kernel_merge_is_deterministic_across_thread_counts(rng):
    nk = pytest.importorskip("mfsr.kernels.numba_kernels", reason="numba not importable")
    import numba
    args = _kernel_args(rng, np.float32, 1, 3, K=4, h=20, w=17)
    first = nk.kernel_merge(*args)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = nk.kernel_merge(*args)
    finally:
        numba.set_num_threads(old)
    for a, b in zip(first, single):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------ the solver

def _true_operator(burst, confidence=None):
    K, h, w = burst.frames.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    pts = np.stack([xx, yy, np.ones_like(xx)], -1)
    flows = (np.einsum("kij,yxj->kyxi", burst.motions, pts) - pts[..., :2]).astype(np.float32)
    if confidence is None:
        confidence = np.ones((K, h, w), np.float32)
    return SystemOperator(Motion(flows, confidence, 0), burst.scale, burst.psf, burst.phase)


def _single_frame(burst):
    """Bilinear demosaicking of the reference frame, then bicubic upscaling."""
    from scipy.ndimage import convolve
    h, w = burst.frames.shape[1:]
    masks = cfa_masks(burst.pattern, (h, w))
    k = np.outer([1, 2, 1], [1, 2, 1]) / 4.0
    raw = burst.frames[0].astype(np.float64)
    rgb = np.stack([convolve(raw * masks[..., c], k, mode="mirror")
                    / convolve(masks[..., c].astype(float), k, mode="mirror")
                    for c in range(3)], -1).astype(np.float32)
    return np.clip(upsample(rgb, burst.scale, burst.phase, "bicubic"), 0, 1)


@pytest.fixture(scope="module")
def burst():
    return simulate_burst(data.astronaut()[100:260, 140:300], n_frames=8, scale=2, seed=0)


def test_merge_beats_single_frame_demosaicking(burst):
    op = _true_operator(burst)
    h, w = burst.frames.shape[1:]
    hr, hist = kernel_merge(op, burst.frames, cfa_masks(burst.pattern, (h, w)))
    assert isinstance(hist, History) and hist.iterations == 1
    assert hr.shape == burst.truth.shape and hr.dtype == np.float32
    assert np.isfinite(hr).all()
    merged, single = psnr(burst.truth, hr, crop=8), psnr(burst.truth, _single_frame(burst), crop=8)
    assert merged > single + 1.0, (merged, single)
    # (C, h, w) masks are accepted too, with the same result
    hr2, _ = kernel_merge(op, burst.frames, np.moveaxis(cfa_masks(burst.pattern, (h, w)), -1, 0))
    np.testing.assert_array_equal(hr, hr2)


def test_merge_numpy_and_numba_kernels_agree(burst):
    from mfsr import kernels
    op = _true_operator(burst)
    frames = burst.frames[:3, :24, :20]
    op = SystemOperator(Motion(op.flows[:3, :24, :20], op.confidence[:3, :24, :20], 0), 2,
                        burst.psf, burst.phase)
    masks = cfa_masks(burst.pattern, (24, 20))
    with kernels.use("numpy"):
        a, _ = kernel_merge(op, frames, masks)
    with kernels.use("numba"):
        b, _ = kernel_merge(op, frames, masks)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_moving_object_does_not_ghost():
    burst = simulate_burst(data.astronaut()[100:260, 140:300], n_frames=8, scale=2, seed=0,
                           moving_object=True)
    K, h, w = burst.frames.shape
    masks = cfa_masks(burst.pattern, (h, w))
    op = _true_operator(burst)
    inside = np.repeat(np.repeat(burst.object_masks[0], 2, 0), 2, 1)
    robust, _ = kernel_merge(op, burst.frames, masks)
    ghost, _ = kernel_merge(op, burst.frames, masks, robustness=False)
    conf = np.zeros((K, h, w), np.float32)
    conf[0] = 1
    alone, _ = kernel_merge(_true_operator(burst, conf), burst.frames, masks)

    def region_psnr(x, sel):
        return 10 * np.log10(1 / np.mean((np.clip(x, 0, 1)[sel] - burst.truth[sel]) ** 2))

    # inside the object the merge falls back to the reference frame's samples
    assert region_psnr(robust, inside) >= region_psnr(alone, inside) - 0.1
    assert region_psnr(robust, inside) > region_psnr(ghost, inside) + 10
    # and is no worse than single-frame demosaicking + bicubic there, away from the
    # object's blurred outline (2 LR px, where bicubic's overshoot on a saturated step
    # edge wins over any merge that does not deblur)
    from scipy.ndimage import binary_erosion
    core = binary_erosion(burst.object_masks[0], iterations=2)
    core = np.repeat(np.repeat(core, 2, 0), 2, 1)
    assert region_psnr(robust, core) >= region_psnr(_single_frame(burst), core)


def test_grey_and_colour_frames(burst, camera):
    from mfsr.degradation import simulate
    sim = simulate(camera[:64, :64], scale=2, n_frames=6, noise=0.01, seed=3)
    op = SystemOperator(sim.motion, 2, sim.psf, sim.phase)
    hr, hist = kernel_merge(op, sim.frames, noise=0.01, compute_residual=True)
    assert hr.shape == (64, 64) and np.isfinite(hr).all()
    assert np.isfinite(hist.residual_norm[0])
    # the merge does not deblur, so on grey frames it is not held to bicubic's sharpness;
    # it must beat bilinear interpolation and the merge that ignores the motion
    single = upsample(sim.frames[sim.motion.reference], 2, sim.phase, "bilinear")
    still = SystemOperator(Motion(0 * sim.motion.flows, sim.motion.confidence,
                                  sim.motion.reference), 2, sim.psf, sim.phase)
    blind, _ = kernel_merge(still, sim.frames, noise=0.01)
    assert psnr(sim.hr, hr, crop=4) > psnr(sim.hr, single, crop=4)
    assert psnr(sim.hr, hr, crop=4) > psnr(sim.hr, blind, crop=4) + 1
    # colour frames (K, h, w, C): each channel as the grey merge with the same guide
    rgb = np.stack([sim.frames, sim.frames * 0.5, sim.frames ** 2], -1)
    guide = sim.frames[sim.motion.reference]
    hr3, _ = kernel_merge(op, rgb, guide=guide, noise=0.01, robustness=False)
    hr1, _ = kernel_merge(op, sim.frames, guide=guide, noise=0.01, robustness=False)
    assert hr3.shape == (64, 64, 3)
    np.testing.assert_allclose(hr3[..., 0], hr1, atol=1e-6)


def test_zero_confidence_gives_no_nan(burst):
    K, h, w = burst.frames.shape
    conf = np.zeros((K, h, w), np.float32)
    conf[:, :10, :10] = 1  # one small corner holds all the samples
    hr, _ = kernel_merge(_true_operator(burst, conf), burst.frames,
                         cfa_masks(burst.pattern, (h, w)))
    assert np.isfinite(hr).all()


def test_input_validation(burst):
    op = _true_operator(burst)
    K, h, w = burst.frames.shape
    masks = cfa_masks(burst.pattern, (h, w))
    with pytest.raises(TypeError, match="operator"):
        kernel_merge("op", burst.frames)
    with pytest.raises(ValueError, match="frames"):
        kernel_merge(op, burst.frames[:3])
    with pytest.raises(ValueError, match="frames"):
        kernel_merge(op, burst.frames[0])
    with pytest.raises(ValueError, match="masks"):
        kernel_merge(op, burst.frames, masks[:4])
    with pytest.raises(TypeError, match="masks"):
        kernel_merge(op, burst.frames, masks.astype(np.float32))
    with pytest.raises(ValueError, match="masks"):
        kernel_merge(op, burst.frames, np.ones_like(masks))
    with pytest.raises(ValueError, match="masks"):
        kernel_merge(op, np.stack([burst.frames] * 3, -1), masks)
    with pytest.raises(ValueError, match="guide"):
        kernel_merge(op, burst.frames, masks, guide=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="noise"):
        kernel_merge(op, burst.frames, masks, noise=-0.01)
    with pytest.raises(ValueError, match="k_detail"):
        kernel_merge(op, burst.frames, masks, k_detail=-1)
    with pytest.raises(ValueError, match="radius"):
        kernel_merge(op, burst.frames, masks, radius=0)
    with pytest.raises(ValueError, match="robustness_window"):
        kernel_merge(op, burst.frames, masks, robustness_window=4)
    with pytest.raises(ValueError, match="reference"):
        kernel_merge(op, burst.frames, masks, reference=K)
    bad = burst.frames.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="frames"):
        kernel_merge(op, bad, masks)

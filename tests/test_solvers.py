"""Solvers on simulated data with known and estimated motion."""
import numpy as np
import pytest

import mfsr
from mfsr import priors, solvers
from mfsr.degradation import SystemOperator
from mfsr.metrics import psnr


@pytest.fixture(scope="module")
def bd_stack():
    from skimage import data
    img = data.camera()[96:224, 160:288]
    return mfsr.simulate(img, scale=4, n_frames=7, seed=3, degradation="BD", noise=0.002,
                         max_shift=1.5)


def bicubic_psnr(sim):
    ref = sim.motion.reference
    return psnr(sim.hr, mfsr.upsample(sim.frames[ref], 4, sim.phase), crop=4)


def test_map_beats_bicubic_with_known_motion(bd_stack):
    hr = mfsr.reconstruct(bd_stack.frames, 4, motion=bd_stack.motion, degradation="BD")
    assert psnr(bd_stack.hr, hr, crop=4) >= bicubic_psnr(bd_stack) + 2.0


@pytest.mark.parametrize("method", ["map", "irls"])
def test_robust_map_beats_bicubic_with_estimated_motion(bd_stack, method):
    hr, hist = mfsr.reconstruct(bd_stack.frames, 4, method=method, degradation="BD",
                                return_history=True)
    assert psnr(bd_stack.hr, hr, crop=4) >= bicubic_psnr(bd_stack) + 2.0
    assert hist.iterations == mfsr.pipeline.DEFAULT_ITERATIONS[method]
    if method == "map":  # IRLS changes its weights, so its surrogate need not decrease
        assert hist.objective[-1] < hist.objective[0]
    assert len(hist.seconds) == len(hist.residual_norm) == hist.iterations


@pytest.mark.parametrize("method", ["cg", "ibp", "saa", "saa_median", "map", "irls"])
def test_other_methods_improve_on_interpolation(bd_stack, method):
    hr = mfsr.reconstruct(bd_stack.frames, 4, method=method, motion=bd_stack.motion,
                          degradation="BD")
    gain = {"cg": 1.5, "ibp": 1.0, "saa": 0.1, "saa_median": 0.1, "map": 2.0, "irls": 2.0}[method]
    assert psnr(bd_stack.hr, hr, crop=4) >= bicubic_psnr(bd_stack) + gain


@pytest.mark.parametrize("prior", ["btv", "tv", "huber", "tikhonov"])
@pytest.mark.parametrize("data_term", ["l2", "l1", "huber"])
def test_map_priors_and_data_terms_beat_bicubic(bd_stack, prior, data_term):
    hr = mfsr.reconstruct(bd_stack.frames, 4, method="map", motion=bd_stack.motion,
                          degradation="BD", prior=prior, data_term=data_term, weight=1e-4,
                          iterations=15)
    assert psnr(bd_stack.hr, hr, crop=4) >= bicubic_psnr(bd_stack) + 1.0


def test_scale_one_without_motion_returns_input(camera):
    frames = np.stack([camera[:32, :40]] * 3)
    motion = mfsr.Motion.zeros(3, (32, 40), 1)
    for method in (m for m in mfsr.METHODS if m != "kernel"):
        # without a prior the input is the exact solution and a fixed point of every solver
        hr = mfsr.reconstruct(frames, 1, method=method, motion=motion, psf="none", phase=0.0,
                              reference=1, weight=0.0)
        np.testing.assert_allclose(hr, frames[1], atol=1e-4, err_msg=method)
    # the kernel merge is a local weighted average, not a solver of the model: its kernels
    # (a fraction of an LR pixel wide) smooth a little
    hr = mfsr.reconstruct(frames, 1, method="kernel", motion=motion, psf="none", phase=0.0,
                          reference=1)
    np.testing.assert_allclose(hr, frames[1], atol=0.01)
    # with the default (estimated) prior weight it only smooths a little
    hr = mfsr.reconstruct(frames, 1, motion=motion, psf="none", phase=0.0, reference=1)
    assert psnr(frames[1], hr) > 40


def test_single_frame_map_is_deblurring(bd_stack):
    one = bd_stack.frames[3:4]
    hr = mfsr.reconstruct(one, 4, degradation="BD")
    assert hr.shape == bd_stack.hr.shape
    assert psnr(bd_stack.hr, hr, crop=4) > bicubic_psnr(bd_stack)


def test_cg_matches_lbfgs_on_the_quadratic_problem(bd_stack):
    A = SystemOperator(bd_stack.motion, 4, bd_stack.psf, bd_stack.phase)
    x0 = mfsr.upsample(bd_stack.frames[3], 4, bd_stack.phase)
    prior = priors.Tikhonov()
    x_cg, h = solvers.conjugate_gradient(A, bd_stack.frames, x0, prior, 0.01, iterations=200)
    obj = solvers.Objective(A, bd_stack.frames, solvers.L2(), prior, 0.01)
    x_lb, _ = solvers.map_lbfgs(obj, x0, iterations=200, tol=1e-12)
    assert np.abs(x_cg - x_lb).max() < 0.02
    assert obj.value_and_gradient(x_cg)[0] <= obj.value_and_gradient(x_lb)[0] * 1.001


def test_cg_without_recording_gives_the_same_image(bd_stack):
    A = SystemOperator(bd_stack.motion, 4, bd_stack.psf, bd_stack.phase)
    x0 = mfsr.upsample(bd_stack.frames[3], 4, bd_stack.phase)
    args = (A, bd_stack.frames, x0, priors.Tikhonov(), 0.01)
    recorded, hist = solvers.conjugate_gradient(*args, iterations=6)
    quiet, quiet_hist = solvers.conjugate_gradient(*args, iterations=6, record=False)
    assert hist.iterations == 6 and quiet_hist.iterations == 0
    np.testing.assert_array_equal(quiet, recorded)


def test_lbfgs_returns_the_point_of_its_last_recorded_value(bd_stack):
    """L-BFGS swaps its preallocated images between the current and the trial point and
    recycles the arrays of dropped curvature pairs: the returned image must be the one
    whose objective it recorded last, and the start must be left alone."""
    A = SystemOperator(bd_stack.motion, 4, bd_stack.psf, bd_stack.phase)
    x0 = mfsr.upsample(bd_stack.frames[3], 4, bd_stack.phase)
    start = x0.copy()
    obj = solvers.Objective(A, bd_stack.frames, solvers.Huber(0.01), priors.BilateralTV(), 1e-4)
    x, hist = solvers.map_lbfgs(obj, x0, iterations=12, memory=2, tol=0.0)
    assert hist.iterations == 12  # so that pairs were dropped and their arrays reused
    np.testing.assert_array_equal(x0, start)
    value, grad, r = obj.value_and_gradient(x)
    assert value == pytest.approx(hist.objective[-1], rel=1e-6)
    assert float(np.sqrt(np.sum(obj.c * r * r))) == pytest.approx(hist.residual_norm[-1],
                                                                  rel=1e-6)
    # the gradient written into a caller's buffer is the one returned without it
    buf = np.empty_like(x)
    value_out, grad_out, _ = obj.value_and_gradient(x, out=buf)
    assert grad_out is buf and value_out == value
    np.testing.assert_array_equal(grad_out, grad)


def test_gradient_descent_decreases_the_objective(bd_stack):
    A = SystemOperator(bd_stack.motion, 4, bd_stack.psf, bd_stack.phase)
    x0 = mfsr.upsample(bd_stack.frames[3], 4, bd_stack.phase)
    obj = solvers.Objective(A, bd_stack.frames, solvers.Huber(0.01), priors.HuberMRF(), 1e-4)
    _, hist = solvers.map_gradient_descent(obj, x0, iterations=10)
    assert np.all(np.diff(hist.objective) <= 1e-6)


def test_confidence_downweights_an_outlier_frame(bd_stack, rng):
    frames = bd_stack.frames.copy()
    frames[0] = rng.random(frames[0].shape)
    motion = mfsr.Motion(bd_stack.motion.flows, bd_stack.motion.confidence.copy(), 3)
    motion.confidence[0] = 0.0
    hr_weighted = mfsr.reconstruct(frames, 4, method="map", motion=motion, degradation="BD")
    hr_plain = mfsr.reconstruct(frames, 4, method="map", motion=bd_stack.motion,
                                degradation="BD", data_term="l2")
    hr_without = mfsr.reconstruct(frames[1:], 4, method="map", degradation="BD",
                                  motion=bd_stack.motion.select(range(1, 7), 2))
    # a frame of confidence 0 costs nothing: as good as leaving it out; the plain l2 fit
    # keeps it (only the photometric check holds it back, not to 0)
    weighted = psnr(bd_stack.hr, hr_weighted, crop=4)
    assert weighted > psnr(bd_stack.hr, hr_without, crop=4) - 0.2
    assert weighted > psnr(bd_stack.hr, hr_plain, crop=4) + 2


def test_colour_output_shape_and_range(astronaut):
    sim = mfsr.simulate(astronaut, scale=2, n_frames=3, seed=0, channel_axis=-1)
    for color in ("luma", "rgb"):
        hr = mfsr.reconstruct((sim.frames * 255).round().astype(np.uint8), 2, color=color,
                              degradation="BD", iterations=5)
        assert hr.shape == sim.hr.shape and hr.dtype == np.float32
        assert 0.0 <= hr.min() and hr.max() <= 1.0
        assert psnr(sim.hr, hr, crop=2) > 25


def test_irls_downweights_an_outlier_frame_by_itself(bd_stack, rng):
    frames = bd_stack.frames.copy()
    frames[0] = np.clip(frames[0] + rng.normal(0, 0.3, frames[0].shape), 0, 1)  # a bad frame
    A = SystemOperator(bd_stack.motion, 4, bd_stack.psf, bd_stack.phase)  # confidence all 1
    x, _ = solvers.irls(A, frames, mfsr.upsample(frames[3], 4, 0.0), weight=0.01)
    beta, alphas = solvers.irls_weights(A, frames, x, A.confidence)
    assert float(beta[0].mean()) < 0.5 * float(beta[1:].mean())
    assert all(float(a.min()) < 1.0 <= float(a.max()) for a in alphas)
    plain = mfsr.reconstruct(frames, 4, method="cg", motion=bd_stack.motion, degradation="BD")
    assert psnr(bd_stack.hr, x, crop=4) > psnr(bd_stack.hr, plain, crop=4) + 2.0


def test_kernel_merge_as_start_of_irls(bd_stack):
    """init="kernel" starts IRLS from the merge: about as good as from the upsampled
    reference (5 re-weightings do not forget the start: -0.13 dB here, the merge being
    smoother), and the merge alone is about as good as shift-and-add."""
    common = dict(motion=bd_stack.motion, degradation="BD")
    plain = mfsr.reconstruct(bd_stack.frames, 4, **common)
    started = mfsr.reconstruct(bd_stack.frames, 4, init="kernel", **common)
    assert psnr(bd_stack.hr, started, crop=4) >= psnr(bd_stack.hr, plain, crop=4) - 0.3
    merged = mfsr.reconstruct(bd_stack.frames, 4, method="kernel", **common)
    saa = mfsr.reconstruct(bd_stack.frames, 4, method="saa", **common)
    assert psnr(bd_stack.hr, merged, crop=4) >= psnr(bd_stack.hr, saa, crop=4) - 0.5

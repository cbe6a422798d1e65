"""The real-motion pieces of the solve: photometric offsets (the x4 mesh), patch-based
data weights, the anchor, the photometric check for every stack, motion refinement."""
import cv2
import numpy as np
import pytest
from skimage import data

import mfsr
from mfsr import solvers
from mfsr.degradation import SystemOperator
from mfsr.degradation.offsets import frame_offsets, smooth_weighted
from mfsr.metrics import grid_energy, psnr
from mfsr.pipeline.methods import irls_weight
from mfsr.registration.dense import flow_dis
from mfsr.registration.refine import refine_motion
from mfsr.solvers.irls import local_rms


@pytest.fixture(scope="module")
def camera_stack():
    img = data.camera()[128:256, 128:256].astype(np.float32) / 255
    return mfsr.simulate(img, scale=4, n_frames=7, seed=2, degradation="BD", noise=0.002,
                         max_shift=1.5)


def _with_brightness_fields(sim, amplitude=0.03, seed=0):
    """The stack with a smooth brightness difference added to every non-reference frame
    (what flicker, shading and codec drift do to real frames)."""
    frames = sim.frames.copy()
    rng = np.random.default_rng(seed)
    for k in range(len(frames)):
        if k != sim.motion.reference:
            field = cv2.GaussianBlur(rng.standard_normal(frames[k].shape).astype(np.float32),
                                     (0, 0), 6)
            frames[k] += amplitude * field / field.std()
    return frames


def test_offsets_keep_brightness_differences_out_of_the_image(camera_stack):
    sim = camera_stack
    frames = _with_brightness_fields(sim)
    op = SystemOperator(sim.motion, 4, sim.psf, sim.phase)
    x0 = mfsr.upsample(frames[sim.motion.reference], 4, 0.0)
    lam = irls_weight(0.004, 7)
    plain, _ = solvers.irls(op, frames, x0, lam)
    fitted, _ = solvers.irls(op, frames, x0, lam, offsets=2.0, reference=3)
    gt = grid_energy(sim.hr, 4)
    # without offsets the differences come out as a mesh at the x4 period (measured 3.6x
    # the ground truth's grid energy, -2.8 dB); with them it is the ground truth's
    assert grid_energy(plain, 4) > 2.0 * gt
    assert grid_energy(fitted, 4) < 1.5 * gt
    assert psnr(sim.hr, fitted, 4) > psnr(sim.hr, plain, 4) + 1.0


def test_offsets_cost_little_on_frames_without_brightness_differences(camera_stack):
    sim = camera_stack
    op = SystemOperator(sim.motion, 4, sim.psf, sim.phase)
    x0 = mfsr.upsample(sim.frames[3], 4, 0.0)
    lam = irls_weight(0.004, 7)
    plain, _ = solvers.irls(op, sim.frames, x0, lam)
    fitted, _ = solvers.irls(op, sim.frames, x0, lam, offsets=2.0, reference=3)
    assert psnr(sim.hr, fitted, 4) > psnr(sim.hr, plain, 4) - 0.15


def test_frame_offsets_are_smooth_weighted_and_zero_for_the_reference():
    r = np.zeros((3, 20, 24), np.float32)
    r[0] += 0.05
    r[2, :, :12] = 0.1
    w = np.ones_like(r)
    w[2, :, 12:] = 0           # no trust there: the offset extends its neighbours'
    b = frame_offsets(r, w, 2.0, reference=1)
    assert np.allclose(b[0], 0.05, atol=1e-6) and not b[1].any()
    assert np.allclose(b[2, :, :16], 0.1, atol=1e-5)   # within the kernel's reach
    with pytest.raises(ValueError, match="sigma"):
        frame_offsets(r, w, 0.0, reference=1)
    # where no weight is near at all, the smoothing falls to 0 instead of dividing by 0
    assert np.all(smooth_weighted(r, np.zeros_like(r), 1.0) == 0)


def test_irls_needs_the_reference_for_offsets(camera_stack):
    op = SystemOperator(camera_stack.motion, 4, camera_stack.psf, camera_stack.phase)
    with pytest.raises(ValueError, match="reference"):
        solvers.irls(op, camera_stack.frames, np.zeros(op.hr_shape, np.float32), 0.01,
                     offsets=2.0)


def test_local_rms_of_a_constant_residual():
    r = np.full((2, 9, 11), -0.2, np.float32)
    np.testing.assert_allclose(local_rms(r, 5), 0.2, rtol=1e-6)
    r[0, 4, 5] = 1.0            # one bad pixel spreads over its 5x5 box
    rho = local_rms(r, 5)
    assert rho[0, 2, 3] > 0.2 and rho[0, 0, 0] == pytest.approx(0.2)


def test_anchor_pulls_towards_a_good_estimate(camera_stack):
    sim = camera_stack
    one = sim.frames[3:4]
    op = SystemOperator(sim.motion.select([3], 0), 4, sim.psf, sim.phase)
    x0 = mfsr.upsample(one[0], 4, 0.0)
    lam = irls_weight(0.004, 1)
    alone, _ = solvers.irls(op, one, x0, lam)
    weights = np.full(op.hr_shape, 0.02, np.float32)
    good, _ = solvers.irls(op, one, x0, lam, anchor=(sim.hr.astype(np.float32), weights))
    assert psnr(sim.hr, good, 4) > psnr(sim.hr, alone, 4) + 2.0


def test_the_anchors_weights_drop_where_the_warped_estimate_disagrees(camera_stack):
    # a square of the neighbour's estimate shows something else (an occlusion): the
    # photometric check of the anchor against the frame gives it no weight there
    from mfsr.video.recurrence import anchor
    sim = camera_stack
    wrong = sim.hr.astype(np.float32).copy()
    wrong[40:80, 40:80] = 1.0 - wrong[40:80, 40:80]
    h, w = sim.frames.shape[1:]
    zero = np.zeros((h, w, 2), np.float32)
    image, weights = anchor(wrong, zero, np.ones((h, w), np.float32), sim.frames[3], 4,
                            sim.psf, sim.phase, 0.002, 0.02)
    np.testing.assert_array_equal(image[40:80, 40:80], wrong[40:80, 40:80])
    assert weights[48:72, 48:72].mean() < 0.003    # (where 1 - x = x it may agree)
    assert np.median(weights[90:, 90:]) > 0.015


def test_reconstruct_checks_the_anchor(camera_stack):
    sim = camera_stack
    H, W = sim.hr.shape
    good = (np.zeros((H, W), np.float32), np.zeros((H, W), np.float32))
    hr = mfsr.reconstruct(sim.frames, 4, degradation="BD", anchor=good, iterations=1)
    assert hr.shape == (H, W)
    with pytest.raises(ValueError, match="HR grid"):
        mfsr.reconstruct(sim.frames, 4, degradation="BD", iterations=1,
                         anchor=(np.zeros((H, W + 4), np.float32), good[1]))
    with pytest.raises(ValueError, match="anchor is taken by methods"):
        mfsr.reconstruct(sim.frames, 4, method="map", anchor=good)
    with pytest.raises(TypeError, match="anchor must be a tuple"):
        mfsr.reconstruct(sim.frames, 4, anchor=good[0])
    with pytest.raises(ValueError, match="anchor weights contains NaN"):
        mfsr.reconstruct(sim.frames, 4, anchor=(good[0], np.full((H, W), np.nan)))


def test_a_frame_showing_something_else_is_left_out_without_a_given_confidence(camera_stack):
    # the photometric check now runs on clean stacks too: a frame of another image costs
    # less than 0.5 dB against the stack without it (no confidence given)
    sim = camera_stack
    frames = sim.frames.copy()
    other = data.coins()[:128, :128].astype(np.float32) / 255
    frames[0] = cv2.resize(other, frames[0].shape[::-1], interpolation=cv2.INTER_AREA)
    with_it = mfsr.reconstruct(frames, 4, degradation="BD", motion=sim.motion)
    without = mfsr.reconstruct(frames[1:], 4, degradation="BD",
                               motion=sim.motion.select(range(1, 7), 2))
    assert psnr(sim.hr, with_it, 4) > psnr(sim.hr, without, 4) - 0.5


def test_refine_motion_corrects_a_biased_flow(camera_stack):
    sim = camera_stack
    biased = mfsr.Motion(sim.motion.flows + np.float32(0.3), sim.motion.confidence, 3)
    biased.flows[3] = 0
    # the prediction of the current (biased) motion, from a good estimate (the truth)
    predicted = SystemOperator(biased, 4, sim.psf, sim.phase).forward(sim.hr.astype(np.float32))
    refined = refine_motion(sim.frames, biased, predicted, flow_dis)
    err_before = np.abs(biased.flows - sim.motion.flows)[:, 8:-8, 8:-8].mean()
    err_after = np.abs(refined.flows - sim.motion.flows)[:, 8:-8, 8:-8].mean()
    assert err_after < 0.5 * err_before
    assert not refined.flows[3].any()
    with pytest.raises(ValueError, match="must agree"):
        refine_motion(sim.frames[:3], biased, predicted, flow_dis)


def test_reconstruct_refine_option(camera_stack):
    sim = camera_stack
    hr0 = mfsr.reconstruct(sim.frames, 4, degradation="BD", iterations=2)
    hr1 = mfsr.reconstruct(sim.frames, 4, degradation="BD", iterations=2, refine=1)
    assert hr1.shape == hr0.shape and not np.array_equal(hr0, hr1)
    assert psnr(sim.hr, hr1, 4) > psnr(sim.hr, hr0, 4) - 0.2
    with pytest.raises(ValueError, match="refine"):
        mfsr.reconstruct(sim.frames, 4, refine=-1)

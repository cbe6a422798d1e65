"""Blind PSF-width estimation on BD-made data with known global motion."""
import numpy as np
import pytest

import mfsr
from mfsr.pipeline.calibration import estimate_psf


@pytest.mark.parametrize("true_sigma", [1.0, 1.6])
def test_gaussian_psf_width_is_recovered(true_sigma):
    from skimage import data
    # 7 frames, scored on a 48 x 48 LR crop away from the image border; on a small, mostly
    # flat crop (camera[64:256, 64:256], 5 frames) the estimate comes out too wide
    sim = mfsr.simulate(data.camera()[96:416, 96:416], 4, 7, degradation="BD", psf=true_sigma,
                        noise=0.005, seed=2, max_shift=1.5)
    motion = mfsr.register(sim.frames)
    sigma, scores = estimate_psf(sim.frames, 4, motion, folds=3, crop=48)
    assert abs(sigma - true_sigma) <= 0.2
    assert scores.shape == (11,)


def test_estimate_psf_validates_input():
    frames = np.zeros((2, 16, 16), np.float32)
    with pytest.raises(ValueError, match="at least 3 frames"):
        estimate_psf(frames, 2, mfsr.Motion.zeros(2, (16, 16)))
    with pytest.raises(ValueError, match="sigmas"):
        estimate_psf(np.zeros((3, 16, 16)), 2, mfsr.Motion.zeros(3, (16, 16)), sigmas=[2, 1, 3])
    with pytest.raises(ValueError, match="noise"):
        estimate_psf(np.zeros((3, 16, 16)), 2, mfsr.Motion.zeros(3, (16, 16)), noise=-1.0)


def test_estimate_psf_refuses_a_static_stack():
    frames = np.repeat(np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(1, 32, 32), 4, 0)
    with pytest.raises(ValueError, match="do not move"):
        estimate_psf(frames, 2, mfsr.Motion.zeros(4, (32, 32)))


def test_cross_validation_weight_follows_the_noise_variance():
    from mfsr.pipeline.calibration import CV_SIGMA_FLOOR, cross_validation_weight
    assert cross_validation_weight(0.02, 6) == pytest.approx(4 * cross_validation_weight(0.01, 6))
    assert cross_validation_weight(0.01, 6) == pytest.approx(2 * cross_validation_weight(0.01, 3))
    assert cross_validation_weight(0.0, 6) == cross_validation_weight(CV_SIGMA_FLOOR, 6) > 0


def test_reconstruct_with_estimated_psf_beats_a_wrong_psf():
    from skimage import data
    from mfsr.metrics import psnr
    sim = mfsr.simulate(data.camera()[64:256, 64:256], 4, 5, degradation="BD", psf=1.0,
                        noise=0.005, seed=2, max_shift=1.5)
    estimated = mfsr.reconstruct(sim.frames, 4, degradation="BD", psf="estimate")
    wrong = mfsr.reconstruct(sim.frames, 4, degradation="BD")  # preset sigma 1.6
    assert psnr(sim.hr, estimated, crop=4) > psnr(sim.hr, wrong, crop=4) + 0.5

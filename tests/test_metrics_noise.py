"""Metrics follow the shared convention; noise estimation and simulation behave."""
import importlib.util
import pathlib

import numpy as np
import pytest

import mfsr
from mfsr.degradation import PoissonGaussianNoise, estimate_noise
from mfsr.metrics import psnr, ssim, y_psnr_ssim

EVALSR = pathlib.Path(__file__).resolve().parents[2] / "shared" / "tools" / "evalsr.py"


def test_psnr_of_known_error():
    a = np.zeros((10, 10))
    b = np.full((10, 10), 0.1)
    assert psnr(a, b) == pytest.approx(20.0)
    assert psnr(a, a) == float("inf")
    assert ssim(a + 0.5, a + 0.5) == pytest.approx(1.0)


def test_luma_psnr_uses_matlab_scaling_and_crop(rng):
    gt = rng.random((20, 20, 3))
    sr = gt.copy()
    sr[:2] = 0  # only the border differs
    assert psnr(gt, sr, crop=2, luma=True) == float("inf")
    assert psnr(gt, sr, crop=0, luma=True) < 30


@pytest.mark.skipif(not EVALSR.exists(), reason="../shared/tools/evalsr.py not present")
def test_agrees_with_the_shared_reference_evaluator(astronaut, rng):
    spec = importlib.util.spec_from_file_location("evalsr", EVALSR)
    evalsr = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(evalsr)
    sr = np.clip(astronaut / 255.0 + rng.normal(0, 0.03, astronaut.shape), 0, 1)
    ref_psnr, ref_ssim = evalsr.ypsnr(astronaut[..., ::-1], sr[..., ::-1], 4)  # BGR there
    ours = y_psnr_ssim(astronaut, sr, 4)
    assert ours[0] == pytest.approx(ref_psnr, abs=0.01)
    assert ours[1] == pytest.approx(ref_ssim, abs=1e-4)


@pytest.mark.parametrize("sigma", [0.005, 0.01, 0.02, 0.05])
def test_noise_estimate_on_simulated_frames(sigma):
    from skimage import data
    sim = mfsr.simulate(data.camera(), scale=4, n_frames=2, noise=sigma, seed=0, clip=False)
    assert estimate_noise(sim.frames[0]) == pytest.approx(sigma, rel=0.25)


@pytest.mark.parametrize("sigma", [0.005, 0.02])
def test_noise_estimate_is_not_pulled_down_by_clipped_areas(sigma):
    # a third of the frame saturated at 1: clipping removes its noise, and without
    # ranking those blocks last they pass for the flattest texture
    from skimage import data
    image = data.camera() / 255.0
    image[:, :170] = 1.2
    sim = mfsr.simulate(image, scale=4, n_frames=3, noise=sigma, seed=0)
    assert np.mean(sim.frames == 1.0) > 0.25
    assert estimate_noise(sim.frames) == pytest.approx(sigma, rel=0.2)


def test_simulate_conventions(camera):
    sim = mfsr.simulate(camera, scale=4, n_frames=5, seed=0, degradation="BD")
    assert sim.frames.shape == (5, 32, 32) and sim.frames.dtype == np.float32
    assert sim.motion.reference == 2
    np.testing.assert_array_equal(sim.frames[2], mfsr.degradation.BlurDecimate(
        (128, 128), 4, 1.6, 0.0).forward(camera))
    again = mfsr.simulate(camera, scale=4, n_frames=5, seed=0, degradation="BD")
    np.testing.assert_array_equal(sim.frames, again.frames)


def test_simulate_noise_models(camera):
    sim = mfsr.simulate(camera, scale=2, n_frames=1, seed=0, clip=False,
                        noise=PoissonGaussianNoise(0.01, 0.0))
    clean = mfsr.simulate(camera, scale=2, n_frames=1, seed=0)
    resid = sim.frames[0] - clean.frames[0]
    bright = clean.frames[0] > 0.6
    dark = clean.frames[0] < 0.2
    assert resid[bright].std() > 1.5 * resid[dark].std()
    eight = mfsr.simulate(camera, scale=2, n_frames=1, noise=0.01, seed=0, bits=8)
    np.testing.assert_allclose(eight.frames * 255, np.round(eight.frames * 255), atol=1e-4)


def test_simulate_sequence_crops_and_degrades(rng):
    frames = rng.random((3, 37, 42, 3)).astype(np.float32)
    sim = mfsr.simulate_sequence(frames, scale=4, channel_axis=-1)
    assert sim.frames.shape == (3, 9, 10, 3) and sim.hr.shape == (3, 36, 40, 3)
    assert sim.motion is None


@pytest.mark.parametrize("gain,sigma", [(0.0004, 0.002), (0.001, 0.005), (0.004, 0.01),
                                        (0.0, 0.02)])
@pytest.mark.parametrize("image", ["camera", "astronaut"])
def test_poisson_gaussian_model_estimate(image, gain, sigma):
    from skimage import data
    from mfsr.degradation import estimate_noise_model
    img = data.camera() if image == "camera" else data.astronaut()[..., 1]
    sim = mfsr.simulate(img, scale=4, n_frames=5, noise=PoissonGaussianNoise(gain, sigma),
                        seed=0, clip=False)
    model = estimate_noise_model(sim.frames)
    for level in (0.2, 0.5, 0.8):
        assert model.std(level) == pytest.approx(np.sqrt(gain * level + sigma**2), rel=0.2)

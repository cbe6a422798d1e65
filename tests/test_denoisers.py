"""Denoiser priors: run-time inference of the shipped CNN, wrappers, plug-and-play ADMM."""
import os

import numpy as np
import pytest
from scipy import ndimage
from skimage import data

import mfsr
from mfsr.core.backend import gpu_available
from mfsr.degradation import SystemOperator
from mfsr.priors.denoisers import (BM3DDenoiser, Denoiser, LearnedDenoiser, bm3d_available,
                                   make_denoiser)
from mfsr.metrics import psnr
from mfsr.solvers import pnp_admm
from mfsr.solvers.pnp import pnp_parameters, sigma_schedule

REFERENCE = os.path.join(os.path.dirname(__file__), "data", "dncnn_reference.npz")


@pytest.fixture(scope="module")
def learned():
    return LearnedDenoiser()


@pytest.fixture(scope="module")
def clean():
    """128x128 crop of the camera image (held out of the denoiser's training set)."""
    return (data.camera()[160:288, 200:328] / 255.0).astype(np.float32)


def test_matches_pytorch_reference(learned):
    ref = np.load(REFERENCE)
    assert ref["inputs"].shape[0] == ref["sigmas"].shape[0] >= 2
    for x, sigma, expected in zip(ref["inputs"], ref["sigmas"], ref["outputs"]):
        out = learned(x, float(sigma))
        assert out.dtype == np.float32 and out.shape == x.shape
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-4)
        # the reference is not the identity: the network changes its input
        assert np.abs(expected - x).max() > 1e-3


def test_weights_are_small(learned):
    f, d = learned.meta["features"], learned.meta["depth"]
    # 5 input channels (4 polyphase + sigma), d - 2 hidden layers, 4 outputs, with biases
    assert learned.n_parameters == (5 * 9 * f + f) + (d - 2) * (9 * f * f + f) + (9 * f * 4 + 4)
    assert 10_000 < learned.n_parameters <= 400_000


@pytest.mark.parametrize("sigma,min_gain", [(0.02, 2.0), (0.05, 4.0)])
def test_reduces_noise(learned, clean, sigma, min_gain):
    rng = np.random.default_rng(7)
    noisy = clean + sigma * rng.standard_normal(clean.shape).astype(np.float32)
    out = learned(noisy, sigma)
    gain = psnr(clean, np.clip(out, 0, 1)) - psnr(clean, np.clip(noisy, 0, 1))
    assert gain > min_gain
    # and beats a Gaussian filter tuned on the same image
    best_gauss = max(psnr(clean, np.clip(ndimage.gaussian_filter(noisy, s), 0, 1))
                     for s in (0.5, 0.75, 1.0, 1.5))
    assert psnr(clean, np.clip(out, 0, 1)) > best_gauss + 0.5


def test_odd_shapes_and_float64(learned, clean):
    x = clean[:37, :22]
    out = learned(x, 0.03)
    assert out.shape == (37, 22) and out.dtype == np.float32
    # an odd side is reflect-padded to even, run, and cropped
    padded = learned(np.pad(x, ((0, 1), (0, 0)), mode="reflect"), 0.03)
    np.testing.assert_allclose(out, padded[:37], atol=1e-6)
    out64 = learned(clean[:16, :16].astype(np.float64), 0.02)
    assert out64.dtype == np.float64
    np.testing.assert_allclose(out64, learned(clean[:16, :16], 0.02), atol=1e-5)


def test_stronger_sigma_smooths_more(learned, clean):
    rng = np.random.default_rng(0)
    noisy = clean + 0.03 * rng.standard_normal(clean.shape).astype(np.float32)
    changes = [float(np.abs(learned(noisy, s) - noisy).mean()) for s in (0.0, 0.03, 0.1)]
    assert changes[0] < changes[1] < changes[2]


def test_wrapper_and_validation():
    blur = Denoiser(lambda x, s: ndimage.gaussian_filter(x, 1.0), name="gauss")
    x = np.random.default_rng(0).random((12, 10)).astype(np.float32)
    np.testing.assert_allclose(blur(x, 0.1), ndimage.gaussian_filter(x, 1.0))
    assert make_denoiser(blur) is blur
    assert make_denoiser("learned") is make_denoiser("learned")
    wrapped = make_denoiser(lambda x, s: x)
    assert isinstance(wrapped, Denoiser)
    np.testing.assert_array_equal(wrapped(x, 0.0), x)
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        blur(np.zeros((2, 3, 4)), 0.1)
    with pytest.raises(ValueError, match="sigma"):
        blur(x, -0.1)
    with pytest.raises(TypeError, match="function must be callable"):
        Denoiser(3)
    with pytest.raises(ValueError, match="returned shape"):
        Denoiser(lambda x, s: x[1:])(x, 0.1)
    with pytest.raises(ValueError, match="unknown denoiser 'nlm'"):
        make_denoiser("nlm")
    with pytest.raises(TypeError, match="denoiser must be"):
        make_denoiser(1.5)


def test_bad_weights_file(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, w0=np.zeros((8, 3, 3, 3), np.float32), b0=np.zeros(8, np.float32),
             meta=np.array('{"depth": 1, "features": 8}'))
    with pytest.raises(ValueError, match="polyphase"):
        LearnedDenoiser(path)


@pytest.mark.skipif(not bm3d_available(), reason="optional bm3d package not installed")
def test_bm3d_reduces_noise(clean):
    rng = np.random.default_rng(3)
    noisy = clean[:64, :64] + 0.05 * rng.standard_normal((64, 64)).astype(np.float32)
    out = BM3DDenoiser()(noisy, 0.05)
    assert psnr(clean[:64, :64], np.clip(out, 0, 1)) > psnr(clean[:64, :64],
                                                            np.clip(noisy, 0, 1)) + 4


def test_bm3d_missing_is_clear():
    if bm3d_available():
        pytest.skip("bm3d installed")
    with pytest.raises(ImportError, match="bm3d"):
        BM3DDenoiser()


@pytest.mark.gpu
def test_cupy_matches_numpy(learned, clean):
    import cupy as cp
    rng = np.random.default_rng(1)
    noisy = clean + 0.04 * rng.standard_normal(clean.shape).astype(np.float32)
    out = learned(cp.asarray(noisy), 0.04)
    assert isinstance(out, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(out), learned(noisy, 0.04), atol=1e-4)


def test_sigma_schedule():
    s = sigma_schedule(5, 0.16, 0.01)
    assert len(s) == 5 and s[0] == pytest.approx(0.16) and s[-1] == pytest.approx(0.01)
    assert np.allclose(np.diff(np.log(s)), np.log(0.01 / 0.16) / 4)
    assert sigma_schedule(1, 0.1, 0.02) == [0.02]
    with pytest.raises(ValueError, match="sigma_start"):
        sigma_schedule(3, 0.01, 0.02)
    with pytest.raises(ValueError, match="sigma_end"):
        sigma_schedule(3, 0.1, 0.0)


@pytest.fixture(scope="module")
def simulated():
    img = data.camera()[128:320, 160:352]
    return mfsr.simulate(img, scale=2, n_frames=5, degradation="BD", noise=0.02, seed=2)


def _operator(sim):
    return SystemOperator(sim.motion, 2, sim.psf, sim.phase)


def test_pnp_beats_bicubic(simulated):
    sim = simulated
    ref = sim.frames.shape[0] // 2
    x0 = mfsr.upsample(sim.frames[ref], 2, sim.phase)
    params = pnp_parameters(0.02)
    x, hist = pnp_admm(_operator(sim), sim.frames, x0, "learned", **params)
    assert hist.iterations == params["iterations"] and np.all(np.isnan(hist.objective))
    assert x.shape == sim.hr.shape and x.dtype == np.float32
    p_pnp = psnr(sim.hr, np.clip(x, 0, 1), crop=2)
    assert p_pnp > psnr(sim.hr, np.clip(x0, 0, 1), crop=2) + 2.0


def test_pnp_robust_weights_resist_an_occlusion(simulated):
    sim = simulated
    frames = sim.frames.copy()
    frames[1, 20:60, 20:60] = 1.0  # something the model does not explain, on one frame
    ref = frames.shape[0] // 2
    x0 = mfsr.upsample(frames[ref], 2, sim.phase)
    params = pnp_parameters(0.02)
    scores = {}
    for robust in (None, 2.0):
        x, _ = pnp_admm(_operator(sim), frames, x0, "learned", **{**params, "robust": robust})
        scores[robust] = psnr(sim.hr, np.clip(x, 0, 1), crop=2)
    assert scores[2.0] > scores[None] + 1.0


def test_pnp_with_any_callable_and_hqs(simulated):
    sim = simulated
    ref = sim.frames.shape[0] // 2
    x0 = mfsr.upsample(sim.frames[ref], 2, sim.phase)
    calls = []

    def smooth(x, sigma):
        calls.append(sigma)
        return ndimage.gaussian_filter(x, 0.5)

    x, hist = pnp_admm(_operator(sim), sim.frames, x0, smooth, iterations=3, weight=1e-4,
                       sigma_start=0.05, sigma_end=0.01, splitting="hqs")
    assert calls == pytest.approx(sigma_schedule(3, 0.05, 0.01))
    # the data residual drops below the start image's
    r0 = _operator(sim).forward(x0) - sim.frames
    assert hist.residual_norm[-1] < float(np.sqrt(np.sum(r0 * r0)))


def test_pnp_validation(simulated):
    sim = simulated
    op = _operator(sim)
    x0 = mfsr.upsample(sim.frames[2], 2, sim.phase)
    with pytest.raises(ValueError, match="weight"):
        pnp_admm(op, sim.frames, x0, weight=0.0)
    with pytest.raises(ValueError, match="x0 must have shape"):
        pnp_admm(op, sim.frames, x0[1:])
    with pytest.raises(ValueError, match="frames must have shape"):
        pnp_admm(op, sim.frames[1:], x0)
    with pytest.raises(ValueError, match="unknown splitting"):
        pnp_admm(op, sim.frames, x0, splitting="fista")
    with pytest.raises(ValueError, match="iterations"):
        pnp_admm(op, sim.frames, x0, iterations=0)

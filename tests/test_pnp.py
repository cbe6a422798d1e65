"""reconstruct(method="pnp"): denoiser priors through the pipeline (learned, callables, BM3D)."""
import numpy as np
import pytest
from scipy import ndimage
from skimage import data

import mfsr
from mfsr.priors.denoisers import bm3d_available
from mfsr.metrics import psnr
from mfsr.priors import Denoiser
from mfsr.solvers.pnp import PNP_ITERATIONS


@pytest.fixture(scope="module")
def sim():
    """5 BD frames at x2 of a 96 x 96 LR crop of the camera image, noise 0.02."""
    img = data.camera()[128:320, 160:352]
    return mfsr.simulate(img, scale=2, n_frames=5, degradation="BD", noise=0.02, seed=2)


def _run(sim, **kwargs):
    return mfsr.reconstruct(sim.frames, 2, degradation="BD", motion=sim.motion, reference=2,
                            **kwargs)


def test_priors_reexports_denoiser():
    import mfsr.priors.denoisers
    assert mfsr.priors.Denoiser is mfsr.priors.denoisers.Denoiser
    assert mfsr.priors.make_denoiser("learned") is mfsr.priors.denoisers.make_denoiser("learned")
    assert "pnp" in mfsr.METHODS


def test_learned_prior_selects_pnp_and_beats_bicubic_and_irls(sim):
    hr, hist = _run(sim, prior="learned", return_history=True)
    # plug-and-play ran: its iterations, no objective (a denoiser has none)
    assert hist.iterations == PNP_ITERATIONS and np.all(np.isnan(hist.objective))
    explicit = _run(sim, method="pnp")
    np.testing.assert_array_equal(hr, explicit)
    assert hr.shape == sim.hr.shape and hr.dtype == np.float32
    bicubic = mfsr.upsample(sim.frames[2], 2, sim.phase)
    p_pnp = psnr(sim.hr, hr, crop=2)
    assert p_pnp > psnr(sim.hr, np.clip(bicubic, 0, 1), crop=2) + 2.0
    # it refines the default method's result ("irls"), and improves on it here
    assert p_pnp > psnr(sim.hr, _run(sim), crop=2) + 0.2


def test_user_callable_is_called_once_per_iteration(sim):
    calls = []

    def smooth(x, sigma):
        calls.append((x.shape, sigma))
        return ndimage.gaussian_filter(x, 0.7)

    hr = _run(sim, prior=smooth, iterations=3)
    assert len(calls) == 3 and all(shape == sim.hr.shape for shape, _ in calls)
    sigmas = [s for _, s in calls]
    assert sigmas[0] > sigmas[1] > sigmas[2] > 0
    bicubic = np.clip(mfsr.upsample(sim.frames[2], 2, sim.phase), 0, 1)
    assert psnr(sim.hr, hr, crop=2) > psnr(sim.hr, bicubic, crop=2)
    # a Denoiser object goes through the same door; colour="rgb" calls it per channel
    counted = []
    wrapped = Denoiser(lambda x, s: counted.append(s) or x, name="identity")
    rgb = np.repeat(sim.frames[..., None], 3, axis=-1)
    out = mfsr.reconstruct(rgb, 2, method="pnp", prior=wrapped, degradation="BD",
                           motion=sim.motion, reference=2, iterations=2, color="rgb")
    assert out.shape == sim.hr.shape + (3,) and len(counted) == 6


def test_zero_weight_is_the_data_fit_without_denoiser(sim):
    calls = []
    hr = _run(sim, prior=lambda x, s: calls.append(s) or x, weight=0.0)
    assert calls == []
    np.testing.assert_allclose(hr, _run(sim, method="irls", weight=0.0), atol=1e-6)


def test_weight_overrides_the_rule(sim):
    seen = []

    def identity(x, sigma):
        seen.append(sigma)
        return x

    a = _run(sim, prior=identity, iterations=2, weight=1e-6)
    b = _run(sim, prior=identity, iterations=2, weight=1e-1)
    # a heavy weight ties x to the (identity-)denoised start image: far from the weak one
    assert float(np.abs(a - b).mean()) > 1e-3


@pytest.mark.parametrize("kwargs,match", [
    ({"method": "irls", "prior": "learned"}, "is a denoiser: use method='pnp'"),
    ({"method": "map", "prior": lambda x, s: x}, "is a denoiser: use method='pnp'"),
    ({"method": "cg", "prior": "bm3d"}, "is a denoiser"),
    ({"method": "pnp", "prior": "huber"}, "needs a denoiser prior: one of .*'learned'"),
    ({"prior": "nlm"}, r"prior is used only by .*'huber'.*'pnp'"),
    ({"method": "ibp", "prior": "tv"}, "prior is used only by"),
    ({"method": "pnp", "data_term": "l2"}, "data_term is used only by method 'map'"),
    ({"method": "pnp", "weight": -1.0}, "weight must be >= 0"),
    ({"method": "pnp", "iterations": 0}, "iterations must be >= 1"),
    ({"method": "nlm"}, "unknown method 'nlm'; valid: .*'pnp'"),
])
def test_bad_combinations_raise(sim, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _run(sim, **kwargs)


def test_prior_object_is_rejected_by_pnp(sim):
    with pytest.raises(ValueError, match="needs a denoiser prior"):
        _run(sim, method="pnp", prior=mfsr.priors.HuberMRF())


def test_bm3d_missing_raises_import_error(sim):
    if bm3d_available():
        pytest.skip("the optional bm3d package is installed")
    with pytest.raises(ImportError, match="bm3d"):
        _run(sim, prior="bm3d")


@pytest.mark.skipif(not bm3d_available(),
                    reason='optional bm3d package not installed (pip install "mfsr[bm3d]")')
def test_bm3d_prior_through_reconstruct(sim):
    small = mfsr.simulate(data.camera()[128:256, 160:288], scale=2, n_frames=4,
                          degradation="BD", noise=0.02, seed=2)
    hr = mfsr.reconstruct(small.frames, 2, degradation="BD", motion=small.motion,
                          reference=2, prior="bm3d", iterations=3)
    bicubic = np.clip(mfsr.upsample(small.frames[2], 2, small.phase), 0, 1)
    assert psnr(small.hr, hr, crop=2) > psnr(small.hr, bicubic, crop=2) + 1.0


def test_self_ensemble_undoes_each_transform():
    x = np.random.default_rng(0).random((6, 8)).astype(np.float32)
    shapes = []
    identity = Denoiser(lambda z, s: shapes.append(z.shape) or z, ensemble=4)
    np.testing.assert_allclose(identity(x, 0.1), x, atol=1e-6)
    assert shapes == [(6, 8), (8, 6), (6, 8), (8, 6)]
    # a denoiser that is not transform-invariant: zeroes its input's first row
    first_row = Denoiser(lambda z, s: np.concatenate([np.zeros_like(z[:1]), z[1:]]),
                         ensemble=2)
    a, b = x.copy(), x.copy()
    a[0] = 0          # identity pass
    b[:, 0] = 0       # transposed pass: the first row of x.T is the first column of x
    np.testing.assert_allclose(first_row(x, 0.1), (a + b) / 2, atol=1e-6)
    with pytest.raises(ValueError, match="unknown ensemble 3"):
        Denoiser(lambda z, s: z, ensemble=3)


def test_learned_ensemble_denoises_better():
    clean = (data.camera()[160:288, 200:328] / 255.0).astype(np.float32)
    noisy = clean + 0.03 * np.random.default_rng(5).standard_normal(clean.shape).astype(
        np.float32)
    one, four = (psnr(clean, np.clip(mfsr.priors.make_denoiser("learned", n)(noisy, 0.03),
                                     0, 1)) for n in (1, 4))
    assert four > one + 0.2

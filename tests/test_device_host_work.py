"""Issue 13: the host work ``reconstruct`` did on device frames outside registration and
the solvers is gone. On stand-in device arrays (``tests/device_standin.py``, strict mode:
any host sync or cv2/scipy call raises) the noise estimate, the bicubic start, codec
detection and the colour conversions run as device array operations, give the NumPy
results, and upload their constant tables once.
"""
from __future__ import annotations

import numpy as np
import pytest

import mfsr
from device_standin import device_standin
from mfsr.core import device_cache
from mfsr.core.validation import check_array
from mfsr.core.color import rgb_to_ycbcr, ycbcr_to_rgb
from mfsr.degradation import SystemOperator, estimate_noise
from mfsr.degradation.codec import chroma_block_score, detect_codec
from mfsr.degradation.noise import _estimate_noise_xp
from mfsr.degradation.interpolate import _upsample_xp, upsample
from mfsr.core.motion import Motion
from mfsr.pipeline.api import codec_model


def _directions(report):
    out = {"h2d": 0, "d2h": 0}
    for (direction, _), n in report.transfers.items():
        out[direction] += n
    return out


def _no_host_work(report):
    assert report.n_host_syncs == 0, report.format()
    assert report.n_host_calls == 0, report.format()
    assert sum(report.implicit_h2d.values()) == 0, report.format()


@pytest.fixture
def noisy(camera):
    sim = mfsr.simulate(camera, scale=2, n_frames=3, noise=0.01, seed=0)
    return sim.frames


@pytest.fixture
def clipped(camera):
    image = camera / 255.0
    image[:, :170] = 1.2  # saturated: those blocks are ranked last
    return mfsr.simulate(image, scale=4, n_frames=3, noise=0.02, seed=0).frames


def _decoded_420(rng, k=3, h=32, w=48):
    """RGB uint8 frames whose chroma repeats over 2x2 blocks, as FFmpeg's 4:2:0 -> RGB."""
    y = rng.random((k, h, w))
    c = 0.2 * (rng.random((k, h // 2, w // 2, 2)) - 0.5)
    c = np.repeat(np.repeat(c, 2, axis=1), 2, axis=2)
    rgb = ycbcr_to_rgb(np.concatenate([y[..., None], c], axis=-1))
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


# ------------------------------------------------------------------- estimate_noise

@pytest.mark.parametrize("case", ["stack", "frame", "clipped", "block4"])
def test_estimate_noise_on_the_device_equals_numpy_without_host_work(noisy, clipped, case):
    image, kwargs = {"stack": (noisy, {}), "frame": (noisy[1], {}),
                     "clipped": (clipped, {}), "block4": (noisy, {"block": 4,
                                                                  "fraction": 0.4})}[case]
    expected = estimate_noise(image, **kwargs)
    with device_standin(mode="strict") as dev:
        d = dev.asarray(image)
        estimate_noise(d, **kwargs)  # builds and uploads the filter matrices
        dev.reset()
        got = estimate_noise(d, **kwargs)
    rep = dev.report
    _no_host_work_but_the_result(rep)
    assert got == pytest.approx(expected, rel=1e-6)
    assert rep.n_ops() < 30, rep.format()


def _no_host_work_but_the_result(rep):
    assert rep.n_host_syncs == 0 and rep.n_host_calls == 0, rep.format()
    assert _directions(rep) == {"h2d": 0, "d2h": 1}, rep.format()  # the one read-back


def test_estimate_noise_device_path_forced_on_numpy_matches(noisy, clipped, rng):
    for image in (noisy, noisy[0], clipped, clipped[:, 3:30, 5:31],
                  rng.random((2, 20, 36)).astype(np.float32)):
        for block, fraction in ((8, 0.15), (4, 0.5), (2, 1.0)):
            assert _estimate_noise_xp(image, block, fraction) == pytest.approx(
                estimate_noise(image, block, fraction), rel=1e-6)


def test_estimate_noise_checks_device_input_in_its_one_read_back(noisy):
    bad = noisy.copy()
    bad[1, 3, 4] = np.nan
    with device_standin(mode="strict") as dev:
        d = dev.asarray(bad)
        with pytest.raises(ValueError, match="image contains NaN or Inf"):
            estimate_noise(d)
        with pytest.raises(ValueError, match="block must be even"):
            estimate_noise(d, block=5)
    assert dev.report.n_host_syncs == 0


# ------------------------------------------------------------------------ upsample

@pytest.mark.parametrize("shape,scale,phase,method", [
    ((24, 40), 4, None, "bicubic"), ((24, 40), 4, 0.0, "bicubic"),
    ((17, 23, 3), 3, None, "bicubic"), ((9, 11, 1), 2, 0.7, "bicubic"),
    ((12, 20), 3, 1.0, "bilinear"), ((12, 20), 3, 0.4, "nearest"),
    ((12, 20, 3), 2, 0.5, "lanczos")])
def test_upsample_on_the_device_equals_cv2_without_host_work(rng, shape, scale, phase,
                                                              method):
    image = rng.random(shape).astype(np.float32)
    expected = upsample(image, scale, phase, method)
    with device_standin(mode="strict") as dev:
        d = dev.asarray(image)
        upsample(d, scale, phase, method)  # builds and uploads the interpolation matrices
        dev.reset()
        got = upsample(d, scale, phase, method)
        assert type(got).__module__ == "cupy" and got.dtype == np.float32
        host = got.get()
    rep = dev.report
    _no_host_work(rep)
    assert _directions(rep) == {"h2d": 0, "d2h": 1}  # the test's own .get()
    assert rep.n_ops() <= 8, rep.format()
    assert host.shape == expected.shape
    np.testing.assert_allclose(host, expected, rtol=0, atol=1e-5)


def test_upsample_device_path_forced_on_numpy_matches_cv2(rng):
    for shape in ((1, 5), (2, 2), (7, 9), (13, 6, 3)):
        for scale in (1, 2, 3, 4, 5):
            for phase in (None, 0.0, 0.3, 1.0):
                image = rng.random(shape).astype(np.float32)
                p = (scale - 1) / 2 if phase is None else phase
                for method in ("bicubic", "bilinear", "nearest", "lanczos"):
                    np.testing.assert_allclose(_upsample_xp(image, scale, p, method),
                                               upsample(image, scale, phase, method),
                                               rtol=0, atol=1e-5)


def test_upsample_keeps_dtype_on_the_device(rng):
    image = rng.random((6, 8))
    with device_standin(mode="strict") as dev:
        got = upsample(dev.asarray(image), 2)
        assert got.dtype == np.float64
        got = upsample(dev.asarray((image * 255).astype(np.uint8)), 2)
        assert got.dtype == np.float32


# ------------------------------------------------------------------ codec detection

def test_codec_auto_on_device_frames_is_chroma_only_and_on_the_device(rng):
    decoded = _decoded_420(rng)
    clean = rng.integers(0, 256, decoded.shape, dtype=np.uint8)
    host_video, host_clean = detect_codec(decoded), detect_codec(clean)
    assert host_video.kind == "video" and host_clean.kind == "none"
    assert "jpeg_ghost" in host_clean.evidence  # NumPy frames: the JPEG test still runs
    for frames, host in ((decoded, host_video), (clean, host_clean),
                         (decoded / np.float32(255), detect_codec(decoded / np.float32(255)))):
        with device_standin(mode="strict") as dev:
            d = dev.asarray(frames)
            detect_codec(d)  # uploads the colour matrix
            dev.reset()
            model = detect_codec(d)
            via_pipeline = codec_model(d, "auto")
        rep = dev.report
        _no_host_work(rep)
        assert _directions(rep) == {"h2d": 0, "d2h": 2}  # one read-back per detection
        assert model.kind == via_pipeline.kind == host.kind
        assert set(model.evidence) == {"chroma_block_score"}
        assert model.evidence["chroma_block_score"] == pytest.approx(
            host.evidence["chroma_block_score"], rel=1e-6)
        assert rep.n_ops() < 40, rep.format()


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_chroma_block_score_on_device_checks_nan_in_its_read_back(rng):
    frames = rng.random((2, 8, 10, 3)).astype(np.float32)
    expected = chroma_block_score(frames)
    frames[1, 7, 9, 0] = np.inf  # outside the even crop: only the check sees it
    with device_standin(mode="strict") as dev:
        ok = chroma_block_score(dev.asarray(frames[:1]))
        with pytest.raises(ValueError, match="frames contains NaN or Inf"):
            chroma_block_score(dev.asarray(frames))
    assert ok == pytest.approx(chroma_block_score(frames[:1]), rel=1e-6)
    assert np.isfinite(expected)


def test_jpeg_on_device_frames_when_said(rng):
    frames = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    host = detect_codec(frames, "jpeg")
    with device_standin(mode="report") as dev:
        model = detect_codec(dev.asarray(frames), "jpeg")
    assert model.kind == "jpeg" and model.evidence == host.evidence
    assert model.sigma == host.sigma


# --------------------------------------------------------------------------- colour

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_colour_conversions_upload_their_matrix_once(rng, dtype):
    rgb = rng.random((4, 5, 3)).astype(dtype)
    with device_standin(mode="strict") as dev:
        d = dev.asarray(rgb)
        ycbcr_to_rgb(rgb_to_ycbcr(d))  # uploads the two matrices (per dtype)
        dev.reset()
        ycc = rgb_to_ycbcr(d)
        back = ycbcr_to_rgb(ycc)
        ycc_h, back_h = ycc.get(), back.get()
    rep = dev.report
    _no_host_work(rep)
    assert _directions(rep) == {"h2d": 0, "d2h": 2}
    assert rep.n_ops() == 2
    np.testing.assert_allclose(ycc_h, rgb_to_ycbcr(rgb), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(back_h, rgb, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------- operator, validation

def test_system_operators_share_their_device_gather_tables(rng):
    flows = (0.5 * rng.standard_normal((3, 8, 10, 2))).astype(np.float32)
    conf = np.ones((3, 8, 10), np.float32)

    def uploads(rep):
        return _directions(rep)["h2d"]
    with device_standin(mode="report") as dev:
        motion = Motion(dev.asarray(flows), dev.asarray(conf), 1)
        first = SystemOperator(motion, 2, 1.2, 0.0)
        dev.reset()
        second = SystemOperator(motion, 2, 1.2, 0.0)  # the video job's next frame
        assert uploads(dev.report) == 0
        dev.reset()
        other = SystemOperator(motion, 2, 0.8, 0.0)
        assert uploads(dev.report) > 0
    assert all(a is b for a, b in zip(first._sampling, second._sampling))
    assert all(a is b for a, b in zip(first._sampling_t, second._sampling_t))
    assert any(a is not b for a, b in zip(first._sampling, other._sampling))


def test_check_array_host_only_finite_test_skips_device_arrays():
    bad = np.array([[0.0, np.nan]])
    with pytest.raises(ValueError, match="x contains NaN"):
        check_array(bad, "x", finite="host")
    with device_standin(mode="strict") as dev:
        d = dev.asarray(bad)
        assert check_array(d, "x", finite="host") is d  # no sync, no check
        with pytest.raises(Exception, match="bool"):
            check_array(d, "x")  # the full check reads back: a sync


def test_device_cache_is_per_module_and_bounded():
    device_cache.clear()
    with device_standin() as dev:
        a = device_cache.device_constant("k", lambda: np.arange(3.0), dev.cupy)
        assert device_cache.device_constant("k", lambda: 1 / 0, dev.cupy) is a
        for i in range(device_cache.MAX_ENTRIES + 1):
            device_cache.device_constant(("fill", i), lambda: np.zeros(1), dev.cupy)
        b = device_cache.device_constant("k", lambda: np.arange(3.0), dev.cupy)
        assert b is not a  # dropped (least recently used) and uploaded again
    with device_standin() as dev:  # a new module: its own entries
        c = device_cache.device_constant("k", lambda: np.arange(3.0), dev.cupy)
        assert c is not b
    assert isinstance(device_cache.device_constant("k", lambda: np.ones(2), np), np.ndarray)

"""The ``"gpu"`` flow (pyramidal Lucas-Kanade written against ``xp``) on the CPU: its
accuracy against the true motion and against OpenCV DIS on the same pairs, its sampler
against OpenCV's, and its input checks. The same code on CuPy is in tests/test_gpu.py."""
import numpy as np
import pytest
import scipy.ndimage as ndi
from skimage import color, data

from mfsr.registration import register
from mfsr.registration.confidence import sample
from mfsr.registration.dense import flow_dis
from mfsr.registration.gpu_flow import bilinear_sample, flow_lk


def _epe(a, b, m=12):
    d = (a - b)[m:-m, m:-m]
    return float(np.sqrt((d ** 2).sum(-1)).mean())


def _smooth_warp(image, amplitude, rng, smoothness=15.0, noise=0.01):
    """``frame(p) = image(p + field(p))`` for a smooth random field, plus noise."""
    h, w = image.shape
    field = np.stack([ndi.gaussian_filter(rng.standard_normal((h, w)), smoothness)
                      for _ in range(2)], axis=-1)
    field = (amplitude * field / np.abs(field).max()).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frame = ndi.map_coordinates(image, [yy + field[..., 1], xx + field[..., 0]], order=3,
                                mode="nearest")
    return (frame + noise * rng.standard_normal(frame.shape)).astype(np.float32), field


@pytest.mark.parametrize("name,amplitude", [("astronaut", 1.0), ("astronaut", 3.0),
                                            ("coffee", 2.0)])
def test_nonrigid_flow_is_close_to_the_truth_and_to_dis(name, amplitude):
    rng = np.random.default_rng(7)
    image = color.rgb2gray(getattr(data, name)())[::4, ::4].astype(np.float32)
    frame, truth = _smooth_warp(image, amplitude, rng)
    lk, dis = flow_lk(frame, image), flow_dis(frame, image)
    assert lk.shape == truth.shape and lk.dtype == np.float32
    err_lk, err_dis = _epe(lk, truth), _epe(dis, truth)
    assert _epe(np.zeros_like(truth), truth) > 3 * err_lk  # it really measured something
    assert err_lk < 0.3
    assert err_lk < 1.5 * err_dis + 0.05, (err_lk, err_dis)


def test_large_translation_needs_the_pyramid():
    image = color.rgb2gray(data.astronaut())[::2, ::2].astype(np.float32)
    frame = ndi.shift(image, (-4.0, 6.5), order=3, mode="nearest")  # frame(p) = image(p + t)
    truth = np.array([-6.5, 4.0], np.float32)
    m = 24
    est = np.median(flow_lk(frame, image)[m:-m, m:-m].reshape(-1, 2), axis=0)
    assert np.abs(est - truth).max() < 0.05
    single = np.median(flow_lk(frame, image, levels=1)[m:-m, m:-m].reshape(-1, 2), axis=0)
    assert np.abs(single - truth).max() > 1.0  # one level cannot reach 6.5 px


def test_register_gpu_gives_motion_with_consistent_confidence(camera):
    rng = np.random.default_rng(3)
    frame, _ = _smooth_warp(camera, 1.5, rng)
    stack = np.stack([frame, camera, rng.random(camera.shape).astype(np.float32)])
    motion = register(stack, reference=1, method="gpu")
    assert motion.flows.shape == (3, 128, 128, 2) and motion.reference == 1
    np.testing.assert_array_equal(motion.flows[1], 0)
    assert motion.confidence[0].mean() > 0.8   # same scene: forward and backward agree
    assert motion.confidence[2].mean() < 0.5   # noise: they do not


def test_bilinear_sample_matches_opencv_remap(rng):
    """The device path of the confidence check samples like cv2.remap (to its 1/32 px
    coordinate quantisation)."""
    field = ndi.gaussian_filter(rng.standard_normal((40, 50, 2)), (3, 3, 0)).astype(np.float32)
    flow = (4 * rng.standard_normal((40, 50, 2))).astype(np.float32)  # reaches the border
    yy, xx = np.mgrid[0:40, 0:50].astype(np.float32)
    ours = np.moveaxis(bilinear_sample(np.moveaxis(field, -1, 0), yy + flow[..., 1],
                                       xx + flow[..., 0]), 0, -1)
    np.testing.assert_allclose(ours, sample(field, flow), atol=0.02 * np.abs(field).max())


def test_flow_lk_validates_its_input(camera):
    with pytest.raises(ValueError, match="differ in shape"):
        flow_lk(camera, camera[:-1])
    with pytest.raises(ValueError, match="frame must have 2 dimensions"):
        flow_lk(camera[None], camera[None])
    with pytest.raises(ValueError, match="window must be > 0"):
        flow_lk(camera, camera, window=0)
    with pytest.raises(TypeError, match="iterations must be an integer"):
        flow_lk(camera, camera, iterations=2.5)
    with pytest.raises(ValueError, match="levels must be >= 1"):
        flow_lk(camera, camera, levels=0)
    np.testing.assert_allclose(flow_lk(camera, camera, iterations=2), 0, atol=1e-3)

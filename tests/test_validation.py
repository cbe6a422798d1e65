"""Bad input raises a clear ValueError / TypeError naming the argument."""
import numpy as np
import pytest

import mfsr
from mfsr.degradation import BlurDecimate, estimate_noise, make_psf


@pytest.fixture
def frames(rng):
    return rng.random((3, 12, 14)).astype(np.float32)


@pytest.mark.parametrize("kwargs,exc,match", [
    ({"scale": 0}, ValueError, "scale"),
    ({"scale": 2.5}, TypeError, "scale"),
    ({"method": "magic"}, ValueError, "method.*'map'"),
    ({"prior": "l0", "method": "map"}, ValueError, "prior.*'btv'"),
    ({"data_term": "l3", "method": "map"}, ValueError, "data_term.*'huber'"),
    ({"prior": "tv", "method": "ibp"}, ValueError, "prior is used only by"),
    ({"data_term": "l1"}, ValueError, "data_term is used only by"),
    ({"registration": "sift"}, ValueError, "registration.*'dis'"),
    ({"degradation": "XY"}, ValueError, "degradation.*'BD'"),
    ({"color": "hsv"}, ValueError, "color"),
    ({"reference": 3}, ValueError, "reference"),
    ({"iterations": -1}, ValueError, "iterations"),
    ({"noise": float("nan")}, ValueError, "noise"),
    ({"weight": -1.0}, ValueError, "weight"),
    ({"backend": "tpu"}, ValueError, "backend"),
    ({"phase": 4.0, "scale": 4}, ValueError, "phase"),
    ({"motion": "flow"}, TypeError, "motion"),
])
def test_reconstruct_rejects_bad_arguments(frames, kwargs, exc, match):
    kwargs = {"scale": 2, **kwargs}
    with pytest.raises(exc, match=match):
        mfsr.reconstruct(frames, **kwargs)


def test_reconstruct_rejects_bad_frames(frames):
    with pytest.raises(ValueError, match="frames must have 3 or 4 dimensions"):
        mfsr.reconstruct(frames[0], 2)
    bad = frames.copy()
    bad[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="frames contains NaN"):
        mfsr.reconstruct(bad, 2)
    with pytest.raises(TypeError, match="frames must be"):
        mfsr.reconstruct(frames.astype(np.complex64), 2)
    with pytest.raises(TypeError, match="frames must be an array"):
        mfsr.reconstruct("frames.png", 2)
    with pytest.raises(ValueError, match="channels"):
        mfsr.reconstruct(np.zeros((3, 8, 8, 5), np.float32), 2)


def test_reconstruct_rejects_mismatched_motion(frames):
    motion = mfsr.Motion.zeros(2, (12, 14))
    with pytest.raises(ValueError, match="motion is for 2 frames"):
        mfsr.reconstruct(frames, 2, motion=motion)


def test_register_needs_stack(frames):
    with pytest.raises(ValueError, match="frames must have 3 or 4 dimensions"):
        mfsr.register(frames[0])
    with pytest.raises(ValueError, match="3 \\(RGB\\) channels"):
        mfsr.register(np.zeros((2, 8, 8, 2)))
    with pytest.raises(ValueError, match="registration method.*'tvl1'"):
        mfsr.register(frames, method="lk")


def test_degradation_argument_errors():
    with pytest.raises(ValueError, match="multiple of scale"):
        BlurDecimate((10, 12), 4)
    with pytest.raises(ValueError, match="sigma"):
        make_psf(-1.0)
    with pytest.raises(ValueError, match="psf.*'area'"):
        make_psf("disk")
    with pytest.raises(ValueError, match="kernel"):
        make_psf(-np.ones((3, 3)))
    with pytest.raises(ValueError, match="image must have 2 or 3 dimensions"):
        estimate_noise(np.zeros(5))


def test_simulate_argument_errors(camera):
    with pytest.raises(ValueError, match="hr must have 2 dimensions"):
        mfsr.simulate(np.zeros((4, 8, 8, 3)))
    with pytest.raises(ValueError, match="n_frames"):
        mfsr.simulate(camera, n_frames=0)
    with pytest.raises(ValueError, match="shifts"):
        mfsr.simulate(camera, shifts=[1, 2, 3])
    with pytest.raises(ValueError, match="too small"):
        mfsr.simulate(camera[:6, :6], scale=4)


def test_motion_validation():
    with pytest.raises(ValueError, match="flows"):
        mfsr.Motion(np.zeros((2, 4, 4, 3)), np.ones((2, 4, 4)))
    with pytest.raises(ValueError, match="confidence shape"):
        mfsr.Motion(np.zeros((2, 4, 4, 2)), np.ones((2, 4, 5)))
    with pytest.raises(ValueError, match="reference"):
        mfsr.Motion(np.zeros((2, 4, 4, 2)), np.ones((2, 4, 4)), reference=2)

"""Registration recovers known sub-pixel global shifts; confidence flags a bad frame."""
import numpy as np
import pytest

import mfsr
from mfsr.registration import REGISTRATION_METHODS, register


@pytest.fixture(scope="module")
def shifted_stack():
    from skimage import data
    return mfsr.simulate(data.camera(), scale=4, n_frames=5, max_shift=2.0, seed=1,
                         degradation="BD")


@pytest.mark.parametrize("method", REGISTRATION_METHODS)
def test_recovers_global_subpixel_shifts(shifted_stack, method):
    motion = register(shifted_stack.frames, method=method)
    true = shifted_stack.motion.flows[:, 0, 0]
    assert np.abs(true).max() > 1.0  # the test data really moves
    m = 8  # ignore the border, where the flow is extrapolated
    estimated = np.median(motion.flows[:, m:-m, m:-m].reshape(5, -1, 2), axis=1)
    assert np.abs(estimated - true).max() <= 0.1
    assert motion.reference == 2
    np.testing.assert_array_equal(motion.flows[2], 0)


def test_confidence_is_low_for_an_unrelated_frame(shifted_stack, rng):
    frames = shifted_stack.frames.copy()
    frames[0] = rng.random(frames[0].shape)  # not the same scene
    motion = register(frames, method="dis")
    assert motion.confidence[0].mean() < 0.5
    assert motion.confidence[1].mean() > 0.8
    assert motion.confidence[2].min() == 1.0


def test_confidence_off_gives_ones(shifted_stack):
    motion = register(shifted_stack.frames[:2], method="farneback", confidence=False)
    assert motion.confidence.min() == 1.0


def test_dis_handles_frames_smaller_than_its_patches(camera):
    """OpenCV's DIS refuses images under 12 px; register pads them instead of failing."""
    from scipy.ndimage import shift
    small = camera[::8, ::8]
    stack = np.stack([small[3:13, 2:14], shift(small, (0, 0.5), order=3)[3:13, 2:14]])
    motion = register(stack, reference=0, method="dis")
    assert motion.flows.shape == (2, 10, 12, 2)
    assert np.isfinite(motion.flows).all()
    # frame 1 is the reference moved +0.5 px in x: frame(p) = reference(p - 0.5)
    assert abs(float(np.median(motion.flows[1, 2:-2, 2:-2, 0])) + 0.5) < 0.25

"""MATLAB-compatible bicubic imresize (the BI protocol)."""
import glob
import os

import cv2
import numpy as np
import pytest
from skimage import data

from mfsr.degradation import BicubicPSF, BlurDecimate
from mfsr.degradation.resize import imresize, imresize_weights


def test_downscale_equals_the_bicubic_blur_decimate_operator_inside():
    # two formulations: MATLAB's contributions table and the operator's PSF taps at
    # phase (s-1)/2; they agree wherever no tap leaves the image (on the border MATLAB
    # replicates the edge sample while the operator reflects symmetrically)
    x = data.camera()[:96, :120].astype(np.float64) / 255
    for s in (2, 3, 4):
        ref = BlurDecimate(x.shape, s, BicubicPSF(s)).forward(x)
        out = imresize(x, 1 / s)
        m = 2                                   # the kernel reaches 2*s HR px = 2 LR px
        np.testing.assert_allclose(out[m:-m, m:-m], ref[m:-m, m:-m], atol=1e-12)
        assert np.abs(out - ref).max() > 1e-6  # the border convention is not the same


def test_bicubic_psf_keeps_its_negative_lobes():
    w, _ = BicubicPSF(4).taps(0.5)
    assert len(w) == 16 and w.min() < -0.01
    assert w.sum() == pytest.approx(1.0)


def test_weights_sum_to_one_and_replicate_the_border():
    w, idx = imresize_weights(10, 3, 0.3)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert idx.min() >= 0 and idx.max() <= 9
    # MATLAB clamps out-of-range indices (replicates the edge sample): 0 0 | 0 1 ...
    _, idx = imresize_weights(4, 8, 2.0)
    np.testing.assert_array_equal(idx[0], [0, 0, 0, 1])
    np.testing.assert_array_equal(idx[-1], [2, 3, 3, 3])


# MATLAB-made LR images with their HR: the ``data`` folder of jbhuang0604/SelfExSR
# (Huang et al., CVPR 2015: ``image_SRF_<s>/img_NNN_SRF_<s>_{HR,LR}.png``, the LR made
# by MATLAB ``imresize(hr, 1/s, 'bicubic')`` on uint8). Not in the repo; point
# MFSR_MATLAB_REFERENCE at that folder to run this test.
MATLAB_REFERENCE = os.environ.get("MFSR_MATLAB_REFERENCE", "")


@pytest.mark.skipif(not os.path.isdir(MATLAB_REFERENCE),
                    reason="MFSR_MATLAB_REFERENCE (SelfExSR's data folder) not set")
@pytest.mark.parametrize("dataset", ["Set5", "Set14"])
def test_matches_matlab_imresize_outputs(dataset):
    pairs = sorted(glob.glob(os.path.join(MATLAB_REFERENCE, dataset, "image_SRF_*",
                                          "*_HR.png")))
    assert pairs, f"no HR images under {MATLAB_REFERENCE}/{dataset}"
    for hr_path in pairs:
        hr = cv2.imread(hr_path, cv2.IMREAD_UNCHANGED)
        lr = cv2.imread(hr_path.replace("_HR.png", "_LR.png"), cv2.IMREAD_UNCHANGED)
        out = imresize(hr, output_shape=lr.shape[:2])   # colour order does not matter
        assert out.dtype == np.uint8
        assert np.abs(out.astype(int) - lr).max() == 0, hr_path


def test_uint8_stays_uint8_rounded_each_pass():
    x = data.camera()[:64, :64]
    out = imresize(x, 0.25)
    assert out.dtype == np.uint8 and out.shape == (16, 16)
    # rows pass first, rounded to uint8, then columns (MATLAB's imresizemex)
    wr, ir = imresize_weights(64, 16, 0.25)
    rows = np.clip(np.floor(np.einsum("op,opw->ow", wr, x[ir].astype(float)) + 0.5), 0, 255)
    full = np.einsum("op,hop->ho", wr, rows[:, ir].astype(float))
    np.testing.assert_array_equal(out, np.clip(np.floor(full + 0.5), 0, 255))


def test_constant_image_and_shapes():
    c = np.full((10, 13, 3), 0.3)
    out = imresize(c, 0.25)
    assert out.shape == (3, 4, 3)
    np.testing.assert_allclose(out, 0.3)
    up = imresize(c, 4)
    assert up.shape == (40, 52, 3)
    np.testing.assert_allclose(up, 0.3)
    assert imresize(c, output_shape=(5, 7)).shape == (5, 7, 3)


def test_upscale_interpolates_the_samples():
    # bicubic interpolation at integer factor 1 is the identity
    x = np.random.default_rng(0).random((8, 9))
    np.testing.assert_allclose(imresize(x, 1), x, atol=1e-12)


@pytest.mark.parametrize("kwargs, error", [
    (dict(), ValueError), (dict(scale=0.5, output_shape=(2, 2)), ValueError),
    (dict(scale=0), ValueError), (dict(scale="half"), TypeError),
    (dict(output_shape=(0, 3)), ValueError)])
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        imresize(np.zeros((8, 8)), **kwargs)


def test_bad_image():
    with pytest.raises(ValueError, match="image"):
        imresize(np.zeros((2, 2, 2, 2)), 0.5)
    with pytest.raises(ValueError, match="image"):
        imresize(np.full((4, 4), np.nan), 0.5)

"""Raw Bayer bursts through `reconstruct(..., cfa=...)`: the CFA operator, joint
demosaicking + SR against demosaicking first, levels, robustness, errors."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

import mfsr
from mfsr.degradation import CFASystemOperator, SystemOperator, dot_test
from mfsr.degradation.cfa import cfa_masks, mosaic
from mfsr.degradation.burst import simulate_burst
from mfsr.degradation.interpolate import upsample
from mfsr.core.motion import Motion


def psnr(a, b, mask=None, crop=4):
    err = (np.clip(a, 0, 1) - b) ** 2
    err = err[mask] if mask is not None else err[crop:-crop, crop:-crop]
    return 10 * np.log10(1 / err.mean())


def ea_bicubic(burst, scale):
    """Reference frame: OpenCV edge-aware demosaic, bicubic on the model's grid."""
    codes = np.round(np.clip(burst.frames[0], 0, 1) * 65535).astype(np.uint16)
    rgb = cv2.cvtColor(codes, cv2.COLOR_BayerBG2RGB_EA).astype(np.float32) / 65535
    return np.clip(upsample(rgb, scale, burst.phase), 0, 1)


def true_motion(burst):
    k, h, w = burst.frames.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    flows = np.zeros((k, h, w, 2), np.float32)
    for i, m in enumerate(burst.motions):
        flows[i, ..., 0] = m[0, 0] * xx + m[0, 1] * yy + m[0, 2] - xx
        flows[i, ..., 1] = m[1, 0] * xx + m[1, 1] * yy + m[1, 2] - yy
    return Motion(flows, np.ones((k, h, w), np.float32), 0)


@pytest.fixture(scope="module")
def burst():
    return simulate_burst(data.astronaut()[100:228, 150:278], n_frames=6, scale=2, seed=3)


def test_cfa_operator_adjoint():
    rng = np.random.default_rng(0)
    k, h, w = 3, 12, 16
    flows = rng.uniform(-1.5, 1.5, (k, h, w, 2)).astype(np.float64)
    op = SystemOperator(Motion(flows, np.ones((k, h, w)), 0), 2, 0.8)
    masks = np.moveaxis(cfa_masks("GRBG", (h, w)), -1, 0)
    cfa = CFASystemOperator(op, masks)
    # as for SystemOperator (tests/test_operators.py): the Numba kernels' bilinear warp
    # weights are float32, so the pair is exact to ~1e-9, not to float64 rounding
    dot_test(cfa.forward, cfa.adjoint, (2 * h, 2 * w, 3), (k, h, w), rng=rng, rtol=1e-7,
             atol=1e-7)
    x = rng.standard_normal((2 * h, 2 * w, 3))
    # the forward model is the mosaic of the per-channel operator
    want = np.stack([mosaic(np.stack([op.forward(x[..., c])[j] for c in range(3)], -1),
                            "GRBG") for j in range(k)])
    np.testing.assert_allclose(cfa.forward(x), want, atol=1e-12)
    # channel c: the plain operator with its data weights masked
    np.testing.assert_array_equal(cfa.channel(2).confidence,
                                  np.broadcast_to(masks[2], (k, h, w)) * 1.0)


def test_cfa_operator_checks_masks():
    op = SystemOperator(Motion.zeros(2, (4, 4)), 2)
    with pytest.raises(ValueError, match="masks must have shape"):
        CFASystemOperator(op, np.ones((3, 4, 5), bool))
    with pytest.raises(ValueError, match="exactly one channel"):
        CFASystemOperator(op, np.ones((3, 4, 4), bool))


def test_joint_demosaic_sr_beats_demosaic_then_bicubic(burst):
    hr = mfsr.reconstruct(burst.frames, 2, cfa="RGGB", psf=burst.psf, phase=burst.phase,
                          reference=0)
    assert hr.shape == burst.truth.shape and hr.dtype == np.float32
    gain = psnr(hr, burst.truth) - psnr(ea_bicubic(burst, 2), burst.truth)
    assert gain > 3.0, gain


def test_scale_one_demosaicks_better_than_one_frame():
    b = simulate_burst(data.coffee()[100:196, 200:328], n_frames=6, scale=1, seed=1)
    hr = mfsr.reconstruct(b.frames, 1, cfa="RGGB", psf=b.psf, phase=b.phase, reference=0)
    assert hr.shape == b.truth.shape
    assert psnr(hr, b.truth) - psnr(ea_bicubic(b, 1), b.truth) > 1.5


def test_integer_mosaics_with_levels_match_float(burst):
    black, white = 512, 16383
    codes = np.round(burst.frames * (white - black) + black).astype(np.uint16)
    common = dict(cfa="RGGB", psf=burst.psf, phase=burst.phase, reference=0,
                  motion=true_motion(burst), noise=0.01)
    from_codes = mfsr.reconstruct(codes, 2, black_level=black, white_level=white, **common)
    scaled = ((codes.astype(np.float32) - black) / (white - black))
    from_float = mfsr.reconstruct(scaled, 2, **common)
    np.testing.assert_allclose(from_codes, from_float, atol=1e-4)


def test_pattern_is_honoured(burst):
    """The same scene mosaicked as BGGR and told so reconstructs as well."""
    common = dict(psf=burst.psf, phase=burst.phase, reference=0, motion=true_motion(burst))
    rgb = mfsr.reconstruct(burst.frames, 2, cfa="RGGB", **common)
    wrong = mfsr.reconstruct(burst.frames, 2, cfa="BGGR", **common)
    assert psnr(rgb, burst.truth) > psnr(wrong, burst.truth) + 3


def test_moving_object_does_not_ghost():
    b = simulate_burst(data.astronaut()[:192, :192], n_frames=6, scale=2, seed=0,
                       moving_object={"size": 16})
    region = np.repeat(np.repeat(b.object_masks[0], 2, 0), 2, 1)
    common = dict(cfa="RGGB", psf=b.psf, phase=b.phase, reference=0)
    single = psnr(ea_bicubic(b, 2), b.truth, region)
    for method in ("irls", "kernel"):  # measured 20.9 and 23.4 dB against 16.8
        hr = mfsr.reconstruct(b.frames, 2, method=method, **common)
        assert psnr(hr, b.truth, region) >= single + 2.0, method


def test_kernel_method_and_kernel_init(burst):
    common = dict(cfa="RGGB", psf=burst.psf, phase=burst.phase, reference=0,
                  motion=true_motion(burst))
    kernel = mfsr.reconstruct(burst.frames, 2, method="kernel", **common)
    default = mfsr.reconstruct(burst.frames, 2, **common)
    started = mfsr.reconstruct(burst.frames, 2, init="kernel", **common)
    bicubic = psnr(ea_bicubic(burst, 2), burst.truth)
    assert psnr(kernel, burst.truth) > bicubic + 1.5
    assert psnr(default, burst.truth) > psnr(kernel, burst.truth) - 1.0
    assert psnr(started, burst.truth) > psnr(default, burst.truth) - 0.3


def test_history_per_channel(burst):
    _, hist = mfsr.reconstruct(burst.frames, 2, cfa="RGGB", reference=0, iterations=2,
                               motion=true_motion(burst), return_history=True)
    assert len(hist) == 3 and hist[1].iterations == 2


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(cfa="RGBG"), ValueError, "pattern"),
    (dict(black_level=64), ValueError, "only to raw mosaics"),
    (dict(cfa="RGGB", psf="estimate"), ValueError, "estimate"),
    (dict(cfa="RGGB", init="bilinear"), ValueError, "init"),
])
def test_errors(burst, kwargs, error, match):
    with pytest.raises(error, match=match):
        mfsr.reconstruct(burst.frames, 2, **kwargs)


def test_odd_mosaic_and_colour_frames_are_rejected(burst):
    with pytest.raises(ValueError, match="even height and width"):
        mfsr.reconstruct(burst.frames[:, :63], 2, cfa="RGGB")
    with pytest.raises(ValueError, match="frames must have 3 dimensions"):
        mfsr.reconstruct(np.zeros((3, 8, 8, 3), np.float32), 2, cfa="RGGB")


@pytest.mark.gpu
@pytest.mark.parametrize("method", ["irls", "kernel"])
def test_raw_burst_on_the_device_equals_the_cpu(burst, method):
    import cupy as cp

    common = dict(cfa="RGGB", psf=burst.psf, phase=burst.phase, reference=0,
                  motion=true_motion(burst), noise=0.01, method=method)
    cpu = mfsr.reconstruct(burst.frames, 2, **common)
    gpu = mfsr.reconstruct(cp.asarray(burst.frames), 2, **common)
    assert isinstance(gpu, cp.ndarray)
    # the IRLS bound of tests/test_gpu.py (atomic reordering amplified by the re-weighting)
    assert float(np.abs(cp.asnumpy(gpu) - cpu).max()) < 3e-3

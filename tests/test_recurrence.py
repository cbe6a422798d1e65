"""The video job's default: the bidirectional recursion of :mod:`mfsr.video.recurrence` (segment
plans, independence of the job's range, resume, failures, the fall-back to windows).
Tiny data: tests/test_video.py's 8-frame pan, x2, NumPy backend, one IRLS re-weighting."""
import os

import cv2
import numpy as np
import pytest
from test_video import lr_dir, seq  # noqa: F401  (the 8-frame pan as fixtures)

import mfsr
from mfsr import io, video
from mfsr.video import job, recurrence
from mfsr.video.distributed import DEFAULT_CHUNK, chunk_ranges
from mfsr.kernels.geometry import upsample_flow

FAST = dict(method="irls", iterations=1, degradation="BD", backend="numpy")


def test_segments_cover_each_output_once_with_warmup():
    for start, stop, n in ((0, 100, 100), (30, 40, 100), (5, 6, 7), (64, 97, 97)):
        plans = recurrence.plan_segments(start, stop, n, 32, 8)
        outputs = [i for p in plans for i in p.outputs]
        assert outputs == list(range(start, stop))
        for p in plans:
            a = (p.outputs.start // 32) * 32           # segments sit on multiples of 32
            assert p.first == max(0, a - 8) and p.last == min(n, a + 32 + 8) - 1
    assert recurrence.plan_segments(3, 3, 10) == []
    whole = recurrence.plan_segments(2, 5, 10, None)
    assert len(whole) == 1 and (whole[0].first, whole[0].last) == (0, 9)


def test_reach_sets_segments():
    assert job.reach_segments(None) == (recurrence.SEGMENT, recurrence.WARMUP)
    assert job.reach_segments("clip") == (None, 0)
    assert job.reach_segments(7) == (1, 2)                 # 2 + 3 + 2 frames
    with pytest.raises(ValueError, match="reach"):
        job.reach_segments(2)


def test_chunks_meet_the_segments():
    assert DEFAULT_CHUNK == recurrence.SEGMENT
    assert chunk_ranges(40, 100, 32) == [(40, 64), (64, 96), (96, 100)]


def test_warp_estimate_is_opencvs_cubic_and_its_device_form_agrees():
    """The host path is OpenCV's bicubic remap of the HR estimate at u + F(u), F the flow
    on the HR grid; the device path (``_cubic_sample``, written against ``xp``) computes
    the same sampling."""
    rng = np.random.default_rng(1)
    image = cv2.GaussianBlur(rng.random((40, 48)).astype(np.float32), (0, 0), 2.0)
    flow = rng.uniform(-1.5, 1.5, (20, 24, 2)).astype(np.float32)
    host = recurrence.warp_estimate(image, flow, 2, 0.0)
    f = upsample_flow(flow, 2, 0.0)
    gy, gx = np.mgrid[0:40, 0:48].astype(np.float32)
    want = cv2.remap(image, gx + f[..., 0], gy + f[..., 1], cv2.INTER_CUBIC,
                     borderMode=cv2.BORDER_REPLICATE)
    np.testing.assert_array_equal(host, want)
    device_form = recurrence._cubic_sample(image, gy + f[..., 1], gx + f[..., 0], np)
    np.testing.assert_allclose(device_form, want, atol=1e-5)


def test_recursion_is_the_default_and_independent_of_the_range(lr_dir):
    full = list(mfsr.reconstruct_video(str(lr_dir), 2, **FAST))
    assert len(full) == 8
    assert all(hr.shape == (64, 80, 3) and np.isfinite(hr).all() for hr in full)
    part = list(mfsr.reconstruct_video(str(lr_dir), 2, start=2, end=5, **FAST))
    assert len(part) == 3
    for i, hr in enumerate(part, 2):                # the segment is fixed by the index
        np.testing.assert_array_equal(hr, full[i])
    windowed = list(mfsr.reconstruct_video(str(lr_dir), 2, window=3, **FAST))
    assert any(np.abs(w - r).max() > 1e-3 for w, r in zip(windowed, full))


def test_methods_without_an_anchor_fall_back_to_windows(lr_dir):
    opts = dict(FAST, method="map")
    default = list(mfsr.reconstruct_video(str(lr_dir), 2, end=3, **opts))
    five = list(mfsr.reconstruct_video(str(lr_dir), 2, window=video.DEFAULT_WINDOW, end=3,
                                       **opts))
    assert len(default) == len(five) == 3
    for a, b in zip(default, five):
        np.testing.assert_array_equal(a, b)


def test_upscale_default_resumes_to_the_same_frames(lr_dir, tmp_path):
    out = tmp_path / "hr"
    first = mfsr.upscale_video(str(lr_dir), str(out), 2, **FAST)
    assert first["written"] == list(range(8))
    blobs = {n: (out / n).read_bytes() for n in os.listdir(out)}
    for k in (1, 6):
        os.remove(out / f"{k}.png")
    again = mfsr.upscale_video(str(lr_dir), str(out), 2, **FAST)
    assert again["written"] == [1, 6] and again["skipped"] == [0, 2, 3, 4, 5, 7]
    assert {n: (out / n).read_bytes() for n in os.listdir(out)} == blobs


def test_an_unreadable_frame_fails_alone_and_the_chain_links_its_neighbours(lr_dir,
                                                                             tmp_path):
    ref = tmp_path / "ref"
    mfsr.upscale_video(str(lr_dir), str(ref), 2, **FAST)
    (lr_dir / "5.png").write_bytes(b"garbage")
    out = tmp_path / "hr"
    with pytest.raises(mfsr.video.FramesFailed, match=r"frame 5 \(5\.png\)"):
        mfsr.upscale_video(str(lr_dir), str(out), 2, **FAST)
    assert sorted(os.listdir(out)) == [f"{k}.png" for k in (0, 1, 2, 3, 4, 6, 7)]
    for k in (0, 1, 2, 3, 4, 6, 7):
        a = io.read_image(out / f"{k}.png").astype(float)
        b = io.read_image(ref / f"{k}.png").astype(float)
        assert np.abs(a - b).mean() < 2.0


def test_anchor_weight_grows_with_the_noise_above_the_floor():
    from mfsr.video.recurrence import (ANCHOR_NOISE_EXPONENT, ANCHOR_SIGMA_FLOOR, ANCHOR_WEIGHT,
                                       anchor_weight)
    clean = ANCHOR_WEIGHT * 3
    assert anchor_weight(0.0, 3) == anchor_weight(ANCHOR_SIGMA_FLOOR, 3) == clean
    noisy = anchor_weight(4 * ANCHOR_SIGMA_FLOOR, 3)
    assert noisy > clean
    np.testing.assert_allclose(noisy, clean * 4 ** ANCHOR_NOISE_EXPONENT)
    assert anchor_weight(0.02, 3) > anchor_weight(0.01, 3)

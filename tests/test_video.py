"""reconstruct_video / upscale_video: windows, composed motion, tiles, atomic resumable
writes, failures. Tiny data: 8 frames of 32x40 LR (x2), NumPy backend, few iterations."""
import os

import cv2
import numpy as np
import pytest
from skimage import data

import mfsr
from mfsr import io, video
from mfsr.registration.flows import PairMotion
from mfsr.video import job, tiles

FAST = dict(method="irls", iterations=1, degradation="BD", backend="numpy")


def make_sequence(n=8, size=(32, 40), scale=2, seed=0):
    """LR frames of a camera pan over scikit-image's astronaut, BD-degraded, 8-bit;
    returns the frames and the true per-frame offsets (dx, dy) in LR px."""
    rng = np.random.default_rng(seed)
    steps = rng.uniform(-0.8, 0.8, (n, 2))
    steps[0] = 0
    offsets = np.cumsum(steps, axis=0)
    h, w = size[0] * scale, size[1] * scale
    hr = data.astronaut()[150:150 + h + 40, 180:180 + w + 40]
    frames = []
    for dx, dy in offsets:
        m = np.float32([[1, 0, -dx * scale - 20], [0, 1, -dy * scale - 20]])
        view = cv2.warpAffine(hr, m, (w, h), flags=cv2.INTER_CUBIC)
        sim = mfsr.simulate_sequence(view[None], scale, channel_axis=-1, bits=8)
        frames.append((sim.frames[0] * 255).round().astype(np.uint8))
    return frames, offsets


@pytest.fixture(scope="module")
def seq():
    return make_sequence()


@pytest.fixture
def lr_dir(tmp_path, seq):
    folder = tmp_path / "lr"
    folder.mkdir()
    for k, f in enumerate(seq[0]):
        io.write_image(folder / f"{k}.png", f)
    return folder


def test_window_indices_are_cut_at_the_ends():
    assert video.window_indices(0, 8, 5) == ([0, 1, 2], 0)
    assert video.window_indices(1, 8, 5) == ([0, 1, 2, 3], 1)
    assert video.window_indices(4, 8, 5) == ([2, 3, 4, 5, 6], 2)
    assert video.window_indices(7, 8, 5) == ([5, 6, 7], 2)
    assert video.window_indices(3, 8, 4) == ([2, 3, 4, 5], 1)
    assert video.window_indices(0, 1, 5) == ([0], 0)
    with pytest.raises(ValueError, match="center 8 out of range"):
        video.window_indices(8, 8, 5)
    with pytest.raises(ValueError, match="window must be >= 1"):
        video.window_indices(0, 8, 0)


def test_windows_used_pairs_once_and_frames_held(lr_dir):
    stats = {}
    src = io.FrameSource(lr_dir)
    todo = (lambda i: i in (0, 7))             # reconstruct the two edge frames only
    out = list(job.iter_reconstruct(src, 2, 5, 0, None, todo, None, "translation",
                                       8, dict(FAST), stats))
    assert [i for i, _ in out] == list(range(8))
    assert [hr is not None for _, hr in out] == [i in (0, 7) for i in range(8)]
    assert stats["windows"] == {0: [0, 1, 2], 1: [0, 1, 2, 3], 2: [0, 1, 2, 3, 4],
                                3: [1, 2, 3, 4, 5], 4: [2, 3, 4, 5, 6],
                                5: [3, 4, 5, 6, 7], 6: [4, 5, 6, 7], 7: [5, 6, 7]}
    assert stats["max_held"] <= 5              # only the window's LR frames are kept
    assert stats["pairs"] == [0, 1, 5, 6]      # each pair estimated once, only if needed


def test_video_file_input_without_known_length(tmp_path, seq):
    path = tmp_path / "v.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (40, 32))
    for f in seq[0][:5]:
        w.write(np.ascontiguousarray(f[..., ::-1]))
    w.release()
    hrs = list(mfsr.reconstruct_video(str(path), scale=2, window=3, **FAST))
    assert len(hrs) == 5 and hrs[0].shape == (64, 80, 3) and hrs[0].dtype == np.float32


def test_composition_is_exact_for_linear_flows():
    h, w = 20, 30
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    f0 = np.stack([np.full_like(xx, 1.0), np.full_like(xx, -0.5)], -1)
    f1 = np.stack([0.05 * xx, 0.02 * yy], -1)
    flow, conf = video.compose_flows([f0, f1], [np.ones((h, w)), np.full((h, w), 0.5)])
    want = np.stack([1.0 + 0.05 * (xx + 1.0), -0.5 + 0.02 * (yy - 0.5)], -1)
    np.testing.assert_allclose(flow[2:-2, 2:-2], want[2:-2, 2:-2], atol=1e-4)
    np.testing.assert_allclose(conf[2:-2, 2:-2], 0.5)


def test_composed_motion_matches_direct_motion(seq):
    frames, offsets = seq
    luma = {k: video.luma_of(f) for k, f in enumerate(frames)}
    indices, ref = [1, 2, 3, 4, 5], 2
    composed = PairMotion("dis").motion(indices, ref, luma)
    direct = mfsr.register(np.stack([luma[k] for k in indices]), reference=ref, method="dis")
    inner = (slice(None), slice(6, -6), slice(6, -6))
    for pos, k in enumerate(indices):
        truth = offsets[k] - offsets[indices[ref]]      # frame k at p shows ref at p + truth
        c = np.median(composed.flows[inner][pos].reshape(-1, 2), axis=0)
        d = np.median(direct.flows[inner][pos].reshape(-1, 2), axis=0)
        np.testing.assert_allclose(c, truth, atol=0.15)
        np.testing.assert_allclose(c, d, atol=0.15)
    assert np.allclose(composed.flows[ref], 0) and composed.reference == ref
    assert composed.confidence[inner].mean() > 0.8


@pytest.fixture(scope="module")
def window_stack(seq):
    frames, _ = seq
    stack = np.stack(frames[1:6])
    luma = {k: video.luma_of(f) for k, f in enumerate(frames[1:6])}
    motion = PairMotion("dis").motion(list(range(5)), 2, luma)
    return stack, motion


def test_tiled_equals_untiled_without_seams(window_stack):
    stack, motion = window_stack
    opts = dict(FAST, iterations=2, noise=0.01)
    tiles = video.tile_grid((32, 40), 2, 5, max_memory=400_000, overlap=8)
    assert len(tiles) == 4                       # max_memory forces a 2 x 2 grid
    whole = video.reconstruct_tiled(stack, 2, motion, [(0, 32, 0, 40)], **opts)
    tiled = video.reconstruct_tiled(stack, 2, motion, tiles, overlap=8, **opts)
    hard = video.reconstruct_tiled(stack, 2, motion, tiles, overlap=0, **opts)
    assert tiled.shape == whole.shape == (64, 80, 3)
    diff = np.abs(tiled - whole).max(-1)
    assert diff.mean() < 0.003 and np.percentile(diff, 99) < 0.02
    # seam bands: rows 30..33 and columns 38..41 (HR) around the tile borders
    seam = np.zeros(diff.shape, bool)
    seam[30:34], seam[:, 38:42] = True, True
    assert diff[seam].max() < 0.02
    # the same tiles cut hard (no overlap, no ramps) do show the seams this test looks for
    assert np.abs(hard - whole).max(-1)[seam].max() > 2 * diff[seam].max()


def test_tile_grid_respects_budget():
    assert video.tile_grid((540, 960), 4, 5, None) == [(0, 540, 0, 960)]
    tiles = video.tile_grid((540, 960), 4, 5, 1 << 30)
    assert len(tiles) > 1
    covered = np.zeros((540, 960), int)
    for y0, y1, x0, x1 in tiles:
        covered[y0:y1, x0:x1] += 1
        hr_px = (y1 - y0 + 16) * (x1 - x0 + 16) * 16
        assert hr_px * 1.25 * (96 + 16 * 5) <= 1 << 30
    assert (covered == 1).all()                  # the cores partition the frame


def test_upscale_writes_atomically_and_resumes(lr_dir, tmp_path):
    out = tmp_path / "hr"
    first = mfsr.upscale_video(str(lr_dir), str(out), 2, 3, end=3, **FAST)
    assert first["written"] == [0, 1, 2]
    assert sorted(os.listdir(out)) == ["0.png", "1.png", "2.png"]     # no temporaries
    mtimes = {n: os.stat(out / n).st_mtime_ns for n in os.listdir(out)}
    (out / ".4.png.stale.tmp").write_bytes(b"left by a killed run")
    blobs = {n: (out / n).read_bytes() for n in mtimes}
    second = mfsr.upscale_video(str(lr_dir), str(out), 2, 3, **FAST)
    assert second["skipped"] == [0, 1, 2] and second["written"] == [3, 4, 5, 6, 7]
    for n, t in mtimes.items():
        assert os.stat(out / n).st_mtime_ns == t and (out / n).read_bytes() == blobs[n]
    assert sorted(os.listdir(out)) == [f"{k}.png" for k in range(8)]
    assert io.read_image(out / "7.png").shape == (64, 80, 3)
    third = mfsr.upscale_video(str(lr_dir), str(out), 2, 3, start=6, resume=False, **FAST)
    assert third["written"] == [6, 7] and os.stat(out / "0.png").st_mtime_ns == mtimes["0.png"]


def test_sixteen_bit_and_video_output(lr_dir, tmp_path):
    res = mfsr.upscale_video(str(lr_dir), str(tmp_path / "t"), 2, 3, end=1, bits=16,
                             fmt="tif", **FAST)
    assert res["written"] == [0] and io.read_image(tmp_path / "t" / "0.tif").dtype == np.uint16
    res = mfsr.upscale_video(str(lr_dir), str(tmp_path / "o.mp4"), 2, 3, end=3, **FAST)
    assert res["encoded"] == 3 and os.listdir(tmp_path / "t") == ["0.tif"]
    with io.FrameSource(tmp_path / "o.mp4") as src:
        assert src.shape == (64, 80, 3) and src.read(2) is not None and src.read(3) is None
    # the frame folder behind the file is gone, and no temporary file is left
    assert sorted(os.listdir(tmp_path)) == ["lr", "o.mp4", "t"]
    with pytest.raises(ValueError, match="bits is for frame folders"):
        mfsr.upscale_video(str(lr_dir), str(tmp_path / "o.mp4"), 2, bits=16)
    with pytest.raises(ValueError, match="video extension '.avi'"):
        mfsr.upscale_video(str(lr_dir), str(tmp_path / "o.avi"), 2)


def test_a_failing_frame_does_not_stop_the_others(lr_dir, tmp_path, monkeypatch):
    calls = []
    real = tiles.reconstruct

    def flaky(frames, *args, **kwargs):
        calls.append(1)
        if len(calls) == 4:                      # the 4th frame: index 3
            raise FloatingPointError("solver blew up")
        return real(frames, *args, **kwargs)

    monkeypatch.setattr(tiles, "reconstruct", flaky)
    out = tmp_path / "hr"
    with pytest.raises(mfsr.video.FramesFailed,
                       match=r"1 frame failed .*frame 3 \(3\.png\): FloatingPointError: "
                             r"solver blew up") as info:
        mfsr.upscale_video(str(lr_dir), str(out), 2, 3, **FAST)
    assert info.value.result["written"] == [0, 1, 2, 4, 5, 6, 7]
    assert sorted(os.listdir(out)) == [f"{k}.png" for k in (0, 1, 2, 4, 5, 6, 7)]
    monkeypatch.setattr(tiles, "reconstruct", real)
    again = mfsr.upscale_video(str(lr_dir), str(out), 2, 3, **FAST)   # resumes: only 3
    assert again["written"] == [3] and not again["failed"]


def test_a_corrupt_frame_is_left_out_of_its_neighbours_windows(lr_dir, tmp_path):
    ref = tmp_path / "ref"
    mfsr.upscale_video(str(lr_dir), str(ref), 2, 3, **FAST)
    (lr_dir / "5.png").write_bytes(b"garbage")
    out = tmp_path / "hr"
    with pytest.raises(mfsr.video.FramesFailed,
                       match=r"frame 5 \(5\.png\): ValueError: .*5\.png: cannot decode"):
        mfsr.upscale_video(str(lr_dir), str(out), 2, 3, **FAST)
    assert sorted(os.listdir(out)) == [f"{k}.png" for k in (0, 1, 2, 3, 4, 6, 7)]
    for k in (0, 1, 2, 3, 7):                  # windows without frame 5: as before
        assert (out / f"{k}.png").read_bytes() == (ref / f"{k}.png").read_bytes()
    for k in (4, 6):                           # windows 3..4 and 6..7: close to before
        a = io.read_image(out / f"{k}.png").astype(float)
        b = io.read_image(ref / f"{k}.png").astype(float)
        assert 0 < np.abs(a - b).mean() < 2.0


def test_argument_checks(lr_dir, tmp_path):
    with pytest.raises(ValueError, match="window must be >= 1"):
        mfsr.reconstruct_video(str(lr_dir), 2, window=0)
    with pytest.raises(ValueError, match="registration"):
        mfsr.reconstruct_video(str(lr_dir), 2, registration="magic")
    with pytest.raises(TypeError, match="reference is set per window"):
        mfsr.reconstruct_video(str(lr_dir), 2, reference=1)
    with pytest.raises(ValueError, match="end must be >= 4"):
        mfsr.upscale_video(str(lr_dir), str(tmp_path / "o"), 2, start=3, end=2)
    with pytest.raises(ValueError, match="start 9 is past the end"):
        mfsr.upscale_video(str(lr_dir), str(tmp_path / "o"), 2, start=9)
    with pytest.raises(ValueError, match="no such file"):
        mfsr.reconstruct_video(str(tmp_path / "missing"), 2)

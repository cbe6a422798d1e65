"""Bitstream side information (issue 25): picture types and H.264 QP maps read by the
video reader as it decodes, and the picture types passed to the video jobs' codec model."""
import av
import numpy as np
import pytest
from av.video.frame import PictureType
from skimage import data

import mfsr
from mfsr import io
from mfsr.io import side_info, video_file
from mfsr.video import windows
from mfsr.video.job import iter_reconstruct

SIZE = (40, 56)          # not a multiple of 16: the QP map is (3, 4)
N = 10
# a short closed GOP with B frames: I at 0 and 5, P and B between
X264 = {"crf": "26", "g": "5", "bf": "2", "preset": "medium"}
FAST = dict(method="irls", iterations=2, degradation="BD")


def _scene(n, size=SIZE):
    img = data.astronaut()[80:80 + size[0] + 2 * n, 120:120 + size[1] + 3 * n]
    return [np.ascontiguousarray(img[2 * k:2 * k + size[0], 3 * k:3 * k + size[1]])
            for k in range(n)]


def _encode(path, frames, codec="libx264", options=None):
    """A clip made with PyAV alone (independent of mfsr's writer)."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=25)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = dict(options or {})
        for k, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = k
            for p in vs.encode(vf):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    return path


def _pyav(path, export=True):
    """Per frame in display order: (picture type, QP map or None, Y plane) by PyAV."""
    out = []
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        if export:
            stream.codec_context.options = {"export_side_data": "venc_params"}
        for frame in c.decode(stream):
            # PyAV 18.1.0 iterates over the side data, 18.1.1 over their types (a mapping)
            entries = [frame.side_data[k] if not hasattr(k, "type") else k
                       for k in frame.side_data]
            maps = [np.asarray(sd.qp_map()) for sd in entries if hasattr(sd, "qp_map")]
            plane = frame.planes[0]
            y = np.frombuffer(bytes(plane), np.uint8).reshape(-1, plane.line_size)
            out.append((frame.pts, PictureType(int(frame.pict_type)).name,
                        maps[0] if maps else None, y[:frame.height, :frame.width].copy()))
    out.sort(key=lambda item: item[0])
    return [item[1:] for item in out]


@pytest.fixture(scope="module")
def h264(tmp_path_factory):
    return _encode(tmp_path_factory.mktemp("h264") / "clip.mkv", _scene(N), options=X264)


@pytest.fixture(scope="module")
def h265(tmp_path_factory):
    return _encode(tmp_path_factory.mktemp("h265") / "clip.mp4", _scene(N, (64, 96)),
                   "libx265", {"crf": "26", "x265-params": "log-level=error:keyint=5:"
                                                          "min-keyint=5:bframes=2"})


def test_h264_picture_types_and_qp_maps_are_the_decoders(h264):
    expected = _pyav(h264)
    types = [t for t, _, _ in expected]
    assert {"I", "P"} <= set(types), types          # the clip exercises the types
    with io.VideoReader(h264) as reader:
        got = []
        for k in range(N):
            reader.read(k)
            got.append(reader.side_info(k))
    assert [g.picture_type for g in got] == types
    for g, (_, qp, _) in zip(got, expected):
        assert g.qp.shape == (-(-SIZE[0] // 16), -(-SIZE[1] // 16)) == (3, 4)
        assert g.qp.dtype == np.int16 and 0 <= g.qp.min() and g.qp.max() <= 51
        np.testing.assert_array_equal(g.qp, qp)      # the fast read agrees with PyAV's map
    # the I frames are coded finer than the rest in this clip (x264's ip/pb ratios)
    mean = {t: np.mean([g.qp.mean() for g in got if g.picture_type == t]) for t in set(types)}
    assert mean["I"] < mean["P"]


def test_the_option_does_not_change_the_pixels(h264, monkeypatch):
    with_qp = _pyav(h264, export=True)
    without = _pyav(h264, export=False)
    assert all(np.array_equal(a[2], b[2]) for a, b in zip(with_qp, without))
    assert all(b[1] is None for b in without)
    with io.VideoReader(h264) as reader:
        frames = [reader.read(k) for k in range(N)]
    monkeypatch.setattr(video_file, "decoder_options", lambda codec: {})
    with io.VideoReader(h264) as reader:
        plain = [reader.read(k) for k in range(N)]
        assert reader.side_info(3).qp is None and reader.side_info(3).picture_type
    assert all(np.array_equal(a, b) for a, b in zip(frames, plain))


def test_side_info_after_a_seek_is_the_same_as_in_order(h264):
    with io.VideoReader(h264) as reader:
        in_order = [(reader.read(k), reader.side_info(k))[1] for k in range(N)]
    with io.VideoReader(h264) as reader:
        reader.read(8)
        seeked = {5: (reader.read(5), reader.side_info(5))[1],
                  2: (reader.read(2), reader.side_info(2))[1]}
        assert seeked[5] == in_order[5] and seeked[2] == in_order[2]
        # asked without a read: decoded for it, the same again
        assert [reader.side_info(k) for k in (9, 0, 6)] == [in_order[k] for k in (9, 0, 6)]


def test_a_decoder_that_refuses_the_option_reads_without_qp(h264, monkeypatch):
    monkeypatch.setattr(video_file, "decoder_options",
                        lambda codec: {"export_side_data": "no_such_flag"})
    with io.VideoReader(h264) as reader:
        frame = reader.read(4)
        info = reader.side_info(4)
    with io.VideoReader(h264) as reader:
        assert np.array_equal(frame, reader.read(4))
    assert info.qp is None and info.picture_type == _pyav(h264)[4][0]


def test_hevc_has_picture_types_and_no_qp(h265):
    expected = [t for t, _, _ in _pyav(h265)]
    with io.FrameSource(h265) as src:
        got = [(src.read(k), src.side_info(k))[1] for k in range(N)]
        assert src.side_info(N) is None
    assert [g.picture_type for g in got] == expected and "I" in expected
    assert all(g.qp is None for g in got)


def test_folders_have_no_side_info(tmp_path):
    for k, f in enumerate(_scene(3)):
        io.write_image(tmp_path / f"{k}.png", f)
    with io.FrameSource(tmp_path) as src:
        assert src.side_info(0) is None and src.side_info(7) is None
        with pytest.raises(ValueError, match="index"):
            src.side_info(-1)


def test_frame_side_info_compares_by_value():
    a = side_info.FrameSideInfo("P", np.full((2, 3), 30, np.int16))
    assert a == side_info.FrameSideInfo("P", np.full((2, 3), 30, np.int16))
    assert a != side_info.FrameSideInfo("B", a.qp)
    assert a != side_info.FrameSideInfo("P", None)
    assert side_info.decoder_options("hevc") == {}


@pytest.fixture(scope="module")
def decoded_folder(h264, tmp_path_factory):
    """The clip's frames as the reader decodes them, as a folder (no side information)."""
    folder = tmp_path_factory.mktemp("decoded")
    with io.VideoReader(h264) as reader:
        for k in range(N):
            io.write_image(folder / f"{k:02d}.png", reader.read(k))
    return folder


@pytest.mark.parametrize("window", [3, None])
def test_video_jobs_hand_the_picture_types_to_the_codec_model(h264, decoded_folder, window,
                                                             monkeypatch):
    types = [t for t, _, _ in _pyav(h264)]
    seen = []
    model = windows.codec_model

    def spy(stack, codec="auto", picture_types=None):
        seen.append(picture_types)
        return model(stack, codec, picture_types)

    monkeypatch.setattr(windows, "codec_model", spy)
    stats = {}
    video = list(video_iter(h264, window, stats, codec="video"))
    assert all(t is not None for t in seen) and len(seen) == len(stats["windows"])
    assert sorted(map(tuple, seen)) == sorted(tuple(types[k] for k in idx)
                                              for idx in stats["windows"].values())
    seen.clear()
    folder = list(video_iter(decoded_folder, window, {}, codec="video"))
    assert seen and all(t is None for t in seen)
    # the I frames weigh more: windows holding I and P/B frames come out differently
    assert any(not np.array_equal(a, b) for a, b in zip(video, folder))
    # with the codec model off the weights are all 1: the same frames as the folder's
    plain = list(video_iter(h264, window, {}, codec="none"))
    again = list(video_iter(decoded_folder, window, {}, codec="none"))
    assert all(np.array_equal(a, b) for a, b in zip(plain, again))


def video_iter(source, window, stats, **kwargs):
    with io.FrameSource(source) as src:
        yield from (hr for _, hr in iter_reconstruct(
            src, 2, window, 0, 6, None, None, None, 4,
            dict(FAST, backend="numpy", **kwargs), stats))


def test_picture_types_cannot_be_given_to_the_video_job(h264, tmp_path):
    with pytest.raises(TypeError, match="picture_types"):
        mfsr.reconstruct_video(h264, 2, picture_types=["I"] * N)
    with pytest.raises(TypeError, match="picture_types"):
        mfsr.upscale_video(h264, tmp_path / "out", 2, picture_types=["I"] * N)
    assert not (tmp_path / "out").exists()

"""Video files on PyAV: Y'CbCr matrices, frame-accurate reading, timestamps, colour tags,
audio copied packet for packet, 8/10-bit H.264/H.265, and resumable video output."""
from fractions import Fraction

import av
import numpy as np
import pytest
from skimage import data

import mfsr
from mfsr import grading, io, video
from mfsr.video import tiles
from mfsr.cli import main
from mfsr.io import ycbcr

colour = pytest.importorskip("colour", reason="colour-science is needed for the reference")

FAST = dict(method="map", iterations=3, degradation="BD", codec="none")
KEYS = {"bt601": "ITU-R BT.601", "bt709": "ITU-R BT.709", "bt2020nc": "ITU-R BT.2020",
        "smpte240m": "SMPTE-240M"}


@pytest.mark.parametrize("matrix", sorted(KEYS))
@pytest.mark.parametrize("bits,color_range", [(8, "tv"), (10, "tv"), (10, "pc")])
def test_ycbcr_code_values_match_colour_science(matrix, bits, color_range):
    rng = np.random.default_rng(0)
    rgb = rng.random((8, 8, 3))
    y, cb, cr = ycbcr.rgb_to_ycbcr(rgb, matrix, bits, color_range, "444")
    ref = colour.RGB_to_YCbCr(rgb, K=colour.WEIGHTS_YCBCR[KEYS[matrix]], out_bits=bits,
                              out_legal=color_range == "tv", out_int=True)
    assert np.abs(np.stack([y, cb, cr], -1).astype(int) - ref).max() <= 1
    np.testing.assert_allclose(ycbcr.WEIGHTS[matrix], colour.WEIGHTS_YCBCR[KEYS[matrix]])
    back = ycbcr.ycbcr_to_rgb(y, cb, cr, matrix, bits, color_range)
    assert np.abs(back - rgb).max() < 2.5 / (2**bits - 1) * (1 if color_range == "pc" else 1.2)


def test_420_chroma_is_the_block_mean_and_comes_back_repeated():
    rgb = np.zeros((4, 4, 3))
    rgb[:, ::2] = (1, 0, 0)          # red and blue columns: chroma averages to purple
    rgb[:, 1::2] = (0, 0, 1)
    y, cb, cr = ycbcr.rgb_to_ycbcr(rgb, "bt709", 10, "tv", "420")
    assert cb.shape == (2, 2) and len(np.unique(cb)) == 1 and len(np.unique(cr)) == 1
    mean = ycbcr.rgb_to_ycbcr(np.full((2, 2, 3), (0.5, 0, 0.5)), "bt709", 10, "tv", "444")
    assert abs(int(cb[0, 0]) - int(mean[1][0, 0])) <= 1
    back = ycbcr.ycbcr_to_rgb(y, cb, cr, "bt709", 10, "tv")
    assert back.shape == (4, 4, 3)
    with pytest.raises(ValueError, match="cb plane"):
        ycbcr.ycbcr_to_rgb(y, cb[:1], cr, "bt709", 10, "tv")


def _scene(n, size=(64, 96)):
    img = data.astronaut()[80:80 + size[0] + 8 * n, 120:120 + size[1] + 8 * n]
    return [np.ascontiguousarray(img[2 * k:2 * k + size[0], 3 * k:3 * k + size[1]])
            for k in range(n)]


def _make_input(path, frames, *, codec="libx265", bits=10, rate=Fraction(25), pts=None,
                audio=True, tags=True, options=None):
    """A test input made with PyAV alone (independent of mfsr's writer)."""
    h, w = frames[0].shape[:2]
    out = av.open(str(path), "w")
    vs = out.add_stream(codec, rate=rate)
    vs.width, vs.height = w, h
    vs.pix_fmt = "yuv420p10le" if bits == 10 else "yuv420p"
    time_base = 1 / rate if pts is None else Fraction(1, 1000)
    vs.time_base = vs.codec_context.time_base = time_base
    opts = {"crf": "16"}
    if codec == "libx265":
        opts["x265-params"] = "log-level=error"
    vs.options = dict(opts, **(options or {}))
    if tags:
        vs.codec_context.colorspace, vs.codec_context.color_range = 1, 1
        vs.codec_context.color_primaries, vs.codec_context.color_trc = 1, 1
    if audio:
        aus = out.add_stream("aac", rate=48000)
        aus.layout = "mono"
        t = np.arange(48000 * len(frames) // int(rate)) / 48000
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for k, start in enumerate(range(0, tone.size, 1024)):
            chunk = tone[start:start + 1024][None]
            af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            af.sample_rate, af.pts = 48000, start
            for p in aus.encode(af):
                out.mux(p)
        for p in aus.encode():
            out.mux(p)
    for k, f in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(f, format="rgb24")
        vf.pts, vf.time_base = (k if pts is None else pts[k]), time_base
        for p in vs.encode(vf):
            out.mux(p)
    for p in vs.encode():
        out.mux(p)
    out.close()


def _audio_packets(path):
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return []
        s = c.streams.audio[0]
        return [(bytes(p), float(p.pts * p.time_base), float(p.duration * p.time_base))
                for p in c.demux(s) if p.size]


def _decoded(path):
    with io.VideoReader(path) as r:
        return [r.read(k) for k in range(len(r))], r.info


# short GOPs with B-frames, closed (x264) and open (x265: CRA pictures whose leading
# pictures are shown before them): seeks must land on the key frame before the target
GOPS = {"h264-closed.mkv": ("libx264", {"g": "6", "bf": "3"}),
        "h265-open.mp4": ("libx265", {"x265-params": "log-level=error:keyint=6:"
                                                     "min-keyint=6:open-gop=1:bframes=3"})}


@pytest.mark.parametrize("name", sorted(GOPS))
def test_reader_is_frame_accurate_in_any_order(tmp_path, name):
    frames = _scene(40)
    path = tmp_path / name
    codec, options = GOPS[name]
    _make_input(path, frames, codec=codec, bits=8, audio=False, options=options)
    with io.VideoReader(path) as r:
        assert len(r._keys) == 7                       # frames 0, 6, ..., 36
        info = r.info
        forward = [r.read(k) for k in range(len(r))]
        order = [int(k) for k in np.random.default_rng(1).permutation(40)] + [16, 16]
        shuffled = [r.read(k) for k in order]
        assert r.read(40) is None
    assert info.frames == 40 and info.fps == 25 and info.bits == 8
    assert info.matrix == "bt709" and info.matrix_tagged and not info.has_audio
    for k, f in zip(order, shuffled):
        np.testing.assert_array_equal(f, forward[k])
    for f, g in zip(frames, forward):            # CRF 16 H.264: close to the source
        assert np.abs(f.astype(float) - g).mean() < 4


def test_untagged_sd_video_is_read_as_bt601():
    rgb = np.full((64, 96, 3), (200, 60, 30), np.uint8)
    y, cb, cr = ycbcr.rgb_to_ycbcr(rgb / 255.0, "bt601", 8, "tv", "420")
    frame = av.VideoFrame.from_ndarray(np.concatenate([y.ravel(), cb.ravel(), cr.ravel()])
                                       .reshape(-1, 96), format="yuv420p")
    assert ycbcr.default_matrix(frame.height) == "bt601"
    # the 709 reading of the same codes is visibly different: the choice matters
    wrong = ycbcr.ycbcr_to_rgb(y, cb, cr, "bt709", 8, "tv")
    right = ycbcr.ycbcr_to_rgb(y, cb, cr, "bt601", 8, "tv")
    assert np.abs(right * 255 - rgb).max() < 1.5 and np.abs(wrong * 255 - rgb).max() > 10


def test_ten_bit_h265_with_audio_round_trip_through_mfsr_upscale(tmp_path):
    frames = _scene(8)
    src = tmp_path / "in.mp4"
    _make_input(src, frames, rate=Fraction(24000, 1001))
    out = tmp_path / "out.mp4"
    assert main(["upscale", str(src), str(out), "--scale", "2", "--window", "3",
                 "--method", "map", "--iterations", "3", "--degradation", "BD",
                 "--codec", "h265", "--bits", "10", "--quiet"]) == 0
    got, info = _decoded(out)
    _, src_info = _decoded(src)
    assert info.frames == src_info.frames == 8
    assert info.fps == src_info.fps == Fraction(24000, 1001)
    assert abs(info.duration - src_info.duration) <= 1 / src_info.fps
    assert info.pix_fmt == "yuv420p10le" and info.codec == "hevc" and info.bits == 10
    assert (info.width, info.height) == (192, 128) and got[0].dtype == np.uint16
    assert info.matrix == "bt601" and info.matrix_tagged   # 128 lines: SD matrix, tagged
    assert info.primaries == 1 and info.transfer == 1      # the input's BT.709 tags kept
    audio_in, audio_out = _audio_packets(src), _audio_packets(out)
    assert len(audio_in) > 5 and len(audio_out) == len(audio_in)
    assert [a[0] for a in audio_out] == [a[0] for a in audio_in]        # same bytes
    assert [a[1:] for a in audio_out] == [a[1:] for a in audio_in]      # same times
    assert not (tmp_path / "out.mp4.frames").exists()


def test_video_without_audio_and_variable_frame_rate(tmp_path):
    frames = _scene(6)
    pts = [0, 40, 80, 160, 200, 280]                       # ms: two frames missing
    src = tmp_path / "vfr.mkv"
    _make_input(src, frames, codec="libx264", bits=8, pts=pts, audio=False)
    _, src_info = _decoded(src)
    assert src_info.variable_frame_rate
    out = tmp_path / "vfr_x2.mkv"
    res = mfsr.upscale_video(str(src), str(out), 2, 3, **FAST)
    _, info = _decoded(out)
    assert res["encoded"] == 6 and not info.has_audio
    times = [float(p * info.time_base) for p in info.pts]
    np.testing.assert_allclose(times, np.array(pts) / 1000, atol=1e-3)


def test_killed_video_job_resumes_to_the_same_decoded_frames(tmp_path, monkeypatch):
    frames = _scene(7)
    src = tmp_path / "in.mp4"
    _make_input(src, frames)
    whole = tmp_path / "whole.mp4"
    mfsr.upscale_video(str(src), str(whole), 2, 3, **FAST)

    calls, real = [], tiles.reconstruct

    def killed(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt          # as a kill between frames 2 and 3
        return real(*args, **kwargs)

    out = tmp_path / "resumed.mp4"
    monkeypatch.setattr(tiles, "reconstruct", killed)
    with pytest.raises(KeyboardInterrupt):
        mfsr.upscale_video(str(src), str(out), 2, 3, **FAST)
    assert not out.exists() and len(list((tmp_path / "resumed.mp4.frames").iterdir())) == 3
    monkeypatch.setattr(tiles, "reconstruct", real)
    res = mfsr.upscale_video(str(src), str(out), 2, 3, **FAST)
    assert res["skipped"] == [0, 1, 2] and res["written"] == [3, 4, 5, 6]
    a, _ = _decoded(whole)
    b, _ = _decoded(out)
    assert len(a) == len(b) == 7
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_a_frame_range_keeps_its_stretch_of_audio(tmp_path):
    frames = _scene(8)
    src = tmp_path / "in.mp4"
    _make_input(src, frames, rate=Fraction(25))
    out = tmp_path / "part.mp4"
    res = mfsr.upscale_video(str(src), str(out), 2, 3, start=2, end=6, **FAST)
    _, info = _decoded(out)
    assert res["encoded"] == 4 and info.frames == 4 and float(info.pts[0] * info.time_base) == 0
    audio = _audio_packets(out)
    assert audio and audio[0][1] < 0.05 and audio[-1][1] < 4 / 25 + 0.05


def test_writer_rejects_bad_settings(tmp_path):
    with pytest.raises(ValueError, match="even width and height"):
        io.VideoWriter(tmp_path / "o.mp4", (65, 64))
    with pytest.raises(ValueError, match="codec"):
        io.VideoWriter(tmp_path / "o.mp4", (64, 64), codec="vp9")
    with pytest.raises(ValueError, match="crf"):
        io.VideoWriter(tmp_path / "o.mp4", (64, 64), crf=60)
    with pytest.raises(ValueError, match="bits"):
        io.VideoWriter(tmp_path / "o.mp4", (64, 64), bits=12)
    with pytest.raises(ValueError, match="at least 64"):
        io.VideoWriter(tmp_path / "o.mp4", (64, 32), codec="h265")
    with pytest.raises(ValueError, match="video extension '.avi'"):
        io.VideoWriter(tmp_path / "o.avi", (64, 64))
    assert list(tmp_path.iterdir()) == []


def test_y4m_input_is_read_at_random(tmp_path):
    path = tmp_path / "a.y4m"
    out = av.open(str(path), "w", format="yuv4mpegpipe")
    s = out.add_stream("wrapped_avframe", rate=25)
    s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
    for k in range(5):
        planes = np.full((72, 64), 128, np.uint8)
        planes[:48] = 30 + 40 * k                  # luma; chroma neutral
        f = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        f.pts = k
        for p in s.encode(f):
            out.mux(p)
    for p in s.encode():
        out.mux(p)
    out.close()
    with io.FrameSource(path) as src:
        assert len(src) == 5 and src.video.matrix == "bt601" and not src.video.matrix_tagged
        # luma code 30 + 40 k, neutral chroma: grey (code - 16) / 219
        for k in (4, 1, 3):
            expected = np.clip(np.rint((30 + 40 * k - 16) / 219 * 255), 0, 255)
            assert np.all(src.read(k) == expected)


# ---- HDR10 output --------------------------------------------------------------------

def _side_data(path):
    with av.open(str(path)) as c:
        frame = next(c.decode(c.streams.video[0]))
        # PyAV 18.1.0 iterates over the side data, 18.1.1 over their types (a mapping)
        entries = [frame.side_data[k] if not hasattr(k, "type") else k for k in frame.side_data]
        return {sd.type.name: bytes(sd) for sd in entries}


@pytest.mark.parametrize("transfer,trc", [("pq", 16), ("hlg", 18)])
def test_hdr10_output_is_tagged_and_its_light_levels_are_the_frames(tmp_path, transfer, trc):
    src = tmp_path / "in.mp4"
    _make_input(src, _scene(5), codec="libx264", bits=8, audio=False)
    out = tmp_path / "hdr.mp4"
    res = mfsr.upscale_video(str(src), str(out), 2, 3, hdr=transfer, keep_frames=True, **FAST)
    with av.open(str(out)) as c:
        cc = c.streams.video[0].codec_context
        assert (cc.name, cc.pix_fmt) == ("hevc", "yuv420p10le")
        assert (cc.colorspace, cc.color_primaries, cc.color_trc) == (9, 9, trc)  # bt2020nc
    side = _side_data(out)
    assert "MASTERING_DISPLAY_METADATA" in side
    max_cll, max_fall = np.frombuffer(side["CONTENT_LIGHT_LEVEL"], np.uint32)
    # CTA-861.3 on the frames before encoding (the 16-bit frames the file was made from)
    levels = grading.LightLevels()
    for path in sorted((tmp_path / "hdr.mp4.frames").iterdir()):
        levels.update(grading.decode(io.read_image(path) / 65535.0, transfer=transfer))
    assert levels.frames == 5
    assert abs(max_cll - levels.max_cll) <= 0.01 * levels.max_cll
    assert abs(max_fall - levels.max_fall) <= 0.01 * levels.max_fall
    np.testing.assert_allclose([res["max_cll"], res["max_fall"]], [levels.max_cll, levels.max_fall],
                               rtol=1e-6)
    # mastering display: BT.2020 green primary, D65 white, 1000 cd/m2 peak (AVRationals)
    mdm = np.frombuffer(side["MASTERING_DISPLAY_METADATA"][:80], np.int32).reshape(-1, 2)
    ratios = mdm[:, 0] / mdm[:, 1]
    np.testing.assert_allclose(ratios[[2, 3, 6, 7, 9]], [0.170, 0.797, 0.3127, 0.3290, 1000],
                               atol=1e-4)


def test_diffuse_white_lands_at_203_nits_in_the_file(tmp_path):
    lr = tmp_path / "flat"
    lr.mkdir()
    signal = grading.DIFFUSE_WHITE ** (1 / 2.4)           # BT.1886: the level of diffuse white
    for k in range(3):
        io.write_image(lr / f"{k}.png", np.full((32, 40, 3), signal), bits=16)
    out = tmp_path / "flat.mp4"
    mfsr.upscale_video(str(lr), str(out), 2, 3, hdr="pq", **FAST)
    frames, _ = _decoded(out)
    nits = grading.decode(frames[1][8:-8, 8:-8] / 65535.0, transfer="pq")
    luminance = nits @ np.array([0.2627, 0.6780, 0.0593])
    assert abs(np.median(luminance) - 203) <= 0.02 * 203


def test_display_rotation_is_applied(tmp_path):
    import struct
    img = np.zeros((32, 64, 3), np.uint8)
    img[:, :16] = 255                                   # a white band on the left
    path = tmp_path / "plain.mp4"
    _make_input(path, [img] * 2, codec="libx264", bits=8, audio=False)
    blob = bytearray(path.read_bytes())
    # the track header's matrix: identity -> 90 degrees clockwise (a phone held upright)
    identity = struct.pack(">9i", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    at = blob.index(identity, blob.index(b"tkhd"))
    blob[at:at + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    (tmp_path / "rotated.mp4").write_bytes(blob)
    with io.VideoReader(tmp_path / "rotated.mp4") as r:
        frame = r.read(0)
        assert (r.info.width, r.info.height, r.info.rotation) == (32, 64, 270)
    assert frame.shape == (64, 32, 3)
    assert frame[:12].min() > 200 and frame[20:].max() < 50   # the band is now on top


@pytest.mark.parametrize("codec,bits", [("h264", 8), ("h265", 10)])
def test_the_same_frames_always_encode_to_the_same_stream(tmp_path, codec, bits):
    # x264's AVX-512 code (PyAV's wheels) reads unwritten memory: without the writer's
    # asm= setting this content gave 3 different streams in 8 encodes on an AVX-512 CPU
    rng = np.random.default_rng(0)
    frames = [np.clip(rng.random((64, 96, 3)) * 0.2 + np.linspace(0, 1, 96)[None, :, None],
                      0, 1) for _ in range(8)]
    blobs = set()
    for _ in range(6):
        w = io.VideoWriter(tmp_path / "o.mp4", (96, 64), rate=25, codec=codec, bits=bits)
        for f in frames:
            w.write(f)
        w.close()
        blobs.add((tmp_path / "o.mp4").read_bytes())
    assert len(blobs) == 1


def test_a_packet_index_is_reused_and_a_stale_one_ignored(tmp_path):
    import os
    path = tmp_path / "in.mkv"
    _make_input(path, _scene(12), codec="libx264", bits=8, audio=False,
                options={"g": "4", "bf": "2"})
    with io.VideoReader(path) as r:
        index, frames = r.index, [r.read(k) for k in range(12)]
    assert len(index.pts) == 12 and len(index.keys) == 3
    with io.VideoReader(path, index=index) as r:
        assert r.index == index
        for k in (9, 2, 11):
            np.testing.assert_array_equal(r.read(k), frames[k])
    stale = index.__class__(index.pts[:5], index.keys, False, index.size, index.mtime_ns - 1)
    with io.VideoReader(path, index=stale) as r:            # the file "changed": re-indexed
        assert len(r) == 12
    with pytest.raises(TypeError, match="PacketIndex"):
        io.VideoReader(path, index=list(index.pts))
    assert os.path.exists(path)


def test_subtitles_are_copied_into_mkv_and_left_out_of_mp4(tmp_path):
    srt = tmp_path / "s.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:00,200\nHello\n\n"
                   "2\n00:00:00,200 --> 00:00:00,320\nWorld\n")
    src = tmp_path / "in.mkv"
    with av.open(str(srt)) as subs:
        text = subs.streams.subtitles[0]
        out = av.open(str(src), "w")
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 96, 64, "yuv420p"
        so = out.add_stream_from_template(text)
        for k, f in enumerate(_scene(8)):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = k
            for p in vs.encode(vf):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        for p in subs.demux(text):
            if p.size:
                p.stream = so
                out.mux(p)
        out.close()

    def subtitles(path):
        with av.open(str(path)) as c:
            if not c.streams.subtitles:
                return None
            return [(bytes(p), p.pts) for p in c.demux(c.streams.subtitles[0]) if p.size]

    mfsr.upscale_video(str(src), str(tmp_path / "out.mkv"), 2, 3, **FAST)
    assert subtitles(tmp_path / "out.mkv") == subtitles(src) == [(b"Hello", 0), (b"World", 200)]
    with pytest.warns(UserWarning, match="srt subtitles cannot go into .mp4"):
        mfsr.upscale_video(str(src), str(tmp_path / "out.mp4"), 2, 3, **FAST)
    assert subtitles(tmp_path / "out.mp4") is None


def test_integer_rgb_keeps_each_blocks_chroma_exact():
    rng = np.random.default_rng(3)
    y = rng.integers(60, 180, (32, 48))
    cb, cr = rng.integers(100, 156, (16, 24)), rng.integers(100, 156, (16, 24))
    exact = ycbcr.ycbcr_to_rgb(y, cb, cr, "bt601", 8, "tv") * 255
    codes = ycbcr.ycbcr_to_rgb(y, cb, cr, "bt601", 8, "tv", out_bits=8)
    assert codes.dtype == np.uint8 and np.abs(codes - exact).max() <= 1.0
    # RGB - its mean over the channels is the chroma part: the same at the 4 pixels of a
    # block wherever no channel clipped
    part = codes.astype(int) - codes.astype(int).mean(axis=2, keepdims=True)
    blocks = part.reshape(16, 2, 24, 2, 3)
    spread = blocks.max(axis=(1, 3)) - blocks.min(axis=(1, 3))
    clipped = ((codes == 0) | (codes == 255)).reshape(16, 2, 24, 2, 3).any(axis=(1, 3, 4))
    assert np.all(spread[~clipped] < 1e-9) and (~clipped).sum() > 100

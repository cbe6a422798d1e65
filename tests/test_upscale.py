"""The upscaling job's stages: enhancement after the reconstruction, its parameters a
function of the frame index alone, the CLI's stage and encoding flags."""
import numpy as np
import pytest
from skimage import data

import mfsr
from mfsr.grading import enhance
from mfsr import io
from mfsr.cli import main

FAST = dict(method="map", iterations=3, degradation="BD", codec="none")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """The same 9-frame clip, as shot and 1.5 EV under with a blue cast (linear light)."""
    root = tmp_path_factory.mktemp("clips")
    img = data.coffee()[100:228, 150:310] / 255.0
    lin = enhance.srgb_to_linear(img) * 2**-1.5 * np.array([0.9, 1, 1.15])
    dim = enhance.linear_to_srgb(np.clip(lin, 0, 1))
    for name, frame in (("good", img), ("dim", dim)):
        (root / name).mkdir()
        for k in range(9):
            io.write_image(root / name / f"{k}.png", np.roll(frame, 2 * k, axis=1))
    return root


def _frames(folder):
    return np.stack([io.read_image(p) / 255.0 for p in io.list_frames(folder)])


def test_enhance_auto_brings_the_dim_clip_back(clips, tmp_path):
    mfsr.upscale_video(str(clips / "good"), str(tmp_path / "ref"), 2, 3, **FAST)
    mfsr.upscale_video(str(clips / "dim"), str(tmp_path / "off"), 2, 3, **FAST)
    mfsr.upscale_video(str(clips / "dim"), str(tmp_path / "auto"), 2, 3, enhance="auto",
                       **FAST)
    ref, off, auto = (_frames(tmp_path / n) for n in ("ref", "off", "auto"))
    err_off = np.abs(off - ref).mean()
    err_auto = np.abs(auto - ref).mean()
    assert err_auto < 0.25 * err_off
    # the undistorted clip is left alone (the estimators' dead zone)
    mfsr.upscale_video(str(clips / "good"), str(tmp_path / "good_auto"), 2, 3,
                       enhance="auto", **FAST)
    assert np.abs(_frames(tmp_path / "good_auto") - ref).max() <= 1 / 255 + 1e-9


def test_enhancement_of_a_frame_depends_on_its_index_alone(clips, tmp_path):
    whole = mfsr.video.TemporalEnhancement(str(clips / "dim"), radius=2)
    expected = [whole.params(k) for k in range(9)]
    whole.close()
    again = mfsr.video.TemporalEnhancement(str(clips / "dim"), radius=2)
    for k in (6, 1, 8, 4):                     # any order, fresh or cached
        assert again.params(k) == expected[k]
    again.close()
    out = tmp_path / "part"
    mfsr.upscale_video(str(clips / "dim"), str(out), 2, 3, start=4, end=6, enhance="auto",
                       **FAST)
    mfsr.upscale_video(str(clips / "dim"), str(tmp_path / "all"), 2, 3, enhance="auto",
                       **FAST)
    for k in (4, 5):
        np.testing.assert_array_equal(io.read_image(out / f"{k}.png"),
                                      io.read_image(tmp_path / "all" / f"{k}.png"))


def test_stage_arguments_are_checked(clips, tmp_path):
    src = str(clips / "good")
    with pytest.raises(ValueError, match="enhance"):
        mfsr.upscale_video(src, str(tmp_path / "o"), 2, enhance="yes")
    with pytest.raises(ValueError, match="hdr"):
        mfsr.upscale_video(src, str(tmp_path / "o"), 2, hdr="hdr10")
    with pytest.raises(ValueError, match="peak"):
        mfsr.upscale_video(src, str(tmp_path / "o"), 2, hdr="pq", peak=100)
    with pytest.raises(ValueError, match="HDR10 output is H.265"):
        mfsr.upscale_video(src, str(tmp_path / "o.mp4"), 2, hdr="pq",
                           encoding=mfsr.VideoEncoding(codec="h264"))
    with pytest.raises(TypeError, match="encoding"):
        mfsr.upscale_video(src, str(tmp_path / "o.mp4"), 2, encoding={"codec": "h265"})
    grey = tmp_path / "grey"
    grey.mkdir()
    for k in range(3):
        io.write_image(grey / f"{k}.png", data.camera()[:32, :40])
    with pytest.raises(ValueError, match="colour"):
        mfsr.upscale_video(str(grey), str(tmp_path / "g"), 2, enhance="auto", **FAST)


def test_cli_encoding_flags(clips, tmp_path, capsys):
    base = ["upscale", str(clips / "good")]
    fast = ["--scale", "2", "--window", "3", "--method", "map", "--iterations", "3",
            "--degradation", "BD", "--quiet", "--end", "2"]
    assert main(base + [str(tmp_path / "o"), "--bits", "10"] + fast) == 1
    assert "--bits 10 is for video files" in capsys.readouterr().err
    assert main(base + [str(tmp_path / "o"), "--crf", "20"] + fast) == 1
    assert "--crf is for video output" in capsys.readouterr().err
    assert main(base + [str(tmp_path / "o.mp4"), "--bits", "16"] + fast) == 1
    assert "a video file is 8 or 10 bits" in capsys.readouterr().err
    assert main(base + [str(tmp_path / "o.mkv"), "--hdr", "hlg", "--peak", "600"] + fast) == 0
    with io.VideoReader(tmp_path / "o.mkv") as r:
        assert r.info.pix_fmt == "yuv420p10le" and r.info.transfer == 18
        assert r.info.frames == 2 and r.info.matrix == "bt2020nc"

"""Frame and video reading/writing: natural order, bit depths, atomic writes, bad input."""
import os

import cv2
import numpy as np
import pytest
from skimage import data

from mfsr import io


@pytest.fixture(scope="module")
def rgb():
    return data.astronaut()[100:132, 200:240]          # 32 x 40 RGB uint8


def _listing(folder):
    return sorted(os.listdir(folder))


def test_natural_order_and_hidden_files_ignored(tmp_path, rgb):
    for name in ("f10.png", "f2.png", "f1.png"):
        cv2.imwrite(str(tmp_path / name), rgb)
    (tmp_path / ".f3.png.abc.tmp").write_bytes(b"partial")
    names = [os.path.basename(p) for p in io.list_frames(tmp_path)]
    assert names == ["f1.png", "f2.png", "f10.png"]


@pytest.mark.parametrize("ext,bits", [(".png", 8), (".png", 16), (".tif", 16), (".tiff", 8)])
def test_write_read_round_trip(tmp_path, rgb, ext, bits):
    img = rgb.astype(np.float32) / 255
    path = tmp_path / f"a{ext}"
    io.write_image(path, img, bits=bits)
    back = io.read_image(path)
    assert back.dtype == (np.uint8 if bits == 8 else np.uint16)
    assert back.shape == rgb.shape
    # RGB order survives OpenCV's BGR files
    np.testing.assert_allclose(back / (2**bits - 1), img, atol=0.5 / 255 + 1e-6)
    assert _listing(tmp_path) == [f"a{ext}"]          # no temporary file left


def test_grey_images_stay_2d(tmp_path):
    io.write_image(tmp_path / "g.png", data.camera()[:20, :30])
    assert io.read_image(tmp_path / "g.png").shape == (20, 30)


def test_write_is_atomic_when_replace_fails(tmp_path, rgb, monkeypatch):
    path = tmp_path / "0000.png"
    io.write_image(path, rgb)
    before = path.read_bytes()

    def fail(src, dst):
        raise OSError("disk went away")

    monkeypatch.setattr(io.images.os, "replace", fail)
    with pytest.raises(OSError, match="disk went away"):
        io.write_image(path, rgb[::-1])
    assert path.read_bytes() == before                 # old frame intact
    assert _listing(tmp_path) == ["0000.png"]          # temporary removed


def test_sixteen_bit_jpeg_refused(tmp_path, rgb):
    with pytest.raises(ValueError, match="JPEG"):
        io.write_image(tmp_path / "a.jpg", rgb, bits=16)


def _video(path, frames, fourcc="MJPG"):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10,
                        (frames[0].shape[1], frames[0].shape[0]))
    for f in frames:
        w.write(f[..., ::-1].copy())
    w.release()


def test_video_source_reads_all_frames_forwards_and_back(tmp_path, rgb):
    frames = [np.roll(rgb, 3 * k, axis=1) for k in range(6)]
    _video(tmp_path / "v.avi", frames)
    with io.FrameSource(tmp_path / "v.avi") as src:
        assert src.is_video and src.fps == 10 and src.shape == rgb.shape
        got = [src.read(k) for k in range(6)]
        assert src.read(6) is None and src.length_known() and len(src) == 6
        again = src.read(2)                            # reopens and seeks
    np.testing.assert_array_equal(again, got[2])
    for f, g in zip(frames, got):                      # MJPEG is lossy: loose match
        assert np.abs(f.astype(float) - g).mean() < 8


def test_video_writer_is_atomic(tmp_path, rgb):
    w = io.VideoWriter(tmp_path / "o.mp4", (40, 32), rate=5)
    w.write(rgb)
    assert not (tmp_path / "o.mp4").exists()           # only the hidden partial file
    w.close()
    assert _listing(tmp_path) == ["o.mp4"]
    w = io.VideoWriter(tmp_path / "p.mp4", (40, 32), rate=5)
    w.write(rgb)
    w.abort()
    assert _listing(tmp_path) == ["o.mp4"]
    with io.FrameSource(tmp_path / "o.mp4") as src:
        assert src.read(0).shape == rgb.shape and src.read(1) is None


# ---- bad input: each error is a ValueError naming the file ----------------------------

def test_missing_path(tmp_path):
    with pytest.raises(ValueError, match="nowhere.*no such file"):
        io.FrameSource(tmp_path / "nowhere")


def test_empty_folder(tmp_path):
    with pytest.raises(ValueError, match=f"{tmp_path}.*no image frames"):
        io.FrameSource(tmp_path)


def test_non_image_file_in_folder(tmp_path, rgb):
    cv2.imwrite(str(tmp_path / "0000.png"), rgb)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.txt: not an image file"):
        io.FrameSource(tmp_path)


def test_corrupt_image_in_folder(tmp_path, rgb):
    cv2.imwrite(str(tmp_path / "0000.png"), rgb)
    (tmp_path / "0001.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    src = io.FrameSource(tmp_path)
    with pytest.raises(ValueError, match=r"0001\.png: cannot decode"):
        src.read(1)


def test_mixed_frame_sizes(tmp_path, rgb):
    cv2.imwrite(str(tmp_path / "0000.png"), rgb)
    cv2.imwrite(str(tmp_path / "0001.png"), rgb[:30])
    src = io.FrameSource(tmp_path)
    with pytest.raises(ValueError, match=r"0001\.png: frame of 40x30x3 uint8 differs from "
                                         r"the first frame's 40x32x3 uint8"):
        src.read(1)


def test_mixed_bit_depths(tmp_path, rgb):
    cv2.imwrite(str(tmp_path / "0000.png"), rgb)
    cv2.imwrite(str(tmp_path / "0001.png"), rgb.astype(np.uint16) * 257)
    with pytest.raises(ValueError, match=r"0001\.png.*uint16"):
        io.FrameSource(tmp_path).read(1)


@pytest.mark.parametrize("keep", [0.5, 0.05])
def test_truncated_video(tmp_path, rgb, keep):
    _video(tmp_path / "v.mp4", [rgb] * 8, "mp4v")
    blob = (tmp_path / "v.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(blob[: int(len(blob) * keep)])
    with pytest.raises(ValueError, match=r"cut\.mp4: cannot open the video"):
        io.FrameSource(tmp_path / "cut.mp4")


def test_not_a_video(tmp_path):
    (tmp_path / "fake.avi").write_text("not a video")
    with pytest.raises(ValueError, match=r"fake\.avi"):
        io.FrameSource(tmp_path / "fake.avi")

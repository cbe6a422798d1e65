"""The ``mfsr`` command: help, simulate -> upscale -> eval, kill-and-resume, bad input."""
import os
import re
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from skimage import data

from mfsr import io, metrics
from mfsr.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = ["--scale", "2", "--window", "3", "--iterations", "1", "--backend", "numpy",
        "--degradation", "BD"]


@pytest.fixture(scope="module")
def hr_dir(tmp_path_factory):
    """8 HR frames (64 x 80) of a diagonal pan over scikit-image's astronaut."""
    folder = tmp_path_factory.mktemp("gt")
    img = data.astronaut()
    for k in range(8):
        io.write_image(folder / f"{k:04d}.png", img[150 + k:214 + k, 180 + 2 * k:260 + 2 * k])
    return folder


@pytest.fixture(scope="module")
def lr_dir(hr_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("lr") / "lr"
    assert main(["simulate", str(hr_dir), str(folder), "--scale", "2", "--preset", "BD",
                 "--noise", "0.01", "--quiet"]) == 0
    return folder


@pytest.mark.parametrize("command", ["upscale", "simulate", "eval", "demo"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: mfsr {command}")
    if command != "demo":
        assert "example:" in out


def test_top_level_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("upscale", "simulate", "eval", "demo"):
        assert command in out


def test_simulate_makes_lr_frames(hr_dir, lr_dir):
    names = sorted(os.listdir(lr_dir))
    assert names == [f"{k:04d}.png" for k in range(8)]
    lr = io.read_image(lr_dir / "0003.png")
    assert lr.shape == (32, 40, 3) and lr.dtype == np.uint8
    # BD: blur then keep every 2nd pixel from 0; the noise makes it differ a little
    hr = io.read_image(hr_dir / "0003.png").astype(np.float32) / 255
    assert abs(float(lr.mean()) / 255 - float(hr[::2, ::2].mean())) < 0.01


def test_upscale_then_eval(lr_dir, hr_dir, tmp_path, capsys):
    out = tmp_path / "sr"
    assert main(["upscale", str(lr_dir), str(out), "--quiet"] + FAST) == 0
    assert capsys.readouterr().err == ""                      # --quiet: no bar, no summary
    assert sorted(os.listdir(out)) == sorted(os.listdir(lr_dir))
    assert main(["eval", str(hr_dir), str(out), "--crop", "2"]) == 0
    text = capsys.readouterr().out
    assert "Y of BT.601 (MATLAB rgb2ycbcr scaling" in text and "2-pixel border" in text
    rows = [line.split() for line in text.splitlines()[2:]]
    assert [r[0] for r in rows] == [f"{k:04d}" for k in range(8)] + ["mean"]
    gt, sr = io.read_image(hr_dir / "0005.png"), io.read_image(out / "0005.png")
    assert float(rows[5][1]) == pytest.approx(metrics.psnr(gt, sr, 2, luma=True), abs=0.005)
    assert float(rows[5][2]) == pytest.approx(metrics.ssim(gt, sr, 2, luma=True), abs=5e-5)
    assert float(rows[-1][1]) == pytest.approx(np.mean([float(r[1]) for r in rows[:-1]]),
                                               abs=0.01)
    assert main(["eval", str(hr_dir), str(out), "--rgb", "--every", "4"]) == 0
    text = capsys.readouterr().out
    assert "all channels" in text and len(text.splitlines()) == 2 + 2 + 1


def test_progress_bar_on_stderr(lr_dir, tmp_path, capsys):
    assert main(["upscale", str(lr_dir), str(tmp_path / "sr"), "--end", "2"] + FAST) == 0
    err = capsys.readouterr().err
    assert "2/2" in err and ("frame/s" in err or "s/frame" in err)   # rate
    assert "<00:00" in err                                            # ETA
    assert "wrote 2 frames" in err
    # a resumed run counts only the frames it computes
    assert main(["upscale", str(lr_dir), str(tmp_path / "sr"), "--end", "5"] + FAST) == 0
    err = capsys.readouterr().err
    assert "3/3" in err and "/5" not in err
    assert "wrote 3 frames" in err and "skipped 2 already there" in err


def _run(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "mfsr.cli", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def test_killed_job_resumes_to_the_same_frames(lr_dir, tmp_path):
    args = FAST + ["--iterations", "2", "--quiet"]
    out = tmp_path / "killed"
    proc = _run("upscale", str(lr_dir), str(out), *args)
    deadline = time.time() + 60
    done = []
    while time.time() < deadline and proc.poll() is None:
        done = [n for n in os.listdir(out) if not n.startswith(".")] if out.exists() else []
        if done:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the job ended before it could be killed: " + \
        proc.communicate()[1].decode()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = sorted(n for n in os.listdir(out) if not n.startswith("."))
    assert 1 <= len(partial) < 8
    mtimes = {n: os.stat(out / n).st_mtime_ns for n in partial}
    rerun = _run("upscale", str(lr_dir), str(out), *args)
    assert rerun.wait(120) == 0, rerun.communicate()[1].decode()
    assert sorted(os.listdir(out)) == [f"{k:04d}.png" for k in range(8)]   # no temporaries
    assert all(os.stat(out / n).st_mtime_ns == t for n, t in mtimes.items())   # resumed
    ref = tmp_path / "uninterrupted"
    assert main(["upscale", str(lr_dir), str(ref), *args]) == 0
    for k in range(8):
        a, b = io.read_image(out / f"{k:04d}.png"), io.read_image(ref / f"{k:04d}.png")
        assert a.dtype == np.uint8 and np.array_equal(a, b), k


# ---- bad input: one line naming the file, exit status 1, no traceback -----------------

def _fails(argv, capsys, pattern):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]                       # below the progress bar
    assert last.startswith(f"mfsr {argv[0]}: error: ")
    assert re.search(pattern, last), err


def test_missing_input(tmp_path, capsys):
    _fails(["upscale", str(tmp_path / "nope"), str(tmp_path / "o")] + FAST, capsys,
           r"nope: no such file or folder")


def test_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    _fails(["upscale", str(tmp_path / "empty"), str(tmp_path / "o")] + FAST, capsys,
           r"empty: no image frames")


def test_non_image_file(lr_dir, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for n in sorted(os.listdir(lr_dir))[:3]:
        (folder / n).write_bytes((lr_dir / n).read_bytes())
    (folder / "readme.md").write_text("# notes")
    _fails(["upscale", str(folder), str(tmp_path / "o")] + FAST, capsys,
           r"readme\.md: not an image file")


def test_corrupt_and_mixed_frames(lr_dir, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for n in sorted(os.listdir(lr_dir))[:4]:
        (folder / n).write_bytes((lr_dir / n).read_bytes())
    (folder / "0002.png").write_bytes(b"not a png")
    # the corrupt frame fails alone, after every other frame was written (its
    # neighbours' windows leave it out), and the command exits with status 1
    _fails(["upscale", str(folder), str(tmp_path / "o")] + FAST, capsys,
           r"1 frame failed \(the others were written\): frame 2 \(0002\.png\): "
           r"ValueError: .*0002\.png: cannot decode")
    assert sorted(os.listdir(tmp_path / "o")) == ["0000.png", "0001.png", "0003.png"]
    cv2.imwrite(str(folder / "0002.png"), np.zeros((10, 10, 3), np.uint8))
    _fails(["upscale", str(folder), str(tmp_path / "o2")] + FAST, capsys,
           r"0002\.png: frame of 10x10x3 uint8 differs")


def test_truncated_video(tmp_path, capsys):
    w = cv2.VideoWriter(str(tmp_path / "v.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (40, 32))
    for k in range(6):
        w.write(np.full((32, 40, 3), 30 * k, np.uint8))
    w.release()
    blob = (tmp_path / "v.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(blob[: len(blob) // 2])
    _fails(["upscale", str(tmp_path / "cut.mp4"), str(tmp_path / "o")] + FAST, capsys,
           r"cut\.mp4: cannot open the video")
    _fails(["simulate", str(tmp_path / "cut.mp4"), str(tmp_path / "o")], capsys,
           r"cut\.mp4: cannot open the video")


def test_eval_size_mismatch_and_grey(hr_dir, lr_dir, capsys):
    _fails(["eval", str(hr_dir), str(lr_dir)], capsys,
           r"frame 0000: ground truth is 80x64, result is 40x32")


def test_bad_arguments(lr_dir, tmp_path, capsys):
    _fails(["upscale", str(lr_dir), str(tmp_path / "o"), "--window", "0"], capsys,
           r"window must be >= 1")
    with pytest.raises(SystemExit):
        main(["upscale", str(lr_dir), str(tmp_path / "o"), "--max-memory", "lots"])
    assert "not a size" in capsys.readouterr().err

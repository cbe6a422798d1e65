"""`mfsr upscale` on a Dask cluster (loopback LocalCluster of worker processes): the same
frames as a single-process run, a worker killed mid-job, a corrupt input frame."""
import os
import signal
import threading
import time

import numpy as np
import pytest
from skimage import data

import mfsr
from mfsr import io
from mfsr.cli import main

distributed = pytest.importorskip("distributed", reason='needs Dask: pip install "mfsr[dask]"')

FAST = dict(method="map", iterations=3, degradation="BD", codec="none")


def _moving(folder, n, size, step=3):
    folder.mkdir()
    img = data.astronaut()
    h, w = size
    for k in range(n):
        frame = img[100 + k:100 + k + 2 * h:2, 120 + step * k:120 + step * k + 2 * w:2]
        io.write_image(folder / f"{k:02d}.png", frame)
    return folder


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def _same_files(a, b):
    names = sorted(os.listdir(a))
    assert names == sorted(os.listdir(b))
    for n in names:
        assert (a / n).read_bytes() == (b / n).read_bytes(), n


def test_cluster_writes_the_single_process_frames(client, tmp_path):
    lr = _moving(tmp_path / "lr", 10, (32, 40))
    mfsr.upscale_video(str(lr), str(tmp_path / "single"), 2, 5, **FAST)
    ticks = []
    res = mfsr.upscale_video(str(lr), str(tmp_path / "dask"), 2, 5, client=client, chunk=3,
                             progress=lambda i, w: ticks.append(i), **FAST)
    assert res["written"] == list(range(10)) and not res["failed"]
    assert ticks[0] is None and sorted(ticks[1:]) == list(range(10))   # every frame counted
    _same_files(tmp_path / "single", tmp_path / "dask")
    # another chunking gives the same frames too, and a rerun skips them all
    mfsr.upscale_video(str(lr), str(tmp_path / "dask4"), 2, 5, client=client, chunk=4,
                       **FAST)
    _same_files(tmp_path / "single", tmp_path / "dask4")
    again = mfsr.upscale_video(str(lr), str(tmp_path / "dask"), 2, 5, client=client, **FAST)
    assert again["skipped"] == list(range(10)) and again["written"] == []


def test_cluster_video_output_decodes_to_the_single_process_frames(client, tmp_path):
    lr = _moving(tmp_path / "lr", 8, (32, 48))
    src = tmp_path / "in.mp4"
    w = io.VideoWriter(src, (48, 32), rate=25, crf=0)
    for p in io.list_frames(lr):
        w.write(io.read_image(p))
    w.close()
    mfsr.upscale_video(str(src), str(tmp_path / "single.mp4"), 2, 3, keep_frames=True, **FAST)
    mfsr.upscale_video(str(src), str(tmp_path / "dask.mp4"), 2, 3, client=client, chunk=3,
                       keep_frames=True, **FAST)
    _same_files(tmp_path / "single.mp4.frames", tmp_path / "dask.mp4.frames")
    with io.VideoReader(tmp_path / "single.mp4") as a, io.VideoReader(tmp_path / "dask.mp4") as b:
        assert len(a) == len(b) == 8
        for k in range(8):
            np.testing.assert_array_equal(a.read(k), b.read(k))


def test_a_corrupt_frame_fails_alone_on_the_cluster(client, tmp_path, capsys):
    lr = _moving(tmp_path / "lr", 9, (32, 40))
    (lr / "04.png").write_bytes(b"not a png")
    with pytest.raises(mfsr.video.FramesFailed, match=r"frame 4 \(04\.png\).*cannot decode"):
        mfsr.upscale_video(str(lr), str(tmp_path / "o"), 2, 3, client=client, chunk=2,
                           **FAST)
    assert sorted(os.listdir(tmp_path / "o")) == [f"{k:02d}.png" for k in range(9) if k != 4]
    # the command: same, with exit status 1, on the running scheduler's address
    status = main(["upscale", str(lr), str(tmp_path / "o2"), "--scale", "2", "--window", "3",
                   "--method", "map", "--iterations", "3", "--degradation", "BD",
                   "--input-codec", "none", "--cluster", client.scheduler.address,
                   "--chunk", "2"])
    err = capsys.readouterr().err
    assert status == 1 and "frame 4 (04.png)" in err and "Dask dashboard" in err
    assert len(os.listdir(tmp_path / "o2")) == 8


def test_a_worker_killed_mid_job_loses_nothing(tmp_path):
    from distributed import Client, LocalCluster
    lr = _moving(tmp_path / "lr", 20, (96, 128), step=2)
    opts = dict(method="irls", degradation="BD", codec="none")
    mfsr.upscale_video(str(lr), str(tmp_path / "single"), 2, 5, **opts)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    client = Client(cluster)
    try:
        out = tmp_path / "dask"
        done = {}

        def job():
            done["result"] = mfsr.upscale_video(str(lr), str(out), 2, 5, client=client,
                                                chunk=6, **opts)

        thread = threading.Thread(target=job)
        thread.start()
        deadline = time.time() + 120
        while not (out.exists() and any(n.endswith(".png") for n in os.listdir(out))):
            assert time.time() < deadline, "no frame written"
            time.sleep(0.02)
        pids = client.run(os.getpid)
        busy = [a for a, tasks in client.processing().items() if tasks]
        victim = busy[0] if busy else next(iter(pids))
        at_kill = len([n for n in os.listdir(out) if n.endswith(".png")])
        os.kill(pids[victim], signal.SIGKILL)            # mid-task, no goodbye
        thread.join(timeout=300)
        assert at_kill < 20, f"the job was over ({at_kill} frames) before the kill"
        deadline = time.time() + 60
        while len(client.scheduler_info()["workers"]) < 2 and time.time() < deadline:
            time.sleep(0.1)                               # the nanny restarts the worker
        assert pids[victim] not in client.run(os.getpid).values()
        assert not thread.is_alive()
        res = done["result"]
        assert not res["failed"] and sorted(res["written"]) == list(range(20))
        _same_files(tmp_path / "single", out)
    finally:
        client.close()
        cluster.close()


def test_mfsr_does_not_need_dask():
    import subprocess
    import sys
    code = ("import sys, mfsr; mfsr.upscale_video; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"

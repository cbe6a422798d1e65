"""The video job on the CuPy path keeps its window on the device (issue 13).

On the device stand-in (``tests/device_standin.py``) in strict mode, where any host sync
(implicit device-to-host read) or cv2 / scipy / skimage call raises: each LR frame is
uploaded once when it is read, its luma, the pair flows (forward and backward, batched),
their composition, the noise estimate, the codec model and the tiles are computed on the
device, and each HR frame comes to the host once. The frames are decoded from PNG
before the block (decoding a file is host work by nature), so that the block sees the
job alone. Tiny data: 6 RGB frames of 34x60 (x2), few iterations.
"""
import collections

import cv2
import numpy as np
import pytest
from skimage import data

import mfsr
from device_standin import device_standin, ndarray
from mfsr import io, video
from mfsr.registration.flows import PairMotion

FAST = dict(method="irls", iterations=2, degradation="BD")
SHAPE = (34, 60)
SCALE = 2


def make_clip(n=6, size=SHAPE, scale=SCALE, seed=0):
    """RGB uint8 frames of a camera pan over scikit-image's astronaut, BD-degraded."""
    rng = np.random.default_rng(seed)
    offsets = np.cumsum(np.vstack([[0, 0], rng.uniform(-0.8, 0.8, (n - 1, 2))]), axis=0)
    h, w = size[0] * scale, size[1] * scale
    hr = data.astronaut()[150:150 + h + 40, 180:180 + w + 40]
    frames = []
    for dx, dy in offsets:
        m = np.float32([[1, 0, -dx * scale - 20], [0, 1, -dy * scale - 20]])
        view = cv2.warpAffine(hr, m, (w, h), flags=cv2.INTER_CUBIC)
        sim = mfsr.simulate_sequence(view[None], scale, channel_axis=-1, bits=8)
        frames.append((sim.frames[0] * 255).round().astype(np.uint8))
    return frames


class DecodedSource(io.FrameSource):
    """A folder of frames decoded when opened: ``read`` hands out the host arrays."""

    def __init__(self, path):
        self.decoded = None
        super().__init__(path)
        self.decoded = [super(DecodedSource, self).read(k) for k in range(len(self))]
        self.reads = collections.Counter()

    def read(self, index):
        if self.decoded is None:
            return super().read(index)
        if index >= len(self.decoded):
            return None
        self.reads[index] += 1
        return self.decoded[index]


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip")
    for k, f in enumerate(make_clip()):
        io.write_image(folder / f"{k}.png", f)
    return folder


def _host_job(folder, **kwargs):
    return list(mfsr.reconstruct_video(DecodedSource(folder), SCALE, 5, backend="numpy",
                                       **FAST, **kwargs))


def _d2h_sites(rep):
    out = collections.Counter()
    for (direction, site), n in rep.transfers.items():
        if direction == "d2h":
            out[site.split(" <- ")[-1].split(":")[0]] += n
    return out


@pytest.mark.parametrize("registration", ["gpu", None], ids=["lk", "default"])
def test_video_job_runs_on_the_device_without_host_work(clip_dir, registration):
    """Strict mode: no host sync, no host library call, no implicit upload; the frames
    go up once each and every output frame comes down once."""
    src = DecodedSource(clip_dir)
    opts = {} if registration is None else {"registration": registration}
    with device_standin(mode="strict") as dev:
        out = list(mfsr.reconstruct_video(src, SCALE, 5, backend="cupy", **FAST, **opts))
    rep = dev.report
    assert len(out) == 6
    assert all(type(hr) is np.ndarray and hr.shape == (68, 120, 3) and
               hr.dtype == np.float32 for hr in out)
    assert rep.n_host_syncs == 0 and rep.n_host_calls == 0
    assert sum(rep.implicit_h2d.values()) == 0
    assert all(n == 1 for n in src.reads.values()) and len(src.reads) == 6
    uploads = sum(n for (d, site), n in rep.transfers.items()
                  if d == "h2d" and site.startswith("mfsr/video/windows.py"))
    assert uploads == 6                      # each LR frame once, when read
    d2h = _d2h_sites(rep)
    # the HR frame once per output frame; besides it, only the two scalars the job
    # decides on, read back explicitly (the noise level, the codec's chroma score)
    assert d2h["mfsr/video/tiles.py"] == 6
    assert set(d2h) <= {"mfsr/video/tiles.py", "mfsr/degradation/noise.py",
                        "mfsr/degradation/codec.py", "mfsr/solvers/history.py",
                        "mfsr/kernels/cupy_kernels/operator.py"}, d2h
    # the pair flows were estimated on the device, batched ("gpu" is the default there)
    assert rep.kernel_calls["lk_level"] > 0 and rep.kernel_calls["lk_confidence"] > 0


def test_device_job_equals_the_numpy_job(clip_dir):
    host = _host_job(clip_dir, registration="gpu")
    src = DecodedSource(clip_dir)
    with device_standin(mode="strict"):
        dev = list(mfsr.reconstruct_video(src, SCALE, 5, backend="cupy", **FAST))
    assert len(dev) == len(host) == 6
    for a, b in zip(host, dev):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-4)


def test_host_estimator_on_the_device_job(clip_dir):
    """A host estimator ("dis") still works: the lumas go down for it, its flows up, and
    the result equals the NumPy job's."""
    host = _host_job(clip_dir, registration="dis", start=1, end=3)
    src = DecodedSource(clip_dir)
    with device_standin(mode="report") as dev:
        out = list(mfsr.reconstruct_video(src, SCALE, 5, backend="cupy",
                                          registration="dis", start=1, end=3, **FAST))
    rep = dev.report
    assert rep.n_host_syncs == 0 and sum(rep.implicit_h2d.values()) == 0
    assert {fn.split(".")[0] for fn, _, _ in rep.host_calls} == {"cv2"}
    assert not any(dev_args for _, _, dev_args in rep.host_calls)
    for a, b in zip(host, out):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-4)


def test_tiles_are_cut_and_blended_on_the_device(clip_dir):
    opts = dict(FAST, noise=0.01, max_memory=200_000, start=2, end=3)
    assert len(video.tile_grid(SHAPE, SCALE, 5, opts["max_memory"])) > 1
    host = list(mfsr.reconstruct_video(DecodedSource(clip_dir), SCALE, 5,
                                       registration="gpu", backend="numpy", **opts))
    src = DecodedSource(clip_dir)
    with device_standin(mode="strict") as dev:
        out = list(mfsr.reconstruct_video(src, SCALE, 5, backend="cupy", **opts))
    assert dev.report.n_host_syncs == 0 and dev.report.n_host_calls == 0
    assert _d2h_sites(dev.report)["mfsr/video/tiles.py"] == 1   # the blended frame, once
    np.testing.assert_allclose(out[0], host[0], rtol=0, atol=1e-4)


def test_output_frame_depends_on_its_index_alone(clip_dir):
    """Resume and distributed runs start anywhere: frame 3 alone equals frame 3 of the
    whole run, bit for bit (its pairs are estimated in other batches)."""
    src, again = DecodedSource(clip_dir), DecodedSource(clip_dir)
    with device_standin(mode="strict"):
        whole = list(mfsr.reconstruct_video(src, SCALE, 5, backend="cupy", **FAST))
        alone = list(mfsr.reconstruct_video(again, SCALE, 5, backend="cupy", start=3,
                                            end=4, **FAST))
    np.testing.assert_array_equal(alone[0], whole[3])


def test_compose_flows_on_device_matches_host():
    rng = np.random.default_rng(1)
    h, w = 20, 30
    flows = [(1.5 * rng.standard_normal((h, w, 2))).astype(np.float32) for _ in range(3)]
    confs = [rng.random((h, w)).astype(np.float32) for _ in range(3)]
    want_f, want_c = video.compose_flows(flows, confs)
    with device_standin(mode="strict") as dev:
        got_f, got_c = video.compose_flows([dev.asarray(f) for f in flows],
                                           [dev.asarray(c) for c in confs])
        got_one, ones = video.compose_flows([dev.asarray(f) for f in flows[:2]])
        assert isinstance(got_f, ndarray) and isinstance(got_c, ndarray)
        got_f, got_c, got_one, ones = (a.get() for a in (got_f, got_c, got_one, ones))
    np.testing.assert_allclose(got_f, want_f, atol=1e-4)
    np.testing.assert_allclose(got_c, want_c, atol=1e-5)
    np.testing.assert_allclose(got_one, video.compose_flows(flows[:2])[0], atol=1e-4)
    assert np.all(ones == 1.0)


def test_luma_on_device_is_the_hosts():
    frame = make_clip(n=1)[0]
    with device_standin(mode="strict") as dev:
        y = video.luma_of(dev.asarray(frame))
        assert isinstance(y, ndarray) and y.dtype == np.float32
        y = y.get()
    np.testing.assert_array_equal(y, video.luma_of(frame))


@pytest.mark.parametrize("registration", ["dis", "translation"])
def test_window_motion_on_device_matches_host(registration):
    """Chains of different lengths (window 0..5 on reference 1: one to four links)
    composed together on the device give the host's motion."""
    frames = make_clip()
    luma = {k: video.luma_of(f) for k, f in enumerate(frames)}
    indices, ref = list(range(6)), 1
    want = PairMotion(registration).motion(indices, ref, luma)
    with device_standin(mode="report") as dev:
        dl = {k: video.luma_of(dev.asarray(f)) for k, f in enumerate(frames)}
        got = PairMotion(registration, xp=dev.cupy).motion(indices, ref, dl)
        flows, conf = got.flows.get(), got.confidence.get()
    assert got.reference == ref and flows.shape == want.flows.shape
    np.testing.assert_allclose(flows, want.flows, atol=1e-4)
    np.testing.assert_allclose(conf, want.confidence, atol=1e-4)
    assert np.all(flows[ref] == 0) and np.all(conf[ref] == 1)

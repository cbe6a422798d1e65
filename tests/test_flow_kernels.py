"""The Lucas-Kanade kernels of ``registration="gpu"`` (``lk_pyramid_down``, ``lk_upsample``,
``lk_level``, ``lk_confidence``): every kernel set against the NumPy reference, the
batched flow against per-pair flows and against the former SciPy implementation, and
``register(..., method="gpu")`` on device frames of the CuPy stand-in: no host sync, no
cv2 / SciPy call, a handful of operations.
"""
from __future__ import annotations

import math

import cuda_host
import numpy as np
import pytest
import scipy.ndimage as ndi
from device_standin import device_standin
from skimage import color, data
from test_kernels import OnDevice

import mfsr
from mfsr.kernels import reference
from mfsr.registration import forward_backward_confidence, register
from mfsr.registration.gpu_flow import bilinear_sample, flow_lk, flow_lk_batch

KERNEL_SETS = ["numba", "cuda_host", pytest.param("cupy", marks=pytest.mark.gpu)]
TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-5}, np.float64: {"rtol": 1e-10, "atol": 1e-10}}
DTYPES = [np.float32, np.float64]


@pytest.fixture(scope="module", params=KERNEL_SETS)
def kernel_set(request, tmp_path_factory):
    if request.param == "numba":
        return pytest.importorskip("mfsr.kernels.numba_kernels", reason="numba not importable")
    if request.param == "cupy":
        cp = pytest.importorskip("cupy", reason="CuPy is not installed")
        from mfsr.kernels import kernels_for
        module = kernels_for(cp.zeros(1))
        assert module.NAME == "cupy", "cupy_kernels did not import; the registry fell back"
        return OnDevice(module, cp)
    if cuda_host.CXX is None:
        pytest.skip("no C++ compiler to build the CUDA kernels as host code")
    return cuda_host.load(tmp_path_factory.mktemp("host_flow_kernels"))


def _images(rng, shape, n=3, dtype=np.float32):
    """Smooth random images in [0, 1] (textured enough for a flow)."""
    return np.stack([ndi.gaussian_filter(rng.random(shape), 1.5) for _ in range(n)]
                    ).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(20, 27), (9, 8), (1, 6), (5, 1)])
def test_pyramid_down_matches_reference_and_scipy(kernel_set, dtype, shape, rng):
    images = _images(rng, shape, dtype=dtype)
    out = kernel_set.lk_pyramid_down(images)
    want = reference.lk_pyramid_down(images)
    assert out.shape == (3, (shape[0] + 1) // 2, (shape[1] + 1) // 2) and out.dtype == dtype
    np.testing.assert_allclose(out, want, **TOL[dtype])
    scipy_way = np.stack([ndi.gaussian_filter(a, reference.PYRAMID_SIGMA, mode="nearest")
                          [::2, ::2] for a in images])
    np.testing.assert_allclose(want, scipy_way, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("coarse,fine", [((10, 14), (20, 27)), ((5, 4), (9, 8)),
                                         ((1, 3), (1, 6))])
def test_upsample_matches_reference_and_bilinear_sample(kernel_set, dtype, coarse, fine, rng):
    flows = rng.standard_normal((2,) + coarse + (2,)).astype(dtype)
    out = kernel_set.lk_upsample(flows, fine)
    want = reference.lk_upsample(flows, fine)
    assert out.shape == (2,) + fine + (2,) and out.dtype == dtype
    np.testing.assert_allclose(out, want, **TOL[dtype])
    yy, xx = np.mgrid[0:fine[0], 0:fine[1]].astype(dtype) / dtype(2)
    former = 2 * bilinear_sample(np.moveaxis(flows[1], -1, 0), yy, xx)
    np.testing.assert_allclose(want[1], np.moveaxis(former, 0, -1), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("iterations,smooth,median", [(1, 4.0, 5), (3, 4.0, 5), (2, 0.0, 0),
                                                      (2, 1.5, 4), (2, 2.0, 9)])
def test_lk_level_matches_reference(kernel_set, dtype, iterations, smooth, median, rng):
    images = _images(rng, (19, 26), n=4, dtype=dtype)
    pairs = [(0, 1), (2, 1), (1, 3), (3, 3)]
    flows = (0.5 * rng.standard_normal((4, 19, 26, 2))).astype(dtype)
    before = flows.copy()
    out = kernel_set.lk_level(images, pairs, flows, iterations, 2.0, 3e-4, smooth, median)
    want = reference.lk_level(images, pairs, flows, iterations, 2.0, 3e-4, smooth, median)
    assert out.shape == flows.shape and out.dtype == dtype
    np.testing.assert_array_equal(flows, before)  # the input flows are not written
    np.testing.assert_allclose(out, want, **TOL[dtype])
    assert np.abs(want - flows).max() > 1e-2  # the iterations did move the flows


@pytest.mark.parametrize("shape", [(1, 7), (6, 1), (2, 2)])
def test_lk_level_on_degenerate_sizes(kernel_set, shape, rng):
    images = _images(rng, shape, n=2)
    flows = (0.3 * rng.standard_normal((1,) + shape + (2,))).astype(np.float32)
    out = kernel_set.lk_level(images, [(0, 1)], flows, 2, 3.0, 3e-4, 4.0, 5)
    np.testing.assert_allclose(out, reference.lk_level(images, [(0, 1)], flows, 2, 3.0, 3e-4,
                                                       4.0, 5), **TOL[np.float32])
    assert np.isfinite(out).all()


def test_lk_level_rejects_bad_arguments(kernel_set, rng):
    images = _images(rng, (8, 9), n=2)
    flows = np.zeros((1, 8, 9, 2), np.float32)
    with pytest.raises(ValueError, match="median must be in"):
        kernel_set.lk_level(images, [(0, 1)], flows, 1, 3.0, 3e-4, 4.0,
                            reference.LK_MAX_MEDIAN + 1)
    with pytest.raises(ValueError, match="pair indices"):
        kernel_set.lk_level(images, [(0, 2)], flows, 1, 3.0, 3e-4, 4.0, 5)
    with pytest.raises(ValueError, match="one \\(h, w, 2\\) flow per pair"):
        kernel_set.lk_level(images, [(0, 1), (1, 0)], flows, 1, 3.0, 3e-4, 4.0, 5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_confidence_matches_reference_and_the_former_formula(kernel_set, dtype, rng):
    fwd = ndi.gaussian_filter(rng.standard_normal((3, 17, 23, 2)), (0, 2, 2, 0))
    fwd = (6 * fwd).astype(dtype)  # reaches out of the frame in places
    bwd = (-fwd + 0.3 * rng.standard_normal(fwd.shape)).astype(dtype)
    out = kernel_set.lk_confidence(fwd, bwd, 0.5)
    want = reference.lk_confidence(fwd, bwd, 0.5)
    assert out.shape == (3, 17, 23) and out.dtype == dtype
    np.testing.assert_allclose(out, want, **TOL[dtype])
    # the former xp formula of forward_backward_confidence, pair by pair
    yy, xx = np.mgrid[0:17, 0:23].astype(dtype)
    for f, b, c in zip(fwd, bwd, want):
        sampled = np.moveaxis(bilinear_sample(np.moveaxis(b, -1, 0), yy + f[..., 1],
                                              xx + f[..., 0]), 0, -1)
        err = f + sampled
        tx, ty = xx + f[..., 0], yy + f[..., 1]
        inside = (tx >= -0.5) & (tx <= 22.5) & (ty >= -0.5) & (ty <= 16.5)
        former = np.exp(-0.5 * (err ** 2).sum(-1) / 0.25) * inside
        np.testing.assert_allclose(c, former, atol=1e-5)
    assert 0 < (want == 0).sum() < want.size  # some pixels leave the frame


# ------------------------------------------------------------ the flow, end to end

def _former_flow_lk(frame, reference_image, window=3.0, iterations=8, min_size=12,
                    regularization=3e-4, smooth=4.0, median=5):
    """The SciPy implementation ``flow_lk`` had before the kernels (about 100 array
    operations per iteration), kept here as the definition the kernels must match."""
    deriv = np.array([-0.5, 0.0, 0.5], np.float32)

    def pyramid(image, levels):
        out = [image]
        for _ in range(levels - 1):
            out.append(ndi.gaussian_filter(out[-1], 1.0, mode="nearest")[::2, ::2])
        return out[::-1]

    def upsample(flow, shape):
        h, w = shape
        yy = (np.arange(h, dtype=np.float32) / 2)[:, None] + np.zeros((1, w), np.float32)
        xx = (np.arange(w, dtype=np.float32) / 2)[None, :] + np.zeros((h, 1), np.float32)
        return 2.0 * bilinear_sample(flow, yy, xx)

    def level(frame, ref, flow):
        h, w = frame.shape
        yy = np.arange(h, dtype=np.float32)[:, None] + np.zeros((1, w), np.float32)
        xx = np.arange(w, dtype=np.float32)[None, :] + np.zeros((h, 1), np.float32)
        ref_stack = np.stack([ref, ndi.correlate1d(ref, deriv, axis=1, mode="nearest"),
                              ndi.correlate1d(ref, deriv, axis=0, mode="nearest")])
        fx = ndi.correlate1d(frame, deriv, axis=1, mode="nearest")
        fy = ndi.correlate1d(frame, deriv, axis=0, mode="nearest")
        for _ in range(iterations):
            warped, gx, gy = bilinear_sample(ref_stack, yy + flow[1], xx + flow[0])
            gx, gy = 0.5 * (gx + fx), 0.5 * (gy + fy)
            it = warped - frame
            a11, a12, a22, b1, b2 = ndi.gaussian_filter(
                np.stack([gx * gx, gx * gy, gy * gy, gx * it, gy * it]),
                (0, window, window), mode="nearest")
            mean = ndi.gaussian_filter(flow, (0, smooth, smooth), mode="nearest")
            r1 = a11 * flow[0] + a12 * flow[1] - b1 + regularization * mean[0]
            r2 = a12 * flow[0] + a22 * flow[1] - b2 + regularization * mean[1]
            a11, a22 = a11 + regularization, a22 + regularization
            det = a11 * a22 - a12 * a12
            flow = np.stack([a22 * r1 - a12 * r2, a11 * r2 - a12 * r1]) / det
            flow = ndi.median_filter(flow, size=(1, median, median), mode="nearest")
        return flow

    levels = max(1, min(6, 1 + math.floor(math.log2(max(min(frame.shape) / min_size, 1.0)))))
    frames, refs = pyramid(frame, levels), pyramid(reference_image, levels)
    flow = np.zeros((2,) + frames[0].shape, np.float32)
    for k, (f, r) in enumerate(zip(frames, refs)):
        if k:
            flow = upsample(flow, f.shape)
        flow = level(f, r, flow)
    return np.moveaxis(flow, 0, -1)


def _pair(name, amplitude, rng):
    image = color.rgb2gray(getattr(data, name)())[::4, ::4].astype(np.float32)
    h, w = image.shape
    field = np.stack([ndi.gaussian_filter(rng.standard_normal((h, w)), 15.0)
                      for _ in range(2)], axis=-1)
    field = (amplitude * field / np.abs(field).max()).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frame = ndi.map_coordinates(image, [yy + field[..., 1], xx + field[..., 0]], order=3,
                                mode="nearest")
    return (frame + 0.01 * rng.standard_normal(frame.shape)).astype(np.float32), image


@pytest.mark.parametrize("name,amplitude", [("astronaut", 3.0), ("coffee", 2.0)])
def test_flow_lk_gives_the_former_flows(name, amplitude):
    """Measured: at most 1.5e-5 px from the SciPy version (float32 rounding: its sums
    and 2x2 solve were float32, the kernels' are float64)."""
    frame, image = _pair(name, amplitude, np.random.default_rng(7))
    ours = flow_lk(frame, image)
    former = _former_flow_lk(frame, image)
    assert np.abs(former).max() > 0.5
    np.testing.assert_allclose(ours, former, atol=1e-4)


@pytest.mark.parametrize("kernels", ["numpy", "numba"])
def test_batched_flows_equal_per_pair_flows(kernels, rng):
    frame, image = _pair("astronaut", 2.0, rng)
    other = ndi.shift(image, (0.7, -1.2), order=3, mode="nearest").astype(np.float32)
    images = np.stack([frame, image, other])
    pairs = [(0, 1), (1, 0), (2, 1), (1, 2), (0, 2)]
    with mfsr.kernels.use(kernels):
        batch = flow_lk_batch(images, pairs, levels=3)
        for n, (f, r) in enumerate(pairs):
            np.testing.assert_allclose(batch[n], flow_lk(images[f], images[r], levels=3),
                                       atol=1e-6)


def test_flow_lk_batch_validates_its_input(camera):
    images = np.stack([camera, camera])
    with pytest.raises(ValueError, match="pairs must index"):
        flow_lk_batch(images, [(0, 2)])
    with pytest.raises(ValueError, match="at least one"):
        flow_lk_batch(images, [])
    with pytest.raises(ValueError, match="median must be <= 9"):
        flow_lk_batch(images, [(0, 1)], median=11)
    with pytest.raises(ValueError, match="images must have 3 dimensions"):
        flow_lk_batch(camera, [(0, 1)])


def test_register_gpu_reference_flow_is_exactly_zero_and_confident(rng):
    frame, image = _pair("coffee", 1.5, rng)
    stack = np.stack([frame, image, frame[::-1].copy()])
    motion = register(stack, reference=1, method="gpu")
    np.testing.assert_array_equal(motion.flows[1], 0)
    np.testing.assert_array_equal(motion.confidence[1], 1)
    # the same confidence as the per-pair call
    back = flow_lk(image, frame)
    np.testing.assert_allclose(motion.confidence[0],
                               forward_backward_confidence(motion.flows[0], back), atol=1e-5)


# ------------------------------------------------------- device frames (CuPy stand-in)

#: Operations (array operations + kernel-set calls) of ``register(method="gpu")`` on 5
#: RGB frames of 34x60 on the stand-in. Measured: 12 = 5 kernel-set calls (1
#: lk_pyramid_down, 1 lk_upsample and 2 lk_level for the 2 pyramid levels, 1
#: lk_confidence) for all 10 flows, and 7 array operations (luma, float32 start flows,
#: the forward and backward halves and zeroing the reference's pair). On 135x240
#: frames (4 levels) it is 18. Before the kernels it was about 26,800 on 135x240.
MAX_REGISTER_OPS = 16


def test_register_on_device_frames_makes_no_host_work():
    sim = mfsr.simulate(data.astronaut()[100:236, 100:340], scale=4, n_frames=5, seed=0,
                        degradation="BD", channel_axis=-1)
    frames = sim.frames
    with device_standin(mode="strict") as dev:  # raises at any host sync or cv2/scipy call
        device_frames = dev.asarray(frames)
        dev.reset()
        motion = register(device_frames, method="gpu")
    flows, conf = motion.flows.get(), motion.confidence.get()
    rep = dev.report
    assert rep.n_host_syncs == 0 and rep.n_host_calls == 0
    assert not rep.implicit_h2d
    assert rep.total <= MAX_REGISTER_OPS, rep.format()
    assert rep.kernel_calls["lk_level"] == 2 and rep.kernel_calls["lk_confidence"] == 1
    assert all(d == "h2d" for d, _ in rep.transfers)  # only cached constant tables go up
    # the same motion as on the host (Numba kernels there, CUDA C as host code here)
    host = register(frames, method="gpu")
    np.testing.assert_allclose(flows, host.flows, atol=1e-4)
    np.testing.assert_allclose(conf, host.confidence, atol=1e-4)
    assert motion.reference == 2 and np.all(flows[2] == 0) and np.all(conf[2] == 1)

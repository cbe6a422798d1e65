"""The Numba kernels give the same bits whatever the number of Numba threads.

Each kernel (and a whole ``mfsr.reconstruct``) runs under ``numba.set_num_threads(1)``
and ``(2)``; the results must be equal bit for bit, so that a job gives the same output
on any machine or Dask worker. Before the splat accumulators and partial sums were split
by problem size instead of by thread, they differed by a few float32 ulps, and about
1000 pixels of a 1280x720 reconstruction differed once rounded to 8 bits.
"""
from __future__ import annotations

import numba
import numpy as np
import pytest
from skimage import data

from mfsr.degradation import BlurDecimate, GaussianPSF, Warp
from mfsr.kernels import reference
from mfsr.priors import BilateralTV, HuberMRF, Tikhonov

nk = pytest.importorskip("mfsr.kernels.numba_kernels", reason="numba not importable")

pytestmark = pytest.mark.skipif(
    numba.config.NUMBA_NUM_THREADS < 2,
    reason=f"Numba has {numba.config.NUMBA_NUM_THREADS} thread (NUMBA_NUM_THREADS); "
           "comparing 1 with 2 threads needs 2")

DTYPES = [np.float32, np.float64]


def _bits(value):
    """``value`` (array, float or tuple of them) in a form that compares bit for bit."""
    if isinstance(value, tuple):
        return tuple(_bits(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.dtype.str, value.shape, value.tobytes()
    if isinstance(value, float):
        return float.hex(value)
    return value


def _same_under_1_and_2_threads(call):
    """Run ``call()`` with 1 and with 2 Numba threads (the count restored afterwards);
    return the 2-thread result after checking that both are equal bit for bit."""
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = call()
        numba.set_num_threads(2)
        two = call()
    finally:
        numba.set_num_threads(before)
    assert _bits(one) == _bits(two), "the result depends on the number of Numba threads"
    return two


def _operator(rng, scale=2, psf=GaussianPSF(1.2), shape=(24, 20), k=3, amplitude=2.0):
    """A BlurDecimate with its ELL tables, and LR flows with one identity frame."""
    op = BlurDecimate((scale * shape[0], scale * shape[1]), scale, psf, None)
    flows = (amplitude * rng.standard_normal((k,) + shape + (2,))).astype(np.float32)
    flows[1] = 0.0
    return op, flows


@pytest.mark.parametrize("dtype", DTYPES)
def test_warp_kernels(dtype, rng):
    w = Warp((3.0 * rng.standard_normal((53, 47, 2))).astype(np.float32))
    x = rng.random(w.shape).astype(dtype)
    y = rng.standard_normal(w.shape).astype(dtype)
    _same_under_1_and_2_threads(lambda: nk.warp_forward(x, w.index, w.wy, w.wx))
    adj = _same_under_1_and_2_threads(lambda: nk.warp_adjoint(y, w.index, w.wy, w.wx))
    np.testing.assert_allclose(adj, reference.warp_adjoint(y, w.index, w.wy, w.wx),
                               rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_warp_blur_decimate(dtype, rng):
    op, flows = _operator(rng)
    warps = _same_under_1_and_2_threads(lambda: nk.prepare_warps(flows, op.scale, op.phase))
    x = rng.random(op.hr_shape).astype(dtype)
    y = rng.standard_normal((len(flows),) + op.lr_shape).astype(dtype)
    _same_under_1_and_2_threads(lambda: nk.warp_blur_decimate(x, warps, *op.gather_tables))
    _same_under_1_and_2_threads(
        lambda: nk.warp_blur_decimate_adjoint(y, warps, *op.gather_tables_t))


@pytest.mark.parametrize("dtype", DTYPES)
def test_blur_decimate_kernels(dtype, rng):
    op, _ = _operator(rng, scale=3, psf="bicubic")
    wy, wx = op.weights
    start = (op.rows.offset, op.cols.offset)
    padded = (op.rows.before + op.hr_shape[0] + op.rows.after,
              op.cols.before + op.hr_shape[1] + op.cols.after)
    xpad = rng.random((3,) + padded).astype(dtype)
    y = rng.standard_normal((3,) + op.lr_shape).astype(dtype)
    z = rng.random((2,) + op.hr_shape).astype(dtype)
    _same_under_1_and_2_threads(
        lambda: nk.strided_correlate(xpad, wy, wx, start, op.scale, op.lr_shape))
    _same_under_1_and_2_threads(
        lambda: nk.strided_correlate_adjoint(y, wy, wx, start, op.scale, padded))
    _same_under_1_and_2_threads(lambda: nk.separable_gather(z, *op.gather_tables))
    _same_under_1_and_2_threads(lambda: nk.separable_gather(y, *op.gather_tables_t))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("prior", [Tikhonov(), BilateralTV(radius=2, eps=0.05), HuberMRF(0.05)],
                         ids=repr)
def test_pairwise_prior(prior, dtype, rng):
    x = rng.random((45, 38)).astype(dtype)
    _same_under_1_and_2_threads(
        lambda: nk.pairwise_prior(x, prior.offsets, prior.weights, prior.kind, prior.param))


@pytest.mark.parametrize("dtype", DTYPES)
def test_tv_prior(dtype):
    # an image whose float64 value used to change with the thread count (float32 terms
    # mostly add up exactly in the float64 sum, whatever the order)
    x = np.random.default_rng(0).random((45, 38)).astype(dtype)
    _same_under_1_and_2_threads(lambda: nk.tv_prior(x, 0.02))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,param", [("quadratic", 0.0), ("huber", 0.05),
                                        ("charbonnier", 0.01)])
def test_reductions_and_vector_updates(kind, param, dtype, rng):
    """The data term's value (a sum over several blocks) and the solvers' vector updates."""
    shape = (3, 70, 90)  # 18900 values: 3 blocks of REDUCE_BLOCK
    assert np.prod(shape) > 2 * nk.REDUCE_BLOCK
    ax, y, c = (rng.random(shape).astype(dtype) for _ in range(3))
    value, _, _ = _same_under_1_and_2_threads(
        lambda: nk.data_fidelity(ax, y, c, kind, param, 0.05))
    assert value == pytest.approx(reference.data_fidelity(ax, y, c, kind, param, 0.05)[0],
                                  rel=1e-4 if dtype == np.float32 else 1e-10)
    _same_under_1_and_2_threads(lambda: nk.axpby(0.3, ax, -1.7, y, np.empty_like(ax)))
    _same_under_1_and_2_threads(lambda: nk.axpy(0.3, ax, y.copy()))


def test_splat_workspace_is_reused_across_shapes(rng):
    """The splat accumulators (one workspace, PARTITIONS - 1 images) are zeroed only where
    a call splats: results stay exact when calls of other shapes, or other tables of the
    same shape, reuse the workspace; tables that splat all over the image (every
    partition reaching every row) give the reference's result."""
    big = Warp((4.0 * rng.standard_normal((40, 36, 2))).astype(np.float32))
    small = Warp((1.0 * rng.standard_normal((12, 9, 2))).astype(np.float32))
    shape = (40, 36)
    scattered = (rng.integers(0, shape[0] - 1, shape[0] * shape[1]) * shape[1]
                 + rng.integers(0, shape[1] - 1, shape[0] * shape[1]))
    wy, wx = (rng.random(shape[0] * shape[1]).astype(np.float32) for _ in range(2))
    yb = rng.standard_normal(big.shape).astype(np.float32)
    ys = rng.standard_normal(small.shape).astype(np.float32)
    first = nk.warp_adjoint(yb, big.index, big.wy, big.wx)
    assert nk.common.workspaces()["splat"].shape == (nk.PARTITIONS - 1, yb.size)
    nk.warp_adjoint(ys, small.index, small.wy, small.wx)
    assert nk.common.workspaces()["splat"].shape == (nk.PARTITIONS - 1, ys.size)
    spread = nk.warp_adjoint(yb, scattered, wy, wx)
    np.testing.assert_allclose(spread, reference.warp_adjoint(yb, scattered, wy, wx),
                               rtol=1e-4, atol=1e-5)
    again = nk.warp_adjoint(yb, big.index, big.wy, big.wx)
    assert _bits(again) == _bits(first)
    tiny = rng.standard_normal((3, 5)).astype(np.float32)  # fewer rows than PARTITIONS
    t = Warp(np.full((3, 5, 2), 0.25, np.float32))
    np.testing.assert_allclose(nk.warp_adjoint(tiny, t.index, t.wy, t.wx),
                               reference.warp_adjoint(tiny, t.index, t.wy, t.wx), rtol=1e-5,
                               atol=1e-6)


def test_reconstruct_is_the_same_under_1_and_2_threads():
    """End to end: registration, IRLS on the luma and the chroma fusion of a small moving
    colour stack (4 frames of 48x48, scale 2)."""
    import mfsr
    sim = mfsr.simulate(data.astronaut()[100:196, 180:276], scale=2, n_frames=4,
                        max_shift=1.5, noise=0.01, channel_axis=-1, seed=3, bits=8)
    assert sim.frames.shape == (4, 48, 48, 3)
    hr = _same_under_1_and_2_threads(
        lambda: mfsr.reconstruct(sim.frames, 2, degradation="BD"))
    assert hr.shape == (96, 96, 3)

"""Property-based tests (Hypothesis): what the library promises on every input, not on a
few chosen ones.

- **Adjoint identities**: ``<A x, y> == <x, A^T y>`` (:func:`mfsr.degradation.dot_test`)
  for every linear operator of :mod:`mfsr.degradation` (the warp ``W``, blur-decimation
  ``D B``, the system operator ``A = D B W`` with and without data weights, its
  ``coarsened`` variant, the CFA mosaic and the CFA system operator, the 4:2:0 chroma
  operator) on random shapes, scales, PSFs (Gaussian, box, area, bicubic, none, custom
  kernel), sampling phases and motions (none, translations, affine-like smooth flows,
  rough random flows), float32 and float64, both CPU kernel sets.
- **Valid input**: :func:`mfsr.reconstruct` (K 1-5 frames, small sizes, grey and RGB in
  any channel position, uint8/uint16/float32/float64, scale 1-4, the methods but
  ``"pnp"``) returns its documented shape ``(s*h, s*w[, C])``, float32, finite, in
  [0, 1]; :func:`mfsr.upsample`, :func:`mfsr.simulate` and :func:`mfsr.register` their
  documented shapes.
- **Invalid input**: every public entry point (``reconstruct``, ``simulate``,
  ``upsample``, ``register``, ``Motion``) raises ``ValueError`` or ``TypeError`` whose
  message names the offending argument, never another exception and never output.

- **Found**: the minimal failing examples Hypothesis found (each a bug, fixed in the
  commit that names it) as plain tests, so that they run whatever a profile draws.

The Hypothesis profile is tests/conftest.py's: "ci" by default (derandomized, 12
examples, more for the cheap ones; ``HYPOTHESIS_PROFILE=dev`` for 200 random ones). The
examples are built from drawn seeds, sizes and options, so a failure prints a small
reproducible call.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install -e '.[test]')")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import mfsr  # noqa: E402
from mfsr import kernels  # noqa: E402
from mfsr.degradation import (CFA_PATTERNS, BlurDecimate, BoxPSF, CFASystemOperator,  # noqa: E402
                              GaussianPSF, KernelPSF, SystemOperator, Warp, cfa_masks, dot_test,
                              make_psf, mosaic, mosaic_adjoint)
from mfsr.degradation.codec import chroma_420_operator  # noqa: E402

seeds = st.integers(0, 2**32 - 1)
kernel_sets = st.sampled_from(["numpy", "auto"])       # the NumPy reference, Numba
dtypes = st.sampled_from([np.float32, np.float64])
# dot_test(relative_to="norms"): the difference against max(|Ax| |y|, |x| |A^T y|), which
# no chance cancellation of the inner products makes small. float32 operators agree to
# float32 rounding; operators with a warp keep their bilinear weights in float32, so in
# float64 they agree to ~1e-9, not to float64 rounding.
RTOL = {np.float32: 1e-5, np.float64: 1e-12}
RTOL_WARPED = {np.float32: 1e-5, np.float64: 1e-7}


def _rng(seed):
    return np.random.default_rng(seed)


def at_least(n):
    """This test's examples: ``n``, or the profile's number where that is more."""
    return settings(max_examples=max(n, settings.default.max_examples))


@st.composite
def psfs(draw, scale):
    """A PSF description as a user gives it: an object, a name, a number or a kernel."""
    kind = draw(st.sampled_from(["gaussian", "sigma", "box", "area", "bicubic", "none",
                                 "kernel"]))
    if kind == "gaussian":
        return GaussianPSF(draw(st.floats(0.0, 2.5)))
    if kind == "sigma":
        return draw(st.floats(0.0, 2.5))
    if kind == "box":
        return BoxPSF(draw(st.floats(0.25, 2.0 * scale + 1)))
    if kind == "kernel":
        shape = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
        k = _rng(draw(seeds)).random(shape)
        k[k < draw(st.floats(0.0, 0.8))] = 0.0        # sparse kernels too
        k[shape[0] // 2, shape[1] // 2] += 0.1
        return KernelPSF(k)
    return kind


@st.composite
def phases(draw, scale):
    """None (the area default), an integer phase or any phase in [0, scale)."""
    return draw(st.one_of(st.none(), st.integers(0, scale - 1).map(float),
                          st.floats(0.0, scale, exclude_max=True)))


def _flows(kind, rng, k, h, w, amplitude):
    """LR flows ``(K, h, w, 2)`` of one kind of motion."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    flows = np.zeros((k, h, w, 2))
    for i in range(k):
        if kind == "translation":
            flows[i] = rng.uniform(-amplitude, amplitude, 2)
        elif kind == "affine":          # rotation, zoom and shear about the centre, smooth
            m = rng.uniform(-0.15, 0.15, (2, 2))
            t = rng.uniform(-amplitude, amplitude, 2)
            cx, cy = (w - 1) / 2, (h - 1) / 2
            flows[i, ..., 0] = m[0, 0] * (xx - cx) + m[0, 1] * (yy - cy) + t[0]
            flows[i, ..., 1] = m[1, 0] * (xx - cx) + m[1, 1] * (yy - cy) + t[1]
        elif kind == "random":          # rough: every pixel its own displacement
            flows[i] = rng.uniform(-amplitude, amplitude, (h, w, 2))
    return flows


@st.composite
def motions(draw, k=None, h=None, w=None, even=False):
    """A Motion of K frames ``(h, w)`` (drawn when not given)."""
    k = draw(st.integers(1, 4)) if k is None else k
    size = st.integers(1, 4).map(lambda n: 2 * n) if even else st.integers(2, 8)
    h = draw(size) if h is None else h
    w = draw(size) if w is None else w
    rng = _rng(draw(seeds))
    kind = draw(st.sampled_from(["zero", "translation", "affine", "random"]))
    flows = _flows(kind, rng, k, h, w, draw(st.floats(0.0, 3.0)))
    reference = draw(st.integers(0, k - 1))
    flows[reference] = 0.0
    confidence = np.ones((k, h, w)) if draw(st.booleans()) else rng.random((k, h, w))
    dtype = draw(dtypes)
    return mfsr.Motion(flows.astype(dtype), confidence.astype(dtype), reference)


# ---------------------------------------------------------------------------------------
# adjoint identities


@given(n=st.integers(1, 12), m=st.integers(1, 12), seed=seeds, dtype=dtypes,
       wrong=st.floats(1e-3, 1.0))
def test_dot_test_tells_an_adjoint_from_a_wrong_one(n, m, seed, dtype, wrong):
    """``dot_test`` on a random matrix: ``M^T`` passes; ``M^T`` with one entry off by
    ``wrong`` (relative) fails; shapes and dtypes are checked."""
    rng = _rng(seed)
    M = rng.standard_normal((n, m))
    lhs, rhs = dot_test(lambda x: M @ x, lambda y: M.T @ y, m, (n,), rng=seed, dtype=dtype,
                        rtol=RTOL[dtype], relative_to="norms")
    assert np.isfinite(lhs) and np.isfinite(rhs)
    B = M.T.copy()
    i, j = rng.integers(m), rng.integers(n)
    B[i, j] += wrong * max(1.0, abs(B[i, j]))
    lhs, rhs = dot_test(lambda x: M @ x, lambda y: B @ y, m, n, rng=seed, raise_error=False)
    rel = abs(lhs - rhs) / max(abs(lhs), abs(rhs))
    with pytest.raises(AssertionError, match="dot test failed"):
        dot_test(lambda x: M @ x, lambda y: B @ y, m, n, rng=seed, rtol=0.5 * rel)
    with pytest.raises(ValueError, match="forward returned shape"):
        dot_test(lambda x: np.append(M @ x, 0.0), lambda y: M.T @ y, m, n, rng=seed)
    with pytest.raises(ValueError, match="adjoint returned shape"):
        dot_test(lambda x: M @ x, lambda y: np.append(M.T @ y, 0.0), m, n, rng=seed)
    with pytest.raises(TypeError, match="dtype"):
        dot_test(lambda x: M @ x, lambda y: M.T @ y, m, n, dtype=np.int64)
    with pytest.raises(ValueError, match="relative_to"):
        dot_test(lambda x: M @ x, lambda y: M.T @ y, m, n, relative_to="sum")


@given(h=st.integers(2, 24), w=st.integers(2, 24), kind=st.sampled_from(
    ["translation", "affine", "random"]), amplitude=st.floats(0.0, 30.0), seed=seeds,
    dtype=dtypes, cpu=kernel_sets)
def test_warp_is_adjoint(h, w, kind, amplitude, seed, dtype, cpu):
    """``W`` (bilinear, border clamped) and its splatting, also for flows that leave the
    image far behind."""
    rng = _rng(seed)
    flow = _flows(kind, rng, 1, h, w, amplitude)[0].astype(np.float32)
    warp = Warp(flow)
    with kernels.use(cpu):
        dot_test(warp.forward, warp.adjoint, (h, w), (h, w), rng=rng, dtype=dtype,
                 rtol=RTOL_WARPED[dtype], relative_to="norms")
        assert warp.forward(np.zeros((h, w), dtype)).dtype == dtype


@given(data=st.data(), scale=st.integers(1, 4), h=st.integers(1, 7), w=st.integers(1, 7),
       lead=st.sampled_from([(), (1,), (3,), (2, 2)]), seed=seeds, dtype=dtypes,
       cpu=kernel_sets)
def test_blur_decimate_is_adjoint(data, scale, h, w, lead, seed, dtype, cpu):
    """``D B`` (reflected border folded back by the adjoint) on a stack, for every PSF
    and sampling phase."""
    psf, phase = data.draw(psfs(scale)), data.draw(phases(scale))
    bd = BlurDecimate((scale * h, scale * w), scale, psf, phase)
    with kernels.use(cpu):
        dot_test(bd.forward, bd.adjoint, lead + bd.hr_shape, lead + (h, w), rng=seed,
                 dtype=dtype, rtol=RTOL[dtype], relative_to="norms")
        assert bd.forward(np.zeros(lead + bd.hr_shape, dtype)).dtype == dtype


@given(data=st.data(), scale=st.integers(1, 4), seed=seeds, dtype=dtypes, cpu=kernel_sets)
def test_system_operator_is_adjoint(data, scale, seed, dtype, cpu):
    """``A = D B W`` over the frames (the fused kernels for separable PSFs, the per-frame
    warps for a 2-D kernel), and ``diag(c) A`` through ``adjoint(r, weights=c)``."""
    motion = data.draw(motions())
    A = SystemOperator(motion, scale, data.draw(psfs(scale)), data.draw(phases(scale)))
    k, (h, w) = motion.n_frames, motion.lr_shape
    assert A.hr_shape == (scale * h, scale * w)
    c = _rng(seed).random((k, h, w)).astype(dtype)
    with kernels.use(cpu):
        dot_test(A.forward, A.adjoint, A.hr_shape, (k, h, w), rng=seed, dtype=dtype,
                 rtol=RTOL_WARPED[dtype], relative_to="norms")
        dot_test(lambda x: c * A.forward(x), lambda r: A.adjoint(r, weights=c), A.hr_shape,
                 (k, h, w), rng=seed + 1, dtype=dtype, rtol=RTOL_WARPED[dtype],
                 relative_to="norms")
        assert A.forward(np.zeros(A.hr_shape, dtype)).dtype == dtype
        assert A.adjoint(np.zeros((k, h, w), dtype)).dtype == dtype


@given(data=st.data(), seed=seeds, dtype=dtypes, cpu=kernel_sets)
def test_coarsened_operator_is_adjoint(data, seed, dtype, cpu):
    """``A.coarsened(f)``: the same frames from an HR grid ``f`` times coarser."""
    scale = data.draw(st.sampled_from([2, 3, 4]))
    factor = data.draw(st.sampled_from([f for f in range(1, scale + 1) if scale % f == 0]))
    motion = data.draw(motions())
    A = SystemOperator(motion, scale, data.draw(psfs(scale)), data.draw(phases(scale)))
    C = A.coarsened(factor)
    assert C.scale == scale // factor and C.lr_shape == A.lr_shape
    assert C.hr_shape == (A.hr_shape[0] // factor, A.hr_shape[1] // factor)
    with kernels.use(cpu):
        dot_test(C.forward, C.adjoint, C.hr_shape, (motion.n_frames,) + motion.lr_shape,
                 rng=seed, dtype=dtype, rtol=RTOL_WARPED[dtype], relative_to="norms")


@given(pattern=st.sampled_from(CFA_PATTERNS), h=st.integers(1, 9), w=st.integers(1, 9),
       lead=st.sampled_from([(), (1,), (3,)]), seed=seeds, dtype=dtypes)
def test_mosaic_is_adjoint(pattern, h, w, lead, seed, dtype):
    """The CFA sampling ``M`` and ``M^T``; ``M M^T = I`` (odd sizes too)."""
    dot_test(lambda x: mosaic(x, pattern), lambda y: mosaic_adjoint(y, pattern),
             lead + (h, w, 3), lead + (h, w), rng=seed, dtype=dtype, rtol=1e-12,
             relative_to="norms")
    y = _rng(seed).standard_normal(lead + (h, w)).astype(dtype)
    np.testing.assert_array_equal(mosaic(mosaic_adjoint(y, pattern), pattern), y)


@given(data=st.data(), scale=st.integers(1, 3), pattern=st.sampled_from(CFA_PATTERNS),
       seed=seeds, dtype=dtypes, cpu=kernel_sets)
def test_cfa_system_operator_is_adjoint(data, scale, pattern, seed, dtype, cpu):
    """``M D B W`` from linear RGB to raw mosaics."""
    motion = data.draw(motions())
    A = SystemOperator(motion, scale, data.draw(psfs(scale)), data.draw(phases(scale)))
    masks = np.moveaxis(cfa_masks(pattern, motion.lr_shape), -1, 0)
    cfa = CFASystemOperator(A, masks)
    with kernels.use(cpu):
        dot_test(cfa.forward, cfa.adjoint, A.hr_shape + (3,),
                 (motion.n_frames,) + motion.lr_shape, rng=seed, dtype=dtype,
                 rtol=RTOL_WARPED[dtype], relative_to="norms")


@given(data=st.data(), scale=st.integers(1, 3), seed=seeds, dtype=dtypes, cpu=kernel_sets)
def test_chroma_420_operator_is_adjoint(data, scale, seed, dtype, cpu):
    """The 4:2:0 chroma operator: the luma model on the half-resolution grid."""
    motion = data.draw(motions(even=True))
    psf = make_psf(data.draw(psfs(scale)), scale)
    phase = data.draw(st.floats(0.0, scale, exclude_max=True))
    op = chroma_420_operator(motion, scale, psf, phase)
    h, w = motion.lr_shape
    assert op.lr_shape == (h // 2, w // 2) and op.hr_shape == (scale * h, scale * w)
    with kernels.use(cpu):
        dot_test(op.forward, op.adjoint, op.hr_shape, (motion.n_frames,) + op.lr_shape,
                 rng=seed, dtype=dtype, rtol=RTOL_WARPED[dtype], relative_to="norms")


@given(data=st.data(), scale=st.integers(1, 4), seed=seeds)
def test_kernel_sets_agree(data, scale, seed):
    """The Numba kernels compute what the NumPy reference does (``A`` and ``A^T``)."""
    motion = data.draw(motions())
    A = SystemOperator(motion, scale, data.draw(psfs(scale)), data.draw(phases(scale)))
    rng = _rng(seed)
    x = rng.standard_normal(A.hr_shape).astype(np.float32)
    r = rng.standard_normal((motion.n_frames,) + motion.lr_shape).astype(np.float32)
    out = {}
    for cpu in ("numpy", "auto"):
        with kernels.use(cpu):
            out[cpu] = A.forward(x), A.adjoint(r)
    for ref, fast in zip(out["numpy"], out["auto"]):
        np.testing.assert_allclose(fast, ref, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(ref).max()))


# ---------------------------------------------------------------------------------------
# valid input

# "pnp" runs a CNN denoiser (seconds per call): the suite's tests/test_pnp.py covers it
FAST_METHODS = tuple(m for m in mfsr.METHODS if m != "pnp")


def _content(kind, rng, k, h, w, c):
    """Frames in [0, 1], float64, ``(K, h, w[, c])``."""
    shape = (k, h, w) + ((c,) if c else ())
    if kind == "noise":
        return rng.random(shape)
    if kind == "constant":
        return np.full(shape, rng.random())
    # a smooth scene seen with small shifts: what the methods are built for
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.empty(shape)
    f = rng.uniform(0.2, 1.2, 2)
    for i in range(k):
        dx, dy = rng.uniform(-1, 1, 2)
        base = 0.5 + 0.4 * np.sin(f[0] * (xx + dx)) * np.cos(f[1] * (yy + dy))
        out[i] = base[..., None] * rng.uniform(0.6, 1.0, c) if c else base
    return out


def _as_dtype(frames, dtype):
    if dtype == np.uint8:
        return np.round(frames * 255).astype(np.uint8)
    if dtype == np.uint16:
        return np.round(frames * 65535).astype(np.uint16)
    return frames.astype(dtype)


@st.composite
def valid_reconstruct_calls(draw):
    """``(frames, kwargs, expected output shape)`` of a valid reconstruct call."""
    k = draw(st.integers(1, 5))
    h, w = draw(st.integers(2, 12)), draw(st.integers(2, 12))
    channels = draw(st.sampled_from([None, 1, 3]))
    rng = _rng(draw(seeds))
    frames = _content(draw(st.sampled_from(["noise", "constant", "scene"])), rng, k, h, w,
                      channels)
    frames = _as_dtype(frames, draw(st.sampled_from([np.uint8, np.uint16, np.float32,
                                                     np.float64])))
    scale = draw(st.integers(1, 4))
    kwargs = {"scale": scale, "method": draw(st.sampled_from(FAST_METHODS))}
    if channels is not None:          # the colour axis anywhere but the frame axis
        axis = draw(st.sampled_from([1, 2, 3, -1, -2, -3]))
        frames = np.moveaxis(frames, -1, axis)
        kwargs["channel_axis"] = axis
        if channels == 3:
            kwargs["color"] = draw(st.sampled_from(["luma", "rgb"]))
    # the noise estimate needs 8x8 pixels: smaller frames say their noise level
    if min(h, w) < 8 or draw(st.booleans()):
        kwargs["noise"] = draw(st.floats(0.0, 0.1))
    kwargs["degradation"] = draw(st.sampled_from([None, "area", "BD", "BI"]))
    if draw(st.booleans()):
        kwargs["reference"] = draw(st.integers(0, k - 1))
    if draw(st.booleans()):
        kwargs["iterations"] = draw(st.integers(0, 3))
    if k > 1 and draw(st.booleans()):
        kwargs["registration"] = draw(st.sampled_from(["dis", "translation"]))
    shape = (scale * h, scale * w) + ((channels,) if channels else ())
    return frames, kwargs, shape


@at_least(60)
@given(valid_reconstruct_calls())
def test_reconstruct_valid_input(call):
    """The documented result: ``(s*h, s*w)`` or ``(s*h, s*w, C)``, float32 in [0, 1]."""
    frames, kwargs, shape = call
    hr = mfsr.reconstruct(frames, **kwargs)
    assert isinstance(hr, np.ndarray)
    assert hr.shape == shape
    assert hr.dtype == np.float32
    assert np.all(np.isfinite(hr))
    assert hr.min() >= 0.0 and hr.max() <= 1.0


@given(k=st.integers(1, 4), h=st.integers(2, 10), w=st.integers(2, 10), seed=seeds,
       axis=st.sampled_from([1, 2, -3, -2]))
def test_reconstruct_channel_axis_is_where_the_colour_is(k, h, w, seed, axis):
    """Moving the colour axis of the input changes nothing in the result."""
    frames = _content("scene", _rng(seed), k, h, w, 3).astype(np.float32)
    kwargs = {"scale": 2, "noise": 0.01, "method": "cg", "registration": "translation"}
    want = mfsr.reconstruct(frames, **kwargs)
    got = mfsr.reconstruct(np.moveaxis(frames, -1, axis), channel_axis=axis, **kwargs)
    np.testing.assert_allclose(got, want, atol=1e-6)


@given(k=st.integers(1, 4), h=st.integers(2, 10), w=st.integers(2, 10), seed=seeds)
def test_reconstruct_takes_bool_frames_as_zero_one(k, h, w, seed):
    """Boolean frames are documented (``as_float_image``) as 0/1 images."""
    frames = _rng(seed).random((k, h, w)) > 0.5
    kwargs = {"scale": 2, "noise": 0.01, "method": "cg", "registration": "translation"}
    np.testing.assert_array_equal(mfsr.reconstruct(frames, **kwargs),
                                  mfsr.reconstruct(frames.astype(np.float32), **kwargs))


@given(h=st.integers(1, 9), w=st.integers(1, 9), channels=st.sampled_from([None, 1, 2, 3, 4]),
       scale=st.integers(1, 4), data=st.data(), seed=seeds,
       dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.float64]),
       method=st.sampled_from(["nearest", "bilinear", "bicubic", "lanczos"]))
def test_upsample_valid_input(h, w, channels, scale, data, seed, dtype, method):
    """``(s*h, s*w[, C])``, the image's float dtype (float32 for integers), finite."""
    image = _as_dtype(_content("noise", _rng(seed), 1, h, w, channels)[0], dtype)
    phase = data.draw(phases(scale))
    out = mfsr.upsample(image, scale, phase, method)
    assert out.shape == (scale * h, scale * w) + ((channels,) if channels else ())
    assert out.dtype == (image.dtype if image.dtype.kind == "f" else np.float32)
    assert np.all(np.isfinite(out))


@given(k=st.integers(1, 5), h=st.integers(2, 10), w=st.integers(2, 10),
       channels=st.sampled_from([None, 3]), seed=seeds,
       method=st.sampled_from(["dis", "farneback", "translation", "ecc", "gpu"]),
       confidence=st.booleans(), data=st.data())
def test_register_valid_input(k, h, w, channels, seed, method, confidence, data):
    """A Motion for the stack: flows ``(K, h, w, 2)``, finite, zero on the reference;
    confidence ``(K, h, w)`` in [0, 1]."""
    frames = _content(data.draw(st.sampled_from(["noise", "constant", "scene"])), _rng(seed),
                      k, h, w, channels).astype(np.float32)
    reference = data.draw(st.integers(0, k - 1))
    motion = mfsr.register(frames, reference, method, confidence)
    assert motion.flows.shape == (k, h, w, 2) and motion.confidence.shape == (k, h, w)
    assert motion.reference == reference
    assert np.all(np.isfinite(motion.flows)) and np.all(motion.flows[reference] == 0)
    assert np.all((motion.confidence >= 0) & (motion.confidence <= 1))


@given(scale=st.integers(1, 4), n_frames=st.integers(1, 5), seed=seeds, data=st.data(),
       colour=st.booleans())
def test_simulate_valid_input(scale, n_frames, seed, data, colour):
    """``K`` LR frames of the HR image cropped to a multiple of ``s``, float32; the true
    motion of the frames."""
    H = data.draw(st.integers(2 * scale, 12 * scale))
    W = data.draw(st.integers(2 * scale, 12 * scale))
    hr = _content("noise", _rng(seed), 1, H, W, 3 if colour else None)[0]
    sim = mfsr.simulate(hr, scale, n_frames, channel_axis=-1 if colour else None,
                        degradation=data.draw(st.sampled_from(["BD", "BI", "area"])),
                        noise=data.draw(st.floats(0.0, 0.1)), seed=seed)
    h, w = H // scale, W // scale
    assert sim.frames.shape == (n_frames, h, w) + ((3,) if colour else ())
    assert sim.frames.dtype == np.float32 and np.all(np.isfinite(sim.frames))
    assert sim.hr.shape == (scale * h, scale * w) + ((3,) if colour else ())
    assert sim.motion.n_frames == n_frames and sim.motion.lr_shape == (h, w)


@given(k=st.integers(1, 4), h=st.integers(1, 6), w=st.integers(1, 6), seed=seeds,
       data=st.data())
def test_motion_takes_array_likes(k, h, w, seed, data):
    """``Motion`` reads nested lists as arrays, as the rest of the library does."""
    rng = _rng(seed)
    flows, confidence = rng.random((k, h, w, 2)), rng.random((k, h, w))
    reference = data.draw(st.integers(0, k - 1))
    motion = mfsr.Motion(flows.tolist(), confidence.tolist(), reference)
    np.testing.assert_array_equal(motion.flows, flows)
    np.testing.assert_array_equal(motion.confidence, confidence)
    assert motion.n_frames == k and motion.lr_shape == (h, w)


# ---------------------------------------------------------------------------------------
# invalid input: ValueError or TypeError naming the argument
#
# Each test is parametrized by what is wrong, so that every kind of mistake is tried on
# every run; Hypothesis draws the bad value, the sizes and the rest of the call.


def _raises_naming(call, names):
    """``call()`` raises ValueError or TypeError whose message names one of ``names``
    (any other exception propagates and fails the test)."""
    with pytest.raises((ValueError, TypeError)) as info:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = call()
        pytest.fail(f"no error; returned {type(result).__name__}")  # pragma: no cover
    message = str(info.value)
    pattern = r"(?<![A-Za-z_])(" + "|".join(map(re.escape, names)) + r")(?![A-Za-z_])"
    assert re.search(pattern, message), \
        f"{type(info.value).__name__}({message!r}) does not name {' or '.join(names)}"


NOT_NUMBERS = st.sampled_from(["2", "abc", None, [2], 2j, object(), {}])
NON_FINITE = st.sampled_from([float("nan"), float("inf"), -float("inf")])
NEGATIVE = st.floats(-10.0, -1e-6)
BAD_DTYPES = st.sampled_from([np.complex64, np.complex128, object, str, np.int8, np.int16,
                              np.int32, np.int64, "datetime64[s]"])
BAD_NAMES = st.sampled_from(["nonsense", "", "BDx4", 3, None, ["x"]])


def _cast(a, dtype):
    """``a * 100`` as ``dtype`` (datetimes through integers, which NumPy requires)."""
    a = a * 100
    return (a.astype(np.int64) if np.dtype(dtype).kind == "M" else a).astype(dtype)


def _frames(rng, k=3, h=9, w=10, c=None):
    return rng.random((k, h, w) + ((c,) if c is not None else ())).astype(np.float32)


RECONSTRUCT_MISTAKES = [
    "ndim", "mixed sizes", "non-finite", "scale", "empty", "dtype", "one pixel",
    "too small for the noise estimate", "method", "channel_axis", "channels", "reference",
    "noise", "phase", "psf", "iterations", "degradation", "color", "registration",
    "backend", "init", "weight", "motion", "codec", "cfa", "not an array"]


@st.composite
def invalid_reconstruct_calls(draw, what):
    """``(frames, kwargs, names)``: ``what`` is wrong with an otherwise valid call;
    ``names``: the argument names the error may give."""
    rng = _rng(draw(seeds))
    k, h, w = draw(st.integers(1, 4)), draw(st.integers(8, 11)), draw(st.integers(8, 11))
    frames = _frames(rng, k, h, w)
    kwargs = {"scale": 2, "method": "cg", "iterations": 1}
    names = (what,)
    if what == "ndim":
        frames = rng.random(draw(st.sampled_from([(), (9,), (9, 10), (2, 3, 9, 10, 3),
                                                  (1, 1, 2, 9, 10, 3)])))
        names = ("frames",)
    elif what == "mixed sizes":
        frames = [_frames(rng, 1, h, w)[0], _frames(rng, 1, h + draw(st.integers(1, 3)), w)[0]]
        names = ("frames",)
    elif what == "non-finite":
        frames = frames.astype(draw(dtypes))
        frames.flat[draw(st.integers(0, frames.size - 1))] = draw(NON_FINITE)
        names = ("frames",)
    elif what == "scale":
        kwargs["scale"] = draw(st.one_of(st.integers(-5, 0), st.sampled_from([2.0, 2.5, True]),
                                         NOT_NUMBERS))
    elif what == "empty":
        frames = rng.random(draw(st.sampled_from([(0, h, w), (0, h, w, 3), (k, 0, w),
                                                  (k, h, 0), (k, 0, 0, 3)]))).astype(np.float32)
        names = ("frames",)
    elif what == "dtype":
        frames = _cast(frames, draw(BAD_DTYPES))
        names = ("frames",)
    elif what == "one pixel":
        frames = rng.random(draw(st.sampled_from([(k, 1, 1), (k, 1, w), (k, h, 1),
                                                  (k, 1, 1, 3)]))).astype(np.float32)
        kwargs["noise"] = 0.01
        names = ("frames",)
    elif what == "too small for the noise estimate":
        frames = _frames(rng, k, draw(st.integers(2, 7)), draw(st.integers(2, 12)))
        if draw(st.booleans()):
            frames = frames.swapaxes(1, 2).copy()
        if draw(st.booleans()):                      # raw mosaics: 16x16 (half-size grey)
            frames = _frames(rng, k, 2 * draw(st.integers(1, 7)), 2 * draw(st.integers(1, 9)))
            kwargs["cfa"] = "RGGB"
        names = ("frames", "noise")
    elif what == "method":
        kwargs["method"] = draw(st.sampled_from(["magic", "IRLS", "", 3, ["cg"]]))
        kwargs.pop("iterations")
    elif what == "channel_axis":
        frames = _frames(rng, k, h, w, 3)
        kwargs["channel_axis"] = draw(st.sampled_from([0, 4, 5, 7, -4, -5, -8, 1.5, "1",
                                                       None, 3.0]))
    elif what == "channels":
        frames = _frames(rng, k, h, w, draw(st.sampled_from([0, 2, 4, 5])))
        names = ("frames", "channels")
    elif what == "reference":
        kwargs["reference"] = draw(st.one_of(st.integers(k, k + 3), st.integers(-3, -1),
                                             st.sampled_from([0.0, "0", [0]])))
    elif what == "noise":
        kwargs["noise"] = draw(st.one_of(NEGATIVE, NON_FINITE, NOT_NUMBERS.filter(
            lambda v: v is not None)))
    elif what == "phase":
        kwargs["phase"] = draw(st.one_of(NEGATIVE, st.floats(2.0, 10.0), NON_FINITE,
                                         NOT_NUMBERS.filter(lambda v: v not in ("2", None))))
    elif what == "psf":
        kwargs["psf"] = draw(st.sampled_from(["disk", "", "estimate", -1.0, float("nan"),
                                              float("inf"), -np.ones((3, 3)), np.zeros((3, 3)),
                                              np.ones((3, 3, 3)), np.ones(3), object()]))
        if isinstance(kwargs["psf"], str) and kwargs["psf"] == "estimate":
            frames = _frames(rng, 2, h, w)          # the estimate needs 3 frames that move
        names = ("psf", "sigma", "kernel", "frames")
    elif what == "iterations":
        kwargs["iterations"] = draw(st.sampled_from([-1, -10, 1.5, 2.0, "3"]))
    elif what in ("degradation", "color", "registration", "backend", "init", "codec"):
        kwargs[what] = draw(BAD_NAMES.filter(lambda v: v is not None))
        if what == "registration" and k == 1:
            frames = _frames(rng, 2, h, w)          # a single frame registers nothing
        if what == "codec":
            frames = _frames(rng, k, h, w, 3)
    elif what == "weight":
        kwargs["weight"] = draw(st.one_of(NEGATIVE, NON_FINITE, NOT_NUMBERS.filter(
            lambda v: v is not None)))
    elif what == "motion":
        kwargs["motion"] = draw(st.sampled_from(
            ["flow", np.zeros((k, h, w, 2)), mfsr.Motion.zeros(k + 1, (h, w)),
             mfsr.Motion.zeros(k, (h + 1, w))]))
    elif what == "cfa":
        kwargs["cfa"] = draw(st.sampled_from(["XYZW", "RGB", "", "RGGBX", 4]))
        names = ("cfa", "pattern")
    elif what == "not an array":
        frames = draw(st.sampled_from(["frames.png", None, 3.0, {"a": 1}]))
        names = ("frames",)
    return frames, kwargs, names


INVALID_EXAMPLES = at_least(30)     # cheap: each call fails at its first checks


@pytest.mark.parametrize("what", RECONSTRUCT_MISTAKES)
@INVALID_EXAMPLES
@given(data=st.data())
def test_reconstruct_invalid_input(what, data):
    frames, kwargs, names = data.draw(invalid_reconstruct_calls(what))
    _raises_naming(lambda: mfsr.reconstruct(frames, **kwargs), names)


@pytest.mark.parametrize("what", ["ndim", "non-finite", "empty", "dtype", "channels", "scale",
                                  "phase", "method", "not an array"])
@INVALID_EXAMPLES
@given(seed=seeds, data=st.data())
def test_upsample_invalid_input(what, seed, data):
    rng = _rng(seed)
    image, args, kwargs = rng.random((5, 6)).astype(np.float32), [2], {}
    names = (what,)
    if what == "ndim":
        image = rng.random(data.draw(st.sampled_from([(), (5,), (2, 5, 6, 3)])))
        names = ("image",)
    elif what == "non-finite":
        image.flat[data.draw(st.integers(0, image.size - 1))] = data.draw(NON_FINITE)
        names = ("image",)
    elif what == "empty":
        image = np.zeros(data.draw(st.sampled_from([(0, 6), (5, 0), (0, 0), (0, 6, 3)])),
                         np.float32)
        names = ("image",)
    elif what == "dtype":            # signed integers are values to interpolate here
        image = _cast(image, data.draw(st.sampled_from([np.complex64, object, str,
                                                        "datetime64[s]"])))
        names = ("image",)
    elif what == "channels":
        image = rng.random((5, 6, data.draw(st.sampled_from([0, 5, 8])))).astype(np.float32)
        names = ("image", "channels")
    elif what == "scale":
        args = [data.draw(st.one_of(st.integers(-3, 0), st.sampled_from([1.5, 2.0]),
                                    NOT_NUMBERS))]
    elif what == "phase":
        kwargs["phase"] = data.draw(st.one_of(NEGATIVE, NON_FINITE,
                                              NOT_NUMBERS.filter(lambda v: v is not None)))
    elif what == "method":
        kwargs["method"] = data.draw(st.sampled_from(["cubic", "area", "", None, 2]))
    elif what == "not an array":
        image = data.draw(st.sampled_from(["image.png", None, 3.0]))
        names = ("image",)
    _raises_naming(lambda: mfsr.upsample(image, *args, **kwargs), names)


@pytest.mark.parametrize("what", ["ndim", "non-finite", "dtype", "too small", "scale",
                                  "n_frames", "max_shift", "shifts", "reference", "noise",
                                  "channel_axis", "degradation", "psf", "phase"])
@INVALID_EXAMPLES
@given(seed=seeds, data=st.data())
def test_simulate_invalid_input(what, seed, data):
    rng = _rng(seed)
    hr, kwargs = rng.random((24, 20)), {"scale": 2, "n_frames": 3}
    names = (what,)
    if what == "ndim":
        hr = rng.random(data.draw(st.sampled_from([(), (24,), (2, 24, 20), (24, 20, 3)])))
        names = ("hr",)
    elif what == "non-finite":
        hr.flat[data.draw(st.integers(0, hr.size - 1))] = data.draw(NON_FINITE)
        names = ("hr",)
    elif what == "dtype":
        hr = _cast(hr, data.draw(BAD_DTYPES))
        names = ("hr",)
    elif what == "too small":
        kwargs["scale"] = data.draw(st.integers(11, 40))
        names = ("hr",)
    elif what == "scale":
        kwargs["scale"] = data.draw(st.one_of(st.integers(-3, 0), st.just(1.5), NOT_NUMBERS))
    elif what == "n_frames":
        kwargs["n_frames"] = data.draw(st.one_of(st.integers(-3, 0), st.just(2.0), NOT_NUMBERS))
    elif what == "max_shift":
        kwargs["max_shift"] = data.draw(st.one_of(NEGATIVE, NON_FINITE,
                                                  NOT_NUMBERS.filter(lambda v: v is not None)))
    elif what == "shifts":
        bad = data.draw(st.sampled_from(["shape", "nan"]))
        kwargs["shifts"] = rng.random(data.draw(st.sampled_from([(3,), (3, 3), (2, 1, 2)]))) \
            if bad == "shape" else [[0.0, 0.0], [np.nan, 0.5]]
    elif what == "reference":
        kwargs["reference"] = data.draw(st.one_of(st.integers(3, 6), st.integers(-3, -1),
                                                  st.sampled_from([1.0, "1"])))
    elif what == "noise":
        kwargs["noise"] = data.draw(st.one_of(NEGATIVE, NON_FINITE,
                                              NOT_NUMBERS.filter(lambda v: v is not None)))
        names = ("noise", "sigma")
    elif what == "channel_axis":
        if data.draw(st.booleans()):
            hr = rng.random((24, 20, 3))
            kwargs["channel_axis"] = data.draw(st.sampled_from([3, 4, -4, -7, 1.5, "2"]))
        else:                        # a grey image given a colour axis
            kwargs["channel_axis"] = data.draw(st.sampled_from([0, 1, -1, -2]))
            names = ("channel_axis", "hr")
    elif what == "degradation":
        kwargs["degradation"] = data.draw(BAD_NAMES.filter(lambda v: v is not None))
    elif what == "psf":
        kwargs["psf"] = data.draw(st.sampled_from(["disk", -1.0, float("nan"), np.zeros((3, 3)),
                                                   object()]))
        names = ("psf", "sigma", "kernel")
    elif what == "phase":
        kwargs["phase"] = data.draw(st.one_of(NEGATIVE, st.floats(2.0, 9.0), NON_FINITE,
                                              NOT_NUMBERS.filter(lambda v: v not in ("2", None))))
    _raises_naming(lambda: mfsr.simulate(hr, **kwargs), names)


@pytest.mark.parametrize("what", ["ndim", "non-finite", "dtype", "empty", "channels",
                                  "channel_axis", "method", "reference", "not an array"])
@INVALID_EXAMPLES
@given(seed=seeds, data=st.data())
def test_register_invalid_input(what, seed, data):
    rng = _rng(seed)
    frames, kwargs = _frames(rng, 3, 9, 10), {}
    names = (what,)
    if what == "ndim":
        frames = rng.random(data.draw(st.sampled_from([(), (9,), (9, 10), (2, 3, 9, 10, 3)])))
        names = ("frames",)
    elif what == "non-finite":
        frames.flat[data.draw(st.integers(0, frames.size - 1))] = data.draw(NON_FINITE)
        names = ("frames",)
    elif what == "dtype":
        frames = _cast(frames, data.draw(BAD_DTYPES))
        names = ("frames",)
    elif what == "empty":
        frames = np.zeros(data.draw(st.sampled_from([(0, 9, 10), (0, 9, 10, 3)])), np.float32)
        names = ("frames",)
    elif what == "channels":
        frames = _frames(rng, 3, 9, 10, data.draw(st.sampled_from([1, 2, 4])))
        names = ("frames", "channels")
    elif what == "channel_axis":
        # K = 3 frames: an axis that wraps onto the frame axis would find 3 "channels"
        frames = _frames(rng, 3, 9, 10, 3)
        kwargs["channel_axis"] = data.draw(st.sampled_from([0, 4, 5, -4, -5, 1.5, None, "3"]))
    elif what == "method":
        kwargs["method"] = data.draw(st.sampled_from(["lk", "DIS", "", None]))
    elif what == "reference":
        kwargs["reference"] = data.draw(st.one_of(st.integers(3, 6), st.integers(-3, -1),
                                                  st.sampled_from([1.0, "1"])))
    elif what == "not an array":
        frames = data.draw(st.sampled_from(["frames.png", None, 3.0]))
        names = ("frames",)
    _raises_naming(lambda: mfsr.register(frames, **kwargs), names)


@pytest.mark.parametrize("what", ["flows ndim", "flows last axis", "confidence shape",
                                  "non-finite", "dtype", "reference", "empty", "not an array"])
@INVALID_EXAMPLES
@given(seed=seeds, data=st.data())
def test_motion_invalid_input(what, seed, data):
    rng = _rng(seed)
    k, h, w = 3, 4, 5
    flows, confidence, reference = rng.random((k, h, w, 2)), rng.random((k, h, w)), 0
    if what == "flows ndim":
        flows = rng.random(data.draw(st.sampled_from([(h, w, 2), (k, h, w, 2, 1)])))
        names = ("flows",)
    elif what == "flows last axis":
        flows, names = rng.random((k, h, w, data.draw(st.sampled_from([1, 3])))), ("flows",)
    elif what == "confidence shape":
        confidence = rng.random(data.draw(st.sampled_from([(k, h, w + 1), (k + 1, h, w),
                                                           (h, w), (k, h, w, 1)])))
        names = ("confidence",)
    elif what == "non-finite":
        which = data.draw(st.sampled_from(["flows", "confidence"]))
        a = flows if which == "flows" else confidence
        a.flat[data.draw(st.integers(0, a.size - 1))] = data.draw(NON_FINITE)
        names = (which,)
    elif what == "dtype":
        which = data.draw(st.sampled_from(["flows", "confidence"]))
        dtype = data.draw(st.sampled_from([np.complex64, object, str]))
        if which == "flows":
            flows = flows.astype(dtype)
        else:
            confidence = confidence.astype(dtype)
        names = (which,)
    elif what == "reference":
        reference = data.draw(st.one_of(st.integers(k, k + 3), st.integers(-3, -1),
                                        st.sampled_from([0.0, None, "0"])))
        names = ("reference",)
    elif what == "empty":
        flows, confidence = np.zeros((0, h, w, 2)), np.zeros((0, h, w))
        names = ("flows", "frames")
    elif what == "not an array":
        which = data.draw(st.sampled_from(["flows", "confidence"]))
        bad = data.draw(st.sampled_from([None, "flow", 1.0, [[1.0, 2.0], [3.0]]]))
        flows, confidence = (bad, confidence) if which == "flows" else (flows, bad)
        names = (which,)
    _raises_naming(lambda: mfsr.Motion(flows, confidence, reference), names)


# ---------------------------------------------------------------------------------------
# the minimal examples Hypothesis found, kept as plain tests (each was a bug, fixed in the
# commit that names it), so they run whatever examples a profile draws

FOUND_RAISING = {
    "ragged frames": (lambda: mfsr.reconstruct([np.zeros((8, 8)), np.zeros((9, 8))], 2),
                      ("frames",)),
    "frames under 8x8, no noise=": (lambda: mfsr.reconstruct(np.random.rand(3, 6, 7), 2),
                                    ("frames",)),
    "mosaics under 16x16, no noise=": (lambda: mfsr.reconstruct(
        np.random.rand(1, 8, 8).astype(np.float32), 2, cfa="rggb"), ("frames",)),
    "register channel_axis=0": (lambda: mfsr.register(np.random.rand(3, 9, 10, 3),
                                                      channel_axis=0), ("channel_axis",)),
    "reconstruct channel_axis=5": (lambda: mfsr.reconstruct(
        np.random.rand(2, 3, 9, 8), 2, noise=0.01, channel_axis=5), ("channel_axis",)),
    "phase='abc'": (lambda: mfsr.simulate(np.random.rand(24, 20), 2, phase="abc"),
                    ("phase",)),
    "phase=[0.5]": (lambda: mfsr.reconstruct(np.random.rand(3, 9, 9), 2, phase=[0.5]),
                    ("phase",)),
    "upsample empty": (lambda: mfsr.upsample(np.zeros((0, 6), np.float32), 2), ("image",)),
    "upsample 0 channels": (lambda: mfsr.upsample(np.zeros((5, 6, 0), np.float32), 2),
                            ("image",)),
    "upsample 5 channels": (lambda: mfsr.upsample(np.zeros((5, 6, 5), np.float32), 2),
                            ("image",)),
    "simulate channel_axis=3": (lambda: mfsr.simulate(np.random.rand(24, 20, 3), 2,
                                                      channel_axis=3), ("channel_axis",)),
    "simulate grey with channel_axis": (lambda: mfsr.simulate(np.random.rand(24, 20), 2,
                                                              channel_axis=-1), ("hr",)),
}


@pytest.mark.parametrize("case", list(FOUND_RAISING))
def test_found_invalid_inputs_raise_naming_the_argument(case):
    call, names = FOUND_RAISING[case]
    _raises_naming(call, names)


def test_found_valid_inputs_work():
    rng = _rng(0)
    # a Gaussian narrower than 1/8 HR px at a fractional phase (IndexError); through
    # reconstruct: the chroma's coarsened operator of psf=0.2 at x2
    bd = BlurDecimate((2, 2), 2, GaussianPSF(0.0625))
    dot_test(bd.forward, bd.adjoint, (2, 2), (1, 1), rng=rng, rtol=1e-12)
    rgb = rng.random((3, 8, 8, 3)).astype(np.float32)
    assert mfsr.reconstruct(rgb, 2, psf=0.2, noise=0.01).shape == (16, 16, 3)
    # channel_axis=1 transposed the frames
    frames = np.array([[[[162, 69, 10], [4, 207, 233]]]], np.uint8)      # (1, 1, 2, 3)
    assert mfsr.reconstruct(frames, 1, method="map", channel_axis=1, noise=0.0).shape \
        == (2, 3, 1)
    assert mfsr.register(rng.random((3, 3, 9, 12)), channel_axis=1).flows.shape \
        == (3, 9, 12, 2)
    # nested lists for a Motion (AttributeError)
    assert mfsr.Motion([[[[0.5, 0.5]]]], [[[0.5]]], 0).lr_shape == (1, 1)
    # the kernel merge with a noise level of 0, given or estimated on flat frames
    tiny = np.array([[[162, 69], [10, 4]]], np.uint8)
    assert mfsr.reconstruct(tiny, 1, method="kernel", noise=0.0).shape == (2, 2)
    flat = np.full((3, 8, 8), 0.5)
    for kwargs in ({"method": "kernel"}, {"init": "kernel"}):
        np.testing.assert_allclose(mfsr.reconstruct(flat, 2, **kwargs), 0.5, atol=1e-6)

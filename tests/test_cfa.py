"""CFA sampling, raw levels, half-size grey and the raw burst simulator."""
import numpy as np
import pytest

from mfsr.degradation.cfa import (CFA_PATTERNS, affine_to_cfa_grid, cfa_masks, flow_to_cfa_grid,
                                  half_size_grey, mosaic, mosaic_adjoint, raw_to_float)
from mfsr.degradation.burst import RawBurst, simulate_burst
from mfsr.degradation import dot_test
from mfsr.core.color import srgb_to_linear


@pytest.mark.parametrize("pattern", CFA_PATTERNS)
@pytest.mark.parametrize("shape", [(6, 8), (5, 7)])
def test_masks_partition_the_pixels(pattern, shape):
    m = cfa_masks(pattern, shape)
    assert m.shape == shape + (3,) and m.dtype == bool
    assert np.all(m.sum(axis=-1) == 1)
    H, W = shape
    for i in range(0, H - 1, 2):
        for j in range(0, W - 1, 2):
            assert m[i:i + 2, j:j + 2].sum(axis=(0, 1)).tolist() == [1, 2, 1]
    # the block reads the pattern row by row
    names = "RGB"
    assert "".join(names[int(np.argmax(m[i, j]))] for i, j in [(0, 0), (0, 1), (1, 0), (1, 1)]) \
        == pattern


@pytest.mark.parametrize("pattern", CFA_PATTERNS)
def test_mosaic_adjoint_dot_test(pattern):
    rng = np.random.default_rng(0)
    for lead in [(), (4,)]:
        x = rng.standard_normal(lead + (10, 12, 3))
        y = rng.standard_normal(lead + (10, 12))
        mx, mty = mosaic(x, pattern), mosaic_adjoint(y, pattern)
        assert mx.shape == y.shape and mty.shape == x.shape
        assert mx.dtype == np.float64 and mty.dtype == np.float64
        dot_test(lambda v: mosaic(v, pattern), lambda v: mosaic_adjoint(v, pattern), x.shape,
                 y.shape, rng=rng, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(mosaic(mty, pattern), y)  # M M^T = I
    # the stack is the frames one by one
    np.testing.assert_array_equal(mosaic(x, pattern)[2], mosaic(x[2], pattern))


@pytest.mark.parametrize("pattern", CFA_PATTERNS)
def test_mosaic_of_a_constant_colour(pattern):
    colour = np.array([0.1, 0.5, 0.9])
    raw = mosaic(np.broadcast_to(colour, (6, 6, 3)).copy(), pattern)
    m = cfa_masks(pattern, (6, 6))
    for c in range(3):
        np.testing.assert_array_equal(raw[m[..., c]], colour[c])
    value = {"R": 0.1, "G": 0.5, "B": 0.9}
    assert [raw[0, 0], raw[0, 1], raw[1, 0], raw[1, 1]] == [value[p] for p in pattern]
    assert raw.dtype == np.float64
    assert mosaic(np.zeros((4, 4, 3), np.float32), pattern).dtype == np.float32


def test_raw_to_float_levels():
    raw = np.array([[0, 64, 1088, 4000], [576, 832, 64, 1088]], dtype=np.uint16)
    out = raw_to_float(raw, 64, 1088)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0, 0, 1, 1], [0.5, 0.75, 0, 1]])
    free = raw_to_float(raw, 64, 1088, clip=False)
    assert free[0, 0] == pytest.approx(-64 / 1024) and free[0, 3] > 1
    # per site, in pattern order: (0, 0), (0, 1), (1, 0), (1, 1)
    black = (0, 64, 576, 64)
    per = raw_to_float(raw.astype(np.float64), black, (1024, 1088, 1088, 1088), clip=False)
    assert per.dtype == np.float64
    assert per[0, 0] == 0.0 and per[0, 2] == pytest.approx(1088 / 1024)   # site (0, 0)
    assert per[0, 1] == 0.0 and per[0, 3] == pytest.approx((4000 - 64) / 1024)  # site (0, 1)
    assert per[1, 0] == 0.0 and per[1, 2] == pytest.approx((64 - 576) / 512)  # site (1, 0)
    assert per[1, 1] == pytest.approx(768 / 1024)  # site (1, 1)
    # a stack gets the same levels on every frame
    stack = raw_to_float(np.stack([raw, raw]), black, 1088)
    np.testing.assert_array_equal(stack[1], raw_to_float(raw, black, 1088))


def test_raw_to_float_errors():
    raw = np.zeros((4, 4), np.uint16)
    with pytest.raises(ValueError, match="white_level"):
        raw_to_float(raw, 100, 100)
    with pytest.raises(ValueError, match="white_level"):
        raw_to_float(raw, (0, 0, 2000, 0), 1023)
    with pytest.raises(TypeError, match="black_level"):
        raw_to_float(raw, (0, 0, 0), 1023)
    with pytest.raises(TypeError, match="white_level"):
        raw_to_float(raw, 0, "max")
    with pytest.raises(ValueError, match="raw"):
        raw_to_float(np.zeros(4), 0, 1)
    with pytest.raises(ValueError, match="raw"):
        raw_to_float(np.full((2, 2), np.nan), 0, 1)
    with pytest.raises(TypeError, match="raw"):
        raw_to_float(np.full((2, 2), -1, np.int16), 0, 1)


@pytest.mark.parametrize("pattern", CFA_PATTERNS)
def test_half_size_grey_of_a_flat_colour(pattern):
    raw = mosaic(np.broadcast_to([0.2, 0.4, 0.8], (3, 8, 6, 3)).copy(), pattern)
    grey = half_size_grey(raw, pattern)
    assert grey.shape == (3, 4, 3)
    np.testing.assert_allclose(grey, (0.2 + 0.4 + 0.4 + 0.8) / 4)
    assert half_size_grey(raw.astype(np.float32), pattern).dtype == np.float32
    with pytest.raises(ValueError, match="even"):
        half_size_grey(raw[..., :5], pattern)


def test_flow_to_cfa_grid_arithmetic():
    # an affine field on the half grid (q -> A q) must become the affine field of the
    # same motion on the CFA grid, with half pixel (i, j) at CFA (2 i + 0.5, 2 j + 0.5)
    a_half = np.array([[1.01, -0.02, 0.3], [0.015, 0.99, -0.7]])
    h, w = 6, 8
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    q = np.stack([xx, yy], -1)
    flow_half = q @ a_half[:, :2].T + a_half[:, 2] - q
    full = flow_to_cfa_grid(flow_half)
    assert full.shape == (2 * h, 2 * w, 2) and full.dtype == np.float32
    a_full = affine_to_cfa_grid(a_half)
    Y, X = np.mgrid[0:2 * h, 0:2 * w].astype(float)
    p = np.stack([X, Y], -1)
    expected = p @ a_full[:, :2].T + a_full[:, 2] - p
    inner = (slice(1, -1), slice(1, -1))  # the outer half pixel is clamped
    np.testing.assert_allclose(full[inner], expected[inner], atol=1e-5)
    # the mapped matrix maps block centres to block centres
    qpt = np.array([2.0, 3.0])
    np.testing.assert_allclose(a_full[:, :2] @ (2 * qpt + 0.5) + a_full[:, 2],
                               2 * (a_half[:, :2] @ qpt + a_half[:, 2]) + 0.5)
    # a stack, and a pure translation just doubles
    stack = flow_to_cfa_grid(np.broadcast_to([0.25, -1.5], (2, 3, 4, 2)).copy())
    assert stack.shape == (2, 6, 8, 2)
    np.testing.assert_array_equal(stack[..., 0], 0.5)
    np.testing.assert_array_equal(stack[..., 1], -3.0)
    with pytest.raises(ValueError, match="flow_half"):
        flow_to_cfa_grid(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="matrix_half"):
        affine_to_cfa_grid(np.eye(3))


@pytest.mark.parametrize("rotation", [0.0, 0.5])
def test_flow_to_cfa_grid_recovers_a_known_motion(astronaut, rotation):
    # register the half-size grey images (ECC affine), bring the flow to the CFA grid and
    # compare with the true motion of the simulation (frame k -> reference, CFA px)
    from mfsr.registration.global_motion import affine_to_flow, flow_ecc

    burst = simulate_burst(astronaut, n_frames=4, scale=2, shift=3.0, rotation=rotation,
                           noise=None, seed=0)
    grey = half_size_grey(burst.frames, burst.pattern)
    assert grey.shape == (4, 32, 32)
    inner = (slice(8, -8), slice(8, -8))
    for k in (1, 2, 3):
        flow = flow_to_cfa_grid(flow_ecc(grey[k], grey[0]))
        true = affine_to_flow(burst.motions[k], burst.frames.shape[1:])
        assert np.abs(true).max() > 1.0
        error = np.abs(flow[inner] - true[inner])  # ECC on an aliased mosaic: ~0.1 px
        assert error.mean() < 0.1 and error.max() < 0.3
        # not the half-grid numbers: forgetting the x2 would be off by > 0.5 px
        assert np.abs(flow[inner] / 2 - true[inner]).max() > 0.5


def test_simulate_burst_shapes_and_determinism(astronaut):
    a = simulate_burst(astronaut, n_frames=4, pattern="GRBG", scale=2, seed=5)
    assert isinstance(a, RawBurst)
    assert a.frames.shape == (4, 64, 64) and a.frames.dtype == np.float32
    assert a.truth.shape == (128, 128, 3) and a.motions.shape == (4, 2, 3)
    assert a.pattern == "GRBG" and a.object_masks is None
    assert 0 <= a.frames.min() and a.frames.max() <= 1
    np.testing.assert_array_equal(a.motions[0], [[1, 0, 0], [0, 1, 0]])
    # truth is the linearised scene seen from frame 0
    np.testing.assert_allclose(a.truth, srgb_to_linear(astronaut / 255.0), atol=1e-6)
    b = simulate_burst(astronaut, n_frames=4, pattern="GRBG", scale=2, seed=5)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.motions, b.motions)
    c = simulate_burst(astronaut, n_frames=4, pattern="GRBG", scale=2, seed=6)
    assert not np.array_equal(a.frames, c.frames)
    # motions stay within the limits (rotation about the centre, translation +-shift)
    angles = np.degrees(np.arctan2(a.motions[:, 1, 0], a.motions[:, 0, 0]))
    assert np.all(np.abs(angles) <= 0.5)
    # without motion or noise, frame 0 is the mosaic of the blurred, decimated truth
    d = simulate_burst(astronaut, n_frames=2, scale=2, shift=0.0, rotation=0.0, noise=None)
    np.testing.assert_allclose(d.frames[0], d.frames[1], atol=1e-6)


def test_simulate_burst_noise_variance():
    colour = np.array([0.3, 0.6, 0.9])  # sRGB
    flat = np.broadcast_to(colour, (256, 256, 3)).copy()
    a, b = 1e-4, 4e-6
    burst = simulate_burst(flat, n_frames=2, pattern="BGGR", scale=2, shift=0.0,
                           rotation=0.0, noise=(a, b), seed=1)
    linear = srgb_to_linear(colour)
    masks = cfa_masks("BGGR", burst.frames.shape[1:])
    for c in range(3):
        values = burst.frames[:, masks[..., c]].astype(np.float64)
        assert values.mean() == pytest.approx(linear[c], abs=1e-3)
        assert values.var() == pytest.approx(a * linear[c] + b, rel=0.1)


def test_simulate_burst_moving_object(astronaut):
    burst = simulate_burst(astronaut, n_frames=4, scale=2, moving_object=True, seed=0)
    masks = burst.object_masks
    assert masks.shape == burst.frames.shape and masks.dtype == bool
    assert all(m.any() for m in masks)
    cols = [np.nonzero(m.any(axis=0))[0].mean() for m in masks]
    assert np.all(np.diff(cols) > 1)  # it moves to the right
    # the object is bright where its mask is (value 1, blurred at its edges only)
    inner = masks[1] & np.roll(masks[1], 2, 0) & np.roll(masks[1], -2, 0) \
        & np.roll(masks[1], 2, 1) & np.roll(masks[1], -2, 1)
    assert burst.frames[1][inner].mean() > 0.95
    custom = simulate_burst(astronaut, n_frames=3, scale=2, seed=0,
                            moving_object={"size": 4, "start": (10, 20), "velocity": (0, 3)})
    rows = [np.nonzero(m.any(axis=1))[0] for m in custom.object_masks]
    assert [r.min() for r in rows] == [20, 23, 26] and len(rows[0]) == 4


def test_simulate_burst_bad_arguments(astronaut):
    with pytest.raises(ValueError, match="pattern"):
        simulate_burst(astronaut, pattern="RGBG")
    with pytest.raises(TypeError, match="pattern"):
        simulate_burst(astronaut, pattern=1)
    with pytest.raises(ValueError, match="n_frames"):
        simulate_burst(astronaut, n_frames=0)
    with pytest.raises(ValueError, match="scale"):
        simulate_burst(astronaut, scale=0)
    with pytest.raises(ValueError, match="shift"):
        simulate_burst(astronaut, shift=-1)
    with pytest.raises(ValueError, match="rotation"):
        simulate_burst(astronaut, rotation=-1)
    with pytest.raises(TypeError, match="noise"):
        simulate_burst(astronaut, noise=0.01)
    with pytest.raises(ValueError, match="noise"):
        simulate_burst(astronaut, noise=(-1, 0))
    with pytest.raises(ValueError, match="moving_object"):
        simulate_burst(astronaut, moving_object={"speed": 1})
    with pytest.raises(TypeError, match="moving_object"):
        simulate_burst(astronaut, moving_object="square")
    with pytest.raises(ValueError, match="image"):
        simulate_burst(astronaut[..., :2])
    with pytest.raises(ValueError, match="image"):
        simulate_burst(astronaut[:4, :4])
    with pytest.raises(ValueError, match="shape"):
        cfa_masks("RGGB", (4,))
    with pytest.raises(ValueError, match="rgb"):
        mosaic(np.zeros((4, 4)), "RGGB")
    with pytest.raises(ValueError, match="raw"):
        mosaic_adjoint(np.zeros(4), "RGGB")

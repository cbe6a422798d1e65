"""Camera raw input (mfsr.io.raw, through rawpy/LibRaw) and sRGB rendering (color.render_srgb).

No downloaded file is needed: the raw tests write small CFA DNGs with tifffile (the tags
of DNG 1.4: CFARepeatPatternDim/CFAPattern, BlackLevelRepeatDim/BlackLevel, WhiteLevel,
ColorMatrix1, AsShotNeutral, ActiveArea, ...) with known content and read them back
through LibRaw. They skip when rawpy or tifffile is missing; the render_srgb tests need
neither.
"""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from mfsr.core.color import linear_to_srgb, render_srgb
from mfsr.degradation.cfa import CFA_PATTERNS, raw_to_float

SKIP_RAWPY = "rawpy (LibRaw) is not installed (pip install 'mfsr[raw]')"

# An Adobe-style XYZ -> camera matrix (ColorMatrix of a Canon EOS 5D Mark II, D65).
CAMERA_XYZ = np.array([[0.4716, 0.0603, -0.0830],
                       [-0.7798, 1.5474, 0.2480],
                       [-0.1496, 0.1937, 0.6651]])


@pytest.fixture
def rawpy():
    return pytest.importorskip("rawpy", reason=SKIP_RAWPY)


@pytest.fixture
def make_dng(rawpy, tmp_path):
    """Write a CFA DNG and return its path (see _write_dng)."""
    tifffile = pytest.importorskip("tifffile", reason="tifffile is needed to write test DNGs")
    count = [0]

    def make(data, name=None, **kw):
        count[0] += 1
        path = tmp_path / (name or f"frame{count[0]}.dng")
        _write_dng(tifffile, str(path), data, **kw)
        return str(path)

    return make


def _rationals(values, den=10000):
    out = []
    for v in np.ravel(values):
        out += [int(round(float(v) * den)), den]
    return tuple(out)


def _write_dng(tifffile, path, data, pattern="RGGB", black=(64, 64, 64, 64), white=1023,
               neutral=(0.5, 1.0, 0.8), color_matrix=CAMERA_XYZ, active_area=None,
               cfa_dim=(2, 2), cfa=None):
    """A minimal uncompressed CFA DNG (one IFD, 16-bit samples)."""
    if cfa is None:
        cfa = bytes("RGB".index(c) for c in pattern)
    tags = [
        (33421, "H", 2, tuple(cfa_dim), True),                # CFARepeatPatternDim
        (33422, "B", len(cfa), bytes(cfa), True),             # CFAPattern
        (50706, "B", 4, bytes((1, 4, 0, 0)), True),           # DNGVersion
        (50707, "B", 4, bytes((1, 1, 0, 0)), True),           # DNGBackwardVersion
        (50708, "s", 0, "mfsr test camera", True),            # UniqueCameraModel
        (50710, "B", 3, bytes((0, 1, 2)), True),              # CFAPlaneColor
        (50711, "H", 1, 1, True),                             # CFALayout: rectangular
        (50717, "H", 1, int(white), True),                    # WhiteLevel
        (50721, "2i", 9, _rationals(color_matrix), True),  # ColorMatrix1 (SRATIONAL)
        (50778, "H", 1, 21, True),                            # CalibrationIlluminant1: D65
        (271, "s", 0, "mfsr", True),                          # Make
        (272, "s", 0, "test camera", True),                   # Model
    ]
    if np.ndim(black) == 0:
        tags.append((50714, "H", 1, int(black), True))        # BlackLevel
    else:
        tags.append((50713, "H", 2, (2, 2), True))            # BlackLevelRepeatDim
        tags.append((50714, "H", 4, tuple(int(b) for b in black), True))
    if neutral is not None:
        tags.append((50728, "2I", 3, _rationals(neutral), True))  # AsShotNeutral
    if active_area is not None:
        tags.append((50829, "I", 4, tuple(active_area), True))  # ActiveArea: t, l, b, r
    tifffile.imwrite(path, np.asarray(data, dtype=np.uint16), photometric=32803,
                     subfiletype=0, metadata=None, software=False, extratags=tags)


def _data(shape=(32, 48), low=64, high=1023, seed=0):
    # LibRaw refuses images under 22 pixels on a side
    return np.random.default_rng(seed).integers(low, high + 1, size=shape, dtype=np.uint16)


# --- read_raw ------------------------------------------------------------------------------

def test_read_raw_recovers_mosaic_levels_and_white_balance(make_dng):
    from mfsr.io import RawImage, read_raw
    data = _data()
    path = make_dng(data, black=(60, 62, 64, 66), white=1000, neutral=(0.5, 1.0, 0.8))
    frame = read_raw(pathlib.Path(path))
    assert isinstance(frame, RawImage)
    assert frame.path == path
    assert frame.mosaic.dtype == np.uint16 and frame.shape == data.shape
    np.testing.assert_array_equal(frame.mosaic, data)
    assert frame.pattern == "RGGB"
    assert frame.black_level == (60.0, 62.0, 64.0, 66.0)
    assert frame.white_level == 1000.0
    # AsShotNeutral n -> multipliers 1/n, normalised to G = 1
    np.testing.assert_allclose(frame.white_balance, [2.0, 1.0, 1.25], rtol=1e-6)
    assert frame.white_balance_source == "as_shot"
    assert frame.flip == 0


@pytest.mark.parametrize("pattern", CFA_PATTERNS)
def test_read_raw_pattern_and_per_site_black(make_dng, pattern):
    from mfsr.io import read_raw
    data = _data(seed=1)
    black = (50, 70, 90, 110)  # per site of the 2x2 block, row by row
    frame = read_raw(make_dng(data, pattern=pattern, black=black, white=4000))
    assert frame.pattern == pattern
    assert frame.black_level == tuple(float(b) for b in black)
    assert frame.white_level == 4000.0
    np.testing.assert_array_equal(frame.mosaic, data)


def test_to_float_is_raw_to_float_with_the_site_levels(make_dng):
    from mfsr.io import read_raw
    data = _data(low=0, high=1100, seed=2)  # below black and above white too
    frame = read_raw(make_dng(data, pattern="GBRG", black=(40, 50, 60, 70), white=1000))
    out = frame.to_float()
    assert out.dtype == np.float32 and out.shape == data.shape
    black_map = np.tile(np.array([[40, 50], [60, 70]], float), (16, 24))
    expected = np.clip((data - black_map) / (1000 - black_map), 0, 1)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_array_equal(out, raw_to_float(data, (40, 50, 60, 70), 1000))
    unclipped = frame.to_float(clip=False)
    assert unclipped.min() < 0 and unclipped.max() > 1


def test_read_raw_even_active_area_is_the_visible_crop(make_dng):
    from mfsr.io import read_raw
    data = _data(shape=(36, 52), seed=3)
    frame = read_raw(make_dng(data, pattern="GRBG", active_area=(2, 4, 34, 50)))
    np.testing.assert_array_equal(frame.mosaic, data[2:34, 4:50])
    assert frame.pattern == "GRBG"


def test_read_raw_odd_active_area_rounds_up_and_keeps_the_pattern_phase(make_dng):
    # LibRaw starts the visible area of a Bayer sensor on an even row and column: an
    # ActiveArea from (1, 3) is read from (2, 4). The DNG CFAPattern is relative to the
    # ActiveArea origin, so RGGB there is BGGR at (2, 4).
    from mfsr.io import read_raw
    data = _data(shape=(34, 50), seed=4)
    frame = read_raw(make_dng(data, pattern="RGGB", black=64, active_area=(1, 3, 33, 49)))
    np.testing.assert_array_equal(frame.mosaic, data[2:33, 4:49])
    assert frame.pattern == "BGGR"
    assert frame.black_level == (64.0,) * 4


def test_read_raw_color_matrix_from_the_dng_color_matrix(make_dng):
    from mfsr.io import read_raw
    from mfsr.io.raw import SRGB_TO_XYZ, cam_xyz_to_srgb
    frame = read_raw(make_dng(_data(seed=5), color_matrix=CAMERA_XYZ))
    assert frame.color_matrix.shape == (3, 3)
    assert frame.color_matrix_source in ("rgb_xyz_matrix", "color_matrix")
    cam_rgb = CAMERA_XYZ @ SRGB_TO_XYZ
    expected = np.linalg.inv(cam_rgb / cam_rgb.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(cam_xyz_to_srgb(CAMERA_XYZ), expected)
    np.testing.assert_allclose(frame.color_matrix, expected, atol=2e-4)
    np.testing.assert_allclose(frame.color_matrix.sum(axis=1), 1.0, atol=1e-4)


def test_read_raw_white_balance_fallback_without_as_shot_neutral(make_dng):
    from mfsr.io import read_raw
    frame = read_raw(make_dng(_data(seed=6), neutral=None))
    assert frame.white_balance_source in ("daylight", "none")
    assert frame.white_balance.shape == (3,) and frame.white_balance[1] == 1.0
    assert np.all(np.isfinite(frame.white_balance)) and np.all(frame.white_balance > 0)


def test_read_raw_path_errors(rawpy, tmp_path):
    from mfsr.io import read_raw
    missing = str(tmp_path / "nope.dng")
    with pytest.raises(FileNotFoundError, match="nope.dng"):
        read_raw(missing)
    with pytest.raises(ValueError, match="not a file"):
        read_raw(str(tmp_path))
    with pytest.raises(TypeError, match="path"):
        read_raw(3)
    text = tmp_path / "notes.dng"
    text.write_text("not a raw file\n" * 400)
    with pytest.raises(ValueError, match="LibRaw") as info:
        read_raw(str(text))
    assert "notes.dng" in str(info.value)
    assert "Unsupported file format" in str(info.value)  # LibRaw's own message


def test_read_raw_rejects_x_trans(make_dng):
    from mfsr.io import read_raw
    xtrans = "GGRGGB" "GGBGGR" "BRGRBG" "GGBGGR" "GGRGGB" "RBGBRG"
    path = make_dng(_data(shape=(36, 48), seed=7), cfa=bytes("RGB".index(c) for c in xtrans),
                    cfa_dim=(6, 6), black=64)
    with pytest.raises(ValueError, match="X-Trans") as info:
        read_raw(path)
    assert os.path.basename(path) in str(info.value)


def test_read_raw_rejects_linear_dng(rawpy, tmp_path):
    tifffile = pytest.importorskip("tifffile")
    from mfsr.io import read_raw
    path = str(tmp_path / "linear.dng")
    rgb = np.stack([_data(seed=8)] * 3, axis=-1)
    tifffile.imwrite(path, rgb, photometric=34892, subfiletype=0, metadata=None,
                     software=False, extratags=[(50706, "B", 4, bytes((1, 4, 0, 0)), True),
                                                (50708, "s", 0, "mfsr test", True),
                                                (50717, "H", 1, 1023, True)])
    with pytest.raises(ValueError, match="not a Bayer mosaic") as info:
        read_raw(path)
    assert "linear.dng" in str(info.value)


# --- read_raw_burst ------------------------------------------------------------------------

def test_read_raw_burst_stacks_frames_with_shared_metadata(make_dng):
    from mfsr.io import RawBurstFiles, read_raw, read_raw_burst
    datas = [_data(seed=10 + k) for k in range(3)]
    neutrals = [(0.5, 1.0, 0.8), (0.6, 1.0, 0.7), (0.4, 1.0, 0.9)]
    paths = [make_dng(d, pattern="BGGR", black=(60, 61, 62, 63), white=1000, neutral=n)
             for d, n in zip(datas, neutrals)]
    burst = read_raw_burst(paths)
    assert isinstance(burst, RawBurstFiles) and len(burst) == 3
    assert burst.frames.shape == (3, 32, 48) and burst.frames.dtype == np.float32
    for k, path in enumerate(paths):
        np.testing.assert_array_equal(burst.frames[k], read_raw(path).to_float())
    assert burst.pattern == "BGGR"
    assert burst.black_level == (60.0, 61.0, 62.0, 63.0) and burst.white_level == 1000.0
    assert burst.paths == tuple(paths)
    np.testing.assert_allclose(burst.white_balance, [2.0, 1.0, 1.25], rtol=1e-6)  # frame 0's
    assert read_raw_burst(paths, clip=False).frames.shape == (3, 32, 48)


@pytest.mark.parametrize("change", ["pattern", "size", "black", "white"])
def test_read_raw_burst_names_the_odd_frame(make_dng, change):
    from mfsr.io import read_raw_burst
    base = dict(pattern="RGGB", black=64, white=1023)
    odd = dict(base)
    shape = (32, 48)
    if change == "pattern":
        odd["pattern"] = "GRBG"
    elif change == "black":
        odd["black"] = 80
    elif change == "white":
        odd["white"] = 900
    else:
        shape = (32, 50)
    first = make_dng(_data(), **base)
    second = make_dng(_data(shape=shape), name="odd_one.dng", **odd)
    with pytest.raises(ValueError, match="odd_one.dng"):
        read_raw_burst([first, second])


def test_read_raw_burst_argument_errors(make_dng):
    from mfsr.io import read_raw_burst
    path = make_dng(_data())
    with pytest.raises(TypeError, match="single path"):
        read_raw_burst(path)
    with pytest.raises(ValueError, match="empty"):
        read_raw_burst([])
    with pytest.raises(TypeError, match="paths"):
        read_raw_burst(5)
    with pytest.raises(FileNotFoundError, match="missing.dng"):
        read_raw_burst([path, os.path.join(os.path.dirname(path), "missing.dng")])
    assert read_raw_burst([path]).frames.shape == (1, 32, 48)


# --- rawpy stays optional ------------------------------------------------------------------

def test_without_rawpy_import_works_and_readers_say_how_to_install(monkeypatch, tmp_path):
    from mfsr.io import read_raw, read_raw_burst
    monkeypatch.setitem(sys.modules, "rawpy", None)  # makes `import rawpy` fail
    with pytest.raises(ImportError, match=r'pip install "mfsr\[raw\]"'):
        read_raw(str(tmp_path / "a.dng"))
    with pytest.raises(ImportError, match=r'pip install "mfsr\[raw\]"'):
        read_raw_burst([str(tmp_path / "a.dng")])


def test_importing_mfsr_does_not_import_rawpy():
    code = ("import sys; sys.modules['rawpy'] = None\n"
            "import mfsr, mfsr.io, mfsr.io.raw\n"
            "from mfsr.io import read_raw, read_raw_burst, RawImage\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")


# --- render_srgb ---------------------------------------------------------------------------

def _rgb(shape=(6, 7, 3), low=0.0, high=1.0, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)


def test_render_srgb_identity_is_the_srgb_oetf():
    rgb = _rgb()
    out = render_srgb(rgb)
    assert out.dtype == np.float32 and out.shape == rgb.shape
    np.testing.assert_array_equal(out, linear_to_srgb(rgb))
    np.testing.assert_array_equal(render_srgb(rgb, np.ones(3), np.eye(3), 1.0), out)
    assert render_srgb(rgb) is not rgb and np.array_equal(rgb, _rgb())  # input untouched


def test_render_srgb_applies_white_balance_then_matrix_then_exposure():
    rgb = _rgb(low=0.0, high=0.3, seed=1)
    wb = np.array([2.0, 1.0, 1.5])
    matrix = np.array([[1.6, -0.4, -0.2], [-0.2, 1.4, -0.2], [0.0, -0.5, 1.5]])
    out = render_srgb(rgb, white_balance=wb, color_matrix=matrix, exposure=1.5)
    linear = 1.5 * np.einsum("ij,hwj->hwi", matrix, rgb.astype(np.float64) * wb)
    np.testing.assert_allclose(out, linear_to_srgb(np.clip(linear, 0, 1)), atol=2e-6)


def test_render_srgb_clips_in_linear_light():
    rgb = np.array([[[1.5, -0.2, 0.5]]], dtype=np.float32)
    out = render_srgb(rgb)
    np.testing.assert_allclose(out[0, 0], [1.0, 0.0, linear_to_srgb(np.float32(0.5))])
    assert out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(render_srgb(rgb * 0.5, exposure=2.0), out)
    free = render_srgb(rgb, clip=False)  # the OETF's extension outside [0, 1]
    np.testing.assert_allclose(free, linear_to_srgb(rgb), rtol=1e-6)
    assert free[0, 0, 0] > 1 and free[0, 0, 1] == pytest.approx(-0.2 * 12.92)


def test_render_srgb_stacks_dtypes_and_integers():
    stack = _rgb(shape=(2, 4, 5, 3), seed=2)
    np.testing.assert_array_equal(render_srgb(stack), linear_to_srgb(stack))
    double = _rgb(seed=3, dtype=np.float64)
    assert render_srgb(double).dtype == np.float64
    ints = np.array([[[0, 65535, 32768]]], dtype=np.uint16)
    np.testing.assert_allclose(render_srgb(ints)[0, 0],
                               linear_to_srgb(np.array([0, 1, 32768 / 65535])), rtol=1e-6)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(linear_rgb=np.zeros((4, 4))), ValueError, "linear_rgb"),
    (dict(linear_rgb=np.zeros((4, 4, 4))), ValueError, "linear_rgb"),
    (dict(linear_rgb=np.full((2, 2, 3), np.nan)), ValueError, "linear_rgb"),
    (dict(linear_rgb="image"), TypeError, "linear_rgb"),
    (dict(white_balance=(1.0, 1.0)), ValueError, "white_balance"),
    (dict(white_balance=(1.0, np.inf, 1.0)), ValueError, "white_balance"),
    (dict(white_balance=(1.0, 0.0, 1.0)), ValueError, "white_balance"),
    (dict(white_balance="abc"), TypeError, "white_balance"),
    (dict(color_matrix=np.eye(4)[:3]), ValueError, "color_matrix"),
    (dict(color_matrix=np.full((3, 3), np.nan)), ValueError, "color_matrix"),
    (dict(exposure=0.0), ValueError, "exposure"),
    (dict(exposure=float("nan")), ValueError, "exposure"),
    (dict(exposure="2"), TypeError, "exposure"),
    (dict(clip="yes"), TypeError, "clip"),
])
def test_render_srgb_errors_name_the_argument(kwargs, error, match):
    args = dict(linear_rgb=_rgb())
    args.update(kwargs)
    with pytest.raises(error, match=match):
        render_srgb(**args)


def test_render_srgb_on_cupy_matches_numpy():
    cp = pytest.importorskip("cupy", reason="CuPy is not installed (pip install 'mfsr[gpu]')")
    from mfsr.core.backend import gpu_available
    if not gpu_available():
        pytest.skip("no CUDA device")
    rgb = _rgb(seed=4)
    wb, matrix = (2.0, 1.0, 1.5), np.array([[1.5, -0.3, -0.2], [-0.1, 1.2, -0.1], [0, -0.4, 1.4]])
    out = render_srgb(cp.asarray(rgb), wb, matrix, exposure=1.2)
    assert isinstance(out, cp.ndarray) and out.dtype == cp.float32
    np.testing.assert_allclose(cp.asnumpy(out), render_srgb(rgb, wb, matrix, exposure=1.2),
                               atol=1e-6)


def test_render_srgb_renders_a_read_raw_frame(make_dng):
    # end to end on a flat grey target: a half-size "demosaic" by 2x2 block, then render
    from mfsr.io import read_raw
    data = np.full((32, 48), 64 + 400, dtype=np.uint16)
    frame = read_raw(make_dng(data, neutral=(0.5, 1.0, 0.8)))
    cfa = frame.to_float()
    rgb = np.stack([cfa[0::2, 0::2], (cfa[0::2, 1::2] + cfa[1::2, 0::2]) / 2, cfa[1::2, 1::2]],
                   axis=-1)
    out = render_srgb(rgb, frame.white_balance, frame.color_matrix)
    assert out.shape == (16, 24, 3) and out.dtype == np.float32
    assert np.all((out >= 0) & (out <= 1))

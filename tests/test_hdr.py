"""SDR -> HDR10 / HLG (mfsr.grading's transfer, tonemap and metadata modules): the tone
curve's anchors and shape, the transfer functions' known values, the light-level metadata
and the argument checks."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mfsr import grading
from mfsr.grading.transfer import colour_science

# through mfsr.grading: a plain ``import colour`` would leave NumPy's print options at
# legacy="1.13" for the rest of the session
colour = colour_science()

DW_SIGNAL = float(colour.models.eotf_inverse_BT1886(grading.DIFFUSE_WHITE))


def _grey(values):
    """(N, 1, 3) grey frame column of the given signal levels."""
    v = np.asarray(values, dtype=np.float64).reshape(-1, 1, 1)
    return np.repeat(v, 3, axis=2)


def _curve_at(luminance, **kw):
    """The inverse tone curve f at SDR relative luminances (through grey BT.1886 signals)."""
    signal = colour.models.eotf_inverse_BT1886(np.asarray(luminance, dtype=np.float64))
    return grading.inverse_tone_map(_grey(signal), **kw)[:, 0, 1]


def _xy(rgb_2020):
    xyz = colour.RGB_to_XYZ(rgb_2020, colour.RGB_COLOURSPACES["ITU-R BT.2020"])
    return colour.XYZ_to_xy(xyz)


# ------------------------------------------------------------------- the tone curve


def test_diffuse_white_is_method_c_and_bt1886_signal_096():
    # BT.2446 method C's forward curve with its published k2, k4 puts 203 cd/m2 here
    k2, k4, y_ip = 15.09968, 78.99439, 58.535 / 0.83802
    expected = (k2 * np.log(203.0 / y_ip - 0.74204) + k4) / 100.0
    assert grading.DIFFUSE_WHITE == pytest.approx(expected, abs=2e-5)
    assert DW_SIGNAL == pytest.approx(0.960, abs=5e-4)


@pytest.mark.parametrize("transfer", ["pq", "hlg"])
def test_flat_diffuse_white_frame_decodes_to_203_nits(transfer):
    frame = np.full((8, 8, 3), DW_SIGNAL, np.float32)
    nits = grading.decode(grading.sdr_to_hdr(frame, transfer, peak=1000.0), transfer, peak=1000.0)
    assert np.allclose(nits, 203.0, rtol=0.02)
    assert np.allclose(nits, 203.0, rtol=1e-4)  # float signal: the curve itself is exact


def test_diffuse_white_with_srgb_linearisation():
    signal = float(colour.models.eotf_inverse_sRGB(grading.DIFFUSE_WHITE))
    out = grading.inverse_tone_map(_grey([signal]), sdr_eotf="srgb")
    assert out[0, 0] == pytest.approx([203.0] * 3, rel=1e-6)


@pytest.mark.parametrize("peak", [400.0, 1000.0, 4000.0])
@pytest.mark.parametrize("transfer", ["pq", "hlg"])
def test_sdr_white_maps_to_peak(peak, transfer):
    white = np.ones((4, 4, 3))
    assert np.allclose(grading.inverse_tone_map(white, peak=peak), peak, rtol=1e-9)
    nits = grading.decode(grading.sdr_to_hdr(white, transfer, peak=peak), transfer, peak=peak)
    assert np.allclose(nits, peak, rtol=1e-6)


@pytest.mark.parametrize("peak", [300.0, 1000.0, 10000.0])
def test_curve_increases_on_a_ramp(peak):
    nits = grading.inverse_tone_map(_grey(np.linspace(0.0, 1.0, 4097)), peak=peak)[:, 0, 0]
    assert nits[0] == 0.0
    assert np.all(np.diff(nits) > 0)
    # colour ramps too: every channel non-decreasing as one channel rises
    ramp = np.zeros((256, 1, 3))
    ramp[:, 0, 0] = np.linspace(0, 1, 256)
    ramp[:, 0, 1] = 0.5
    out = grading.inverse_tone_map(ramp, peak=peak)
    assert np.all(np.diff(out[:, 0, 0]) > 0) and np.all(np.diff(out[:, 0, 1]) >= 0)


def test_curve_is_continuous_with_continuous_slope_at_the_knee():
    w, eps = grading.DIFFUSE_WHITE, 1e-6
    below, at, above = _curve_at([w - eps, w, w + eps])
    slope = 203.0 / w
    assert at == pytest.approx(203.0, rel=1e-9)
    assert (at - below) / eps == pytest.approx(slope, rel=1e-4)
    assert (above - at) / eps == pytest.approx(slope, rel=1e-4)
    # a jump or a kink of 1 % would show at this step
    assert abs((above - at) - (at - below)) < 1e-3 * slope * eps


def test_curve_follows_the_documented_method_c_formulas():
    p = grading.itm_parameters(1000.0)
    assert p["y_hdr_ip"] == 203.0 and p["y_sdr_ip"] == grading.DIFFUSE_WHITE
    y = np.array([0.01, 0.18, 0.5, 0.9, 0.93, 0.97, 0.99, 1.0])
    expected = np.where(y < p["y_sdr_ip"], y / p["k1"],
                        p["y_hdr_ip"] * (np.exp((y - p["k4"]) / p["k2"]) + p["k3"]))
    assert np.allclose(_curve_at(y), expected, rtol=1e-9)


def test_lowest_peak_is_the_straight_line():
    lowest = 203.0 / grading.DIFFUSE_WHITE
    y = np.linspace(0, 1, 11)
    assert np.allclose(_curve_at(y, peak=lowest), 203.0 * y / grading.DIFFUSE_WHITE, rtol=1e-6)
    with pytest.raises(ValueError, match="peak"):
        grading.inverse_tone_map(_grey([0.5]), peak=lowest - 1.0)


# ------------------------------------------------------------------- colour


def test_bt709_white_stays_neutral_and_red_lands_on_bt709_red():
    frame = np.array([[[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.3, 0.3, 0.3]]])
    out = grading.inverse_tone_map(frame)
    assert np.ptp(out[0, 0]) < 1e-9 * out[0, 0, 0]
    assert np.ptp(out[0, 2]) < 1e-9 * out[0, 2, 0]
    matrix = colour.matrix_RGB_to_RGB(colour.RGB_COLOURSPACES["ITU-R BT.709"],
                                      colour.RGB_COLOURSPACES["ITU-R BT.2020"])
    red_2020 = matrix[:, 0]
    assert out[0, 1] / out[0, 1].sum() == pytest.approx(red_2020 / red_2020.sum(), rel=1e-9)
    assert _xy(out[0, 1]) == pytest.approx([0.64, 0.33], abs=1e-6)  # BT.709 red


def test_luminance_scaling_keeps_chromaticity_above_diffuse_white():
    frame = np.array([[[0.99, 0.97, 0.90], [1.0, 1.0, 0.2], [0.7, 0.98, 0.99]]])
    lin = colour.models.eotf_BT1886(frame) @ colour.matrix_RGB_to_RGB(
        colour.RGB_COLOURSPACES["ITU-R BT.709"], colour.RGB_COLOURSPACES["ITU-R BT.2020"]).T
    out = grading.inverse_tone_map(frame)
    assert np.allclose(_xy(out), _xy(lin), atol=1e-9)
    assert out.max() <= 1000.0 * (1 + 1e-9)   # no channel above peak
    assert out.min() >= 0.0


def test_out_of_range_sdr_is_clipped_and_dtypes_follow_the_input():
    x = np.random.default_rng(0).random((5, 6, 3))
    over = x.copy()
    over[0, 0] = (-0.1, 1.2, 0.5)
    clipped = np.clip(over, 0, 1)
    assert np.array_equal(grading.inverse_tone_map(over), grading.inverse_tone_map(clipped))
    assert grading.inverse_tone_map(x.astype(np.float32)).dtype == np.float32
    assert grading.sdr_to_hdr(x).dtype == np.float64
    u8 = np.round(x * 255).astype(np.uint8)
    assert np.allclose(grading.inverse_tone_map(u8), grading.inverse_tone_map(u8 / 255.0),
                       rtol=1e-5)
    # a stack of frames is the frames one by one
    stack = np.stack([x, x[::-1]])
    assert np.allclose(grading.sdr_to_hdr(stack, "hlg")[1], grading.sdr_to_hdr(x[::-1], "hlg"))


# ------------------------------------------------------------------- transfer functions


def test_pq_known_values():
    nits = np.array([[[10000.0, 100.0, 0.0]]])
    signal = grading.encode(nits, "pq")
    assert signal[0, 0, 0] == pytest.approx(1.0, abs=1e-9)
    assert signal[0, 0, 1] == pytest.approx(0.508, abs=5e-4)
    assert signal[0, 0, 2] == pytest.approx(0.0, abs=1e-6)
    # negative light has no code and light above 10000 is clipped
    assert grading.encode(np.array([[[-5.0, 20000.0, 0.0]]]), "pq")[0, 0, :2].tolist() == \
        pytest.approx([0.0, 1.0], abs=1e-6)


def test_hlg_reference_white_and_peak():
    grey = np.full((1, 1, 3), 203.0)
    assert grading.encode(grey, "hlg", peak=1000.0)[0, 0, 0] == pytest.approx(0.75, abs=1e-3)
    assert grading.decode(np.full((1, 1, 3), 0.75), "hlg", 1000.0)[0, 0, 0] == \
        pytest.approx(203.0, rel=2e-3)
    for peak in (600.0, 2000.0):  # signal 1 is the display's nominal peak, any peak
        assert grading.decode(np.ones((1, 1, 3)), "hlg", peak)[0, 0, 0] == \
            pytest.approx(peak, rel=1e-6)


@pytest.mark.parametrize("transfer", ["pq", "hlg"])
def test_decode_inverts_encode(transfer):
    # up to 500 cd/m2 per channel every colour is inside the 1000 cd/m2 HLG display's volume
    nits = np.random.default_rng(1).uniform(0.01, 500.0, (6, 7, 3))
    back = grading.decode(grading.encode(nits, transfer), transfer)
    assert np.allclose(back, nits, rtol=1e-6, atol=1e-6)


def test_hlg_clips_saturated_light_the_display_cannot_show():
    # HLG's scene light E = F_D / (L_W Y_S^(gamma-1)) exceeds 1 for a bright pure red
    red = np.array([[[900.0, 0.0, 0.0]]])
    assert grading.encode(red, "hlg")[0, 0, 0] == 1.0
    assert grading.decode(grading.encode(red, "hlg"), "hlg")[0, 0, 0] < 900.0


def test_max_cll_clips_linear_light_before_coding():
    signal = grading.sdr_to_hdr(np.ones((2, 2, 3)), "pq", peak=1000.0, max_cll=600.0)
    assert np.allclose(grading.decode(signal, "pq"), 600.0, rtol=1e-6)


# ------------------------------------------------------------------- SDR round trip


@pytest.mark.parametrize("transfer", ["pq", "hlg"])
def test_sdr_hdr_sdr_round_trip(transfer):
    x = np.random.default_rng(2).random((32, 32, 3))
    below = x.max(axis=-1) ** 2.4 <= grading.DIFFUSE_WHITE
    hdr_signal = grading.sdr_to_hdr(x, transfer)
    back = grading.tone_map_to_sdr(hdr_signal, transfer)
    assert np.abs(back - x)[below].max() < 1e-6
    assert np.abs(back - x).max() < 1e-6          # above diffuse white too
    back32 = grading.tone_map_to_sdr(grading.sdr_to_hdr(x.astype(np.float32), transfer), transfer)
    assert back32.dtype == np.float32 and np.abs(back32 - x).max() < 2e-3
    # 10-bit HDR codes: greys below diffuse white come back within one 8-bit code
    g = np.linspace(0.0, DW_SIGNAL, 512)
    codes = np.round(grading.sdr_to_hdr(_grey(g), transfer) * 1023) / 1023
    assert np.abs(grading.tone_map_to_sdr(codes, transfer)[:, 0, 0] - g).max() < 1 / 255


def test_tone_map_to_sdr_clips_light_above_peak_and_outside_bt709():
    nits = np.array([[[4000.0, 4000.0, 4000.0], [0.0, 500.0, 0.0]]])   # BT.2020 green
    sdr = grading.tone_map_to_sdr(grading.encode(nits, "pq"), "pq", peak=1000.0)
    assert sdr[0, 0].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert sdr.min() >= 0.0 and sdr.max() <= 1.0
    assert sdr[0, 1, 0] == 0.0 and sdr[0, 1, 2] == 0.0   # its red and blue went negative


# ------------------------------------------------------------------- light levels


def _brute_force_levels(frames):
    max_cll, max_fall = 0.0, 0.0
    for frame in frames:
        total = 0.0
        for row in frame:
            for r, g, b in row:
                level = max(r, g, b, 0.0)
                max_cll = max(max_cll, level)
                total += level
        max_fall = max(max_fall, total / (frame.shape[0] * frame.shape[1]))
    return max_cll, max_fall


def test_light_levels_match_a_brute_force_cta_861_3():
    rng = np.random.default_rng(3)
    frames = rng.uniform(-5.0, 300.0, (4, 9, 11, 3))
    frames[2, 4, 5] = (20.0, 950.0, 3.0)
    expected = _brute_force_levels(frames)
    assert grading.light_levels(frames) == pytest.approx(expected, rel=1e-12)
    assert grading.light_levels(frames)[0] == 950.0
    assert grading.light_levels(frames[1]) == pytest.approx(_brute_force_levels(frames[1:2]))


def test_streaming_light_levels_equal_the_batch():
    frames = np.random.default_rng(4).gamma(2.0, 40.0, (5, 6, 7, 3)).astype(np.float32)
    one_by_one = grading.LightLevels()
    for frame in frames:
        one_by_one.update(frame)
    in_two = grading.LightLevels().update(frames[:2]).update(frames[2:])
    batch = grading.light_levels(frames)
    assert (one_by_one.max_cll, one_by_one.max_fall) == pytest.approx(batch, rel=1e-12)
    assert (in_two.max_cll, in_two.max_fall) == pytest.approx(batch, rel=1e-12)
    assert one_by_one.frames == in_two.frames == 5
    assert grading.LightLevels().max_cll == 0.0


@pytest.mark.parametrize("transfer", ["pq", "hlg"])
def test_light_levels_of_signal_decode_first(transfer):
    signal = np.random.default_rng(5).random((3, 5, 4, 3))
    expected = grading.light_levels(grading.decode(signal, transfer))
    assert grading.light_levels_of_signal(signal, transfer) == pytest.approx(expected, rel=1e-6)


# ------------------------------------------------------------------- HDR10 metadata


def test_x265_string_of_bt2020_d65_1000_nits():
    display = grading.mastering_display(1000.0, 0.0001)
    params = grading.x265_hdr10_params(display, 1000, 400)
    master = "G(8500,39850)B(6550,2300)R(35400,14600)WP(15635,16450)L(10000000,1)"
    assert params == f"master-display={master}:max-cll=1000,400"
    # the same numbers from the primaries: G, B, R, white in units of 0.00002
    xy = {"G": (0.170, 0.797), "B": (0.131, 0.046), "R": (0.708, 0.292),
          "WP": (0.3127, 0.3290)}
    for name, (x, y) in xy.items():
        assert f"{name}({round(x / 0.00002)},{round(y / 0.00002)})" in params


def test_x265_string_of_p3_d65_and_rounding():
    display = grading.mastering_display(4000.0, 0.005, primaries="P3-D65")
    params = grading.x265_hdr10_params(display, 999.5, 400.49)
    assert params == ("master-display=G(13250,34500)B(7500,3000)R(34000,16000)"
                      "WP(15635,16450)L(40000000,50):max-cll=1000,400")


def test_mastering_display_is_frozen_with_colour_primaries():
    d = grading.mastering_display()
    assert (d.red, d.green, d.blue, d.white) == \
        ((0.708, 0.292), (0.17, 0.797), (0.131, 0.046), (0.3127, 0.329))
    assert (d.max_luminance, d.min_luminance) == (1000.0, 0.0001)
    with pytest.raises(AttributeError):
        d.max_luminance = 4000.0


# ------------------------------------------------------------------- argument checks


GOOD = np.full((2, 2, 3), 0.5)


@pytest.mark.parametrize("call, error, name", [
    (lambda: grading.inverse_tone_map(np.full((2, 2, 3), np.nan)), ValueError, "rgb_sdr"),
    (lambda: grading.inverse_tone_map(np.zeros((2, 2))), ValueError, "rgb_sdr"),
    (lambda: grading.inverse_tone_map(np.zeros((2, 2, 4))), ValueError, "rgb_sdr"),
    (lambda: grading.inverse_tone_map("frame"), TypeError, "rgb_sdr"),
    (lambda: grading.inverse_tone_map(GOOD, peak=203.0), ValueError, "peak"),
    (lambda: grading.inverse_tone_map(GOOD, peak=210.0), ValueError, "peak"),
    (lambda: grading.inverse_tone_map(GOOD, peak=1e6), ValueError, "peak"),
    (lambda: grading.inverse_tone_map(GOOD, peak="1000"), TypeError, "peak"),
    (lambda: grading.inverse_tone_map(GOOD, peak=float("nan")), ValueError, "peak"),
    (lambda: grading.inverse_tone_map(GOOD, diffuse_white=1.0), ValueError, "diffuse_white"),
    (lambda: grading.inverse_tone_map(GOOD, diffuse_white=0.0), ValueError, "diffuse_white"),
    (lambda: grading.inverse_tone_map(GOOD, sdr_eotf="gamma2.2"), ValueError, "sdr_eotf"),
    (lambda: grading.sdr_to_hdr(GOOD, transfer="hdr10"), ValueError, "transfer"),
    (lambda: grading.sdr_to_hdr(GOOD, max_cll=-1.0), ValueError, "max_cll"),
    (lambda: grading.encode(np.full((1, 1, 3), np.inf)), ValueError, "linear_nits"),
    (lambda: grading.encode(GOOD, transfer=None), ValueError, "transfer"),
    (lambda: grading.decode(np.zeros((3,))), ValueError, "signal"),
    (lambda: grading.tone_map_to_sdr(GOOD, transfer="sdr"), ValueError, "transfer"),
    (lambda: grading.light_levels(np.zeros((4, 4))), ValueError, "frames_linear_nits"),
    (lambda: grading.LightLevels().update(np.full((1, 1, 3), np.nan)), ValueError,
     "frame_linear_nits"),
    (lambda: grading.mastering_display(min_luminance=-1.0), ValueError, "min_luminance"),
    (lambda: grading.mastering_display(primaries="sRGB"), ValueError, "primaries"),
    (lambda: grading.x265_hdr10_params("display", 1000, 400), TypeError, "display"),
    (lambda: grading.x265_hdr10_params(grading.mastering_display(), 400, 1000), ValueError,
     "max_fall"),
    (lambda: grading.x265_hdr10_params(grading.mastering_display(), 1e6, 10), ValueError,
     "max_cll"),
])
def test_bad_arguments_name_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()


def test_unknown_transfer_lists_the_valid_ones():
    with pytest.raises(ValueError, match="'pq', 'hlg'"):
        grading.encode(GOOD, transfer="st2084")


def test_import_mfsr_does_not_import_colour_nor_keep_its_print_options():
    code = ("import sys, numpy as np, mfsr, mfsr.grading as h\n"
            "assert 'colour' not in sys.modules, 'import mfsr imported colour'\n"
            "h.encode(np.zeros((1, 1, 3)))\n"
            "assert 'colour' in sys.modules\n"
            "assert np.get_printoptions()['legacy'] is False, np.get_printoptions()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr

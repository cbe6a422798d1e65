"""Exposure and colour correction (mfsr.grading.enhance): recovery of known distortions, the
do-no-harm dead zone, temporal consistency and shot cuts, output range, input checks."""
import numpy as np
import pytest
from skimage import data

from mfsr.grading import enhance
from mfsr.grading.enhance import EnhanceParams


def distort(image, ev=0.0, gains=(1.0, 1.0, 1.0)):
    """The benchmark's distortion: linear light times 2**ev * gains, clipped, coded."""
    coded = np.asarray(image, np.float32) / 255 if image.dtype == np.uint8 else image
    lin = enhance.srgb_to_linear(coded) * (2.0 ** ev * np.asarray(gains, np.float32))
    return enhance.linear_to_srgb(np.clip(lin, 0, 1)).astype(np.float32)


def delta_e(a, b):
    import colour
    lab = [colour.XYZ_to_Lab(colour.sRGB_to_XYZ(np.clip(np.asarray(x, np.float64), 0, 1)))
           for x in (a, b)]
    return float(np.mean(colour.delta_E(lab[0], lab[1], method="CIE 2000")))


@pytest.fixture(scope="module")
def astronaut():
    return (data.astronaut()[::2, ::2] / 255).astype(np.float32)


@pytest.fixture(scope="module")
def coffee():
    return (data.coffee()[::2, ::2] / 255).astype(np.float32)


def test_transfer_functions_are_the_srgb_eotf():
    import colour
    x = np.linspace(0, 1, 1001)
    np.testing.assert_allclose(enhance.srgb_to_linear(x), colour.models.eotf_sRGB(x),
                               atol=1e-12)
    np.testing.assert_allclose(enhance.linear_to_srgb(x), colour.models.eotf_inverse_sRGB(x),
                               atol=1e-12)
    np.testing.assert_allclose(enhance.linear_to_srgb(enhance.srgb_to_linear(x)), x,
                               atol=1e-12)
    assert enhance.srgb_to_linear(x.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("ev", [-1.5, -1.0, -0.75])
def test_recovers_underexposure(coffee, ev):
    """A dark frame is brightened to within 0.15 EV of the shift, and the colour error
    falls below a fifth of the distorted one."""
    dark = distort(coffee, ev)
    p = enhance.estimate(dark)
    assert p.exposure == pytest.approx(-ev, abs=0.15)
    assert delta_e(enhance.apply(dark, p), coffee) < 0.2 * delta_e(dark, coffee)


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_darkens_clipped_overexposure(name, astronaut, coffee):
    """+0.8 EV with clipping is darkened (by the key: the median luminance back to 18 %
    grey, so by 0.8 EV plus or minus the image's own key offset, +0.37 EV for astronaut,
    -0.23 for coffee), and the colour error at least halves."""
    image = {"astronaut": astronaut, "coffee": coffee}[name]
    bright = distort(image, 0.8)
    p = enhance.estimate(bright)
    assert -1.25 < p.exposure < -0.5
    assert delta_e(enhance.apply(bright, p), image) < 0.5 * delta_e(bright, image)


def test_bright_or_colourful_scenes_are_left_alone():
    """Do no harm: a bright scene without clipping (astronaut, median luminance 0.23) is
    not darkened, and an orange cat (grey-edge finds a 0.77-stop "cast") is not made
    blue: its cast is beyond the trust range WB_TRUST."""
    assert enhance.estimate(data.astronaut()).exposure == 0.0
    cat = data.chelsea()
    raw = enhance.estimate(cat, dead_zone=False)
    assert abs(np.log2(raw.gains[0] / raw.gains[1])) > enhance.WB_TRUST[1] / 2
    assert enhance.estimate(cat).is_identity


@pytest.mark.parametrize("gains", [(1.2, 1.0, 0.85), (0.85, 1.0, 1.2)])
def test_recovers_colour_cast(astronaut, gains):
    """The estimated R/G and B/G correction is the inverse cast within 0.06 stops, and the
    colour error falls below a third of the distorted one. (Darkened by 0.5 EV so that
    the cast clips nothing: clipped channels bias the grey-edge estimate, see the
    benchmark's +0.5 EV cases.)"""
    astronaut = distort(astronaut, -0.5)
    cast = distort(astronaut, 0.0, gains)
    p = enhance.estimate(cast)
    ratios = np.log2(np.array(p.gains) / p.gains[1])
    want = -np.log2(np.array(gains) / gains[1])
    np.testing.assert_allclose(ratios[[0, 2]], want[[0, 2]], atol=0.06)
    assert delta_e(enhance.apply(cast, p), astronaut) < delta_e(cast, astronaut) / 3


def test_combined_distortion_is_corrected(coffee):
    bad = distort(coffee, -1.0, (0.9, 1.0, 1.15))
    out = enhance.apply(bad, enhance.estimate(bad))
    assert delta_e(out, coffee) < 0.25 * delta_e(bad, coffee)


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_undistorted_images_are_left_alone(name, astronaut, coffee):
    """The dead zone: undistorted images change by less than 1 CIEDE2000 (astronaut:
    not at all; coffee: grey-edge finds a 0.16-stop R/G "cast", at the lower end of the
    dead zone's ramp, so 14 % of it is applied)."""
    image = {"astronaut": astronaut, "coffee": coffee}[name]
    p = enhance.estimate(image)
    assert p.exposure == 0.0
    assert delta_e(enhance.apply(image, p), image) < 0.5
    if name == "astronaut":
        assert p.is_identity
        np.testing.assert_array_equal(enhance.apply(image, p), image)
    # a small deviation (0.1 EV, 3 % gains) is also inside the dead zone
    slight = distort(image, 0.1, (1.03, 1.0, 0.98))
    assert delta_e(enhance.apply(slight, enhance.estimate(slight)), slight) < 0.5


def test_dead_zone_ramps_continuously():
    """Corrections are continuous in the measurement: 0 inside the dead zone, full
    outside, linear ramp between."""
    image = (data.coffee()[::2, ::2] / 255).astype(np.float32)
    lo, hi = enhance.EV_DEAD_ZONE
    evs = np.linspace(-1.0, 0.0, 21)
    applied = np.array([enhance.estimate(distort(image, ev), wb="none").exposure
                        for ev in evs])
    raw = np.array([enhance.estimate(distort(image, ev), wb="none", dead_zone=False).exposure
                    for ev in evs])
    assert np.all(applied[np.abs(raw) <= lo] == 0)
    np.testing.assert_allclose(applied[np.abs(raw) >= hi], raw[np.abs(raw) >= hi])
    assert np.all(np.abs(np.diff(applied)) < 0.15)


def _flickering_shots(astronaut, coffee):
    """Two shots of 6 frames, each flickering by +-0.15 EV around -1 EV."""
    flicker = [0.15, -0.15, 0.1, -0.1, 0.15, -0.15]
    a = [distort(astronaut[:192, :192], -1 + f) for f in flicker]
    b = [distort(coffee[:192, :192], -1 + f, (1.0, 1.0, 0.85)) for f in flicker]
    return np.stack(a + b)


def test_temporal_params_constant_within_a_shot_and_reset_at_a_cut(astronaut, coffee):
    frames = _flickering_shots(astronaut, coffee)
    features = [enhance.shot_feature(f) for f in frames]
    cuts = enhance.detect_cuts(features)
    assert np.flatnonzero(cuts).tolist() == [6]  # flicker is not a cut
    estimates = [enhance.estimate(f) for f in frames]
    per_frame = np.array([p.exposure for p in estimates])
    assert np.ptp(per_frame[:6]) > 0.2  # the per-frame estimates follow the flicker
    out, params = enhance.enhance_frames(frames, radius=6)
    ev = np.array([p.exposure for p in params])
    gains = np.array([p.gains for p in params])
    for shot in (slice(0, 6), slice(6, 12)):
        assert np.ptp(ev[shot]) < 1e-9 and np.ptp(gains[shot], axis=0).max() < 1e-9
    assert abs(ev[6] - ev[5]) > 0.05 or np.abs(gains[6] - gains[5]).max() > 0.05
    # without the cut, frames after it would borrow from the other shot
    mixed = enhance.temporal_params(estimates, 5, radius=6)
    assert mixed != params[5]
    assert out.shape == frames.shape and out.min() >= 0 and out.max() <= 1


def test_temporal_result_depends_only_on_frames_within_the_radius(astronaut, coffee):
    """Frame t's parameters from the whole sequence equal those from the frames
    t - radius .. t + radius alone (the video job's resumable, distributed processing)."""
    frames = _flickering_shots(astronaut, coffee)
    _, full = enhance.enhance_frames(frames, radius=2)
    for t in (2, 5, 6, 8):
        _, part = enhance.enhance_frames(frames[t - 2: t + 3], radius=2)
        assert part[2] == full[t]
    # the same at the level of temporal_params, with cuts and a truncated end
    rng = np.random.default_rng(0)
    est = [EnhanceParams(float(e), tuple(2.0 ** rng.normal(0, 0.1, 3)), 0.8)
           for e in rng.normal(0.5, 0.3, 40)]
    cuts = np.zeros(40, bool)
    cuts[[13, 29]] = True
    for t in range(40):
        lo, hi = max(0, t - 4), min(40, t + 5)
        sub = enhance.temporal_params(est[lo:hi], t - lo, radius=4, cuts=cuts[lo:hi])
        assert sub == enhance.temporal_params(est, t, radius=4, cuts=cuts)


def test_temporal_smoothing_reduces_frame_to_frame_change(astronaut):
    flicker = np.random.default_rng(1).normal(0, 0.1, 16)
    frames = np.stack([distort(astronaut[:160, :160], -1 + f) for f in flicker])
    est = [enhance.estimate(f) for f in frames]
    smooth = [enhance.temporal_params(est, t, radius=4) for t in range(len(est))]
    change = [np.abs(np.diff([p.exposure for p in ps])).mean() for ps in (est, smooth)]
    assert change[1] < 0.5 * change[0]


def test_robust_average_ignores_an_outlier():
    est = [EnhanceParams(exposure=e) for e in (0.5, 0.52, 0.48, 3.0, 0.5)]
    assert enhance.temporal_params(est, 2, radius=2).exposure == pytest.approx(0.5, abs=0.02)
    assert enhance.temporal_params(est, 2, radius=0) == est[2]


def test_output_stays_in_unit_range_with_a_soft_shoulder(astronaut):
    p = EnhanceParams(exposure=1.5, gains=(1.2, 1.0, 0.9), white=0.99)
    out = enhance.apply(astronaut, p)
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    # soft, not hard: far fewer pixels end at full scale than with plain clipping
    clipped = distort(astronaut, 1.5, (1.2, 1.0, 0.9))
    assert (out.max(-1) >= 0.999).mean() < 0.5 * (clipped.max(-1) >= 0.999).mean()
    # monotonic in the input on a grey ramp, slope 1 below the knee
    ramp = np.repeat(np.linspace(0, 1, 256, dtype=np.float32)[None, :, None], 3, -1)
    ramp = np.repeat(ramp, 2, axis=0)
    y = enhance.srgb_to_linear(enhance.apply(ramp, EnhanceParams(1.0, white=1.0))[0, :, 0])
    x = enhance.srgb_to_linear(ramp[0, :, 0]) * 2
    assert np.all(np.diff(y) >= -1e-6)
    below = x < enhance.KNEE
    np.testing.assert_allclose(y[below], x[below], atol=1e-5)
    assert y[-1] == pytest.approx(1.0, abs=1e-5)
    # nothing exceeds 1: no shoulder, the plain product
    p = EnhanceParams(exposure=-0.5)
    np.testing.assert_allclose(enhance.srgb_to_linear(enhance.apply(astronaut, p)),
                               enhance.srgb_to_linear(astronaut) * 2 ** -0.5, atol=1e-5)


def test_integer_input_is_scaled_by_its_range(astronaut):
    u8 = np.round(astronaut * 255).astype(np.uint8)
    u16 = u8.astype(np.uint16) * 257
    p = EnhanceParams(exposure=0.5)
    np.testing.assert_allclose(enhance.apply(u8, p), enhance.apply(u16, p), atol=1e-6)
    assert enhance.estimate(u8) == enhance.estimate(u16)


def test_cut_distance_and_threshold():
    a = enhance.shot_feature(data.astronaut())
    b = enhance.shot_feature(data.coffee())
    assert enhance.cut_distance(a, a) == 0.0
    assert enhance.cut_distance(a, b) > enhance.CUT_THRESHOLD
    assert enhance.is_cut(a, b) and not enhance.is_cut(a, b, threshold=1.0)


@pytest.mark.parametrize("call,exc,match", [
    (lambda f: enhance.estimate(f[..., :2]), ValueError, "frame must be RGB"),
    (lambda f: enhance.estimate(f[0]), ValueError, "frame must have 3 dimensions"),
    (lambda f: enhance.estimate(np.where(f > 0.5, np.nan, f)), ValueError, "frame contains NaN"),
    (lambda f: enhance.estimate(f.astype(np.complex64)), TypeError, "frame must be"),
    (lambda f: enhance.estimate("frame.png"), TypeError, "frame must be an array"),
    (lambda f: enhance.estimate(f, wb="retinex"), ValueError, "wb.*'grey_edge'"),
    (lambda f: enhance.estimate(f, key=0), ValueError, "key"),
    (lambda f: enhance.apply(f, {"exposure": 1}), TypeError, "params must be an EnhanceParams"),
    (lambda f: enhance.apply(f, EnhanceParams(gains=(1, 0, 1))), ValueError, "params.gains"),
    (lambda f: enhance.apply(f, EnhanceParams(exposure=np.inf)), ValueError, "params.exposure"),
    (lambda f: enhance.enhance_frames(f), ValueError, "frames must have 4 dimensions"),
    (lambda f: enhance.enhance_frames(f[None], radius=-1), ValueError, "radius"),
    (lambda f: enhance.enhance_frames(f[None], radius=1.5), TypeError, "radius"),
    (lambda f: enhance.enhance_frames(np.stack([f[..., :2]] * 2)), ValueError,
     "frames must be RGB"),
    (lambda f: enhance.temporal_params([], 0), ValueError, "estimates"),
    (lambda f: enhance.temporal_params([EnhanceParams()], 1), ValueError, "center"),
    (lambda f: enhance.temporal_params([EnhanceParams()], 0, radius=-2), ValueError, "radius"),
    (lambda f: enhance.temporal_params([EnhanceParams()], 0, cuts=[0, 1]), ValueError, "cuts"),
    (lambda f: enhance.temporal_params([1.0], 0), TypeError, r"estimates\[0\]"),
    (lambda f: enhance.is_cut(np.zeros((3, 16)), np.zeros((3, 8))), ValueError, "feature_a"),
    (lambda f: enhance.is_cut(np.zeros((3, 16)), np.zeros((3, 16)), 2.0), ValueError,
     "threshold"),
])
def test_bad_input_errors_name_the_argument(call, exc, match):
    frame = (data.astronaut()[::8, ::8] / 255).astype(np.float32)
    with pytest.raises(exc, match=match):
        call(frame)

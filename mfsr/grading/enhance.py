"""Exposure and colour correction of video frames, consistent over time.

Classical, explainable corrections on sRGB-coded R'G'B' frames in [0, 1] (shape
``(H, W, 3)``; integers are scaled by their dtype's range): the frame is linearised with
the sRGB EOTF (IEC 61966-2-1, the piecewise curve with the 0.04045 threshold), measured on
a copy whose longer side is at most ``ANALYSIS_SIZE`` pixels, corrected by multiplying the
linear RGB values and coded again with the inverse EOTF.

What is measured (:func:`estimate`), as the correction it calls for:

- **White balance** by the general grey-edge hypothesis (van de Weijer, Gevers and
  Gijsenij 2007: the Minkowski p-norm of the image gradients is achromatic): the
  illuminant of channel c is ``e_c = (mean |grad G_sigma * f_c|**p)**(1/p)`` over the
  analysis copy's linear RGB ``f``, ``p = 6``, ``sigma = 1`` analysis pixel; the gains
  are ``Y(e) / e`` (``Y``: BT.709 luminance weights), so a grey of the estimated
  illuminant's colour becomes neutral and keeps its luminance. Grey-world,
  shades-of-grey and white-patch are there to compare (``wb=``): on the undistorted
  bigbuckbunny, a green scene, grey-world calls for 0.79 stop more blue, white-patch for
  0.44 stop less, grey-edge for 0.01 stop (``docs/enhance.md``).
- **Exposure**, measured on the white-balanced copy, as a camera's averaging meter with
  highlight protection: the key ``d_key = log2(median(Y) / KEY)`` (``Y`` the linear
  luminance, ``KEY = 0.18``, mid grey) says how far the frame is from a normally exposed
  one, the headroom ``h = log2(WHITE_TARGET / white)`` (``white``: the 99.5th percentile
  of max(R, G, B), ``WHITE_TARGET = 1``) how far it can be brightened before more than
  0.5 % of it reaches full scale. A dark frame (``d_key < 0``) is brightened by
  ``min(-d_key, max(h, 0))``, so a low-key scene whose highlights already reach white
  stays as it is. A bright frame is darkened by ``d_key`` times a weight that ramps from 0
  to 1 as the share of pixels with a coded channel at or above 0.99 goes from 2 % to 6 %
  (``CLIPPED_SHARE``): only a frame that clips is darkened, a bright scene that does not
  (snow, a white suit) is left alone.
- **Do no harm**: each correction passes a dead zone with a linear ramp: an exposure
  correction ``c`` (EV) is applied as ``c * r(|c|)``, ``r`` 0 below ``EV_DEAD_ZONE[0] =
  0.2`` EV, 1 above ``EV_DEAD_ZONE[1] = 0.4`` EV, linear between (so the correction is
  continuous in the measurement). The white-balance correction is applied as the power
  ``k`` of the illuminant, ``e**k``, where ``k`` ramps from 0 to 1 as the cast (the length
  of ``(log2 e_R/e_G, log2 e_B/e_G)``, stops) goes over ``WB_DEAD_ZONE = (0.15, 0.2)``
  and back from 1 to 0 over ``WB_TRUST = (0.4, 0.6)``: casts below 0.15 stop (11 % in R/G
  or B/G) are within what the estimator gets wrong on undistorted content, and casts
  above 0.6 stop are more likely the scene's own colour (an orange cat) than a wrong
  white balance.

Over time (:func:`temporal_params`) the parameters of frame ``t`` are a robust average
(interquartile mean, in EV and log2 gains) of the per-frame estimates of the frames
``t - radius .. t + radius`` that are in the same shot as ``t``; a shot ends where two
consecutive frames' colour histograms differ by more than ``CUT_THRESHOLD``
(:func:`shot_feature`, :func:`is_cut`). So each output frame is a function of its index
alone: of the frames within ``radius`` of it, whatever was processed before or elsewhere,
which is what a resumable, distributed video job needs (no recursive filter).

:func:`apply` multiplies linear RGB by ``2**exposure * gains``; where that would push the
frame's highlights above 1, a soft shoulder compresses the brightest values above
``KNEE = 0.8`` (linear) so that the frame's white maps to 1 (extended Reinhard curve on
max(R, G, B), which keeps hue; the identity when nothing would exceed 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.color import as_float_image, linear_to_srgb, srgb_to_linear
from ..core.validation import check_array, check_choice, check_float, check_int

# BT.709 / sRGB luminance weights (linear RGB -> Y)
LUMA_WEIGHTS = (0.2126, 0.7152, 0.0722)
# longer side (pixels) of the copy the statistics are measured on
ANALYSIS_SIZE = 256
# exposure: target median luminance (linear; 18 % grey), highlight level and its target
KEY = 0.18
WHITE_PERCENTILE = 99.5
WHITE_TARGET = 1.0
# darkening is called for by clipping: its weight ramps from 0 to 1 as the share of
# pixels with a coded channel at or above CLIPPED_LEVEL goes over CLIPPED_SHARE
CLIPPED_LEVEL = 0.99
CLIPPED_SHARE = (0.02, 0.06)
# do no harm: corrections below the first value are dropped, above the second kept in
# full, ramped linearly between (EV for exposure, stops of R/G, B/G cast for white balance)
EV_DEAD_ZONE = (0.2, 0.4)
WB_DEAD_ZONE = (0.15, 0.2)
# ... and casts beyond the trust range are more likely the scene's own colour (an orange
# cat, a green meadow) than a wrong white balance: kept in full up to the first value,
# ramped down to none at the second
WB_TRUST = (0.4, 0.6)
# white-balance estimators; grey-edge's Minkowski norm and gradient scale (analysis px)
WB_METHODS = ("grey_edge", "shades_of_grey", "grey_world", "white_patch", "none")
GREY_EDGE_P, GREY_EDGE_SIGMA = 6, 1.0
# None: the white balance uses every pixel; a level: pixels whose 3x3 neighbourhood has a
# coded channel at or above it are left out (measured worse on bigbuckbunny: clipped
# highlights are also its most neutral edges; docs/enhance.md)
CLIP_LEVEL = None
# gains are limited to this range (a safety bound, 3 stops either way)
MAX_GAIN_STOPS = 3.0
# temporal smoothing: default radius (frames) and the fraction trimmed at each end
DEFAULT_RADIUS = 12
TRIM = 0.25
# shot cuts: joint colour histograms of the coded frame (levels per channel) on a grid of
# blocks, and the distance that is a cut
HIST_BINS = 4
HIST_GRID = 2
CUT_THRESHOLD = 0.5
# highlight shoulder starts here (linear, on max(R, G, B))
KNEE = 0.8


@dataclass(frozen=True)
class EnhanceParams:
    """The correction of one frame.

    Attributes
    ----------
    exposure : float
        Exposure change in EV (stops): linear RGB is multiplied by ``2**exposure``.
    gains : tuple of 3 float
        White-balance gains on linear R, G, B, scaled so that a grey of the estimated
        illuminant keeps its luminance (``(1, 1, 1)``: no change).
    white : float
        The frame's highlight level before correction (linear; the 99.5th percentile of
        max(R, G, B)); the shoulder of :func:`apply` maps ``white`` times the largest
        gain to 1 when that exceeds 1.
    """

    exposure: float = 0.0
    gains: tuple = (1.0, 1.0, 1.0)
    white: float = 1.0

    def __post_init__(self):
        # gains as a tuple of floats (an array would make == ambiguous); anything that is
        # not numbers is left for the checks of apply/temporal_params to report
        try:
            object.__setattr__(self, "gains", tuple(float(g) for g in self.gains))
        except (TypeError, ValueError):
            pass

    @property
    def linear_gains(self):
        """The per-channel factors on linear RGB, ``2**exposure * gains``."""
        return tuple(float(2.0 ** self.exposure * g) for g in self.gains)

    @property
    def is_identity(self):
        """True when the correction changes nothing."""
        return self.exposure == 0.0 and tuple(self.gains) == (1.0, 1.0, 1.0)


# --- input checks --------------------------------------------------------------------

def _check_frame(frame, name="frame"):
    frame = check_array(frame, name, ndim=3)
    if frame.shape[-1] != 3:
        raise ValueError(f"{name} must be RGB with shape (H, W, 3), got {tuple(frame.shape)}")
    if min(frame.shape[:2]) < 2:
        raise ValueError(f"{name} must be at least 2x2 pixels, got {tuple(frame.shape)}")
    return np.clip(as_float_image(np.asarray(frame), name), 0.0, 1.0)


def _check_frames(frames, name="frames"):
    if isinstance(frames, (list, tuple)):
        frames = np.stack([np.asarray(f) for f in frames]) if len(frames) else np.asarray(frames)
    frames = check_array(frames, name, ndim=4)
    if frames.shape[-1] != 3:
        raise ValueError(f"{name} must be RGB with shape (K, H, W, 3), got "
                         f"{tuple(frames.shape)}")
    if frames.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one frame")
    return frames


def _check_params(params, name="params"):
    if not isinstance(params, EnhanceParams):
        raise TypeError(f"{name} must be an EnhanceParams, got {type(params).__name__}")
    check_float(params.exposure, f"{name}.exposure")
    gains = params.gains
    if len(gains) != 3:
        raise ValueError(f"{name}.gains must have 3 values, got {len(gains)}")
    for g in gains:
        check_float(g, f"{name}.gains", minimum=0.0, strict_min=True)
    check_float(params.white, f"{name}.white", minimum=0.0, strict_min=True)
    return params


def _analysis_copy(frame):
    """Coded frame -> (coded, linear) float32 copies with longer side <= ANALYSIS_SIZE."""
    import cv2

    h, w = frame.shape[:2]
    step = max(1, max(h, w) // (2 * ANALYSIS_SIZE))
    small = np.ascontiguousarray(frame[::step, ::step], dtype=np.float32)
    lin = srgb_to_linear(small)
    h, w = lin.shape[:2]
    if max(h, w) > ANALYSIS_SIZE:
        f = ANALYSIS_SIZE / max(h, w)
        size = (max(2, round(w * f)), max(2, round(h * f)))
        lin = cv2.resize(lin, size, interpolation=cv2.INTER_AREA)
        small = cv2.resize(small, size, interpolation=cv2.INTER_AREA)
    return small, lin


# --- estimation ----------------------------------------------------------------------

def _illuminant(lin, coded, wb):
    """Estimated illuminant colour (linear RGB, any scale) or None when unknown."""
    from scipy.ndimage import gaussian_filter

    if CLIP_LEVEL is None:
        usable = np.ones(coded.shape[:2], dtype=bool)
    else:
        usable = coded.max(axis=-1) < CLIP_LEVEL
    if wb == "grey_edge":
        grads = np.stack([np.hypot(gaussian_filter(lin[..., c], GREY_EDGE_SIGMA, order=(0, 1)),
                                   gaussian_filter(lin[..., c], GREY_EDGE_SIGMA, order=(1, 0)))
                          for c in range(3)], axis=-1)
        # a pixel whose neighbourhood reaches clipping has false (clipped) gradients
        from scipy.ndimage import minimum_filter
        usable = minimum_filter(usable, size=3)
        values = grads[usable]
        if values.shape[0] < 16:
            return None
        scale = values.max()
        if scale <= 0:
            return None
        return (np.mean((values / scale) ** GREY_EDGE_P, axis=0) ** (1 / GREY_EDGE_P)) * scale
    values = lin[usable] if usable.sum() >= 16 else lin.reshape(-1, 3)
    if wb == "grey_world":
        return values.mean(axis=0)
    if wb == "shades_of_grey":
        return np.mean(values.astype(np.float64) ** GREY_EDGE_P, axis=0) ** (1 / GREY_EDGE_P)
    # white patch: the brightest 1 % (by max channel) of the usable pixels
    m = values.max(axis=-1)
    top = values[m >= np.percentile(m, 99)]
    return top.mean(axis=0)


def _ramp(x, zone):
    """0 below zone[0], 1 above zone[1], linear between."""
    lo, hi = zone
    return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))


def _wb_keep(illuminant):
    """Share of a white-balance correction kept by the dead zone and the trust limit."""
    log_e = np.log2(illuminant)
    cast = float(np.hypot(log_e[0] - log_e[1], log_e[2] - log_e[1]))
    return _ramp(cast, WB_DEAD_ZONE) * (1.0 - _ramp(cast, WB_TRUST))


def _measure(frame, wb, key, dead_zone):
    """EnhanceParams of a frame: white balance first, exposure of the balanced frame."""
    coded, lin = _analysis_copy(frame)
    weights = np.asarray(LUMA_WEIGHTS)
    illuminant = None if wb == "none" else _illuminant(lin, coded, wb)
    if illuminant is None or not np.all(np.isfinite(illuminant)) or np.any(illuminant <= 0):
        illuminant = np.ones(3)
    illuminant = np.asarray(illuminant, dtype=np.float64)
    keep = _wb_keep(illuminant) if dead_zone else 1.0
    if keep == 0.0:
        gains = np.ones(3)
    else:
        e = illuminant ** keep
        gains = float(e @ weights) / e
    limit = 2.0 ** MAX_GAIN_STOPS
    gains = np.clip(gains, 1 / limit, limit)
    # exposure, measured on the white-balanced frame
    balanced = lin * gains.astype(np.float32)
    white = float(max(np.percentile(lin.max(axis=-1), WHITE_PERCENTILE), 1e-4))
    white_balanced = float(max(np.percentile(balanced.max(axis=-1), WHITE_PERCENTILE), 1e-4))
    d_key = float(np.log2(max(float(np.median(balanced @ weights.astype(np.float32))), 1e-4)
                          / key))
    headroom = float(np.log2(WHITE_TARGET / white_balanced))
    clipped = float(np.mean(coded.max(axis=-1) >= CLIPPED_LEVEL))
    if d_key < 0:
        ev = min(-d_key, max(headroom, 0.0))
    else:
        ev = -d_key * _ramp(clipped, CLIPPED_SHARE)
    if dead_zone:
        ev = ev * _ramp(abs(ev), EV_DEAD_ZONE)
    ev = float(np.clip(ev, -MAX_GAIN_STOPS, MAX_GAIN_STOPS))
    return EnhanceParams(exposure=ev + 0.0, gains=tuple(float(g) for g in gains), white=white)


def estimate(frame, *, wb="grey_edge", key=KEY, dead_zone=True):
    """The exposure and white-balance correction one frame calls for.

    Parameters
    ----------
    frame : array, shape (H, W, 3)
        sRGB-coded RGB in [0, 1] (integers by their dtype's range; values outside [0, 1]
        are clipped).
    wb : {"grey_edge", "shades_of_grey", "grey_world", "white_patch", "none"}
        White-balance estimator (see the module docstring); ``"none"``: gains 1.
    key : float
        Target median luminance (linear) of a normally exposed frame.
    dead_zone : bool
        Apply the do-no-harm dead zones (``EV_DEAD_ZONE``, ``WB_DEAD_ZONE``); False gives
        the raw measurement.

    Returns
    -------
    EnhanceParams

    Raises
    ------
    ValueError
        ``frame`` is not (H, W, 3), holds NaN/Inf, or an option is out of range.
    TypeError
        ``frame`` is not a numeric array.

    Examples
    --------
    >>> from skimage import data
    >>> estimate(data.astronaut()).is_identity     # well exposed, neutral: left alone
    True
    >>> dark = apply(data.coffee(), EnhanceParams(exposure=-1.5))
    >>> round(estimate(dark).exposure, 1)             # 1.5 EV darker than given
    1.6
    """
    frame = _check_frame(frame)
    check_choice(wb, "wb", WB_METHODS)
    key = check_float(key, "key", minimum=0.0, maximum=1.0, strict_min=True)
    return _measure(frame, wb, key, bool(dead_zone))


# --- shots and temporal consistency --------------------------------------------------

def shot_feature(frame):
    """A cheap descriptor of a frame's content for cut detection: colour histograms.

    Joint R'G'B' histograms (``HIST_BINS`` = 4 levels per channel, 64 bins) of the coded
    values of the analysis copy, one for each block of a ``HIST_GRID`` x ``HIST_GRID``
    (2 x 2) grid, so that both the colours and roughly where they are count.

    Parameters
    ----------
    frame : array, shape (H, W, 3)
        sRGB-coded RGB in [0, 1] (integers by their dtype's range).

    Returns
    -------
    ndarray, shape (HIST_GRID**2, HIST_BINS**3)
        One histogram per block, each summing to 1.

    Raises
    ------
    ValueError
        ``frame`` is not (H, W, 3) or holds NaN/Inf.
    TypeError
        ``frame`` is not a numeric array.

    Examples
    --------
    >>> from skimage import data
    >>> shot_feature(data.astronaut()).shape
    (4, 64)
    """
    frame = _check_frame(frame)
    coded, _ = _analysis_copy(frame)
    h, w = coded.shape[:2]
    n = HIST_GRID
    idx = np.minimum((coded * HIST_BINS).astype(np.int64), HIST_BINS - 1)
    joint = (idx[..., 0] * HIST_BINS + idx[..., 1]) * HIST_BINS + idx[..., 2]
    hists = []
    for i in range(n):
        for j in range(n):
            block = joint[i * h // n:(i + 1) * h // n, j * w // n:(j + 1) * w // n]
            hist = np.bincount(block.ravel(), minlength=HIST_BINS ** 3).astype(np.float64)
            hists.append(hist / max(hist.sum(), 1.0))
    return np.stack(hists)


def cut_distance(feature_a, feature_b):
    """Distance between two :func:`shot_feature` descriptors, in [0, 1].

    Half the L1 distance of each block's histograms (the share of the block's pixels
    that would have to move to another bin), averaged over the blocks.

    Parameters
    ----------
    feature_a, feature_b : ndarray, shape (blocks, bins)

    Returns
    -------
    float

    Raises
    ------
    ValueError
        The two descriptors differ in shape, are not 2-D or hold NaN/Inf.

    Examples
    --------
    >>> from skimage import data
    >>> f = shot_feature(data.astronaut())
    >>> cut_distance(f, f)
    0.0
    """
    a = check_array(feature_a, "feature_a", ndim=2)
    b = check_array(feature_b, "feature_b", ndim=2)
    if a.shape != b.shape:
        raise ValueError(f"feature_a shape {a.shape} != feature_b shape {b.shape}")
    return float(0.5 * np.abs(np.asarray(a, np.float64) - b).sum(axis=1).mean())


def is_cut(feature_a, feature_b, threshold=CUT_THRESHOLD):
    """Whether two consecutive frames belong to different shots.

    Parameters
    ----------
    feature_a, feature_b : ndarray
        :func:`shot_feature` of the two frames.
    threshold : float
        :func:`cut_distance` above which it is a cut (default ``CUT_THRESHOLD = 0.5``:
        consecutive frames differ by at most 0.013 on bigbuckbunny and 0.051 on
        carphone, frames of the two sequences by at least 0.569; ``docs/enhance.md``).

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        ``threshold`` outside [0, 1], or the descriptors do not match.

    Examples
    --------
    >>> from skimage import data
    >>> is_cut(shot_feature(data.astronaut()), shot_feature(data.coffee()))
    True
    """
    threshold = check_float(threshold, "threshold", minimum=0.0, maximum=1.0)
    return cut_distance(feature_a, feature_b) > threshold


def detect_cuts(features, threshold=CUT_THRESHOLD):
    """Cut flags of a sequence from its frames' :func:`shot_feature`.

    Parameters
    ----------
    features : sequence of ndarray
        One :func:`shot_feature` per frame, in order.
    threshold : float
        As in :func:`is_cut`.

    Returns
    -------
    ndarray of bool, shape (K,)
        ``cuts[i]`` is True when frame ``i`` starts a new shot (``cuts[0]`` is False).

    Raises
    ------
    ValueError
        As :func:`is_cut`.

    Examples
    --------
    >>> from skimage import data
    >>> f = [shot_feature(im) for im in (data.astronaut(), data.astronaut(), data.coffee())]
    >>> detect_cuts(f).tolist()
    [False, False, True]
    """
    cuts = np.zeros(len(features), dtype=bool)
    for i in range(1, len(features)):
        cuts[i] = is_cut(features[i - 1], features[i], threshold)
    return cuts


def _robust_mean(values):
    """Interquartile-style trimmed mean: drop floor(TRIM n) values at each end."""
    v = np.sort(np.asarray(values, dtype=np.float64), axis=0)
    k = int(np.floor(TRIM * len(v)))
    return v[k: len(v) - k].mean(axis=0)


def _check_cuts(cuts, n):
    if cuts is None:
        return np.zeros(n, dtype=bool)
    c = np.asarray(cuts)
    if c.ndim != 1 or c.shape[0] != n or c.dtype.kind not in "bui":
        raise ValueError(f"cuts must be {n} booleans (one per estimate), got "
                         f"{c.dtype} array of shape {c.shape}")
    return c.astype(bool)


def temporal_params(estimates, center, radius=DEFAULT_RADIUS, cuts=None):
    """The correction of frame ``center``: a robust average over its shot's neighbours.

    The trimmed mean (``TRIM = 0.25`` of the values dropped at each end) of the exposure
    (EV), the log2 gains and the log2 highlight level of the frames ``center - radius ..
    center + radius`` that are in the same shot as ``center`` (no cut between them and
    ``center``). The result depends only on those estimates: computed on any stretch of
    the sequence that holds them, it is the same.

    Parameters
    ----------
    estimates : sequence of EnhanceParams
        Per-frame :func:`estimate` of a sequence (or of a stretch of it).
    center : int
        Index of the frame in ``estimates``.
    radius : int
        Frames on each side that take part (0: the frame's own estimate).
    cuts : sequence of bool, optional
        ``cuts[i]`` True when frame ``i`` starts a new shot (:func:`detect_cuts`); same
        length as ``estimates``. None: one shot.

    Returns
    -------
    EnhanceParams

    Raises
    ------
    ValueError
        ``center`` out of range, ``radius`` negative, ``cuts`` of the wrong length.
    TypeError
        An estimate is not an EnhanceParams, ``center``/``radius`` not integers.

    Examples
    --------
    >>> est = [EnhanceParams(exposure=e) for e in (0.5, 0.7, 0.6, 3.0, 0.6)]
    >>> round(temporal_params(est, 2, radius=2).exposure, 3)
    0.633
    >>> temporal_params(est, 2, radius=2, cuts=[0, 0, 0, 1, 0]).exposure
    0.6
    """
    estimates = list(estimates)
    n = len(estimates)
    if n == 0:
        raise ValueError("estimates must hold at least one EnhanceParams")
    for i, p in enumerate(estimates):
        _check_params(p, f"estimates[{i}]")
    center = check_int(center, "center", minimum=0)
    if center >= n:
        raise ValueError(f"center must be < {n} (the number of estimates), got {center}")
    radius = check_int(radius, "radius", minimum=0)
    cuts = _check_cuts(cuts, n)
    lo = max(0, center - radius)
    while lo < center and cuts[lo + 1: center + 1].any():
        lo += 1
    hi = min(n - 1, center + radius)
    while hi > center and cuts[center + 1: hi + 1].any():
        hi -= 1
    window = estimates[lo: hi + 1]
    if len(window) == 1:
        return window[0]
    table = np.array([[p.exposure, *np.log2(p.gains), np.log2(p.white)] for p in window])
    mean = _robust_mean(table)
    gains = 2.0 ** mean[1:4]
    return EnhanceParams(exposure=float(mean[0]) + 0.0, gains=tuple(float(g) for g in gains),
                         white=float(2.0 ** mean[4]))


# --- application ---------------------------------------------------------------------

def _shoulder(lin, peak):
    """Compress max(R, G, B) above KNEE so that ``peak`` maps to 1 (hue kept)."""
    if peak <= 1.0:
        return lin
    m = lin.max(axis=-1, keepdims=True)
    over = m > KNEE
    if not over.any():
        return lin
    t = (m - KNEE) / (1.0 - KNEE)
    w2 = ((peak - KNEE) / (1.0 - KNEE)) ** 2
    # extended Reinhard: slope 1 at the knee, peak -> 1, monotonic
    f = KNEE + (1.0 - KNEE) * t * (1.0 + t / w2) / (1.0 + t)
    scale = np.where(over, f / np.maximum(m, 1e-12), 1.0)
    return lin * scale.astype(lin.dtype)


def apply(frame, params):
    """Correct one frame: gains on linear RGB, a soft highlight shoulder, coded again.

    ``linear = EOTF(frame) * 2**exposure * gains``; when the corrected highlight level
    ``white * max(2**exposure * gains)`` exceeds 1, max(R, G, B) above ``KNEE`` (linear)
    is compressed by an extended Reinhard curve (slope 1 at the knee) that maps it to 1,
    all three channels scaled alike so hue is kept; then clipped to [0, 1] and coded with
    the inverse sRGB EOTF.

    Parameters
    ----------
    frame : array, shape (H, W, 3)
        sRGB-coded RGB in [0, 1] (integers by their dtype's range; values outside [0, 1]
        are clipped).
    params : EnhanceParams
        The correction (:func:`estimate`, :func:`temporal_params`).

    Returns
    -------
    ndarray, shape (H, W, 3)
        Float (float32, or float64 for float64 input) in [0, 1].

    Raises
    ------
    ValueError
        ``frame`` is not (H, W, 3) or holds NaN/Inf; ``params`` holds non-finite or
        non-positive values.
    TypeError
        ``params`` is not an EnhanceParams.

    Examples
    --------
    >>> from skimage import data
    >>> out = apply(data.coffee(), EnhanceParams(exposure=1.0, gains=(1.1, 1.0, 0.9)))
    >>> out.shape, out.dtype, float(out.min()) >= 0, float(out.max()) <= 1
    ((400, 600, 3), dtype('float32'), True, True)
    """
    frame = _check_frame(frame)
    params = _check_params(params)
    if params.is_identity:
        return frame.copy()
    g = np.asarray(params.linear_gains, dtype=frame.dtype)
    lin = srgb_to_linear(frame) * g
    lin = _shoulder(lin, params.white * float(g.max()))
    return linear_to_srgb(np.clip(lin, 0.0, 1.0))


def enhance_frames(frames, radius=DEFAULT_RADIUS, *, wb="grey_edge", key=KEY,
                   dead_zone=True, cut_threshold=CUT_THRESHOLD):
    """Estimate, find the cuts, smooth over time and apply, for a stack of frames.

    Parameters
    ----------
    frames : array, shape (K, H, W, 3)
        sRGB-coded RGB frames in [0, 1] (integers by their dtype's range).
    radius : int
        Temporal radius of :func:`temporal_params`.
    wb, key, dead_zone
        As in :func:`estimate`.
    cut_threshold : float
        As ``threshold`` in :func:`is_cut`.

    Returns
    -------
    out : ndarray, shape (K, H, W, 3)
        Corrected frames, float in [0, 1].
    params : list of EnhanceParams
        The correction applied to each frame.

    Raises
    ------
    ValueError
        ``frames`` is not (K, H, W, 3) or holds NaN/Inf; ``radius`` is negative.
    TypeError
        ``radius`` is not an integer.

    Examples
    --------
    >>> from skimage import data
    >>> frames = np.stack([data.coffee()[::4, ::4]] * 3)
    >>> out, params = enhance_frames(frames, radius=1)
    >>> out.shape, len(params)
    ((3, 100, 150, 3), 3)
    """
    frames = _check_frames(frames)
    radius = check_int(radius, "radius", minimum=0)
    estimates = [estimate(f, wb=wb, key=key, dead_zone=dead_zone) for f in frames]
    cuts = detect_cuts([shot_feature(f) for f in frames], cut_threshold)
    params = [temporal_params(estimates, t, radius, cuts) for t in range(len(frames))]
    out = np.stack([apply(f, p) for f, p in zip(frames, params)])
    return out, params


__all__ = ["EnhanceParams", "estimate", "temporal_params", "apply", "enhance_frames",
           "shot_feature", "cut_distance", "is_cut", "detect_cuts", "srgb_to_linear",
           "linear_to_srgb", "WB_METHODS", "KEY", "EV_DEAD_ZONE", "WB_DEAD_ZONE",
           "CUT_THRESHOLD", "DEFAULT_RADIUS", "KNEE"]

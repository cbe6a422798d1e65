"""Kernel-regression merge of a burst: the fast, non-iterative solver (handheld style).

After Wronski et al., "Handheld Multi-Frame Super-Resolution" (SIGGRAPH 2019) and its
IPOL 2023 reimplementation: every LR sample of every frame is placed at its exact
position in the reference view (``s (p + flow_k(p)) + phase`` in HR pixels) and each HR
pixel is the normalised, weighted sum of the samples near it. The weight of a sample is
its motion confidence times a robustness term (low where the frame disagrees with the
reference: a moving object the flow does not follow) times an anisotropic Gaussian
whose shape follows the local structure of the reference frame: long and thin along
edges (detail), wide and round in flat regions (denoising). With a CFA mask every raw
sample feeds only its own colour, so the merge also demosaics.

What is not the hot loop (structure tensor, kernel shapes, robustness) is ``xp`` code,
run once; the gather itself is one kernel call (:func:`mfsr.kernels.reference.kernel_merge`
and its Numba and CUDA versions), deterministic whatever the number of threads.
"""
from __future__ import annotations

import numpy as np

from ..core.backend import get_array_module
from ..core.color import as_float_image
from ..core.validation import check_array, check_choice, check_float, check_int
from ..degradation.system import SystemOperator
from ..kernels import kernels_for
from ..kernels.geometry import bilinear_sample, flow_axis_weights
from .history import History

# Defaults tuned on simulated 8-frame raw bursts at x1 and x2 (k_detail on astronaut, where
# 0.15 still gained 0.2 dB but leaves bursts of fewer frames short; k_denoise on a
# bigbuckbunny frame and skimage's immunohistochemistry, true motion: 2.5 -> 1.5 gained
# +0.8 dB at x2 and +0.7 dB at x1; 1.0 was best at x2 (+0.1) and worse at x1 (-0.4)).
K_DETAIL = 0.2
K_DENOISE = 1.5
D_THRESHOLD = 0.25
D_TR = 0.1
ROBUSTNESS_GAIN = 2.0
ROBUSTNESS_THRESHOLD = 0.12
ROBUSTNESS_TOLERANCE = 0.5

_BINOMIAL3 = (0.25, 0.5, 0.25)
_BINOMIAL5 = (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16)


def kernel_merge(operator, frames, masks=None, guide=None, noise=0.01, *, reference=None,
                 k_detail=K_DETAIL, k_denoise=K_DENOISE, d_threshold=D_THRESHOLD, d_tr=D_TR,
                 robustness=True, robustness_gain=ROBUSTNESS_GAIN,
                 robustness_threshold=ROBUSTNESS_THRESHOLD,
                 robustness_tolerance=ROBUSTNESS_TOLERANCE, robustness_window=3, radius=2,
                 chroma="difference", compute_residual=False):
    """Merge a burst onto the HR grid by anisotropic kernel regression (no iterations).

    For HR pixel ``X`` and channel ``c``::

        x_c(X) = sum w y / sum w   over the samples y of channel c near X (all frames)
        w = confidence_k(p) R_k(p) exp(-d^T Omega(X)^-1 d / 2)

    with ``d`` the offset (in LR pixels) from ``X`` to the sample's exact position in the
    reference view. ``Omega`` comes from the structure tensor of ``guide`` (eigenvalues
    ``l1 >= l2``): ``A = 1 + sqrt((l1 - l2) / (l1 + l2))``,
    ``D = clip(1 - sqrt(l1) / d_tr + d_threshold, 0, 1)``, standard deviation
    ``(1 - D) k_detail A + D k_detail k_denoise`` along the edge and
    ``(1 - D) k_detail / A + D k_detail k_denoise`` across it (along the gradient).
    ``R_k`` is the robustness of frame ``k`` (1 for the reference; :func:`robustness_map`):
    local colour means of frame ``k`` against the reference's at the same scene point,
    relative to the noise of those means and the reference's local standard deviation,
    ``R = clip(robustness_gain exp(-d^2 / sigma^2) - robustness_threshold, 0, 1)`` with
    ``d^2 / sigma^2`` the largest over the channels, then a local minimum over
    ``robustness_window`` blocks of 2x2 LR pixels.

    Parameters
    ----------
    operator : SystemOperator
        Gives the motion (``flows`` (K, h, w, 2) LR px, frame ``k`` pixel ``p`` sees the
        reference at ``p + flows[k, p]``; ``confidence`` (K, h, w)), ``scale`` and
        ``phase`` (LR pixel ``p`` of frame ``k`` sits at HR coordinate
        ``s (p + flow) + phase``). Its PSF is not used: the merge does not deblur.
    frames : array, shape (K, h, w) or (K, h, w, C)
        LR frames in [0, 1] (NumPy or CuPy). ``(K, h, w)`` without ``masks``: grey; with
        ``masks``: CFA mosaics (raw). ``(K, h, w, C)``: colour (every sample feeds every
        channel; ``masks`` must be None). Integers are scaled by their dtype's range.
    masks : bool array, shape (h, w, C) or (C, h, w), optional
        Which channel each raw sample sees, e.g.
        ``mfsr.degradation.cfa.cfa_masks("RGGB", (h, w))`` (``(h, w, 3)``); exactly one
        channel per pixel.
    guide : array, shape (h, w), optional
        Grey image of the reference frame on the LR grid for the structure tensor.
        Default: the reference frame (the channel mean for colour; for a mosaic its
        3x3 binomial mean, ``(R + 2 G + B) / 4`` centred on every pixel of a Bayer
        mosaic, i.e. the 2x2 box mean with its half-pixel shift undone by a second one).
    noise : float
        Noise standard deviation of the frames, in [0, 1] units (>= 0); sets how large a
        local mean difference the robustness accepts (at 0, the reference's local
        variance alone: what reconstruct's noise estimate gives for flat frames).
    reference : int, optional
        Index of the reference frame (robustness 1). Default: the first frame whose
        flow is zero everywhere (0 if none is).
    k_detail : float
        Kernel standard deviation in detailed regions, LR px (> 0).
    k_denoise : float
        Factor on ``k_detail`` in flat regions (> 0).
    d_threshold, d_tr : float
        Edge / flat decision ``D`` above (``d_tr > 0``, in units of the guide's gradient
        per LR px).
    robustness : bool
        Turn the robustness term on (default) or off (``R = 1``).
    robustness_gain, robustness_threshold : float
        ``s`` and ``t`` of ``R`` above.
    robustness_tolerance : float
        Share of the reference's local standard deviation added (in quadrature) to the
        noise of the local means in ``sigma`` (tolerance to aliasing and small
        misregistration).
    robustness_window : int
        Side of the local-minimum window of ``R``, in blocks of 2x2 LR pixels (odd).
    radius : int
        Half-width, in LR px, of the window of samples each HR pixel reads in each frame
        (``2 radius`` samples per axis; the kernel tapers to 0 at ``radius``).
    chroma : {"difference", "direct"}
        How an RGB mosaic's red and blue are merged. ``"difference"`` (default): green
        first, from its own samples; then the differences ``R - G`` and ``B - G`` that
        the red and blue samples leave after the green (``y - A G`` at their sites,
        ``A`` the operator with its PSF), added back to the green, so red and blue take
        the green's detail (two merges and one forward operator: about 1.8x the time,
        +1.4 to +2.1 dB on the tuning bursts). ``"direct"``: every channel from its own
        samples. Other layouts ignore it.
    compute_residual : bool
        Also compute ``||sqrt(c) (A x - y)||`` for the history (one forward operator per
        channel; off by default to keep the merge fast: NaN is recorded).

    Returns
    -------
    x : array, shape (H, W) for grey input, else (H, W, C)
        The merged HR image, dtype of the frames (float32 by default).
    history : History
        One entry: objective NaN, residual as above, wall time.

    Notes
    -----
    Gather formulation: each HR pixel ``X`` finds where it falls in frame ``k`` by
    inverting the flow locally (two fixed-point steps ``p = (X - phase) / s - flow_k(p)``)
    and reads the ``2 radius x 2 radius`` samples around that point, each at its exact
    position ``s (j + flow_k(j)) + phase``. Every output value is computed by one thread
    in a fixed order, so the result does not depend on the thread count. HR pixels with
    no weight at all take the nearest sample (by kernel distance); pixels with no
    usable sample in reach are filled from their neighbours. Never NaN.

    Examples
    --------
    >>> from skimage import data
    >>> from mfsr import Motion
    >>> from mfsr.degradation import SystemOperator
    >>> from mfsr.degradation import cfa_masks, simulate_burst
    >>> burst = simulate_burst(data.astronaut()[:64, :64], n_frames=4, seed=0)
    >>> K, h, w = burst.frames.shape
    >>> yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    >>> pts = np.stack([xx, yy, np.ones_like(xx)], -1)
    >>> flows = (np.einsum("kij,yxj->kyxi", burst.motions, pts) - pts[..., :2]).astype(np.float32)
    >>> op = SystemOperator(Motion(flows, np.ones((K, h, w), np.float32), 0), 2, burst.psf,
    ...                     burst.phase)
    >>> hr, hist = kernel_merge(op, burst.frames, cfa_masks(burst.pattern, (h, w)))
    >>> hr.shape, hist.iterations
    ((64, 64, 3), 1)
    """
    if not isinstance(operator, SystemOperator):
        raise TypeError(f"operator must be a SystemOperator, got {type(operator).__name__}")
    frames = check_array(frames, "frames", ndim=(3, 4))
    xp = get_array_module(frames)
    if frames.dtype.kind in "ui" or frames.dtype == bool:
        frames = as_float_image(frames, "frames")
    elif frames.dtype not in (np.float32, np.float64):
        frames = frames.astype(np.float32)
    dtype = frames.dtype
    K = operator.n_frames
    h, w = operator.lr_shape
    if tuple(frames.shape[:3]) != (K, h, w):
        raise ValueError(f"frames must have shape ({K}, {h}, {w}[, C]) to match the operator, "
                         f"got {tuple(frames.shape)}")
    noise = check_float(noise, "noise", minimum=0.0)
    k_detail = check_float(k_detail, "k_detail", minimum=0.0, strict_min=True)
    k_denoise = check_float(k_denoise, "k_denoise", minimum=0.0, strict_min=True)
    d_threshold = check_float(d_threshold, "d_threshold")
    d_tr = check_float(d_tr, "d_tr", minimum=0.0, strict_min=True)
    robustness_gain = check_float(robustness_gain, "robustness_gain", minimum=0.0,
                                  strict_min=True)
    robustness_threshold = check_float(robustness_threshold, "robustness_threshold")
    robustness_tolerance = check_float(robustness_tolerance, "robustness_tolerance",
                                       minimum=0.0)
    robustness_window = check_int(robustness_window, "robustness_window", minimum=1)
    if robustness_window % 2 == 0:
        raise ValueError(f"robustness_window must be odd, got {robustness_window}")
    radius = check_int(radius, "radius", minimum=1)
    check_choice(chroma, "chroma", ("difference", "direct"))
    if not isinstance(robustness, (bool, np.bool_)):
        raise TypeError(f"robustness must be True or False, got {robustness!r}")
    reference = _reference_index(operator, reference)

    # layout: values per sample (K, h, w, L), output channel of each sample (h, w), C
    if frames.ndim == 4:
        if masks is not None:
            raise ValueError("masks must be None for colour frames (K, h, w, C); pass raw "
                             "mosaics (K, h, w) with masks")
        C = int(frames.shape[3])
        if C < 1:
            raise ValueError("frames must have at least one channel")
        values = frames
        channel = xp.zeros((h, w), xp.int32)
        plane_masks = xp.ones((h, w, 1), dtype)  # every sample sees every channel
        kind = "colour"
    elif masks is None:
        C = 1
        values = frames[..., None]
        channel = xp.zeros((h, w), xp.int32)
        plane_masks = xp.ones((h, w, 1), dtype)
        kind = "grey"
    else:
        plane_masks = _check_masks(masks, (h, w), xp)
        C = int(plane_masks.shape[-1])
        values = frames[..., None]
        channel = xp.argmax(plane_masks, axis=-1).astype(xp.int32)
        plane_masks = plane_masks.astype(dtype)
        kind = "cfa"
    if guide is None:
        guide = _default_guide(frames[reference], kind, xp)
    else:
        guide = check_array(guide, "guide", ndim=2)
        if tuple(guide.shape) != (h, w):
            raise ValueError(f"guide must have shape ({h}, {w}), got {tuple(guide.shape)}")
        guide = xp.asarray(guide, dtype=dtype)

    hist = History()
    hist.start()
    flows = xp.asarray(operator.flows)
    confidence = xp.asarray(operator.confidence, dtype=dtype)
    icov_lr = kernel_inverse_covariance(guide, k_detail, k_denoise, d_threshold, d_tr)
    if robustness:
        rob = robustness_map(values, flows, plane_masks if kind == "cfa" else None, noise,
                             reference=reference, gain=robustness_gain,
                             threshold=robustness_threshold,
                             tolerance=robustness_tolerance, window=robustness_window)
        weights = confidence * rob.astype(dtype)
    else:
        weights = confidence
    icov = _upsample_lr_map(icov_lr, operator.scale, operator.phase, xp).astype(dtype)
    ks = kernels_for(values)

    def merge(samples, sample_weights, sample_channel, n_channels):
        merged, support = ks.kernel_merge(xp.ascontiguousarray(samples), flows,
                                          xp.ascontiguousarray(sample_weights, dtype=dtype),
                                          icov, sample_channel, n_channels, operator.scale,
                                          operator.phase, radius)
        return _fill_holes(merged, support, xp)

    if kind == "cfa" and C == 3 and chroma == "difference":
        out = _merge_colour_differences(merge, operator, frames, weights, plane_masks, xp)
    else:
        out = merge(values, weights, channel, C)
    residual = float("nan")
    if compute_residual:
        residual = _residual_norm(operator, out, frames, plane_masks, kind, confidence, xp)
    hist.record(float("nan"), residual)
    if kind == "grey":
        out = out[..., 0]
    return out, hist


def _merge_colour_differences(merge, operator, frames, weights, plane_masks, xp):
    """RGB from a mosaic: green merged from its samples, then red and blue as green plus
    the merged differences their samples leave after it (``y - A G`` at their sites)."""
    green_sites = plane_masks[..., 1]
    everywhere = xp.zeros(green_sites.shape, xp.int32)
    green = merge(frames[..., None], weights * green_sites, everywhere, 1)[..., 0]
    difference = frames - operator.forward(green)
    red_or_blue = (plane_masks[..., 2] > 0).astype(xp.int32)  # channel 0: R, 1: B
    colour = merge(difference[..., None], weights * (1 - green_sites), red_or_blue, 2)
    return xp.stack([green + colour[..., 0], green, green + colour[..., 1]], axis=-1)


# ----------------------------------------------------------------------------- checks

def _reference_index(operator, reference):
    K = operator.n_frames
    if reference is None:
        xp = get_array_module(operator.flows)
        still = xp.all(xp.asarray(operator.flows).reshape(K, -1) == 0, axis=1)
        idx = np.flatnonzero(np.asarray(still.get() if hasattr(still, "get") else still))
        return int(idx[0]) if idx.size else 0
    reference = check_int(reference, "reference", minimum=0)
    if reference >= K:
        raise ValueError(f"reference {reference} out of range for {K} frames")
    return reference


def _check_masks(masks, lr_shape, xp):
    """Masks as a boolean ``(h, w, C)`` array of ``xp`` (from ``(h, w, C)`` or ``(C, h, w)``)."""
    if not hasattr(masks, "shape") or not hasattr(masks, "dtype"):
        raise TypeError(f"masks must be a boolean array, got {type(masks).__name__}")
    if masks.dtype != bool:
        raise TypeError(f"masks must be a boolean array, got dtype {masks.dtype}")
    if masks.ndim != 3:
        raise ValueError(f"masks must have shape (h, w, C) or (C, h, w), got {tuple(masks.shape)}")
    masks = xp.asarray(masks)
    if tuple(masks.shape[:2]) == tuple(lr_shape):
        pass
    elif tuple(masks.shape[1:]) == tuple(lr_shape):
        masks = xp.moveaxis(masks, 0, -1)
    else:
        raise ValueError(f"masks must have shape ({lr_shape[0]}, {lr_shape[1]}, C) or "
                         f"(C, {lr_shape[0]}, {lr_shape[1]}) to match the frames, got "
                         f"{tuple(masks.shape)}")
    if not bool(xp.all(masks.sum(axis=-1) == 1)):
        raise ValueError("masks must mark exactly one channel at every pixel")
    return xp.ascontiguousarray(masks)


# ------------------------------------------------------------------------ filtering

def _filter_axis(x, taps, axis, xp):
    """Correlate ``x`` with the odd-length ``taps`` along ``axis``, edges replicated."""
    r = len(taps) // 2
    pad = [(0, 0)] * x.ndim
    pad[axis] = (r, r)
    xpad = xp.pad(x, pad, mode="edge")
    n = x.shape[axis]
    out = None
    for i, t in enumerate(taps):
        sl = [slice(None)] * x.ndim
        sl[axis] = slice(i, i + n)
        term = xpad[tuple(sl)] * x.dtype.type(t)
        out = term if out is None else out + term
    return out


def _smooth(x, taps, xp, axes=(0, 1)):
    for axis in axes:
        x = _filter_axis(x, taps, axis, xp)
    return x


def _default_guide(ref, kind, xp):
    if kind == "colour":
        return ref.mean(axis=-1)
    if kind == "cfa":
        # 3x3 binomial: (R + 2G + B) / 4 centred on every pixel of a Bayer mosaic
        return _smooth(ref, _BINOMIAL3, xp)
    return ref


def _gradient(g, axis, xp):
    """Central differences along ``axis`` (one-sided at the ends)."""
    n = g.shape[axis]
    if n < 2:
        return xp.zeros_like(g)
    pad = [(0, 0)] * g.ndim
    pad[axis] = (1, 1)
    gp = xp.pad(g, pad, mode="edge")
    lo = [slice(None)] * g.ndim
    hi = [slice(None)] * g.ndim
    lo[axis], hi[axis] = slice(0, n), slice(2, n + 2)
    d = (gp[tuple(hi)] - gp[tuple(lo)]) * g.dtype.type(0.5)
    first = [slice(None)] * g.ndim
    last = [slice(None)] * g.ndim
    first[axis], last[axis] = slice(0, 1), slice(n - 1, n)
    d[tuple(first)] *= 2  # one-sided: g[1] - g[0]
    d[tuple(last)] *= 2
    return d


def kernel_inverse_covariance(guide, k_detail=K_DETAIL, k_denoise=K_DENOISE,
                              d_threshold=D_THRESHOLD, d_tr=D_TR):
    """The merge kernel's inverse covariance per LR pixel of the guide.

    Parameters
    ----------
    guide : array, shape (h, w)
        Grey reference image (NumPy or CuPy).
    k_detail, k_denoise, d_threshold, d_tr : float
        As for :func:`kernel_merge`.

    Returns
    -------
    array, shape (h, w, 3), float32
        ``(a, b, c)`` of ``Omega^-1 = [[a, b], [b, c]]`` in LR px^-2 (``x`` first).
    """
    xp = get_array_module(guide)
    g = guide.astype(xp.float32)
    gx, gy = _gradient(g, 1, xp), _gradient(g, 0, xp)
    t = _smooth(xp.stack([gx * gx, gx * gy, gy * gy], axis=-1), _BINOMIAL3, xp)
    txx, txy, tyy = t[..., 0], t[..., 1], t[..., 2]
    half_tr = 0.5 * (txx + tyy)
    root = xp.sqrt(0.25 * (txx - tyy) ** 2 + txy * txy)
    l1 = half_tr + root
    l2 = xp.maximum(half_tr - root, 0)
    A = 1 + xp.sqrt((l1 - l2) / xp.maximum(l1 + l2, 1e-12))
    D = xp.clip(1 - xp.sqrt(l1) / d_tr + d_threshold, 0, 1)
    along = (1 - D) * k_detail * A + D * k_detail * k_denoise
    across = (1 - D) * k_detail / A + D * k_detail * k_denoise
    k1, k2 = along * along, across * across
    theta = 0.5 * xp.arctan2(2 * txy, txx - tyy)  # gradient direction e1 = (cos, sin)
    cs, sn = xp.cos(theta), xp.sin(theta)
    a = sn * sn / k1 + cs * cs / k2
    b = sn * cs * (1 / k2 - 1 / k1)
    c = cs * cs / k1 + sn * sn / k2
    return xp.stack([a, b, c], axis=-1).astype(xp.float32)


def _upsample_lr_map(m, scale, phase, xp):
    """Bilinear interpolation of an LR map ``(h, w, n)`` onto the HR grid (HR pixel ``u``
    at LR coordinate ``(u - phase) / scale``, clamped)."""
    h, w = m.shape[:2]
    r0, r1, ar = (xp.asarray(a) for a in flow_axis_weights(h, scale, phase))
    c0, c1, ac = (xp.asarray(a) for a in flow_axis_weights(w, scale, phase))
    rows = m[r0] * (1 - ar)[:, None, None] + m[r1] * ar[:, None, None]
    return rows[:, c0] * (1 - ac)[None, :, None] + rows[:, c1] * ac[None, :, None]


# ------------------------------------------------------------------------ robustness

def _min_filter(x, size, xp):
    """Minimum over a ``size x size`` window on the last two axes (edges replicated)."""
    r = size // 2
    if r == 0:
        return x
    for axis in (-2, -1):
        n = x.shape[axis]
        pad = [(0, 0)] * x.ndim
        pad[axis] = (r, r)
        xpad = xp.pad(x, pad, mode="edge")
        out = None
        for i in range(size):
            sl = [slice(None)] * x.ndim
            sl[axis] = slice(i, i + n)
            out = xpad[tuple(sl)] if out is None else xp.minimum(out, xpad[tuple(sl)])
        x = out
    return x


def _block_sum(x, xp):
    """Sums over 2x2 blocks of axes 1, 2 of ``x`` (K, h, w, n), edges replicated to even."""
    h, w = x.shape[1:3]
    if h % 2 or w % 2:
        x = xp.pad(x, [(0, 0), (0, h % 2), (0, w % 2), (0, 0)], mode="edge")
    return x[:, 0::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 0::2] + x[:, 1::2, 1::2]


def robustness_map(values, flows, masks, noise, reference=0, gain=ROBUSTNESS_GAIN,
                   threshold=ROBUSTNESS_THRESHOLD, tolerance=ROBUSTNESS_TOLERANCE, window=3):
    """Per-sample robustness ``R_k(p)`` in [0, 1] of each frame against the reference.

    Computed on the grid of 2x2 blocks of LR pixels (a Bayer block holds one sample of
    each colour, so a block has its own colour with no interpolation): local colour means
    (sums over the block, then a 3x3 binomial over blocks, normalised per channel by the
    samples it holds, about 6x6 LR px in all) of frame ``k`` at block ``b`` are compared
    with the reference's at the same scene point ``b + flow_k(b)`` (bilinear). ``d^2`` is
    the largest over the channels of the squared difference divided by
    ``sigma_c^2 = noise^2 (v_k + v_ref) + (tolerance s_ref)^2`` (``v``: variance factor
    of the normalised mean, ``s_ref``: the reference's local standard deviation);
    ``R = clip(gain exp(-d^2) - threshold, 0, 1)``, then a local minimum over
    ``window x window`` blocks, and each LR pixel takes its block's value. The reference
    frame has ``R = 1``.

    Parameters
    ----------
    values : array, shape (K, h, w, L)
        Samples (``L = 1``: grey or mosaic; else colour).
    flows : array, shape (K, h, w, 2)
        LR px, frame ``k`` to the reference.
    masks : array, shape (h, w, C), or None
        Channel of each sample (CFA, bools or 0/1 floats), or None when every sample
        holds all ``L`` channels.
    noise : float
        Noise standard deviation of one sample.
    reference : int
    gain, threshold, tolerance : float
    window : int
        Odd side of the local-minimum window, in blocks.

    Returns
    -------
    array, shape (K, h, w), float32
    """
    xp = get_array_module(values)
    v = values.astype(xp.float32)
    K, h, w, L = v.shape
    if masks is None:
        m = xp.ones((1, h, w, L), xp.float32)
    else:
        m = xp.asarray(masks, dtype=xp.float32)[None]
    taps = _BINOMIAL3
    taps2 = tuple(t * t for t in taps)
    ax = (1, 2)
    cnt = _block_sum(m, xp)                                   # (1, hb, wb, C)
    den = xp.maximum(_smooth(cnt, taps, xp, ax), 1e-6)
    mean = _smooth(_block_sum(v * m, xp), taps, xp, ax) / den  # (K, hb, wb, C)
    ref = v[reference:reference + 1]
    m2 = _smooth(_block_sum(ref * ref * m, xp), taps, xp, ax) / den
    var_factor = (_smooth(cnt, taps2, xp, ax) / (den * den))[0]
    mean_ref = mean[reference]
    var_ref = xp.maximum(m2[0] - mean_ref * mean_ref, 0)
    C = mean_ref.shape[-1]
    stats_planes = xp.moveaxis(xp.concatenate([mean_ref, var_ref, var_factor], axis=-1), -1, 0)
    hb, wb = mean_ref.shape[:2]
    fb = _block_sum(flows.astype(xp.float32), xp) * 0.25       # block-mean flow
    yy, xx = xp.meshgrid(xp.arange(hb, dtype=xp.float32), xp.arange(wb, dtype=xp.float32),
                         indexing="ij")
    rob = xp.ones((K, hb, wb), xp.float32)
    n2, tol2 = float(noise) ** 2, float(tolerance) ** 2
    for k in range(K):
        if k == reference:
            continue
        # block centre 2 b + 0.5 (LR px) moves by the flow; back to block coordinates
        at = xp.moveaxis(bilinear_sample(stats_planes, yy + 0.5 * fb[k, ..., 1],
                                         xx + 0.5 * fb[k, ..., 0]), 0, -1)
        mu, var, vf = at[..., :C], at[..., C:2 * C], at[..., 2 * C:]
        sigma2 = n2 * (var_factor + vf) + tol2 * var
        d2 = xp.max((mean[k] - mu) ** 2 / xp.maximum(sigma2, 1e-12), axis=-1)
        rob[k] = xp.clip(gain * xp.exp(-d2) - threshold, 0, 1)
    rob = _min_filter(rob, window, xp)
    rob = xp.repeat(xp.repeat(rob, 2, axis=1), 2, axis=2)[:, :h, :w]
    rob[reference] = 1
    return xp.ascontiguousarray(rob)


# ----------------------------------------------------------------------- finishing

def _fill_holes(out, support, xp, max_rounds=64):
    """Pixels with no usable sample (``support < 0``) take the mean of their filled
    neighbours, growing inwards; any still empty then take the channel's mean."""
    holes = support < 0
    if not bool(xp.any(holes)):
        return out
    out = xp.where(holes, 0, out)
    known = (~holes).astype(out.dtype)
    for _ in range(max_rounds):
        if bool(xp.all(known > 0)):
            break
        s = _smooth(out * known, _BINOMIAL3, xp)
        n = _smooth(known, _BINOMIAL3, xp)
        grow = (known == 0) & (n > 0)
        out = xp.where(grow, s / xp.where(n > 0, n, 1), out)
        known = xp.where(grow, 1, known).astype(out.dtype)
    if not bool(xp.all(known > 0)):
        total = (out * known).sum(axis=(0, 1))
        count = xp.maximum(known.sum(axis=(0, 1)), 1)
        out = xp.where(known > 0, out, (total / count)[None, None, :])
    return out


def _residual_norm(operator, out, frames, plane_masks, kind, confidence, xp):
    if kind == "grey":
        r = operator.forward(xp.ascontiguousarray(out[..., 0])) - frames
    elif kind == "colour":
        r = xp.stack([operator.forward(xp.ascontiguousarray(out[..., c])) - frames[..., c]
                      for c in range(out.shape[-1])], axis=-1)
        confidence = confidence[..., None]
    else:
        pred = 0
        for c in range(out.shape[-1]):
            pred = pred + plane_masks[..., c] * operator.forward(xp.ascontiguousarray(out[..., c]))
        r = pred - frames
    return float(xp.sqrt(xp.sum(confidence * r * r)))


__all__ = ["kernel_merge", "kernel_inverse_covariance", "robustness_map"]

"""`reconstruct`: frames in, HR image out - the one call most users make."""
from __future__ import annotations

import numpy as np

from . import kernels, solvers
from ._validation import check_array, check_choice, check_float, check_int
from .backend import get_array_module, resolve_backend, to_device, to_numpy
from .color import as_float_image, rgb_to_ycbcr, ycbcr_to_rgb
from .degradation import GaussianPSF, SystemOperator, degradation_model, estimate_noise
from .degradation.codec import (CodecModel, chroma_420_operator, chroma_420_planes,
                                detect_codec)
from .interpolate import upsample
from .motion import Motion
from .priors import DENOISERS, PRIORS, Denoiser, Prior, make_denoiser, make_prior
from .registration import REGISTRATION_METHODS, register
from .registration.confidence import photometric_confidence
from .solvers.pnp import PNP_ENSEMBLE, PNP_ITERATIONS, pnp_parameters

METHODS = ("map", "irls", "cg", "ibp", "saa", "saa_median", "pnp")
COLOR_MODES = ("luma", "rgb")
DEFAULT_ITERATIONS = {"map": 20, "irls": 5, "cg": 30, "ibp": 20, "saa": 1, "saa_median": 1,
                      "pnp": PNP_ITERATIONS}
DEFAULT_PRIOR = {"map": "huber", "cg": "tikhonov", "pnp": "learned"}

# Prior weight rule, calibrated on bigbuckbunny crops (docs/methods.md):
# lambda = PRIOR_GAIN[prior] * K * max(sigma, SIGMA_FLOOR).
PRIOR_GAIN = {"tikhonov": 0.6}
DEFAULT_PRIOR_GAIN = 5e-3
SIGMA_FLOOR = 0.007
# IRLS solves weighted least squares, so its weight follows the noise variance:
# lambda = IRLS_GAIN * K * max(sigma, IRLS_SIGMA_FLOOR)**2.
IRLS_GAIN = 22.0
IRLS_SIGMA_FLOOR = 0.004


def prior_weight(sigma, n_frames, prior="huber"):
    """Default prior weight ``lambda`` from the noise level.

    ``lambda = gain * K * max(sigma, 0.007)``. The data term sums over the K frames, so
    the weight grows with K to keep the balance per frame; the floor stands for the model
    errors (registration, quantisation) that even clean 8-bit video has. ``gain`` is
    0.6 for the quadratic ``"tikhonov"`` prior and 5e-3 for the edge-preserving ones.

    Parameters
    ----------
    sigma : float
        Noise standard deviation, [0, 1] image units.
    n_frames : int
        Number of LR frames K.
    prior : str
        Name of the prior.

    Returns
    -------
    float
    """
    gain = PRIOR_GAIN.get(prior, DEFAULT_PRIOR_GAIN)
    return gain * n_frames * max(float(sigma), SIGMA_FLOOR)


def _is_denoiser(prior):
    """True for the priors of ``method="pnp"``: a denoiser name, a Denoiser, a callable."""
    if isinstance(prior, str):
        return prior in DENOISERS
    return isinstance(prior, Denoiser) or (callable(prior) and not isinstance(prior, Prior))


def _check_method_and_prior(method, prior):
    """Resolve ``method=None`` and reject priors the method cannot use."""
    if method is None:
        method = "pnp" if _is_denoiser(prior) else "irls"
    check_choice(method, "method", METHODS)
    if prior is None:
        return method
    if method == "pnp" and not _is_denoiser(prior):
        raise ValueError(f"method 'pnp' needs a denoiser prior: one of {tuple(DENOISERS)}, a "
                         f"Denoiser or a callable denoise(x, sigma); got {prior!r}")
    if method != "pnp" and _is_denoiser(prior):
        raise ValueError(f"prior {prior!r} is a denoiser: use method='pnp' (or leave method "
                         f"unset); method {method!r} takes no denoiser")
    if method not in ("map", "cg", "pnp"):
        raise ValueError(f"prior is used only by methods 'map' and 'cg' (one of "
                         f"{tuple(PRIORS)} or a Prior) and 'pnp' (a denoiser), not {method!r}")
    return method


def _check_frames(frames, channel_axis):
    frames = check_array(frames, "frames", ndim=(3, 4))
    if frames.ndim == 4:
        if channel_axis is None:
            raise ValueError("frames has 4 dimensions but channel_axis is None")
        ax = check_int(channel_axis, "channel_axis", minimum=-3) % 4
        if ax == 0:
            raise ValueError("channel_axis cannot be the frame axis 0")
        frames = frames.swapaxes(ax, 3) if ax != 3 else frames
        if frames.shape[-1] not in (1, 3):
            raise ValueError(f"frames must have 1 or 3 channels, got {frames.shape[-1]}")
    if frames.shape[0] < 1:
        raise ValueError("frames must hold at least one frame")
    if min(frames.shape[1:3]) < 2:
        raise ValueError(f"frames must be at least 2x2 pixels, got {tuple(frames.shape[1:3])}")
    return as_float_image(frames, "frames")


def reconstruct(frames, scale=4, method=None, reference=None, motion=None, degradation=None,
                psf=None, phase=None, noise=None, iterations=None, channel_axis=-1, *,
                prior=None, weight=None, data_term=None, registration="dis",
                color="luma", codec="auto", picture_types=None, backend="auto",
                return_history=False):
    """Reconstruct one HR image from a stack of LR frames.

    Parameters
    ----------
    frames : array, shape (K, h, w) or (K, h, w, C)
        LR frames (uint8, uint16 or float in [0, 1]); one frame (K = 1) is allowed and
        makes ``"map"``/``"cg"``/``"ibp"`` single-image deblurring super-resolution.
    scale : int
        Upscaling factor s >= 1.
    method : {"irls", "map", "cg", "ibp", "saa", "saa_median", "pnp"}, optional
        Default ``"irls"``, or ``"pnp"`` when ``prior`` is a denoiser (so
        ``prior="learned"`` alone selects plug-and-play with the shipped CNN).
        ``"irls"``: robust MAP by iteratively re-weighted least squares with
        adaptive data weights (residual outliers, registration confidence) and spatially
        adaptive prior weights (IRWSR-style; ``iterations`` re-weightings of 6 CG steps).
        ``"map"``: robust MAP by L-BFGS (data term ``data_term``, prior ``prior``).
        ``"cg"``: quadratic MAP (l2 data, Tikhonov) by conjugate gradients.
        ``"ibp"``: iterative back-projection. ``"saa"`` / ``"saa_median"``: shift-and-add
        fusion (mean / median), no deblurring. ``"pnp"``: the ``"irls"`` result refined
        by plug-and-play ADMM (:func:`mfsr.solvers.pnp_admm`, ``iterations`` denoiser
        calls) with a denoiser as the prior (default ``"learned"``: the shipped CNN,
        4-fold self-ensemble), robust data weights, parameters from the noise level
        (:func:`mfsr.solvers.pnp.pnp_parameters`); see :doc:`/learned_prior`.
    reference : int, optional
        Frame whose view the output shows; default the middle frame ``K // 2``.
    motion : Motion, optional
        Known motion; by default estimated with ``registration``.
    degradation : {"area", "BD", "BI"}, optional
        Preset of PSF and sampling phase (default ``"area"``). ``psf``/``phase`` override.
    psf : float, str, array or PSF, optional
        Blur in HR pixels (a number is a Gaussian sigma; ``"area"``, ``"bicubic"``,
        ``"none"``; ``"estimate"``: Gaussian width estimated from the frames by
        cross-validation, :func:`mfsr.calibration.estimate_psf`: needs >= 3 frames that
        move against the reference, about 10 s; dependable on global-like motion, not
        yet on real video motion, see docs/results.md).
    phase : float, optional
        HR coordinate of the centre of LR pixel 0.
    noise : float, optional
        Noise standard deviation in [0, 1] units; estimated from the whole (luma) stack
        when None (:func:`mfsr.degradation.estimate_noise`). For codec-degraded frames
        the level used is at least the codec model's (see ``codec``).
    iterations : int, optional
        Solver iterations; default per method (``DEFAULT_ITERATIONS``).
    channel_axis : int
        Colour axis of each frame for 4-D input.
    prior : str, Prior, Denoiser or callable, optional
        Regulariser for ``"map"`` (default ``"huber"``) and ``"cg"`` (``"tikhonov"``):
        ``"btv"``, ``"tv"``, ``"huber"``, ``"tikhonov"``, ``"none"`` or a
        :class:`~mfsr.priors.Prior`. Denoiser for ``"pnp"``: ``"learned"`` (default, the
        CNN shipped with mfsr), ``"bm3d"`` (needs the optional ``bm3d`` package), a
        :class:`~mfsr.priors.Denoiser` or any callable ``denoise(x, sigma)``. Other
        methods take no prior; a mismatch raises ``ValueError``.
    weight : float, optional
        Prior weight lambda; default from the noise level: :func:`prior_weight` for
        ``"map"``/``"cg"``, ``22 K max(sigma, 0.004)**2`` for ``"irls"``,
        ``0.2 max(sigma, 0.007)**2`` for ``"pnp"`` (where 0 skips the denoiser and
        returns the robust data fit that plug-and-play starts from).
    data_term : {"huber", "l2", "l1"}, optional
        Data term of ``"map"`` (default ``"huber"``); thresholds scale with the noise level.
    registration : {"dis", "farneback", "tvl1", "translation", "ecc"}
        Motion estimator when ``motion`` is None.
    color : {"luma", "rgb"}
        ``"luma"``: solve on Y (BT.601) with ``method``; chroma gets a cheap fusion (3 CG
        steps of the quadratic model with a strong Tikhonov prior);
        ``"rgb"``: solve every channel with the shared motion.
    codec : {"auto", "none", "video", "jpeg"}, codec name or CodecModel
        What lossy compression the frames went through (:doc:`/compressed`).
        ``"auto"`` (default) detects it from the frames
        (:func:`mfsr.degradation.codec.detect_codec`: decoded 4:2:0 video from its
        chroma, JPEG by compressing again); ``"none"`` keeps the white-noise model;
        ``"video"`` (or ``"h264"``, ``"h265"``, ...) and ``"jpeg"`` say it. For
        codec-degraded frames the noise level used is at least the codec's error level
        (so the prior no longer lets the artefacts through), frames lose weight where
        they disagree with the warped reference
        (:func:`mfsr.registration.confidence.photometric_confidence`), the prior weight
        counts only the frames that take part, and intra-coded frames weigh more when
        ``picture_types`` are given.
    picture_types : sequence of str, optional
        Picture type of each frame (``"I"``, ``"P"``, ``"B"``) as the decoder reports
        it (:func:`mfsr.degradation.compression.decode_video`).
    backend : {"auto", "numpy", "numba", "cupy"}
        ``"auto"`` follows the input array (Numba kernels for NumPy arrays when Numba
        imports); ``"numpy"`` forces the NumPy reference kernels.
    return_history : bool
        Also return the solver's :class:`~mfsr.solvers.History` (one per channel solved).

    Returns
    -------
    hr : array, shape (s*h, s*w) or (s*h, s*w, C), float32 in [0, 1]
    history : History or list of History
        Only with ``return_history=True``.

    Examples
    --------
    >>> import mfsr
    >>> from skimage import data
    >>> sim = mfsr.simulate(data.camera()[::2, ::2], scale=2, n_frames=4, seed=0)
    >>> hr = mfsr.reconstruct(sim.frames, scale=2, degradation="BD", reference=2,
    ...                       iterations=5)
    >>> hr.shape
    (256, 256)
    """
    xp = resolve_backend(backend, frames)
    with kernels.use(backend if backend in kernels.CPU_KERNELS else "auto"):
        return _reconstruct(frames, scale, method, reference, motion, degradation, psf, phase,
                            noise, iterations, channel_axis, prior, weight, data_term,
                            registration, color, codec, picture_types, xp, return_history)


def _reconstruct(frames, scale, method, reference, motion, degradation, psf, phase, noise,
                 iterations, channel_axis, prior, weight, data_term, registration, color,
                 codec, picture_types, xp, return_history):
    method = _check_method_and_prior(method, prior)
    if data_term is not None and method != "map":
        raise ValueError(f"data_term is used only by method 'map', not {method!r}")
    check_choice(color, "color", COLOR_MODES)
    check_choice(registration, "registration", REGISTRATION_METHODS)
    scale = check_int(scale, "scale", minimum=1)
    frames = to_device(_check_frames(frames, channel_axis), xp)
    k = frames.shape[0]
    ref = k // 2 if reference is None else check_int(reference, "reference", minimum=0)
    if ref >= k:
        raise ValueError(f"reference {ref} out of range for {k} frames")
    iterations = DEFAULT_ITERATIONS[method] if iterations is None else \
        check_int(iterations, "iterations", minimum=0)
    estimate = isinstance(psf, str) and psf == "estimate"
    psf, phase = degradation_model(degradation, scale, None if estimate else psf, phase)
    if not 0 <= phase < scale:
        raise ValueError(f"phase must be in [0, scale={scale}), got {phase}")

    colour = frames.ndim == 4 and frames.shape[-1] == 3
    if colour:
        ycc = rgb_to_ycbcr(frames)
        luma = ycc[..., 0]
    else:
        luma = frames[..., 0] if frames.ndim == 4 else frames

    if motion is None:
        motion = register(luma, reference=ref, method=registration) if k > 1 else \
            Motion.zeros(1, luma.shape[1:], 0, xp)
    elif not isinstance(motion, Motion):
        raise TypeError(f"motion must be a Motion, got {type(motion).__name__}")
    if motion.n_frames != k or motion.lr_shape != tuple(luma.shape[1:]):
        raise ValueError(f"motion is for {motion.n_frames} frames of {motion.lr_shape}, "
                         f"frames are {k} of {tuple(luma.shape[1:])}")
    motion = motion.to(xp)
    sigma = estimate_noise(luma) if noise is None else check_float(noise, "noise", 0.0)
    codec = codec_model(frames, codec, picture_types)
    motion, sigma, k_effective = _apply_codec_model(codec, motion, luma, sigma)
    if estimate:
        from .calibration import estimate_psf
        psf = GaussianPSF(estimate_psf(to_numpy(luma), scale, motion.to(np), phase,
                                       noise=sigma)[0])
    operator = SystemOperator(motion, scale, psf, phase)

    solve = _solver(method, operator, ref, sigma, iterations, prior, weight, data_term,
                    k_effective)

    if colour and color == "luma":
        y_hr, hist = solve(luma)
        chroma = _chroma(ycc, operator, codec, motion, ref, sigma, xp)
        out = ycbcr_to_rgb(xp.concatenate([y_hr[..., None], chroma], axis=-1))
    elif frames.ndim == 4:
        results = [solve(frames[..., c]) for c in range(frames.shape[-1])]
        out = xp.stack([r[0] for r in results], axis=-1)
        hist = [r[1] for r in results]
    else:
        out, hist = solve(frames)
    out = xp.clip(out, 0.0, 1.0).astype(xp.float32)
    return (out, hist) if return_history else out


def _apply_codec_model(codec, motion, luma, sigma):
    """The motion (confidence), noise level and effective frame count a codec model
    implies: ``(motion, sigma, k_effective)``; unchanged for frames that are not
    codec-degraded."""
    k = motion.n_frames
    if not codec.degraded:
        return motion, sigma, float(k)
    xp = get_array_module(luma)
    sigma = max(sigma, codec.sigma)
    confidence = motion.confidence
    if not np.all(codec.frame_weights == 1.0):
        weights = xp.asarray(codec.frame_weights.astype(np.float32))
        confidence = confidence * weights[:, None, None]
    if k > 1:  # frames that disagree with the reference where the flow failed lose weight
        confidence = confidence * photometric_confidence(luma, motion, sigma)
    motion = Motion(motion.flows, confidence, motion.reference)
    # the prior weight grows with the frames that take part: frames (or areas) the
    # confidence turned off do not count, so a window that fell back to its reference
    # alone is regularised as one frame, not K
    k_effective = max(1.0, float(xp.sum(xp.mean(confidence, axis=(1, 2)))))
    return motion, sigma, k_effective


def codec_model(frames, codec="auto", picture_types=None):
    """The :class:`~mfsr.degradation.codec.CodecModel` of ``frames`` for ``codec``.

    A ``CodecModel`` is returned as it is (the video job detects once per window and
    hands the same model to every tile); a name is resolved by
    :func:`~mfsr.degradation.codec.detect_codec` on the frames (host copy).
    """
    if isinstance(codec, CodecModel):
        if len(codec.frame_weights) != frames.shape[0]:
            raise ValueError(f"codec model is for {len(codec.frame_weights)} frames, "
                             f"frames has {frames.shape[0]}")
        return codec
    return detect_codec(to_numpy(frames), codec, picture_types)


def _chroma(ycc, operator, codec, motion, ref, sigma, xp):
    """HR Cb and Cr by :func:`_fuse_chroma`: on the chroma's own 4:2:0 grid for decoded
    video (whose RGB repeats each chroma sample over 2x2 pixels), else on the luma's."""
    h, w = ycc.shape[1:3]
    if codec.kind == "video" and h % 2 == 0 and w % 2 == 0:
        half = chroma_420_operator(motion, operator.scale, operator.psf, operator.phase)
        planes = [chroma_420_planes(ycc[..., c]) for c in (1, 2)]
        return xp.stack([_fuse_chroma(half, p, ref, sigma) for p in planes], axis=-1)
    return xp.stack([_fuse_chroma(operator, ycc[..., c], ref, sigma) for c in (1, 2)],
                    axis=-1)


def _fuse_chroma(operator, stack, ref, sigma, iterations=3):
    """Cheap chroma: a few CG steps of the quadratic model with a strong Tikhonov prior,
    started from the upsampled reference, so the frames' chroma noise averages out."""
    from .priors import Tikhonov
    weight = 4.0 * prior_weight(sigma, operator.n_frames, "tikhonov")
    x0 = upsample(stack[ref], operator.scale, operator.phase)
    return solvers.conjugate_gradient(operator, stack, x0, Tikhonov(), weight, iterations,
                                      record=False)[0]


def _solver(method, operator, ref, sigma, iterations, prior, weight, data_term, k):
    """Bind the method's parameters; the returned function maps a (K, h, w) stack to HR."""
    if weight is not None:
        weight = check_float(weight, "weight", minimum=0.0)

    def init(stack):
        return upsample(stack[ref], operator.scale, operator.phase)

    if method in ("saa", "saa_median"):
        mode = "median" if method == "saa_median" else "mean"
        return lambda y: solvers.shift_and_add(operator, y, init(y), mode=mode)
    if method == "ibp":
        return lambda y: solvers.ibp(operator, y, init(y), iterations)
    irls_weight = IRLS_GAIN * k * max(sigma, IRLS_SIGMA_FLOOR) ** 2
    if method == "irls":
        weight = irls_weight if weight is None else weight
        return lambda y: solvers.irls(operator, y, init(y), weight, outer=iterations)
    if method == "pnp":
        # the shipped CNN with its self-ensemble; user denoisers run as given
        prior = DEFAULT_PRIOR[method] if prior is None else prior
        denoiser = make_denoiser(prior, PNP_ENSEMBLE if prior == "learned" else 1)
        params = {**pnp_parameters(sigma), "iterations": iterations}
        if weight is not None:
            params["weight"] = weight

        def pnp(y):  # plug-and-play refines the default method's result
            no_prior = weight == 0  # then the robust data fit alone, as for other methods
            start = solvers.irls(operator, y, init(y), 0.0 if no_prior else irls_weight,
                                 outer=DEFAULT_ITERATIONS["irls"])
            return start if no_prior else solvers.pnp_admm(operator, y, start[0], denoiser,
                                                           **params)
        return pnp
    prior_obj = make_prior(prior if prior is not None else DEFAULT_PRIOR[method])
    if weight is None:
        weight = prior_weight(sigma, k, prior_obj.name)
    if method == "cg":
        return lambda y: solvers.conjugate_gradient(operator, y, init(y), prior_obj, weight,
                                                    iterations)
    if data_term is None:
        data_term = "huber"
    if isinstance(data_term, str):
        check_choice(data_term, "data_term", tuple(solvers.DATA_TERMS))
        options = {"huber": {"delta": 3.0 * max(sigma, 1e-3)},
                   "l1": {"eps": max(sigma, 1e-3) / 4, "scale": max(sigma, 1e-3)},
                   "l2": {}}[data_term]
        data_term = solvers.make_data_term(data_term, **options)
    if iterations == 0:
        return lambda y: (init(y), solvers.History())
    return lambda y: solvers.map_lbfgs(solvers.Objective(operator, y, data_term, prior_obj,
                                                         weight), init(y), iterations)


__all__ = ["reconstruct", "prior_weight", "codec_model", "METHODS"]

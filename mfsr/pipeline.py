"""`reconstruct`: frames in, HR image out - the one call most users make.

It reads top to bottom: check the call once into :class:`Options`, register, estimate
the noise and the codec model, build ``A``, let the method's builder
(:data:`mfsr.methods.METHODS`) make the solve function, and handle colour. Raw Bayer
mosaics take the same steps in :mod:`mfsr.demosaic`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kernels, solvers
from .core.validation import check_array, check_choice, check_float, check_int
from .core.backend import get_array_module, resolve_backend, to_device, to_numpy
from .core.color import as_float_image, rgb_to_ycbcr, ycbcr_to_rgb
from .degradation import GaussianPSF, SystemOperator, degradation_model, estimate_noise
from .degradation.codec import (CodecModel, chroma_420_operator, chroma_420_planes,
                                detect_codec)
from .degradation.interpolate import upsample
from .methods import (DEFAULT_ITERATIONS, IRLS_GAIN, IRLS_SIGMA_FLOOR, Problem, SolveOptions,
                      prior_weight, resolve_method)
from .methods import METHODS as _METHODS
from .core.motion import Motion
from .registration import ESTIMATORS, REGISTRATION_METHODS, register
from .registration.refine import refine_motion
from .registration.confidence import photometric_confidence

METHODS = tuple(_METHODS)
COLOR_MODES = ("luma", "rgb")
INIT_MODES = ("reference", "kernel")
REFINE = 0  # passes of motion refinement on the estimate (reconstruct's default)


@dataclass(frozen=True)
class Options:
    """The options of one :func:`reconstruct` call, checked once.

    ``solve`` is what the method's builder sees; the rest steers registration, the
    degradation model and colour. ``psf`` is None when it is to be estimated.
    """

    scale: int
    solve: SolveOptions
    reference: int | None
    motion: Motion | None
    psf: object
    phase: float
    estimate_psf: bool
    noise: float | None
    channel_axis: int
    registration: str
    color: str
    codec: object
    picture_types: object
    init: str
    cfa: str | None = None
    black_level: object = None
    white_level: object = None
    refine: int = 0
    anchor: object = None


def solve_options(method, prior, weight, data_term, iterations):
    """Check the solver options; the method is resolved (see :func:`resolve_method`)."""
    m = resolve_method(method, prior)
    if data_term is not None and m.name != "map":
        raise ValueError(f"data_term is used only by method 'map', not {m.name!r}")
    if weight is not None:
        weight = check_float(weight, "weight", minimum=0.0)
    iterations = m.iterations if iterations is None else \
        check_int(iterations, "iterations", minimum=0)
    return SolveOptions(m.name, iterations, prior, weight, data_term)


def _check_options(scale, method, reference, motion, degradation, psf, phase, noise,
                   iterations, channel_axis, prior, weight, data_term, registration, color,
                   codec, picture_types, init, cfa, black_level, white_level, refine=0,
                   anchor=None):
    scale = check_int(scale, "scale", minimum=1)
    refine = check_int(refine, "refine", minimum=0)
    solve = solve_options(method, prior, weight, data_term, iterations)
    check_choice(color, "color", COLOR_MODES)
    if registration is not None:
        check_choice(registration, "registration", REGISTRATION_METHODS)
    check_choice(init, "init", INIT_MODES)
    if reference is not None:
        reference = check_int(reference, "reference", minimum=0)
    if motion is not None and not isinstance(motion, Motion):
        raise TypeError(f"motion must be a Motion, got {type(motion).__name__}")
    estimate = isinstance(psf, str) and psf == "estimate"
    psf, phase = degradation_model(degradation, scale, None if estimate else psf, phase)
    if not 0 <= phase < scale:
        raise ValueError(f"phase must be in [0, scale={scale}), got {phase}")
    if noise is not None:
        noise = check_float(noise, "noise", 0.0)
    if cfa is None and (black_level is not None or white_level is not None):
        raise ValueError("black_level and white_level apply only to raw mosaics (cfa=...)")
    if anchor is not None:
        if not _METHODS[solve.method].anchored:
            takers = tuple(n for n, m in _METHODS.items() if m.anchored)
            raise ValueError(f"anchor is taken by methods {takers}, not {solve.method!r}")
        if cfa is not None or color == "rgb":
            raise ValueError("anchor is a luma estimate: it does not apply to raw mosaics "
                             "(cfa=...) nor to color='rgb'")
        if not (isinstance(anchor, tuple) and len(anchor) == 2):
            raise TypeError("anchor must be a tuple (image, weights) of HR arrays")
        for a, name in zip(anchor, ("anchor image", "anchor weights")):
            check_array(a, name, ndim=2, finite="host")
    return Options(scale, solve, reference, motion, None if estimate else psf, phase, estimate,
                   noise, channel_axis, registration, color, codec, picture_types, init, cfa,
                   black_level, white_level, refine, anchor)


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
                prior=None, weight=None, data_term=None, registration=None,
                color="luma", codec="auto", picture_types=None, init="reference", cfa=None,
                black_level=None, white_level=None, refine=REFINE, anchor=None,
                backend="auto", return_history=False):
    """Reconstruct one HR image from a stack of LR frames.

    Parameters
    ----------
    frames : array, shape (K, h, w) or (K, h, w, C)
        LR frames (uint8, uint16 or float in [0, 1]); one frame (K = 1) is allowed and
        makes ``"map"``/``"cg"``/``"ibp"`` single-image deblurring super-resolution.
    scale : int
        Upscaling factor s >= 1.
    method : {"irls", "map", "cg", "ibp", "saa", "saa_median", "pnp", "kernel"}, optional
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
        ``"kernel"``: non-iterative kernel-regression merge in the handheld-burst style
        (:func:`mfsr.solvers.kernel_merge`): anisotropic kernels from the local
        structure and a robustness weight against motion the flow does not follow; no
        deblurring, fast.
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
    registration : {"dis", "farneback", "tvl1", "translation", "ecc", "gpu"}, optional
        Motion estimator when ``motion`` is None; default ``"dis"`` (OpenCV, host) for
        NumPy frames and ``"gpu"`` (on the device) for CuPy frames.
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
        ``picture_types`` are given. Device (CuPy) frames are checked on the device for
        decoded 4:2:0 video only (the JPEG test runs OpenCV's encoder on the host), so
        JPEG-compressed device frames need ``codec="jpeg"``.
    init : {"reference", "kernel"}
        Starting estimate of the iterative methods: the reference frame upsampled
        (bicubic, default) or the ``"kernel"`` merge.
    cfa : {"RGGB", "BGGR", "GRBG", "GBRG"}, optional
        The frames are raw Bayer mosaics ``(K, h, w)`` with this pattern: demosaicking
        and super-resolution are solved jointly (:doc:`/raw`,
        :func:`mfsr.demosaic.reconstruct_mosaics`); the output is linear camera RGB
        ``(s*h, s*w, 3)`` (render it with :func:`mfsr.core.color.render_srgb`).
        ``color`` and ``codec`` do not apply.
    black_level, white_level : float or 4 floats, optional
        Raw levels of integer mosaics (one value or one per 2x2 site in pattern order);
        default 0 and the dtype's maximum. Float mosaics are taken as already scaled to
        [0, 1] unless levels are given.
    refine : int
        Passes of motion refinement on the estimate (default 0: off): each
        frame is registered again against what the reconstruction predicts it shows
        (:func:`mfsr.registration.refine.refine_motion`, the same estimator as
        ``registration``), then the image is solved again with that motion. Costs one
        more solve per pass. Not applied to a ``motion`` given by the caller.
    anchor : tuple (array (H, W), array (H, W)), optional
        ``(image, weights)``: an HR luma estimate of the reference's view from elsewhere
        (the video job's recursion: a neighbouring frame's result warped here,
        :mod:`mfsr.recurrence`) and its weights per HR pixel, added to the solve of the
        luma (or grey) image as a robustly weighted quadratic term
        (``mfsr.solvers.irls(anchor=...)``). Methods ``"irls"`` and ``"pnp"``.
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
    options = _check_options(scale, method, reference, motion, degradation, psf, phase,
                             noise, iterations, channel_axis, prior, weight, data_term,
                             registration, color, codec, picture_types, init, cfa,
                             black_level, white_level, refine, anchor)
    with kernels.use(backend if backend in kernels.CPU_KERNELS else "auto"):
        if options.cfa is not None:
            from .demosaic import reconstruct_mosaics
            out, hist = reconstruct_mosaics(frames, options, xp)
        else:
            out, hist = _reconstruct(frames, options, xp)
    out = xp.clip(out, 0.0, 1.0).astype(xp.float32)
    return (out, hist) if return_history else out


def reference_index(reference, n_frames):
    """The reference frame's index: ``reference`` checked, or the middle frame."""
    ref = n_frames // 2 if reference is None else reference
    if ref >= n_frames:
        raise ValueError(f"reference {ref} out of range for {n_frames} frames")
    return ref


def default_registration(xp):
    """``"dis"`` (OpenCV, on the host) for NumPy frames, ``"gpu"`` for device frames, so
    that CuPy frames never leave the device (Lucas-Kanade written against ``xp``; on the
    H200 report's six rows it measured 0.05-0.7 dB below DIS)."""
    return "dis" if xp is np else "gpu"


def estimate_motion(options, grey, ref, xp):
    """The call's motion (checked against the frames) or one registered on ``grey``."""
    k = grey.shape[0]
    motion = options.motion
    if motion is None:
        method = options.registration or default_registration(xp)
        motion = register(grey, reference=ref, method=method) if k > 1 else \
            Motion.zeros(1, grey.shape[1:], 0, xp)
    if motion.n_frames != k or motion.lr_shape != tuple(grey.shape[1:]):
        raise ValueError(f"motion is for {motion.n_frames} frames of {motion.lr_shape}, "
                         f"frames are {k} of {tuple(grey.shape[1:])}")
    return motion.to(xp)


def initializer(init, operator, ref, sigma):
    """``init(stack) -> x0`` for ``init`` in :data:`INIT_MODES`."""
    if init == "kernel":
        return lambda stack: solvers.kernel_merge(operator, stack, noise=sigma)[0]
    return lambda stack: upsample(stack[ref], operator.scale, operator.phase)


def _reconstruct(frames, options, xp):
    frames = to_device(_check_frames(frames, options.channel_axis), xp)
    ref = reference_index(options.reference, frames.shape[0])
    colour = frames.ndim == 4 and frames.shape[-1] == 3
    ycc = rgb_to_ycbcr(frames) if colour else None
    luma = ycc[..., 0] if colour else frames[..., 0] if frames.ndim == 4 else frames

    registered = estimate_motion(options, luma, ref, xp)
    sigma = estimate_noise(luma) if options.noise is None else options.noise
    codec = codec_model(frames, options.codec, options.picture_types)
    sigma = max(sigma, codec.sigma) if codec.degraded else sigma
    psf = options.psf
    if options.estimate_psf:
        from .calibration import estimate_psf
        psf = GaussianPSF(estimate_psf(to_numpy(luma), options.scale, registered.to(np),
                                       options.phase, noise=sigma)[0])

    def solve_all(registered):
        motion, k_effective = data_motion(codec, registered, luma, sigma)
        operator = SystemOperator(motion, options.scale, psf, options.phase)
        problem = Problem(operator, ref, sigma, k_effective,
                          initializer(options.init, operator, ref, sigma),
                          _anchor_on(options.anchor, operator, xp))
        solve = _METHODS[options.solve.method].build(options.solve, problem)
        if colour and options.color == "luma":
            y_hr, hist = solve(luma)
            return y_hr, hist, operator, motion
        if frames.ndim == 4:
            results = [solve(frames[..., c]) for c in range(frames.shape[-1])]
            hr = xp.stack([r[0] for r in results], axis=-1)
            return hr, [r[1] for r in results], operator, motion
        hr, hist = solve(frames)
        return hr, hist, operator, motion

    hr, hist, operator, motion = solve_all(registered)
    # motion refined on the estimate: each frame registered against its prediction
    for _ in range(options.refine if options.motion is None and frames.shape[0] > 1 else 0):
        estimate = hr if hr.ndim == 2 else rgb_to_ycbcr(hr)[..., 0] if colour else hr[..., 0]
        method = options.registration or default_registration(xp)
        registered = refine_motion(luma, registered, operator.forward(estimate),
                                   ESTIMATORS[method])
        hr, hist, operator, motion = solve_all(registered)

    if colour and options.color == "luma":
        chroma = _chroma(ycc, operator, codec, motion, ref, sigma, xp)
        return ycbcr_to_rgb(xp.concatenate([hr[..., None], chroma], axis=-1)), hist
    return hr, hist


def _anchor_on(anchor, operator, xp):
    """The anchor checked against the HR grid, on the frames' module."""
    if anchor is None:
        return None
    image, weights = (to_device(a, xp).astype(xp.float32, copy=False) for a in anchor)
    if tuple(image.shape) != operator.hr_shape or tuple(weights.shape) != operator.hr_shape:
        raise ValueError(f"anchor image and weights must be {operator.hr_shape} (the HR "
                         f"grid), got {tuple(image.shape)} and {tuple(weights.shape)}")
    return image, weights


def data_motion(codec, motion, luma, sigma):
    """The motion the data term uses and the effective frame count: ``(motion,
    k_effective)``.

    The registration's confidence times, for a stack of several frames, the
    photometric check (:func:`~mfsr.registration.confidence.photometric_confidence`:
    each frame loses weight where it disagrees with the warped reference, so occluded,
    non-rigid or misregistered areas fall back to the frames that agree, at worst the
    reference alone) and, for codec-degraded frames, the codec model's frame weights.
    For codec-degraded frames ``k_effective`` counts the frames (or areas) that take
    part, so a window that fell back to its reference alone is regularised as one
    frame, not K; clean frames count K."""
    k = motion.n_frames
    xp = get_array_module(luma)
    confidence = motion.confidence
    if codec.degraded and not np.all(codec.frame_weights == 1.0):
        weights = xp.asarray(codec.frame_weights.astype(np.float32))
        confidence = confidence * weights[:, None, None]
    if k > 1:
        confidence = confidence * photometric_confidence(luma, motion, sigma)
    motion = Motion(motion.flows, confidence, motion.reference)
    if not codec.degraded:   # clean frames: all K count (and a device frame needs no sync)
        return motion, float(k)
    return motion, max(1.0, float(xp.sum(xp.mean(confidence, axis=(1, 2)))))


def codec_model(frames, codec="auto", picture_types=None):
    """The :class:`~mfsr.degradation.codec.CodecModel` of ``frames`` for ``codec``.

    A ``CodecModel`` is returned as it is (the video job detects once per window and
    hands the same model to every tile); a name is resolved by
    :func:`~mfsr.degradation.codec.detect_codec` on the frames where they are (device
    frames stay on the device: 4:2:0 detection only, JPEG when said).
    """
    if isinstance(codec, CodecModel):
        if len(codec.frame_weights) != frames.shape[0]:
            raise ValueError(f"codec model is for {len(codec.frame_weights)} frames, "
                             f"frames has {frames.shape[0]}")
        return codec
    return detect_codec(frames, codec, picture_types)


#: Chroma (Cb, Cr) is fused on an HR grid this many times coarser than the luma's and
#: interpolated (bicubic) onto it, where it divides the scale: a quarter of the unknowns
#: and of the operator's cost for planes that carry little detail at the luma's resolution
#: (bigbuckbunny 720p, 5-frame windows: chroma PSNR +0.11 dB clean, -0.11 dB with noise
#: sigma 5/255, +0.01 dB through x264, luma unchanged; benchmarks/chroma_grid.py).
CHROMA_COARSENING = 2


def _chroma(ycc, operator, codec, motion, ref, sigma, xp):
    """HR Cb and Cr by :func:`_fuse_chroma`: on the chroma's own 4:2:0 grid for decoded
    video (whose RGB repeats each chroma sample over 2x2 pixels), else on the luma's;
    the HR grid :data:`CHROMA_COARSENING` times coarser than the luma's where that
    divides the scale (:meth:`~mfsr.degradation.SystemOperator.coarsened`; one operator,
    its warps prepared once, for both planes), then interpolated onto the luma's."""
    h, w = ycc.shape[1:3]
    if codec.kind == "video" and h % 2 == 0 and w % 2 == 0:
        op = chroma_420_operator(motion, operator.scale, operator.psf, operator.phase)
        planes = [chroma_420_planes(ycc[..., c]) for c in (1, 2)]
    else:
        op, planes = operator, [ycc[..., c] for c in (1, 2)]
    coarse = op.scale % CHROMA_COARSENING == 0
    if coarse:
        op = op.coarsened(CHROMA_COARSENING)
    fused = [_fuse_chroma(op, p, ref, sigma) for p in planes]
    if coarse:
        fused = [upsample(x, CHROMA_COARSENING, 0.0) for x in fused]
    return xp.stack(fused, axis=-1)


def _fuse_chroma(operator, stack, ref, sigma, iterations=3):
    """Cheap chroma: a few CG steps of the quadratic model with a strong Tikhonov prior,
    started from the upsampled reference, so the frames' chroma noise averages out."""
    from .priors import Tikhonov
    weight = 4.0 * prior_weight(sigma, operator.n_frames, "tikhonov")
    x0 = upsample(stack[ref], operator.scale, operator.phase)
    # tol=0: the fixed number of steps, with no host read of the residual per step
    return solvers.conjugate_gradient(operator, stack, x0, Tikhonov(), weight, iterations,
                                      tol=0.0, record=False)[0]


__all__ = ["reconstruct", "prior_weight", "codec_model", "METHODS", "Options",
           "DEFAULT_ITERATIONS", "IRLS_GAIN", "IRLS_SIGMA_FLOOR"]

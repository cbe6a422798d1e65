"""`reconstruct`: frames in, HR image out - the one call most users make.

It reads top to bottom: check the call once into :class:`~mfsr.pipeline.options.Options`,
register, estimate the noise and the codec model, build ``A``, let the method's builder
(:data:`mfsr.pipeline.methods.METHODS`) make the solve function, and handle colour. Raw
Bayer mosaics take the same steps in :mod:`mfsr.pipeline.raw`.
"""
from __future__ import annotations

import numpy as np

from .. import kernels, solvers
from ..core.backend import get_array_module, resolve_backend, to_device, to_numpy
from ..core.color import rgb_to_ycbcr, ycbcr_to_rgb
from ..core.motion import Motion
from ..degradation import GaussianPSF, SystemOperator, estimate_noise
from ..degradation.codec import CodecModel, chroma_420_operator, chroma_420_planes, detect_codec
from ..degradation.interpolate import upsample
from ..priors import Tikhonov
from ..registration import ESTIMATORS
from ..registration.confidence import photometric_confidence
from ..registration.refine import refine_motion
from .calibration import estimate_psf
from .methods import METHODS, Problem, prior_weight
from .options import (NOISE_BLOCK, REFINE, check_frames, check_options, default_registration,
                      estimate_motion, reference_index)
from .raw import reconstruct_mosaics


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
        cross-validation, :func:`mfsr.pipeline.calibration.estimate_psf`: needs >= 3 frames that
        move against the reference, about 10 s; dependable on global-like motion, not
        yet on real video motion, see docs/results.md).
    phase : float, optional
        HR coordinate of the centre of LR pixel 0.
    noise : float, optional
        Noise standard deviation in [0, 1] units; estimated from the whole (luma) stack
        when None (:func:`mfsr.degradation.estimate_noise`; frames of at least 8x8
        pixels, smaller ones need it given). For codec-degraded frames
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
        :func:`mfsr.pipeline.raw.reconstruct_mosaics`); the output is linear camera RGB
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
        :mod:`mfsr.video.recurrence`) and its weights per HR pixel, added to the solve of the
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
    options = check_options(scale, method, reference, motion, degradation, psf, phase,
                             noise, iterations, channel_axis, prior, weight, data_term,
                             registration, color, codec, picture_types, init, cfa,
                             black_level, white_level, refine, anchor)
    with kernels.use(backend if backend in kernels.CPU_KERNELS else "auto"):
        if options.cfa is not None:
            out, hist = reconstruct_mosaics(frames, options, xp)
        else:
            out, hist = _reconstruct(frames, options, xp)
    out = xp.clip(out, 0.0, 1.0).astype(xp.float32)
    return (out, hist) if return_history else out


def _reconstruct(frames, options, xp):
    frames = to_device(check_frames(frames, options.channel_axis), xp)
    ref = reference_index(options.reference, frames.shape[0])
    colour = frames.ndim == 4 and frames.shape[-1] == 3
    ycc = rgb_to_ycbcr(frames) if colour else None
    luma = ycc[..., 0] if colour else frames[..., 0] if frames.ndim == 4 else frames

    if options.noise is None and min(luma.shape[1:]) < NOISE_BLOCK:
        raise ValueError(f"frames must be at least {NOISE_BLOCK}x{NOISE_BLOCK} pixels for the "
                         f"noise estimate, got {luma.shape[1]}x{luma.shape[2]}: give noise=")
    registered = estimate_motion(options, luma, ref, xp)
    sigma = estimate_noise(luma) if options.noise is None else options.noise
    codec = codec_model(frames, options.codec, options.picture_types)
    sigma = max(sigma, codec.sigma) if codec.degraded else sigma
    psf = options.psf
    if options.estimate_psf:
        psf = GaussianPSF(estimate_psf(to_numpy(luma), options.scale, registered.to(np),
                                       options.phase, noise=sigma)[0])

    def solve_all(registered):
        motion, k_effective = data_motion(codec, registered, luma, sigma)
        operator = SystemOperator(motion, options.scale, psf, options.phase)
        problem = Problem(operator, ref, sigma, k_effective,
                          initializer(options.init, operator, ref, sigma),
                          _anchor_on(options.anchor, operator, xp))
        solve = METHODS[options.solve.method].build(options.solve, problem)
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
    weight = 4.0 * prior_weight(sigma, operator.n_frames, "tikhonov")
    x0 = upsample(stack[ref], operator.scale, operator.phase)
    # tol=0: the fixed number of steps, with no host read of the residual per step
    return solvers.conjugate_gradient(operator, stack, x0, Tikhonov(), weight, iterations,
                                      tol=0.0, record=False)[0]




def initializer(init, operator, ref, sigma):
    """``init(stack) -> x0`` for ``init`` in :data:`INIT_MODES`."""
    if init == "kernel":
        return lambda stack: solvers.kernel_merge(operator, stack, noise=sigma)[0]
    return lambda stack: upsample(stack[ref], operator.scale, operator.phase)


__all__ = ["reconstruct", "codec_model", "data_motion", "initializer", "CHROMA_COARSENING"]

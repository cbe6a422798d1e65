"""The options of one :func:`~mfsr.pipeline.reconstruct` call, checked once, and the steps
the RGB and the raw (CFA) paths share: the reference frame and the motion.

Both :mod:`mfsr.pipeline.api` and :mod:`mfsr.pipeline.raw` build on this module, so
neither imports the other's internals.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.color import as_float_image
from ..core.motion import Motion
from ..core.validation import check_array, check_choice, check_float, check_int
from ..degradation import degradation_model
from ..registration import REGISTRATION_METHODS, register
from .methods import METHODS, SolveOptions, resolve_method

COLOR_MODES = ("luma", "rgb")
INIT_MODES = ("reference", "kernel")
REFINE = 0  # passes of motion refinement on the estimate (reconstruct's default)
NOISE_BLOCK = 8  # estimate_noise's block: smaller frames need noise= given


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


def check_options(scale, method, reference, motion, degradation, psf, phase, noise,
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
        if not METHODS[solve.method].anchored:
            takers = tuple(n for n, m in METHODS.items() if m.anchored)
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


def check_frames(frames, channel_axis):
    frames = check_array(frames, "frames", ndim=(3, 4))
    if frames.ndim == 4:
        if channel_axis is None:
            raise ValueError("frames has 4 dimensions but channel_axis is None")
        ax = check_int(channel_axis, "channel_axis", minimum=-3) % 4
        if ax == 0 or channel_axis > 3:
            raise ValueError("channel_axis must be 1, 2, 3 or -3, -2, -1 (an axis of the 4-D "
                             f"frames but the frame axis 0), got {channel_axis}")
        frames = frames.transpose([a for a in range(4) if a != ax] + [ax]) if ax != 3 else frames
        if frames.shape[-1] not in (1, 3):
            raise ValueError(f"frames must have 1 or 3 channels, got {frames.shape[-1]}")
    if frames.shape[0] < 1:
        raise ValueError("frames must hold at least one frame")
    if min(frames.shape[1:3]) < 2:
        raise ValueError(f"frames must be at least 2x2 pixels, got {tuple(frames.shape[1:3])}")
    return as_float_image(frames, "frames")


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




__all__ = ["Options", "COLOR_MODES", "INIT_MODES", "REFINE", "solve_options", "check_options",
           "check_frames", "reference_index", "default_registration", "estimate_motion"]

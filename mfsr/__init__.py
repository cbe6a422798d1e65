"""mfsr: classical reconstruction-based multi-frame super-resolution.

>>> import mfsr
>>> hr = mfsr.reconstruct(frames, scale=4)          # doctest: +SKIP
"""
from . import degradation, grading, io, metrics, priors, registration, solvers, video
from .core.motion import Motion
from .degradation import simulate, simulate_sequence
from .degradation.burst import simulate_burst
from .degradation.interpolate import upsample
from .pipeline import METHODS, reconstruct
from .registration import register
from .video import VideoEncoding, reconstruct_video, upscale_video

__version__ = "0.1.0"
__all__ = ["reconstruct", "reconstruct_video", "upscale_video", "VideoEncoding", "register",
           "simulate", "simulate_sequence", "simulate_burst", "upsample", "Motion", "METHODS",
           "degradation", "grading", "io", "metrics", "priors", "registration", "solvers", "video",
           "__version__"]

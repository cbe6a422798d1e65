"""The pipeline: :func:`reconstruct`, frames in, HR image out.

- :mod:`~mfsr.pipeline.api`: :func:`reconstruct` and the RGB / grey path (register,
  noise and codec model, ``A``, the method's solve function, colour);
- :mod:`~mfsr.pipeline.options`: the call's options checked once, and the steps the RGB
  and raw paths share (reference frame, motion);
- :mod:`~mfsr.pipeline.methods`: one small builder per method beside its defaults
  (:data:`~mfsr.pipeline.methods.METHODS`);
- :mod:`~mfsr.pipeline.raw`: raw Bayer mosaics, joint demosaicking and super-resolution;
- :mod:`~mfsr.pipeline.calibration`: the PSF width estimated from the frames.
"""
from .api import CHROMA_COARSENING, codec_model, data_motion, reconstruct
from .methods import DEFAULT_ITERATIONS, IRLS_GAIN, IRLS_SIGMA_FLOOR, prior_weight
from .methods import METHODS as METHOD_BUILDERS
from .options import COLOR_MODES, INIT_MODES, Options, default_registration

#: The method names :func:`reconstruct` takes.
METHODS = tuple(METHOD_BUILDERS)

__all__ = ["reconstruct", "METHODS", "COLOR_MODES", "INIT_MODES", "Options", "prior_weight",
           "codec_model", "data_motion", "default_registration", "DEFAULT_ITERATIONS",
           "IRLS_GAIN", "IRLS_SIGMA_FLOOR", "CHROMA_COARSENING"]

"""Colour grading: the colour stages around the reconstruction, on plain float arrays.

- :mod:`mfsr.grading.enhance`: exposure and white-balance correction of sRGB frames,
  the same over a shot (shot cuts, temporal smoothing of the correction).
- :mod:`mfsr.grading.transfer`: transfer functions, the SDR EOTFs and PQ / HLG coding.
- :mod:`mfsr.grading.tonemap`: BT.709 SDR to BT.2020 PQ / HLG by inverse tone mapping
  (BT.2446 method C), and back to SDR.
- :mod:`mfsr.grading.metadata`: HDR10 static metadata, MaxCLL / MaxFALL and the mastering
  display, as x265 parameters.

The public names of these modules are importable from here
(``from mfsr.grading import sdr_to_hdr, enhance_frames``).
"""
from .enhance import (CUT_THRESHOLD, DEFAULT_RADIUS, EV_DEAD_ZONE, KEY, KNEE, WB_DEAD_ZONE,
                      WB_METHODS, EnhanceParams, apply, cut_distance, detect_cuts, enhance_frames,
                      estimate, is_cut, shot_feature, temporal_params)
from .metadata import (LightLevels, MasteringDisplay, light_levels, light_levels_of_signal,
                       mastering_display, x265_hdr10_params)
from .tonemap import (DIFFUSE_WHITE, REFERENCE_WHITE, inverse_tone_map, itm_parameters, sdr_to_hdr,
                      tone_map_to_sdr)
from .transfer import SDR_EOTFS, TRANSFERS, decode, encode

__all__ = ["EnhanceParams", "estimate", "temporal_params", "apply", "enhance_frames",
           "shot_feature", "cut_distance", "is_cut", "detect_cuts", "WB_METHODS", "KEY",
           "EV_DEAD_ZONE", "WB_DEAD_ZONE", "CUT_THRESHOLD", "DEFAULT_RADIUS", "KNEE",
           "encode", "decode", "TRANSFERS", "SDR_EOTFS",
           "inverse_tone_map", "sdr_to_hdr", "tone_map_to_sdr", "itm_parameters",
           "DIFFUSE_WHITE", "REFERENCE_WHITE",
           "light_levels", "light_levels_of_signal", "LightLevels", "MasteringDisplay",
           "mastering_display", "x265_hdr10_params"]

"""Colour grading: the colour stages around the reconstruction, on plain float arrays.

- :mod:`mfsr.grading.enhance`: exposure and white-balance correction of sRGB frames,
  consistent over a shot (before or after the super-resolution).
"""

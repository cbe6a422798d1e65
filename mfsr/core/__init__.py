"""The bottom layer: what every other layer of mfsr builds on.

- :mod:`~mfsr.core.backend`: the array module (NumPy or CuPy) picked from the data, and
  moving arrays between host and device;
- :mod:`~mfsr.core.device_cache`: small constants kept on the device once;
- :mod:`~mfsr.core.validation`: the argument checks that raise ``ValueError`` /
  ``TypeError`` naming the argument;
- :mod:`~mfsr.core.color`: image conversion to float, YCbCr, sRGB;
- :mod:`~mfsr.core.motion`: :class:`Motion`, the one thing later layers know of
  registration.
"""

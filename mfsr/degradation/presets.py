"""Named degradations: PSF and sampling phase of the standard benchmark data."""
from __future__ import annotations

from .psf import BicubicPSF, GaussianPSF, make_psf

DEGRADATIONS = ("area", "BD", "BI")


def degradation_model(degradation, scale, psf=None, phase=None):
    """Resolve a degradation preset plus explicit overrides to ``(psf, phase)``.

    Parameters
    ----------
    degradation : {"area", "BD", "BI"} or None
        ``"area"`` (default): box PSF of width ``scale``, phase ``(scale-1)/2``
        (what ``cv2.resize(..., INTER_AREA)`` does). ``"BD"``: Gaussian sigma 1.6 HR px,
        phase 0. ``"BI"``: antialiased bicubic downscale (MATLAB ``imresize``), phase
        ``(scale-1)/2``.
    scale : int
        Upscaling factor.
    psf, phase : optional
        Override the preset's PSF / phase.

    Returns
    -------
    (PSF, float)
    """
    if degradation is None:
        degradation = "area"
    if degradation not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {degradation!r}; valid: "
                         f"{', '.join(map(repr, DEGRADATIONS))}")
    centre = (scale - 1) / 2
    preset = {"area": (make_psf("area", scale), centre),
              "BD": (GaussianPSF(1.6), 0.0),
              "BI": (BicubicPSF(scale), centre)}[degradation]
    if phase is not None:
        try:
            phase = float(phase)
        except (TypeError, ValueError):  # float()'s message does not name the argument
            raise TypeError(f"phase must be a number, got {phase!r}") from None
    return (make_psf(psf, scale) if psf is not None else preset[0],
            phase if phase is not None else preset[1])

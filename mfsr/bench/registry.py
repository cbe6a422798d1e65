"""The names of the harness's methods (:func:`method_names`) and the method of a name
(:func:`make_method`): the baselines and mfsr's methods (:mod:`mfsr.bench.methods`) and
the deep networks (:mod:`mfsr.bench.deep`)."""
from __future__ import annotations

from ..pipeline import METHODS
from . import deep
from .methods import BASELINES, BTVL1, Bicubic, BicubicGrid, Reconstruct, Video


def method_names():
    """Every name :func:`make_method` takes (deep networks included)."""
    return (list(BASELINES) + ["default"] + list(METHODS)
            + ["video"] + [f"video-{m}" for m in METHODS] + list(deep.NETWORKS))


def make_method(name):
    """The :class:`Method` of a name (see :func:`method_names`).

    Raises
    ------
    ValueError
        Unknown name (the message lists the valid ones).
    """
    if name == "bicubic":
        return Bicubic()
    if name == "bicubic-grid":
        return BicubicGrid()
    if name == "btvl1":
        return BTVL1()
    if name == "default":
        return Reconstruct(name, None)
    if name in METHODS:
        return Reconstruct(name, name)
    if name == "video":
        return Video(name, "irls")
    if name.startswith("video-") and name[6:] in METHODS:
        return Video(name, name[6:])
    if name in deep.NETWORKS:
        return deep.NetworkMethod(name)
    raise ValueError(f"unknown method {name!r}; valid: {', '.join(method_names())}")


__all__ = ["method_names", "make_method"]

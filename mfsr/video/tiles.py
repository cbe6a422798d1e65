"""Frames too large for one reconstruction: overlapping tiles blended with linear ramps.

:func:`tile_grid` cuts an LR frame into tiles whose reconstruction fits a memory budget;
:func:`reconstruct_tiled` reconstructs each with :func:`mfsr.reconstruct` and blends them.
"""
from __future__ import annotations

import math

import numpy as np

from ..core.backend import get_array_module, resolve_backend, to_device, to_numpy
from ..core.device_cache import device_constant
from ..core.motion import Motion
from ..pipeline import reconstruct

DEFAULT_MAX_MEMORY = 1 << 30


TILE_OVERLAP = 8            # LR pixels each tile reaches past its core, on each side


def tile_grid(lr_shape, scale, n_frames, max_memory, overlap=TILE_OVERLAP):
    """Split an LR frame into tiles whose reconstruction fits ``max_memory``.

    The working memory of :func:`mfsr.reconstruct` is estimated as
    ``1.25 * (96 + 16 K)`` bytes per HR pixel of the tile (measured with ``tracemalloc``
    on the default ``"irls"`` method, colour frames, K = 3 and 5).

    Parameters
    ----------
    lr_shape : tuple of int
        ``(h, w)`` of the LR frames.
    scale : int
    n_frames : int
        Frames in the window.
    max_memory : int or None
        Budget in bytes for one reconstruction; None: one tile.
    overlap : int
        LR pixels each tile reaches past its core on every inner side.

    Returns
    -------
    list of tuple
        ``(y0, y1, x0, x1)`` core boxes in LR pixels that partition the frame.
    """
    h, w = lr_shape
    if max_memory is None:
        return [(0, h, 0, w)]
    per_px = 1.25 * (96 + 16 * n_frames)
    # cores at least 2 * overlap wide, so that a tile's two ramps never meet
    most_y, most_x = max(1, h // max(1, 2 * overlap)), max(1, w // max(1, 2 * overlap))
    for n in range(1, 1 + max(h, w)):
        ny = min(most_y, max(1, round(n * h / max(h, w))))
        nx = min(most_x, max(1, round(n * w / max(h, w))))
        th = math.ceil(h / ny) + (2 * overlap if ny > 1 else 0)
        tw = math.ceil(w / nx) + (2 * overlap if nx > 1 else 0)
        if th * tw * scale * scale * per_px <= max_memory or (ny == most_y and nx == most_x):
            break
    ys = np.linspace(0, h, ny + 1).round().astype(int)
    xs = np.linspace(0, w, nx + 1).round().astype(int)
    return [(int(ys[i]), int(ys[i + 1]), int(xs[j]), int(xs[j + 1]))
            for i in range(ny) for j in range(nx)]


def _ramp(n_hr, lo_pad, hi_pad):
    """1-D blending weight of a tile: linear ramps over its padded ends."""
    wgt = np.ones(n_hr, np.float32)
    if lo_pad:
        wgt[: 2 * lo_pad] = (np.arange(2 * lo_pad, dtype=np.float32) + 0.5) / (2 * lo_pad)
    if hi_pad:
        wgt[n_hr - 2 * hi_pad:] = np.minimum(
            wgt[n_hr - 2 * hi_pad:],
            (np.arange(2 * hi_pad, 0, -1, dtype=np.float32) - 0.5) / (2 * hi_pad))
    return wgt


def reconstruct_tiled(frames, scale, motion, tiles, overlap=TILE_OVERLAP, **kwargs):
    """Reconstruct one HR frame tile by tile and blend the tiles without seams.

    Each tile is its core box grown by ``overlap`` LR pixels on its inner sides; the
    motion is cropped with it (flows are relative, so a crop stays valid). Neighbouring
    tiles overlap by ``2 * overlap`` LR pixels, where their weights ramp linearly in
    opposite directions. On the CuPy backend (device frames, or ``backend="cupy"``) the
    tiles are cut, reconstructed and blended on the device, and the HR frame comes to
    the host once, at the end.

    Parameters
    ----------
    frames : array, shape (K, h, w) or (K, h, w, C)
    scale : int
    motion : Motion
    tiles : list of tuple
        Core boxes from :func:`tile_grid`.
    overlap : int
    **kwargs
        Passed to :func:`mfsr.reconstruct` (pass ``noise=`` so all tiles share it); an
        ``anchor`` (HR arrays) is cut into each tile's HR region.

    Returns
    -------
    ndarray, shape (s*h, s*w[, C]), float32
    """
    backend = kwargs.get("backend", "auto")
    xp = resolve_backend(backend, frames) if backend in ("auto", "cupy") else np
    frames = to_device(frames, xp)
    h, w = frames.shape[1:3]
    if len(tiles) == 1:
        return to_numpy(reconstruct(frames, scale, motion=motion,
                                    reference=motion.reference, **kwargs))
    anchor = kwargs.pop("anchor", None)
    mp = get_array_module(motion.flows)
    out = weight = None
    for (y0, y1, x0, x1) in tiles:
        py0, py1 = max(0, y0 - overlap), min(h, y1 + overlap)
        px0, px1 = max(0, x0 - overlap), min(w, x1 + overlap)
        sub = Motion(mp.ascontiguousarray(motion.flows[:, py0:py1, px0:px1]),
                     mp.ascontiguousarray(motion.confidence[:, py0:py1, px0:px1]),
                     motion.reference)
        crop = xp.ascontiguousarray(frames[:, py0:py1, px0:px1])
        region = (slice(py0 * scale, py1 * scale), slice(px0 * scale, px1 * scale))
        if anchor is not None:   # the anchor is HR: its tile is the tile's HR region
            kwargs["anchor"] = tuple(xp.ascontiguousarray(a[region]) for a in anchor)
        hr = to_device(reconstruct(crop, scale, motion=sub, reference=motion.reference,
                                   **kwargs), xp)
        if out is None:
            out = xp.zeros((h * scale, w * scale) + hr.shape[2:], xp.float32)
            weight = xp.zeros((h * scale, w * scale), xp.float32)
        wy = _ramp_on(xp, hr.shape[0], (y0 - py0) * scale, (py1 - y1) * scale)
        wx = _ramp_on(xp, hr.shape[1], (x0 - px0) * scale, (px1 - x1) * scale)
        wgt = wy[:, None] * wx[None, :]
        out[region] += hr * (wgt[..., None] if hr.ndim == 3 else wgt)
        weight[region] += wgt
    out /= weight[..., None] if out.ndim == 3 else weight
    return to_numpy(out)


def _ramp_on(xp, n_hr, lo_pad, hi_pad):
    """:func:`_ramp` on ``xp`` (a device copy kept per size)."""
    return device_constant(("video-ramp", n_hr, lo_pad, hi_pad),
                           lambda: _ramp(n_hr, lo_pad, hi_pad), xp)


__all__ = ["tile_grid", "reconstruct_tiled", "DEFAULT_MAX_MEMORY", "TILE_OVERLAP"]

"""Shift-and-add fusion: each LR sample placed at its HR position in the reference view."""
from __future__ import annotations

from ..core.backend import get_array_module
from ..degradation.sampling import BlurDecimate
from ..degradation.system import SystemOperator
from .history import History


def shift_and_add(operator: SystemOperator, frames, fill, mode="mean", min_weight=0.1):
    """Fuse an LR stack onto the HR grid without deblurring.

    Parameters
    ----------
    operator : SystemOperator
        Gives the motion, scale and sampling phase (its PSF is ignored).
    frames : array, shape (K, h, w)
        LR frames.
    fill : array, shape (H, W)
        Values for HR pixels that no sample reaches (e.g. the upsampled reference).
    mode : {"mean", "median"}
        ``"mean"``: confidence-weighted bilinear splatting, normalised.
        ``"median"``: per HR pixel, the median of the samples whose position rounds to it
        (robust to outliers, Farsiu et al. 2004).
    min_weight : float
        HR pixels whose accumulated weight is below this take ``fill``.

    Returns
    -------
    x : array, shape (H, W)
    history : History
        One entry.
    """
    xp = get_array_module(frames)
    hist = History()
    hist.start()
    c = operator.confidence
    if mode == "mean":
        splat = BlurDecimate(operator.hr_shape, operator.scale, "none", operator.phase)
        num = xp.zeros(operator.hr_shape, frames.dtype)
        den = xp.zeros(operator.hr_shape, frames.dtype)
        for wk, y, ck in zip(operator.warps, frames, c):
            num += wk.adjoint(splat.adjoint(ck * y))
            den += wk.adjoint(splat.adjoint(ck))
        x = xp.where(den >= min_weight, num / xp.maximum(den, 1e-12), fill)
    elif mode == "median":
        x = _median_fusion(operator, frames, fill, min_weight, xp)
    else:
        raise ValueError(f"unknown shift-and-add mode {mode!r}; valid: 'mean', 'median'")
    x = x.astype(frames.dtype)
    r = operator.forward(x) - frames
    hist.record(float("nan"), float(xp.sqrt(xp.sum(c * r * r))))
    return x, hist


def _median_fusion(operator, frames, fill, min_weight, xp):
    H, W = operator.hr_shape
    s, ph = operator.scale, operator.phase
    h, w = operator.lr_shape
    cy = s * xp.arange(h, dtype=xp.float32)[:, None] + ph
    cx = s * xp.arange(w, dtype=xp.float32)[None, :] + ph
    bins, vals = [], []
    for wk, y, ck in zip(operator.warps, frames, operator.confidence):
        ty, tx = cy + xp.zeros_like(cx), cx + xp.zeros_like(cy)
        if not wk.identity:  # sample the HR flow at the LR sample positions
            iy = xp.clip(xp.round(ty), 0, H - 1).astype(xp.int64)
            ix = xp.clip(xp.round(tx), 0, W - 1).astype(xp.int64)
            i = wk.index.reshape(H, W)[iy, ix]
            ty = (i // W) + wk.wy.reshape(H, W)[iy, ix]
            tx = (i % W) + wk.wx.reshape(H, W)[iy, ix]
            ty = ty + (cy - iy)  # the remaining sub-pixel offset of the sample itself
            tx = tx + (cx - ix)
        by = xp.round(ty).astype(xp.int64)
        bx = xp.round(tx).astype(xp.int64)
        keep = (ck >= min_weight) & (by >= 0) & (by < H) & (bx >= 0) & (bx < W)
        bins.append((by * W + bx)[keep])
        vals.append(y[keep])
    bins, vals = xp.concatenate(bins), xp.concatenate(vals)
    order = xp.lexsort(xp.stack([vals.astype(xp.float64), bins.astype(xp.float64)]))
    bins, vals = bins[order], vals[order]
    starts = xp.concatenate([xp.zeros(1, bool), bins[1:] != bins[:-1]]).nonzero()[0]
    starts = xp.concatenate([xp.zeros(1, starts.dtype), starts])
    counts = xp.diff(xp.concatenate([starts, xp.asarray([bins.size], starts.dtype)]))
    med = 0.5 * (vals[starts + (counts - 1) // 2] + vals[starts + counts // 2])
    out = fill.copy().ravel()
    out[bins[starts]] = med
    return out.reshape(H, W)

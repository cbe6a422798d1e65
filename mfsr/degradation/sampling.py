"""``DB``: PSF blur followed by decimation, as one strided correlation, and its adjoint.

Only the HR samples that reach an LR pixel are computed. The image is extended past its
border by symmetric reflection (``scipy.ndimage`` mode ``"reflect"``), which is how the
standard BD data were blurred; the adjoint folds the reflected part back, so the pair is
exact to rounding. Operators act on the last two axes, so a ``(K, H, W)`` stack is
processed in one call.
"""
from __future__ import annotations

import math

import numpy as np

from ..core.backend import get_array_module
from ..core.validation import check_float, check_int
from ..kernels import kernels_for
from .psf import PSF, make_psf


def _ell(out_index, in_index, weights, n_out):
    """ELL form (fixed number of entries per row) of a sparse ``n_out x n_in`` matrix given
    as coordinates; duplicate entries are summed; rows with fewer entries are padded with
    weight 0 at their first index (index 0 for an empty row).

    Returns ``(indices int64 (n_out, m), weights float64 (n_out, m))``.
    """
    out_index = np.asarray(out_index, np.int64).ravel()
    in_index = np.asarray(in_index, np.int64).ravel()
    weights = np.asarray(weights, np.float64).ravel()
    n_in = int(in_index.max()) + 1
    keys, inverse = np.unique(out_index * n_in + in_index, return_inverse=True)
    summed = np.bincount(inverse.ravel(), weights=weights, minlength=keys.size)
    o, i = keys // n_in, keys % n_in
    counts = np.bincount(o, minlength=n_out)
    slot = np.arange(keys.size) - np.repeat(np.cumsum(counts) - counts, counts)
    m = max(int(counts.max()), 1)
    idx = np.zeros((n_out, m), np.int64)
    val = np.zeros((n_out, m), np.float64)
    idx[o, slot] = i
    val[o, slot] = summed
    first = np.zeros(n_out, np.int64)
    first[o[slot == 0]] = i[slot == 0]
    pad = np.arange(m)[None, :] >= counts[:, None]
    idx[pad] = np.broadcast_to(first[:, None], idx.shape)[pad]
    return idx, val


def _reflect_index(q, n):
    """Map indices of a symmetric extension back into ``[0, n)``."""
    m = np.mod(q, 2 * n)
    return np.where(m < n, m, 2 * n - 1 - m)


class _AxisSampler:
    """1-D strided correlation along one axis: ``t[i] = sum_j w[j] x[s*i + start + j]``."""

    def __init__(self, n_hr, n_lr, scale, start, n_taps):
        self.n_hr, self.n_lr, self.scale = n_hr, n_lr, scale
        last = scale * (n_lr - 1) + start + n_taps - 1
        self.before = max(0, -start)
        self.after = max(0, last - (n_hr - 1))
        self.offset = start + self.before  # first tap's index in the padded array
        self.pad_index = _reflect_index(np.arange(-self.before, n_hr + self.after), n_hr)

    def pad(self, x, axis, xp):
        if self.before == 0 and self.after == 0:
            return x
        return xp.take(x, xp.asarray(self.pad_index), axis=axis)

    def unpad(self, g, axis, xp):
        """Adjoint of :meth:`pad`: add the reflected border back onto its source."""
        if self.before == 0 and self.after == 0:
            return g
        g = xp.moveaxis(g, axis, 0)
        out = g[self.before: self.before + self.n_hr].copy()
        for q in list(range(self.before)) + list(range(self.before + self.n_hr, g.shape[0])):
            out[int(self.pad_index[q])] += g[q]
        return xp.moveaxis(out, 0, axis)

    def ell(self, weights):
        """``(forward, transposed)`` ELL tables of this axis' sampling matrix
        ``S`` (``n_lr x n_hr``, border reflection folded in) for 1-D taps ``weights``.

        The forward table keeps one entry per tap, in tap order (a reflected pixel that
        two taps reach appears twice), so that it sums exactly as the strided
        correlation of the padded image does; the transposed one sums duplicates.
        """
        n = len(weights)
        hr = self.pad_index[self.offset + self.scale * np.arange(self.n_lr)[:, None]
                            + np.arange(n)].astype(np.int64)
        w = np.tile(np.asarray(weights, np.float64), (self.n_lr, 1))
        lr = np.repeat(np.arange(self.n_lr), n)
        return (hr, w), _ell(hr, lr, w, self.n_hr)

    def tap_slice(self, j):
        first = self.offset + j
        return slice(first, first + self.scale * (self.n_lr - 1) + 1, self.scale)


class BlurDecimate:
    """The linear operator ``D_s B``: blur by a PSF, keep one HR sample per LR pixel.

    Parameters
    ----------
    hr_shape : tuple of int
        ``(H, W)`` of the HR image; must be ``scale`` times the LR shape.
    scale : int
        Decimation factor ``s`` >= 1.
    psf : PSF or description accepted by :func:`make_psf`
        Blur in HR pixels.
    phase : float
        HR coordinate of the centre of LR pixel 0, in ``[0, scale)``. ``(scale-1)/2``
        is the area-sensor convention; 0 keeps ``x[::s, ::s]`` (BD data sets).
    """

    def __init__(self, hr_shape, scale, psf="area", phase=None):
        self.scale = check_int(scale, "scale", minimum=1)
        if phase is None:
            phase = (self.scale - 1) / 2
        self.phase = check_float(phase, "phase", minimum=0.0)
        if self.phase >= self.scale:
            raise ValueError(f"phase must be in [0, scale={self.scale}), got {phase}")
        H, W = (int(v) for v in hr_shape)
        if H % self.scale or W % self.scale:
            raise ValueError(f"hr_shape {hr_shape} is not a multiple of scale {self.scale}")
        self.hr_shape = (H, W)
        self.lr_shape = (H // self.scale, W // self.scale)
        self.psf: PSF = make_psf(psf, self.scale)
        p0 = math.floor(self.phase)
        frac = self.phase - p0
        if self.psf.separable:
            (wy, oy), (wx, ox) = self.psf.taps(frac), self.psf.taps(frac)
            self.weights = (wy, wx)
        else:
            w2, (oy, ox) = self.psf.taps_2d(frac, frac)
            self.weights = w2
        self.rows = _AxisSampler(H, self.lr_shape[0], self.scale, p0 + oy,
                                 len(self.weights[0]) if self.psf.separable else w2.shape[0])
        self.cols = _AxisSampler(W, self.lr_shape[1], self.scale, p0 + ox,
                                 len(self.weights[1]) if self.psf.separable else w2.shape[1])
        self.gather_tables = self.gather_tables_t = None
        if self.psf.separable:
            (ry, ry_t), (rx, rx_t) = self.rows.ell(self.weights[0]), self.cols.ell(self.weights[1])
            # D B z = S_y z S_x^T and (D B)^T y = S_y^T y S_x, for kernels' separable_gather
            self.gather_tables = ry + rx
            self.gather_tables_t = ry_t + rx_t

    def forward(self, x):
        """Apply ``D B`` to ``x`` of shape ``(..., H, W)``; returns ``(..., h, w)``."""
        xp = get_array_module(x)
        xpad = self.cols.pad(self.rows.pad(x, -2, xp), -1, xp)
        h, w = self.lr_shape
        if self.psf.separable:
            start = (self.rows.offset, self.cols.offset)
            return kernels_for(xpad).strided_correlate(xpad, *self.weights, start, self.scale,
                                                       self.lr_shape)
        out = xp.zeros(x.shape[:-2] + (h, w), dtype=x.dtype)
        for (a, b), c in np.ndenumerate(self.weights):
            if c:
                out += float(c) * xpad[..., self.rows.tap_slice(a), self.cols.tap_slice(b)]
        return out

    def adjoint(self, y):
        """Apply ``(D B)^T`` to ``y`` of shape ``(..., h, w)``; returns ``(..., H, W)``."""
        xp = get_array_module(y)
        ph = self.rows.before + self.hr_shape[0] + self.rows.after
        pw = self.cols.before + self.hr_shape[1] + self.cols.after
        lead = y.shape[:-2]
        if self.psf.separable:
            start = (self.rows.offset, self.cols.offset)
            g = kernels_for(y).strided_correlate_adjoint(y, *self.weights, start, self.scale,
                                                         (ph, pw))
        else:
            g = xp.zeros(lead + (ph, pw), dtype=y.dtype)
            for (a, b), c in np.ndenumerate(self.weights):
                if c:
                    g[..., self.rows.tap_slice(a), self.cols.tap_slice(b)] += float(c) * y
        return self.cols.unpad(self.rows.unpad(g, -2, xp), -1, xp)

    def __repr__(self):
        return (f"BlurDecimate(hr_shape={self.hr_shape}, scale={self.scale}, "
                f"psf={self.psf!r}, phase={self.phase:g})")

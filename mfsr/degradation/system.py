"""The system operator ``A = D B W`` stacked over frames, built from a `Motion`."""
from __future__ import annotations

import copy
import hashlib

import numpy as np

from ..core.backend import get_array_module
from ..core.device_cache import device_constant
from ..core.motion import Motion
from ..core.validation import check_int
from ..kernels import kernels_for
from ..kernels.buffers import deliver
from .psf import GaussianPSF, psf_variance
from .sampling import BlurDecimate
from .warp import Warp, upsample_flow


def _device_tables(tables, xp):
    """The gather tables on ``xp``'s device: each uploaded once per content (shape,
    scale, PSF and phase determine them), so the video job's per-frame operators
    reuse them."""
    if xp is np:
        return tuple(xp.asarray(t) for t in tables)

    def one(t):
        t = np.ascontiguousarray(t)
        key = ("system-table", t.dtype.str, t.shape,
               hashlib.blake2b(t.tobytes(), digest_size=16).hexdigest())
        return device_constant(key, lambda: t, xp)
    return tuple(one(t) for t in tables)


class SystemOperator:
    """``A x = [D B W_k x]_k``: HR image ``(H, W)`` to LR stack ``(K, h, w)``.

    With a separable PSF, ``A`` and ``A^T`` are one kernel call each
    (:func:`mfsr.kernels.reference.warp_blur_decimate` and its adjoint) over all frames;
    each kernel set prepares the warps once in its own form (the reference: bilinear
    tables, ``16 K H W`` bytes; Numba: the LR flows alone). The per-frame
    :attr:`warps` are built only when asked for.

    Parameters
    ----------
    motion : Motion
        Flows (LR px, frame k to reference) and confidence, shape ``(K, h, w, ...)``.
    scale : int
        Upscaling factor ``s``; the HR image is ``(s*h, s*w)``.
    psf : PSF or description accepted by :func:`mfsr.degradation.make_psf`
        Blur in HR pixels (default ``"area"``: box of width ``s``).
    phase : float, optional
        HR coordinate of LR pixel 0's centre; default ``(s-1)/2`` (area sensor).
    """

    def __init__(self, motion: Motion, scale: int, psf="area", phase=None):
        if not isinstance(motion, Motion):
            raise TypeError(f"motion must be a Motion, got {type(motion).__name__}")
        self.scale = check_int(scale, "scale", minimum=1)
        h, w = motion.lr_shape
        self.lr_shape = (h, w)
        self.hr_shape = (self.scale * h, self.scale * w)
        self.n_frames = motion.n_frames
        self.blur_decimate = BlurDecimate(self.hr_shape, self.scale, psf, phase)
        self.psf = self.blur_decimate.psf
        self.phase = self.blur_decimate.phase
        self.confidence = motion.confidence
        self.flows = motion.flows
        self.reference = motion.reference
        self._warps = None
        self._warp_states = {}
        bd = self.blur_decimate
        self._sampling = self._sampling_t = None
        if bd.gather_tables is not None:
            xp = get_array_module(motion.flows)
            self._sampling = _device_tables(bd.gather_tables, xp)
            self._sampling_t = _device_tables(bd.gather_tables_t, xp)

    def coarsened(self, factor=2):
        """The same frames seen from an HR grid ``factor`` times coarser.

        Coarse pixel ``c`` sits on HR pixel ``factor c`` (so that
        :func:`mfsr.degradation.interpolate.upsample` by ``factor`` with ``phase=0`` brings a coarse
        image back onto this operator's grid), LR pixel ``i`` on coarse coordinate
        ``(scale i + phase) / factor``; the PSF is the Gaussian of the same variance, in
        coarse pixels; the motion is the same. For quantities that need less resolution
        than the luma (chroma): the coarse model is an approximation.

        Parameters
        ----------
        factor : int
            Divides :attr:`scale`.

        Returns
        -------
        SystemOperator
            From ``(H / factor, W / factor)`` to the same LR stack.
        """
        factor = check_int(factor, "factor", minimum=1)
        if self.scale % factor:
            raise ValueError(f"factor must divide the scale {self.scale}, got {factor}")
        psf = GaussianPSF(float(np.sqrt(psf_variance(self.psf))) / factor)
        phase = self.phase / factor
        return SystemOperator(Motion(self.flows, self.confidence, self.reference),
                              self.scale // factor, psf, phase)

    def with_confidence(self, confidence):
        """This operator with other data weights ``(K, h, w)``; the warps prepared for
        it are shared, so a weighting per colour channel costs no second preparation."""
        if tuple(confidence.shape) != tuple(self.confidence.shape):
            raise ValueError(f"confidence must have shape {tuple(self.confidence.shape)}, "
                             f"got {tuple(confidence.shape)}")
        other = copy.copy(self)
        other.confidence = confidence
        return other

    @property
    def warps(self):
        """The per-frame :class:`~mfsr.degradation.Warp` operators (built on first use)."""
        if self._warps is None:
            self._warps = [Warp(upsample_flow(f, self.scale, self.phase)) for f in self.flows]
        return self._warps

    def _warp_state(self, kernel_set):
        """The warps in the form ``kernel_set`` works with, prepared once per kernel set."""
        state = self._warp_states.get(kernel_set.NAME)
        if state is None:
            state = kernel_set.prepare_warps(self.flows, self.scale, self.phase)
            self._warp_states[kernel_set.NAME] = state
        return state

    def forward(self, x):
        """``A x``: HR image ``(H, W)`` to LR stack ``(K, h, w)``."""
        if self._sampling is not None:
            ks = kernels_for(x)
            return ks.warp_blur_decimate(x, self._warp_state(ks), *self._sampling)
        xp = get_array_module(x)
        warped = xp.stack([wk.forward(x) for wk in self.warps])
        return self.blur_decimate.forward(warped)

    def adjoint(self, r, out=None, weights=None):
        """``A^T r``: LR stack ``(K, h, w)`` to HR image ``(H, W)``.

        ``weights``: optional ``(K, h, w)`` data weights; ``A^T (weights * r)`` is then
        computed with ``r`` multiplied as it is read (one kernel-set call, no
        ``weights * r`` image; equal to the bit in the NumPy and Numba kernel sets).
        ``out``: optional C-contiguous array ``(H, W)`` of ``r``'s dtype to write into
        (and return), so that solver loops allocate no image per iteration.
        """
        if self._sampling_t is not None:
            ks = kernels_for(r)
            return ks.warp_blur_decimate_adjoint(r, self._warp_state(ks), *self._sampling_t,
                                                 out=out, weights=weights)
        if weights is not None:
            r = weights * r
        back = self.blur_decimate.adjoint(r)
        total = self.warps[0].adjoint(back[0]).copy()
        for wk, b in zip(self.warps[1:], back[1:]):
            total += wk.adjoint(b)
        return deliver(total, out)

    def norm_squared(self, weights=None, iterations=15, seed=0):
        """Estimate ``||A^T diag(weights) A||`` by power iteration (largest eigenvalue)."""
        import numpy as np
        xp = get_array_module(self.confidence)
        rng = np.random.default_rng(seed)
        x = xp.asarray(rng.standard_normal(self.hr_shape).astype(np.float32))
        lam = 0.0
        for _ in range(iterations):
            x /= float(xp.linalg.norm(x))
            ax = self.forward(x)
            if weights is not None:
                ax = ax * weights
            x = self.adjoint(ax)
            lam = float(xp.linalg.norm(x))
        return lam

    def __repr__(self):
        return (f"SystemOperator(K={self.n_frames}, lr_shape={self.lr_shape}, scale={self.scale}, "
                f"psf={self.psf!r}, phase={self.phase:g})")


class CFASystemOperator:
    """``A x = [M D B W_k x]_k``: HR RGB image ``(H, W, 3)`` to raw mosaics ``(K, h, w)``.

    The colour filter array ``M`` keeps, at each LR pixel, the channel its mask says
    (:func:`mfsr.degradation.cfa.cfa_masks`). Channel ``c`` alone is the plain system
    operator with its data weights multiplied by the mask of ``c`` (:meth:`channel`),
    which is how the solvers see it: ``A^T C A = sum_c A_c^T (C m_c) A_c`` since the
    masks are 0/1 and do not overlap.

    Parameters
    ----------
    operator : SystemOperator
        ``D B W`` of the LR (CFA) grid; its confidence is the data weight of every channel.
    masks : array of bool, shape (3, h, w)
        Where each channel is sampled; exactly one channel per pixel.
    """

    def __init__(self, operator, masks):
        if not isinstance(operator, SystemOperator):
            raise TypeError(f"operator must be a SystemOperator, got {type(operator).__name__}")
        if tuple(masks.shape) != (3, *operator.lr_shape):
            raise ValueError(f"masks must have shape (3, {operator.lr_shape[0]}, "
                             f"{operator.lr_shape[1]}), got {tuple(masks.shape)}")
        xp = get_array_module(masks)
        if not bool(xp.all(masks.sum(axis=0) == 1)):
            raise ValueError("masks must select exactly one channel at every pixel")
        self.operator = operator
        self.masks = masks
        self.hr_shape = (*operator.hr_shape, 3)

    def channel(self, c):
        """The operator of channel ``c``: ``A`` with its confidence times mask ``c``."""
        op = self.operator
        return op.with_confidence(op.confidence * self.masks[c])

    def forward(self, x):
        """``A x``: RGB ``(H, W, 3)`` to mosaics ``(K, h, w)``."""
        return sum(self.masks[c] * self.operator.forward(x[..., c]) for c in range(3))

    def adjoint(self, r):
        """``A^T r``: mosaics ``(K, h, w)`` to RGB ``(H, W, 3)``."""
        xp = get_array_module(r)
        return xp.stack([self.operator.adjoint(self.masks[c] * r) for c in range(3)], axis=-1)

"""Flows between the frames of a video, and their composition along a chain.

A video job estimates motion once per pair of neighbouring LR frames, in both directions
(:class:`PairMotion`), and composes a window's motion to its reference frame from those
pairwise flows (:func:`compose_flows`), the confidence of each link multiplied along the
path. On the device (CuPy) the pairs, their confidence and the composition stay there.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..core.backend import get_array_module, to_numpy
from ..core.device_cache import device_constant
from ..core.motion import Motion
from ..degradation.interpolate import REMAP_STEPS, remap_rounds
from ..kernels.geometry import bilinear_sample
from . import ESTIMATORS
from .confidence import forward_backward_confidence, sample


def compose_flows(pair_flows, pair_confidence=None):
    """Compose a chain of flows into one: frame 0 to frame ``m``.

    ``pair_flows[j]`` maps frame ``j`` to frame ``j + 1`` in the convention of
    :class:`~mfsr.core.motion.Motion` (frame ``j`` at ``p`` shows frame ``j + 1`` at
    ``p + f_j(p)``), so ``F(p) = f_0(p) + F_1(p + f_0(p))``, evaluated from the far end
    with bilinear sampling (border replicated). NumPy flows are sampled by OpenCV's
    ``remap``; device (CuPy) flows stay on the device (the sampling written against
    ``xp``, flow and confidence sampled together).

    Parameters
    ----------
    pair_flows : sequence of array, shape (h, w, 2)
        The chain, nearest to frame 0 first; at least one.
    pair_confidence : sequence of array, shape (h, w), optional
        Confidence of each link; the composed confidence is their product along the
        path.

    Returns
    -------
    flow : array, shape (h, w, 2), float32
    confidence : array, shape (h, w), float32
        All ones when ``pair_confidence`` is None. On the flows' array module.

    Examples
    --------
    >>> f = np.full((4, 5, 2), 0.5, np.float32)
    >>> float(compose_flows([f, f, f])[0][2, 2, 0])
    1.5
    """
    if len(pair_flows) < 1:
        raise ValueError("pair_flows must hold at least one flow")
    xp = get_array_module(*pair_flows, *(pair_confidence or ()))
    if xp is not np:
        h, w = pair_flows[-1].shape[:2]
        fields = [_field(xp.asarray(f),
                         xp.ones((h, w), xp.float32) if pair_confidence is None
                         else xp.asarray(c), xp)
                  for f, c in zip(pair_flows, pair_confidence or [None] * len(pair_flows))]
        field = _compose_chains([fields], xp)[0]
        return xp.ascontiguousarray(xp.moveaxis(field[:2], 0, -1)), field[2]
    flow = np.asarray(pair_flows[-1], dtype=np.float32)
    conf = (np.ones(flow.shape[:2], np.float32) if pair_confidence is None
            else np.asarray(pair_confidence[-1], dtype=np.float32))
    for j in range(len(pair_flows) - 2, -1, -1):
        f = np.asarray(pair_flows[j], dtype=np.float32)
        if pair_confidence is not None:
            conf = np.asarray(pair_confidence[j], np.float32) * sample(conf, f)
        flow = f + sample(flow, f)
    return flow, conf


# On the device a link of a chain is one "field" (3, h, w): dx, dy and confidence, so
# that a composition step is one bilinear sampling of all three.

def _field(flow, confidence, xp):
    """``(3, h, w)`` float32 field of a flow ``(h, w, 2)`` and its confidence ``(h, w)``."""
    return xp.concatenate([xp.moveaxis(flow.astype(xp.float32, copy=False), -1, 0),
                           confidence.astype(xp.float32, copy=False)[None]])


def _grid(h, w, xp):
    """Pixel rows and columns ``(2, h, w)`` float32, kept on the device."""
    return device_constant(("video-grid", h, w), lambda: np.stack(np.meshgrid(
        np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")), xp)


def _identity_field(h, w, xp):
    """The field of the reference: no motion, full confidence."""
    return device_constant(("video-identity", h, w), lambda: np.concatenate(
        [np.zeros((2, h, w), np.float32), np.ones((1, h, w), np.float32)]), xp)


def _compose_chains(chains, xp):
    """:func:`compose_flows` of chains of fields (each nearest to frame 0 first) on
    ``xp``: the chains step together from their far ends, one batched bilinear sampling
    per step for all of them (a window of 5 needs one step), the flows added and the
    confidences multiplied. Returns the composed ``(3, h, w)`` field of each chain.

    It samples as the host path's ``cv2.remap`` does, so that the device job composes
    what the NumPy job composes: OpenCV's own remap rounds float maps to 1/32 px
    (``INTER_BITS`` = 5, half to even); the IPP remap that x86-64 wheels use for 1-, 3-
    and 4-channel images does not (:func:`mfsr.degradation.interpolate.remap_rounds`). Without
    the rounding the composed flows differ from the host's by up to 4e-3 px where the
    flow varies fastest."""
    fields = [chain[-1] for chain in chains]
    for step in range(1, max(len(chain) for chain in chains)):
        active = [k for k, chain in enumerate(chains) if len(chain) > step]
        far = xp.stack([fields[k] for k in active])
        link = xp.stack([chains[k][-1 - step] for k in active])
        h, w = far.shape[2:]
        grid = _grid(h, w, xp)
        cy = (grid[0] + link[:, 1])[:, None]
        cx = (grid[1] + link[:, 0])[:, None]
        # the host samples the flows (2 channels) and the confidence (1) by cv2.remap
        flow_rounds, conf_rounds = (remap_rounds(cv2.INTER_LINEAR, c) for c in (2, 1))
        at = {}
        for rounds in {flow_rounds, conf_rounds}:
            at[rounds] = (xp.rint(cy * REMAP_STEPS) / REMAP_STEPS,
                          xp.rint(cx * REMAP_STEPS) / REMAP_STEPS) if rounds else (cy, cx)
        if len(at) == 1:                 # flows and confidence at the same points
            y, x = at.popitem()[1]
        else:                            # channels dx, dy as the flows, 2 as confidence
            flow, conf = at[flow_rounds], at[conf_rounds]
            y = xp.concatenate([flow[0], flow[0], conf[0]], axis=1)
            x = xp.concatenate([flow[1], flow[1], conf[1]], axis=1)
        moved = bilinear_sample(far, y, x)
        moved = xp.concatenate([link[:, :2] + moved[:, :2], link[:, 2:] * moved[:, 2:]],
                               axis=1)
        for j, k in enumerate(active):
            fields[k] = moved[j]
    return fields


class PairMotion:
    """Flows between neighbouring readable LR frames, computed once each and dropped when
    no longer needed: ``pair(a, b)`` holds the flows a -> b and b -> a (``b`` is the next
    readable frame after ``a``: ``a + 1`` unless frames between could not be read).

    With ``xp`` a device module (the video job on CuPy) the lumas are device arrays and
    everything stays there: the new pairs a window needs are estimated together (one
    batched call of a batched estimator such as ``"gpu"``, forward and backward; a host
    estimator such as ``"dis"`` gets host copies of the lumas and its flows go back up),
    their confidence is one kernel-set call, and each pair is kept as two fields
    (:func:`_field`) that :meth:`motion` composes on the device."""

    def __init__(self, method, confidence=True, xp=np):
        self.estimate = ESTIMATORS[method]
        self.confidence = confidence
        self.xp = xp
        self.pairs = {}
        self.computed = []          # first frames of the pairs, in the order estimated

    def pair(self, a, b, luma):
        if (a, b) not in self.pairs:
            if self.xp is not np:
                self._estimate_on_device([(a, b)], luma)
                return self.pairs[a, b]
            fwd, bwd = self.estimate(luma[a], luma[b]), self.estimate(luma[b], luma[a])
            if self.confidence:
                cf = forward_backward_confidence(fwd, bwd)
                cb = forward_backward_confidence(bwd, fwd)
            else:
                cf = cb = np.ones(luma[a].shape, np.float32)
            self.pairs[a, b] = (np.asarray(fwd, np.float32), np.asarray(bwd, np.float32),
                                cf, cb)
            self.computed.append(a)
        return self.pairs[a, b]

    def _estimate_on_device(self, missing, luma):
        """Estimate the pairs ``missing`` (in order) together; store their fields."""
        xp, n = self.xp, len(missing)
        ids = sorted({k for key in missing for k in key})
        batched = getattr(self.estimate, "batched", None)
        if batched is not None:
            at = {k: i for i, k in enumerate(ids)}
            est = batched(xp.stack([luma[k] for k in ids]),
                          [(at[a], at[b]) for a, b in missing]
                          + [(at[b], at[a]) for a, b in missing])
        else:   # a host estimator (OpenCV, scikit-image): the lumas go down, flows up
            host = {k: to_numpy(luma[k]) for k in ids}
            est = xp.asarray(np.stack([self.estimate(host[a], host[b]) for a, b in missing]
                                      + [self.estimate(host[b], host[a])
                                         for a, b in missing]).astype(np.float32))
        if self.confidence:
            conf = forward_backward_confidence(est, xp.concatenate([est[n:], est[:n]]))
        else:
            conf = xp.ones(est.shape[:3], xp.float32)
        fields = xp.concatenate([xp.moveaxis(est, -1, 1), conf[:, None]], axis=1)
        for i, key in enumerate(missing):
            self.pairs[key] = (fields[i], fields[n + i])
            self.computed.append(key[0])

    def drop_before(self, i):
        for key in [key for key in self.pairs if key[0] < i]:
            del self.pairs[key]

    def link(self, t, j, luma):
        """Flow ``(h, w, 2)`` from frame ``t`` to its readable neighbour ``j`` (either
        side) and its forward-backward confidence ``(h, w)``, on the pairs' module."""
        a, b = min(t, j), max(t, j)
        if self.xp is not np:
            if (a, b) not in self.pairs:
                self._estimate_on_device([(a, b)], luma)
            field = self.pairs[a, b][0 if t == a else 1]
            return self.xp.moveaxis(field[:2], 0, -1), field[2]
        fwd, bwd, cf, cb = self.pair(a, b, luma)
        return (fwd, cf) if t == a else (bwd, cb)

    def motion(self, indices, ref, luma):
        """Motion of frames ``indices`` (increasing) to frame ``indices[ref]``, composed
        along the links between neighbours in ``indices``."""
        if self.xp is not np:
            return self._motion_on_device(indices, ref, luma)
        c = indices[ref]
        h, w = luma[c].shape
        flows = np.zeros((len(indices), h, w, 2), np.float32)
        conf = np.ones((len(indices), h, w), np.float32)
        for pos, k in enumerate(indices):
            if pos < ref:    # k -> ... -> c: forward links
                links = [self.pair(indices[j], indices[j + 1], luma) for j in range(pos, ref)]
                flows[pos], conf[pos] = compose_flows([p[0] for p in links],
                                                      [p[2] for p in links])
            elif pos > ref:  # k -> ... -> c: backward links
                links = [self.pair(indices[j - 1], indices[j], luma)
                         for j in range(pos, ref, -1)]
                flows[pos], conf[pos] = compose_flows([p[1] for p in links],
                                                      [p[3] for p in links])
        return Motion(flows, conf, ref)

    def _motion_on_device(self, indices, ref, luma):
        xp = self.xp
        h, w = luma[indices[ref]].shape
        links = list(zip(indices[:-1], indices[1:]))
        missing = [key for key in links if key not in self.pairs]
        if missing:
            self._estimate_on_device(missing, luma)
        chains = {}
        for pos in range(len(indices)):
            if pos < ref:    # forward links, pos -> ... -> ref
                chains[pos] = [self.pairs[links[j]][0] for j in range(pos, ref)]
            elif pos > ref:  # backward links, pos -> ... -> ref
                chains[pos] = [self.pairs[links[j - 1]][1] for j in range(pos, ref, -1)]
        composed = dict(zip(chains, _compose_chains(list(chains.values()), xp))) \
            if chains else {}
        stack = xp.stack([composed[pos] if pos != ref else _identity_field(h, w, xp)
                          for pos in range(len(indices))])
        return Motion(xp.ascontiguousarray(xp.moveaxis(stack[:, :2], 1, -1)),
                      xp.ascontiguousarray(stack[:, 2]), ref)


__all__ = ["compose_flows", "PairMotion"]

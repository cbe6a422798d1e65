"""The colour stages of the upscaling job around the reconstruction, per output frame.

Enhancement (:mod:`mfsr.grading.enhance`, measured over the LR frames around each output
frame) before it and the SDR -> HDR mapping (:mod:`mfsr.grading.tonemap`) after it,
chained into one ``finish(index, frame)`` step of the frame loop.
"""
from __future__ import annotations

import numpy as np

from ..grading import enhance as enhance_module
from ..grading import sdr_to_hdr
from ..io import FrameSource

ENHANCE_MODES = ("off", "auto")


def hdr_stage(hdr, peak):
    """SR output (BT.709 SDR) -> coded BT.2020 HDR signal, or None without HDR."""
    if hdr is None:
        return None

    def to_hdr(frame):
        if frame.ndim == 2:
            frame = np.repeat(frame[..., None], 3, axis=2)
        return sdr_to_hdr(np.clip(frame, 0, 1), transfer=hdr, peak=peak)

    return to_hdr


class TemporalEnhancement:
    """The enhancement of output frame ``t``: :func:`mfsr.grading.enhance.temporal_params` over
    the per-frame estimates of the LR frames ``t - radius`` to ``t + radius``, applied to the
    SR output.

    Each LR frame is measured once, by a reader of its own (the job's reader keeps
    moving forwards), and forgotten once behind the window; so the parameters of a frame
    depend on its index alone, as resuming and distributed runs need. The correction is
    applied after the reconstruction: measured on the enhancement benchmark it is as good
    as before it (``docs/enhance.md``), and the codec detector and the noise estimate
    then see the decoded frames as they are.

    Parameters
    ----------
    path : str
        The job's input (video file or folder).
    radius : int
        Frames on each side (:data:`mfsr.grading.enhance.DEFAULT_RADIUS`).
    index : PacketIndex, optional
        The job reader's packet index of a video input (its pass over the file is not
        made again).
    """

    def __init__(self, path, radius=None, index=None):
        self._enhance = enhance_module
        self.radius = enhance_module.DEFAULT_RADIUS if radius is None else radius
        self._source = FrameSource(path, index=index)
        if len(self._source.shape) != 3:
            self._source.close()
            raise ValueError("enhance needs colour frames; the input is grey")
        self._estimates, self._features = {}, {}

    def _measure(self, j):
        if j not in self._estimates:
            frame = self._source.read(j)
            self._estimates[j] = self._enhance.estimate(frame)
            self._features[j] = self._enhance.shot_feature(frame)

    def params(self, index):
        """:class:`~mfsr.grading.enhance.EnhanceParams` of output frame ``index``."""
        lo, hi = max(0, index - self.radius), min(len(self._source) - 1, index + self.radius)
        for j in [j for j in self._estimates if j < lo]:
            del self._estimates[j], self._features[j]
        for j in range(lo, hi + 1):
            self._measure(j)
        span = range(lo, hi + 1)
        cuts = self._enhance.detect_cuts([self._features[j] for j in span])
        return self._enhance.temporal_params([self._estimates[j] for j in span],
                                             index - lo, radius=self.radius, cuts=cuts)

    def __call__(self, index, hr):
        return self._enhance.apply(np.clip(hr, 0, 1), self.params(index))

    def close(self):
        """Release the reader."""
        self._source.close()


def finish_stage(enhancement, to_hdr):
    """``finish(index, hr)``: the stages after the reconstruction, in order."""
    if enhancement is None and to_hdr is None:
        return None

    def finish(index, hr):
        if enhancement is not None:
            hr = enhancement(index, hr)
        return to_hdr(hr) if to_hdr is not None else hr

    return finish


__all__ = ["TemporalEnhancement", "hdr_stage", "finish_stage", "ENHANCE_MODES"]

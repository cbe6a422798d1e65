"""Motion refined on the HR estimate: register each frame against its prediction.

Flow between two LR frames is biased by their aliasing (each frame folds the scene's
detail differently) and by their noise. Once an HR estimate ``x`` exists, frame ``k``
can be compared with what the model predicts it should show, ``A_k x = D B W_k x``:
both are frame ``k``'s view, so the flow between them is a small correction ``d_k``,
which is composed with the current flow (frame ``k`` at ``p`` shows the prediction at
``p + d_k(p)``, which shows the reference at ``p + d_k(p) + f_k(p + d_k(p))``). This is
one step of the alternation between registration and reconstruction of joint methods
(Liu & Sun, "On Bayesian adaptive video super resolution", TPAMI 2014).
"""
from __future__ import annotations

import numpy as np

from ..core.backend import get_array_module, to_device
from ..core.motion import Motion
from ..core.validation import check_array
from .confidence import sample


def refine_motion(frames, motion, predicted, estimate):
    """Motion with each frame's flow corrected against the model's prediction of it.

    Parameters
    ----------
    frames : array, shape (K, h, w)
        Grey (luma) LR frames the motion belongs to.
    motion : Motion
        Current motion, frame ``k`` to the reference.
    predicted : array, shape (K, h, w)
        ``A x`` of the current HR estimate (:meth:`SystemOperator.forward`), on the
        frames' grey scale.
    estimate : callable
        A flow estimator ``estimate(frame, reference) -> (h, w, 2)`` (one of
        :data:`mfsr.registration.ESTIMATORS`).

    Returns
    -------
    Motion
        Same confidence and reference; the reference's flow stays zero.
    """
    frames = check_array(frames, "frames", ndim=3, finite="host")
    predicted = check_array(predicted, "predicted", ndim=3, finite="host")
    if tuple(predicted.shape) != tuple(frames.shape) or \
            (motion.n_frames, *motion.lr_shape) != tuple(frames.shape):
        raise ValueError(f"frames {tuple(frames.shape)}, predicted {tuple(predicted.shape)} "
                         f"and motion ({motion.n_frames}, {motion.lr_shape}) must agree")
    xp = get_array_module(motion.flows)
    others = [k for k in range(frames.shape[0]) if k != motion.reference]
    batched = getattr(estimate, "batched", None)
    if batched is not None:     # all corrections in one call, where the frames are
        images = xp.concatenate([frames, predicted]).astype(xp.float32, copy=False)
        n = frames.shape[0]
        deltas = batched(images, [(k, n + k) for k in others])
    else:                       # a host estimator (OpenCV): host copies, flows back up
        host_f, host_p = (to_device(a, np).astype(np.float32) for a in (frames, predicted))
        deltas = xp.asarray(np.stack([np.asarray(estimate(host_f[k], host_p[k]), np.float32)
                                      for k in others]))
    flows = motion.flows.copy()
    for delta, k in zip(deltas, others):
        flows[k] = delta + sample(motion.flows[k], delta)
    return Motion(flows, motion.confidence, motion.reference)

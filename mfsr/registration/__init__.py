"""Registration: motion of each LR frame relative to the reference, as one `Motion`."""
from __future__ import annotations

import numpy as np

from ..core.backend import get_array_module, to_device
from ..core.color import as_float_image, rgb_to_ycbcr
from ..core.motion import Motion
from ..core.validation import check_array, check_choice, check_int
from .confidence import forward_backward_confidence
from .dense import flow_dis, flow_farneback, flow_tvl1
from .global_motion import flow_ecc, flow_translation
from .gpu_flow import flow_lk

ESTIMATORS = {
    "dis": flow_dis,
    "farneback": flow_farneback,
    "tvl1": flow_tvl1,
    "translation": flow_translation,
    "ecc": flow_ecc,
    "gpu": flow_lk,
}
REGISTRATION_METHODS = tuple(ESTIMATORS)


def register(frames, reference=None, method="dis", confidence=True, tolerance=0.5,
             channel_axis=-1):
    """Estimate the motion of every frame relative to the reference frame.

    Parameters
    ----------
    frames : array, shape (K, h, w) or (K, h, w, 3)
        LR frames (float in [0, 1] or integer), K >= 1; RGB frames are registered on
        their luma (BT.601 Y).
    reference : int, optional
        Index of the reference frame; default the middle frame ``K // 2``.
    method : {"dis", "farneback", "tvl1", "translation", "ecc", "gpu"}
        Dense flow (OpenCV DIS, OpenCV Farneback, scikit-image TV-L1), global
        motion (phase-correlation translation, ECC affine), or ``"gpu"``: pyramidal
        Lucas-Kanade (:func:`~mfsr.registration.gpu_flow.flow_lk`) through the kernel
        set of the frames, all forward and backward flows in one batch
        (:func:`~mfsr.registration.gpu_flow.flow_lk_batch`), so CuPy frames never leave
        the GPU: no host sync, no OpenCV (non-finite values are then not checked).
    confidence : bool
        Compute per-pixel confidence from a forward-backward check (costs a second
        flow per frame); otherwise all ones.
    tolerance : float
        Round-trip error in LR px at which the confidence is ``exp(-1/2)``.
    channel_axis : int
        Colour axis of each frame for 4-D input.

    Returns
    -------
    Motion
        Flows ``(K, h, w, 2)`` in LR px from frame k to the reference, confidence
        ``(K, h, w)``, on the same array module as ``frames``.

    Examples
    --------
    >>> import mfsr
    >>> from skimage import data
    >>> sim = mfsr.simulate(data.camera(), scale=2, n_frames=3, seed=1)
    >>> motion = register(sim.frames, method="translation")
    >>> motion.flows.shape
    (3, 256, 256, 2)
    """
    frames = check_array(frames, "frames", ndim=(3, 4), finite="host")
    if frames.ndim == 4:
        ax = check_int(channel_axis, "channel_axis", minimum=-3) % 4
        if ax == 0 or channel_axis > 3:
            raise ValueError("channel_axis must be 1, 2, 3 or -3, -2, -1 (an axis of the 4-D "
                             f"frames but the frame axis 0), got {channel_axis}")
        frames = frames.transpose([a for a in range(4) if a != ax] + [ax]) if ax != 3 else frames
        if frames.shape[-1] != 3:
            raise ValueError(f"4-D frames must have 3 (RGB) channels, got {frames.shape[-1]}")
        frames = rgb_to_ycbcr(as_float_image(frames, "frames"))[..., 0]
    check_choice(method, "registration method", REGISTRATION_METHODS)
    xp = get_array_module(frames)
    k = frames.shape[0]
    ref = k // 2 if reference is None else check_int(reference, "reference", minimum=0)
    if ref >= k:
        raise ValueError(f"reference {ref} out of range for {k} frames")
    estimate = ESTIMATORS[method]
    batched = getattr(estimate, "batched", None)
    if batched is not None:
        # all forward (frame -> reference) and backward flows in one call, where the
        # frames are; the reference's pair with itself keeps the indexing trivial and
        # is set to exactly zero
        stack = as_float_image(frames, "frames").astype(xp.float32, copy=False)
        pairs = [(i, ref) for i in range(k)]
        if confidence:
            pairs += [(ref, i) for i in range(k)]
        est = batched(stack, pairs)
        flows = est[:k]
        flows[ref] = 0
        if confidence:
            back = est[k:]
            back[ref] = 0
            conf = forward_backward_confidence(flows, back, tolerance)
        else:
            conf = xp.ones(flows.shape[:3], xp.float32)
        return Motion(flows, conf, ref)
    # estimators written against xp take the frames where they are; OpenCV needs NumPy
    wp = xp if getattr(estimate, "device_arrays", False) else np
    stack = to_device(as_float_image(frames, "frames"), wp).astype(wp.float32)
    h, w = stack.shape[1:]
    flows = wp.zeros((k, h, w, 2), wp.float32)
    back = wp.zeros((k, h, w, 2), wp.float32)
    for i in range(k):
        if i == ref:
            continue
        flows[i] = estimate(stack[i], stack[ref])
        if confidence:
            back[i] = estimate(stack[ref], stack[i])
    conf = forward_backward_confidence(flows, back, tolerance) if confidence else \
        wp.ones((k, h, w), wp.float32)
    return Motion(to_device(flows, xp), to_device(conf, xp), ref)


__all__ = ["register", "REGISTRATION_METHODS", "forward_backward_confidence"]

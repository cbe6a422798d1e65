"""`Motion`: the one thing later layers know of registration."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backend import get_array_module, to_device
from .validation import check_array, check_int


@dataclass
class Motion:
    """Dense motion of each LR frame relative to the reference frame.

    Attributes
    ----------
    flows : array, shape (K, h, w, 2)
        ``(dx, dy)`` in LR pixels from frame ``k`` to the reference: frame ``k`` at
        pixel ``p`` shows the reference scene at ``p + flows[k, p]``.
    confidence : array, shape (K, h, w)
        Per-pixel trust in ``[0, 1]`` (1 = consistent). Down-weights the data term.
    reference : int
        Index of the reference frame (its flow is zero).
    """

    flows: object
    confidence: object
    reference: int = 0

    def __post_init__(self):
        self.flows = check_array(self.flows, "flows", ndim=4, finite="host")
        if self.flows.shape[-1] != 2:
            raise ValueError(f"flows must have shape (K, h, w, 2), got {tuple(self.flows.shape)}")
        self.confidence = check_array(self.confidence, "confidence", ndim=3, finite="host")
        if tuple(self.confidence.shape) != tuple(self.flows.shape[:3]):
            raise ValueError(f"confidence shape {tuple(self.confidence.shape)} does not match "
                             f"flows {tuple(self.flows.shape[:3])}")
        self.reference = check_int(self.reference, "reference", minimum=0)
        if self.reference >= self.n_frames:
            raise ValueError(f"reference {self.reference} out of range for {self.n_frames} frames")

    @property
    def n_frames(self) -> int:
        """Number of frames K."""
        return int(self.flows.shape[0])

    @property
    def lr_shape(self):
        """``(h, w)`` of the LR frames."""
        return tuple(int(v) for v in self.flows.shape[1:3])

    @classmethod
    def zeros(cls, n_frames, lr_shape, reference=0, xp=np):
        """No motion: all flows zero, full confidence."""
        h, w = lr_shape
        return cls(xp.zeros((n_frames, h, w, 2), xp.float32),
                   xp.ones((n_frames, h, w), xp.float32), reference)

    @classmethod
    def from_translations(cls, shifts, lr_shape, reference=0, xp=np):
        """Global translations: ``shifts[k] = (dx, dy)`` in LR px, frame k to reference."""
        shifts = np.asarray(shifts, dtype=np.float32)
        if shifts.ndim != 2 or shifts.shape[1] != 2:
            raise ValueError(f"shifts must have shape (K, 2), got {shifts.shape}")
        h, w = lr_shape
        flows = np.broadcast_to(shifts[:, None, None, :], (len(shifts), h, w, 2)).copy()
        return cls(xp.asarray(flows), xp.ones((len(shifts), h, w), xp.float32), reference)

    def to(self, xp):
        """Return this motion with its arrays in module ``xp``."""
        return Motion(to_device(self.flows, xp), to_device(self.confidence, xp), self.reference)

    def select(self, indices, reference):
        """Sub-stack of frames ``indices`` (flows still relative to the same reference)."""
        return Motion(self.flows[list(indices)], self.confidence[list(indices)], reference)

    @property
    def xp(self):
        """Array module of the flows."""
        return get_array_module(self.flows)

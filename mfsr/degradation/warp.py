"""``W_k``: backward warping of the HR image by a dense flow (bilinear), and its adjoint.

``(W x)(u) = x(u + F(u))`` sampled bilinearly, with coordinates clamped to the image
(border replicate). The adjoint splats each value back onto the same four pixels with
the same weights.
"""
from __future__ import annotations

from ..core.backend import get_array_module
from ..kernels import kernels_for
from ..kernels.geometry import bilinear_tables, flow_axis_weights, upsample_flow

__all__ = ["Warp", "bilinear_tables", "flow_axis_weights", "upsample_flow"]


class Warp:
    """Bilinear backward warp by an HR flow field.

    Parameters
    ----------
    flow_hr : array, shape (H, W, 2)
        Displacement ``(dx, dy)`` in HR pixels: output pixel ``u`` reads ``x(u + flow)``.
    """

    def __init__(self, flow_hr):
        xp = get_array_module(flow_hr)
        H, W = flow_hr.shape[:2]
        if H < 2 or W < 2:
            raise ValueError(f"warp needs an image of at least 2x2 pixels, got {H}x{W}")
        self.shape = (H, W)
        self.identity = not bool(xp.any(flow_hr != 0))
        if self.identity:
            return
        self.index, self.wy, self.wx = bilinear_tables(flow_hr)

    def forward(self, x):
        """Return ``W x`` for ``x`` of shape ``(H, W)``."""
        if self.identity:
            return x
        return kernels_for(x).warp_forward(x, self.index, self.wy, self.wx)

    def adjoint(self, y):
        """Return ``W^T y`` (bilinear splatting) for ``y`` of shape ``(H, W)``."""
        if self.identity:
            return y
        return kernels_for(y).warp_adjoint(y, self.index, self.wy, self.wx)

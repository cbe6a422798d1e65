"""Single-frame interpolation on the HR grid with the model's sampling phase."""
from __future__ import annotations

import cv2
import numpy as np

from .backend import get_array_module, to_device, to_numpy
from ._validation import check_array, check_choice, check_float, check_int

_INTERP = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR,
           "bicubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}


def upsample(image, scale, phase=None, method="bicubic"):
    """Interpolate an LR image onto the HR grid, LR pixel ``i`` landing on ``s*i + phase``.

    With ``phase = (scale-1)/2`` (the default) this equals
    ``cv2.resize(image, None, fx=scale, fy=scale, interpolation=...)``.

    Parameters
    ----------
    image : array, shape (h, w) or (h, w, C)
    scale : int
    phase : float, optional
        HR coordinate of LR pixel 0; default ``(scale-1)/2``.
    method : {"nearest", "bilinear", "bicubic", "lanczos"}

    Returns
    -------
    array, shape (s*h, s*w[, C]), same module and float dtype as ``image``
    """
    image = check_array(image, "image", ndim=(2, 3))
    scale = check_int(scale, "scale", minimum=1)
    phase = (scale - 1) / 2 if phase is None else check_float(phase, "phase", minimum=0.0)
    check_choice(method, "interpolation method", tuple(_INTERP))
    xp = get_array_module(image)
    img = to_numpy(image).astype(np.float32)
    h, w = img.shape[:2]
    my = ((np.arange(scale * h, dtype=np.float32) - phase) / scale)
    mx = ((np.arange(scale * w, dtype=np.float32) - phase) / scale)
    map_x = np.broadcast_to(mx[None, :], (scale * h, scale * w)).astype(np.float32)
    map_y = np.broadcast_to(my[:, None], (scale * h, scale * w)).astype(np.float32)
    out = cv2.remap(img, map_x, map_y, _INTERP[method], borderMode=cv2.BORDER_REPLICATE)
    if out.ndim < img.ndim:  # cv2 drops a single channel axis
        out = out[..., None]
    return to_device(out.astype(image.dtype if image.dtype.kind == "f" else np.float32), xp)

"""The methods the harness runs, all on the same LR frames: baselines, mfsr, deep nets.

Each method is a :class:`Method`: either per frame (``frame(lr, t, context)`` returns the
output for frame ``t`` of the clip ``lr``) or whole-clip (``clip(lr, targets, context)``
returns every target's output at once, for methods that see the clip as a whole).

- ``bicubic``: MATLAB ``imresize(lr, s, 'bicubic')`` (the published bicubic rows).
- ``bicubic-grid``: bicubic on the protocol's sampling grid (``mfsr.upsample``; BD:
  LR pixel ``i`` at HR ``s i``, BI: at ``s i + (s-1)/2``): the fair single-frame baseline.
- ``btvl1``: OpenCV's BTV-L1 through ``benchmarks/baselines`` (whole clip; its 7-px
  border, which OpenCV crops, is filled from ``bicubic-grid``).
- ``default`` and each of :data:`mfsr.METHODS` (``irls``, ``pnp``, ``map``, ...):
  ``mfsr.reconstruct`` on a ``window``-frame window around each frame (cut at the clip's
  ends, :func:`mfsr.video.window_indices`), the protocol's preset as ``degradation``,
  motion from ``mfsr.register`` once per window and shared by the mfsr methods.
- ``video`` (or ``video-<method>``): :func:`mfsr.reconstruct_video` over the whole clip.
- deep networks (:mod:`mfsr.bench.deep`): single-image, from the authors' weights.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from ..degradation import imresize
from ..degradation.interpolate import upsample
from ..io import read_image, write_image
from ..pipeline import reconstruct
from ..registration import register
from ..video import reconstruct_video, window_indices

__all__ = ["Method", "Context", "Bicubic", "BicubicGrid", "BTVL1", "MfsrMethod", "Reconstruct", "Video",
           "find_btvl1", "save_output", "BASELINES"]

BASELINES = ("bicubic", "bicubic-grid", "btvl1")


@dataclass
class Context:
    """What a method may use besides the LR frames.

    Attributes
    ----------
    protocol : Protocol
    window : int
        Frames per mfsr window.
    lr_folder : callable
        ``lr_folder(clip_name)`` gives a folder holding the clip's LR frames as PNGs.
    clip : str
        Name of the clip being run.
    shared : dict
        Per-frame results shared between methods (the window's motion).
    options : dict
        Method options from the command line (``weights``, ``btvl1``).
    """

    protocol: object
    window: int = 7
    lr_folder: object = None
    clip: str = ""
    shared: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)


class Method:
    """One row of the table.

    Attributes
    ----------
    name : str
    family : {"baseline", "mfsr", "deep"}
    whole_clip : bool
    description : str
    """

    whole_clip = False

    def __init__(self, name, family, description):
        self.name, self.family, self.description = name, family, description

    def key(self, context):
        """What the cached outputs depend on besides the protocol (for the cache path)."""
        return self.name

    def frame(self, lr, t, context):  # pragma: no cover - interface
        """Output for frame ``t`` of ``lr`` (K, h, w[, 3]) uint8: ``(image, seconds)``."""
        raise NotImplementedError

    def clip(self, lr, targets, context):  # pragma: no cover - interface
        """Outputs of a whole clip: ``{t: (image, seconds per frame)}`` for ``targets``."""
        raise NotImplementedError


def _phase(protocol):
    return 0.0 if protocol.degradation == "BD" else None


class Bicubic(Method):
    def __init__(self):
        super().__init__("bicubic", "baseline", "MATLAB imresize bicubic upscale")

    def frame(self, lr, t, context):
        t0 = time.perf_counter()
        out = imresize(lr[t], float(context.protocol.scale))
        return out, time.perf_counter() - t0


class BicubicGrid(Method):
    def __init__(self):
        super().__init__("bicubic-grid", "baseline",
                         "bicubic on the protocol's sampling grid (mfsr.upsample)")

    def frame(self, lr, t, context):
        p = context.protocol
        t0 = time.perf_counter()
        out = upsample(lr[t].astype(np.float32) / 255, p.scale, _phase(p))
        return out, time.perf_counter() - t0


def find_btvl1(path=None):
    """The OpenCV BTV-L1 harness binary: ``path``, ``$MFSR_BTVL1``, or the repository's
    ``benchmarks/baselines/build/btvl1``; None when none exists."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for p in (path, os.environ.get("MFSR_BTVL1"),
              os.path.join(here, "benchmarks", "baselines", "build", "btvl1")):
        if p and os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


class BTVL1(Method):
    whole_clip = True
    BORDER = 7   # OpenCV's btv_kernel: the HR border it crops off its output

    def __init__(self):
        super().__init__("btvl1", "baseline", "OpenCV superres BTV-L1 (C++ harness, "
                         "OpenCV defaults; 7-px border from bicubic-grid)")

    def clip(self, lr, targets, context):
        binary = find_btvl1(context.options.get("btvl1"))
        if binary is None:
            raise ValueError("btvl1: the OpenCV harness is not built; run "
                             "sh benchmarks/baselines/build_btvl1.sh or pass --btvl1 PATH")
        folder = context.lr_folder(context.clip)
        out = tempfile.mkdtemp(prefix="mfsr-bench-btvl1-")
        try:
            scale = context.protocol.scale
            t0 = time.perf_counter()
            proc = subprocess.run([binary, "--scale", str(scale), "--out", out, folder],
                                  capture_output=True, text=True)
            seconds = (time.perf_counter() - t0) / len(lr)
            if proc.returncode != 0:
                raise RuntimeError(f"btvl1 failed: {proc.stderr[-2000:]}")
            grid = BicubicGrid()
            results = {}
            b = self.BORDER
            for t in targets:
                core = read_image(os.path.join(out, f"out_{t:04d}.png"))
                full = np.clip(grid.frame(lr, t, context)[0], 0, 1)
                full[b:full.shape[0] - b, b:full.shape[1] - b] = core / 255.0
                results[t] = (full, seconds)
            return results
        finally:
            shutil.rmtree(out, ignore_errors=True)


class MfsrMethod(Method):
    """A method of mfsr itself: its outputs depend on the window too (the cache key)."""

    def __init__(self, name, method, description):
        super().__init__(name, "mfsr", description)
        self.method = method

    def key(self, context):
        return f"{self.name}-w{context.window}"


class Reconstruct(MfsrMethod):
    """``mfsr.reconstruct`` on a sliding window (``method`` None: the default)."""

    def __init__(self, name, method):
        super().__init__(name, method, f"mfsr.reconstruct(method={method!r}) on a "
                         "sliding window")

    def frame(self, lr, t, context):
        idx, ref = window_indices(t, len(lr), context.window)
        stack = lr[idx]
        motion_key = ("motion", t, context.window)
        t_reg = 0.0
        if motion_key not in context.shared:
            t0 = time.perf_counter()
            context.shared[motion_key] = register(stack, reference=ref)
            context.shared[("seconds",) + motion_key] = time.perf_counter() - t0
        t_reg = context.shared[("seconds",) + motion_key]
        kw = {} if self.method is None else {"method": self.method}
        t0 = time.perf_counter()
        hr = reconstruct(stack, context.protocol.scale, reference=ref,
                         motion=context.shared[motion_key],
                         degradation=context.protocol.degradation, **kw)
        return hr, time.perf_counter() - t0 + t_reg


class Video(MfsrMethod):
    """:func:`mfsr.reconstruct_video` over the whole clip."""

    whole_clip = True

    def __init__(self, name, method):
        super().__init__(name, method, f"mfsr.reconstruct_video(method={method!r}) "
                         "over the whole clip")

    def clip(self, lr, targets, context):
        folder = context.lr_folder(context.clip)
        t0 = time.perf_counter()
        outputs = {}
        for i, hr in enumerate(reconstruct_video(
                folder, context.protocol.scale, context.window, method=self.method,
                degradation=context.protocol.degradation, end=max(targets) + 1)):
            if i in targets:
                outputs[i] = hr
        seconds = (time.perf_counter() - t0) / (max(targets) + 1)
        return {t: (hr, seconds) for t, hr in outputs.items()}


def save_output(path, image):
    """Write one output for the cache: 8-bit PNG for uint8, else 16-bit PNG."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        write_image(path, image, 8)
    else:
        write_image(path, np.clip(image, 0, 1), 16)

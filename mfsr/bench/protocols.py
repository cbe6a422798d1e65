"""The published degradations and metrics of the video SR tables, to the letter.

- BI: MATLAB ``imresize(hr, 1/s, 'bicubic')`` on uint8 (:func:`mfsr.degradation.imresize`,
  checked against MATLAB's own outputs), as REDS and the BI sets were made.
- BD: DUF's Gaussian (Jo et al. 2018; BasicSR / mmagic ``duf_downsample``): a 13x13
  kernel, a delta smoothed by ``scipy.ndimage.gaussian_filter`` with sigma ``0.4 s``
  (1.6 at x4), the frame padded by ``6 + 2 s`` with mirror reflection (``... 2 1 | 0 1
  2 ...``, torch's ``'reflect'``), convolved with stride ``s`` and two outputs cropped
  on each side: LR pixel ``i`` is HR pixel ``s i`` blurred (phase 0). Rounded to 8 bits.
- Y: BT.601 as MATLAB ``rgb2ycbcr`` on [0, 1] data (16-235, peak 255); with ``y_round``,
  Y rounded to integers as ``rgb2ycbcr`` on uint8 returns it.
- Outputs are rounded to 8 bits before scoring (``round_output``), as papers save PNGs.
- SSIM: Wang et al.'s ``ssim_index.m`` (11x11 Gaussian window, sigma 1.5, K = 0.01,
  0.03, L = 255, 'valid' filtering, mean of the map; no automatic downsampling, as
  BasicSR's ``calculate_ssim``); ``"skimage"`` is the project's 7x7 uniform window
  (:func:`mfsr.metrics.ssim`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from ..degradation import imresize
from ..metrics import matlab_luma
from ..metrics import psnr as mfsr_psnr
from ..metrics import ssim as skimage_ssim

__all__ = ["Protocol", "degrade", "duf_kernel", "duf_downsample", "luma", "ssim_wang",
           "score", "to_uint8"]

PROTOCOLS = ("BD", "BI")
SSIM_MODES = ("wang", "skimage")
CHANNELS = ("y", "rgb")
AVERAGING = ("clip", "frame")


@dataclass(frozen=True)
class Protocol:
    """How LR frames are made and outputs scored; the JSON carries it whole.

    Attributes
    ----------
    degradation : {"BD", "BI"}
    scale : int
    channel : {"y", "rgb"}
        Score Y (MATLAB ``rgb2ycbcr``) or all RGB channels (peak 255).
    crop : int
        Border removed on every side before scoring (0 by default, as BasicSR's Vid4
        and REDS4 tables; DUF's tables crop 8).
    skip_ends : int
        Frames dropped from each end of every clip (DUF: 2).
    round_output : bool
        Round outputs to 8 bits before scoring.
    y_round : bool
        Round Y to integers (MATLAB ``rgb2ycbcr`` on uint8).
    ssim : {"wang", "skimage"}
    averaging : {"clip", "frame"}
        ``"clip"``: mean over frames per clip, then mean of the clips; ``"frame"``: mean
        over all scored frames of the set.
    """

    degradation: str = "BD"
    scale: int = 4
    channel: str = "y"
    crop: int = 0
    skip_ends: int = 0
    round_output: bool = True
    y_round: bool = False
    ssim: str = "wang"
    averaging: str = "clip"

    def __post_init__(self):
        for name, valid in (("degradation", PROTOCOLS), ("channel", CHANNELS),
                            ("ssim", SSIM_MODES), ("averaging", AVERAGING)):
            if getattr(self, name) not in valid:
                raise ValueError(f"{name} must be one of {', '.join(map(repr, valid))}, "
                                 f"got {getattr(self, name)!r}")
        for name in ("scale", "crop", "skip_ends"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
        if self.scale < 1:
            raise ValueError(f"scale must be >= 1, got {self.scale}")

    def as_dict(self):
        return asdict(self)

    def describe(self):
        """One line stating every choice, for the tables."""
        what = ("Y (BT.601, MATLAB rgb2ycbcr, 16-235, peak 255"
                + (", Y rounded" if self.y_round else "") + ")"
                if self.channel == "y" else "RGB (peak 255)")
        ssim = ("SSIM as Wang et al.'s ssim_index.m (11x11 Gaussian, sigma 1.5)"
                if self.ssim == "wang" else "SSIM as scikit-image (7x7 uniform window)")
        avg = ("mean over frames per clip, then mean of clips" if self.averaging == "clip"
               else "mean over all scored frames")
        return (f"{self.degradation}x{self.scale}; PSNR/SSIM on {what}; "
                f"{'outputs rounded to 8 bits' if self.round_output else 'outputs not rounded'}"
                f"; {self.crop}-px border cropped; "
                f"{self.skip_ends} frames dropped at each clip end; {ssim}; {avg}")


def duf_kernel(scale=4, size=13):
    """DUF's 2-D Gaussian (``size`` x ``size``, sigma ``0.4 * scale``), sum 1."""
    delta = np.zeros((size, size))
    delta[size // 2, size // 2] = 1.0
    return ndimage.gaussian_filter(delta, 0.4 * scale)


def duf_downsample(hr, scale=4, size=13):
    """BD downscale of one frame as DUF / BasicSR's ``duf_downsample``, float64.

    Parameters
    ----------
    hr : array, shape (H, W) or (H, W, C)
        HR frame (float or integer; integers are not rescaled).
    scale : int
    size : int
        Kernel size (13).

    Returns
    -------
    ndarray, shape (H // scale, W // scale[, C]), float64
    """
    hr = np.asarray(hr, dtype=np.float64)
    k = duf_kernel(scale, size)
    pad = size // 2 + 2 * scale
    widths = [(pad, pad), (pad, pad)] + [(0, 0)] * (hr.ndim - 2)
    padded = np.pad(hr, widths, mode="reflect")          # numpy 'reflect' = torch 'reflect'
    half = size // 2

    def conv(plane):  # 'valid' correlation (the kernel is symmetric), then stride s
        full = ndimage.correlate(plane, k, mode="constant")
        return full[half:plane.shape[0] - half:scale, half:plane.shape[1] - half:scale]

    strided = conv(padded) if hr.ndim == 2 else np.stack(
        [conv(padded[..., c]) for c in range(hr.shape[2])], axis=-1)
    h, w = hr.shape[0] // scale, hr.shape[1] // scale
    return strided[2:2 + h, 2:2 + w]


def to_uint8(image):
    """Float image in [0, 1] (or uint8) to uint8, rounded half up and clipped."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    if image.dtype.kind in "ui":
        raise TypeError(f"image must be uint8 or float, got {image.dtype}")
    return np.clip(np.floor(image.astype(np.float64) * 255.0 + 0.5), 0, 255).astype(np.uint8)


def modcrop(hr, scale):
    """HR cropped to a multiple of ``scale`` (top-left kept), as the papers' ``modcrop``."""
    h, w = hr.shape[:2]
    return hr[:h - h % scale, :w - w % scale]


def degrade(hr, protocol):
    """LR frame (uint8) of an HR frame (uint8) under ``protocol``'s degradation.

    Parameters
    ----------
    hr : ndarray, uint8, shape (H, W) or (H, W, 3)
        HR frame; cropped to a multiple of the scale first.
    protocol : Protocol

    Returns
    -------
    ndarray, uint8
    """
    hr = np.asarray(hr)
    if hr.dtype != np.uint8:
        raise TypeError(f"hr must be uint8 (8-bit frames), got {hr.dtype}")
    hr = modcrop(hr, protocol.scale)
    if protocol.degradation == "BI":
        return imresize(hr, 1.0 / protocol.scale)
    lr = duf_downsample(hr.astype(np.float64) / 255.0, protocol.scale)
    return to_uint8(lr)


def luma(image, y_round=False):
    """Y of an RGB image (uint8, or float in [0, 1]) on MATLAB's 16-235 scale.

    A grey image is returned on the 0-255 scale as it is.
    """
    image = np.asarray(image)
    x = image.astype(np.float64) / 255.0 if image.dtype == np.uint8 else \
        np.asarray(image, np.float64)
    if x.ndim == 2:
        return x * 255.0
    y = matlab_luma(x)
    return np.floor(y + 0.5) if y_round else y


def _gaussian_window(size=11, sigma=1.5):
    g = np.exp(-0.5 * ((np.arange(size) - size // 2) / sigma) ** 2)
    g = np.outer(g, g)
    return g / g.sum()


def ssim_wang(a, b, peak=255.0):
    """SSIM of two single-channel images as Wang et al.'s ``ssim_index.m``.

    Parameters
    ----------
    a, b : array, shape (H, W)
        Images on the scale of ``peak`` (H, W >= 11).
    peak : float
        Dynamic range L.

    Returns
    -------
    float
        Mean of the SSIM map over the 'valid' region (5 px in from each side).
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"a and b must be 2-D images of one shape, got {a.shape}, {b.shape}")
    if min(a.shape) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11, got {a.shape}")
    w = _gaussian_window()
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2

    def filt(x):
        return ndimage.correlate(x, w, mode="constant")[5:-5, 5:-5]

    mu_a, mu_b = filt(a), filt(b)
    saa = filt(a * a) - mu_a ** 2
    sbb = filt(b * b) - mu_b ** 2
    sab = filt(a * b) - mu_a * mu_b
    m = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (saa + sbb + c2))
    return float(m.mean())


def _crop(x, c):
    if not c:
        return x
    if 2 * c >= min(x.shape[:2]):
        raise ValueError(f"crop {c} leaves nothing of a {x.shape[:2]} image")
    return x[c:-c, c:-c]


def score(gt, sr, protocol):
    """PSNR (dB) and SSIM of one output against its ground truth under ``protocol``.

    Parameters
    ----------
    gt : ndarray, uint8, shape (H, W[, 3])
    sr : ndarray, uint8 or float in [0, 1], same shape
    protocol : Protocol

    Returns
    -------
    (float, float)
    """
    gt = np.asarray(gt)
    sr = np.asarray(sr)
    if gt.shape != sr.shape:
        raise ValueError(f"ground truth shape {gt.shape} != output shape {sr.shape}")
    if gt.dtype != np.uint8:
        raise TypeError(f"gt must be uint8, got {gt.dtype}")
    if protocol.round_output:
        sr = to_uint8(sr)
    elif sr.dtype != np.uint8:
        sr = np.clip(sr.astype(np.float64), 0.0, 1.0)
    if protocol.ssim == "skimage" and not protocol.y_round:
        luma_flag = protocol.channel == "y" and gt.ndim == 3
        return (mfsr_psnr(gt, sr, protocol.crop, luma_flag),
                skimage_ssim(gt, sr, protocol.crop, luma_flag))
    if protocol.channel == "y":
        planes = [luma(gt, protocol.y_round), luma(sr, protocol.y_round)]
        a, b = (_crop(p, protocol.crop)[..., None] for p in planes)
    else:
        a = _crop(gt.astype(np.float64), protocol.crop)
        b = _crop(sr.astype(np.float64) * (1.0 if sr.dtype == np.uint8 else 255.0),
                  protocol.crop)
        if a.ndim == 2:
            a, b = a[..., None], b[..., None]
    mse = float(np.mean((a - b) ** 2))
    p = float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)
    if protocol.ssim == "wang":
        s = float(np.mean([ssim_wang(a[..., c], b[..., c]) for c in range(a.shape[-1])]))
    else:
        from skimage.metrics import structural_similarity
        s = float(structural_similarity(a, b, data_range=255.0, channel_axis=-1))
    return p, s

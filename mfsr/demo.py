"""A self-contained demonstration: simulate, reconstruct, measure, write a comparison PNG."""
from __future__ import annotations

import os
import time

import cv2
import numpy as np

from .degradation import simulate
from .degradation.interpolate import upsample
from .metrics import y_psnr_ssim
from .pipeline import reconstruct


def run_demo(out_dir="mfsr-demo", scale=4, n_frames=7, noise=0.01, seed=0, log=print):
    """Simulate a moving, blurred, noisy LR stack from scikit-image's astronaut (512 x 512)
    with the BD degradation, reconstruct it, print Y-PSNR/SSIM against bicubic on the BD
    sampling grid (and cv2's, 1.5 px off it), and write ``comparison.png`` (bicubic on the
    BD grid | mfsr | ground truth) and ``mfsr.png`` into ``out_dir``.

    Parameters
    ----------
    out_dir : str
        Output folder (created).
    scale, n_frames : int
        Upscaling factor and number of LR frames.
    noise : float
        Gaussian noise sigma in [0, 1] units.
    seed : int
        Seed of the motion and noise.
    log : callable
        Where the report lines go.

    Returns
    -------
    dict
        ``{"bicubic": (psnr, ssim), "mfsr": (psnr, ssim), "seconds": float}``.
    """
    from skimage import data

    sim = simulate(data.astronaut(), scale=scale, n_frames=n_frames, noise=noise, seed=seed,
                   degradation="BD", channel_axis=-1, bits=8, max_shift=1.5)
    ref = n_frames // 2
    lr = sim.frames[ref]
    log(f"simulated {n_frames} LR frames of {lr.shape[1]}x{lr.shape[0]} (BD, x{scale}, "
        f"noise sigma {noise:g}) from scikit-image's astronaut")
    t0 = time.perf_counter()
    hr = reconstruct(sim.frames, scale, degradation="BD")
    seconds = time.perf_counter() - t0
    # the fair baseline samples LR pixel i at HR s*i, as the BD frames were made;
    # cv2.resize puts it at s*i + (s-1)/2 and is shown second for comparison only
    fair = np.clip(upsample(lr, scale, sim.phase), 0, 1)
    plain = np.clip(cv2.resize(lr, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC), 0, 1)
    results = {"bicubic on the BD grid": y_psnr_ssim(sim.hr, fair, scale),
               "mfsr (default irls)": y_psnr_ssim(sim.hr, hr, scale),
               "bicubic, cv2.resize (*)": y_psnr_ssim(sim.hr, plain, scale)}
    log(f"{'method':24s} Y-PSNR   SSIM   (BT.601 Y, {scale}-px border cropped)")
    for name, (p, s) in results.items():
        log(f"{name:24s} {p:6.2f}  {s:.4f}")
    log(f"(*) {(scale - 1) / 2:g} HR px off the grid the frames were sampled on")
    log(f"mfsr reconstruction took {seconds:.1f} s")
    os.makedirs(out_dir, exist_ok=True)

    def bgr8(img):
        return cv2.cvtColor((np.clip(img, 0, 1) * 255).round().astype(np.uint8), cv2.COLOR_RGB2BGR)

    side = np.concatenate([bgr8(fair), bgr8(hr), bgr8(sim.hr)], axis=1)
    cv2.imwrite(os.path.join(out_dir, "comparison.png"), side)
    cv2.imwrite(os.path.join(out_dir, "mfsr.png"), bgr8(hr))
    log(f"wrote {os.path.join(out_dir, 'comparison.png')} (bicubic on the BD grid | mfsr | "
        "ground truth)")
    results["seconds"] = seconds
    return results

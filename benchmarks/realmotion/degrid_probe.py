"""Probe (issue 24): does removing the x4-periodic part of the output help?

The default video job (``mfsr.reconstruct_video(folder, 4, degradation="BD")``, the
whole-clip recursion) runs on the first 16 BDx4 frames of a development clip; then a
post-filter removes, in a box of ``B`` HR px around each pixel, the mean of the image's
high-pass (image minus a Gaussian of sigma 1.5 px) over the pixels of the same phase of
the x4 grid, less the mean over all 16 phases: a local notch at the grid frequencies.
Printed: Y-PSNR (MATLAB BT.601 Y, 4-px crop) over frames 3..12 and the output's grid
energy over the ground truth's (``mfsr.metrics.grid_energy``), for B = 0 (no filter),
32, 64, 128.

    python benchmarks/realmotion/degrid_probe.py juggle --data /work/devdata/realmotion
"""
import argparse
import os
import shutil
import tempfile

import numpy as np
from scipy import ndimage

import mfsr
from mfsr import metrics
from mfsr.core.color import as_float_image
from mfsr.io import read_image


def degrid(y, box, sigma=1.5, scale=4):
    """``y`` less its local x``scale``-periodic high-pass component (box ``box`` px)."""
    high = y - ndimage.gaussian_filter(y, sigma, mode="reflect")
    rows, cols = np.mgrid[0:y.shape[0], 0:y.shape[1]]
    periodic = np.zeros_like(y)
    phase_means = []
    for a in range(scale):
        for b in range(scale):
            mask = ((rows % scale) == a) & ((cols % scale) == b)
            local = (ndimage.uniform_filter(np.where(mask, high, 0.0), box, mode="reflect")
                     / ndimage.uniform_filter(mask.astype(float), box, mode="reflect"))
            phase_means.append(local)
            periodic[mask] = local[mask]
    return y - (periodic - np.mean(phase_means, axis=0))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("clip")
    p.add_argument("--data", default="/work/devdata/realmotion")
    p.add_argument("--frames", type=int, default=16)
    args = p.parse_args()
    root = os.path.join(args.data, args.clip)
    names = sorted(os.listdir(os.path.join(root, "GT")))[:args.frames]
    gt = [metrics.matlab_luma(as_float_image(read_image(os.path.join(root, "GT", n)),
                                             "gt", np.float64)) for n in names]
    folder = tempfile.mkdtemp()
    try:
        for n in names:
            shutil.copy(os.path.join(root, "BDx4", n), folder)
        out = [metrics.matlab_luma(hr.astype(np.float64))
               for hr in mfsr.reconstruct_video(folder, 4, degradation="BD")]
    finally:
        shutil.rmtree(folder)
    for box in (0, 32, 64, 128):
        psnr, grid, grid_gt = [], [], []
        for t in range(3, 13):
            y = degrid(out[t], box) if box else out[t]
            d = (y - gt[t])[4:-4, 4:-4]
            psnr.append(10 * np.log10(255.0 ** 2 / np.mean(d ** 2)))
            grid.append(metrics.grid_energy(y, 4))
            grid_gt.append(metrics.grid_energy(gt[t], 4))
        print(f"{args.clip} box {box}: Y-PSNR {np.mean(psnr):.3f} dB, "
              f"grid / GT {np.mean(grid) / np.mean(grid_gt):.2f}")


if __name__ == "__main__":
    main()

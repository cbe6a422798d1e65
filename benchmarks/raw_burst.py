"""Raw bursts: joint demosaicking + super-resolution against demosaicking first.

Simulated 8-frame RGGB bursts (:func:`mfsr.degradation.burst.simulate_burst`) from
scikit-image's astronaut, coffee, chelsea and rocket: sRGB linearised, handheld motion
(translations uniform in +-2 LR px, rotations in +-0.5 degrees, frame 0 the reference),
Gaussian PSF of 0.4 s HR px, LR pixel i centred on HR s i + (s - 1) / 2, mosaic,
Poisson-Gaussian noise of variance 1e-4 x + 4e-6 on [0, 1], clipped. PSNR on linear RGB
against the HR scene seen from frame 0, 8-px border cropped, mean over the images.

Rows (every method is given the burst's PSF and sampling phase and registers itself):

- ``mfsr``: ``reconstruct(raw, s, cfa="RGGB", ...)``, the default method (IRLS on green,
  smooth colour differences, DIS registration on the half-size grey frames);
- ``kernel``: the same with ``method="kernel"`` (non-iterative merge);
- ``ea+reconstruct``: OpenCV's edge-aware demosaicking (``COLOR_BayerBG2RGB_EA``, the
  code for an RGGB sensor) of each frame, then ``reconstruct`` (default method, luma
  mode, ``codec="none"`` since the frames are not compressed); ``ea+reconstruct rgb`` the
  same with ``color="rgb"`` (every channel solved);
- ``ea+bicubic``: the reference frame demosaicked the same way and upscaled by bicubic
  interpolation on the same sampling grid (``mfsr.degradation.interpolate.upsample`` with the phase);
  at scale 1 this is the single-frame demosaic itself.

Times are wall seconds on this machine after a warm-up call (JIT compilation excluded),
all rows measured in one run. A moving-object burst (a bright square crossing the frames
independently of the camera motion) checks for ghosting: PSNR inside the square's region
of the reference frame, each method against ``ea+bicubic``.

    python benchmarks/raw_burst.py --out benchmarks/results/raw_burst.json \\
        --figure docs/images/raw_burst.png --object-figure docs/images/raw_moving_object.png
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import cv2
import numpy as np
from skimage import data

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import mfsr  # noqa: E402
from mfsr.core.color import linear_to_srgb  # noqa: E402
from mfsr.degradation.burst import simulate_burst  # noqa: E402
from mfsr.degradation.interpolate import upsample  # noqa: E402

IMAGES = ("astronaut", "coffee", "chelsea", "rocket")
CROP = 8


def psnr(a, b, mask=None):
    """PSNR on linear RGB in [0, 1], ``CROP`` px border cropped (or inside ``mask``)."""
    err = (np.clip(a, 0, 1) - b) ** 2
    if mask is not None:
        return float(10 * np.log10(1 / err[mask].mean()))
    return float(10 * np.log10(1 / err[CROP:-CROP, CROP:-CROP].mean()))


def ea_demosaic(raw):
    """OpenCV's edge-aware demosaicking of an RGGB mosaic in [0, 1] (16-bit codes)."""
    codes = np.clip(np.round(raw * 65535), 0, 65535).astype(np.uint16)
    return cv2.cvtColor(codes, cv2.COLOR_BayerBG2RGB_EA).astype(np.float32) / 65535


def run_methods(burst, scale):
    """``{row: (hr, seconds)}`` for one burst."""
    common = {"psf": burst.psf, "phase": burst.phase, "reference": 0}
    rows = {}

    def timed(name, fn):
        t = time.perf_counter()
        out = fn()
        rows[name] = (out, time.perf_counter() - t)

    timed("mfsr", lambda: mfsr.reconstruct(burst.frames, scale, cfa=burst.pattern, **common))
    timed("kernel", lambda: mfsr.reconstruct(burst.frames, scale, cfa=burst.pattern,
                                             method="kernel", **common))

    def demosaic_then_sr(color):
        demo = np.stack([ea_demosaic(f) for f in burst.frames])
        return mfsr.reconstruct(demo, scale, codec="none", color=color, **common)

    timed("ea+reconstruct", lambda: demosaic_then_sr("luma"))
    timed("ea+reconstruct rgb", lambda: demosaic_then_sr("rgb"))
    timed("ea+bicubic", lambda: np.clip(upsample(ea_demosaic(burst.frames[0]), scale,
                                                 burst.phase), 0, 1))
    return rows


def warm_up():
    small = simulate_burst(data.astronaut()[:64, :64], n_frames=3, scale=2, seed=0)
    run_methods(small, 2)


def crops_figure(path, panels, titles, box):
    """A row of crops (sRGB-rendered, nearest-neighbour enlarged) for inspection."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y0, y1, x0, x1 = box
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4))
    for ax, img, title in zip(axes, panels, titles):
        ax.imshow(np.clip(linear_to_srgb(np.clip(img[y0:y1, x0:x1], 0, 1)), 0, 1),
                  interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="JSON results file")
    ap.add_argument("--figure", help="PNG of astronaut crops at scale 2")
    ap.add_argument("--object-figure", help="PNG of the moving-object crops")
    ap.add_argument("--scales", default="2,1")
    ap.add_argument("--frames", type=int, default=8)
    args = ap.parse_args(argv)

    warm_up()
    results = {"machine": f"{platform.node()} ({os.cpu_count()} cores)",
               "command": "python " + " ".join(sys.argv), "frames": args.frames,
               "noise": [1e-4, 4e-6], "metric": "PSNR linear RGB, 8-px crop", "scales": {}}
    for scale in (int(s) for s in args.scales.split(",")):
        per_image = {}
        for seed, name in enumerate(IMAGES):
            burst = simulate_burst(getattr(data, name)(), n_frames=args.frames, scale=scale,
                                   seed=seed)
            rows = run_methods(burst, scale)
            megapixels = burst.truth.shape[0] * burst.truth.shape[1] / 1e6
            per_image[name] = {row: {"psnr": psnr(hr, burst.truth), "seconds": sec,
                                     "seconds_per_mp": sec / megapixels}
                               for row, (hr, sec) in rows.items()}
            print(f"x{scale} {name:10s} " + "  ".join(
                f"{row} {v['psnr']:.2f} dB {v['seconds']:.2f} s"
                for row, v in per_image[name].items()), flush=True)
            if args.figure and scale == 2 and name == "astronaut":
                order = ("ea+bicubic", "ea+reconstruct", "kernel", "mfsr")
                crops_figure(args.figure, [burst.truth] + [rows[r][0] for r in order],
                             ["truth"] + [f"{r} {per_image[name][r]['psnr']:.2f} dB"
                                          for r in order], (60, 220, 150, 310))
        rows = list(next(iter(per_image.values())))
        mean = {row: {key: float(np.mean([per_image[i][row][key] for i in IMAGES]))
                      for key in ("psnr", "seconds", "seconds_per_mp")} for row in rows}
        results["scales"][str(scale)] = {"images": per_image, "mean": mean}
        print(f"x{scale} mean: " + "  ".join(f"{r} {v['psnr']:.2f} dB ({v['seconds']:.2f} s)"
                                             for r, v in mean.items()))
        demo_sr = max(mean["ea+reconstruct"]["psnr"], mean["ea+reconstruct rgb"]["psnr"])
        print(f"x{scale} mfsr - best ea+reconstruct {mean['mfsr']['psnr'] - demo_sr:+.2f} dB, "
              f"mfsr - ea+bicubic {mean['mfsr']['psnr'] - mean['ea+bicubic']['psnr']:+.2f} dB, "
              f"kernel - mfsr {mean['kernel']['psnr'] - mean['mfsr']['psnr']:+.2f} dB at "
              f"{mean['mfsr']['seconds'] / mean['kernel']['seconds']:.1f}x the speed")

    # moving object: no ghosting inside the square's region of the reference frame
    scale = 2
    burst = simulate_burst(data.astronaut(), n_frames=args.frames, scale=scale, seed=0,
                           moving_object=True)
    rows = run_methods(burst, scale)
    region = np.repeat(np.repeat(burst.object_masks[0], scale, 0), scale, 1)
    inside = {row: psnr(hr, burst.truth, region) for row, (hr, _) in rows.items()}
    outside = {row: psnr(hr, burst.truth, ~region) for row, (hr, _) in rows.items()}
    results["moving_object"] = {"psnr_inside_object": inside, "psnr_outside": outside}
    print("moving object, PSNR inside the object's region: " +
          "  ".join(f"{r} {v:.2f}" for r, v in inside.items()))
    if args.object_figure:
        ys, xs = np.nonzero(region)
        cy, cx = int(ys.mean()), int(xs.mean())
        half = 80
        box = (max(cy - half, 0), cy + half, max(cx - half, 0), cx + half)
        order = ("ea+bicubic", "ea+reconstruct", "kernel", "mfsr")
        crops_figure(args.object_figure, [burst.truth] + [rows[r][0] for r in order],
                     ["truth"] + [f"{r} {inside[r]:.2f} dB inside" for r in order], box)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()

"""Tuning run: the anchor's noise dependence (``mfsr.video.recurrence.ANCHOR_NOISE_EXPONENT``).

The video job's default (whole-clip recursion) on each development clip
(``benchmarks/realmotion``, default ``/work/devdata/realmotion``) for each exponent, beside
5-frame windows (the windowed default), frames ``--frames`` of each clip; mean Y-PSNR over
those frames and the gain over bicubic on the BD grid:

    python benchmarks/anchor_noise.py --degradations BDx4_noise5 BDx4 --exponents 0 1 2 \\
        --out benchmarks/results/anchor_noise.json
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
from real_motion import fair_bicubic, load
from results_io import run_record, write_json

import mfsr
import mfsr.video.recurrence
from mfsr.metrics import y_psnr_ssim

SCALE = 4


def run(source, frames, **kw):
    return {t: hr for t, hr in enumerate(mfsr.reconstruct_video(source, SCALE, end=frames,
                                                                degradation="BD", **kw))}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="/work/devdata/realmotion")
    p.add_argument("--clips", nargs="*")
    p.add_argument("--degradations", nargs="+", default=["BDx4_noise5"])
    p.add_argument("--exponents", nargs="+", type=float, default=[0.0, 1.0, 2.0])
    p.add_argument("--frames", type=int, default=16, help="the first N frames of each clip")
    p.add_argument("--no-windows", dest="windows", action="store_false")
    p.add_argument("--out")
    args = p.parse_args(argv)
    started = time.time()
    clips = args.clips or sorted(d for d in os.listdir(args.data)
                                 if os.path.isdir(os.path.join(args.data, d)))
    rows = []
    for deg in args.degradations:
        for clip in clips:
            source = os.path.join(args.data, clip, deg)
            gt = load(os.path.join(args.data, clip, "GT"), range(args.frames))
            lr = load(source, range(args.frames))
            bic = np.mean([y_psnr_ssim(gt[t], fair_bicubic(lr[t], deg), SCALE)[0]
                           for t in range(args.frames)])
            configs = [("window:5", {"window": 5})] if args.windows else []
            configs += [(f"recursion:p={e:g}", {"exponent": e}) for e in args.exponents]
            for name, kw in configs:
                mfsr.video.recurrence.ANCHOR_NOISE_EXPONENT = kw.pop("exponent", 0.0)
                out = run(source, args.frames, **kw)
                psnr = float(np.mean([y_psnr_ssim(gt[t], out[t], SCALE)[0] for t in out]))
                rows.append({"degradation": deg, "clip": clip, "config": name,
                             "y_psnr": round(psnr, 4), "gain": round(psnr - bic, 4)})
                print(rows[-1], flush=True)
    summary = {}
    for r in rows:
        summary.setdefault((r["degradation"], r["config"]), []).append(r["gain"])
    means = [{"degradation": d, "config": c, "mean_gain": round(float(np.mean(g)), 4)}
             for (d, c), g in summary.items()]
    for m in means:
        print(m)
    if args.out:
        write_json(args.out, run_record("benchmarks/anchor_noise.py", args,
                                        {"rows": rows, "means": means}, started))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

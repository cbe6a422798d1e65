"""Learned prior vs hand-made priors: Y-PSNR/SSIM and time on real sequences.

Same protocol as ``benchmarks/quality.py`` (sliding window of ``--window`` LR frames around
each target frame, registration once per window and shared by all methods, Y on BT.601
with MATLAB scaling, ``scale``-pixel border cropped), for the plug-and-play reconstruction
with the shipped CNN denoiser against the hand-made priors of ``mfsr.reconstruct``:

    python benchmarks/pnp_quality.py --frames 5 10 15 20 25 \
        --out benchmarks/results/pnp_quality_bigbuckbunny.json

``pnp`` is ``mfsr.reconstruct(..., prior="learned")`` (which selects ``method="pnp"``
with the parameters of :func:`mfsr.solvers.pnp.pnp_parameters`); ``pnp_bm3d`` the same
with ``prior="bm3d"`` (needs the optional ``bm3d`` package).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import mfsr
from mfsr.metrics import y_psnr_ssim
from mfsr.solvers.pnp import PNP_ENSEMBLE, pnp_parameters

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quality import DEFAULT_DATA, load_sequence, registered_windows  # noqa: E402
from results_io import run_record, write_json  # noqa: E402

# name -> keyword arguments of mfsr.reconstruct; the first three are the hand-made priors
METHODS = {
    "map_huber": {"method": "map", "prior": "huber"},
    "map_btv": {"method": "map", "prior": "btv"},
    "irls": {"method": "irls"},
    "pnp": {"prior": "learned"},
    "pnp_bm3d": {"prior": "bm3d"},
}
HANDMADE = ("map_huber", "map_btv", "irls")


def run_method(name, stack, args, ref, motion):
    """One reconstruction of ``stack`` (RGB uint8) with the method ``name``."""
    return mfsr.reconstruct(stack, args.scale, reference=ref, motion=motion,
                            degradation=args.degradation, **METHODS[name])


def run(args):
    seq_dir = os.path.join(args.data, args.sequence)
    _, gt = load_sequence(os.path.join(seq_dir, "GT"))
    results = {}
    for deg in args.degradations:
        _, lr = load_sequence(os.path.join(seq_dir, deg))
        n = len(lr)
        targets = args.frames or list(range(args.window // 2, n - args.window // 2))
        scores = {name: [] for name in args.methods}
        seconds = {name: [] for name in args.methods}
        for t, stack, ref, motion, t_reg in registered_windows(lr, targets, args.window):
            for name in args.methods:
                t0 = time.perf_counter()
                hr = run_method(name, stack, args, ref, motion)
                seconds[name].append(time.perf_counter() - t0 + t_reg)
                scores[name].append(y_psnr_ssim(gt[t], hr, args.scale))
            line = " ".join(f"{k}={v[-1][0]:.2f}/{seconds[k][-1]:.0f}s" for k, v in scores.items())
            print(f"[{deg} frame {t}] {line}", flush=True)
        results[deg] = {name: {"psnr": float(np.mean([p for p, _ in v])),
                               "ssim": float(np.mean([s for _, s in v])),
                               "psnr_per_frame": [float(p) for p, _ in v],
                               "seconds_per_frame": float(np.mean(seconds[name])),
                               "frames": targets}
                        for name, v in scores.items()}
    return results


def print_table(results, args):
    print(f"\n{args.sequence}, x{args.scale}, window {args.window}, frames "
          f"{args.frames or 'all'}; Y-PSNR (dB) / SSIM (BT.601 Y, MATLAB scaling, "
          f"{args.scale}-px border cropped); s/frame includes registration")
    for deg, res in results.items():
        best = max((res[m]["psnr"] for m in res if m in HANDMADE), default=None)
        print(f"\n{deg}\n| method | Y-PSNR | SSIM | s/frame | vs best hand-made |")
        print("| --- | --- | --- | --- | --- |")
        for name, r in res.items():
            delta = "" if best is None else f"{r['psnr'] - best:+.2f} dB"
            print(f"| {name} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['seconds_per_frame']:.1f} "
                  f"| {delta} |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="folder holding the sequences")
    p.add_argument("--sequence", default="bigbuckbunny")
    p.add_argument("--degradations", nargs="+", default=["BDx4_noise5", "BDx4"])
    p.add_argument("--degradation", default="BD", help="preset given to the reconstruction")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--window", type=int, default=7)
    p.add_argument("--frames", type=int, nargs="*", help="target frames (default: all with a "
                                                          "full window)")
    p.add_argument("--methods", nargs="+", default=["map_huber", "map_btv", "irls", "pnp"],
                   choices=list(METHODS))
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args(argv)
    if not os.path.isdir(os.path.join(args.data, args.sequence)):
        p.error(f"sequence folder {os.path.join(args.data, args.sequence)} not found")
    t0 = time.time()
    results = run(args)
    print_table(results, args)
    if args.out:
        write_json(args.out, run_record(__file__, args, results, t0, **{
            "pnp_parameters_at_sigma_0.01": pnp_parameters(0.01), "pnp_start": "irls",
            "pnp_cnn_ensemble": PNP_ENSEMBLE}))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

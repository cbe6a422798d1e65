"""Quality curves on a real sequence: against the number of frames, the noise level (with
the prior-weight rule checked against half and double weights), and the iterations.

    python benchmarks/curves.py frames     --out benchmarks/results/curve_frames.json
    python benchmarks/curves.py noise      --out benchmarks/results/curve_noise.json
    python benchmarks/curves.py iterations --out benchmarks/results/curve_iterations.json

Y-PSNR on BT.601 Y (MATLAB scaling), 4-px border cropped, mean over ``--frames`` targets
of ``bigbuckbunny``. The noise curve degrades the GT frames itself with
``mfsr.simulate_sequence`` (BD preset, Gaussian noise, 8-bit rounding, seed 0), so every
level has the same content. A PNG plot is written beside the JSON when matplotlib imports;
``python benchmarks/plot_curves.py`` redraws them into ``docs/images/`` from the JSONs.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import mfsr
from mfsr.metrics import y_psnr_ssim

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quality import DEFAULT_DATA, load_sequence, window_indices
from results_io import command_line, write_json


def _psnr(gt, hr):
    return y_psnr_ssim(gt, hr, 4)[0]


def curve_frames(lr, gt, targets, methods=("irls", "map")):
    out = {m: {} for m in methods}
    for k in (1, 3, 5, 7, 9):
        for m in methods:
            vals = []
            for t in targets:
                idx = window_indices(t, len(lr), k)
                vals.append(_psnr(gt[t], mfsr.reconstruct(lr[idx], 4, method=m,
                                                          reference=idx.index(t),
                                                          degradation="BD")))
            out[m][k] = float(np.mean(vals))
            print(f"frames={k} {m}: {out[m][k]:.2f}", flush=True)
    return out


def curve_noise(gt_all, targets, levels=(0, 2, 5, 10, 15), factors=(0.5, 1.0, 2.0),
                method="irls"):
    """Y-PSNR against noise sigma (in 8-bit levels) at the rule's weight times ``factors``."""
    out = {}
    window = sorted({i for t in targets for i in window_indices(t, len(gt_all), 7)})
    hr = gt_all[window]
    for level in levels:
        sim = mfsr.simulate_sequence(hr, 4, degradation="BD", noise=level / 255, seed=0,
                                     channel_axis=-1, bits=8)
        lr = (sim.frames * 255).round().astype(np.uint8)
        row = {}
        for t in targets:
            idx = [window.index(i) for i in window_indices(t, len(gt_all), 7)]
            ref = idx.index(window.index(t))
            stack = lr[idx]
            motion = mfsr.register(stack, reference=ref)
            luma = mfsr.core.color.rgb_to_ycbcr(stack.astype(np.float32) / 255)[..., 0]
            sigma = mfsr.degradation.estimate_noise(luma)
            rule = (mfsr.pipeline.IRLS_GAIN * 7 * max(sigma, mfsr.pipeline.IRLS_SIGMA_FLOOR) ** 2
                    if method == "irls" else mfsr.pipeline.prior_weight(sigma, 7))
            row.setdefault("sigma_estimated", []).append(sigma)
            row.setdefault("bicubic_phase", []).append(
                _psnr(gt_all[t], mfsr.upsample(stack[ref].astype(np.float32) / 255, 4, 0.0)))
            for f in factors:
                hr_t = mfsr.reconstruct(stack, 4, method=method, reference=ref, motion=motion,
                                        degradation="BD", weight=rule * f)
                row.setdefault(f"weight_x{f:g}", []).append(_psnr(gt_all[t], hr_t))
        out[level] = {k: float(np.mean(v)) for k, v in row.items()}
        out[level]["sigma_true_luma"] = level / 255 * 0.668  # BT.601 Y of i.i.d. RGB noise
        print(f"noise {level}/255: {out[level]}", flush=True)
    return out


def curve_iterations(lr, gt, targets):
    out = {}
    for method, its in (("irls", (1, 2, 3, 5, 8, 12)), ("map", (5, 10, 20, 30, 50))):
        out[method] = {}
        for n in its:
            vals, secs = [], []
            for t in targets:
                idx = window_indices(t, len(lr), 7)
                t0 = time.perf_counter()
                hr = mfsr.reconstruct(lr[idx], 4, method=method, reference=idx.index(t),
                                      degradation="BD", iterations=n)
                secs.append(time.perf_counter() - t0)
                vals.append(_psnr(gt[t], hr))
            out[method][n] = {"psnr": float(np.mean(vals)), "seconds": float(np.mean(secs))}
            print(f"{method} iterations={n}: {out[method][n]}", flush=True)
    return out


def plot(kind, data, path, title=None):
    """The curve's PNG (``benchmarks/plot_curves.py`` draws it); skipped without matplotlib."""
    try:
        from plot_curves import plot as draw
        draw(kind, data, path, title)
    except ImportError:
        print("matplotlib not installed: no PNG (pip install -e \".[bench]\")")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("kind", choices=["frames", "noise", "iterations"])
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--sequence", default="bigbuckbunny")
    p.add_argument("--degradation", default="BDx4", help="LR folder (frames/iterations curves)")
    p.add_argument("--frames", type=int, nargs="+", default=[10, 20])
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    seq = os.path.join(args.data, args.sequence)
    _, gt = load_sequence(os.path.join(seq, "GT"))
    t0 = time.time()
    if args.kind == "noise":
        data = curve_noise(gt, args.frames)
    else:
        _, lr = load_sequence(os.path.join(seq, args.degradation))
        data = (curve_frames if args.kind == "frames" else curve_iterations)(lr, gt, args.frames)
    write_json(args.out, {"command": command_line(__file__), "args": vars(args), "data": data,
                          "seconds": time.time() - t0})
    plot(args.kind, data, os.path.splitext(args.out)[0] + ".png",
         f"{args.sequence}, x4, mean over frames {', '.join(map(str, args.frames))}")
    print(f"wrote {args.out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()

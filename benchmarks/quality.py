"""Quality benchmark: Y-PSNR/SSIM of mfsr methods and baselines on real sequences.

Reconstructs a sliding window of ``--window`` LR frames around each target frame of a
sequence folder in ``../shared/data`` (layout: ``SEQ/GT``, ``SEQ/BDx4``, ...) and
compares every method with the ground truth on Y (BT.601, MATLAB scaling), border of
``scale`` pixels cropped, averaged over the target frames.

    python benchmarks/quality.py --sequence bigbuckbunny --degradations BDx4 BDx4_noise5

A degradation with no folder of its own can be simulated from the GT frames in memory:
``BIx4`` (MATLAB-style antialiased bicubic downscale, the "BI" preset of
``mfsr.simulate_sequence``, rounded to 8 bits, no noise) and ``BDx4sim`` (the BD preset,
the same way). The preset given to ``mfsr.reconstruct`` follows the degradation's name
(``BI...`` -> ``"BI"``, ``BD...`` -> ``"BD"``) unless ``--degradation`` names one.

Uses only the public API. Registration is run once per window and the same motion is
given to every multi-frame method (this is exactly what ``reconstruct`` does by default).
"""
from __future__ import annotations

import argparse
import os
import time

import cv2
import numpy as np
from results_io import run_record, write_json

import mfsr
from mfsr.metrics import y_psnr_ssim

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "..", "shared", "data")

# name -> (needs motion, keyword arguments of mfsr.reconstruct)
METHODS = {
    "default": (True, {}),
    "irls": (True, {"method": "irls"}),
    "map": (True, {"method": "map"}),
    "map_btv": (True, {"method": "map", "prior": "btv"}),
    "cg": (True, {"method": "cg"}),
    "ibp": (True, {"method": "ibp"}),
    "saa": (True, {"method": "saa"}),
    "saa_median": (True, {"method": "saa_median"}),
    "map_single": (False, {"method": "map"}),
    "irls_single": (False, {"method": "irls"}),
}
BASELINES = ("bicubic", "lanczos", "bicubic_phase", "lanczos_phase")
# degradations simulated from the GT frames when the sequence has no such folder
SIMULATED = {"BIx4": ("BI", 4), "BDx4sim": ("BD", 4)}


def conventions(scale, frames, window):
    """The measurement conventions, stated with every table."""
    which = ("every frame with a full window" if not frames
             else "frames " + ", ".join(map(str, frames)))
    return (f"Y-PSNR (dB) / SSIM on BT.601 Y (MATLAB rgb2ycbcr scaling, 16-235, peak 255), "
            f"{scale}-px border cropped, mean over {which}; x{scale}, {window}-frame window")


def load_degradation(seq_dir, deg, gt):
    """LR frames of a degradation: its folder, or simulated from ``gt`` (see SIMULATED)."""
    folder = os.path.join(seq_dir, deg)
    if os.path.isdir(folder) or deg not in SIMULATED:
        return load_sequence(folder)[1]
    preset, scale = SIMULATED[deg]
    sim = mfsr.simulate_sequence(gt, scale, degradation=preset, channel_axis=-1, bits=8)
    return (sim.frames * 255).round().astype(np.uint8)


def preset_of(deg, override=None):
    """The ``degradation=`` preset for ``mfsr.reconstruct`` on data ``deg``."""
    if override:
        return override
    return "BI" if deg.startswith("BI") else "BD" if deg.startswith("BD") else "area"


def load_sequence(folder):
    """All frames of a folder of PNGs, RGB uint8, sorted by name."""
    names = sorted(f for f in os.listdir(folder) if f.lower().endswith(".png"))
    if not names:
        raise ValueError(f"no PNG frames in {folder}")
    return names, np.stack([cv2.imread(os.path.join(folder, n))[..., ::-1] for n in names])


def baseline(name, lr, scale, phase):
    if name == "bicubic":  # the figure quoted in ../shared/data/README.md
        return cv2.resize(lr, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    if name == "lanczos":
        return cv2.resize(lr, None, fx=scale, fy=scale, interpolation=cv2.INTER_LANCZOS4)
    method = {"bicubic_phase": "bicubic", "lanczos_phase": "lanczos"}[name]
    return mfsr.upsample(lr.astype(np.float32) / 255, scale, phase, method=method)


def window_indices(t, n, window):
    """Indices of a window of ``window`` frames centred on ``t``, shifted inside [0, n)."""
    start = min(max(t - window // 2, 0), max(n - window, 0))
    return list(range(start, min(start + window, n)))


def registered_windows(lr, targets, window):
    """For each target frame ``t``: ``(t, stack, ref, motion, seconds)``, the window of
    ``window`` frames around it, the target's index in it, its motion (``mfsr.register``)
    and the seconds the registration took. Every multi-frame method of a benchmark gets
    the same motion, as ``reconstruct`` would compute it."""
    for t in targets:
        idx = window_indices(t, len(lr), window)
        ref = idx.index(t)
        stack = lr[idx]
        t0 = time.perf_counter()
        motion = mfsr.register(stack, reference=ref)
        yield t, stack, ref, motion, time.perf_counter() - t0


def run(args):
    seq_dir = os.path.join(args.data, args.sequence)
    _, gt = load_sequence(os.path.join(seq_dir, "GT"))
    results = {}
    for deg in args.degradations:
        lr = load_degradation(seq_dir, deg, gt)
        n = len(lr)
        half = args.window // 2
        targets = args.frames or list(range(half, n - half))
        preset = preset_of(deg, args.degradation)
        phase = 0.0 if preset == "BD" else None  # the baselines' sampling phase
        scores = {name: [] for name in BASELINES + tuple(args.methods)}
        seconds = {name: [] for name in args.methods}
        for t, stack, ref, motion, t_reg in registered_windows(lr, targets, args.window):
            for name in BASELINES:
                scores[name].append(y_psnr_ssim(gt[t], baseline(name, lr[t], args.scale,
                                                                phase), args.scale))
            for name in args.methods:
                multi, kw = METHODS[name]
                t0 = time.perf_counter()
                if multi:
                    hr = mfsr.reconstruct(stack, args.scale, reference=ref, motion=motion,
                                          degradation=preset, **kw)
                else:
                    hr = mfsr.reconstruct(lr[t:t + 1], args.scale, degradation=preset, **kw)
                seconds[name].append(time.perf_counter() - t0 + (t_reg if multi else 0.0))
                scores[name].append(y_psnr_ssim(gt[t], hr, args.scale))
            line = " ".join(f"{k}={v[-1][0]:.2f}" for k, v in scores.items())
            print(f"[{deg} frame {t}] {line}", flush=True)
        results[deg] = {
            name: {"psnr": float(np.mean([p for p, _ in v])),
                   "ssim": float(np.mean([s for _, s in v])),
                   "seconds_per_frame": float(np.mean(seconds[name])) if name in seconds else None,
                   "frames": targets, "preset": preset}
            for name, v in scores.items()}
    return results


def print_table(results, args):
    print(f"\n{args.sequence}: " + conventions(args.scale, args.frames, args.window))
    degs = list(results)
    print("presets: " + ", ".join(f"{d} -> degradation={results[d]['bicubic']['preset']!r}"
                                  for d in degs))
    print("| method | " + " | ".join(degs) + " | s/frame |")
    print("| --- |" + " --- |" * (len(degs) + 1))
    for name in results[degs[0]]:
        cells = [f"{results[d][name]['psnr']:.2f} / {results[d][name]['ssim']:.4f}" for d in degs]
        sec = results[degs[0]][name]["seconds_per_frame"]
        print(f"| {name} | " + " | ".join(cells) + f" | {'' if sec is None else f'{sec:.1f}'} |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="folder holding the sequences")
    p.add_argument("--sequence", default="bigbuckbunny")
    p.add_argument("--degradations", nargs="+", default=["BDx4", "BDx4_noise5"],
                   help="LR folders of the sequence, or " + ", ".join(SIMULATED)
                        + " (simulated from GT)")
    p.add_argument("--degradation", help="preset given to mfsr.reconstruct (default: from "
                                         "the degradation's name, BI... -> BI, BD... -> BD)")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--window", type=int, default=7)
    p.add_argument("--frames", type=int, nargs="*", help="target frames (default: all with a "
                                                          "full window)")
    p.add_argument("--methods", nargs="+", default=["default"], choices=list(METHODS))
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args(argv)
    if not os.path.isdir(os.path.join(args.data, args.sequence)):
        p.error(f"sequence folder {os.path.join(args.data, args.sequence)} not found")
    t0 = time.time()
    results = run(args)
    print_table(results, args)
    if args.out:
        write_json(args.out, run_record(__file__, args, results, t0, conventions=conventions(
            args.scale, args.frames, args.window)))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

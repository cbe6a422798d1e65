"""Compressed-input benchmark: mfsr on codec-degraded frames against bicubic on the BD grid.

Reads a data folder made by ``benchmarks/make_compressed.py`` (codec-degraded copies of
``BDx4``, GT linked beside them) and, for every set and every frame with a full window,
reconstructs with the default (``codec="auto"``: the codec model where the frames are
found codec-degraded) and with ``codec="none"`` (the white-noise model, mfsr's default
before the codec model), against bicubic and Lanczos on the BD sampling grid (the fair
baselines: LR pixel i at HR 4i) and cv2's bicubic (LR pixel i at HR 4i + 1.5, so 1.5 HR px
off the BD grid; shown second for that reason). Reports, per set: Y-PSNR/SSIM means, the
gain over bicubic on the BD grid (mean and worst frame), the error spectrum's energy at
the x4 grid frequencies (k/4 cycles per HR px, k = 0..3 on both axes but not both 0),
seconds per frame, the chroma's PSNR (Cb and Cr, BT.601 full range) and what the detector
decided.

    python benchmarks/make_compressed.py --out /tmp/mfsr_compressed
    python benchmarks/compressed.py --data /tmp/mfsr_compressed \\
        --out benchmarks/results/compressed.json

``--upscale SET`` also runs ``mfsr.upscale_video`` (what ``mfsr upscale`` runs) on the
set's ``.mp4`` with the same window and degradation and no codec option, and reports its
Y-PSNR over the same frames next to the benchmark's.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from quality import baseline, load_sequence, registered_windows
from results_io import run_record, write_json

import mfsr
from mfsr import metrics
from mfsr.metrics import y_psnr_ssim
from mfsr.pipeline.api import codec_model

BASELINES = ("bicubic_phase", "lanczos_phase", "bicubic")
SETS = ["BDx4", "BDx4_noise5"] + [f"BDx4_{c}_crf{q}" for c in ("x264", "x265")
                                  for q in (18, 23, 28, 33)] + \
       [f"BDx4_jpeg_q{q}" for q in (50, 75, 90)]


def matlab_luma(rgb):
    """BT.601 Y in MATLAB's 16-235 scaling, 0..255 units (as the PSNR convention)."""
    rgb = np.asarray(rgb, np.float64)
    rgb = rgb / 255.0 if rgb.max() > 1.5 else rgb
    return 16.0 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]


def grid_energy(result, gt, scale):
    """Energy of the Y error at the x``scale`` grid frequencies, per pixel, (0..255)^2
    (:func:`mfsr.metrics.grid_energy` of the MATLAB-scaled Y difference)."""
    return metrics.grid_energy(matlab_luma(result) - matlab_luma(gt), scale)


def chroma_psnr(result, gt, scale):
    """PSNR (dB, peak 1) of Cb and Cr (BT.601 full range, as mfsr's colour conversion)
    with a ``scale``-px border cropped."""
    from mfsr.core.color import rgb_to_ycbcr
    a = rgb_to_ycbcr(np.clip(np.asarray(result, np.float32), 0, 1))[..., 1:]
    b = rgb_to_ycbcr(np.asarray(gt, np.float32) / 255)[..., 1:]
    err = (a - b)[scale:-scale, scale:-scale]
    return float(10 * np.log10(1.0 / np.mean(err.astype(np.float64) ** 2)))


def to_float(hr):
    return np.asarray(hr, np.float32)


def run_set(seq_dir, name, gt, args):
    lr = load_sequence(os.path.join(seq_dir, name))[1]
    n = len(lr)
    half = args.window // 2
    targets = args.frames or list(range(half, n - half))
    rows = []
    for t, stack, ref, motion, t_reg in registered_windows(lr, targets, args.window):
        row = {"frame": t}
        for b in BASELINES:
            hr = to_float(baseline(b, lr[t], 4, 0.0))
            row[b] = y_psnr_ssim(gt[t], hr, 4) + (grid_energy(hr, gt[t], 4),
                                                   chroma_psnr(hr, gt[t], 4))
        model = codec_model(stack, "auto")
        row["codec"] = model.kind
        for method, codec in (("default", "auto"), ("codec_none", "none")):
            if method == "codec_none" and not model.degraded:
                row[method], row[method + "_seconds"] = row["default"], row["default_seconds"]
                continue
            t0 = time.perf_counter()
            hr = to_float(mfsr.reconstruct(stack, 4, reference=ref, motion=motion,
                                           degradation="BD", codec=codec))
            row[method + "_seconds"] = time.perf_counter() - t0 + t_reg
            row[method] = y_psnr_ssim(gt[t], hr, 4) + (grid_energy(hr, gt[t], 4),
                                                       chroma_psnr(hr, gt[t], 4))
        rows.append(row)
        print(f"[{name} {t}] {model.kind}: default {row['default'][0]:.2f} none "
              f"{row['codec_none'][0]:.2f} bicubic_BD {row['bicubic_phase'][0]:.2f} "
              f"({row['default_seconds']:.1f} s)", flush=True)
    return summarise(rows)


def summarise(rows):
    out = {"frames": [r["frame"] for r in rows],
           "codec_detected": sorted({r["codec"] for r in rows})}
    for m in BASELINES + ("default", "codec_none"):
        psnr = np.array([r[m][0] for r in rows])
        out[m] = {"psnr": float(psnr.mean()), "ssim": float(np.mean([r[m][1] for r in rows])),
                  "grid_energy": float(np.mean([r[m][2] for r in rows])),
                  "chroma_psnr": float(np.mean([r[m][3] for r in rows])),
                  "psnr_per_frame": [round(float(p), 4) for p in psnr]}
        if m in ("default", "codec_none"):
            gain = psnr - np.array([r["bicubic_phase"][0] for r in rows])
            out[m].update(gain=float(gain.mean()), worst_gain=float(gain.min()),
                          worst_frame=int(rows[int(np.argmin(gain))]["frame"]),
                          seconds_per_frame=float(np.mean([r[m + "_seconds"]
                                                           for r in rows])))
    return out


def upscale_check(seq_dir, name, gt, args):
    """``mfsr.upscale_video`` on the set's .mp4, no codec option: Y-PSNR per frame."""
    path = os.path.join(seq_dir, name + ".mp4")
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        mfsr.upscale_video(path, out, 4, args.window, degradation="BD")
        seconds = time.perf_counter() - t0
        names = sorted(os.listdir(out))
        frames = args.frames or list(range(args.window // 2, len(names) - args.window // 2))
        psnr = [y_psnr_ssim(gt[t], mfsr.io.read_image(os.path.join(out, names[t])), 4)[0]
                for t in frames]
    return {"video": path, "frames": frames, "psnr": float(np.mean(psnr)),
            "psnr_per_frame": [round(float(p), 4) for p in psnr],
            "seconds_per_frame": seconds / len(names)}


def print_table(results):
    print("\n| sequence | set | detected | bicubic (BD grid) | Lanczos (BD grid) | "
          "mfsr default | gain (worst frame) | codec='none' | gain (worst) | "
          "grid energy: bicubic / default / none | s/frame default / none |")
    print("|" + " --- |" * 11)
    for seq, sets in results.items():
        for name, r in sets.items():
            if not isinstance(r, dict) or name == "upscale":
                continue
            d, c = r["default"], r["codec_none"]
            print(f"| {seq} | {name} | {','.join(r['codec_detected'])} | "
                  f"{r['bicubic_phase']['psnr']:.2f} | {r['lanczos_phase']['psnr']:.2f} | "
                  f"{d['psnr']:.2f} / {d['ssim']:.4f} | {d['gain']:+.2f} ({d['worst_gain']:+.2f}) | "
                  f"{c['psnr']:.2f} | {c['gain']:+.2f} ({c['worst_gain']:+.2f}) | "
                  f"{r['bicubic_phase']['grid_energy']:.3f} / {d['grid_energy']:.3f} / "
                  f"{c['grid_energy']:.3f} | {d['seconds_per_frame']:.2f} / "
                  f"{c['seconds_per_frame']:.2f} |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="folder made by make_compressed.py")
    p.add_argument("--sequences", nargs="+", default=["bigbuckbunny", "carphone_pristine"])
    p.add_argument("--sets", nargs="*", default=SETS,
                   help="sets to reconstruct (none: only the ground truth's grid energy)")
    p.add_argument("--window", type=int, default=7)
    p.add_argument("--frames", type=int, nargs="*",
                   help="target frames (default: all with a full window)")
    p.add_argument("--upscale", nargs="*", default=[],
                   help="sets whose .mp4 also goes through mfsr.upscale_video")
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args(argv)
    t0 = time.time()
    results = {}
    for seq in args.sequences:
        seq_dir = os.path.join(args.data, seq)
        gt = load_sequence(os.path.join(seq_dir, "GT"))[1]
        half = args.window // 2
        frames = args.frames or list(range(half, len(gt) - half))
        # the ground truth's own energy there (a reference for the error figures: frames
        # decoded from a compressed file carry its block grid)
        results[seq] = {"ground_truth_grid_energy": float(np.mean(
            [grid_energy(np.zeros(gt[t].shape, np.float32), gt[t], 4) for t in frames]))}
        print(f"{seq}: ground truth's own grid energy "
              f"{results[seq]['ground_truth_grid_energy']:.4f}", flush=True)
        for name in args.sets:
            folder = os.path.join(seq_dir, name)
            if not os.path.isdir(folder):
                alt = os.path.join(os.path.dirname(os.path.realpath(
                    os.path.join(seq_dir, "GT"))), name)  # BDx4_noise5 from the source data
                if not os.path.isdir(alt):
                    print(f"skipping {folder}: not found")
                    continue
                seq_dir_set = os.path.dirname(alt)
            else:
                seq_dir_set = seq_dir
            results[seq][name] = run_set(seq_dir_set, name, gt, args)
        for name in args.upscale:
            if os.path.exists(os.path.join(seq_dir, name + ".mp4")):
                results[seq].setdefault("upscale", {})[name] = upscale_check(seq_dir, name,
                                                                             gt, args)
                u = results[seq]["upscale"][name]
                print(f"upscale {seq}/{name}.mp4: {u['psnr']:.2f} dB (benchmark default "
                      f"{results[seq].get(name, {}).get('default', {}).get('psnr', float('nan')):.2f})")
    print_table(results)
    if args.out:
        write_json(args.out, run_record(
            __file__, args, results, t0,
            conventions="Y-PSNR (dB) / SSIM on BT.601 Y (MATLAB scaling), 4-px border "
                        "cropped, mean over the frames listed; gain = mfsr minus bicubic "
                        "on the BD grid, per frame"))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

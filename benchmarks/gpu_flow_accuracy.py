"""Accuracy of the ``"gpu"`` flow (pyramidal Lucas-Kanade, ``mfsr.registration.gpu_flow``)
against OpenCV DIS on the same LR frame pairs of real sequences.

For each pair (frame ``k + gap``, reference ``k``) of a sequence in ``../shared/data``:

- pseudo ground truth: DIS (medium preset, full resolution) on the clean HR ``GT`` frames'
  luma, sampled at the LR pixel centres (HR coordinate ``4 i``: the ``BDx4`` data keep
  ``[::4, ::4]``) and divided by 4. Flow estimated on 16 times more pixels without blur or
  noise is far closer to the truth than either LR estimate, but it is still an estimate;
- both estimators on the LR ``BDx4`` (or ``--degradation``) luma: end-point error (EPE,
  LR px) against the pseudo ground truth, EPE between the two, and the photometric RMSE
  of the frame against the reference warped by each flow; border of 8 LR px cropped.

With ``--reconstruct``, also the end result: Y-PSNR (``mfsr.metrics.y_psnr_ssim``, 4 px
crop) of ``mfsr.reconstruct(method="map")`` on a 5-frame window around frames 5, 15, 25,
with the motion from ``register(method="dis")`` and ``register(method="gpu")``.

    python benchmarks/gpu_flow_accuracy.py --reconstruct   # both sequences, NumPy
    python benchmarks/gpu_flow_accuracy.py --backend cupy  # LK on the GPU

Times are wall-clock per flow on this machine (``--backend cupy`` synchronises the device
before reading the clock); results go to ``benchmarks/results/gpu_flow_accuracy*.json``.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import cv2
import numpy as np

import mfsr
from mfsr.core.backend import resolve_backend, to_device, to_numpy
from mfsr.core.color import rgb_to_ycbcr
from mfsr.registration.dense import flow_dis
from mfsr.registration.gpu_flow import bilinear_sample, flow_lk
from results_io import write_json

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "..", "shared", "data")
SCALE = 4
BORDER = 8


def luma(path):
    """Y (BT.601, [0, 1]) of an 8-bit BGR PNG."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(path)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    return rgb_to_ycbcr(rgb)[..., 0]


def epe(a, b):
    """Mean end-point error between two flows, border cropped."""
    d = (a - b)[BORDER:-BORDER, BORDER:-BORDER]
    return float(np.sqrt((d ** 2).sum(-1)).mean())


def warp_rmse(frame, reference, flow):
    """RMSE of ``frame`` against ``reference`` sampled at ``p + flow(p)``, border cropped."""
    h, w = frame.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    warped = bilinear_sample(reference[None], yy + flow[..., 1], xx + flow[..., 0])[0]
    d = (warped - frame)[BORDER:-BORDER, BORDER:-BORDER]
    return float(np.sqrt((d ** 2).mean()))


def timed(fn, xp, *args):
    t = time.perf_counter()
    out = fn(*args)
    if xp.__name__ == "cupy":
        xp.cuda.Device().synchronize()
    return out, time.perf_counter() - t


def run_sequence(folder, degradation, targets, gaps, xp):
    rows = []
    for k in targets:
        for gap in gaps:
            names = [f"{k + gap:04d}.png", f"{k:04d}.png"]
            if not all(os.path.exists(os.path.join(folder, "GT", n)) for n in names):
                continue
            hr_frame, hr_ref = (luma(os.path.join(folder, "GT", n)) for n in names)
            lr_frame, lr_ref = (luma(os.path.join(folder, degradation, n)) for n in names)
            truth = flow_dis(hr_frame, hr_ref)[::SCALE, ::SCALE][: lr_frame.shape[0],
                                                                 : lr_frame.shape[1]] / SCALE
            dis, t_dis = timed(flow_dis, np, lr_frame, lr_ref)
            f_dev, r_dev = to_device(lr_frame, xp), to_device(lr_ref, xp)
            flow_lk(f_dev, r_dev)  # warm-up (kernel compilation on the GPU)
            lk, t_lk = timed(flow_lk, xp, f_dev, r_dev)
            lk = to_numpy(lk)
            rows.append({
                "pair": names, "gap": gap,
                "truth_motion_px": float(np.sqrt((truth ** 2).sum(-1)).mean()),
                "epe_dis": epe(dis, truth), "epe_lk": epe(lk, truth), "epe_lk_vs_dis": epe(lk, dis),
                "rmse_zero": warp_rmse(lr_frame, lr_ref, np.zeros_like(dis)),
                "rmse_dis": warp_rmse(lr_frame, lr_ref, dis), "rmse_lk": warp_rmse(lr_frame, lr_ref, lk),
                "seconds_dis": t_dis, "seconds_lk": t_lk,
            })
    return rows


def reconstruct_psnr(folder, degradation, targets, xp, window=5):
    """Y-PSNR of MAP reconstructions with DIS and with the gpu flow (same frames)."""
    from mfsr.metrics import y_psnr_ssim

    def rgb(kind, i):
        return cv2.cvtColor(cv2.imread(os.path.join(folder, kind, f"{i:04d}.png")),
                            cv2.COLOR_BGR2RGB)
    out = {"dis": [], "gpu": []}
    half = window // 2
    for t in targets:
        frames = to_device(np.stack([rgb(degradation, i) for i in range(t - half, t + half + 1)]),
                           xp)
        gt = rgb("GT", t)
        for method, psnrs in out.items():
            motion = mfsr.register(frames, reference=half, method=method)
            hr = to_numpy(mfsr.reconstruct(frames, scale=SCALE, method="map", degradation="BD",
                                           motion=motion, reference=half))
            hr8 = np.clip(np.round(hr * 255), 0, 255).astype(np.uint8)
            psnrs.append(float(y_psnr_ssim(gt, hr8, SCALE)[0]))
    return {m: float(np.mean(v)) for m, v in out.items()}


def summarise(rows):
    keys = [k for k in rows[0] if k not in ("pair", "gap")]
    return {k: float(np.mean([r[k] for r in rows])) for k in keys} | {"pairs": len(rows)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--sequences", nargs="+", default=["bigbuckbunny", "carphone_pristine"])
    parser.add_argument("--degradation", default="BDx4")
    parser.add_argument("--targets", type=int, nargs="+", default=list(range(0, 26, 5)))
    parser.add_argument("--gaps", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--backend", choices=["numpy", "cupy"], default="numpy")
    parser.add_argument("--reconstruct", action="store_true",
                        help="also compare MAP reconstructions made with each flow")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    xp = resolve_backend(args.backend)
    report = {"degradation": args.degradation, "backend": args.backend, "targets": args.targets,
              "gaps": args.gaps, "python": sys.version.split()[0],
              "machine": platform.machine(), "processor": platform.processor(),
              "opencv_threads": cv2.getNumThreads(), "sequences": {}}
    for seq in args.sequences:
        folder = os.path.join(args.data, seq)
        if not os.path.isdir(folder):
            print(f"skip {seq}: {folder} not found")
            continue
        rows = run_sequence(folder, args.degradation, args.targets, args.gaps, xp)
        s = summarise(rows)
        report["sequences"][seq] = {"summary": s, "pairs": rows}
        print(f"{seq} ({s['pairs']} pairs, mean motion {s['truth_motion_px']:.2f} LR px): "
              f"EPE vs HR-DIS  dis {s['epe_dis']:.3f}  lk {s['epe_lk']:.3f}  "
              f"(lk vs dis {s['epe_lk_vs_dis']:.3f}) | warp RMSE  none {s['rmse_zero']:.4f}  "
              f"dis {s['rmse_dis']:.4f}  lk {s['rmse_lk']:.4f} | ms/flow  "
              f"dis {1e3 * s['seconds_dis']:.1f}  lk {1e3 * s['seconds_lk']:.1f}")
        if args.reconstruct:
            psnr = reconstruct_psnr(folder, args.degradation, (5, 15, 25), xp)
            report["sequences"][seq]["map_y_psnr"] = psnr
            print(f"  MAP x4 Y-PSNR, frames 5/15/25:  motion dis {psnr['dis']:.2f} dB  "
                  f"gpu {psnr['gpu']:.2f} dB")
    out = args.out or os.path.join(HERE, "results", f"gpu_flow_accuracy_{args.backend}.json")
    write_json(out, report)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""Picture types from the bitstream in the video job: with and without, on the same frames.

For each set's ``.mp4`` made by ``benchmarks/make_compressed.py`` (H.264 from x264: the
reader reports each frame's picture type, :meth:`mfsr.io.FrameSource.side_info`), runs
``mfsr.reconstruct_video`` (``degradation="BD"``, the default codec path) twice on the
same decoded frames: as the job runs it (each window's codec model weighs its I, P and B
frames by their types: :func:`mfsr.degradation.codec.detect_codec`) and with the side
information hidden (a source whose ``side_info`` gives None: every frame weight 1, the
job before the types were passed). Reports Y-PSNR against GT and the gain over bicubic on
the BD grid (of the same decoded LR frames), per job and set::

    python benchmarks/make_compressed.py --out /tmp/mfsr_compressed --codecs x264 --crf 23 28
    python benchmarks/side_info_ab.py --data /tmp/mfsr_compressed \\
        --out benchmarks/results/side_info_ab.json

``--windows 7 none``: the windowed job with 7 frames (the codec benchmark's window) and
the whole-clip recursion (``window=None``, the default job).
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
from quality import baseline, load_sequence
from results_io import run_record, write_json

import mfsr
from mfsr.io import FrameSource
from mfsr.metrics import y_psnr_ssim
from mfsr.video.windows import window_indices


class WithoutSideInfo(FrameSource):
    """The same frames, no side information (as a folder of frames has)."""

    def side_info(self, index):
        return None


def run_job(path, source_class, window, targets):
    with source_class(path) as src:
        frames = {}
        for t, hr in zip(range(targets[0], targets[-1] + 1),
                         mfsr.reconstruct_video(src, 4, window, degradation="BD",
                                                start=targets[0], end=targets[-1] + 1)):
            frames[t] = hr
        lr = {t: src.read(t) for t in targets}
        types = [getattr(src.side_info(k), "picture_type", None) for k in range(len(src))]
    return frames, lr, types


def run_set(seq_dir, name, gt, window, args):
    path = os.path.join(seq_dir, name + ".mp4")
    n = len(gt)
    half = (window or 3) // 2
    targets = args.frames or list(range(half, n - half))
    t0 = time.perf_counter()
    with_types, lr, types = run_job(path, FrameSource, window, targets)
    t1 = time.perf_counter()
    without, _, _ = run_job(path, WithoutSideInfo, window, targets)
    t2 = time.perf_counter()
    rows = []
    for t in targets:
        bic = y_psnr_ssim(gt[t], baseline("bicubic_phase", lr[t], 4, 0.0), 4)[0]
        a = y_psnr_ssim(gt[t], with_types[t], 4)[0]
        b = y_psnr_ssim(gt[t], without[t], 4)[0]
        idx = window_indices(t, n, window or 3)[0]
        rows.append({"frame": t, "bicubic_bd": bic, "with_types": a, "without": b,
                     "window_types": "".join(types[k] for k in idx),
                     "max_abs_diff": float(np.abs(with_types[t] - without[t]).max())})
        print(f"[{name} window={window} {t} {rows[-1]['window_types']}] with types "
              f"{a:.3f} without {b:.3f} bicubic_BD {bic:.3f}", flush=True)
    gain = {m: np.array([r[m] - r["bicubic_bd"] for r in rows]) for m in ("with_types", "without")}
    return {"frames": targets, "picture_types": "".join(types),
            "with_types": {"gain": float(gain["with_types"].mean()),
                           "worst_gain": float(gain["with_types"].min()),
                           "psnr": float(np.mean([r["with_types"] for r in rows])),
                           "seconds": t1 - t0},
            "without": {"gain": float(gain["without"].mean()),
                        "worst_gain": float(gain["without"].min()),
                        "psnr": float(np.mean([r["without"] for r in rows])),
                        "seconds": t2 - t1},
            "frames_changed": int(sum(r["max_abs_diff"] > 0 for r in rows)),
            "rows": rows}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="folder made by make_compressed.py")
    p.add_argument("--sequences", nargs="+", default=["bigbuckbunny", "carphone_pristine"])
    p.add_argument("--sets", nargs="+", default=["BDx4_x264_crf23", "BDx4_x264_crf28"])
    p.add_argument("--windows", nargs="+", default=["7"],
                   help="window lengths of the windowed job; 'none': the recursion")
    p.add_argument("--frames", type=int, nargs="*",
                   help="target frames (default: all with a full window)")
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args(argv)
    started = time.time()
    results = {}
    for seq in args.sequences:
        seq_dir = os.path.join(args.data, seq)
        gt = load_sequence(os.path.join(seq_dir, "GT"))[1]
        for w in args.windows:
            window = None if w.lower() == "none" else int(w)
            for name in args.sets:
                key = f"{seq}/{name}/window={w}"
                results[key] = run_set(seq_dir, name, gt, window, args)
    print("\n| sequence / set / job | picture types | gain with types (worst) | "
          "without (worst) | difference | frames changed |")
    print("|" + " --- |" * 6)
    for key, r in results.items():
        a, b = r["with_types"], r["without"]
        print(f"| {key} | {r['picture_types']} | {a['gain']:+.3f} ({a['worst_gain']:+.3f}) | "
              f"{b['gain']:+.3f} ({b['worst_gain']:+.3f}) | {a['gain'] - b['gain']:+.4f} | "
              f"{r['frames_changed']} of {len(r['frames'])} |")
    if args.out:
        write_json(args.out, run_record(__file__, args, results, started))


if __name__ == "__main__":
    main()

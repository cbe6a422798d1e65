"""Check that ``mfsr bench`` gives benchmarks/quality.py's figures for the same frames.

Runs both on the shared bigbuckbunny BDx4 frames (few frames, so it stays cheap) with
the same method and quality.py's conventions (``--crop 4 --ssim skimage --no-round``,
frames with a full 7-frame window), and writes both tables' figures and their
differences to ``benchmarks/results/bench_vs_quality.json``.

    python benchmarks/bench_vs_quality.py            # frames 3 and 15, method default
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import quality  # noqa: E402
from results_io import run_record, write_json  # noqa: E402

from mfsr.bench import Protocol, run_bench  # noqa: E402

PAIRS = {"bicubic_phase": "bicubic-grid", "default": "default"}   # quality.py -> bench


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=quality.DEFAULT_DATA)
    p.add_argument("--sequence", default="bigbuckbunny")
    p.add_argument("--every", type=int, default=12,
                   help="bench --frames every:K after --skip-ends 3 (default 12: 3, 15)")
    p.add_argument("--out", default=os.path.join(HERE, "results", "bench_vs_quality.json"))
    args = p.parse_args(argv)
    t0 = time.time()
    n = len(os.listdir(os.path.join(args.data, args.sequence, "GT")))
    frames = list(range(3, n - 3))[::args.every]
    q = quality.run(argparse.Namespace(data=args.data, sequence=args.sequence,
                                       degradations=["BDx4"], degradation=None, scale=4,
                                       window=7, frames=frames, methods=["default"]))["BDx4"]
    with tempfile.TemporaryDirectory() as cache:
        b = run_bench(args.data, Protocol("BD", 4, crop=4, skip_ends=3, round_output=False,
                                          ssim="skimage"), list(PAIRS.values()),
                      frames=f"every:{args.every}", clips=[args.sequence], cache=cache,
                      progress=False)["methods"]
    rows = {}
    for qn, bn in PAIRS.items():
        bm = b[bn]["mean"]
        rows[bn] = {"quality_py": {"psnr": q[qn]["psnr"], "ssim": q[qn]["ssim"],
                                   "seconds_per_frame": q[qn]["seconds_per_frame"]},
                    "bench": bm, "psnr_difference": bm["psnr"] - q[qn]["psnr"],
                    "ssim_difference": bm["ssim"] - q[qn]["ssim"],
                    "bench_frames": [f["frame"] for f in b[bn]["clips"][args.sequence]["frames"]]}
        print(f"{bn}: quality.py {q[qn]['psnr']:.4f} / {q[qn]['ssim']:.4f}, bench "
              f"{bm['psnr']:.4f} / {bm['ssim']:.4f} (difference "
              f"{rows[bn]['psnr_difference']:+.2e} dB)")
    write_json(args.out, run_record(__file__, args, rows, t0, frames=frames))
    print(f"wrote {args.out}")
    worst = max(abs(r["psnr_difference"]) for r in rows.values())
    return 0 if worst < 0.01 else 1


if __name__ == "__main__":
    sys.exit(main())

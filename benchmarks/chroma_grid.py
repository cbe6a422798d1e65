"""Chroma fused on the luma's HR grid or on a coarser one: chroma PSNR, Y-PSNR and time.

Runs the default ``mfsr.reconstruct`` on bigbuckbunny windows (BD) with
``mfsr.pipeline.api.CHROMA_COARSENING`` set to each value given, in one process:

    python benchmarks/chroma_grid.py --sets BDx4 BDx4_noise5 --coarsening 1 2 \\
        --out benchmarks/results/chroma_grid.json
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
from compressed import chroma_psnr
from quality import load_sequence
from results_io import run_record, write_json

import mfsr
import mfsr.pipeline
from mfsr.metrics import y_psnr_ssim

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data"))
    p.add_argument("--sequence", default="bigbuckbunny")
    p.add_argument("--sets", nargs="+", default=["BDx4", "BDx4_noise5"])
    p.add_argument("--coarsening", nargs="+", type=int, default=[1, 2])
    p.add_argument("--centres", nargs="+", type=int, default=[5, 15, 25])
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--out")
    args = p.parse_args(argv)
    started = time.time()
    seq = os.path.join(args.data, args.sequence)
    gt = load_sequence(os.path.join(seq, "GT"))[1]
    rows = []
    for name in args.sets:
        lr = load_sequence(os.path.join(seq, name))[1]
        for c in args.coarsening:
            mfsr.pipeline.api.CHROMA_COARSENING = c
            stats = []
            for centre in args.centres:
                lo = centre - args.window // 2
                window = lr[lo:lo + args.window]
                t = time.perf_counter()
                hr = mfsr.reconstruct(window, 4, degradation="BD")
                seconds = time.perf_counter() - t
                y = y_psnr_ssim(gt[centre], hr, 4)[0]
                stats.append((chroma_psnr(hr, gt[centre], 4), y, seconds))
            cpsnr, ypsnr, secs = (float(np.mean(v)) for v in zip(*stats))
            rows.append({"set": name, "coarsening": c, "chroma_psnr": round(cpsnr, 3),
                         "y_psnr": round(ypsnr, 4), "seconds": round(secs, 3)})
            print(rows[-1], flush=True)
    if args.out:
        write_json(args.out, run_record("benchmarks/chroma_grid.py", args, rows, started))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

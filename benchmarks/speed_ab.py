"""A/B speed run: the default ``mfsr.reconstruct`` of this checkout against another revision.

Each side runs in its own fresh process with ``PYTHONPATH`` at its checkout, the sides
taking turns (``--repeats`` times each), so that both see the same machine load; a
process reconstructs a 32x32 crop first (Numba compile or cache load), then times one
whole ``reconstruct`` call (registration, weights, solve and chroma included) on a
window of real frames (``benchmarks/speed.py``'s inputs: bigbuckbunny ``BDx4`` for 720p,
its GT resized and BD-degraded for 4K). Reported per size and side: the fastest and the
median call, peak resident memory, Y-PSNR of the output against the (resized) GT of the
window's centre frame, and between the sides the speed ratio and the largest output
difference.

    git worktree add /tmp/mfsr-base <revision>
    python benchmarks/speed_ab.py --baseline /tmp/mfsr-base --sizes 720p 4k \\
        --out benchmarks/results/speed_ab.json
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def worker(root, size, window, out):
    """One timed call in this process (``root``'s mfsr); prints a JSON line."""
    import cv2

    import mfsr
    from mfsr.metrics import y_psnr_ssim
    from speed import DEFAULT_DATA, SCALE, SIZES, load_inputs
    frames = load_inputs(DEFAULT_DATA, "bigbuckbunny", size, window)
    mfsr.reconstruct(frames[:, :32, :32], SCALE, degradation="BD")
    t = time.perf_counter()
    hr = mfsr.reconstruct(frames, SCALE, degradation="BD")
    seconds = time.perf_counter() - t
    np.save(out, hr)
    centre = sorted(os.listdir(os.path.join(DEFAULT_DATA, "bigbuckbunny", "GT")))[window // 2]
    gt = cv2.imread(os.path.join(DEFAULT_DATA, "bigbuckbunny", "GT", centre))[..., ::-1]
    h, w = SIZES[size]
    if gt.shape[:2] != (SCALE * h, SCALE * w):
        gt = cv2.resize(gt, (SCALE * w, SCALE * h), interpolation=cv2.INTER_CUBIC)
    print(json.dumps({"seconds": seconds, "y_psnr": float(y_psnr_ssim(gt, hr, SCALE)[0]),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "mfsr": os.path.dirname(mfsr.__file__), "load": os.getloadavg()[0]}))


def run_side(root, size, window, out):
    env = {**os.environ, "PYTHONPATH": root}
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", root, size, str(window), out]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=HERE)
    if done.returncode:
        raise RuntimeError(f"{root} {size} failed:\n{done.stderr[-3000:]}")
    record = json.loads(done.stdout.strip().splitlines()[-1])
    if os.path.realpath(record["mfsr"]) != os.path.realpath(os.path.join(root, "mfsr")):
        raise RuntimeError(f"the worker imported {record['mfsr']}, not {root}'s mfsr")
    return record


def main(argv=None):
    from results_io import command_line, write_json
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline", required=True, help="checkout root of the other revision")
    p.add_argument("--sizes", nargs="+", default=["720p", "4k"])
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out")
    args = p.parse_args(argv)
    sides = {"baseline": os.path.abspath(args.baseline), "current": ROOT}
    revisions = {name: subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                                      capture_output=True, text=True).stdout.strip()
                 for name, root in sides.items()}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            runs = {name: [] for name in sides}
            for _ in range(args.repeats):
                for name, root in sides.items():
                    runs[name].append(run_side(root, size, args.window,
                                               os.path.join(tmp, f"{name}.npy")))
            a, b = (np.load(os.path.join(tmp, f"{n}.npy")) for n in sides)
            row = {"size": size, "window": args.window,
                   "max_abs_difference": float(np.max(np.abs(a.astype(np.float64) - b))),
                   "bitwise_equal": bool(np.array_equal(a, b))}
            for name, rs in runs.items():
                secs = sorted(r["seconds"] for r in rs)
                row[name] = {"revision": revisions[name], "min_s": round(secs[0], 3),
                             "median_s": round(float(np.median(secs)), 3),
                             "y_psnr": round(rs[-1]["y_psnr"], 4),
                             "peak_rss_mb": round(max(r["peak_rss_mb"] for r in rs)),
                             "loads": [round(r["load"], 2) for r in rs]}
            row["speedup_min"] = round(row["baseline"]["min_s"] / row["current"]["min_s"], 3)
            results.append(row)
            print(json.dumps(row), flush=True)
            if args.out:
                write_json(args.out, {"command": command_line(__file__), "results": results,
                                      "cpu_count": os.cpu_count()})
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        sys.path.insert(0, HERE)
        worker(*sys.argv[2:4], int(sys.argv[4]), sys.argv[5])
    else:
        raise SystemExit(main())

"""Where the time of one reconstruction goes: cProfile of one ``mfsr.reconstruct`` call.

Inputs as in ``benchmarks/speed.py`` (real bigbuckbunny frames, resized and BD-degraded
for sizes above 720p). One warm-up call on a small crop first, so that Numba's compile or
cache load is not in the profile.

    python benchmarks/profile_frame.py --size 4k --window 5 --method map --iterations 20 \
        --out benchmarks/results/profile_4k_map.txt
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import mfsr  # noqa: E402
from speed import DEFAULT_DATA, SCALE, SIZES, load_inputs  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--sequence", default="bigbuckbunny")
    p.add_argument("--size", default="4k", choices=list(SIZES))
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--method", default="map")
    p.add_argument("--iterations", type=int, default=None)
    p.add_argument("--backend", default="auto")
    p.add_argument("--lines", type=int, default=30, help="rows of the profile to print")
    p.add_argument("--out", help="also write the report to this file")
    args = p.parse_args(argv)

    frames = load_inputs(args.data, args.sequence, args.size, args.window)
    kwargs = {"method": args.method, "degradation": "BD", "iterations": args.iterations,
              "backend": args.backend}
    mfsr.reconstruct(frames[:, :32, :32], SCALE, **kwargs)
    profile = cProfile.Profile()
    t = time.perf_counter()
    profile.enable()
    mfsr.reconstruct(frames, SCALE, **kwargs)
    profile.disable()
    total = time.perf_counter() - t
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(args.lines)
    report = (f"command: python benchmarks/profile_frame.py {' '.join(argv or sys.argv[1:])}\n"
              f"{args.size} x{SCALE}, window {args.window}, method {args.method}, "
              f"backend {args.backend}: {total:.2f} s (under the profiler), "
              f"load average {os.getloadavg()[0]:.1f}\n{text.getvalue()}")
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

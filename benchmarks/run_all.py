"""Regenerate the benchmark results and figures of ``docs/results.md`` with one command.

    python benchmarks/run_all.py                  # everything: hours on 2 CPU cores
    python benchmarks/run_all.py --quick          # every step on a tiny sequence: a minute or two
    python benchmarks/run_all.py --steps curve_frames plots   # a subset
    python benchmarks/run_all.py --list           # the steps and their commands, run nothing

Each step is one of the benchmark scripts called with the arguments documented beside its
results (``docs/results.md``, ``docs/btvl1.md``), in a subprocess; the script prints how
long each step took and the total, and writes the timings to ``run_all.json`` in the
results folder. A failing step is reported and the others still run (exit status 1).

The full run writes into ``benchmarks/results/`` and ``docs/images/`` (the committed
results). ``--quick`` runs every step on ``carphone_pristine`` (144 x 176 ground truth,
x4 from 36 x 44) with one target frame and writes into a temporary folder, so that it
never overwrites committed results: a check that the whole chain runs, not a measurement.
Steps whose tools are missing are skipped with the reason: ``btvl1`` needs the C++
harness (``sh benchmarks/baselines/build_btvl1.sh``, Debian's ``libopencv-superres-dev``),
``speed`` needs ``benchmarks/speed.py``, ``plots`` needs matplotlib.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from quality import DEFAULT_DATA

QUICK_SEQUENCE = "carphone_pristine"
QUICK_FRAMES = [10]
SUBSET_FRAMES = [5, 10, 15, 20, 25]


def steps(out, images, docs, quick, data, sequence):
    """``name -> (argv, skip reason or None)`` in running order."""
    py = [sys.executable]
    seq = ["--data", data, "--sequence", sequence]
    sub = [str(f) for f in (QUICK_FRAMES if quick else SUBSET_FRAMES)]
    curve_frames = [str(f) for f in (QUICK_FRAMES if quick else [10, 20])]
    btvl1_binary = os.path.join(HERE, "baselines", "build", "btvl1")
    s = {
        # the README / results headline: every frame with a full 7-frame window
        "quality": py + ["benchmarks/quality.py", *seq, "--methods", "default", "map",
                         "--out", f"{out}/quality_{sequence}.json"]
                   + (["--frames", *sub] if quick else []),
        "quality_subset": py + ["benchmarks/quality.py", *seq, "--degradations", "BDx4",
                                "BDx4_noise5", "BIx4", "--frames", *sub, "--methods",
                                "default", "map", "map_single",
                                "--out", f"{out}/quality_{sequence}_subset.json"],
        "quality_methods": py + ["benchmarks/quality.py", *seq, "--frames", *sub, "--methods",
                                 "map", "map_btv", "cg", "ibp", "saa", "saa_median",
                                 "map_single", "--out", f"{out}/quality_{sequence}_methods.json"],
        "curve_frames": py + ["benchmarks/curves.py", "frames", *seq, "--frames", *curve_frames,
                              "--out", f"{out}/curve_frames.json"],
        "curve_noise": py + ["benchmarks/curves.py", "noise", *seq, "--frames", *curve_frames,
                             "--out", f"{out}/curve_noise.json"],
        "curve_iterations": py + ["benchmarks/curves.py", "iterations", *seq, "--frames",
                                  *curve_frames, "--out", f"{out}/curve_iterations.json"],
        "plots": py + ["benchmarks/plot_curves.py", "--results", out, "--images", images],
        "crops": py + ["benchmarks/crops.py", *seq, "--degradation", "BDx4_noise5",
                       "--frame", "10" if quick else "15",
                       "--out", f"{images}/crop_{sequence}.png"]
                 + (["--box", "40", "40", "96", "96"] if quick else []),
        "btvl1": py + ["benchmarks/compare_btvl1.py", *seq, "--frames", "1" if quick else "3",
                       "--out", f"{out}/btvl1_compare.json", "--md", f"{docs}/btvl1.md"],
        "speed": py + ["benchmarks/speed.py", "--data", data, "--out", f"{out}/speed_cpu.json"]
                 + (["--sizes", "720p", "--windows", "5", "--backends", "numba", "--no-compile"]
                    if quick else []),
    }
    skip = {name: None for name in s}
    if importlib.util.find_spec("matplotlib") is None:
        skip["plots"] = 'matplotlib not installed (pip install -e ".[bench]")'
    if not os.path.exists(btvl1_binary):
        skip["btvl1"] = ("C++ harness not built (sh benchmarks/baselines/build_btvl1.sh; "
                         "needs Debian's libopencv-superres-dev)")
    if not os.path.exists(os.path.join(HERE, "speed.py")):
        skip["speed"] = "benchmarks/speed.py not found"
    return {name: (argv, skip[name]) for name, argv in s.items()}


def _short(path):
    """A path relative to the repository when it lies inside it or beside it."""
    if not os.path.isabs(path):
        return path
    rel = os.path.relpath(path, ROOT)
    return path if rel.startswith(os.path.join(os.pardir, os.pardir)) else rel


def _show(argv):
    return " ".join(["python"] + [_short(a) for a in argv[1:]])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true",
                   help=f"every step on {QUICK_SEQUENCE}, frame {QUICK_FRAMES[0]}, into a "
                        "temporary folder")
    p.add_argument("--steps", nargs="+", help="run only these steps (default: all)")
    p.add_argument("--skip", nargs="+", default=[], help="leave these steps out")
    p.add_argument("--data", default=DEFAULT_DATA, help="folder holding the sequences")
    p.add_argument("--sequence", help=f"default: bigbuckbunny ({QUICK_SEQUENCE} with --quick)")
    p.add_argument("--out-dir", help="results folder (default: benchmarks/results, or a "
                                     "temporary folder with --quick)")
    p.add_argument("--images", help="figures folder (default: docs/images, or --out-dir "
                                    "with --quick)")
    p.add_argument("--list", action="store_true", help="print the steps and commands only")
    args = p.parse_args(argv)

    sequence = args.sequence or (QUICK_SEQUENCE if args.quick else "bigbuckbunny")
    out = args.out_dir or (os.path.join(tempfile.gettempdir(), "mfsr_run_all_quick")
                           if args.quick else os.path.join(HERE, "results"))
    images = args.images or (out if args.quick else os.path.join(ROOT, "docs", "images"))
    docs = out if args.quick else os.path.join(ROOT, "docs")
    out, images = os.path.abspath(out), os.path.abspath(images)
    plan = steps(out, images, docs, args.quick, os.path.abspath(args.data), sequence)
    names = args.steps or list(plan)
    unknown = [n for n in names + args.skip if n not in plan]
    if unknown:
        p.error(f"unknown step(s) {', '.join(unknown)}; valid: {', '.join(plan)}")
    names = [n for n in plan if n in names and n not in args.skip]

    if args.list:
        for name in names:
            argv_, reason = plan[name]
            print(f"{name:17s} {_show(argv_)}" + (f"   [skipped: {reason}]" if reason else ""))
        return 0
    if not os.path.isdir(os.path.join(args.data, sequence)):
        p.error(f"sequence folder {os.path.join(args.data, sequence)} not found")
    os.makedirs(out, exist_ok=True)
    os.makedirs(images, exist_ok=True)

    timings, failed = {}, []
    t_all = time.perf_counter()
    for name in names:
        argv_, reason = plan[name]
        if reason:
            print(f"=== {name}: skipped ({reason})", flush=True)
            timings[name] = {"skipped": reason}
            continue
        print(f"=== {name}: {_show(argv_)}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run(argv_, cwd=ROOT, check=False).returncode
        dt = time.perf_counter() - t0
        timings[name] = {"seconds": round(dt, 1), "returncode": rc, "command": _show(argv_)}
        print(f"=== {name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} in {dt:.0f} s",
              flush=True)
        if rc:
            failed.append(name)
    total = time.perf_counter() - t_all

    print("\nstep               seconds")
    for name, t in timings.items():
        print(f"{name:17s} " + (f"{t['seconds']:8.0f}" + ("  FAILED" if t["returncode"] else "")
                                if "seconds" in t else "  skipped"))
    print(f"{'total':17s} {total:8.0f}   ({total / 60:.1f} min; results in {out})")
    with open(os.path.join(out, "run_all.json"), "w") as f:
        json.dump({"command": _show([sys.executable, os.path.relpath(__file__, ROOT)]
                                    + (argv if argv is not None else sys.argv[1:])),
                   "quick": args.quick, "sequence": sequence, "steps": timings,
                   "total_seconds": round(total, 1),
                   "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                               "loadavg_end": os.getloadavg()}}, f, indent=1)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

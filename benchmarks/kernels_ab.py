"""The fused Numba operator ``A`` and its adjoint against another revision's, interleaved.

This machine's speed drifts over the day, so two versions of a kernel are only compared
within one process, called alternately on the same data: the Numba kernels of the working
tree and those of ``--against`` (a git revision, read with ``git show``), on a synthetic
smooth flow field (every frame but the first moving by up to a few LR pixels), a Gaussian
PSF of sigma 1.6 HR pixels and x4. Reports the median time of each and the median of the
per-round ratios, and checks that both give the same result to float rounding.

    python benchmarks/kernels_ab.py --against d1f1b35 --size 720p --frames 5 \
        --out benchmarks/results/kernels_ab_720p.json
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from results_io import command_line, write_json  # noqa: E402
from speed import machine_info  # noqa: E402

from mfsr.degradation.system import SystemOperator  # noqa: E402
from mfsr.kernels import numba_kernels  # noqa: E402
from mfsr.core.motion import Motion  # noqa: E402

LR_SIZES = {"720p": (180, 320), "1080p": (270, 480), "4k": (540, 960)}


def _git(*args):
    return subprocess.run(["git", "-C", ROOT, *args], check=True, capture_output=True,
                          text=True).stdout


def load_revision(revision):
    """The Numba kernel set of a git revision, imported under another name: the module
    ``mfsr/kernels/numba_kernels.py`` of revisions before the split of issue 23, the
    package ``mfsr/kernels/numba_kernels/`` after it."""
    folder = tempfile.mkdtemp()
    files = _git("ls-tree", "--name-only", f"{revision}:mfsr/kernels/").split()
    if "numba_kernels.py" in files:
        sources = {"numba_kernels_against.py": "mfsr/kernels/numba_kernels.py"}
        name, file, package = "numba_kernels_against", "numba_kernels_against.py", None
    else:
        inner = _git("ls-tree", "--name-only", f"{revision}:mfsr/kernels/numba_kernels/")
        sources = {f"numba_kernels_against/{n}": f"mfsr/kernels/numba_kernels/{n}"
                   for n in inner.split() if n.endswith(".py")}
        name, file = "numba_kernels_against", "numba_kernels_against/__init__.py"
        package = [os.path.join(folder, "numba_kernels_against")]
        os.makedirs(package[0])
    for target, path in sources.items():
        source = _git("show", f"{revision}:{path}")
        # its imports of the rest of mfsr point at the installed package; no on-disk
        # cache for the copy
        if package is None:
            for mod in ("reference", "geometry", "buffers", "common"):
                source = source.replace(f"from .{mod} import", f"from mfsr.kernels.{mod} import")
            source = source.replace("from . import common, reference",
                                    "from mfsr.kernels import common, reference")
            source = source.replace("from . import reference", "from mfsr.kernels import reference")
        else:
            source = source.replace("from ...", "from mfsr.")
            source = source.replace("from .. import ", "from mfsr.kernels import ")
            source = source.replace("from ..", "from mfsr.kernels.")
        source = source.replace('"cache": True', '"cache": False')
        with open(os.path.join(folder, target), "w") as f:
            f.write(source)
    spec = importlib.util.spec_from_file_location(name, os.path.join(folder, file),
                                                  submodule_search_locations=package)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # for the package's relative imports of its own modules
    spec.loader.exec_module(module)
    return module


def synthetic_operator(lr_shape, frames, scale=4, sigma=1.6):
    """An operator with smooth, non-uniform flows (frame 0 is the reference)."""
    h, w = lr_shape
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    flows = np.stack([np.stack([1.3 * k * np.sin(yy / 40) + 0.37 * k,
                                0.9 * k * np.cos(xx / 50) - 0.21 * k], axis=-1)
                      for k in range(frames)]).astype(np.float32)
    motion = Motion(flows, np.ones((frames, h, w), np.float32), reference=0)
    return SystemOperator(motion, scale, sigma)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--against", required=True, help="git revision to compare with")
    p.add_argument("--size", default="720p", choices=list(LR_SIZES))
    p.add_argument("--frames", type=int, default=5)
    p.add_argument("--rounds", type=int, default=40, help="alternating calls of each")
    p.add_argument("--out", help="also write the results to this JSON file")
    args = p.parse_args(argv)

    other = load_revision(args.against)
    op = synthetic_operator(LR_SIZES[args.size], args.frames)
    x = np.random.default_rng(0).random(op.hr_shape).astype(np.float32)
    state = numba_kernels.prepare_warps(op.flows, op.scale, op.phase)
    y = numba_kernels.warp_blur_decimate(x, state, *op._sampling)
    calls = {
        "A": lambda m: m.warp_blur_decimate(x, state, *op._sampling),
        "A^T": lambda m: m.warp_blur_decimate_adjoint(y, state, *op._sampling_t),
    }
    results = {}
    for name, call in calls.items():
        ours, theirs = call(numba_kernels), call(other)  # also compiles both
        times = {"against": [], "working_tree": []}
        for _ in range(args.rounds):
            for key, module in (("against", other), ("working_tree", numba_kernels)):
                t = time.perf_counter()
                call(module)
                times[key].append(time.perf_counter() - t)
        ratio = np.array(times["against"]) / np.array(times["working_tree"])
        results[name] = {
            "median_ms_against": 1e3 * float(np.median(times["against"])),
            "median_ms_working_tree": 1e3 * float(np.median(times["working_tree"])),
            "median_speedup": float(np.median(ratio)),
            "max_abs_difference": float(np.abs(ours - theirs).max()),
            "max_abs_value": float(np.abs(theirs).max()),
        }
        r = results[name]
        print(f"{name:4s} {args.against}: {r['median_ms_against']:.2f} ms, working tree: "
              f"{r['median_ms_working_tree']:.2f} ms, speed-up {r['median_speedup']:.2f}x, "
              f"max difference {r['max_abs_difference']:.1e} (values up to "
              f"{r['max_abs_value']:.2f})", flush=True)
    if args.out:
        tree = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                              check=False, capture_output=True, text=True).stdout.strip()
        write_json(args.out, {"machine": machine_info(), "command": command_line(__file__),
                              "against": args.against, "working_tree": tree,
                              "size": args.size,
                              "frames": args.frames, "rounds": args.rounds,
                              "load_average": os.getloadavg()[0], "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())

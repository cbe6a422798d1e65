"""The ``mfsr bench`` subcommand: its options and what it prints and writes."""
from __future__ import annotations

import json
import os
import sys

from .protocols import AVERAGING, SSIM_MODES, Protocol
from .registry import method_names
from .report import markdown
from .runner import run_bench

DEFAULT_METHODS = "bicubic,bicubic-grid,irls"


def add_parser(p, func):
    """Add the options of ``mfsr bench`` to the subparser ``p``."""
    p.add_argument("dataset", metavar="DATASET_DIR", help="the test set's folder")
    p.add_argument("--protocol", default="BD", choices=("BD", "BI"),
                   help="BD: DUF's Gaussian sigma 1.6 (13x13) then every s-th pixel from "
                        "0; BI: MATLAB imresize bicubic (default BD)")
    p.add_argument("--scale", type=int, default=4, help="upscaling factor (default 4)")
    p.add_argument("--methods", default=DEFAULT_METHODS,
                   help=f"comma-separated methods (default {DEFAULT_METHODS}); "
                        "'mfsr bench --list-methods x' lists them")
    p.add_argument("--list-methods", action="store_true", help="list the methods and exit")
    p.add_argument("--crop", type=int, default=0,
                   help="border cropped before scoring, pixels (default 0; DUF: 8)")
    p.add_argument("--skip-ends", type=int, default=0,
                   help="frames dropped at each end of every clip (default 0; DUF: 2)")
    p.add_argument("--channel", default="y", choices=("y", "rgb"),
                   help="score Y (MATLAB rgb2ycbcr) or RGB (default y)")
    p.add_argument("--ssim", default="wang", choices=SSIM_MODES,
                   help="wang: ssim_index.m, 11x11 Gaussian (default); skimage: 7x7 "
                        "uniform (the project's mfsr.metrics)")
    p.add_argument("--no-round", dest="round_output", action="store_false",
                   help="score outputs without rounding them to 8 bits")
    p.add_argument("--y-round", action="store_true",
                   help="round Y to integers (MATLAB rgb2ycbcr on uint8)")
    p.add_argument("--average", default="clip", choices=AVERAGING,
                   help="clip: mean per clip then of clips (default); frame: of all frames")
    p.add_argument("--frames", default="all",
                   help="scored frames: all, or every:K (default all)")
    p.add_argument("--clips", default=None,
                   help="comma-separated clips (default: all; REDS: REDS4), or 'all'")
    p.add_argument("--window", type=int, default=7,
                   help="frames per window of the mfsr methods (default 7)")
    p.add_argument("--lr", default="auto", choices=("auto", "generate"),
                   help="auto: use the set's LR frames of this protocol when present "
                        "(default); generate: always make them from HR")
    p.add_argument("--lr-folder", default=None,
                   help="name of the LR folder to use (e.g. input4), taken to be of "
                        "--protocol")
    p.add_argument("--weights", default=None, metavar="DIR",
                   help="folder of network weights (benchmarks/bench_weights.py)")
    p.add_argument("--btvl1", default=None, metavar="PATH",
                   help="OpenCV BTV-L1 harness (default benchmarks/baselines/build/btvl1)")
    p.add_argument("--cache", default=".mfsr-bench-cache",
                   help="folder of cached outputs (default .mfsr-bench-cache)")
    p.add_argument("--name", default=None, help="name of the set in the report (default: "
                                                "the folder's name)")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument("--markdown", default=None, help="write the table as Markdown here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=func)


def run(args):
    """Run ``mfsr bench`` with parsed ``args``; returns the exit status."""
    if args.list_methods:
        print("\n".join(method_names()))
        return 0
    protocol = Protocol(args.protocol, args.scale, args.channel, args.crop, args.skip_ends,
                        args.round_output, args.y_round, args.ssim, args.average)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    clips = None
    if args.clips:
        clips = "all" if args.clips == "all" else [c.strip() for c in args.clips.split(",")]
    result = run_bench(args.dataset, protocol, methods, frames=args.frames,
                       window=args.window, clips=clips, lr=args.lr,
                       lr_folder=args.lr_folder, cache=args.cache,
                       options={"weights": args.weights, "btvl1": args.btvl1},
                       progress=not args.quiet, dataset_name=args.name)
    result["command"] = "mfsr " + " ".join(sys.argv[1:])
    table = markdown(result)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0

"""The ``mfsr`` command."""
from __future__ import annotations

import argparse
import sys


def _demo(args):
    from .demo import run_demo
    run_demo(args.out)
    return 0


def build_parser():
    """Return the ``argparse`` parser of the ``mfsr`` command."""
    parser = argparse.ArgumentParser(prog="mfsr", description="Multi-frame super-resolution.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="simulate a moving LR stack, reconstruct it, compare",
                          description="Simulate 7 moving, blurred, noisy LR frames from an "
                                      "image shipped with scikit-image, reconstruct them and "
                                      "print Y-PSNR/SSIM against bicubic.")
    demo.add_argument("--out", default="mfsr-demo", help="output folder (default: mfsr-demo)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None):
    """Entry point of the ``mfsr`` command."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Before/after crop for the README and docs: bicubic on the BD grid | mfsr | ground truth.

    python benchmarks/crops.py --degradation BDx4_noise5 --frame 15 --out docs/images/crop_bigbuckbunny.png

The bicubic panel puts LR pixel i at HR 4i, as the BD data were made (cv2.resize would
put it at 4i + 1.5). ``--codec-none`` adds the white-noise model's result
(``codec="none"``) before the default's, for codec-degraded sets
(``benchmarks/make_compressed.py``).

Reconstructs one frame of a sequence with the default ``mfsr.reconstruct`` (7-frame window,
``degradation="BD"``), prints the Y-PSNR of the full frame for each panel, and writes a
PNG of the same crop of every panel, enlarged 2x with nearest neighbour so pixels stay
visible.
"""
from __future__ import annotations

import argparse
import os
import sys

import cv2
import numpy as np

import mfsr
from mfsr.metrics import y_psnr_ssim

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quality import DEFAULT_DATA, load_sequence, window_indices  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--sequence", default="bigbuckbunny")
    p.add_argument("--degradation", default="BDx4_noise5")
    p.add_argument("--frame", type=int, default=15)
    p.add_argument("--box", type=int, nargs=4, default=[190, 380, 200, 200],
                   metavar=("Y", "X", "H", "W"), help="crop in HR pixels")
    p.add_argument("--out", default="docs/images/crop_bigbuckbunny.png")
    p.add_argument("--codec-none", action="store_true",
                   help="also show reconstruct(..., codec='none')")
    args = p.parse_args(argv)
    seq = os.path.join(args.data, args.sequence)
    _, gt = load_sequence(os.path.join(seq, "GT"))
    _, lr = load_sequence(os.path.join(seq, args.degradation))
    t = args.frame
    idx = window_indices(t, len(lr), 7)
    panels = {"bicubic (BD grid)": mfsr.upsample(lr[t].astype(np.float32) / 255, 4, 0.0)}
    if args.codec_none:
        panels["mfsr codec='none'"] = mfsr.reconstruct(lr[idx], 4, reference=idx.index(t),
                                                       degradation="BD", codec="none")
    panels["mfsr default"] = mfsr.reconstruct(lr[idx], 4, reference=idx.index(t),
                                              degradation="BD")
    panels["ground truth"] = gt[t].astype(np.float32) / 255
    y, x, h, w = args.box
    tiles = []
    for name, img in panels.items():
        print(f"{name:22s} Y-PSNR {y_psnr_ssim(gt[t], img, 4)[0]:.2f} dB (full frame)")
        tile = (np.clip(img[y:y + h, x:x + w], 0, 1) * 255).round().astype(np.uint8)
        tiles.append(cv2.resize(tile, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST))
        tiles.append(np.full((2 * h, 6, 3), 255, np.uint8))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    cv2.imwrite(args.out, cv2.cvtColor(np.concatenate(tiles[:-1], axis=1), cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out} ({' | '.join(panels)})")


if __name__ == "__main__":
    main()

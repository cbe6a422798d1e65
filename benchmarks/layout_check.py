"""Fingerprints of mfsr's outputs, to show that a refactoring leaves them bitwise equal.

Runs the public API on benchmark frames (bigbuckbunny BDx4 from ``--data``, 64x64 LR
crops, and synthetic stacks from scikit-image's images): every ``reconstruct`` method,
RGB and luma colour, a raw burst, the windowed and the whole-clip video job, upsampling,
enhancement and SDR -> HDR. Writes one SHA-256 per output (of its float bytes) as JSON;
two runs, before and after a change, are compared with ``--compare``::

    python benchmarks/layout_check.py --out /tmp/before.json       # on the old revision
    python benchmarks/layout_check.py --out /tmp/after.json --compare /tmp/before.json
"""
from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import sys
import tempfile

import cv2
import numpy as np
import skimage.data

import mfsr


def _digest(a):
    a = np.ascontiguousarray(np.asarray(a))
    return f"{a.dtype}{list(a.shape)}:" + hashlib.sha256(a.tobytes()).hexdigest()[:24]


def _bbb(data, n=7, crop=64):
    folder = pathlib.Path(data) / "bigbuckbunny" / "BDx4"
    frames = [cv2.imread(str(p), cv2.IMREAD_COLOR)[..., ::-1] for p in sorted(folder.glob("*.png"))]
    return np.stack(frames)[:, 40:40 + crop, 60:60 + crop]


def _hdr_module():
    for name in ("mfsr.grading", "mfsr.hdr"):
        try:
            return __import__(name, fromlist=["sdr_to_hdr"])
        except ImportError:
            continue
    raise ImportError("no HDR module")


def _enhance_module():
    for name in ("mfsr.grading", "mfsr.enhance"):
        try:
            mod = __import__(name, fromlist=["enhance_frames"])
            if hasattr(mod, "enhance_frames"):
                return mod
        except ImportError:
            continue
    raise ImportError("no enhancement module")


def fingerprints(data):
    out = {}
    clip = _bbb(data, crop=64)
    window = clip[:7]
    for method in mfsr.METHODS:
        if method == "pnp":
            continue  # same path as irls plus the CNN; checked below at 2 iterations
        out[f"reconstruct/{method}"] = _digest(mfsr.reconstruct(window, 4, method=method,
                                                                degradation="BD"))
    out["reconstruct/pnp2"] = _digest(mfsr.reconstruct(window, 4, method="pnp", iterations=2,
                                                       degradation="BD"))
    out["reconstruct/rgb"] = _digest(mfsr.reconstruct(window, 4, color="rgb", degradation="BD"))
    out["reconstruct/grey-area"] = _digest(mfsr.reconstruct(window[..., 1], 2))
    out["reconstruct/refine1"] = _digest(mfsr.reconstruct(window, 4, degradation="BD", refine=1))

    camera = skimage.data.camera().astype(np.float32) / 255.0
    sim = mfsr.simulate(camera[128:320, 128:320], n_frames=5, scale=2, seed=3)
    out["simulate"] = _digest(sim.frames)
    out["reconstruct/known-motion"] = _digest(mfsr.reconstruct(sim.frames, 2, motion=sim.motion))
    out["upsample"] = _digest(mfsr.upsample(sim.frames[0], 2))

    burst = mfsr.simulate_burst(skimage.data.astronaut()[100:228, 100:228], n_frames=4, scale=2)
    out["raw/simulate"] = _digest(burst.frames)
    out["raw/reconstruct"] = _digest(mfsr.reconstruct(burst.frames, 2, cfa=burst.pattern))

    with tempfile.TemporaryDirectory() as folder:
        for i, frame in enumerate(clip[:12]):
            cv2.imwrite(f"{folder}/{i:04d}.png", frame[..., ::-1])
        out["video/whole-clip"] = _digest(np.stack(
            [f for f in mfsr.reconstruct_video(folder, 4, degradation="BD")]))
        out["video/window5"] = _digest(np.stack(
            [f for f in mfsr.reconstruct_video(folder, 4, window=5, end=6, degradation="BD")]))

    rgb = clip[:6].astype(np.float32) / 255.0
    out["enhance"] = _digest(_enhance_module().enhance_frames(rgb)[0])
    out["hdr/pq"] = _digest(_hdr_module().sdr_to_hdr(rgb[0]))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(pathlib.Path(__file__).resolve().parents[1].parent
                                              / "shared" / "data"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--compare", help="an earlier run's JSON to compare with")
    args = parser.parse_args(argv)
    prints = fingerprints(args.data)
    pathlib.Path(args.out).write_text(json.dumps(prints, indent=1) + "\n")
    if args.compare:
        before = json.loads(pathlib.Path(args.compare).read_text())
        differ = [k for k in sorted(set(before) | set(prints)) if before.get(k) != prints.get(k)]
        for k in differ:
            print(f"DIFFERS {k}: {before.get(k)} -> {prints.get(k)}")
        print(f"{len(prints) - len(differ)} of {len(prints)} outputs bitwise equal")
        return 1 if differ else 0
    print(f"{len(prints)} fingerprints written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

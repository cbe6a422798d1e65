"""Make codec-degraded versions of LR frame folders: x264 / x265 video and JPEG bursts.

For each sequence of ``--data`` (layout ``SEQ/GT``, ``SEQ/BDx4``, ...) the frames of the
``--source`` folder are encoded as one yuv420p stream (libx264 / libx265 through PyAV, fixed
thread counts, so the stream does not depend on the machine's core count) at each CRF, decoded back, and written
as PNGs with the same file names; JPEG bursts compress each frame alone. The encoded
``.mp4`` is kept beside its folder (``mfsr upscale`` reads it). ``SEQ/GT`` and the source
folder are linked into the output, so the output is a data folder the quality benchmarks
read as they are:

    python benchmarks/make_compressed.py --out /tmp/mfsr_compressed
    # -> /tmp/mfsr_compressed/bigbuckbunny/BDx4_x264_crf23/0000.png, ..._crf23.mp4, GT, ...

The picture types the decoder reports (I/P/B), the file sizes, each set's error (RMS of the
decoded BT.601 luma minus the source's, [0, 1] units, also per picture type), the flat-area
noise estimate and the codec detector's scores are written to ``types.json`` per sequence
(and all of them to ``--summary``).
"""
from __future__ import annotations

import argparse
import json
import os
import time

import cv2
import numpy as np

from results_io import run_record, write_json

from mfsr.core.color import rgb_to_ycbcr
from mfsr.degradation import estimate_noise
from mfsr.degradation.codec import chroma_block_score, jpeg_quality
from mfsr.degradation.compression import (PRESETS, VIDEO_CODECS, compress_jpeg,
                                          decode_video, encode_video)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "..", "shared", "data")


def read_folder(folder):
    names = sorted(f for f in os.listdir(folder) if f.lower().endswith(".png"))
    if not names:
        raise SystemExit(f"no PNG frames in {folder}")
    return names, np.stack([cv2.imread(os.path.join(folder, n))[..., ::-1] for n in names])


def write_folder(folder, names, frames):
    os.makedirs(folder, exist_ok=True)
    for name, image in zip(names, frames):
        cv2.imwrite(os.path.join(folder, name), np.ascontiguousarray(image[..., ::-1]))


def luma(frames):
    return rgb_to_ycbcr(frames.astype(np.float32) / 255)[..., 0]


def rms(a):
    return float(np.sqrt(np.mean(np.square(a, dtype=np.float64))))


def link(src, dst):
    if not os.path.lexists(dst):
        os.symlink(os.path.abspath(src), dst)


def describe(decoded, source_luma, picture_types=None):
    """What a decoded set is like: its luma error (RMS, also per picture type), the
    flat-area noise estimate the white-noise model would use, and the codec detector's
    scores on its first window of 7 frames."""
    error = luma(decoded) - source_luma
    window = decoded[:7]
    ghost, quality = jpeg_quality(window)
    out = {"luma_error_rms": rms(error),
           "noise_estimate": estimate_noise(luma(decoded)),
           "chroma_block_score": chroma_block_score(window),
           "jpeg_ghost": ghost, "jpeg_quality": quality}
    if picture_types:
        out["luma_error_rms_by_type"] = {
            t: rms(error[[i for i, u in enumerate(picture_types) if u == t]])
            for t in sorted(set(picture_types))}
    return out


def make_sequence(seq_dir, out_dir, args):
    names, frames = read_folder(os.path.join(seq_dir, args.source))
    os.makedirs(out_dir, exist_ok=True)
    for folder in ("GT", args.source):
        link(os.path.join(seq_dir, folder), os.path.join(out_dir, folder))
    types, sizes, sets = {}, {}, {}
    source_luma = luma(frames)
    for codec in args.codecs:
        for crf in args.crf:
            name = f"{args.source}_{codec}_crf{crf}"
            data = encode_video(frames, codec, crf, args.preset, args.gop)
            with open(os.path.join(out_dir, name + ".mp4"), "wb") as f:
                f.write(data)
            decoded, types[name] = decode_video(data)
            decoded = decoded[:, :frames.shape[1], :frames.shape[2]]  # x265's padding
            write_folder(os.path.join(out_dir, name), names, decoded)
            sizes[name] = len(data)
            sets[name] = describe(decoded, source_luma, types[name])
            print(f"{out_dir}/{name}: {len(data) / 1024:.1f} KiB, luma error "
                  f"{sets[name]['luma_error_rms']:.4f}, "
                  f"types {''.join(t[0] for t in types[name])}", flush=True)
    for quality in args.jpeg:
        name = f"{args.source}_jpeg_q{quality}"
        decoded = compress_jpeg(frames, quality)
        write_folder(os.path.join(out_dir, name), names, decoded)
        sets[name] = describe(decoded, source_luma)
        print(f"{out_dir}/{name}: luma error {sets[name]['luma_error_rms']:.4f}", flush=True)
    sets[args.source] = describe(frames, source_luma)  # the uncompressed source itself
    summary = {"picture_types": types, "bytes": sizes, "sets": sets, "preset": args.preset,
               "gop": args.gop}
    with open(os.path.join(out_dir, "types.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="folder holding the sequences")
    p.add_argument("--sequences", nargs="+", default=["bigbuckbunny", "carphone_pristine"])
    p.add_argument("--source", default="BDx4", help="LR folder of each sequence to compress")
    p.add_argument("--out", required=True, help="output data folder")
    p.add_argument("--codecs", nargs="*", default=["x264", "x265"], choices=list(VIDEO_CODECS))
    p.add_argument("--crf", type=int, nargs="*", default=[18, 23, 28, 33])
    p.add_argument("--jpeg", type=int, nargs="*", default=[50, 75, 90],
                   help="JPEG qualities of the burst versions")
    p.add_argument("--preset", default="medium", choices=PRESETS)
    p.add_argument("--gop", type=int, help="keyframe interval (default: the encoder's)")
    p.add_argument("--summary", help="also write every sequence's types.json into this JSON")
    args = p.parse_args(argv)
    t0 = time.time()
    summaries = {}
    for seq in args.sequences:
        seq_dir = os.path.join(args.data, seq)
        if not os.path.isdir(seq_dir):
            p.error(f"sequence folder {seq_dir} not found")
        summaries[seq] = make_sequence(seq_dir, os.path.join(args.out, seq), args)
    if args.summary:
        write_json(args.summary, run_record(__file__, args, summaries, t0))
    print(f"done in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()

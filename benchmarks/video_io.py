"""What a video file in and out costs: `mfsr upscale` from an H.264 file to a video file.

Runs ``mfsr.upscale_video`` on an H.264 input (default: bigbuckbunny's BDx4 frames encoded
by ``benchmarks/make_compressed.py`` with x264 CRF 23) to an ``.mp4`` with
``keep_frames=True``, then measures:

- Y-PSNR/SSIM against the ground truth of the lossless frame folder and of the file
  (what the final H.264 CRF 18 encode costs);
- the time of the reconstruction and, apart, of encoding the frames again as H.264 8-bit
  and H.265 10-bit (both CRF default, preset medium), with file sizes;
- frame count, frame rate, duration and colour tags of input and output.

    python benchmarks/video_io.py --input /tmp/mfsr_compressed/bigbuckbunny/BDx4_x264_crf23.mp4 \\
        --gt ../shared/data/bigbuckbunny/GT --out benchmarks/results/video_io.json
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np

import mfsr
from mfsr.io import FrameSource, VideoReader
from mfsr.metrics import y_psnr_ssim
from mfsr.video import VideoEncoding, encode_frames
from results_io import run_record, write_json


def _describe(path):
    with VideoReader(path) as r:
        i = r.info
        return {"size": [i.width, i.height], "frames": i.frames, "fps": str(i.fps),
                "duration_s": float(i.duration), "pix_fmt": i.pix_fmt, "codec": i.codec,
                "matrix": i.matrix, "matrix_tagged": i.matrix_tagged,
                "primaries": i.primaries, "transfer": i.transfer,
                "bytes": os.path.getsize(path)}


def _quality(gt_dir, sr, scale):
    with FrameSource(gt_dir) as gt, FrameSource(sr) as out:
        scores = [y_psnr_ssim(gt.read(k), out.read(k), scale) for k in range(len(out))]
    return {"psnr": float(np.mean([s[0] for s in scores])),
            "ssim": float(np.mean([s[1] for s in scores])), "frames": len(scores)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True, help="H.264/H.265 LR video file")
    ap.add_argument("--gt", required=True, help="ground-truth frame folder")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--window", type=int, default=7)
    ap.add_argument("--out", default="benchmarks/results/video_io.json")
    args = ap.parse_args()
    started = time.time()
    work = tempfile.mkdtemp(prefix="mfsr_video_io_")
    try:
        output = os.path.join(work, "x4.mp4")
        t = time.perf_counter()
        mfsr.upscale_video(args.input, output, args.scale, args.window, degradation="BD",
                           keep_frames=True)
        total = time.perf_counter() - t
        folder = output + ".frames"
        paths = sorted(os.path.join(folder, n) for n in os.listdir(folder))
        results = {"input": _describe(args.input), "output": _describe(output),
                   "job_seconds": total, "seconds_per_frame": total / len(paths),
                   "quality_frame_folder": _quality(args.gt, folder, args.scale),
                   "quality_file": _quality(args.gt, output, args.scale), "encode": {}}
        with FrameSource(args.input) as src:
            for enc in (VideoEncoding(codec="h264"), VideoEncoding(codec="h265", bits=10)):
                again = os.path.join(work, f"again_{enc.codec}.mp4")
                t = time.perf_counter()
                encode_frames(paths, again, src, list(range(len(paths))), enc)
                dt = time.perf_counter() - t
                results["encode"][f"{enc.codec}_{enc.bits}bit"] = {
                    "seconds": dt, "ms_per_frame": 1000 * dt / len(paths),
                    "bytes": os.path.getsize(again),
                    "quality": _quality(args.gt, again, args.scale)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    q, f = results["quality_frame_folder"], results["quality_file"]
    print(f"{results['output']['frames']} frames {results['input']['size']} -> "
          f"{results['output']['size']}, {results['seconds_per_frame']:.2f} s/frame (job)")
    print(f"Y-PSNR/SSIM: frame folder {q['psnr']:.2f} / {q['ssim']:.4f}, "
          f"file (H.264 CRF 18) {f['psnr']:.2f} / {f['ssim']:.4f}")
    for name, e in results["encode"].items():
        print(f"encode {name}: {e['ms_per_frame']:.0f} ms/frame, {e['bytes']} bytes, "
              f"Y-PSNR {e['quality']['psnr']:.2f}")
    write_json(args.out, run_record(__file__, args, results, started))


if __name__ == "__main__":
    main()

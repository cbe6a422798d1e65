"""Task 3 end to end: LR SDR frames -> x4 SR -> HDR10 file, and the file seen on an SDR screen.

Runs ``mfsr.upscale_video(..., hdr="pq")`` (what ``mfsr upscale --hdr pq`` runs) on a few
bigbuckbunny BDx4 frames to a 10-bit H.265 file, decodes the file, measures its light
(MaxCLL / MaxFALL, share of pixels above HDR reference white) and tone-maps it back to
BT.709 SDR with :func:`mfsr.grading.tone_map_to_sdr`, compared with the SDR SR of the same
frames (Y-PSNR between them: what the HDR mapping, 10-bit PQ HEVC and the way back lose).
Writes a figure: SDR SR | HDR file tone-mapped back to SDR | the file's luminance in
cd/m2 (false colour, log scale).

    python benchmarks/hdr_preview.py --data ../shared/data --out benchmarks/results/hdr_preview.json \\
        --figure docs/images/hdr_preview.png
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np

import mfsr
from mfsr import grading
from mfsr.io import FrameSource, VideoReader
from mfsr.metrics import psnr
from results_io import run_record, write_json

BT2020_Y = np.array([0.2627, 0.6780, 0.0593])


def _figure(path, sdr, back, nits, box):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    y0, y1, x0, x1 = box
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.9), constrained_layout=True)
    axes[0].imshow(sdr[y0:y1, x0:x1])
    axes[0].set_title("SDR SR (BT.709)")
    axes[1].imshow(back[y0:y1, x0:x1])
    axes[1].set_title("HDR10 file, tone-mapped back to SDR")
    lum = nits[y0:y1, x0:x1] @ BT2020_Y
    im = axes[2].imshow(np.maximum(lum, 0.1), cmap="inferno", norm=LogNorm(0.5, 1000))
    axes[2].set_title("HDR10 file: luminance (cd/m2)")
    fig.colorbar(im, ax=axes[2], shrink=0.9)
    for ax in axes:
        ax.set_axis_off()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=90)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                   "shared", "data"))
    ap.add_argument("--sequence", default="bigbuckbunny")
    ap.add_argument("--frames", type=int, nargs=2, default=(12, 15),
                    help="output frames start end (default 12 15)")
    ap.add_argument("--peak", type=float, default=1000.0)
    ap.add_argument("--box", type=int, nargs=4, default=(0, 720, 0, 1280),
                    help="figure crop: y0 y1 x0 x1 (HR pixels)")
    ap.add_argument("--out", default="benchmarks/results/hdr_preview.json")
    ap.add_argument("--figure", default="docs/images/hdr_preview.png")
    args = ap.parse_args()
    started = time.time()
    lr = os.path.join(args.data, args.sequence, "BDx4")
    start, end = args.frames
    work = tempfile.mkdtemp(prefix="mfsr_hdr_")
    try:
        sdr_dir, hdr_file = os.path.join(work, "sdr"), os.path.join(work, "hdr.mp4")
        common = dict(start=start, end=end, degradation="BD")
        mfsr.upscale_video(lr, sdr_dir, 4, 5, **common)
        t = time.perf_counter()
        res = mfsr.upscale_video(lr, hdr_file, 4, 5, hdr="pq", peak=args.peak, **common)
        seconds = time.perf_counter() - t
        with VideoReader(hdr_file) as video, FrameSource(sdr_dir) as sdr_frames:
            info = video.info
            rows = []
            for k in range(len(video)):
                signal = video.read(k) / 65535.0
                nits = grading.decode(signal, "pq")
                back = grading.tone_map_to_sdr(signal, "pq", peak=args.peak)
                sdr = sdr_frames.read(k) / 255.0
                lum = nits @ BT2020_Y
                rows.append({"frame": start + k,
                             "y_psnr_sdr_vs_back_db": psnr(sdr, back, 4, luma=True),
                             "above_203_share": float(np.mean(lum > 203)),
                             "max_luminance": float(lum.max()),
                             "mean_luminance": float(lum.mean())})
        _figure(args.figure, sdr, back, nits, args.box)
        results = {"file": {"pix_fmt": info.pix_fmt, "codec": info.codec,
                            "matrix": info.matrix, "primaries": info.primaries,
                            "transfer": info.transfer, "frames": info.frames,
                            "size": [info.width, info.height]},
                   "max_cll": res["max_cll"], "max_fall": res["max_fall"],
                   "hdr_job_seconds": seconds, "frames": rows}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{info.frames} frames {info.width}x{info.height} {info.codec} {info.pix_fmt}, "
          f"matrix {info.matrix}, primaries {info.primaries}, transfer {info.transfer}; "
          f"MaxCLL {res['max_cll']:.0f}, MaxFALL {res['max_fall']:.0f} cd/m2")
    for r in rows:
        print(f"frame {r['frame']}: SDR SR vs HDR file tone-mapped back "
              f"{r['y_psnr_sdr_vs_back_db']:.2f} dB (Y), {100 * r['above_203_share']:.1f} % "
              f"of pixels above 203 cd/m2, max {r['max_luminance']:.0f}, "
              f"mean {r['mean_luminance']:.1f} cd/m2")
    write_json(args.out, run_record(__file__, args, results, started))


if __name__ == "__main__":
    main()

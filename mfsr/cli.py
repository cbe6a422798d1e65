"""The ``mfsr`` command: ``upscale``, ``simulate``, ``eval`` and ``demo``."""
from __future__ import annotations

import argparse
import os
import sys

from .bench.cli import add_parser as add_bench
from .bench.cli import run as run_bench
from .degradation import DEGRADATIONS, simulate_sequence
from .degradation.codec import CODECS, VIDEO_ALIASES
from .demo import run_demo
from .io import CODECS as OUT_CODECS
from .io import (IMAGE_EXTENSIONS, OUTPUT_CONTAINERS, PRESETS, FrameSource, VideoWriter,
                 is_video_path, write_image)
from .io.video_file import CODEC_ALIASES
from .metrics import psnr, ssim
from .pipeline import COLOR_MODES, METHODS
from .registration import REGISTRATION_METHODS
from .video import (ENHANCE_MODES, HDR_TRANSFERS, VideoEncoding, distributed, output_path,
                    upscale_video)

EXAMPLES = {
    "upscale": "example:\n  mfsr upscale lr_frames/ hr_frames/ --scale 4 --degradation BD\n"
               "  mfsr upscale clip.mp4 clip_x2.mp4 --scale 2 --window 7\n"
               "  mfsr upscale clip.mp4 clip_4k.mp4 --codec h265 --bits 10 --crf 18\n"
               "  mfsr upscale clip.mp4 clip_hdr.mp4 --hdr pq --peak 1000 --enhance auto",
    "simulate": "example:\n  mfsr simulate gt_frames/ lr_frames/ --scale 4 --preset BD "
                "--noise 0.0196",
    "eval": "example:\n  mfsr eval gt_frames/ hr_frames/ --crop 4",
    "bench": "example:\n  mfsr bench Vid4/ --protocol BD --methods bicubic,bicubic-grid,irls "
             "--out vid4_bd.json\n"
             "  mfsr bench REDS/ --protocol BI --channel rgb --frames every:10\n"
             "  mfsr bench Vid4/ --protocol BI --methods bicubic,lapsrn,vdsr --weights "
             "~/mfsr-weights",
}


class CommandError(Exception):
    """An error reported as one line, without a traceback."""


def _parse_size(text):
    """``--max-memory``: bytes, with an optional K/M/G suffix (powers of 1024)."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().rstrip("b")
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 2G, 512M, 1000000)")


def _progress(quiet, desc):
    """A ``progress(index, written)`` callback drawing a tqdm bar on stderr."""
    state = {}

    def update(index, written):
        if index is None:
            if not quiet:
                from tqdm import tqdm
                state["bar"] = tqdm(total=written or None, desc=desc, unit="frame",
                                    file=sys.stderr, dynamic_ncols=True, smoothing=0.3)
            return
        bar = state.get("bar")
        if bar is not None and written:    # skipped frames are not in the total
            bar.update(1)

    def close():
        if state.get("bar") is not None:
            state["bar"].close()

    update.close = close
    return update


def _upscale(args):
    options = {}
    if args.iterations is not None:
        options["iterations"] = args.iterations
    if args.noise is not None:
        options["noise"] = args.noise
    as_video = is_video_path(args.output)
    bits = args.bits
    if as_video:
        if bits not in (None, 8, 10):
            raise CommandError(f"--bits {bits}: a video file is 8 or 10 bits")
        encoding = VideoEncoding(codec=args.codec,
                                 crf=args.crf, preset=args.preset, bits=bits or 8)
        bits = None
    else:
        if bits == 10:
            raise CommandError("--bits 10 is for video files; frame folders are 8 or 16 bits")
        for name in ("codec", "crf"):
            if getattr(args, name) is not None:
                raise CommandError(f"--{name} is for video output; OUTPUT is a folder")
        encoding = None
    client = None
    if args.cluster:
        client = distributed.connect(args.cluster)
        distributed.print_dashboard(client, args.quiet)
    progress = _progress(args.quiet, "upscale")
    try:
        result = upscale_video(args.input, args.output, args.scale, args.window,
                               start=args.start, end=args.end, bits=bits, fmt=args.format,
                               resume=args.resume, progress=progress,
                               max_memory=args.max_memory, registration=args.registration,
                               encoding=encoding, enhance=args.enhance, hdr=args.hdr,
                               peak=args.peak, keep_frames=args.keep_frames,
                               method=args.method, degradation=args.degradation,
                               backend=args.backend, color=args.color,
                               codec=args.input_codec, client=client, chunk=args.chunk,
                               **options)
    finally:
        progress.close()
        if client is not None:
            distributed.close(client)
    if not args.quiet:
        what = (f"encoded {result['encoded']} frames into {args.output}" if as_video else
                f"wrote {len(result['written'])} frames to {args.output}")
        if "max_cll" in result:
            what += f" (HDR10: MaxCLL {result['max_cll']:.0f}, MaxFALL {result['max_fall']:.0f} cd/m2)"
        print(what + (f", skipped {len(result['skipped'])} already there (--no-resume to "
                      f"redo)" if result["skipped"] else ""), file=sys.stderr)
    return 0


def _simulate(args):
    import numpy as np

    seed = args.seed
    as_video = is_video_path(args.output)
    writer = None
    progress = _progress(args.quiet, "simulate")
    with FrameSource(args.input) as src:
        bits = args.bits or (16 if src.dtype == np.uint16 and not as_video else 8)
        if not as_video:
            os.makedirs(args.output, exist_ok=True)
        progress(None, len(src))
        i = 0
        try:
            while True:
                frame = src.read(i)
                if frame is None:
                    break
                colour = frame.ndim == 3
                try:
                    sim = simulate_sequence(frame[None], args.scale, degradation=args.preset,
                                            noise=args.noise, channel_axis=-1 if colour else None,
                                            seed=[seed, i], bits=bits)
                except ValueError as exc:
                    raise ValueError(f"{src.name(i)}: {exc}") from exc
                lr = sim.frames[0]
                if as_video:
                    if writer is None:
                        # lossless luma (x264 CRF 0): simulated data carries no codec error
                        writer = VideoWriter(args.output, (lr.shape[1], lr.shape[0]),
                                             rate=src.fps, crf=0)
                    writer.write(lr)
                else:
                    write_image(output_path(args.output, src, i, args.format), lr, bits)
                progress(i, True)
                i += 1
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        finally:
            progress.close()
        if writer is not None:
            writer.close()
    if not args.quiet:
        print(f"wrote {i} LR frames ({args.preset}, x{args.scale}, noise sigma "
              f"{args.noise or 0:g}) to {args.output}", file=sys.stderr)
    return 0


def _eval(args):
    import numpy as np

    luma = not args.rgb
    with FrameSource(args.gt) as gt, FrameSource(args.sr) as sr:
        if gt.names is not None and sr.names is not None:
            sr_stems = {os.path.splitext(n)[0]: i for i, n in enumerate(sr.names)}
            pairs = [(i, sr_stems[os.path.splitext(n)[0]], os.path.splitext(n)[0])
                     for i, n in enumerate(gt.names) if os.path.splitext(n)[0] in sr_stems]
            if not pairs:
                raise CommandError(f"no frame of {args.sr} has the name of a frame of "
                                   f"{args.gt} (frames are paired by file name)")
        else:
            n = min(len(gt), len(sr)) if gt.length_known() and sr.length_known() else None
            pairs = []
            i = 0
            while n is None or i < n:
                if gt.read(i) is None or sr.read(i) is None:
                    break
                pairs.append((i, i, f"{i:04d}"))
                i += 1
        pairs = pairs[::args.every]
        if luma and (gt.shape[-1:] != (3,) or len(gt.shape) != 3):
            raise CommandError(f"{args.gt}: Y-PSNR needs RGB frames; use --rgb for grey ones")
        space = "all channels, peak 1" if args.rgb else \
            "Y of BT.601 (MATLAB rgb2ycbcr scaling, 16-235, peak 255)"
        print(f"PSNR / SSIM on {space}, {args.crop}-pixel border cropped, SSIM: scikit-image "
              f"7x7 uniform window; {len(pairs)} frames paired by "
              f"{'file name' if gt.names is not None and sr.names is not None else 'index'}")
        print(f"{'frame':>12s}  {'PSNR':>7s}  {'SSIM':>6s}")
        scores = []
        for gi, si, name in pairs:
            a, b = gt.read(gi), sr.read(si)
            if a.shape != b.shape:
                raise CommandError(f"frame {name}: ground truth is {a.shape[1]}x{a.shape[0]}, "
                                   f"result is {b.shape[1]}x{b.shape[0]}")
            p, s = psnr(a, b, args.crop, luma), ssim(a, b, args.crop, luma)
            scores.append((p, s))
            print(f"{name:>12s}  {p:7.2f}  {s:.4f}")
        mean = np.mean(scores, axis=0)
        print(f"{'mean':>12s}  {mean[0]:7.2f}  {mean[1]:.4f}")
    return 0


def _bench(args):
    return run_bench(args)


def _demo(args):
    run_demo(args.out)
    return 0


def _add(sub, name, help_, description):
    return sub.add_parser(name, help=help_, description=description,
                          epilog=EXAMPLES.get(name),
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser():
    """Return the ``argparse`` parser of the ``mfsr`` command.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(prog="mfsr", description="Multi-frame super-resolution: "
                                     "video and frame folders in, upscaled frames out.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = _add(sub, "upscale", "super-resolve a video or a folder of frames",
              "Super-resolve every frame of INPUT from a sliding window of neighbouring "
              "frames (motion estimated once per pair of consecutive frames) and write the "
              "HR frames to OUTPUT. Frames are written atomically; rerunning the command "
              "skips the frames already in OUTPUT (for a video file, in OUTPUT.frames, "
              "which is encoded once complete). Large frames are "
              "reconstructed in overlapping tiles to stay within --max-memory.")
    up.add_argument("input", metavar="INPUT",
                    help=f"video file or folder of {'/'.join(e[1:] for e in IMAGE_EXTENSIONS)} "
                         "frames (sorted naturally)")
    up.add_argument("output", metavar="OUTPUT",
                    help="folder of frames, or a video file "
                         f"({'/'.join(e[1:] for e in OUTPUT_CONTAINERS)}): H.264/H.265 with the "
                         "input's timing, colour tags and audio")
    up.add_argument("--scale", type=int, default=4, help="upscaling factor (default 4)")
    up.add_argument("--method", default="irls", choices=METHODS,
                    help="reconstruction method (default irls)")
    up.add_argument("--window", type=int, default=None,
                    help="reconstruct each frame from a sliding window of this many "
                         "frames, centred, cut short at the ends (default: the whole-clip "
                         "recursion for irls and pnp, 5-frame windows for the other "
                         "methods)")
    up.add_argument("--degradation", default=None, choices=tuple(DEGRADATIONS),
                    help="how the LR frames were made: area sensor (default), BD "
                         "(Gaussian blur 1.6 then decimate), BI (bicubic downscale)")
    up.add_argument("--registration", default=None, choices=REGISTRATION_METHODS,
                    help="optical flow between consecutive frames (default: dis on the "
                         "CPU, gpu with --backend cupy)")
    up.add_argument("--backend", default="auto", choices=("auto", "numpy", "numba", "cupy"),
                    help="array backend (default auto)")
    up.add_argument("--color", default="luma", choices=COLOR_MODES,
                    help="solve on luma with cheap chroma (default) or on every channel")
    up.add_argument("--iterations", type=int, default=None,
                    help="solver iterations (default per method)")
    up.add_argument("--noise", type=float, default=None,
                    help="noise sigma in [0, 1] units (default estimated per window)")
    up.add_argument("--input-codec", default="auto", choices=CODECS + VIDEO_ALIASES,
                    help="lossy compression the input went through (default auto: "
                         "detected per window from the frames; none: the white-noise model)")
    up.add_argument("--enhance", default="off", choices=ENHANCE_MODES,
                    help="exposure and colour correction, consistent over time (default off)")
    up.add_argument("--hdr", default=None, choices=HDR_TRANSFERS,
                    help="map to HDR: BT.2020, PQ or HLG; a video file becomes 10-bit H.265 "
                         "with HDR10 metadata")
    up.add_argument("--peak", type=float, default=1000.0,
                    help="peak luminance of the HDR mapping, cd/m2 (default 1000)")
    up.add_argument("--start", type=int, default=0, help="first frame to write (default 0)")
    up.add_argument("--end", type=int, default=None,
                    help="stop before this frame (default: the end)")
    up.add_argument("--max-memory", type=_parse_size, default="1G",
                    help="memory one reconstruction may use, e.g. 512M, 2G; larger frames "
                         "are tiled (default 1G)")
    up.add_argument("--bits", type=int, default=None, choices=(8, 10, 16),
                    help="bits per sample: 8 or 16 for frame folders (default: the input's), "
                         "8 or 10 for video files (default 8)")
    up.add_argument("--codec", default=None, choices=tuple(OUT_CODECS) + tuple(CODEC_ALIASES),
                    help="video file codec: h264 (default) or h265 (default with --hdr)")
    up.add_argument("--crf", type=int, default=None,
                    help="video file quality, 0-51, lower is better (default 18 for h264, "
                         "20 for h265)")
    up.add_argument("--preset", default="medium", choices=PRESETS,
                    help="x264/x265 speed preset (default medium)")
    up.add_argument("--keep-frames", action="store_true",
                    help="keep the frame folder (OUTPUT.frames) a video file is encoded from")
    up.add_argument("--format", default="png", choices=("png", "tif", "tiff", "jpg"),
                    help="format of the frames in an output folder (default png)")
    up.add_argument("--cluster", default=None, metavar="ADDRESS",
                    help="run on Dask: a scheduler address (tcp://host:8786) or local:N "
                         "(N worker processes on this machine); input and output must be "
                         "on storage every worker sees")
    up.add_argument("--chunk", type=int, default=None,
                    help="output frames per Dask task (default 32: one segment of the "
                         "recursion)")
    up.add_argument("--no-resume", dest="resume", action="store_false",
                    help="recompute frames that already exist in OUTPUT")
    up.add_argument("--quiet", action="store_true", help="no progress bar")
    up.set_defaults(func=_upscale)

    sim = _add(sub, "simulate", "make LR frames from HR frames or a video",
               "Degrade every frame of INPUT (blur, decimation, noise) into OUTPUT, to make "
               "test data with ground truth.")
    sim.add_argument("input", metavar="INPUT", help="HR video file or folder of frames")
    sim.add_argument("output", metavar="OUTPUT", help="folder of LR frames or a video file")
    sim.add_argument("--scale", type=int, default=4, help="downscaling factor (default 4)")
    sim.add_argument("--preset", default="BD", choices=tuple(DEGRADATIONS),
                     help="BD: Gaussian blur sigma 1.6, keep every s-th pixel (default); "
                          "BI: bicubic downscale; area: box average")
    sim.add_argument("--noise", type=float, default=None,
                     help="Gaussian noise sigma in [0, 1] units (5/255 = 0.0196)")
    sim.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    sim.add_argument("--bits", type=int, default=None, choices=(8, 16),
                     help="bits per sample (default: the input's)")
    sim.add_argument("--format", default="png", choices=("png", "tif", "tiff"),
                     help="format of the frames in an output folder (default png)")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.set_defaults(func=_simulate)

    ev = _add(sub, "eval", "PSNR/SSIM of results against ground truth",
              "Print PSNR and SSIM of each frame of SR against GT and their mean. Default "
              "convention (../shared/data/README.md): Y of BT.601 with MATLAB rgb2ycbcr "
              "scaling (16-235, peak 255), 4-pixel border cropped, SSIM with scikit-image's "
              "7x7 uniform window. Folders are paired by file name (extension ignored), "
              "videos by index.")
    ev.add_argument("gt", metavar="GT", help="ground-truth folder or video")
    ev.add_argument("sr", metavar="SR", help="result folder or video")
    ev.add_argument("--crop", type=int, default=4,
                    help="border cropped on every side, pixels (default 4, use the scale)")
    ev.add_argument("--rgb", action="store_true",
                    help="measure on all RGB channels (peak 1) instead of Y")
    ev.add_argument("--every", type=int, default=1,
                    help="use every N-th frame pair (default 1: all)")
    ev.set_defaults(func=_eval)

    add_bench(_add(sub, "bench", "score methods on a standard VSR test set",
                   "Run baselines, mfsr methods and deep networks on a standard video SR "
                   "test set (Vid4, REDS4, SPMCS, UDM10, Vimeo-90K; layout detected) under "
                   "a published protocol, and print a Markdown table per clip and mean "
                   "with seconds per frame, beside the published rows of that protocol. "
                   "Outputs are cached per method and frame (--cache): a killed run "
                   "continues where it stopped."), _bench)

    demo = _add(sub, "demo", "simulate a moving LR stack, reconstruct it, compare",
                "Simulate 7 moving, blurred, noisy LR frames from an image shipped with "
                "scikit-image, reconstruct them and print Y-PSNR/SSIM against bicubic.")
    demo.add_argument("--out", default="mfsr-demo", help="output folder (default: mfsr-demo)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None):
    """Entry point of the ``mfsr`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 1 on a reported error, 130 on Ctrl-C.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("every",):
        if getattr(args, name, 1) < 1:
            parser.error(f"--{name} must be >= 1")
    try:
        return args.func(args)
    except (ValueError, CommandError, RuntimeError, OSError) as exc:
        print(f"mfsr {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"mfsr {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

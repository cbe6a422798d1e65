"""How far the CuPy path is from "no host work": operations and host touches per frame.

Runs ``mfsr.reconstruct(frames, 4, degradation="BD")`` (default registration) and the
same with ``registration="gpu"`` on device frames of the CuPy stand-in
(``tests/device_standin.py``, report mode: CPU only, host memory under a ``cupy.ndarray``
look-alike, the CUDA kernels built as host C++) and prints, per output frame (one
``reconstruct`` call): array operations + kernel-set calls (the issue's figure, target
<= 400), the host syncs (implicit device-to-host reads) with their top call sites, the
cv2 / scipy / skimage calls by call site, and the explicit transfers. It also runs the
call in strict mode once to show the first host touch. Inputs: 5 frames of
bigbuckbunny BDx4 (``../shared/data``) resized to 135x240 (INTER_AREA), RGB uint8;
with ``--4k`` also 540x960 -> 2160x3840 (``speed.load_inputs``; slow: the host-built
kernels run serially and copy their arguments into guard-banded buffers).

    python benchmarks/device_ops.py --video --out benchmarks/results/device_ops.json
    python benchmarks/device_ops.py --4k          # adds 540x960 -> 2160x3840 (~6 min)

``--video`` adds one output frame of ``reconstruct_video(..., backend="cupy")`` (frame 2
of 5, a full window; the first output frame, so all four pair flows of the window are
in it). What it printed (2 CPUs, 41 s; per output frame; ops = array ops + kernel-set
calls, target <= 400):

    case                          ops  (compute/view)  kernel  syncs  host   transfers
                                                       calls         calls  h2d/d2h
    135x240, registration dis    3227  (1978/1029)      220    286    142    24/7
    135x240, registration gpu   30202 (22933/7049)      220    302    114    54/6
    video job, dis, cupy         3217  (1968/1029)      220    282    156    25/5
    video job, gpu, cupy         3217  (1968/1029)      220    282   1076    25/5
    540x960 -> 4K, dis           3227  (1978/1029)      220    286    142    24/7
    540x960 -> 4K, gpu          43706 (33429/10057)     220    302    114    70/6

    kernel-set calls: axpy 72, warp_blur_decimate 53, warp_blur_decimate_adjoint 50,
        axpby 36, pairwise_prior 8, prepare_warps 1 (267 raw launches)
    ops by file (gpu): registration/gpu_flow.py 26776 (4K: 40280; 8 flows x 8 LK
        iterations x 4 pyramid levels, 6 at 4K, ~100 xp operations each),
        solvers/irls.py 2851 (_weighted_smoothness, lines 67-74: 2440), registration/
        confidence.py 136, solvers/cg.py 121, _validation.py 50, registration/__init__.py
        31, pipeline.py 11, color.py 6
    host syncs (gpu): float 267, bool 30, boolean-mask shape 5; top sites:
        160 solvers/irls.py:72 (_weighted_smoothness, float(vdot))
         36 solvers/cg.py:41, 36 solvers/cg.py:44, 7 solvers/cg.py:35 (float(vdot))
         10 solvers/irls.py:29 (_mad_scale, float(median))
         16 _validation.py:26 check_array <- gpu_flow.py:148/149 (bool(all(isfinite)))
          8 kernels/cupy_kernels.py:160 (pairwise_prior returns float(total[0]))
          5+5 solvers/irls.py:53 (bool(any) and r[confidence > 0.5])
          5+5 solvers/irls.py:121/123 (History floats, every outer iteration)
    host calls: cv2.imencode 48 + cv2.imdecode 48 <- degradation/codec.py:166/168
        (JPEG-ghost codec detection on to_numpy(frames)); scipy sobel 10 + gaussian_filter
        5 <- degradation/noise.py:80/81 (estimate_noise); cv2.remap 3 <- interpolate.py:43
        (bicubic start, luma + 2 chroma); dis only: cv2.DISOpticalFlow create/
        setFinestScale/calc 8 each <- registration/dense.py:36-39, cv2.remap 4 <-
        registration/confidence.py:21; video job with gpu: over 940 scipy calls <-
        registration/gpu_flow.py (the pair flows run on NumPy frames on the host)
    transfers (gpu): h2d 32 <- gpu_flow.py:78 (xp.asarray(_DERIVATIVE) per level),
        8 <- degradation/system.py:55/56 (gather tables), 6 <- cupy_kernels.py:246/247
        (flow axis tables), 3+3 <- interpolate.py:37/46 (upsample round trip), 2 <-
        cupy_kernels.py:54 (constants), 1 <- color.py:51; d2h 1 <- noise.py:68, 1 <-
        pipeline.py:349 (codec_model), 1 <- cupy_kernels.py:250 (identity frames)
    strict mode stops at: check_array's bool(xp.all(xp.isfinite(a))) <- register
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "tests")))

import mfsr  # noqa: E402
from device_standin import HostCallError, HostSyncError, device_standin  # noqa: E402
from results_io import run_record, write_json  # noqa: E402

DEFAULT_DATA = os.path.join(HERE, "..", "..", "shared", "data")
SCALE = 4
SMALL = (135, 240)


def small_frames(data, n_frames):
    """``n_frames`` RGB uint8 frames of 135x240: bigbuckbunny BDx4 resized, or (without
    the data) scikit-image's astronaut degraded by ``mfsr.simulate``."""
    folder = os.path.join(data, "bigbuckbunny", "BDx4")
    h, w = SMALL
    if os.path.isdir(folder):
        names = sorted(f for f in os.listdir(folder) if f.endswith(".png"))[:n_frames]
        frames = [cv2.resize(cv2.imread(os.path.join(folder, n))[..., ::-1], (w, h),
                             interpolation=cv2.INTER_AREA) for n in names]
        if len(frames) == n_frames:
            return np.ascontiguousarray(np.stack(frames)), "bigbuckbunny BDx4 resized"
    from skimage import data as skdata
    hr = cv2.resize(skdata.astronaut(), (SCALE * w, SCALE * h), interpolation=cv2.INTER_AREA)
    sim = mfsr.simulate(hr, scale=SCALE, n_frames=n_frames, seed=0, degradation="BD",
                        channel_axis=-1)
    return (np.clip(sim.frames * 255 + 0.5, 0, 255).astype(np.uint8),
            "skimage astronaut, simulated BD")


def large_frames(data, n_frames):
    from speed import load_inputs
    return load_inputs(data, "bigbuckbunny", "4k", n_frames), "speed.load_inputs('4k')"


def measure(frames, registration, kernels):
    """One reconstruct on device frames in report mode: the report and the seconds."""
    kwargs = {"degradation": "BD"}
    if registration is not None:
        kwargs["registration"] = registration
    t0 = time.perf_counter()
    with device_standin(mode="report", kernels=kernels) as dev:
        device_frames = dev.asarray(frames)
        dev.reset()  # the upload of the frames is not the pipeline's
        hr = mfsr.reconstruct(device_frames, SCALE, **kwargs)
        shape = tuple(hr.shape)
    return dev, shape, time.perf_counter() - t0


def measure_video(frames, registration, kernels, index):
    """One output frame (``index``, a full window of 5) of ``reconstruct_video`` with
    ``backend="cupy"`` on a folder of the frames, in report mode."""
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        for i, f in enumerate(frames):
            cv2.imwrite(os.path.join(folder, f"{i:04d}.png"), f[..., ::-1])
        t0 = time.perf_counter()
        with device_standin(mode="report", kernels=kernels) as dev:
            out = list(mfsr.reconstruct_video(folder, SCALE, window=5, degradation="BD",
                                              registration=registration or "dis",
                                              backend="cupy", start=index, end=index + 1))
        shape = tuple(out[0].shape)
    return dev, shape, time.perf_counter() - t0


def first_strict_failure(frames, registration, kernels):
    """Where strict mode stops the same call (the first host touch), or None."""
    kwargs = {"degradation": "BD"}
    if registration is not None:
        kwargs["registration"] = registration
    with device_standin(mode="strict", kernels=kernels) as dev:
        device_frames = dev.asarray(frames)
        try:
            mfsr.reconstruct(device_frames, SCALE, **kwargs)
        except (HostSyncError, HostCallError, TypeError) as e:
            return f"{type(e).__name__}: {e}"
    return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--frames", type=int, default=5)
    p.add_argument("--4k", dest="four_k", action="store_true",
                   help="also 540x960 -> 2160x3840 (slow)")
    p.add_argument("--kernels", default="auto", choices=("auto", "host", "reference"))
    p.add_argument("--registration", nargs="+", default=["default", "gpu"],
                   help="registrations to run ('default' = reconstruct's own)")
    p.add_argument("--video", action="store_true",
                   help="also one output frame of reconstruct_video(backend='cupy') at "
                        "135x240 (frame 2 of 5: a full window)")
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--out", default=None, help="JSON file for the results")
    args = p.parse_args(argv)
    started = time.time()

    sizes = [("135x240", small_frames)] + ([("540x960", large_frames)] if args.four_k else [])
    results = []
    for size, load in sizes:
        frames, source = load(args.data, args.frames)
        for reg in args.registration:
            registration = None if reg == "default" else reg
            dev, shape, seconds = measure(frames, registration, args.kernels)
            rep = dev.report
            label = f"{size} -> {shape[0]}x{shape[1]}, registration=" \
                    f"{registration or 'default (dis)'!r}"
            print(f"\n== {label} ==  ({seconds:.1f} s on the stand-in)")
            print(rep.format(args.top))
            strict = first_strict_failure(frames, registration, args.kernels)
            print(f"strict mode stops at: {strict}")
            results.append({"size": size, "frames": list(frames.shape), "source": source,
                            "output": list(shape), "registration": registration or "default",
                            "kernels": dev.kernels.NAME, "seconds": seconds,
                            "per_output_frame": rep.summary(args.top),
                            "first_strict_failure": strict})
    if args.video:
        frames, source = small_frames(args.data, args.frames)
        for reg in args.registration:
            registration = None if reg == "default" else reg
            dev, shape, seconds = measure_video(frames, registration, args.kernels,
                                                args.frames // 2)
            rep = dev.report
            print(f"\n== reconstruct_video, one output frame, 135x240 -> {shape[0]}x"
                  f"{shape[1]}, registration={registration or 'dis'!r}, backend='cupy' ==  "
                  f"({seconds:.1f} s on the stand-in)")
            print(rep.format(args.top))
            results.append({"size": "135x240", "job": "reconstruct_video",
                            "frames": list(frames.shape), "source": source,
                            "output": list(shape), "registration": registration or "dis",
                            "kernels": dev.kernels.NAME, "seconds": seconds,
                            "per_output_frame": rep.summary(args.top)})
    if args.out:
        write_json(args.out, run_record(__file__, args, results, started,
                                        target={"ops_per_frame": 400, "host_work": 0}))
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()

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
    python benchmarks/device_ops.py --4k --out benchmarks/results/device_ops_4k.json
        # adds 540x960 -> 2160x3840 (about 7 min): 367 operations per frame (6 pyramid
        # levels instead of 4), 0 host syncs, 0 host calls; 709 raw kernel launches,
        # plus about 110 memsets/copies inside the kernel-set wrappers

``--video`` adds one output frame of ``reconstruct_video(..., backend="cupy")`` (frame 2
of 5, a full window; the first output frame, so all four pair flows of the window are
in it). What it printed after the fused IRLS / CG kernels (issue 13; 2 CPUs, 74 s; per
output frame; ops = array ops + kernel-set calls, target <= 400):

    case                          ops  (array ops     kernel  syncs  host   transfers
                                        compute/view)  calls         calls  h2d/d2h
    135x240, default (gpu)        361  (84/26)          251      0      0    29/4
    135x240, registration gpu     361  (84/26)          251      0      0    29/4
    video job, dis, cupy          450  (153/56)         241      0     30    33/10
    video job, gpu, cupy          462  (155/56)         251      0      6    37/5

    (before: 723 = 483 array ops + 240 kernel-set calls and 14 host syncs for the
    default frame; strict mode now runs the default frame through: no host sync, no
    host call. tests/test_device_standin.py holds it at <= 400 on astronaut frames.)

    kernel-set calls (default frame): warp_blur_decimate_adjoint 50 (the data weights
        applied as it reads the residual), warp_blur_decimate 49, cg_step 36 (p.q, the
        x / g updates and the new g.g in one call, sums per block in double, then one
        block: deterministic), cg_direction 36, weighted_smoothness 35,
        pairwise_prior_gradient 8 (chroma Tikhonov, no value read back), per IRLS
        re-weighting irls_residuals, irls_data_weights, smoothness_differences,
        irls_prior_weights and irls_objective (5 x 5), registration (lk_level 4,
        lk_pyramid_down 3, lk_upsample 3, lk_confidence 1), prepare_warps 1
        (639 raw launches).
    array ops by stage: luma solve 31 (a sort per weight map and re-weighting, and the
        CG start g = rhs - M x, p = g, g.g: 3 per solve), noise estimate 28, chroma 19
        (two 3-step CG solves, tol=0), codec detection 18, rest 14.
    video job (window on the device, issue 13): the host calls left are 6 PNG decodes
        (cv2.imdecode <- io/images.py: the folder's first frame when it is opened, then
        the 5 frames read; reading is host work) and, with dis, the DIS flows (24 <-
        registration/dense.py, on host copies of the lumas); the d2h transfers are the HR frame (once, at the end), the noise
        level and the chroma score the job decides on, the operator's moving-frame
        flags and the solver history (with dis also the 5 lumas). Its ops: this first
        output frame estimates all 4 pairs of its window (motion 78 ops + 11 Lucas-
        Kanade kernel-set calls, batched; the composition one batched sampling), 5
        lumas (25), the window's noise (29) and codec (19) estimates on the device.
        Before (the job's frames, luma, pair flows, composition, noise and codec
        estimates on the host): 297 ops, 145 host calls with dis, 121 with gpu.
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
                    f"{registration or 'default (gpu on device frames)'!r}"
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

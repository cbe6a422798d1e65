"""Per-kernel time and achieved memory bandwidth for the 540p -> 4K x4 job, and the whole
job on the device (frames per second, GPU memory).

The job of the issue: K = 5 LR frames of 540 x 960, x4 (2160 x 3840 output), BD
degradation (Gaussian PSF sigma 1.6, phase 0), the default MAP solver. Each kernel of the
kernel set that ``mfsr.kernels.kernels_for`` picks for the data (CuPy kernels for
``--backend cupy``) is timed on arrays of that job's sizes, and its bandwidth reported as
*minimum bytes / time*: the bytes a kernel must read and write at least (inputs read
once, outputs written once; tables, flows and taps included), so that 100 % of the
device peak is the memory-bound ideal. The peak is the device's
``2 * memoryClockRate * memoryBusWidth / 8``. Kernels that keep intermediates in memory
(``warp_blur_decimate`` and its adjoint write and read a K x H x W stack) show it as a
lower fraction of the peak.

Then the whole job, ``mfsr.reconstruct(frames, 4, method="map", degradation="BD",
registration="gpu")`` on device frames, timed end to end (``--repeat`` runs after a
warm-up; video decode/encode is not part of it) with the registration alone and the solver
iterations broken out, and the memory pool's size after the run (CuPy keeps freed
blocks, so this is the peak the job needed).

    python benchmarks/gpu_kernels.py --backend cupy            # on a GPU machine
    python benchmarks/gpu_kernels.py --backend numba --lr 135 240 --repeat 1   # CPU check

``--lr H W`` shrinks the job (the kernels and bandwidth model are the same). Results:
``benchmarks/results/gpu_kernels_<backend>.json``.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

import mfsr
from mfsr import kernels
from mfsr.core.backend import resolve_backend, to_numpy
from mfsr.degradation import GaussianPSF, SystemOperator
from mfsr.core.motion import Motion
from mfsr.priors import HuberMRF
from results_io import write_json

HERE = os.path.dirname(os.path.abspath(__file__))
SCALE = 4


def device_info(xp):
    """Name and peak memory bandwidth (bytes/s) of the device, or of nothing on the CPU."""
    if xp.__name__ != "cupy":
        return {"device": platform.processor() or platform.machine(), "peak_bytes_per_s": None}
    props = xp.cuda.runtime.getDeviceProperties(xp.cuda.Device().id)
    peak = 2.0 * props["memoryClockRate"] * 1e3 * props["memoryBusWidth"] / 8
    name = props["name"]
    return {"device": name.decode() if isinstance(name, bytes) else str(name),
            "peak_bytes_per_s": peak, "total_memory_bytes": int(props["totalGlobalMem"]),
            "cuda_runtime": xp.cuda.runtime.runtimeGetVersion()}


def timer(xp, repeat):
    """``time(fn)`` -> median seconds of ``fn()`` over ``repeat`` runs after one warm-up."""
    if xp.__name__ == "cupy":
        from cupyx.profiler import benchmark

        def time_gpu(fn):
            result = benchmark(fn, n_repeat=repeat, n_warmup=2)
            return float(np.median(result.gpu_times[0]))
        return time_gpu

    def time_cpu(fn):
        fn()
        runs = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t)
        return float(np.median(runs))
    return time_cpu


def smooth_flows(rng, k, h, w, amplitude=2.0):
    """Smooth random LR flows (a stand-in for real motion; the kernels' cost does not
    depend on the values), frame ``k // 2`` the reference."""
    from scipy.ndimage import gaussian_filter
    flows = gaussian_filter(rng.standard_normal((k, h, w, 2)), (0, 20, 20, 0))
    flows *= amplitude / max(np.abs(flows).max(), 1e-6)
    flows[k // 2] = 0
    return flows.astype(np.float32)


def kernel_table(xp, ks, lr_shape, k, repeat):
    """Time each kernel on the job's sizes; return rows with bytes and seconds."""
    rng = np.random.default_rng(0)
    h, w = lr_shape
    H, W = SCALE * h, SCALE * w
    f4, i8 = 4, 8
    motion = Motion(xp.asarray(smooth_flows(rng, k, h, w)),
                    xp.ones((k, h, w), xp.float32), k // 2)
    A = SystemOperator(motion, SCALE, GaussianPSF(1.6), 0.0)
    bd = A.blur_decimate
    x = xp.asarray(rng.random((H, W), dtype=np.float32))
    y = xp.asarray(rng.random((k, h, w), dtype=np.float32))
    c = xp.ones((k, h, w), xp.float32)
    warps = ks.prepare_warps(motion.flows, SCALE, A.phase)
    fwd_t = tuple(xp.asarray(t) for t in bd.gather_tables)
    adj_t = tuple(xp.asarray(t) for t in bd.gather_tables_t)
    table_bytes = sum(int(t.nbytes) for t in fwd_t)
    warp = A.warps[0]  # a moving frame's per-pixel tables
    prior = HuberMRF(0.01)
    wy, wx = bd.weights
    start = (bd.rows.offset, bd.cols.offset)
    xpad = bd.cols.pad(bd.rows.pad(xp.stack([x] * k), -2, xp), -1, xp)
    padded = xpad.shape[-2:]
    stack_hr = xp.stack([x] * k)
    flow_bytes = k * h * w * 2 * f4
    time_of = timer(xp, repeat)
    cases = {
        # name: (function, minimum bytes read + written)
        "warp_blur_decimate (A x)": (
            lambda: ks.warp_blur_decimate(x, warps, *fwd_t),
            H * W * f4 + flow_bytes + table_bytes + k * h * w * f4),
        "warp_blur_decimate_adjoint (A^T y)": (
            lambda: ks.warp_blur_decimate_adjoint(y, warps, *adj_t),
            k * h * w * f4 + flow_bytes + sum(int(t.nbytes) for t in adj_t) + H * W * f4),
        "separable_gather (D B, K frames)": (
            lambda: ks.separable_gather(stack_hr, *fwd_t),
            k * H * W * f4 + table_bytes + k * h * w * f4),
        "strided_correlate (D B, padded)": (
            lambda: ks.strided_correlate(xpad, wy, wx, start, SCALE, (h, w)),
            int(xpad.nbytes) + k * h * w * f4),
        "strided_correlate_adjoint": (
            lambda: ks.strided_correlate_adjoint(y, wy, wx, start, SCALE, padded),
            k * h * w * f4 + int(xpad.nbytes)),
        "warp_forward (one frame)": (
            lambda: ks.warp_forward(x, warp.index, warp.wy, warp.wx),
            H * W * (f4 + i8 + 2 * f4) + H * W * f4),
        "warp_adjoint (one frame)": (
            lambda: ks.warp_adjoint(x, warp.index, warp.wy, warp.wx),
            H * W * (f4 + i8 + 2 * f4) + H * W * f4),
        "pairwise_prior (huber, 8-neighbourhood)": (
            lambda: ks.pairwise_prior(x, prior.offsets, prior.weights, prior.kind, prior.param),
            2 * H * W * f4),
        "tv_prior": (lambda: ks.tv_prior(x, 1e-3), 2 * H * W * f4),
        "data_fidelity (huber)": (
            lambda: ks.data_fidelity(y, y, c, "huber", 0.02, 0.02), 5 * k * h * w * f4),
        "xp.vdot (L-BFGS, HR)": (lambda: xp.vdot(x, x), H * W * f4),
        "axpy x + t d (L-BFGS, HR)": (lambda: x + 0.5 * x, 2 * H * W * f4),
    }
    rows = []
    for name, (fn, nbytes) in cases.items():
        seconds = time_of(fn)
        rows.append({"kernel": name, "seconds": seconds, "min_bytes": int(nbytes),
                     "bytes_per_s": nbytes / seconds})
    return rows


def whole_job(xp, lr_shape, k, repeat, iterations):
    """End-to-end reconstruct on device frames: seconds, breakdown, memory."""
    rng = np.random.default_rng(1)
    h, w = lr_shape
    hr = rng.random((SCALE * h, SCALE * w, 3), dtype=np.float32)
    from scipy.ndimage import gaussian_filter
    hr = gaussian_filter(hr, (2, 2, 0))
    sim = mfsr.simulate(hr, scale=SCALE, n_frames=k, degradation="BD", noise=0.01, seed=2,
                        channel_axis=-1)
    frames = xp.asarray((sim.frames * 255).round().astype(np.uint8))
    kwargs = {"scale": SCALE, "method": "map", "degradation": "BD", "registration": "gpu",
              "return_history": True}
    if iterations:
        kwargs["iterations"] = iterations

    def sync():
        if xp.__name__ == "cupy":
            xp.cuda.Device().synchronize()
    if xp.__name__ == "cupy":
        xp.get_default_memory_pool().free_all_blocks()
    mfsr.reconstruct(frames[:, :64, :64], **kwargs)  # warm-up: compile kernels
    sync()
    totals, registrations, iterations_s = [], [], []
    for _ in range(repeat):
        t = time.perf_counter()
        out, hist = mfsr.reconstruct(frames, **kwargs)
        sync()
        totals.append(time.perf_counter() - t)
        luma = hist[0] if isinstance(hist, list) else hist
        iterations_s.append(float(np.sum(luma.seconds)))
        t = time.perf_counter()
        mfsr.register(frames, method="gpu")
        sync()
        registrations.append(time.perf_counter() - t)
    result = {"lr_shape": [h, w], "frames": k, "output_shape": list(out.shape),
              "seconds_per_frame": float(np.median(totals)),
              "frames_per_second": 1.0 / float(np.median(totals)),
              "registration_s": float(np.median(registrations)),
              "solver_iterations_s": float(np.median(iterations_s)),
              "iterations_run": luma.iterations,
              "output_checksum": float(to_numpy(out).astype(np.float64).sum())}
    if xp.__name__ == "cupy":
        result["gpu_pool_bytes"] = int(xp.get_default_memory_pool().total_bytes())
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["cupy", "numba", "numpy"], default="cupy")
    parser.add_argument("--lr", type=int, nargs=2, default=[540, 960], metavar=("H", "W"))
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=0,
                        help="solver iterations (0: the method's default)")
    parser.add_argument("--skip-job", action="store_true", help="kernels only")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    xp = resolve_backend(args.backend)
    choice = args.backend if args.backend in kernels.CPU_KERNELS else "auto"
    info = device_info(xp)
    report = {"backend": args.backend, "python": sys.version.split()[0], **info}
    with kernels.use(choice):
        ks = kernels.kernels_for(xp.zeros(1, xp.float32))
        report["kernel_set"] = ks.NAME
        rows = kernel_table(xp, ks, tuple(args.lr), args.frames, args.repeat)
        peak = info["peak_bytes_per_s"]
        print(f"{info['device']}: kernel set {ks.NAME}, LR {args.lr[0]}x{args.lr[1]} x{SCALE}, "
              f"K={args.frames}" + (f", peak {peak / 1e9:.0f} GB/s" if peak else ""))
        for r in rows:
            r["fraction_of_peak"] = r["bytes_per_s"] / peak if peak else None
            share = f"  {100 * r['fraction_of_peak']:5.1f} % of peak" if peak else ""
            print(f"  {r['kernel']:42s} {1e3 * r['seconds']:9.3f} ms  "
                  f"{r['bytes_per_s'] / 1e9:8.1f} GB/s{share}")
        report["kernels"] = rows
        if not args.skip_job:
            job = whole_job(xp, tuple(args.lr), args.frames, max(1, min(args.repeat, 3)),
                            args.iterations)
            report["job"] = job
            memory = (f", GPU pool {job['gpu_pool_bytes'] / 2**30:.2f} GiB"
                      if "gpu_pool_bytes" in job else "")
            print(f"  whole job: {job['seconds_per_frame']:.3f} s/frame "
                  f"({job['frames_per_second']:.1f} fps), registration "
                  f"{job['registration_s']:.3f} s, {job['iterations_run']} iterations "
                  f"{job['solver_iterations_s']:.3f} s{memory}")
    out = args.out or os.path.join(HERE, "results", f"gpu_kernels_{args.backend}.json")
    write_json(out, report)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

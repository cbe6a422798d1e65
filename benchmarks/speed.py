"""Speed benchmark: seconds per output frame and per solver iteration, per backend.

For each output size (720p, 1080p, 4K, all x4 from 180p, 270p, 540p LR frames), each
temporal window (5, 7 frames) and each backend, one RGB output frame is reconstructed
with ``mfsr.reconstruct(frames, 4, method=..., degradation="BD", backend=...)`` - the
whole call, registration (DIS) and chroma included - and timed. Each configuration runs
in a fresh Python process, so that its peak resident memory (``ru_maxrss``) is its own
and the first-call cost (Numba compile or cache load, CUDA module load) is measured
apart from the run: the process first reconstructs a 32x32 crop (``warmup_s``), then
the real frame (``seconds_per_frame``, ``seconds_per_iteration`` from the solver's
history), then runs the registration alone (``registration_s``) for the breakdown.

Inputs are real frames of ``--sequence`` from ``--data`` (default ``../shared/data``):
its ``BDx4`` frames for 720p; for the larger sizes the ground-truth frames are resized
(bicubic) to the output size and degraded the same way as ``BDx4`` (Gaussian blur sigma
1.6 HR px, keep every 4th pixel, 8 bits), so the motion is the sequence's own.

Numba compile time is measured separately: ``compile.cold_s`` is the warm-up call in a
process whose Numba cache directory is empty (what a fresh install pays once),
``compile.cached_s`` the same call when the cache is filled (every later process).

    python benchmarks/speed.py                       # CPU: numpy and numba, all sizes
    python benchmarks/speed.py --backends cupy --out benchmarks/results/speed_gpu.json

Results: JSON (``--out``) with machine info and the load average around each run (this
script is often run on shared machines; timings under load are longer), and a plot of
time per frame against output pixels (``--plot``, needs matplotlib) whose log-log
slope shows how the cost grows with the image size.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np
from results_io import command_line, write_json

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "..", "shared", "data")
SIZES = {"720p": (180, 320), "1080p": (270, 480), "4k": (540, 960)}  # LR (h, w); x4 out
SCALE = 4


# ---------------------------------------------------------------------- inputs

def _bd(hr_rgb):
    """The BDx4 degradation of ../shared/data: blur sigma 1.6 (reflect), [::4, ::4], 8 bits."""
    from scipy.ndimage import gaussian_filter
    x = hr_rgb.astype(np.float32) / 255
    blurred = gaussian_filter(x, (1.6, 1.6, 0), mode="reflect")
    return np.clip(np.round(blurred[::SCALE, ::SCALE] * 255), 0, 255).astype(np.uint8)


def load_inputs(data, sequence, size, n_frames, first=0):
    """``n_frames`` LR RGB uint8 frames of the given size name."""
    h, w = SIZES[size]
    folder = os.path.join(data, sequence)
    names = sorted(f for f in os.listdir(os.path.join(folder, "GT")) if f.endswith(".png"))
    names = names[first: first + n_frames]
    if len(names) < n_frames:
        raise ValueError(f"{sequence} has fewer than {first + n_frames} frames")
    frames = []
    for name in names:
        lr = cv2.imread(os.path.join(folder, "BDx4", name))
        if lr is not None and lr.shape[:2] == (h, w):
            frames.append(lr[..., ::-1])
            continue
        gt = cv2.imread(os.path.join(folder, "GT", name))[..., ::-1]
        gt = cv2.resize(gt, (SCALE * w, SCALE * h), interpolation=cv2.INTER_CUBIC)
        frames.append(_bd(gt))
    return np.ascontiguousarray(np.stack(frames))


# ---------------------------------------------------------------------- one run

def _sync(backend):
    if backend == "cupy":
        import cupy
        cupy.cuda.Device().synchronize()


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def worker(spec):
    """Run one configuration in this (fresh) process; return a dict of measurements."""
    import mfsr

    frames = np.load(spec["frames"])
    backend = spec["backend"]
    kwargs = {"method": spec["method"], "degradation": "BD", "iterations": spec["iterations"],
              "backend": backend, "return_history": True}
    if backend == "cupy":
        import cupy
        frames = cupy.asarray(frames)
    t = time.perf_counter()
    mfsr.reconstruct(frames[:, :32, :32], SCALE, **{**kwargs, "iterations": 2})
    _sync(backend)
    warmup = time.perf_counter() - t
    rss_before = _peak_rss_mb()
    load0 = os.getloadavg()[0]
    t, c = time.perf_counter(), time.process_time()
    hr, hist = mfsr.reconstruct(frames, SCALE, **kwargs)
    _sync(backend)
    total, cpu = time.perf_counter() - t, time.process_time() - c
    luma_hist = hist if not isinstance(hist, list) else hist[0]
    t = time.perf_counter()
    mfsr.register(frames)
    _sync(backend)
    registration = time.perf_counter() - t
    out = {"warmup_s": warmup, "seconds_per_frame": total, "cpu_seconds_per_frame": cpu,
           "registration_s": registration,
           "seconds_per_iteration": float(np.median(luma_hist.seconds)),
           "seconds_per_iteration_min": float(np.min(luma_hist.seconds)),
           "iterations_run": luma_hist.iterations,
           "peak_rss_mb": _peak_rss_mb(), "peak_rss_before_run_mb": rss_before,
           "load_average": [load0, os.getloadavg()[0]], "output_shape": list(hr.shape)}
    if backend == "cupy":
        import cupy
        out["gpu_pool_bytes"] = int(cupy.get_default_memory_pool().total_bytes())
    else:
        out["output_checksum"] = float(np.asarray(hr, dtype=np.float64).sum())
    if spec.get("save_output"):
        np.save(spec["save_output"], np.asarray(hr if backend != "cupy" else hr.get()))
    return out


def run_worker(spec, env=None, timeout=3600):
    """Run :func:`worker` in a fresh interpreter; return its dict."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                          check=False)
    if proc.returncode:
        raise RuntimeError(f"worker failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------- machine

def machine_info():
    import numba
    import mfsr
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "numpy": np.__version__, "numba": numba.__version__,
            "opencv": cv2.__version__, "mfsr": getattr(mfsr, "__version__", "?"),
            "numba_threads": numba.config.NUMBA_NUM_THREADS}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f
                               if line.startswith("model name"))
        with open("/proc/meminfo") as f:
            info["memory_gb"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except (OSError, StopIteration):
        pass
    try:
        import cupy
        info["gpu"] = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    except Exception:  # noqa: BLE001 - no CuPy or no device: a CPU run
        pass
    return info


def compile_times(frames_path, method, iterations):
    """Numba first-call cost with an empty cache (cold) and a filled one (cached)."""
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        spec = {"frames": frames_path, "backend": "numba", "method": method,
                "iterations": iterations}
        out["cold_s"] = run_worker(spec, env)["warmup_s"]
        out["cached_s"] = run_worker(spec, env)["warmup_s"]
    spec = {"frames": frames_path, "backend": "numpy", "method": method, "iterations": iterations}
    out["numpy_first_call_s"] = run_worker(spec)["warmup_s"]
    return out


def slopes(runs):
    """Least-squares slope of log(seconds per frame) against log(output pixels)."""
    out = {}
    for key in sorted({(r["backend"], r["window"]) for r in runs}):
        pts = [(r["output_pixels"], r["seconds_per_frame"]) for r in runs
               if (r["backend"], r["window"]) == key]
        if len(pts) >= 2:
            px, t = np.log(np.array(pts)).T
            out[f"{key[0]}_w{key[1]}"] = float(np.polyfit(px, t, 1)[0])
    return out


def plot(runs, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot", file=sys.stderr)
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    for key in sorted({(r["backend"], r["window"]) for r in runs}):
        pts = sorted((r["output_pixels"], r["seconds_per_frame"]) for r in runs
                     if (r["backend"], r["window"]) == key)
        px, t = zip(*pts)
        ax.loglog(np.array(px) / 1e6, t, "o-", label=f"{key[0]}, {key[1]} frames")
    ax.set_xlabel("output megapixels")
    ax.set_ylabel("seconds per output frame")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--sequence", default="bigbuckbunny")
    p.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    p.add_argument("--windows", nargs="+", type=int, default=[5, 7])
    p.add_argument("--backends", nargs="+", default=["numpy", "numba"],
                   choices=["numpy", "numba", "cupy"])
    p.add_argument("--method", default="map")
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--repeat", type=int, default=1,
                   help="runs per configuration; the fastest is kept (others in 'all_runs')")
    p.add_argument("--no-compile", action="store_true", help="skip the compile-time runs")
    p.add_argument("--out", default=os.path.join(HERE, "results", "speed_cpu.json"))
    p.add_argument("--plot", default=None, help="PNG path (default: --out with .png)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    runs, all_runs = [], []
    result = {"machine": machine_info(), "command": command_line(__file__),
              "sequence": args.sequence, "method": args.method, "iterations": args.iterations,
              "scale": SCALE, "degradation": "BD", "color": "RGB in, luma solved, chroma fused",
              "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            for window in args.windows:
                frames = load_inputs(args.data, args.sequence, size, window)
                path = os.path.join(tmp, f"{size}_{window}.npy")
                np.save(path, frames)
                if (size, window) == (args.sizes[0], args.windows[0]) and "numba" in \
                        args.backends and not args.no_compile:
                    result["compile"] = compile_times(path, args.method, args.iterations)
                    print("compile", result["compile"], flush=True)
                for backend in args.backends:
                    tries = []
                    for _ in range(args.repeat):
                        spec = {"frames": path, "backend": backend, "method": args.method,
                                "iterations": args.iterations,
                                "save_output": os.path.join(tmp, f"{size}_{window}_{backend}.npy")}
                        r = run_worker(spec)
                        r.update(size=size, window=window, backend=backend,
                                 lr_shape=list(frames.shape[1:3]),
                                 output_pixels=SCALE**2 * frames.shape[1] * frames.shape[2])
                        tries.append(r)
                        all_runs.append(r)
                    best = min(tries, key=lambda r: r["seconds_per_frame"])
                    runs.append(best)
                    print(f"{size} w{window} {backend}: {best['seconds_per_frame']:.2f} s/frame, "
                          f"{best['seconds_per_iteration']:.4f} s/it, "
                          f"reg {best['registration_s']:.2f} s, "
                          f"peak RSS {best['peak_rss_mb']:.0f} MB, "
                          f"load {best['load_average']}", flush=True)
                numpy_out = os.path.join(tmp, f"{size}_{window}_numpy.npy")
                for r in runs:
                    if (r["size"], r["window"]) == (size, window) and r["backend"] != "numpy" \
                            and os.path.exists(numpy_out):
                        got = np.load(os.path.join(tmp, f"{size}_{window}_{r['backend']}.npy"))
                        r["max_abs_difference_to_numpy"] = float(
                            np.abs(got - np.load(numpy_out)).max())
    result["runs"] = runs
    if args.repeat > 1:
        result["all_runs"] = all_runs
    ratios = {}
    for r in runs:
        if r["backend"] == "numpy":
            continue
        ref = [q for q in runs if q["backend"] == "numpy" and q["size"] == r["size"]
               and q["window"] == r["window"]]
        if ref:
            key = f"{r['backend']}_vs_numpy_{r['size']}_w{r['window']}"
            ratios[key] = {
                "per_iteration": ref[0]["seconds_per_iteration"] / r["seconds_per_iteration"],
                "per_frame": ref[0]["seconds_per_frame"] / r["seconds_per_frame"],
                "cpu_per_frame": ref[0]["cpu_seconds_per_frame"] / r["cpu_seconds_per_frame"]}
    result["speedups"] = ratios
    result["loglog_slope_seconds_vs_pixels"] = slopes(runs)
    write_json(args.out, result)
    print("wrote", args.out)
    png = args.plot or os.path.splitext(args.out)[0] + ".png"
    if plot(runs, png):
        print("wrote", png)
    return 0


if __name__ == "__main__":
    sys.exit(main())

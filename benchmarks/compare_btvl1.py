"""OpenCV BTV-L1 (``superres``) and mfsr side by side, quality and speed in one run.

Runs the C++ harness ``benchmarks/baselines/build/btvl1`` (OpenCV 4.6 from Debian's
``libopencv-superres-dev``; built by ``benchmarks/baselines/build_btvl1.sh`` when missing)
and ``mfsr.reconstruct(frames, 4, degradation="BD")`` on the same LR frames, then scores
both and plain bicubic with ``mfsr.metrics.y_psnr_ssim`` on the region OpenCV returns.

    sh benchmarks/baselines/build_btvl1.sh
    python benchmarks/compare_btvl1.py --frames 3

Writes ``benchmarks/results/btvl1_compare.json`` and ``docs/btvl1.md``. Conventions (the
markdown repeats them): OpenCV crops ``btv_kernel`` (7) HR pixels off every side of its
output, so every method is scored on that common centred region, with the project's
``scale``-pixel crop applied inside it. OpenCV returns one output per input frame, output
``k`` being the reconstruction of input ``k`` (the temporal radius is latency only); the
script checks this against the ground truth on every scored frame. Timings are wall-clock
seconds per output frame measured in this run (mfsr after one warm-up call on a small crop,
so that one-off JIT compilation is not counted), plus CPU seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

import mfsr
from mfsr.metrics import matlab_luma, psnr, y_psnr_ssim

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_DATA = os.path.join(ROOT, "..", "shared", "data")
DEFAULT_BINARY = os.path.join(HERE, "baselines", "build", "btvl1")
BUILD_SCRIPT = os.path.join(HERE, "baselines", "build_btvl1.sh")
MAX_SHIFT = 2  # HR pixels searched each way for the alignment diagnostic


def read_rgb(path):
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"cannot read {path}")
    return np.ascontiguousarray(img[..., ::-1])


def load_frames(folder, indices):
    names = sorted(f for f in os.listdir(folder) if f.lower().endswith(".png"))
    if not names:
        raise ValueError(f"no PNG frames in {folder}")
    if max(indices) >= len(names):
        raise ValueError(f"{folder} has {len(names)} frames, frame {max(indices)} was asked")
    paths = [os.path.join(folder, names[i]) for i in indices]
    return paths, np.stack([read_rgb(p) for p in paths])


def parse_harness(stdout):
    """The JSON lines the harness prints: (config, frame events, done event)."""
    config, frames, done = None, [], None
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if event["event"] == "config":
            config = event
        elif event["event"] == "frame":
            frames.append(event)
        elif event["event"] == "done":
            done = event
    if config is None or done is None:
        raise RuntimeError("btvl1 harness output is incomplete:\n" + stdout[-2000:])
    return config, frames, done


def run_btvl1(binary, paths, out_dir, args, iterations):
    cmd = [binary, "--scale", str(args.scale), "--iterations", str(iterations),
           "--radius", str(args.radius), "--flow", args.flow, "--out", out_dir, *paths]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:9])} ... failed:\n{proc.stderr}")
    config, frames, done = parse_harness(proc.stdout)
    if done["outputs"] != len(paths):
        raise RuntimeError(f"btvl1 returned {done['outputs']} frames for {len(paths)} inputs")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"config": config, "frames": frames, "done": done, "process_wall_seconds": wall,
            "cpu_seconds": cpu, "load_before": load, "load_after": os.getloadavg()[0],
            "command": " ".join(os.path.relpath(c, ROOT) if os.path.isabs(c) else c
                                for c in cmd[:10]) + " ..."}


def region(img, border):
    return img[border:img.shape[0] - border, border:img.shape[1] - border]


def score(gt, sr_region, border, scale):
    """Scores of ``sr_region`` (already the common region) against the ground truth.

    ``nominal``: at the geometric position (HR pixel (border, border) of the frame);
    ``best_shift``: the integer shift (dy, dx) of the ground-truth window within
    +-MAX_SHIFT that maximises Y-PSNR (a diagnostic for outputs offset by a pixel or so).
    """
    h, w = sr_region.shape[:2]
    nominal = y_psnr_ssim(gt[border:border + h, border:border + w], sr_region, scale)
    best = None
    for dy in range(-MAX_SHIFT, MAX_SHIFT + 1):
        for dx in range(-MAX_SHIFT, MAX_SHIFT + 1):
            ref = gt[border + dy:border + dy + h, border + dx:border + dx + w]
            p = psnr(ref, sr_region, scale, luma=True)
            if best is None or p > best[0]:
                best = (p, dy, dx)
    return {"psnr": nominal[0], "ssim": nominal[1],
            "best_shift_psnr": best[0], "best_shift": [best[1], best[2]]}


def best_shift_luma_psnr(gt_y, sr_y, top, left, crop):
    """Best Y-PSNR over integer shifts of the GT window (luma arrays, MATLAB scale)."""
    h, w = sr_y.shape
    sr_c = sr_y[crop:h - crop, crop:w - crop]
    best = -np.inf
    for dy in range(-MAX_SHIFT, MAX_SHIFT + 1):
        for dx in range(-MAX_SHIFT, MAX_SHIFT + 1):
            ref = gt_y[top + dy + crop:top + dy + h - crop, left + dx + crop:left + dx + w - crop]
            mse = float(np.mean((ref - sr_c) ** 2))
            best = max(best, 10 * np.log10(255.0 ** 2 / mse) if mse else np.inf)
    return best


def check_mapping(out_rgb, gt_all, idx, border, scale, radius):
    """Which input frame an OpenCV output shows: best-shift Y-PSNR of the output against
    the GT of inputs idx + d, d in [-radius, radius] (the shift search keeps a one-pixel
    offset of the output from hiding the right frame)."""
    sr_y = matlab_luma(np.clip(out_rgb / 255.0, 0, 1))
    table = {}
    for d in range(-radius, radius + 1):
        if 0 <= idx + d < len(gt_all):
            gt_y = matlab_luma(gt_all[idx + d] / 255.0)
            table[d] = best_shift_luma_psnr(gt_y, sr_y, border, border, scale)
    best = max(table, key=table.get)
    # Identical consecutive GT frames (the video repeats some) give ties; accept them.
    ok = table[0] >= table[best] - 1e-6
    return {"best_shift_psnr_by_delay": {str(k): v for k, v in table.items()},
            "best_delay": best, "delay_0_is_best": bool(ok)}


def mfsr_warmup(lr_window, scale):
    """One call on a small crop so that JIT compilation is not timed."""
    crop = np.ascontiguousarray(lr_window[:, :48, :64])
    t0 = time.perf_counter()
    mfsr.reconstruct(crop, scale, degradation="BD")
    return time.perf_counter() - t0


def git_commit():
    """Short commit of the checkout, with "+dirty" when mfsr/ has uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "mfsr"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def mean(values):
    return float(np.mean(values))


def run(args):
    seq = os.path.join(args.data, args.sequence)
    targets = list(range(args.first, args.first + args.frames))
    inputs = list(range(args.first - args.radius, targets[-1] + args.radius + 1))
    if inputs[0] < 0:
        raise SystemExit(f"--first must be >= --radius ({args.radius}) for a full window")
    lr_paths, lr = load_frames(os.path.join(seq, args.lr), inputs)
    _, gt_all = load_frames(os.path.join(seq, "GT"), inputs)
    pos = {t: inputs.index(t) for t in targets}
    scale = args.scale

    # --- mfsr: one 2R+1 window per target frame, reference = its middle frame -----------
    # Timed once before and once after the OpenCV runs (the mean is reported), so that a
    # change of machine load during the run does not favour either side.
    windows = {t: lr[pos[t] - args.radius:pos[t] + args.radius + 1] for t in targets}
    warmup = mfsr_warmup(windows[targets[0]], scale)

    def mfsr_pass(label):
        out, wall, cpu, load = {}, [], [], [os.getloadavg()[0]]
        for t in targets:
            c0, t0 = time.process_time(), time.perf_counter()
            out[t] = mfsr.reconstruct(windows[t], scale, degradation="BD")
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            print(f"[mfsr, {label}] frame {t}: {wall[-1]:.2f} s", flush=True)
        load.append(os.getloadavg()[0])
        return out, wall, cpu, load

    passes = [mfsr_pass("before OpenCV")]

    # --- OpenCV BTV-L1: one run per iteration count over all input frames ----------------
    work = args.workdir or tempfile.mkdtemp(prefix="btvl1_")
    opencv = {}
    for iters in args.iterations:
        out_dir = os.path.join(work, f"it{iters}")
        os.makedirs(out_dir, exist_ok=True)
        print(f"[opencv] {iters} iterations over {len(inputs)} frames ...", flush=True)
        opencv[iters] = run_btvl1(args.binary, lr_paths, out_dir, args, iters)
        print(f"[opencv] {iters} iterations: {opencv[iters]['done']['seconds_per_output']:.2f}"
              " s per output frame", flush=True)
    if args.mfsr_passes > 1:
        passes.append(mfsr_pass("after OpenCV"))
    mfsr_out = passes[0][0]
    mfsr_wall = [x for p in passes for x in p[1]]
    mfsr_cpu = [x for p in passes for x in p[2]]
    mfsr_load = [x for p in passes for x in p[3]]
    same = all(np.array_equal(passes[0][0][t], p[0][t]) for p in passes for t in targets)

    border = opencv[args.iterations[0]]["config"]["btv_kernel"]
    results = {"bicubic": {"frames": {}}, "bicubic_phase0": {"frames": {}},
               "mfsr": {"frames": {}}}
    for t in targets:
        gt = gt_all[pos[t]]
        bic = cv2.resize(lr[pos[t]], None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        results["bicubic"]["frames"][t] = score(gt, region(bic, border), border, scale)
        bic0 = mfsr.upsample(lr[pos[t]].astype(np.float32) / 255, scale, 0.0, method="bicubic")
        results["bicubic_phase0"]["frames"][t] = score(gt, region(bic0, border), border, scale)
        results["mfsr"]["frames"][t] = score(gt, region(mfsr_out[t], border), border, scale)
    results["mfsr"].update(seconds_per_frame=mean(mfsr_wall), cpu_seconds_per_frame=mean(mfsr_cpu),
                           seconds_by_frame=mfsr_wall, warmup_seconds=warmup,
                           passes=len(passes), passes_identical_output=bool(same),
                           load_before_after=[mfsr_load[0], mfsr_load[-1]],
                           load_by_pass=mfsr_load,
                           call=f'mfsr.reconstruct(frames_rgb[t-{args.radius}:t+{args.radius + 1}]'
                                f', {scale}, degradation="BD")')

    for iters, run_ in opencv.items():
        name = f"opencv_btvl1_{iters}"
        entry = {"frames": {}, "mapping_check": {}}
        for t in targets:
            ev = run_["frames"][pos[t]]
            out = read_rgb(ev["path"])
            expect = (gt_all[0].shape[0] - 2 * border, gt_all[0].shape[1] - 2 * border)
            if out.shape[:2] != expect:
                raise RuntimeError(f"OpenCV output {out.shape[:2]} != expected {expect}")
            entry["frames"][t] = score(gt_all[pos[t]], out, border, scale)
            entry["mapping_check"][t] = check_mapping(out, gt_all, pos[t], border, scale,
                                                      args.radius)
        done = run_["done"]
        entry.update(
            iterations=iters, seconds_per_frame=done["seconds_per_output"],
            cpu_seconds_per_frame=run_["cpu_seconds"] / done["outputs"],
            total_seconds=done["total_seconds"], outputs=done["outputs"],
            seconds_by_call=[f["seconds"] for f in run_["frames"]],
            load_before_after=[run_["load_before"], run_["load_after"]],
            config=run_["config"], command=run_["command"])
        results[name] = entry

    bic_psnr = mean([v["psnr"] for v in results["bicubic"]["frames"].values()])
    for name, entry in results.items():
        fr = entry["frames"].values()
        entry.update(psnr=mean([v["psnr"] for v in fr]), ssim=mean([v["ssim"] for v in fr]),
                     best_shift_psnr=mean([v["best_shift_psnr"] for v in fr]),
                     gain_over_bicubic_db=mean([v["psnr"] for v in fr]) - bic_psnr)
    ref_name = f"opencv_btvl1_{max(args.iterations)}"
    for name, entry in results.items():
        if "seconds_per_frame" in entry:
            entry["speedup_vs_" + ref_name] = (results[ref_name]["seconds_per_frame"]
                                               / entry["seconds_per_frame"])
            entry["cpu_speedup_vs_" + ref_name] = (results[ref_name]["cpu_seconds_per_frame"]
                                                   / entry["cpu_seconds_per_frame"])
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return {"targets": targets, "inputs": inputs, "border": border, "reference": ref_name,
            "results": results}


def opencv_blur_sigma(cfg):
    """The sigma OpenCV's GaussianBlur uses (sigma <= 0 means: derived from the size)."""
    if cfg["blur_sigma"] > 0:
        return cfg["blur_sigma"]
    return 0.3 * ((cfg["blur_ksize"] - 1) * 0.5 - 1) + 0.8


def fmt(x, nd=2):
    return "" if x is None else f"{x:.{nd}f}"


def markdown(report):
    a = report["args"]
    res = report["results"]
    ref = report["reference"]
    targets = report["targets"]
    border = report["border"]
    ocv_cfg = res[ref]["config"]
    h, w = report["gt_shape"]
    lines = [
        "# OpenCV BTV-L1 and mfsr side by side",
        "",
        "Generated by `benchmarks/compare_btvl1.py`; every figure below was measured in one "
        f"run on {report['date']} (mfsr commit `{report['mfsr_commit']}`). Refresh with:",
        "",
        "```sh",
        "sh benchmarks/baselines/build_btvl1.sh   # apt-get install libopencv-superres-dev, g++",
        report["command"],
        "```",
        "",
        f"Data: `{a['sequence']}/{a['lr']}` (x{a['scale']}, Gaussian blur sigma 1.6 then "
        f"`[::4, ::4]`), {h}x{w} ground truth, scored frames {targets[0]}..{targets[-1]} "
        f"(input frames {report['inputs'][0]}..{report['inputs'][-1]}).",
        "",
        f"- **OpenCV** {ocv_cfg['opencv']} `createSuperResolution_BTVL1` "
        f"(C++ harness `benchmarks/baselines/btvl1.cpp`): temporal radius {a['radius']}, "
        f"{a['flow']} flow, lambda {ocv_cfg['lambda']}, tau {ocv_cfg['tau']}, alpha "
        f"{ocv_cfg['alpha']}, BTV kernel {ocv_cfg['btv_kernel']}, blur "
        f"{ocv_cfg['blur_ksize']}x{ocv_cfg['blur_ksize']} Gaussian, sigma "
        f"{opencv_blur_sigma(ocv_cfg):.2f} HR pixels (the data's blur is 1.6; OpenCV's "
        "defaults are kept), "
        f"{ocv_cfg['threads']} threads; one run over all {len(report['inputs'])} input frames "
        "per iteration count.",
        f"- **mfsr**: `{res['mfsr']['call']}` with every default (method, registration, "
        "backend), one call per scored frame, RGB input.",
        "- **bicubic**: `cv2.resize(lr, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)` of "
        "the frame itself; **bicubic, phase 0**: `mfsr.upsample(lr, 4, 0.0)`, the same "
        "interpolation with LR pixel i placed on HR pixel 4i as the BD data are made.",
        "",
        f"| method | Y-PSNR (dB) | SSIM | vs bicubic (dB) | best-shift Y-PSNR (dB) | "
        f"s / frame | CPU s / frame | speed vs {ref.replace('opencv_btvl1_', 'OpenCV ')} it. |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    order = ["bicubic", "bicubic_phase0"] + sorted((k for k in res if k.startswith("opencv")),
                                 key=lambda k: -res[k]["iterations"]) + ["mfsr"]
    for name in order:
        e = res[name]
        label = {"bicubic": "bicubic", "bicubic_phase0": "bicubic, phase 0",
                 "mfsr": "mfsr default"}.get(
            name, f"OpenCV BTV-L1, {e.get('iterations')} it.")
        gain = "" if name == "bicubic" else f"{e['gain_over_bicubic_db']:+.2f}"
        lines.append(
            f"| {label} | {fmt(e['psnr'])} | {fmt(e['ssim'], 4)} | {gain} | "
            f"{fmt(e['best_shift_psnr'])} | {fmt(e.get('seconds_per_frame'))} | "
            f"{fmt(e.get('cpu_seconds_per_frame'))} | "
            f"{fmt(e.get('speedup_vs_' + ref), 1) + 'x' if 'seconds_per_frame' in e else ''} |")
    m = res["mfsr"]
    speed = m["speedup_vs_" + ref]
    dpsnr = m["psnr"] - res[ref]["psnr"]
    lines += [
        "",
        f"Target (issue #6): mfsr's default >= 10x faster than OpenCV's "
        f"{res[ref]['iterations']}-iteration run at >= its Y-PSNR. This run: "
        f"**{speed:.1f}x** wall-clock ({m['cpu_speedup_vs_' + ref]:.1f}x CPU time), "
        f"**{dpsnr:+.2f} dB** -> speed target {'met' if speed >= 10 else 'not met'}, "
        f"quality target {'met' if dpsnr >= 0 else 'not met'}.",
        "",
        "Per frame (Y-PSNR dB, nominal alignment):",
        "",
        "| method | " + " | ".join(f"frame {t}" for t in targets) + " |",
        "| --- |" + " --- |" * len(targets),
    ]
    for name in order:
        fr = res[name]["frames"]
        lines.append(f"| {name} | " + " | ".join(fmt(fr[t]['psnr']) for t in targets) + " |")
    checks = [c for k in res if k.startswith("opencv") for c in res[k]["mapping_check"].values()]
    all_ok = all(c["delay_0_is_best"] for c in checks)
    shifts = {name: sorted({tuple(v["best_shift"]) for v in res[name]["frames"].values()})
              for name in order}
    lines += [
        "",
        "## How the outputs are compared",
        "",
        f"- **Region.** OpenCV returns the HR frame without a border of `btv_kernel` = "
        f"{border} HR pixels on every side (`Rect inner(btvKernelSize_, ...)` at the end of "
        f"`BTVL1_Base::process`): {h - 2 * border}x{w - 2 * border} for a {h}x{w} frame. "
        f"Every method is scored on that common centred region (HR rows/columns "
        f"{border}..{h - border - 1} and {border}..{w - border - 1} of the frame) with "
        f"`mfsr.metrics.y_psnr_ssim(gt_region, sr_region, {a['scale']})`, i.e. the project's "
        f"convention (Y of BT.601, MATLAB scaling) with its {a['scale']}-pixel crop applied "
        f"inside the region: {border + a['scale']} pixels off each side of the full frame in "
        "all. Bicubic here is therefore not exactly the 4-pixel-crop figure of "
        "`../shared/data/README.md`.",
        f"- **Which frame is which.** OpenCV's BTV-L1 is a pipeline: the first `nextFrame()` "
        f"reads 2R+2 frames and reconstructs R+2 of them, and the last R calls only return "
        "frames already made, so the temporal radius R is latency; the k-th output is the "
        "reconstruction of the k-th input (its window is [k-R, k+R], [0, 2R] for k < R and "
        "shortened at the end of the list, so the script feeds R extra frames on each "
        "side). Checked on "
        "every scored frame: Y-PSNR (best shift, see below) of the output against the GT of "
        "input k+d, "
        f"d = -{a['radius']}..{a['radius']}, is highest at d = 0 "
        f"({'all frames' if all_ok else 'NOT on every frame, see the JSON'}; "
        "the video repeats some frames, so ties with a neighbour are allowed).",
        f"- **Alignment.** `best-shift Y-PSNR` moves the GT window by up to +-{MAX_SHIFT} "
        "HR pixels and keeps the best score, as a diagnostic of sub-pixel registration "
        "conventions. Best shifts (dy, dx) found: "
        + "; ".join(f"{n}: {', '.join(str(s) for s in v)}" for n, v in shifts.items())
        + ". BD data put LR pixel i at HR pixel 4i (phase 0) and `INTER_CUBIC` assumes "
        "4i + 1.5, so bicubic is offset; OpenCV starts its iterations from that bicubic "
        "image and models decimation as `INTER_NEAREST` (phase 0), so a shift left in its "
        "output comes from the start image. The headline columns use the nominal "
        "alignment. Measured against phase-0 bicubic instead of `cv2.resize`, the gains are "
        + ", ".join(f"{n}: {res[n]['psnr'] - res['bicubic_phase0']['psnr']:+.2f} dB"
                    for n in order[2:]) + ".",
        "- **Timing.** Wall-clock seconds per output frame, measured in the same run, "
        "after one mfsr warm-up call on a 48x64 crop "
        f"({m['warmup_seconds']:.1f} s, so JIT compilation is not counted). mfsr: the mean "
        "time of `reconstruct` per scored frame (registration of the window included), "
        + ("over one pass before and one after the OpenCV runs. " if m["passes"] > 1
           else "one pass before the OpenCV runs. ") +
        "OpenCV: the total time inside `nextFrame()` (flow included, PNG writing excluded) "
        "divided by the number of outputs; it reconstructs every input frame once, the last "
        "R with shorter windows, so this slightly flatters OpenCV, and its optical flow is "
        "computed once per frame pair and shared by the windows. CPU s / frame is user+sys "
        "time of the process (both use several threads).",
        "- **Noise.** The machine has 2 CPU cores shared with other jobs, so absolute times "
        "vary from run to run; only ratios from the same run are meaningful, and the CPU-time "
        "ratio is the steadier of the two (under load each process gets a varying share of "
        "the cores, which stretches wall-clock time more than CPU time). 1-minute load "
        "average before/after each measurement: "
        + "; ".join(f"{n}: {res[n]['load_before_after'][0]:.1f}/"
                    f"{res[n]['load_before_after'][1]:.1f}"
                    for n in order if "load_before_after" in res[n])
        + f". Machine: {report['machine']['platform']}, {report['machine']['cpus']} CPUs.",
        "",
        "Raw numbers (per frame, per call, configuration): "
        "`benchmarks/results/btvl1_compare.json`.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="folder holding the sequences")
    p.add_argument("--sequence", default="bigbuckbunny")
    p.add_argument("--lr", default="BDx4", help="LR folder inside the sequence")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--first", type=int, default=3, help="first scored frame")
    p.add_argument("--frames", type=int, default=3, help="number of scored frames")
    p.add_argument("--radius", type=int, default=3,
                   help="temporal radius: OpenCV's, and mfsr's window is 2R+1 frames")
    p.add_argument("--iterations", type=int, nargs="+", default=[180, 10],
                   help="OpenCV BTV-L1 iteration counts (the largest is the speed reference)")
    p.add_argument("--flow", default="farneback", choices=["farneback", "tvl1", "dual_tvl1"])
    p.add_argument("--mfsr-passes", type=int, default=2, choices=[1, 2],
                   help="time mfsr before OpenCV only (1) or before and after (2)")
    p.add_argument("--binary", default=DEFAULT_BINARY, help="the btvl1 harness")
    p.add_argument("--workdir", help="keep OpenCV's output frames here (default: temporary)")
    p.add_argument("--out", default=os.path.join(HERE, "results", "btvl1_compare.json"))
    p.add_argument("--md", default=os.path.join(ROOT, "docs", "btvl1.md"),
                   help="markdown report ('' to skip)")
    p.add_argument("--from-json", metavar="JSON",
                   help="measure nothing: rewrite --md from a results file of an earlier run")
    args = p.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as f:
            report = json.load(f)
        for entry in report["results"].values():  # JSON object keys are strings
            for key in ("frames", "mapping_check"):
                if key in entry:
                    entry[key] = {int(k): v for k, v in entry[key].items()}
        with open(args.md, "w") as f:
            f.write(markdown(report))
        print(f"wrote {os.path.relpath(args.md, ROOT)} from {args.from_json}")
        return
    if args.frames < 1 or args.radius < 0 or args.scale < 2 or min(args.iterations) < 1:
        p.error("need --frames >= 1, --radius >= 0, --scale >= 2, --iterations >= 1")
    if not os.path.isdir(os.path.join(args.data, args.sequence)):
        p.error(f"sequence folder {os.path.join(args.data, args.sequence)} not found")
    if not os.access(args.binary, os.X_OK):
        if args.binary != DEFAULT_BINARY:
            p.error(f"{args.binary} is not an executable")
        print(f"building {os.path.relpath(args.binary, ROOT)} ...", flush=True)
        subprocess.run(["sh", BUILD_SCRIPT], check=True)

    t0 = time.time()
    report = run(args)
    gt_shape = cv2.imread(os.path.join(args.data, args.sequence, "GT",
                                       sorted(os.listdir(os.path.join(
                                           args.data, args.sequence, "GT")))[0])).shape[:2]
    cmd = ["python", "benchmarks/compare_btvl1.py"] + (sys.argv[1:] if argv is None else argv)
    report.update(command=" ".join(cmd), args=vars(args), gt_shape=list(gt_shape),
                  mfsr=mfsr.__version__, mfsr_commit=git_commit(),
                  date=time.strftime("%Y-%m-%d %H:%M"), total_seconds=time.time() - t0,
                  machine={"platform": platform.platform(), "cpus": os.cpu_count()})
    res = report["results"]
    print("\n| method | Y-PSNR | SSIM | vs bicubic | best-shift | s/frame |")
    for name, e in res.items():
        print(f"| {name} | {e['psnr']:.2f} | {e['ssim']:.4f} | {e['gain_over_bicubic_db']:+.2f}"
              f" | {e['best_shift_psnr']:.2f} | {fmt(e.get('seconds_per_frame'))} |")
    ref = report["reference"]
    print(f"mfsr speed-up vs {ref}: {res['mfsr']['speedup_vs_' + ref]:.1f}x, "
          f"Y-PSNR difference {res['mfsr']['psnr'] - res[ref]['psnr']:+.2f} dB")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1, default=float)
    print(f"wrote {os.path.relpath(args.out, ROOT)}")
    if args.md:
        with open(args.md, "w") as f:
            f.write(markdown(report))
        print(f"wrote {os.path.relpath(args.md, ROOT)}")


if __name__ == "__main__":
    main()

"""Real-motion benchmark (issue 24): today's default beside the new one on the same frames.

On the real-motion development set (``benchmarks/realmotion``, built outside the
repository) and on the shared bigbuckbunny BD set it measures, per clip and degradation:

- Y-PSNR (BT.601 Y, MATLAB scaling, 4-px crop) of the video job's output frames and
  their gain over the fair bicubic: on the BD grid for BDx4 (LR pixel i at HR 4i:
  ``mfsr.upsample(lr, 4, phase=0)``), MATLAB's bicubic (``mfsr.degradation.imresize``)
  for BIx4; plain ``cv2.resize`` bicubic as a second line (1.5 HR px off the BD grid);
- quality against temporal reach: today's windows of 3, 5, 7, 15, 31 frames and the new
  recursion reaching 3, 5, 7, 15, 31 frames and the whole clip, on a few target frames;
- the output's own energy at the x4 grid frequencies against the ground truth's
  (:func:`mfsr.metrics.grid_energy`: the mesh);
- CPU seconds per output frame at 720x576 (180x144 LR), today's job and the new one
  interleaved in one run.

"Today" is another checkout of mfsr (``--today``, e.g. a ``git worktree`` of the
commit before this work), run in a subprocess with that checkout first on the path;
its outputs, like the new ones, are cached as 16-bit PNGs in ``--cache``, so a killed
run continues where it stopped.

    python benchmarks/real_motion.py --today /work/wt-today --out benchmarks/results/real_motion.json \\
        --figure docs/images/real_motion_reach.png --crops docs/images/real_motion_crops.png
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = "/work/devdata/realmotion"
SHARED = os.path.join(HERE, "..", "..", "shared", "data")
SCALE = 4
REACHES = (3, 5, 7, 15, 31)


# ---------------------------------------------------------------- producing outputs

def _folder(cache, config, clip, deg):
    return os.path.join(cache, config, clip, deg)


def produce(config, source, deg, out, targets):
    """Write the frames of ``config`` (one of :func:`configs`) for ``source`` to ``out``
    (16-bit PNGs named like the input's), with this process's mfsr; frames already
    there are kept. ``targets``: the frames a reach configuration computes."""
    import mfsr
    from mfsr.io import write_image
    os.makedirs(out, exist_ok=True)
    names = sorted(f for f in os.listdir(source) if f.endswith(".png"))
    preset = "BD" if deg.startswith("BD") else "BI"
    kind, _, value = config.partition(":")
    todo = [t for t in (targets if kind != "job" else range(len(names)))
            if not os.path.exists(os.path.join(out, names[t]))]
    if not todo:
        return
    if kind == "job":           # the job's default (window None), or window K
        window = None if value == "default" else int(value)
        for t, hr in enumerate(mfsr.reconstruct_video(source, SCALE, window,
                                                      degradation=preset)):
            write_image(os.path.join(out, names[t]), hr, 16)
        return
    if config == "reach:clip":  # one whole-clip job gives every target (same passes)
        for t, hr in enumerate(mfsr.reconstruct_video(source, SCALE, start=min(todo),
                                                      end=max(todo) + 1, reach="clip",
                                                      degradation=preset), min(todo)):
            if t in todo:
                write_image(os.path.join(out, names[t]), hr, 16)
        return
    for t in todo:              # one output frame, with the given reach or window
        if kind == "window":
            kw = {"window": int(value)}
        else:
            kw = {"reach": value if value == "clip" else int(value)}
        hr = next(iter(mfsr.reconstruct_video(source, SCALE, start=t, end=t + 1,
                                              degradation=preset, **kw)))
        write_image(os.path.join(out, names[t]), hr, 16)


def run_config(args, config, clip, deg, targets, today=False):
    """Produce ``config``'s outputs (in a subprocess on ``--today``'s checkout for
    today's), cached; returns the seconds it took (0 when all were cached)."""
    source = os.path.join(args.data if clip != "bigbuckbunny" else SHARED, clip, deg)
    out = _folder(args.cache, ("today-" if today else "new-") + config, clip, deg)
    t0 = time.time()
    if today:
        env = dict(os.environ, PYTHONPATH=os.path.abspath(args.today))
        subprocess.run([sys.executable, os.path.abspath(__file__), "--produce", config,
                        source, deg, out, json.dumps(list(targets))], env=env, check=True)
    else:
        produce(config, source, deg, out, targets)
    return time.time() - t0


# ---------------------------------------------------------------- measuring

def load(folder, indices=None, names=None):
    """Frames ``indices`` (default all) of a folder of PNGs as float RGB; ``names``: the
    clip's file names (a folder may hold only some of the clip's frames)."""
    names = names or sorted(f for f in os.listdir(folder) if f.endswith(".png"))
    indices = range(len(names)) if indices is None else indices
    out = {}
    for t in indices:
        im = cv2.imread(os.path.join(folder, names[t]), cv2.IMREAD_UNCHANGED)
        out[t] = im[..., ::-1].astype(np.float32) / (65535.0 if im.dtype == np.uint16 else 255.0)
    return out


def fair_bicubic(lr, deg):
    import mfsr
    if deg.startswith("BD"):
        return mfsr.upsample(lr, SCALE, 0.0)
    return np.clip(mfsr.degradation.imresize(lr.astype(np.float64), SCALE), 0, 1)


def scores(gt, outputs, lr, deg, targets):
    """Mean Y-PSNR of ``outputs`` over ``targets``, their gain over the fair bicubic and
    over plain cv2 bicubic, and the mean grid energy of output and ground truth."""
    from mfsr.metrics import grid_energy, y_psnr_ssim
    psnr, fair, plain, own, gt_own = [], [], [], [], []
    for t in targets:
        p = y_psnr_ssim(gt[t], outputs[t], SCALE)[0]
        psnr.append(p)
        fair.append(p - y_psnr_ssim(gt[t], fair_bicubic(lr[t], deg), SCALE)[0])
        bic = cv2.resize(lr[t], None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_CUBIC)
        plain.append(p - y_psnr_ssim(gt[t], bic, SCALE)[0])
        own.append(grid_energy(outputs[t], SCALE))
        gt_own.append(grid_energy(gt[t], SCALE))
    return {"psnr": float(np.mean(psnr)), "gain": float(np.mean(fair)),
            "gain_plain_bicubic": float(np.mean(plain)), "worst_frame_gain": float(min(fair)),
            "grid_energy": float(np.mean(own)), "gt_grid_energy": float(np.mean(gt_own)),
            "grid_ratio": float(np.mean(own) / np.mean(gt_own))}


def evaluate(args, clip, deg):
    root = os.path.join(args.data if clip != "bigbuckbunny" else SHARED, clip)
    gt = load(os.path.join(root, "GT"))
    lr = load(os.path.join(root, deg))
    n = len(gt)
    targets = list(range(3, n - 3))               # every frame with a full 7-window
    reach_targets = list(range(8, n - 7, 6))      # a few frames, for the reach sweep
    result = {"frames": targets, "reach_frames": reach_targets}
    jobs = [("job:5", True), ("job:7", True), ("job:5", False), ("job:default", False)]
    if clip == "bigbuckbunny":
        jobs = [("job:7", True), ("job:default", False)]
    for config, today in jobs:
        seconds = run_config(args, config, clip, deg, targets, today)
        out = load(_folder(args.cache, ("today-" if today else "new-") + config, clip, deg))
        name = ("today " if today else "new ") + config.split(":")[1]
        result[name] = scores(gt, out, lr, deg, targets)
        if seconds:
            result[name]["seconds_per_frame_this_run"] = seconds / n
        print(f"[{clip} {deg}] {name}: {result[name]['psnr']:.3f} dB, gain "
              f"{result[name]['gain']:+.3f} (plain bicubic {result[name]['gain_plain_bicubic']:+.3f}),"
              f" grid {result[name]['grid_ratio']:.2f}x GT", flush=True)
    if args.reach and clip != "bigbuckbunny" and (args.reach_clips is None
                                                  or clip in args.reach_clips):
        sweeps = {"today windows": [(f"window:{r}", r, True) for r in REACHES],
                  "new reach": [(f"reach:{r}", r, False) for r in REACHES]
                  + [("reach:clip", "clip", False)]}
        for label, rows in sweeps.items():
            result[label] = {}
            for config, reach, today in rows:
                run_config(args, config, clip, deg, reach_targets, today)
                out = load(_folder(args.cache, ("today-" if today else "new-") + config,
                                   clip, deg), reach_targets,
                           sorted(f for f in os.listdir(os.path.join(root, "GT"))
                                  if f.endswith(".png")))
                result[label][str(reach)] = scores(gt, out, lr, deg, reach_targets)["psnr"]
            print(f"[{clip} {deg}] {label}: " + ", ".join(
                f"{k}: {v:.3f}" for k, v in result[label].items()), flush=True)
    return result


# ---------------------------------------------------------------- timing

def timing(args):
    """Seconds per output frame at 720x576 (LR 144x180, bigbuckbunny BDx4 crops, 12
    frames), today's default job and the new one, interleaved, best of ``--repeat``."""
    import tempfile
    src = os.path.join(SHARED, "bigbuckbunny", "BDx4")
    names = sorted(os.listdir(src))[:12]
    folder = tempfile.mkdtemp(prefix="mfsr-timing-")
    lrdir = os.path.join(folder, "lr")
    os.makedirs(lrdir)
    for name in names:
        im = cv2.imread(os.path.join(src, name))
        cv2.imwrite(os.path.join(lrdir, name), im[18:162, 70:250])
    best = {"today": [], "new": []}
    for _ in range(args.repeat):
        for who in ("today", "new"):
            code = ("import time, sys, mfsr\n"
                    f"list(mfsr.reconstruct_video({lrdir!r}, 4, end=2, degradation='BD'))\n"
                    "t0 = time.perf_counter()\n"
                    f"n = sum(1 for _ in mfsr.reconstruct_video({lrdir!r}, 4, "
                    "degradation='BD'))\n"
                    "print((time.perf_counter() - t0) / n)")
            env = dict(os.environ)
            if who == "today":
                env["PYTHONPATH"] = os.path.abspath(args.today)
            res = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                 capture_output=True, text=True, cwd=folder)
            best[who].append(float(res.stdout.strip().splitlines()[-1]))
            print(f"timing {who}: {best[who][-1]:.3f} s/frame (load "
                  f"{open('/proc/loadavg').read().split()[0]})", flush=True)
    return {"today_seconds_per_frame": min(best["today"]), "new_seconds_per_frame":
            min(best["new"]), "ratio": min(best["new"]) / min(best["today"]),
            "all": best, "size": "180x144 LR -> 720x576, 12 frames, BD x4, CPU (Numba)"}


# ---------------------------------------------------------------- figures

def reach_figure(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    clips = [c for c in results if c != "bigbuckbunny"
             and any("new reach" in r for r in results[c].values())]
    degs = sorted({d for c in clips for d in results[c] if "new reach" in results[c][d]})
    fig, axes = plt.subplots(len(degs), len(clips), figsize=(3 * len(clips), 2.6 * len(degs)),
                             squeeze=False)
    for i, deg in enumerate(degs):
        for j, clip in enumerate(clips):
            r = results[clip][deg]
            ax = axes[i, j]
            xs = list(range(len(REACHES)))
            ax.plot(xs, [r["today windows"][str(k)] for k in REACHES], "o-", label="today (window)")
            ax.plot(xs + [len(REACHES)], [r["new reach"][str(k)] for k in REACHES]
                    + [r["new reach"]["clip"]], "s-", label="new (recursion)")
            ax.set_xticks(xs + [len(REACHES)], [str(k) for k in REACHES] + ["clip"])
            ax.set_title(f"{clip} {deg}", fontsize=9)
            if j == 0:
                ax.set_ylabel("Y-PSNR (dB)")
            if i == len(degs) - 1:
                ax.set_xlabel("frames reached")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def crops_figure(args, clip, deg, frame, path, size=128):
    """bicubic (fair) | today (window 5 job) | new | ground truth, 3x nearest zoom, on
    the ``size``-px square where today's output errs most; returns its box."""
    root = os.path.join(args.data, clip)
    gt = load(os.path.join(root, "GT"), [frame])[frame]
    lr = load(os.path.join(root, deg), [frame])[frame]
    today = load(_folder(args.cache, "today-job:5", clip, deg), [frame])[frame]
    new = load(_folder(args.cache, "new-job:default", clip, deg), [frame])[frame]
    err = cv2.blur(np.abs(today - gt).mean(axis=-1), (size, size))
    h, w = err.shape
    half = size // 2
    inner = err[half:h - half, half:w - half]
    y, x = np.unravel_index(np.argmax(inner), inner.shape)
    panels = [fair_bicubic(lr, deg), today, new, gt]
    row = np.concatenate([np.clip(p[y:y + size, x:x + size], 0, 1) for p in panels], axis=1)
    row = cv2.resize((row * 255).round().astype(np.uint8), None, fx=3, fy=3,
                     interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(path, row[..., ::-1])
    return [int(y), int(x), size]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--produce":
        config, source, deg, out, targets = argv[1:6]
        produce(config, source, deg, out, json.loads(targets))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="the development set's folder")
    p.add_argument("--today", required=True, help="checkout of today's mfsr (its repo root)")
    p.add_argument("--cache", default="/tmp/mfsr-real-motion", help="outputs cached here")
    p.add_argument("--clips", nargs="*", help="clips (default: all in --data)")
    p.add_argument("--degradations", nargs="+", default=["BDx4", "BIx4"])
    p.add_argument("--no-reach", dest="reach", action="store_false",
                   help="skip the quality-against-reach sweep")
    p.add_argument("--reach-clips", nargs="*",
                   help="clips of the reach sweep (default: all the clips)")
    p.add_argument("--no-bigbuckbunny", dest="bbb", action="store_false")
    p.add_argument("--no-timing", dest="timing", action="store_false")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--out", help="write the results as JSON here")
    p.add_argument("--figure", help="quality-against-reach plot (PNG)")
    p.add_argument("--crops", help="crops of the hardest clip: bicubic | today | new | GT")
    args = p.parse_args(argv)
    sys.path.insert(0, HERE)
    from results_io import run_record, write_json
    t0 = time.time()
    clips = args.clips or sorted(c for c in os.listdir(args.data)
                                 if os.path.isdir(os.path.join(args.data, c)))
    results = {}
    for clip in clips:
        results[clip] = {deg: evaluate(args, clip, deg) for deg in args.degradations}
    if args.bbb:
        results["bigbuckbunny"] = {"BDx4": evaluate(args, "bigbuckbunny", "BDx4")}
    summary = {}
    for deg in args.degradations:
        for name in ("today 5", "today 7", "new 5", "new default"):
            summary[f"{deg} {name}"] = float(np.mean([results[c][deg][name]["gain"]
                                                      for c in clips]))
        print(f"{deg}: mean gain over the fair bicubic: " + ", ".join(
            f"{k.split(' ', 1)[1]} {v:+.3f}" for k, v in summary.items() if k.startswith(deg)))
    record = {"summary": summary, "clips": results}
    if args.timing:
        record["timing"] = timing(args)
        print(f"timing: today {record['timing']['today_seconds_per_frame']:.3f}, new "
              f"{record['timing']['new_seconds_per_frame']:.3f} s/frame, ratio "
              f"{record['timing']['ratio']:.2f}")
    if args.figure and args.reach:
        reach_figure(results, args.figure)
    if args.crops:
        hardest = min(clips, key=lambda c: results[c]["BDx4"]["new default"]["gain"])
        box = crops_figure(args, hardest, "BDx4", 20, args.crops)
        record["crops"] = {"clip": hardest, "frame": 20, "box (y, x, size)": box}
    if args.out:
        write_json(args.out, run_record(__file__, args, record, t0))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

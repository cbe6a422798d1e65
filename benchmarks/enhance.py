"""Exposure/colour enhancement benchmark: distortions before the BD x4 degradation, SR,
and how much of the colour error ``mfsr.grading.enhance`` takes away (CIEDE2000).

Each case distorts the ground-truth frames of ``bigbuckbunny`` (``--data``/bigbuckbunny/GT,
30 frames of 720x1280) in linear light: the sRGB EOTF (IEC 61966-2-1, the coding
``mfsr.grading.enhance`` assumes), linear RGB times ``2**EV`` and the colour gains (R, G, B),
clipped to [0, 1], coded again with the inverse EOTF. The grid: exposure -1.5, -0.75,
+0.5 EV and gains (1.15, 1, 0.9), (0.9, 1, 1.15), alone (5 cases) and combined (6), plus
the undistorted case. Each distorted sequence is degraded like ``BDx4``
(``mfsr.simulate_sequence(..., degradation="BD", bits=8)``: Gaussian blur sigma 1.6 HR px
per channel, mode reflect, ``[::4, ::4]``, rounded to 8 bits; on the undistorted frames it
gives ``BDx4`` exactly) and super-resolved with ``mfsr.reconstruct(window, scale=4,
degradation="BD")`` on 5-frame windows around the target frames. Compared, per case and
target frame, with (a) the SR of the undistorted LR frames (the reference):

- (b) the SR of the distorted LR frames, no enhancement;
- (c) enhancement before SR: ``mfsr.grading.enhance`` on the 30 LR frames (per-frame estimates,
  shot cuts, ``temporal_params`` with ``--radius``), then SR;
- (c') enhancement after SR: the same parameters (estimated on the LR frames) applied to
  the SR output (b).

Metric: mean CIEDE2000 (``colour.delta_E(..., method="CIE 2000")``) between Lab images
(``colour.sRGB_to_XYZ`` then ``colour.XYZ_to_Lab``, D65), 8-pixel border cropped.

Also measured on the LR frames, no SR (parameters from all 30 frames, colour errors on
every ``LR_STEP``-th frame, ``CROP // 4`` LR pixels cropped): the variants of the
estimator (``VARIANTS``: white-balance methods, module constants changed, no dead zone,
no temporal smoothing) and the exact inverse of each distortion (what clipping leaves);
the frame-to-frame change of the parameters over the 30 frames, temporal against
independent per-frame estimates, for several radii; the same grid on a second sequence
(``--second``, default ``carphone_pristine``, LR only) and the shot-cut distances within
and between the two sequences. The figure ``--figure`` shows crops of (b), (c) and (a)
for three cases.

    python benchmarks/enhance.py --out benchmarks/results/enhance.json \\
        --figure docs/images/enhance_cases.png

SR results are cached in ``--cache`` (keyed by a hash of the LR window), so a rerun with
the same inputs skips the reconstructions.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_io import run_record, write_json  # noqa: E402

import mfsr  # noqa: E402
from mfsr.grading import enhance  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "..", "shared", "data")
EXPOSURES = (-1.5, -0.75, 0.5)
CASTS = ((1.15, 1.0, 0.9), (0.9, 1.0, 1.15))
TARGETS = (2, 7, 12, 17, 22, 27)
WINDOW = 5
CROP = 8          # HR pixels; LR-level errors crop CROP // 4 LR pixels
# estimator variants compared on the LR frames: name -> (keyword arguments of estimate,
# module constants of mfsr.grading.enhance set for the variant)
VARIANTS = {
    "default (grey_edge)": ({}, {}),
    "wb=shades_of_grey": ({"wb": "shades_of_grey"}, {}),
    "wb=grey_world": ({"wb": "grey_world"}, {}),
    "wb=white_patch": ({"wb": "white_patch"}, {}),
    "wb=none": ({"wb": "none"}, {}),
    "grey-edge p=2": ({}, {"GREY_EDGE_P": 2}),
    "grey-edge sigma=2": ({}, {"GREY_EDGE_SIGMA": 2.0}),
    "grey-edge without pixels near clipping (coded >= 0.98)": ({}, {"CLIP_LEVEL": 0.98}),
    "WHITE_TARGET = 0.9": ({}, {"WHITE_TARGET": 0.9}),
    "WB_DEAD_ZONE = (0.1, 0.15)": ({}, {"WB_DEAD_ZONE": (0.1, 0.15)}),
    "no dead zone": ({"dead_zone": False}, {}),
}
# LR-level colour errors are measured on every LR_STEP-th frame (parameters on all)
LR_STEP = 2
# temporal radii compared for the frame-to-frame change of the parameters
RADII = (0, 2, 6, 12)
# figure: (case name, frame) and the crop (y, x, h, w) of the HR frame
FIGURE_CASES = ("EV -1.5", "gains (0.9, 1, 1.15)", "EV -0.75 + gains (1.15, 1, 0.9)")
FIGURE_FRAME = 27
FIGURE_CROP = (210, 330, 240, 320)


def cases():
    """The grid: (name, EV, gains), undistorted first."""
    out = [("undistorted", 0.0, (1.0, 1.0, 1.0))]
    out += [(f"EV {ev:+g}".replace("+-", "-"), ev, (1.0, 1.0, 1.0)) for ev in EXPOSURES]
    out += [(f"gains {fmt_gains(g)}", 0.0, g) for g in CASTS]
    out += [(f"EV {ev:+g} + gains {fmt_gains(g)}", ev, g)
            for ev, g in itertools.product(EXPOSURES, CASTS)]
    return [(n.replace("EV +-", "EV -"), ev, g) for n, ev, g in out]


def fmt_gains(g):
    return "(" + ", ".join(f"{v:g}" for v in g) + ")"


def load_gt(folder):
    names = sorted(f for f in os.listdir(folder) if f.lower().endswith(".png"))
    if not names:
        raise SystemExit(f"no PNG frames in {folder}")
    return np.stack([cv2.imread(os.path.join(folder, n))[..., ::-1] for n in names])


def distort(gt, ev, gains):
    """Linear-light distortion of coded frames: sRGB EOTF, times 2**ev * gains, clip to
    [0, 1], inverse EOTF. Float32 in [0, 1]."""
    coded = gt.astype(np.float32) / 255
    if ev == 0 and tuple(gains) == (1.0, 1.0, 1.0):
        return coded
    g = (2.0 ** ev * np.asarray(gains)).astype(np.float32)
    return enhance.linear_to_srgb(np.clip(enhance.srgb_to_linear(coded) * g, 0, 1))


def bd_x4(hr):
    """The BDx4 degradation of a stack of HR frames, uint8."""
    sim = mfsr.simulate_sequence(hr, 4, degradation="BD", channel_axis=-1, bits=8)
    return np.round(sim.frames * 255).astype(np.uint8)


def lab(rgb, crop=CROP):
    import colour
    rgb = np.clip(np.asarray(rgb, np.float64), 0, 1)
    if crop:
        rgb = rgb[crop:-crop, crop:-crop]
    return colour.XYZ_to_Lab(colour.sRGB_to_XYZ(rgb))


def delta_e(lab_a, lab_b):
    import colour
    return float(np.mean(colour.delta_E(lab_a, lab_b, method="CIE 2000")))


def as_unit(a):
    return a.astype(np.float32) / 255 if a.dtype == np.uint8 else a.astype(np.float32)


class SRCache:
    """``mfsr.reconstruct`` of a window, cached on disk by the window's bytes."""

    def __init__(self, folder):
        self.folder = folder
        self.hits = self.misses = 0
        self.seconds = 0.0
        if folder:
            os.makedirs(folder, exist_ok=True)

    def __call__(self, window):
        window = np.ascontiguousarray(window)
        key = hashlib.sha1(window.tobytes() + str(window.dtype).encode()).hexdigest()[:20]
        path = os.path.join(self.folder, key + ".npy") if self.folder else None
        if path and os.path.exists(path):
            self.hits += 1
            return np.load(path).astype(np.float32)
        t0 = time.perf_counter()
        hr = np.asarray(mfsr.reconstruct(window, scale=4, degradation="BD"), np.float32)
        self.seconds += time.perf_counter() - t0
        self.misses += 1
        if path:
            np.save(path, hr.astype(np.float16))
            hr = hr.astype(np.float16).astype(np.float32)  # the same as a cache hit
        return hr


def sequence_params(lr, radius, **kwargs):
    """Per-frame estimates, cuts and temporal parameters of an LR sequence."""
    est = [enhance.estimate(f, **kwargs) for f in lr]
    cuts = enhance.detect_cuts([enhance.shot_feature(f) for f in lr])
    temporal = [enhance.temporal_params(est, t, radius, cuts) for t in range(len(lr))]
    return est, cuts, temporal


def param_changes(params):
    """Mean absolute frame-to-frame change of exposure (EV) and of log2 gains (stops,
    mean over R, G, B)."""
    ev = np.array([p.exposure for p in params])
    lg = np.log2(np.array([p.gains for p in params]))
    return float(np.abs(np.diff(ev)).mean()), float(np.abs(np.diff(lg, axis=0)).mean())


def window_of(t, n):
    start = min(max(t - WINDOW // 2, 0), n - WINDOW)
    return list(range(start, start + WINDOW))


def lr_errors(lr, lr_f, ref_lab_lr, est, temporal, radius, distortion):
    """Mean CIEDE2000 of the corrected LR frames against the undistorted ones, for each
    estimator variant, per-frame parameters and the exact inverse."""
    frames = range(0, len(lr), LR_STEP)

    def error(params):
        return float(np.mean([delta_e(lab(enhance.apply(lr_f[t], params[t]), CROP // 4),
                                      ref_lab_lr[t])
                              for t in frames]))

    out = {"none": float(np.mean([delta_e(lab(lr_f[t], CROP // 4), ref_lab_lr[t])
                                  for t in frames]))}
    for vname, (kw, constants) in VARIANTS.items():
        if not kw and not constants:
            out[vname] = error(temporal)
            continue
        saved = {k: getattr(enhance, k) for k in constants}
        try:
            for k, v in constants.items():
                setattr(enhance, k, v)
            out[vname] = error(sequence_params(lr, radius, **kw)[2])
        finally:
            for k, v in saved.items():
                setattr(enhance, k, v)
    out["per-frame (radius 0)"] = error(est)
    if distortion is not None:
        ev, gains = distortion
        inverse = enhance.EnhanceParams(exposure=-ev, gains=tuple(1 / g for g in gains))
        out["exact inverse"] = error([inverse] * len(lr))
    return out


def run_case(name, ev, gains, gt, ref_lr, ref_lab_lr, ref_sr, ref_lab_sr, sr, args, figure):
    lr = ref_lr if name == "undistorted" else bd_x4(distort(gt, ev, gains))
    n = len(lr)
    row = {"ev": ev, "gains": list(gains)}
    # parameters: default, plus raw (no dead zone) per frame, for the flicker figures
    est, cuts, temporal = sequence_params(lr, args.radius)
    raw = [enhance.estimate(f, dead_zone=False) for f in lr]
    row["cuts"] = [int(i) for i in np.flatnonzero(cuts)]
    row["params"] = {"temporal_exposure": [round(p.exposure, 4) for p in temporal],
                     "temporal_gains": [[round(g, 4) for g in p.gains] for p in temporal],
                     "raw_exposure": [round(p.exposure, 4) for p in raw],
                     "raw_gains": [[round(g, 4) for g in p.gains] for p in raw]}
    row["changes"] = {"per_frame": param_changes(est), "temporal": param_changes(temporal),
                      "raw_per_frame": param_changes(raw),
                      "raw_temporal": param_changes(
                          [enhance.temporal_params(raw, t, args.radius, cuts)
                           for t in range(n)])}
    row["changes_by_radius"] = {
        r: param_changes([enhance.temporal_params(est, t, r, cuts) for t in range(n)])
        for r in RADII}
    # LR level (no SR): estimator variants and the exact inverse of the distortion
    lr_f = as_unit(lr)
    row["lr_delta_e"] = lr_errors(lr, lr_f, ref_lab_lr, est, temporal, args.radius,
                                  None if name == "undistorted" else (ev, gains))
    # SR: (b) distorted, (c) enhanced before SR, (c') enhanced after SR
    enhanced_lr = np.stack([enhance.apply(lr_f[t], temporal[t]) for t in range(n)])
    per = {"distorted": [], "before": [], "after": [], "exact_inverse_after": []}
    inverse = enhance.EnhanceParams(exposure=-ev, gains=tuple(1 / g for g in gains))
    for t in args.targets:
        idx = window_of(t, n)
        b = ref_sr[t] if name == "undistorted" else sr(lr[idx])
        before = sr(enhanced_lr[idx])
        after = enhance.apply(b, temporal[t])
        exact = enhance.apply(b, inverse)
        for key, img in (("distorted", b), ("before", before), ("after", after),
                         ("exact_inverse_after", exact)):
            per[key].append(delta_e(lab(img), ref_lab_sr[t]))
        if figure is not None and name in FIGURE_CASES and t == FIGURE_FRAME:
            figure[name] = (b, before, ref_sr[t])
    row["sr_delta_e"] = {k: float(np.mean(v)) for k, v in per.items()}
    row["sr_delta_e_per_frame"] = {k: [round(x, 4) for x in v] for k, v in per.items()}
    r, s = row["sr_delta_e"], row["lr_delta_e"]
    print(f"{name:34s} SR dE: distorted {r['distorted']:6.2f} before {r['before']:6.2f} "
          f"after {r['after']:6.2f} | LR dE: none {s['none']:6.2f} default "
          f"{s['default (grey_edge)']:6.2f} | EV {temporal[n // 2].exposure:+.2f} gains "
          f"{fmt_gains(tuple(round(g, 3) for g in temporal[n // 2].gains))}", flush=True)
    return row


def second_sequence(folder, radius):
    """The distortion grid on another sequence, LR level only (default estimator): mean
    CIEDE2000 without and with enhancement, per case, and the exact inverse."""
    gt = load_gt(folder)
    ref_lr = bd_x4(gt)
    ref_lab = [lab(as_unit(f), CROP // 4) for f in ref_lr]
    out = {}
    for name, ev, gains in cases():
        lr = ref_lr if name == "undistorted" else bd_x4(distort(gt, ev, gains))
        est, cuts, temporal = sequence_params(lr, radius)
        out[name] = lr_errors(lr, as_unit(lr), ref_lab, est, temporal, radius,
                              None if name == "undistorted" else (ev, gains))
        out[name]["cuts"] = int(cuts.sum())
    return out


def undistorted_estimates(lr):
    """Raw measurements (no dead zone) on undistorted frames, mean over the frames, per
    white-balance method: the R/G and B/G corrections (stops) and the exposure (EV)."""
    out = {}
    for wb in enhance.WB_METHODS[:-1]:
        est = [enhance.estimate(f, wb=wb, dead_zone=False) for f in lr]
        g = np.log2(np.array([p.gains for p in est]))
        out[wb] = [float(np.mean(g[:, 0] - g[:, 1])), float(np.mean(g[:, 2] - g[:, 1])),
                   float(np.mean([p.exposure for p in est]))]
    return out


def cut_statistics(sequences):
    """Largest cut distance between consecutive frames of each sequence, and the
    smallest between frames of different sequences."""
    feats = {k: [enhance.shot_feature(f) for f in v] for k, v in sequences.items()}
    within = {k: max(enhance.cut_distance(f[i], f[i + 1]) for i in range(len(f) - 1))
              for k, f in feats.items()}
    names = list(feats)
    across = min(enhance.cut_distance(feats[a][i], feats[b][j])
                 for a, b in itertools.combinations(names, 2)
                 for i in range(0, len(feats[a]), 5) for j in range(0, len(feats[b]), 5))
    return {"max_within": within, "min_across": across,
            "threshold": enhance.CUT_THRESHOLD}


def make_figure(figure, path):
    """Rows: cases; columns: distorted SR | enhanced SR (before) | reference SR."""
    y, x, h, w = FIGURE_CROP
    rows = []
    for name in FIGURE_CASES:
        if name not in figure:
            continue
        tiles = []
        for img, label in zip(figure[name], ("distorted SR", "enhanced SR", "reference SR")):
            tile = np.round(np.clip(img[y:y + h, x:x + w], 0, 1) * 255).astype(np.uint8)
            tile = np.ascontiguousarray(tile[..., ::-1])
            text = f"{name}: {label}" if label != "reference SR" else label
            cv2.rectangle(tile, (0, 0), (w, 18), (0, 0, 0), -1)
            cv2.putText(tile, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255),
                        1, cv2.LINE_AA)
            tiles.append(tile)
            tiles.append(np.full((h, 4, 3), 255, np.uint8))
        rows.append(np.concatenate(tiles[:-1], axis=1))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    cv2.imwrite(path, np.concatenate(rows[:-1], axis=0))


def summarise(results, args):
    distorted = [r for n, r in results.items() if n != "undistorted"]
    mean = {k: float(np.mean([r["sr_delta_e"][k] for r in distorted]))
            for k in ("distorted", "before", "after", "exact_inverse_after")}
    best = "before" if mean["before"] <= mean["after"] else "after"
    und = results["undistorted"]["sr_delta_e"]
    ch = {k: np.mean([r["changes"][k] for r in distorted], axis=0).tolist()
          for k in ("per_frame", "temporal", "raw_per_frame", "raw_temporal")}

    def ratio(a, b):
        return None if b == 0 else a / b

    by_radius = {r: np.mean([c["changes_by_radius"][r] for c in distorted], axis=0).tolist()
                 for r in RADII}
    flicker_ok = all(ch["temporal"][i] <= 0.5 * ch["per_frame"][i] for i in range(2))
    lr_variants = {v: float(np.mean([r["lr_delta_e"][v] for r in distorted]))
                   for v in distorted[0]["lr_delta_e"]}
    lr_variants_undistorted = results["undistorted"]["lr_delta_e"]
    return {
        "mean_distorted_cases": mean, "best_placement": best,
        "reduction": {k: 1 - mean[k] / mean["distorted"] for k in ("before", "after")},
        "undistorted": und,
        "param_changes_mean_over_distorted_cases": ch,
        "param_change_ratio": {"exposure": ratio(ch["temporal"][0], ch["per_frame"][0]),
                               "gains": ratio(ch["temporal"][1], ch["per_frame"][1]),
                               "raw_exposure": ratio(ch["raw_temporal"][0],
                                                     ch["raw_per_frame"][0]),
                               "raw_gains": ratio(ch["raw_temporal"][1],
                                                  ch["raw_per_frame"][1])},
        "param_changes_by_radius": by_radius,
        "lr_variants_mean_distorted": lr_variants,
        "lr_variants_undistorted": lr_variants_undistorted,
        "targets": {
            "reduction >= 50% (mean over the 11 distorted cases, " + best + " SR)":
                bool(mean[best] <= 0.5 * mean["distorted"]),
            "undistorted < 1 CIEDE2000 (" + best + " SR)": bool(und[best] < 1.0),
            "temporal parameter change <= 0.5 x per-frame (exposure and gains)":
                bool(flicker_ok)},
    }


def print_tables(results, summary, args):
    print("\nSR (x4, BD, 5-frame windows, frames " + ", ".join(map(str, args.targets)) +
          "): mean CIEDE2000 against the SR of the undistorted frames")
    print("\n| case | (b) distorted | (c) enhanced before SR | (c') enhanced after SR |"
          " exact inverse after SR | EV applied (frame 15) | gains applied (frame 15) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, r in results.items():
        d = r["sr_delta_e"]
        ev = r["params"]["temporal_exposure"][15]
        g = r["params"]["temporal_gains"][15]
        print(f"| {name} | {d['distorted']:.2f} | {d['before']:.2f} | {d['after']:.2f} | "
              f"{d['exact_inverse_after']:.2f} | {ev:+.2f} | "
              f"{fmt_gains(tuple(round(v, 3) for v in g))} |")
    m = summary["mean_distorted_cases"]
    print(f"| **mean of the 11 distorted cases** | **{m['distorted']:.2f}** | "
          f"**{m['before']:.2f}** | **{m['after']:.2f}** | {m['exact_inverse_after']:.2f} "
          f"| | |")
    red = summary["reduction"]
    print(f"\nreduction: before SR {100 * red['before']:.1f} %, after SR "
          f"{100 * red['after']:.1f} %; best: {summary['best_placement']} SR")
    print(f"\nLR frames (no SR; parameters from all frames, errors on every {LR_STEP}-th "
          f"frame from 0, {CROP // 4}-px border cropped): mean CIEDE2000 against the "
          "undistorted LR frames")
    print("\n| estimator | mean of the 11 distorted cases | undistorted |")
    print("| --- | --- | --- |")
    for v, x in summary["lr_variants_mean_distorted"].items():
        u = summary["lr_variants_undistorted"].get(v)
        print(f"| {v} | {x:.2f} | {'' if u is None else f'{u:.2f}'} |")
    ch = summary["param_changes_mean_over_distorted_cases"]
    rt = summary["param_change_ratio"]

    def fr(x):
        return "n/a" if x is None else f"{x:.2f}"

    def ratio(a, b):
        return None if b == 0 else a / b

    print("\nFrame-to-frame change of the parameters (mean |change| over 29 steps, mean of "
          f"the 11 distorted cases; radius {args.radius})")
    print("\n| parameters | exposure (EV) | gains (stops, mean of R, G, B) |")
    print("| --- | --- | --- |")
    for k, label in (("per_frame", "per-frame estimates"), ("temporal", "temporal_params"),
                     ("raw_per_frame", "per-frame, no dead zone"),
                     ("raw_temporal", "temporal, no dead zone")):
        print(f"| {label} | {ch[k][0]:.4f} | {ch[k][1]:.4f} |")
    print(f"| ratio temporal / per-frame | {fr(rt['exposure'])} | {fr(rt['gains'])} |")
    print(f"| ratio, no dead zone | {fr(rt['raw_exposure'])} | {fr(rt['raw_gains'])} |")
    br = summary["param_changes_by_radius"]
    print("\n| radius | exposure change (EV) | gains change (stops) | ratio to radius 0 |")
    print("| --- | --- | --- | --- |")
    for r, (e, g) in br.items():
        e0, g0 = br[RADII[0]]
        print(f"| {r} | {e:.4f} | {g:.4f} | {fr(ratio(e, e0))} / {fr(ratio(g, g0))} |")
    if "second_sequence" in summary:
        sec = summary["second_sequence"]
        print(f"\n{sec['name']} (LR only, as above, default estimator): mean CIEDE2000 "
              "against its undistorted LR frames")
        print("\n| case | none | enhanced | exact inverse |")
        print("| --- | --- | --- | --- |")
        for name, r in sec["cases"].items():
            x = r.get("exact inverse")
            print(f"| {name} | {r['none']:.2f} | {r['default (grey_edge)']:.2f} | "
                  f"{'' if x is None else f'{x:.2f}'} |")
        m = sec["mean_distorted"]
        print(f"| **mean of the 11 distorted cases** | **{m['none']:.2f}** | "
              f"**{m['default (grey_edge)']:.2f}** | {m['exact inverse']:.2f} |")
        c = summary["cuts"]
        print("\nshot cuts: largest distance between consecutive frames " +
              ", ".join(f"{k} {v:.3f}" for k, v in c["max_within"].items()) +
              f"; smallest between the two sequences {c['min_across']:.3f}; threshold "
              f"{c['threshold']}; cuts found in the distorted sequences: " +
              str(sum(len(r["cuts"]) for r in results.values())))
    print("\nRaw measurements on the undistorted LR frames (no dead zone; mean over the "
          "frames): the correction each estimator calls for")
    print("\n| sequence | white balance | R/G correction (stops) | B/G correction (stops) |"
          " exposure correction (EV) |")
    print("| --- | --- | --- | --- | --- |")
    for seq, methods in summary["undistorted_raw"].items():
        for wb, (rg, bg, ev) in methods.items():
            print(f"| {seq} | {wb} | {rg:+.3f} | {bg:+.3f} | {ev:+.2f} |")
    print("\ntargets:")
    for k, v in summary["targets"].items():
        print(f"  {'met' if v else 'NOT MET'}: {k}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="folder with bigbuckbunny/GT")
    p.add_argument("--sequence", default="bigbuckbunny")
    p.add_argument("--out", default=os.path.join(HERE, "results", "enhance.json"))
    p.add_argument("--figure", help="write the crops figure here (PNG)")
    p.add_argument("--targets", type=int, nargs="+", default=list(TARGETS),
                   help="output frames (5-frame windows around them)")
    p.add_argument("--radius", type=int, default=enhance.DEFAULT_RADIUS)
    p.add_argument("--second", default="carphone_pristine",
                   help="second sequence for the LR-only grid ('' for none)")
    p.add_argument("--cases", nargs="*", help="only these case names (default: all)")
    p.add_argument("--cache", default=os.path.join("/tmp", "mfsr_enhance_sr_cache"),
                   help="folder for cached SR results ('' for none)")
    args = p.parse_args(argv)
    t0 = time.time()
    gt = load_gt(os.path.join(args.data, args.sequence, "GT"))
    ref_lr = bd_x4(gt)
    ref_lab_lr = [lab(as_unit(f), CROP // 4) for f in ref_lr]
    sr = SRCache(args.cache)
    ref_sr = {t: sr(ref_lr[window_of(t, len(ref_lr))]) for t in args.targets}
    ref_lab_sr = {t: lab(ref_sr[t]) for t in args.targets}
    figure = {} if args.figure else None
    results = {}
    for name, ev, gains in cases():
        if args.cases and name not in args.cases and name != "undistorted":
            continue
        results[name] = run_case(name, ev, gains, gt, ref_lr, ref_lab_lr, ref_sr, ref_lab_sr,
                                 sr, args, figure)
    summary = summarise(results, args)
    summary["undistorted_raw"] = {args.sequence: undistorted_estimates(ref_lr)}
    second_dir = os.path.join(args.data, args.second, "GT") if args.second else None
    if second_dir and os.path.isdir(second_dir):
        second = second_sequence(second_dir, args.radius)
        dist = [r for n, r in second.items() if n != "undistorted"]
        summary["second_sequence"] = {
            "name": args.second, "cases": second,
            "mean_distorted": {k: float(np.mean([r[k] for r in dist]))
                               for k in ("none", "default (grey_edge)", "exact inverse")},
            "undistorted": second["undistorted"]["default (grey_edge)"]}
        second_lr = bd_x4(load_gt(second_dir))
        summary["undistorted_raw"][args.second] = undistorted_estimates(second_lr)
        summary["cuts"] = cut_statistics({args.sequence: ref_lr, args.second: second_lr})
    print_tables(results, summary, args)
    print(f"\nSR: {sr.misses} computed ({sr.seconds:.0f} s), {sr.hits} from the cache; "
          f"total {time.time() - t0:.0f} s")
    if args.figure:
        make_figure(figure, args.figure)
        print(f"wrote {args.figure}")
    if args.out:
        write_json(args.out, run_record(
            __file__, args, {"cases": results, "summary": summary}, t0,
            conventions="mean CIEDE2000 (colour.delta_E, 'CIE 2000') of Lab (sRGB -> XYZ "
                        "-> Lab, D65) against the SR of the undistorted LR frames "
                        f"(reference), {CROP}-px border cropped; distortions in linear "
                        "light (sRGB EOTF), clipped to [0, 1], before BD x4 (sigma 1.6, "
                        "[::4, ::4], 8 bits); SR: mfsr.reconstruct(window, 4, "
                        "degradation='BD'), 5-frame windows",
            sr_seconds=sr.seconds))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

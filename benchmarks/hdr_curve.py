"""Measured values of the SDR -> HDR mapping of ``mfsr.grading`` (the numbers of docs/hdr.md).

    python benchmarks/hdr_curve.py          # from the repository root

For each ``--peaks`` value: the inverse tone curve's constants; what a flat SDR frame at
diffuse white and at SDR white becomes (PQ and HLG signal, and cd/m2 after decoding);
the curve at a few SDR signal levels; the SDR -> HDR -> SDR round-trip error with a
float HDR signal and with 10-bit HDR codes; MaxCLL / MaxFALL of scikit-image's astronaut
through ``sdr_to_hdr``; the x265 metadata string; the time of one 3840x2160 frame.
Writes ``--out`` (JSON) and, when matplotlib imports, the plot ``--plot`` of the curve
(SDR signal -> cd/m2). Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from mfsr import grading
from mfsr.grading.transfer import colour_science

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_io import run_record, write_json  # noqa: E402

LEVELS = (0.1, 0.5, 0.75, 0.9, "diffuse white", 0.97, 0.98, 0.99, 0.995, 1.0)


def _grey(signal):
    return np.full((4, 4, 3), float(signal))


def _bt1886_signal(luminance):
    return float(colour_science().models.eotf_inverse_BT1886(luminance))


def anchors(peak):
    """Diffuse white and SDR white through PQ and HLG: signal, and cd/m2 decoded."""
    out = {}
    for name, signal in (("diffuse_white", _bt1886_signal(grading.DIFFUSE_WHITE)),
                         ("sdr_white", 1.0)):
        row = {"sdr_signal": signal,
               "nits": float(grading.inverse_tone_map(_grey(signal), peak=peak)[0, 0, 1])}
        for transfer in grading.TRANSFERS:
            coded = grading.sdr_to_hdr(_grey(signal), transfer, peak=peak)
            row[f"{transfer}_signal"] = float(coded[0, 0, 1])
            row[f"{transfer}_decoded_nits"] = float(grading.decode(coded, transfer, peak)[0, 0, 1])
        out[name] = row
    return out


def curve_points(peak):
    dw = _bt1886_signal(grading.DIFFUSE_WHITE)
    levels = [dw if v == "diffuse white" else v for v in LEVELS]
    nits = grading.inverse_tone_map(np.repeat(np.array(levels)[:, None, None], 3, axis=2),
                                peak=peak)[:, 0, 1]
    return [{"sdr_signal": float(v), "nits": float(n)} for v, n in zip(levels, nits)]


def round_trip(peak, n=65536, seed=0):
    """SDR -> HDR -> SDR error, in 8-bit code values (1/255 of the SDR signal), with the
    HDR signal kept as float64, float32, or rounded to full-range 10-bit R'G'B' codes."""
    rng = np.random.default_rng(seed)
    colours = rng.random((n, 1, 3))
    below = colours.max(axis=-1)[:, 0] <= _bt1886_signal(grading.DIFFUSE_WHITE)
    not_dark = colours.min(axis=-1)[:, 0] >= 0.25
    greys = np.repeat(np.linspace(0, 1, 1024)[:, None, None], 3, axis=2)
    result = {}
    for transfer in grading.TRANSFERS:
        for storage in ("float64", "float32", "10-bit"):
            row = {}
            for name, x in (("colours_below_diffuse_white", colours[below]),
                            ("colours_all", colours),
                            ("colours_every_channel_from_0.25", colours[not_dark]),
                            ("greys", greys)):
                src = x.astype(np.float32) if storage == "float32" else x
                coded = grading.sdr_to_hdr(src, transfer, peak=peak)
                if storage == "10-bit":
                    coded = np.round(coded * 1023) / 1023
                err = np.abs(grading.tone_map_to_sdr(coded, transfer, peak=peak) - x) * 255
                row[name] = {"max": float(err.max()), "p99": float(np.percentile(err, 99)),
                             "mean": float(err.mean())}
            result[f"{transfer}_{storage}"] = row
    return result


def astronaut_levels(peak):
    from skimage import data
    sdr = data.astronaut()
    out = {}
    for transfer in grading.TRANSFERS:
        cll, fall = grading.light_levels_of_signal(grading.sdr_to_hdr(sdr, transfer, peak=peak),
                                               transfer, peak)
        out[transfer] = {"max_cll": cll, "max_fall": fall}
    return out


def timing_4k(repeats=2):
    frame = np.random.default_rng(0).random((2160, 3840, 3)).astype(np.float32)
    out = {}
    for transfer in grading.TRANSFERS:
        best = np.inf
        for _ in range(repeats):
            t = time.perf_counter()
            grading.sdr_to_hdr(frame, transfer)
            best = min(best, time.perf_counter() - t)
        out[f"sdr_to_hdr_{transfer}_s"] = best
    return out


def plot(peaks, path):
    try:
        import matplotlib
    except ImportError:
        print("matplotlib not installed: no plot")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    v = np.linspace(0.0, 1.0, 2001)
    ramp = np.repeat(v[:, None, None], 3, axis=2)
    dw = _bt1886_signal(grading.DIFFUSE_WHITE)
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8))
    for peak in peaks:
        nits = grading.inverse_tone_map(ramp, peak=peak)[:, 0, 1]
        for ax in axes:
            ax.plot(v, nits, label=f"peak {peak:g} cd/m$^2$")
    direct = 203.0 * v ** 2.4
    for ax in axes:
        ax.plot(v, direct, "k:", lw=1, label="SDR 1.0 at 203 (no expansion)")
        ax.axvline(dw, color="0.6", lw=0.8)
        ax.axhline(203.0, color="0.6", lw=0.8)
        ax.set_xlabel("SDR signal R'=G'=B' (BT.1886)")
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[0].set_ylim(0.05, 5000)
    axes[0].set_ylabel("HDR luminance (cd/m$^2$)")
    axes[0].set_title("SDR signal -> cd/m$^2$", fontsize=9)
    axes[1].set_xlim(0.85, 1.0)
    axes[1].set_ylim(0, max(peaks) * 1.05)
    axes[1].set_title(f"top of the range; grey lines: diffuse white {dw:.3f} -> 203",
                      fontsize=9)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peaks", type=float, nargs="+", default=[600.0, 1000.0, 4000.0])
    p.add_argument("--out", default="benchmarks/results/hdr_curve.json")
    p.add_argument("--plot", default="docs/images/hdr_curve.png")
    args = p.parse_args(argv)
    started = time.time()

    results = {"diffuse_white_luminance": grading.DIFFUSE_WHITE,
               "diffuse_white_bt1886_signal": _bt1886_signal(grading.DIFFUSE_WHITE),
               "diffuse_white_srgb_signal":
                   float(colour_science().models.eotf_inverse_sRGB(grading.DIFFUSE_WHITE)),
               "lowest_peak": grading.REFERENCE_WHITE / grading.DIFFUSE_WHITE,
               "pq_signal_of_100_nits": float(grading.encode(np.full((1, 1, 3), 100.0))[0, 0, 0]),
               "peaks": {}}
    for peak in args.peaks:
        results["peaks"][f"{peak:g}"] = {
            "parameters": grading.itm_parameters(peak), "anchors": anchors(peak),
            "curve": curve_points(peak),
            "hlg_system_gamma": float(colour_science().models.rgb.transfer_functions
                                      .itur_bt_2100.gamma_function_BT2100_HLG(peak))}
    results["round_trip_8bit_codes_peak_1000"] = round_trip(1000.0)
    results["astronaut_light_levels_peak_1000"] = astronaut_levels(1000.0)
    results["x265"] = grading.x265_hdr10_params(grading.mastering_display(1000.0, 0.0001),
                                                1000, 400)
    results["timing_3840x2160"] = timing_4k()
    results["plot"] = plot(args.peaks, args.plot)
    write_json(args.out, run_record(__file__, args, results, started))
    report(results)


def report(r):
    print(f"SDR diffuse white: relative luminance {r['diffuse_white_luminance']:.4f}, "
          f"BT.1886 signal {r['diffuse_white_bt1886_signal']:.4f}, "
          f"sRGB signal {r['diffuse_white_srgb_signal']:.4f}; "
          f"PQ signal of 100 cd/m2 {r['pq_signal_of_100_nits']:.4f}")
    print(f"lowest peak (203 / diffuse white: a straight line, no expansion): "
          f"{r['lowest_peak']:.2f} cd/m2")
    print("\n| peak (cd/m2) | b | k1 | k2 | k3 | k4 | HLG system gamma |")
    print("|---|---|---|---|---|---|---|")
    for peak, d in r["peaks"].items():
        q = d["parameters"]
        print(f"| {peak} | {q['b']:.3f} | {q['k1']:.6f} | {q['k2']:.5f} | {q['k3']:.5f} | "
              f"{q['k4']:.5f} | {d['hlg_system_gamma']:.3f} |")
    print("\n| peak | level | SDR signal | cd/m2 | PQ signal | PQ decoded cd/m2 | HLG signal "
          "| HLG decoded cd/m2 |")
    print("|---|---|---|---|---|---|---|---|")
    for peak, d in r["peaks"].items():
        for name, a in d["anchors"].items():
            print(f"| {peak} | {name.replace('_', ' ')} | {a['sdr_signal']:.4f} | "
                  f"{a['nits']:.2f} | {a['pq_signal']:.4f} | {a['pq_decoded_nits']:.2f} | "
                  f"{a['hlg_signal']:.4f} | {a['hlg_decoded_nits']:.2f} |")
    print("\nCurve (SDR signal -> cd/m2):")
    print("| SDR signal | " + " | ".join(f"peak {p}" for p in r["peaks"]) + " |")
    print("|---|" + "---|" * len(r["peaks"]))
    first = next(iter(r["peaks"].values()))["curve"]
    for i, point in enumerate(first):
        cells = " | ".join(f"{d['curve'][i]['nits']:.2f}" for d in r["peaks"].values())
        print(f"| {point['sdr_signal']:.4f} | {cells} |")
    print("\nRound trip SDR -> HDR -> SDR at peak 1000, error in 8-bit codes (max / p99 / mean):")
    print("| HDR signal | colours below diffuse white | all colours "
          "| colours, every channel >= 0.25 | greys |")
    print("|---|---|---|---|---|")
    for name, row in r["round_trip_8bit_codes_peak_1000"].items():
        cells = " | ".join(f"{e['max']:.2g} / {e['p99']:.2g} / {e['mean']:.2g}"
                           for e in row.values())
        print(f"| {name.replace('_', ' ')} | {cells} |")
    for transfer, levels in r["astronaut_light_levels_peak_1000"].items():
        print(f"astronaut, {transfer}: MaxCLL {levels['max_cll']:.1f}, "
              f"MaxFALL {levels['max_fall']:.1f} cd/m2")
    print(f"x265: {r['x265']}")
    t = r["timing_3840x2160"]
    print(f"3840x2160 float32 frame: sdr_to_hdr PQ {t['sdr_to_hdr_pq_s']:.2f} s, "
          f"HLG {t['sdr_to_hdr_hlg_s']:.2f} s")
    if r["plot"]:
        print(f"plot: {r['plot']}")


if __name__ == "__main__":
    main()

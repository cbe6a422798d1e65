"""Figures and Markdown tables of the quality curves written by ``benchmarks/curves.py``.

    python benchmarks/plot_curves.py          # results/curve_*.json -> docs/images/curve_*.png

Reads ``curve_frames.json``, ``curve_noise.json`` and ``curve_iterations.json`` from
``--results`` (those that exist), writes one PNG per curve into ``--images`` and prints the
tables that ``docs/results.md`` shows. Needs matplotlib (``pip install -e ".[bench]"``).
"""
from __future__ import annotations

import argparse
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = ("frames", "noise", "iterations")
CONVENTION = "Y-PSNR (dB), BT.601 Y (MATLAB scaling), 4-px border cropped"


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _title(meta):
    args = meta.get("args", {})
    frames = ", ".join(map(str, args.get("frames", [])))
    return f"{args.get('sequence', '?')}, x4, mean over frames {frames}"


def plot(kind, data, path, title=None):
    """Write the PNG of one curve (``data`` as stored under "data" in its JSON)."""
    plt = _pyplot()
    if kind == "iterations":  # one panel per method: their iterations are not comparable
        fig, axes = plt.subplots(1, len(data), figsize=(3.2 * len(data), 3.4), sharey=True)
        axes = list(axes) if len(data) > 1 else [axes]
        what = {"irls": "re-weightings (x 6 CG steps)", "map": "L-BFGS iterations"}
        for ax, (m, d) in zip(axes, data.items()):
            its = [int(n) for n in d]
            ax.plot(its, [v["psnr"] for v in d.values()], "o-", color="C0")
            for n, v in zip(its, d.values()):
                ax.annotate(f"{v['seconds']:.0f} s", (n, v["psnr"]), textcoords="offset points",
                            xytext=(3, -10), fontsize=7, color="0.35")
            ax.set_xlabel(f"{m}: {what.get(m, 'iterations')}", fontsize=8)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("Y-PSNR (dB)")
        if title:
            fig.suptitle(title + " (labels: s/frame)", fontsize=9)
        fig.tight_layout()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    if kind == "frames":
        for m, d in data.items():
            ax.plot([int(k) for k in d], list(d.values()), "o-", label=m)
        ax.set_xlabel("frames in the window (K)")
        ax.set_xticks([int(k) for k in next(iter(data.values()))])
    elif kind == "noise":
        levels = list(data)
        x = [float(lv) for lv in levels]
        keys = [k for k in data[levels[0]] if k.startswith(("weight", "bicubic"))]
        labels = {"bicubic_phase": "bicubic (BD phase)", "weight_x1": "irls, rule weight",
                  "weight_x0.5": "irls, rule x 0.5", "weight_x2": "irls, rule x 2"}
        styles = {"bicubic_phase": "s--", "weight_x1": "o-", "weight_x0.5": "v:",
                  "weight_x2": "^:"}
        for key in keys:
            ax.plot(x, [data[lv][key] for lv in levels], styles.get(key, "o-"),
                    label=labels.get(key, key))
        ax.set_xlabel("noise sigma added to RGB (8-bit levels)")
    else:
        raise ValueError(f"unknown curve kind {kind!r}; valid: {', '.join(KINDS)}")
    ax.set_ylabel("Y-PSNR (dB)")
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(kind, data):
    """The Markdown table of one curve."""
    if kind == "frames":
        ks = list(next(iter(data.values())))
        rows = ["| method | " + " | ".join(f"K = {k}" for k in ks) + " |",
                "| --- |" + " --- |" * len(ks)]
        rows += [f"| `{m}` | " + " | ".join(f"{d[k]:.2f}" for k in ks) + " |"
                 for m, d in data.items()]
    elif kind == "noise":
        rows = [("| noise (8-bit) | luma sigma true / estimated | bicubic (BD phase) | "
                 "irls, rule x 0.5 | **irls, rule** | irls, rule x 2 |"),
                "| --- | --- | --- | --- | --- | --- |"]
        for lv, r in data.items():
            rows.append(f"| {lv} | {255 * r['sigma_true_luma']:.2f} / "
                        f"{255 * r['sigma_estimated']:.2f} | {r['bicubic_phase']:.2f} | "
                        f"{r['weight_x0.5']:.2f} | **{r['weight_x1']:.2f}** | "
                        f"{r['weight_x2']:.2f} |")
    else:
        rows = ["| method | iterations | Y-PSNR | s/frame |", "| --- | --- | --- | --- |"]
        for m, d in data.items():
            rows += [f"| `{m}` | {n} | {v['psnr']:.2f} | {v['seconds']:.1f} |"
                     for n, v in d.items()]
    return "\n".join(rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--results", default=os.path.join(HERE, "results"))
    p.add_argument("--images", default=os.path.join(HERE, "..", "docs", "images"))
    p.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    args = p.parse_args(argv)
    for kind in args.kinds:
        path = os.path.join(args.results, f"curve_{kind}.json")
        if not os.path.exists(path):
            print(f"{path} not found; run benchmarks/curves.py {kind} first")
            continue
        with open(path) as f:
            meta = json.load(f)
        out = os.path.join(args.images, f"curve_{kind}.png")
        plot(kind, meta["data"], out, _title(meta))
        print(f"\n{kind}: {meta.get('command', '')}\n{CONVENTION}, {_title(meta)}\n")
        print(table(kind, meta["data"]))
        print(f"wrote {os.path.relpath(out)}")


if __name__ == "__main__":
    main()

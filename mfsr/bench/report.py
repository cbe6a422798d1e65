"""The bench's Markdown table: measured rows per clip and mean, published rows beside."""
from __future__ import annotations

from .protocols import Protocol
from .published import matching

__all__ = ["markdown"]


def _cell(psnr, ssim):
    return f"{psnr:.2f} / {ssim:.4f}"


def markdown(result, published=True):
    """Markdown of a :func:`~mfsr.bench.runner.run_bench` result.

    Parameters
    ----------
    result : dict
    published : bool
        Add the published rows of the same set and protocol, marked as published.

    Returns
    -------
    str
    """
    ds = result["dataset"]
    clips = list(ds["clips"])
    methods = result["methods"]
    protocol = Protocol(**result["protocol"])
    lines = [f"**{ds['name']}** ({ds['layout']} layout, {len(clips)} clips, "
             f"{sum(len(v) for v in ds['clips'].values())} scored frames; frames: "
             f"{result['frames']}): {result['conventions']}.", ""]
    lines += [f"- {n}" for n in ds["notes"]]
    lines += [f"- mfsr methods: {result['window']}-frame windows; s/frame: wall seconds "
              "per output frame on this machine (registration included), from the run "
              "that made the cached output", ""]
    lines.append("| method | " + " | ".join(clips) + " | mean | s/frame |")
    lines.append("| --- |" + " --- |" * (len(clips) + 2))
    for name, m in methods.items():
        cells = [_cell(m["clips"][c]["psnr"], m["clips"][c]["ssim"]) for c in clips]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | **{_cell(m['mean']['psnr'], m['mean']['ssim'])}** | "
                     f"{m['mean']['seconds_per_frame']:.3g} |")
    if published:
        rows = matching(ds["name"], protocol)
        for r in rows:
            lines.append(f"| {r['method']} (published; trained on {r['trained_on']}) | "
                         + " | ".join("" for _ in clips)
                         + f" | {_cell(r['psnr'], r['ssim'])} | |")
        if rows:
            lines += ["", "Published rows: " + "; ".join(
                sorted({f"{r['method']}: {r['source']}" for r in rows}))
                + ". They were measured by their authors on their own outputs under the "
                  "protocol of the same columns; the clip set must be the full one for "
                  "the means to be comparable."]
    return "\n".join(lines) + "\n"

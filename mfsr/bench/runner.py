"""Run methods over a test set under a protocol: cache, resume, score, average.

Every output is cached as a PNG (8-bit when the protocol rounds outputs, else 16-bit)
with its seconds in a JSON beside it, under
``cache/<set>-<protocol>x<scale>-<lr source>/<method key>/<clip>/<frame>.png``; a run
that is killed continues where it stopped, and a finished one is re-scored (other crops,
averaging, SSIM) without running anything. LR frames the harness makes are cached the
same way (``.../lr/<clip>/``), since whole-clip methods read them as a folder.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time

import numpy as np

from ..io import read_image, write_image
from .datasets import detect
from .methods import Context, save_output
from .protocols import Protocol, degrade, modcrop, score, to_uint8
from .registry import make_method

__all__ = ["run_bench", "select_frames"]


def select_frames(n, frames="all", skip_ends=0, scored=None):
    """Indices of a clip's frames to score.

    Parameters
    ----------
    n : int
        Frames in the clip.
    frames : str
        ``"all"`` or ``"every:K"`` (every K-th of the candidates, from the first).
    skip_ends : int
        Frames dropped at each end first (DUF's protocol drops 2).
    scored : list of int, optional
        The set's own choice (Vimeo-90K: the centre frame); ``skip_ends`` does not apply.

    Returns
    -------
    list of int
    """
    if scored is not None and list(scored) != list(range(n)):
        candidates = list(scored)
    else:
        candidates = list(range(skip_ends, n - skip_ends))
    if frames == "all":
        return candidates
    m = re.fullmatch(r"every:(\d+)", str(frames))
    if not m or int(m.group(1)) < 1:
        raise ValueError(f"frames must be 'all' or 'every:K' with K >= 1, got {frames!r}")
    return candidates[::int(m.group(1))]


def _safe(name):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


class _Cache:
    def __init__(self, root, run_key):
        self.root = os.path.join(root, _safe(run_key))

    def path(self, method_key, clip, index):
        return os.path.join(self.root, _safe(method_key), _safe(clip), f"{index:05d}.png")

    def get(self, method_key, clip, index):
        p = self.path(method_key, clip, index)
        meta = p[:-4] + ".json"
        if os.path.isfile(p) and os.path.isfile(meta):
            with open(meta) as f:
                seconds = json.load(f)["seconds"]
            image = read_image(p)
            if image.dtype == np.uint16:
                image = image.astype(np.float32) / 65535.0
            return image, seconds
        return None

    def put(self, method_key, clip, index, image, seconds):
        p = self.path(method_key, clip, index)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        save_output(p, image)
        tmp = p[:-4] + ".json.tmp"
        with open(tmp, "w") as f:
            json.dump({"seconds": seconds}, f)
        os.replace(tmp, p[:-4] + ".json")   # the JSON last: it marks the entry complete


def _load_clip(clip, protocol, cache, run_key):
    """HR (uint8, mod-cropped) and LR (uint8) frames of a clip, and its LR folder."""
    hr = np.stack([modcrop(_rgb8(read_image(p), p), protocol.scale) for p in clip.hr])
    if clip.lr is not None:
        lr = np.stack([_rgb8(read_image(p), p) for p in clip.lr])
        folder = os.path.dirname(clip.lr[0])
    else:
        folder = os.path.join(cache.root, "lr", _safe(clip.name))
        os.makedirs(folder, exist_ok=True)
        frames = []
        for i, h in enumerate(hr):
            path = os.path.join(folder, f"{i:05d}.png")
            if os.path.isfile(path):
                frames.append(read_image(path))
            else:
                frames.append(degrade(h, protocol))
                write_image(path, frames[-1], 8)
        lr = np.stack(frames)
    s = protocol.scale
    if lr.shape[1] * s != hr.shape[1] or lr.shape[2] * s != hr.shape[2]:
        raise ValueError(f"clip {clip.name}: LR frames are {lr.shape[2]}x{lr.shape[1]}, HR "
                         f"{hr.shape[2]}x{hr.shape[1]}: not x{s}")
    return hr, lr, folder


def _rgb8(image, path):
    if image.dtype != np.uint8:
        raise ValueError(f"{path}: the standard sets are 8-bit, got {image.dtype}")
    return image


def _mean(values):
    return float(np.mean(values)) if values else float("nan")


def run_bench(root, protocol=None, methods=("bicubic", "bicubic-grid"), *, frames="all",
              window=7, clips=None, lr="auto", lr_folder=None, cache=None, options=None,
              progress=True, dataset_name=None):
    """Run ``methods`` on the test set in ``root`` under ``protocol`` and score them.

    Parameters
    ----------
    root : str
        Test set folder (any layout of :func:`mfsr.bench.datasets.detect`).
    protocol : Protocol, optional
        Degradation and scoring (default ``Protocol()``: BD x4, Y, no crop).
    methods : sequence of str
        Names of :func:`mfsr.bench.registry.make_method`.
    frames : str
        ``"all"`` or ``"every:K"``: which frames are scored (windows still use every
        frame).
    window : int
        Frames per window of the mfsr methods.
    clips, lr, lr_folder
        As in :func:`~mfsr.bench.datasets.detect`.
    cache : str, optional
        Folder of cached outputs (default ``.mfsr-bench-cache`` in the current folder).
    options : dict, optional
        Method options (``weights``: folder of network weights; ``btvl1``: harness).
    progress : bool
        Draw a progress bar on stderr.
    dataset_name : str, optional
        Name of the set in the report (default: the folder's name).

    Returns
    -------
    dict
        ``conventions`` (the protocol, stated), ``dataset`` (layout, LR source, notes,
        clips and their scored frames), ``methods`` (per method: per clip mean PSNR/SSIM,
        seconds per frame, per-frame scores, and the mean over the set by the protocol's
        averaging).
    """
    protocol = protocol or Protocol()
    if not methods:
        raise ValueError("methods must name at least one method")
    window = int(window)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    ds = detect(root, protocol.degradation, protocol.scale, clips=clips, lr=lr,
                lr_folder=lr_folder)
    name = dataset_name or os.path.basename(os.path.normpath(root))
    lr_key = "gen" if ds.lr_source == "generated" else "lr-" + hashlib.sha1(
        ds.lr_source.encode()).hexdigest()[:6]
    run_key = f"{name}-{protocol.degradation}x{protocol.scale}-{lr_key}"
    cache = _Cache(cache or ".mfsr-bench-cache", run_key)
    made = [make_method(m) for m in methods]
    context = Context(protocol, window, options=dict(options or {}))
    targets = {c.name: select_frames(len(c.hr), frames, protocol.skip_ends, c.scored)
               for c in ds.clips}
    total = sum(len(t) for t in targets.values()) * len(made)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=total, desc="bench", unit="out", file=sys.stderr,
                   dynamic_ncols=True)
    results = {m.name: {"family": m.family, "description": m.description, "clips": {}}
               for m in made}
    t_start = time.time()
    try:
        for clip in ds.clips:
            hr, lr_frames, folder = _load_clip(clip, protocol, cache, run_key)
            context.clip = clip.name
            context.lr_folder = lambda _name, _f=folder: _f
            context.shared = {}
            todo = targets[clip.name]
            outputs = {m.name: {} for m in made}
            for m in made:                      # whole-clip methods first
                if not m.whole_clip:
                    continue
                key = m.key(context)
                cached = {t: cache.get(key, clip.name, t) for t in todo}
                if any(v is None for v in cached.values()):
                    fresh = m.clip(lr_frames, todo, context)
                    for t in todo:
                        img, sec = fresh[t]
                        img = to_uint8(img) if protocol.round_output else img
                        cache.put(key, clip.name, t, img, sec)
                        cached[t] = cache.get(key, clip.name, t)
                outputs[m.name] = cached
                if bar is not None:
                    bar.update(len(todo))
            for t in todo:
                for m in made:
                    if m.whole_clip:
                        continue
                    key = m.key(context)
                    got = cache.get(key, clip.name, t)
                    if got is None:
                        img, sec = m.frame(lr_frames, t, context)
                        img = to_uint8(img) if protocol.round_output else img
                        cache.put(key, clip.name, t, img, sec)
                        got = cache.get(key, clip.name, t)
                    outputs[m.name][t] = got
                    if bar is not None:
                        bar.update(1)
                for k in [k for k in context.shared if k[0] == "motion"
                          or k[:2] == ("seconds", "motion")]:
                    del context.shared[k]
            for m in made:
                per_frame = []
                for t in todo:
                    img, sec = outputs[m.name][t]
                    p, s = score(hr[t], img, protocol)
                    per_frame.append({"frame": t, "name": os.path.basename(clip.hr[t]),
                                      "psnr": p, "ssim": s, "seconds": sec})
                results[m.name]["clips"][clip.name] = {
                    "psnr": _mean([f["psnr"] for f in per_frame]),
                    "ssim": _mean([f["ssim"] for f in per_frame]),
                    "seconds_per_frame": _mean([f["seconds"] for f in per_frame]),
                    "frames": per_frame}
    finally:
        if bar is not None:
            bar.close()
    for m in made:
        clips_ = results[m.name]["clips"]
        if protocol.averaging == "clip":
            psnr = _mean([c["psnr"] for c in clips_.values()])
            ssim = _mean([c["ssim"] for c in clips_.values()])
        else:
            every = [f for c in clips_.values() for f in c["frames"]]
            psnr, ssim = _mean([f["psnr"] for f in every]), _mean([f["ssim"] for f in every])
        sec = _mean([f["seconds"] for c in clips_.values() for f in c["frames"]])
        results[m.name]["mean"] = {"psnr": psnr, "ssim": ssim, "seconds_per_frame": sec}
    return {
        "dataset": {"name": name, "root": os.path.abspath(root), "layout": ds.layout,
                    "lr_source": ds.lr_source, "notes": ds.notes,
                    "clips": {c.name: targets[c.name] for c in ds.clips}},
        "protocol": protocol.as_dict(),
        "conventions": protocol.describe(),
        "frames": frames, "window": window,
        "methods": results,
        "seconds": time.time() - t_start,
        "cache": cache.root,
    }

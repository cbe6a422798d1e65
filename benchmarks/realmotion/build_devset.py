"""Build the real-motion development set (issue 24) from already-obtained source files.

    python benchmarks/realmotion/build_devset.py /work/.mirror [MORE_SOURCE_DIRS ...] \
        [--out /work/devdata/realmotion] [--clips dog tennis] [--force]

Each positional argument is a place to look for the source files named in ``sources.json``
(beside this script). For a clip from repository ``owner/name`` and a file ``path`` in it,
a directory ``D`` is searched, in this order, for:

* a bare git directory ``D`` itself, ``D/owner+name/repo`` or ``D/owner+name`` (as the search
  tool's ``fetch`` leaves them under ``/work/.mirror``) holding ``commit:path``
  (read with ``git show``);
* a plain file ``D/path``, ``D/name/path`` or ``D/owner+name/path`` (a checkout or a copy).

Every source file's SHA-256 must equal the one in ``sources.json``; nothing is downloaded.

Output, per clip, under ``--out/<clip>/`` (``0000.png, 0001.png, ...``, 8-bit, BGR as OpenCV
writes them):

* ``GT/``: the selected frames, converted to RGB (see ``decode_video``), cropped and, for the
  720p clips, downscaled by 1.5 with ``cv2.INTER_AREA`` (in float, rounded once);
  both dimensions are multiples of 4.
* ``BDx4/``: each channel of GT / 255 (float64) blurred by
  ``scipy.ndimage.gaussian_filter(sigma=1.6, mode="reflect")`` (truncate 4.0), sampled
  ``[::4, ::4]`` (phase 0), ``np.round(255 * x)`` to uint8. This reproduces
  ``shared/data/bigbuckbunny/BDx4`` from its GT bit for bit.
* ``BDx4_noise5/``: ``BDx4`` before rounding plus Gaussian noise of sigma 5/255
  (``numpy.random.default_rng([0, frame_index])``), clipped to [0, 1], rounded (the
  protocol of ``shared/data/bigbuckbunny/BDx4_noise5``, for the noisy-input default).
* ``BIx4/``: ``mfsr.degradation.imresize(gt_rgb_uint8, 0.25)`` (MATLAB ``imresize`` bicubic
  with antialiasing, uint8 rounded per pass like MATLAB).

and ``--out/manifest.json`` (clip, source, frames, sizes, SHA-256 of every written frame).
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import scipy
import scipy.ndimage as ndi

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = os.path.join(HERE, "sources.json")
DEFAULT_OUT = "/work/devdata/realmotion"
BD_SIGMA = 1.6
SCALE = 4

# Y'CbCr -> R'G'B' (limited range) coefficients: (Kr, Kb)
MATRICES = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114)}


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- locating sources
def _git_dirs(d, repo):
    owner_name = repo.replace("/", "+")
    for g in (d, os.path.join(d, owner_name, "repo"), os.path.join(d, owner_name),
              os.path.join(d, owner_name, "repo", ".git"), os.path.join(d, ".git")):
        if os.path.isfile(os.path.join(g, "HEAD")) and os.path.isdir(os.path.join(g, "objects")):
            yield g


def read_source(dirs, repo, commit, path, want_sha):
    """Bytes of ``repo@commit:path`` from the first place that has it with the right hash."""
    name = repo.split("/")[1]
    owner_name = repo.replace("/", "+")
    tried = []
    for d in dirs:
        for rel in (path, os.path.join(name, path), os.path.join(owner_name, path)):
            f = os.path.join(d, rel)
            if os.path.isfile(f):
                with open(f, "rb") as fh:
                    data = fh.read()
                if sha256_bytes(data) == want_sha:
                    return data, f
                tried.append(f + " (SHA-256 mismatch)")
        for g in _git_dirs(d, repo):
            for rev in (commit, "HEAD"):
                r = subprocess.run(["git", "--git-dir", g, "show", f"{rev}:{path}"],
                                   capture_output=True)
                if r.returncode == 0:
                    if sha256_bytes(r.stdout) == want_sha:
                        return r.stdout, f"{g} {rev}:{path}"
                    tried.append(f"{g} {rev}:{path} (SHA-256 mismatch)")
    raise FileNotFoundError(
        f"{repo}:{path} with SHA-256 {want_sha} not found in {dirs}"
        + (f"; tried {tried}" if tried else "") + ". See benchmarks/realmotion/README.md.")


# ---------------------------------------------------------------- decoding
def _plane(p):
    a = np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)
    return a[:, :p.width]


def _upsample_chroma_left(c, h, w):
    """4:2:0 chroma to full size, H.264 default siting (type 0, 'left'): horizontally
    co-sited with even luma columns, vertically half-way between luma rows (linear)."""
    c = c.astype(np.float64)
    # vertical: chroma row i sits at luma y = 2i + 0.5
    up = np.concatenate([c[:1], c[:-1]], 0)
    dn = np.concatenate([c[1:], c[-1:]], 0)
    v = np.empty((2 * c.shape[0], c.shape[1]))
    v[0::2] = 0.75 * c + 0.25 * up
    v[1::2] = 0.75 * c + 0.25 * dn
    # horizontal: chroma column j sits at luma x = 2j
    rt = np.concatenate([v[:, 1:], v[:, -1:]], 1)
    out = np.empty((v.shape[0], 2 * v.shape[1]))
    out[:, 0::2] = v
    out[:, 1::2] = 0.5 * (v + rt)
    return out[:h, :w]


def yuv420_to_rgb(y, u, v, matrix):
    """Limited-range 8-bit Y'CbCr 4:2:0 planes -> float64 RGB in [0, 1] (clipped)."""
    kr, kb = MATRICES[matrix]
    kg = 1.0 - kr - kb
    h, w = y.shape
    yy = (y.astype(np.float64) - 16.0) / 219.0
    cb = (_upsample_chroma_left(u, h, w) - 128.0) / 224.0
    cr = (_upsample_chroma_left(v, h, w) - 128.0) / 224.0
    r = yy + 2 * (1 - kr) * cr
    b = yy + 2 * (1 - kb) * cb
    g = yy - (2 * kb * (1 - kb) / kg) * cb - (2 * kr * (1 - kr) / kg) * cr
    return np.clip(np.stack([r, g, b], -1), 0.0, 1.0)


def decode_video(path, start, count, matrix):
    """Frames ``start .. start+count-1`` (decode order = presentation order here) as float RGB.

    The decoder's own Y'CbCr planes are converted here (not by swscale) so the result does
    not depend on the libswscale version: limited range, the stream's tagged matrix,
    linear chroma upsampling with H.264's default 'left' siting."""
    import av
    frames = []
    with av.open(path) as c:
        for i, fr in enumerate(c.decode(video=0)):
            if i < start:
                continue
            if i >= start + count:
                break
            if fr.format.name != "yuv420p":
                raise ValueError(f"{path}: expected yuv420p, got {fr.format.name}")
            y, u, v = (_plane(p) for p in fr.planes)
            frames.append(yuv420_to_rgb(y, u, v, matrix))
    if len(frames) != count:
        raise ValueError(f"{path}: only {len(frames)} frames from {start}")
    return frames


def decode_image(data):
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return bgr[..., ::-1].astype(np.float64) / 255.0


# ---------------------------------------------------------------- processing
def to_gt(rgb, clip):
    y0, y1, x0, x1 = clip["crop"]
    rgb = rgb[y0:y1, x0:x1]
    if clip.get("resize"):
        w, h = clip["resize"]
        rgb = cv2.resize(rgb.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    gt = np.clip(np.round(np.asarray(rgb, np.float64) * 255.0), 0, 255).astype(np.uint8)
    h, w = gt.shape[:2]
    if (h, w) != tuple(clip["gt_size"]) or h % SCALE or w % SCALE:
        raise ValueError(f"{clip['name']}: GT {h}x{w}, expected {clip['gt_size']} (multiples of 4)")
    return gt  # RGB


def bd_x4(gt_rgb):
    x = gt_rgb.astype(np.float64) / 255.0
    b = np.stack([ndi.gaussian_filter(x[..., c], BD_SIGMA, mode="reflect")
                  for c in range(x.shape[-1])], -1)[::SCALE, ::SCALE]
    return np.clip(np.round(b * 255.0), 0, 255).astype(np.uint8)


def bd_x4_noise5(gt_rgb, index):
    """BD x4 before rounding, plus Gaussian noise of sigma 5/255 (generator seeded by
    ``(0, index)``), clipped to [0, 1] and rounded: the shared ``BDx4_noise5`` protocol."""
    x = gt_rgb.astype(np.float64) / 255.0
    b = np.stack([ndi.gaussian_filter(x[..., c], BD_SIGMA, mode="reflect")
                  for c in range(x.shape[-1])], -1)[::SCALE, ::SCALE]
    b = b + np.random.default_rng([0, index]).normal(0.0, 5.0 / 255.0, b.shape)
    return np.clip(np.round(np.clip(b, 0, 1) * 255.0), 0, 255).astype(np.uint8)


def bi_x4(gt_rgb):
    from mfsr.degradation import imresize
    out = imresize(gt_rgb, 1.0 / SCALE)
    assert out.dtype == np.uint8 and out.shape[:2] == (gt_rgb.shape[0] // SCALE, gt_rgb.shape[1] // SCALE)
    return out


def write_png(path, rgb):
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise IOError(path)
    data = buf.tobytes()
    with open(path, "wb") as f:
        f.write(data)
    return sha256_bytes(data), sha256_bytes(np.ascontiguousarray(rgb[..., ::-1]).tobytes())


def build_clip(clip, dirs, out):
    files = []
    if clip["kind"] == "video":
        (f,) = clip["files"]
        data, where = read_source(dirs, clip["repo"], clip["commit"], f["path"], f["sha256"])
        files.append({"path": f["path"], "sha256": f["sha256"], "read_from": where})
        tmp = os.path.join(out, f".{clip['name']}.src")
        with open(tmp, "wb") as fh:
            fh.write(data)
        try:
            frames = decode_video(tmp, clip["start"], clip["count"], clip["colorspace"])
        finally:
            os.remove(tmp)
        src_index = list(range(clip["start"], clip["start"] + clip["count"]))
    else:
        frames, src_index = [], []
        sel = clip["files"][clip["start"]:clip["start"] + clip["count"]]
        for f in sel:
            data, where = read_source(dirs, clip["repo"], clip["commit"], f["path"], f["sha256"])
            files.append({"path": f["path"], "sha256": f["sha256"], "read_from": where})
            frames.append(decode_image(data))
            src_index.append(f["path"])
    cdir = os.path.join(out, clip["name"])
    rec = {k: [] for k in ("GT", "BDx4", "BIx4", "BDx4_noise5")}
    pix = {k: [] for k in rec}
    for k in rec:
        os.makedirs(os.path.join(cdir, k), exist_ok=True)
    for i, rgb in enumerate(frames):
        gt = to_gt(rgb, clip)
        for k, img in (("GT", gt), ("BDx4", bd_x4(gt)), ("BIx4", bi_x4(gt)),
                       ("BDx4_noise5", bd_x4_noise5(gt, i))):
            fsha, psha = write_png(os.path.join(cdir, k, f"{i:04d}.png"), img)
            rec[k].append(fsha)
            pix[k].append(psha)
    gt_digest = sha256_bytes("".join(pix["GT"]).encode())
    h, w = clip["gt_size"]
    return {
        "clip": clip["name"],
        "source": {"repo": clip["repo"], "commit": clip["commit"], "files": files,
                   "licence": clip["licence"]},
        "content": clip["content"], "stresses": clip["stresses"],
        "frames": len(frames), "source_frames": src_index,
        "processing": {"source_size_hw": clip["source_size"], "crop_y0_y1_x0_x1": clip["crop"],
                       "resize_wh_inter_area": clip.get("resize"),
                       "yuv_matrix": clip.get("colorspace")},
        "sizes_hw": {"GT": [h, w], "BDx4": [h // 4, w // 4], "BIx4": [h // 4, w // 4],
                     "BDx4_noise5": [h // 4, w // 4]},
        "sha256_png": rec,
        "gt_pixel_digest": gt_digest,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("sources", nargs="+", help="folders holding the sources (e.g. /work/.mirror)")
    p.add_argument("--out", default=DEFAULT_OUT)
    p.add_argument("--clips", nargs="*", help="only these clips (default: all)")
    p.add_argument("--force", action="store_true", help="overwrite existing clip folders")
    a = p.parse_args(argv)
    with open(SOURCES) as f:
        spec = json.load(f)
    clips = [c for c in spec["clips"] if not a.clips or c["name"] in a.clips]
    os.makedirs(a.out, exist_ok=True)
    man_path = os.path.join(a.out, "manifest.json")
    manifest = {"clips": {}}
    if os.path.isfile(man_path):
        with open(man_path) as f:
            manifest = json.load(f)
    import av
    manifest["generator"] = {
        "script": "benchmarks/realmotion/build_devset.py",
        "numpy": np.__version__, "scipy": scipy.__version__, "opencv": cv2.__version__,
        "pyav": av.__version__, "python": sys.version.split()[0],
        "protocol": {"GT": "8-bit PNG, BGR as OpenCV writes it, dims multiple of 4",
                     "BDx4": "gaussian_filter(GT/255 float64 per channel, sigma=1.6, mode=reflect, "
                             "truncate=4.0)[::4, ::4], np.round(*255) to uint8",
                     "BIx4": "mfsr.degradation.imresize(GT RGB uint8, 0.25) (MATLAB bicubic, antialiasing)",
                     "BDx4_noise5": "BDx4 before rounding + N(0, 5/255) (default_rng([0, frame])), "
                                    "clipped to [0, 1], rounded"},
    }
    bad = []
    for clip in clips:
        cdir = os.path.join(a.out, clip["name"])
        if os.path.isdir(cdir) and not a.force:
            print(f"{clip['name']}: exists, skipped (use --force)")
            continue
        rec = build_clip(clip, a.sources, a.out)
        manifest["clips"][clip["name"]] = rec
        want = clip.get("expected_gt_pixel_digest")
        status = ""
        if want:
            status = "GT matches the committed digest" if want == rec["gt_pixel_digest"] else \
                "GT DIFFERS from the committed digest (decoder versions?)"
            if want != rec["gt_pixel_digest"]:
                bad.append(clip["name"])
        print(f"{clip['name']}: {rec['frames']} frames, GT {rec['sizes_hw']['GT']}, "
              f"digest {rec['gt_pixel_digest'][:16]} {status}")
        with open(man_path, "w") as f:
            json.dump(manifest, f, indent=1)
    if bad:
        print("warning: GT differs from sources.json for", bad, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

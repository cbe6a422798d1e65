"""Issue 25's data-weight trials on decoded video: the codec benchmark's reconstruction
(7-frame windows, ``mfsr.reconstruct(..., degradation="BD")``, the default codec path)
with the codec path's data weights or photometric check changed by patching
``mfsr.pipeline``, gain over bicubic on the BD grid per frame. None of the variants is in
the library (none helped; docs/compressed.md):

- ``base``: today's default;
- ``min1`` / ``median`` / ``sqrt``: confidence times ``min(1, (sigma / l)^2)``,
  ``min(1, (median(l) / l)^2)``, ``min(1, sigma / l)``, ``l`` the texture level
  :func:`mfsr.degradation.codec.block_error_level`;
- ``photo`` / ``photo_rel``: the photometric check's noise tolerance from ``l`` (of the
  reference) instead of the one level, or from ``l`` scaled to median ``sigma``;
- ``repeat_F``: each non-reference frame's weight ``1 / (1 + c)``, ``c`` =
  ``exp(-d^2 / (2 (F sigma)^2))``, ``d^2`` the 5x5 mean squared difference from its
  neighbour nearer the reference warped by DIS flow: a copied area counts about once.

    python benchmarks/codec_weights_ab.py base BDx4_x264_crf23,BDx4_x264_crf28 4,9,14,19,24
"""
import json
import os
import sys

import numpy as np
import mfsr, mfsr.pipeline as pl
from quality import baseline, load_sequence, registered_windows
from mfsr.metrics import y_psnr_ssim
from mfsr.degradation.codec import block_error_level

if len(sys.argv) < 4:
    raise SystemExit(__doc__)
variant = sys.argv[1]
if variant not in ("base", "min1", "median", "sqrt", "photo", "photo_rel") and \
        not variant.startswith("repeat"):
    raise SystemExit(f"unknown variant {variant!r}\n{__doc__}")
sets = sys.argv[2].split(",")
frames = [int(x) for x in sys.argv[3].split(",")]
seq = sys.argv[4] if len(sys.argv) > 4 else "bigbuckbunny"
orig = pl.data_motion

def patched(codec, motion, luma, sigma):
    from mfsr.core.motion import Motion
    if codec.kind == "video" and variant in ("min1", "median", "sqrt"):
        level = block_error_level(luma)
        if variant == "min1":
            w = np.minimum(1.0, (sigma / level) ** 2)
        elif variant == "median":
            w = np.minimum(1.0, (np.median(level) / level) ** 2)
        elif variant == "sqrt":
            w = np.minimum(1.0, sigma / level)
        motion = Motion(motion.flows, motion.confidence * w.astype(np.float32), motion.reference)
    if codec.kind == "video" and variant.startswith("repeat"):
        import cv2
        from scipy.ndimage import uniform_filter
        factor = float(variant.split("_")[1]) if "_" in variant else 0.5
        k, ref = luma.shape[0], motion.reference
        y8 = np.round(np.clip(luma, 0, 1) * 255).astype(np.uint8)
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        h, w = luma.shape[1:]
        gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
        weights = np.ones(luma.shape, np.float32)
        for i in range(k):
            if i == ref:
                continue
            nb = i - 1 if i > ref else i + 1   # the neighbour nearer the reference
            f = dis.calc(y8[i], y8[nb], None)
            warped = cv2.remap(luma[nb].astype(np.float32), gx + f[..., 0], gy + f[..., 1],
                               cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            d2 = uniform_filter((luma[i] - warped) ** 2, 5)
            copy = np.exp(-d2 / (2 * (factor * sigma) ** 2))
            weights[i] = 1.0 / (1.0 + copy)
        print(f"mean repeat weight {weights.mean():.3f}", flush=True)
        motion = Motion(motion.flows, motion.confidence * weights, motion.reference)
    return orig(codec, motion, luma, sigma)

pl.data_motion = patched
if variant.startswith("photo"):
    import mfsr.registration.confidence as rc
    def photo(frames, motion, sigma, noise_factor=2.0, texture_factor=0.3):
        ref = motion.reference
        reference = frames[ref]
        level = block_error_level(frames[ref][None])[0]
        if variant == "photo_rel":
            level = level * (sigma / np.median(level))
        mean = rc._local_mean(reference, np)
        variance = np.maximum(rc._local_mean(reference, np, square=True) - mean * mean, 0.0)
        scale = -0.5 / ((noise_factor * np.maximum(level, 1e-3)) ** 2 + texture_factor ** 2 * variance)
        out = np.ones(frames.shape, np.float32)
        for k in range(frames.shape[0]):
            if k == ref:
                continue
            warped = rc.sample(reference[..., None], motion.flows[k])
            warped = warped[..., 0] if warped.ndim == 3 else warped
            d = rc._local_mean(frames[k] - warped, np)
            out[k] = np.exp(d * d * scale)
        return out
    pl.photometric_confidence = photo
root = os.path.join(os.environ.get("MFSR_COMPRESSED", "/tmp/mfsr_compressed"), seq)
_, gt = load_sequence(os.path.join(root, "GT"))
out = {}
for name in sets:
    lr = load_sequence(os.path.join(root, name))[1]
    gains = []
    for t, stack, ref, motion, _ in registered_windows(lr, frames, 7):
        bic = y_psnr_ssim(gt[t], np.asarray(baseline("bicubic_phase", lr[t], 4, 0.0), np.float32), 4)[0]
        hr = np.asarray(mfsr.reconstruct(stack, 4, reference=ref, motion=motion, degradation="BD"), np.float32)
        p = y_psnr_ssim(gt[t], hr, 4)[0]
        gains.append(p - bic)
        print(f"{variant} {name} {t}: {p:.3f} bicubic {bic:.3f} gain {p-bic:+.3f}", flush=True)
    out[name] = {"gain": float(np.mean(gains)), "worst": float(np.min(gains)), "per_frame": gains}
    print(f"{variant} {name}: mean gain {np.mean(gains):+.3f} worst {np.min(gains):+.3f}", flush=True)
if os.environ.get("AB_OUT"):
    with open(os.environ["AB_OUT"], "w") as f:
        json.dump(out, f, indent=1)

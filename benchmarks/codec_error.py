"""How the codec's error behaves in time and space (issue 25): the figures of the issue,
measured on the project's own encodes.

Each sequence's LR frames (``SEQ/BDx4`` of ``--data``) are encoded as one yuv420p stream by
libx264 through PyAV exactly as ``benchmarks/make_compressed.py`` does (its defaults:
preset medium, the encoder's GOP, one encoder thread, so the stream does not depend on
the machine), in memory, and decoded back; the decoder is asked for the per-macroblock
QP (``export_side_data=venc_params``). The error is the decoded frame's BT.601 luma
(full range, from RGB, as mfsr sees it) minus the clean frame's, in 8-bit codes
(x 255). Measured per sequence and CRF:

- ``corr``: Pearson correlation of the error of frame k with that of frame k-1 over
  every pixel of every consecutive pair, at the same pixel and along the motion (the
  previous error warped by the clean frames' DIS flow, bilinear, where the flow's
  forward-backward check holds to 0.5 px and the match stays 2 px inside the frame);
- ``average7``: RMS of one frame's error against the RMS of the mean error of 7
  consecutive frames (every window of 7), at the same pixel and along the motion (each
  frame's error warped to the window's centre frame), and what independent noise of the
  one-frame level would give (RMS / sqrt(7));
- ``repeat``: the fraction of frame k's error that repeats frame k-1's: the regression
  coefficient of e_k on e_{k-1} per block (median over blocks, and pooled), same pixel and
  along the motion;
- ``pooled_texture_fit``: the same texture fit over every sequence and CRF at once (the
  coefficients of :data:`mfsr.degradation.codec.TEXTURE_ERROR_FIT`);
- ``codec_y_plane``: the error RMS, consecutive correlation and 7-frame average on the
  codec's own Y plane (studio range: the decoder's Y minus the Y the encoder was given),
  which leaves out the RGB round trip;
- ``texture``: per block (8x8 and 16x16 LR px), the linear fit of log(block RMS) on
  log(1 + gradient energy of the decoded block) (mean squared forward difference of the
  decoded luma, codes^2), its R^2 and coefficients; with the macroblock's QP as a second
  regressor, and QP alone (H.264's 16x16 macroblocks; an 8x8 block takes its
  macroblock's QP). Blocks whose RMS is below 0.05 codes are left out of the log fits.

    python benchmarks/codec_error.py --out benchmarks/results/codec_error.json
"""
from __future__ import annotations

import argparse
import io
import os
import time

import cv2
import numpy as np

from make_compressed import DEFAULT_DATA, luma, read_folder
from results_io import run_record, write_json

from mfsr.degradation.compression import PRESETS, decode_video, encode_video

HERE = os.path.dirname(os.path.abspath(__file__))
MB = 16  # H.264 macroblock side
MIN_RMS = 0.05  # codes: blocks below are left out of the log fits


def qp_maps(data):
    """Per-frame macroblock QP maps ``(K, mb_h, mb_w)`` of an H.264 file, or None when
    the decoder does not export them."""
    import av

    maps = []
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        stream.codec_context.options = {"export_side_data": "venc_params"}
        for frame in container.decode(stream):
            # PyAV 18.1.0 iterates over the side data, 18.1.1 over their types (a mapping)
            entries = [frame.side_data[k] if not hasattr(k, "type") else k
                       for k in frame.side_data]
            found = [sd for sd in entries if hasattr(sd, "qp_map")]
            if not found:
                return None
            maps.append(np.asarray(found[0].qp_map(), dtype=np.float64))
    return np.stack(maps)


def y_plane(frame):
    """The Y plane (studio range, 8-bit codes) of a PyAV yuv420p frame."""
    plane = frame.planes[0]
    rows = np.frombuffer(bytes(plane), np.uint8).reshape(frame.height, plane.line_size)
    return rows[:, :frame.width].astype(np.float64)


def codec_plane_error(clean_rgb, data):
    """The error on the codec's own Y plane: the decoder's Y minus the Y the encoder was
    given (FFmpeg's RGB -> yuv420p conversion of the clean frames), studio-range codes."""
    import av

    given = np.stack([y_plane(av.VideoFrame.from_ndarray(np.ascontiguousarray(im),
                                                         format="rgb24")
                              .reformat(format="yuv420p")) for im in clean_rgb])
    with av.open(io.BytesIO(data)) as container:
        decoded = np.stack([y_plane(f) for f in container.decode(video=0)])
    return decoded[:, :given.shape[1], :given.shape[2]] - given


def dis_flow(a, b):
    """DIS flow (medium preset) from uint8 image ``a`` to ``b``: ``a(x) ~ b(x + f(x))``."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(a, b, None)


def warp(image, flow):
    """``image`` sampled at ``x + flow(x)`` (bilinear, edges replicated)."""
    h, w = image.shape
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(image.astype(np.float32), gx + flow[..., 0], gy + flow[..., 1],
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def flow_valid(clean_a, clean_b, margin=2, tolerance=0.5):
    """Flow from ``a`` to ``b`` and where it can be trusted: forward-backward error below
    ``tolerance`` px and the match ``margin`` px inside the frame."""
    f = dis_flow(clean_a, clean_b)
    back = dis_flow(clean_b, clean_a)
    fb = f + np.stack([warp(back[..., 0], f), warp(back[..., 1], f)], axis=-1)
    h, w = clean_a.shape
    gy, gx = np.mgrid[0:h, 0:w]
    x, y = gx + f[..., 0], gy + f[..., 1]
    inside = (x >= margin) & (x <= w - 1 - margin) & (y >= margin) & (y <= h - 1 - margin)
    return f, inside & (np.hypot(fb[..., 0], fb[..., 1]) < tolerance)


def pearson(a, b):
    a, b = a - a.mean(), b - b.mean()
    return float(np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b)))


def rms(a):
    return float(np.sqrt(np.mean(np.square(a, dtype=np.float64))))


def blocks(a, size):
    """``(K, h, w)`` cropped to whole blocks as ``(K, h/size, w/size, size*size)``."""
    k, h, w = a.shape
    hb, wb = h // size, w // size
    a = a[:, :hb * size, :wb * size].reshape(k, hb, size, wb, size)
    return a.transpose(0, 1, 3, 2, 4).reshape(k, hb, wb, size * size)


def gradient_energy(y):
    """Mean squared forward difference (both axes) of each pixel, ``(K, h, w)``."""
    gx = np.zeros_like(y)
    gy = np.zeros_like(y)
    gx[:, :, :-1] = np.diff(y, axis=2)
    gy[:, :-1] = np.diff(y, axis=1)
    return gx ** 2 + gy ** 2


def linear_fit(columns, target):
    """Least-squares fit of ``target`` on ``columns`` plus a constant: coefficients
    (constant first) and R^2."""
    x = np.column_stack([np.ones_like(target)] + list(columns))
    coef, *_ = np.linalg.lstsq(x, target, rcond=None)
    resid = target - x @ coef
    r2 = 1 - np.sum(resid ** 2) / np.sum((target - target.mean()) ** 2)
    return [float(c) for c in coef], float(r2)


def texture_samples(error, decoded_luma, size):
    """Per block: log(1 + gradient energy of the decoded block), log(error RMS), and the
    mask of the blocks kept (RMS above ``MIN_RMS``)."""
    err_rms = np.sqrt(np.mean(blocks(error, size) ** 2, axis=-1))
    g = np.mean(blocks(gradient_energy(decoded_luma), size), axis=-1)
    keep = err_rms > MIN_RMS
    return np.log1p(g[keep]), np.log(err_rms[keep]), keep, err_rms


def texture_fits(error, decoded_luma, qp, size, pool=None):
    """log(block RMS) against log(1 + gradient energy), with and without QP."""
    tex, target, keep, err_rms = texture_samples(error, decoded_luma, size)
    if pool is not None:
        pool.setdefault(size, []).append((tex, target))
    coef, r2 = linear_fit([tex], target)
    out = {"block": size, "blocks": int(keep.sum()), "left_out": int((~keep).sum()),
           "r2_texture": r2, "coef_texture": {"a": coef[0], "b": coef[1]}}
    if qp is not None:
        k, hb, wb = err_rms.shape
        rep = MB // size
        q = np.repeat(np.repeat(qp, rep, axis=1), rep, axis=2)[:, :hb, :wb][keep]
        out["r2_texture_qp"] = linear_fit([tex, q], target)[1]
        out["r2_qp"] = linear_fit([q], target)[1]
        out["qp_range"] = [float(qp.min()), float(qp.max())]
    return out


def repeat_fraction(e_now, e_prev, valid, size):
    """Regression coefficient of e_k on e_{k-1} (pairs stacked), per block and pooled."""
    num = np.sum(blocks(e_now * e_prev * valid, size), axis=-1)
    den = np.sum(blocks(e_prev * e_prev * valid, size), axis=-1)
    count = np.sum(blocks(valid.astype(np.float64), size), axis=-1)
    ok = (count >= size * size / 2) & (den > 0)
    beta = num[ok] / den[ok]
    return {"block": size, "blocks": int(ok.sum()), "median": float(np.median(beta)),
            "pooled": float(np.sum(e_now * e_prev * valid) / np.sum(e_prev ** 2 * valid)),
            "share_above_0.8": float(np.mean(beta > 0.8))}


def measure(clean_rgb, crf, args, pool=None):
    data = encode_video(clean_rgb, "x264", crf, args.preset, None)
    decoded, types = decode_video(data)
    decoded = decoded[:, :clean_rgb.shape[1], :clean_rgb.shape[2]]
    qp = qp_maps(data)
    clean_y = luma(clean_rgb) * 255
    dec_y = luma(decoded) * 255
    e = (dec_y - clean_y).astype(np.float64)
    k = len(e)
    clean8 = np.round(np.clip(clean_y, 0, 255)).astype(np.uint8)

    # consecutive pairs: same pixel, and along the motion (flow of the clean frames)
    warped, valid = [], []
    for i in range(1, k):
        f, v = flow_valid(clean8[i], clean8[i - 1])
        warped.append(warp(e[i - 1], f))
        valid.append(v)
    warped, valid = np.stack(warped).astype(np.float64), np.stack(valid)
    now, prev = e[1:], e[:-1]
    same = np.ones_like(valid)
    corr = {"same_pixel": pearson(now, prev),
            "along_motion": pearson(now[valid], warped[valid]),
            "along_motion_valid_share": float(valid.mean())}
    repeat = {"same_pixel": [repeat_fraction(now, prev, same, s) for s in args.blocks],
              "along_motion": [repeat_fraction(now, warped, valid, s) for s in args.blocks]}

    # averages of 7 consecutive frames: same pixel, and warped to the centre frame
    n = args.window
    half = n // 2
    single, mean_same, mean_motion, single_motion = [], [], [], []
    for c in range(half, k - half):
        idx = range(c - half, c + half + 1)
        single.append(e[c - half:c + half + 1])
        mean_same.append(e[c - half:c + half + 1].mean(axis=0))
        stack, ok = [e[c]], np.ones(e[c].shape, bool)
        for j in idx:
            if j != c:
                f, v = flow_valid(clean8[c], clean8[j])
                stack.append(warp(e[j], f).astype(np.float64))
                ok &= v
        mean_motion.append(np.stack(stack).mean(axis=0)[ok])
        single_motion.append(e[c][ok])
    one = rms(np.stack(single))
    one_motion = rms(np.concatenate(single_motion))
    average = {"window": n, "single_rms": one, "mean_rms_same_pixel": rms(np.stack(mean_same)),
               "independent_rms": one / np.sqrt(n),
               "single_rms_on_motion_pixels": one_motion,
               "mean_rms_along_motion": rms(np.concatenate(mean_motion)),
               "independent_rms_on_motion_pixels": one_motion / np.sqrt(n),
               "along_motion_valid_share": float(np.mean([m.size for m in mean_motion])
                                                 / e[0].size)}
    texture = [texture_fits(e, dec_y, qp, s, pool) for s in args.blocks]
    ep = codec_plane_error(clean_rgb, data)
    windows = [ep[c - half:c + half + 1] for c in range(half, k - half)]
    plane = {"error_rms_codes": rms(ep), "corr_same_pixel": pearson(ep[1:], ep[:-1]),
             "single_rms": rms(np.stack(windows)),
             "mean_rms_same_pixel": rms(np.stack([w.mean(axis=0) for w in windows])),
             "independent_rms": rms(np.stack(windows)) / np.sqrt(n)}
    return {"crf": crf, "bytes": len(data), "picture_types": "".join(types),
            "error_rms_codes": rms(e), "qp_exported": qp is not None,
            "corr": corr, "average": average, "repeat": repeat, "texture": texture,
            "codec_y_plane": plane}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="folder holding the sequences")
    p.add_argument("--sequences", nargs="+", default=["bigbuckbunny", "carphone_pristine"])
    p.add_argument("--source", default="BDx4", help="LR folder of each sequence")
    p.add_argument("--crf", type=int, nargs="+", default=[23, 28])
    p.add_argument("--preset", default="medium", choices=PRESETS)
    p.add_argument("--window", type=int, default=7, help="frames averaged (odd)")
    p.add_argument("--blocks", type=int, nargs="+", default=[8, 16],
                   help="block sides (LR px) of the per-block figures; 8 or 16")
    p.add_argument("--out", help="JSON of the figures")
    args = p.parse_args(argv)
    if args.window < 3 or args.window % 2 == 0:
        p.error(f"--window must be odd and >= 3, got {args.window}")
    if any(b not in (8, 16) for b in args.blocks):
        p.error(f"--blocks must be 8 or 16, got {args.blocks}")
    t0 = time.time()
    results, pool = {}, {}
    for seq in args.sequences:
        folder = os.path.join(args.data, seq, args.source)
        if not os.path.isdir(folder):
            p.error(f"frame folder {folder} not found")
        _, clean = read_folder(folder)
        results[seq] = {}
        for crf in args.crf:
            r = measure(clean, crf, args, pool)
            results[seq][f"x264_crf{crf}"] = r
            a, t = r["average"], {x["block"]: x for x in r["texture"]}
            rep = {x["block"]: x for x in r["repeat"]["same_pixel"]}
            repm = {x["block"]: x for x in r["repeat"]["along_motion"]}
            b = args.blocks[-1]
            print(f"{seq} x264 CRF {crf}: error RMS {r['error_rms_codes']:.2f} codes; "
                  f"corr(e_k, e_k-1) {r['corr']['same_pixel']:.3f} same pixel, "
                  f"{r['corr']['along_motion']:.3f} along motion "
                  f"({r['corr']['along_motion_valid_share']:.0%} px); mean of {a['window']}: "
                  f"{a['single_rms']:.2f} -> {a['mean_rms_same_pixel']:.2f} same pixel "
                  f"(independent {a['independent_rms']:.2f}), "
                  f"{a['single_rms_on_motion_pixels']:.2f} -> {a['mean_rms_along_motion']:.2f}"
                  f" along motion (independent {a['independent_rms_on_motion_pixels']:.2f}); "
                  f"repeat ({b}x{b}) median {rep[b]['median']:.2f} same pixel, "
                  f"{repm[b]['median']:.2f} along motion", flush=True)
            q = r["codec_y_plane"]
            print(f"    codec's Y plane (studio codes): error RMS {q['error_rms_codes']:.2f}, "
                  f"corr {q['corr_same_pixel']:.3f}, mean of {a['window']}: "
                  f"{q['single_rms']:.2f} -> {q['mean_rms_same_pixel']:.2f} "
                  f"(independent {q['independent_rms']:.2f})", flush=True)
            for s in args.blocks:
                line = (f"    {s}x{s}: R^2 texture {t[s]['r2_texture']:.3f} "
                        f"(a {t[s]['coef_texture']['a']:.3f}, b {t[s]['coef_texture']['b']:.3f})")
                if "r2_qp" in t[s]:
                    line += (f", texture+QP {t[s]['r2_texture_qp']:.3f}, "
                             f"QP alone {t[s]['r2_qp']:.3f}")
                print(line, flush=True)
    # one fit over every sequence and CRF: the coefficients of
    # mfsr.degradation.codec.TEXTURE_ERROR_FIT (8x8 blocks, 8-bit codes)
    results["pooled_texture_fit"] = {}
    for s, parts in pool.items():
        tex = np.concatenate([t for t, _ in parts])
        target = np.concatenate([y for _, y in parts])
        coef, r2 = linear_fit([tex], target)
        results["pooled_texture_fit"][str(s)] = {"a": coef[0], "b": coef[1], "r2": r2,
                                                 "blocks": int(tex.size)}
        print(f"pooled {s}x{s} fit over {len(parts)} sets: log(RMS codes) = {coef[0]:.3f} + "
              f"{coef[1]:.3f} log(1 + g), R^2 {r2:.3f}", flush=True)
    if args.out:
        write_json(args.out, run_record(__file__, args, results, t0))
    print(f"done in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()

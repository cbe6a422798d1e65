"""Train a codec-artefact remover for LR frames (an experiment; not shipped).

Measured on bigbuckbunny (docs/compressed.md, "What limits the gain"), the result of
``--steps 2000`` restores 0.2-0.3 dB of the LR luma lost to x264 (0.8 dB to JPEG quality
50), but neither as a pre-filter of the LR frames nor as the plug-and-play prior does it
raise the reconstruction's gain by more than 0.1 dB, so mfsr does not ship it.

The same network as the shipped denoiser (``benchmarks/train_denoiser.py``: polyphase
residual CNN with a level channel, run by :class:`mfsr.priors.denoisers.LearnedDenoiser`),
trained to remove what H.264, H.265 and JPEG do to LR frames instead of white noise:

- scenes: the colour images shipped inside scikit-image's wheel (astronaut, chelsea,
  coffee, rocket, the left view of stereo_motorcycle; camera held out for validation),
  random 512x512 crops (smaller images whole);
- each scene made into a 7-frame BD x4 LR stack by ``mfsr.simulate`` (Gaussian PSF 1.6,
  random sub-pixel translations up to 2 LR px, 8 bits), as the LR video mfsr reconstructs;
- the stack through a real codec (``mfsr.degradation.compression``): x264 or x265 at a
  CRF drawn from 16..36, or JPEG at a quality drawn from 40..95;
- input: the decoded frame's luma (BT.601, as the solvers see it) and, as the level
  channel, the error level :func:`mfsr.degradation.codec.detect_codec` gives the decoded
  stack (what the pipeline passes at run time); target: the uncompressed LR luma.

Training starts from the shipped white-noise denoiser's weights (``--init``).

    pip install torch   # development only; mfsr never imports it
    python benchmarks/train_codec_denoiser.py --steps 2000 --weights /tmp/codec_dncnn.npz

Writes the weights (for :class:`mfsr.priors.denoisers.LearnedDenoiser`), ``--reference`` (an
input and the PyTorch output, for an inference test) and
``benchmarks/results/codec_denoiser_training.json`` (data, time, loss curve, validation).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from skimage import data
from train_denoiser import SmallFFDNet, export, load_weights, psnr

import mfsr
from mfsr.core.color import rgb_to_ycbcr
from mfsr.degradation.codec import detect_codec
from mfsr.degradation.compression import compress_jpeg, compress_video

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCENES = ("astronaut", "chelsea", "coffee", "rocket")
VALIDATION_SCENE = "camera"


def scene_images():
    images = [getattr(data, name)() for name in SCENES]
    images.append(data.stereo_motorcycle()[0])
    return images


def codec_pair(image, rng, crop=512):
    """(decoded luma, clean luma, level) stacks for one random crop, codec and setting."""
    h, w = image.shape[:2]
    ch, cw = min(h, crop) // 8 * 8, min(w, crop) // 8 * 8
    y, x = rng.integers(h - ch + 1), rng.integers(w - cw + 1)
    rgb = image[y:y + ch, x:x + cw]
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=-1)
    sim = mfsr.simulate(rgb, 4, 7, channel_axis=-1, max_shift=2.0, bits=8,
                        seed=int(rng.integers(1 << 30)))
    clean = np.round(sim.frames * 255).astype(np.uint8)
    kind = rng.choice(["x264", "x265", "jpeg"], p=[0.4, 0.35, 0.25])
    if kind == "jpeg":
        setting = int(rng.integers(40, 96))
        decoded = compress_jpeg(clean, setting)
    else:
        setting = int(rng.integers(16, 37))
        decoded = compress_video(clean, kind, setting)
    level = detect_codec(decoded).sigma
    luma = lambda a: rgb_to_ycbcr(a.astype(np.float32) / 255)[..., 0]  # noqa: E731
    return luma(decoded), luma(clean), level, f"{kind}:{setting}"


def make_pool(rng, sequences):
    images = scene_images()
    pool = []
    for i in range(sequences):
        pool.append(codec_pair(images[i % len(images)], rng))
    return pool


def sample_batch(pool, rng, batch, patch):
    noisy = np.empty((batch, 1, patch, patch), np.float32)
    clean = np.empty_like(noisy)
    sigma = np.empty(batch, np.float32)
    for i in range(batch):
        dec, ref, level, _ = pool[rng.integers(len(pool))]
        k = rng.integers(dec.shape[0])
        y = rng.integers(dec.shape[1] - patch + 1) // 2 * 2
        x = rng.integers(dec.shape[2] - patch + 1) // 2 * 2
        a, b = dec[k, y:y + patch, x:x + patch], ref[k, y:y + patch, x:x + patch]
        turn = rng.integers(4)  # the codec's grid is square: rotations and flips keep it
        a, b = np.rot90(a, turn), np.rot90(b, turn)
        if rng.random() < 0.5:
            a, b = a[:, ::-1], b[:, ::-1]
        noisy[i, 0], clean[i, 0], sigma[i] = a, b, level
    return torch.from_numpy(clean), torch.from_numpy(noisy), torch.from_numpy(sigma)


def validate(model, pool):
    """Mean PSNR (dB) of decoded and restored luma over the validation stacks."""
    before, after = [], []
    with torch.no_grad():
        for dec, ref, level, _ in pool:
            h, w = dec.shape[1] // 2 * 2, dec.shape[2] // 2 * 2
            inp = torch.from_numpy(np.ascontiguousarray(dec[:, None, :h, :w]))
            out = model(inp, torch.full((len(dec),), level))[:, 0].numpy()
            before.append(psnr(dec[:, :h, :w], ref[:, :h, :w]))
            after.append(psnr(out, ref[:, :h, :w]))
    return {"decoded": float(np.mean(before)), "restored": float(np.mean(after))}


def export_reference(model, pool, path):
    dec, _, level, _ = pool[0]
    inputs = np.ascontiguousarray(dec[:2, :32, :24])
    sigmas = np.array([level, level], np.float32)
    with torch.no_grad():
        outputs = model(torch.from_numpy(inputs)[:, None], torch.from_numpy(sigmas))[:, 0]
    np.savez_compressed(path, inputs=inputs, sigmas=sigmas,
                        outputs=outputs.numpy().astype(np.float32))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--patch", type=int, default=48)
    p.add_argument("--sequences", type=int, default=240, help="codec stacks in the pool")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", default=os.path.join(ROOT, "mfsr", "weights", "dncnn_small.npz"))
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--validate-every", type=int, default=500)
    p.add_argument("--weights", required=True, help="where to write the weights (.npz)")
    p.add_argument("--reference", help="where to write a PyTorch reference output (.npz)")
    p.add_argument("--out", default=os.path.join(HERE, "results",
                                                 "codec_denoiser_training.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    pool = make_pool(rng, args.sequences)
    camera = data.camera()
    val_rng = np.random.default_rng(args.seed + 1)
    val_pool = [codec_pair(camera, val_rng) for _ in range(12)]
    print(f"pool of {len(pool)} stacks in {time.time() - t0:.0f} s", flush=True)
    with np.load(args.init) as f:
        meta = json.loads(str(f["meta"]))
    model = SmallFFDNet(int(meta["features"]), int(meta["depth"]))
    load_weights(model, args.init)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: 0.01 + 0.495 * (1 + np.cos(np.pi * min(t, args.steps) / args.steps)))
    validation = [{"step": 0, "psnr": validate(model, val_pool)}]
    print("  validation", json.dumps(validation[-1]), flush=True)
    curve, running = [], []
    t1 = time.time()
    for step in range(1, args.steps + 1):
        clean, noisy, sigma = sample_batch(pool, rng, args.batch, args.patch)
        loss = F.mse_loss(model(noisy, sigma), clean)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running.append(loss.item())
        if step % args.log_every == 0:
            curve.append({"step": step, "seconds": time.time() - t1,
                          "loss": float(np.mean(running))})
            running = []
            print(f"step {step} mse {curve[-1]['loss']:.3e} {curve[-1]['seconds']:.0f}s",
                  flush=True)
        if step % args.validate_every == 0 or step == args.steps:
            validation.append({"step": step, "psnr": validate(model, val_pool)})
            print("  validation", json.dumps(validation[-1]), flush=True)
    train_seconds = time.time() - t1
    meta = dict(meta, trained_with="benchmarks/train_codec_denoiser.py " + " ".join(sys.argv[1:]),
                task="codec artefacts of BD x4 LR frames (x264, x265, JPEG)",
                level="the codec model's sigma (mfsr.degradation.codec.detect_codec)")
    export(model, args.weights, meta)
    if args.reference:
        export_reference(model, val_pool, args.reference)
    record = {"command": "python " + " ".join([os.path.relpath(__file__, ROOT)] + sys.argv[1:]),
              "args": vars(args), "scenes": list(SCENES) + ["stereo_motorcycle (left)"],
              "validation_scene": VALIDATION_SCENE,
              "pool": [s for *_, s in pool], "validation_pool": [s for *_, s in val_pool],
              "train_seconds": train_seconds, "torch": torch.__version__,
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "threads": args.threads},
              "loss_curve": curve, "validation": validation}
    with open(args.out, "w") as f:
        json.dump(record, f, indent=1)
    print(f"wrote {args.weights}, {args.out} ({train_seconds:.0f} s)")


if __name__ == "__main__":
    main()

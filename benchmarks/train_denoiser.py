"""Train the small learned denoiser that ships in ``mfsr/weights/`` (development only).

Architecture (mirrored exactly by :class:`mfsr.priors.denoisers.LearnedDenoiser`, which runs it
without PyTorch): FFDNet-style. The image ``(H, W)`` is split into its four 2x2 polyphase
components (``pixel_unshuffle``), a constant noise-level map ``sigma`` is appended
(5 channels at half resolution), then ``depth`` 3x3 convolutions with zero padding and
ReLU between them predict the four polyphase components of the noise, which are
re-interleaved (``pixel_shuffle``) and subtracted from the input (residual learning).

Training data: only images that ship inside the scikit-image wheel (``skimage.data``,
read from the package folder, nothing downloaded); ``camera`` is held out for validation.
Colour images are converted to luma (BT.601), since mfsr's solvers run on Y. Each image
is also used downscaled by 3/4 and 1/2 (anti-aliased) for variety of scale; images are
drawn with probability proportional to the square root of their area. Patches of
64x64 pixels, random flips and 90-degree rotations, additive white Gaussian noise with a
per-patch level drawn uniformly from [0, 0.2] (half the batch) or [0, 0.05] (the other
half: the levels plug-and-play super-resolution spends most iterations at), MSE loss on
the clean image, Adam with a cosine learning-rate decay.

    pip install torch   # development only; mfsr never imports it
    python benchmarks/train_denoiser.py --steps 5000

Writes ``mfsr/weights/dncnn_small.npz`` (float32 weights and the architecture),
``tests/data/dncnn_reference.npz`` (a small input and the PyTorch output for it, for the
run-time inference tests) and ``benchmarks/results/denoiser_training.json`` (data used,
time, loss curve, validation PSNR).
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
import torch.nn as nn
import torch.nn.functional as F
from skimage import data, transform

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# skimage.data images stored inside the wheel (no download); photographs and micrographs.
TRAIN_IMAGES = ("astronaut", "brick", "cell", "chelsea", "coffee", "coins", "grass", "gravel",
                "hubble_deep_field", "immunohistochemistry", "microaneurysms", "moon", "page",
                "retina", "rocket", "text")
# stereo pair members are loaded through data.stereo_motorcycle (left view only)
VALIDATION_IMAGE = "camera"
VALIDATION_SIGMAS = (0.01, 0.02, 0.05, 0.1)


def luma(img):
    """float32 [0, 1] luma (BT.601 weights) of a uint8 grey or RGB(A) image."""
    img = np.asarray(img)
    scale = 255.0 if img.dtype == np.uint8 else 1.0
    img = img.astype(np.float32) / scale
    if img.ndim == 3:
        img = img[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.ascontiguousarray(img, dtype=np.float32)


def training_images(min_size=64):
    """Luma images at scales 1, 3/4 and 1/2 (those at least ``min_size`` on each side)."""
    base = [luma(getattr(data, name)()) for name in TRAIN_IMAGES]
    base.append(luma(data.stereo_motorcycle()[0]))
    out = []
    for img in base:
        out.append(img)
        for s in (0.75, 0.5):
            out.append(transform.rescale(img, s, anti_aliasing=True, order=3)
                       .astype(np.float32).clip(0, 1))
    return [img for img in out if min(img.shape) >= min_size]


class SmallFFDNet(nn.Module):
    """Polyphase residual denoiser; see the module docstring."""

    def __init__(self, features=48, depth=10):
        super().__init__()
        chans = [5] + [features] * (depth - 1) + [4]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in zip(chans, chans[1:]))
        for conv in self.convs[:-1]:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        nn.init.zeros_(self.convs[-1].weight)
        nn.init.zeros_(self.convs[-1].bias)

    def forward(self, x, sigma):
        """x: (N, 1, H, W) with H, W even; sigma: (N,) noise levels."""
        h = F.pixel_unshuffle(x, 2)
        smap = sigma.view(-1, 1, 1, 1).expand(-1, 1, h.shape[2], h.shape[3])
        h = torch.cat([h, smap], dim=1)
        for conv in self.convs[:-1]:
            h = F.relu(conv(h))
        return x - F.pixel_shuffle(self.convs[-1](h), 2)


NOISE_LEVELS = {
    "mixed": "uniform on [0, 0.2] for half of each batch, on [0, 0.05] for the other half",
    "loguniform": "0 for a tenth of the patches, the others log-uniform on [0.002, 0.2] "
                  "(as many patches per decade of noise)",
}


def sample_sigmas(rng, batch, dist):
    """Per-patch noise levels drawn as ``NOISE_LEVELS[dist]`` says."""
    if dist == "mixed":
        top = np.where(np.arange(batch) < batch // 2, 0.2, 0.05)
        return (rng.random(batch) * top).astype(np.float32)
    sigma = np.exp(rng.uniform(np.log(0.002), np.log(0.2), batch))
    sigma[rng.random(batch) < 0.1] = 0.0
    return sigma.astype(np.float32)


def sample_batch(images, rng, batch, patch, dist="mixed"):
    """Clean patches (N, 1, p, p), their noisy versions and the noise levels."""
    clean = np.empty((batch, 1, patch, patch), np.float32)
    prob = np.sqrt([img.size for img in images])  # large images count more, not in full
    prob /= prob.sum()
    for i in range(batch):
        img = images[rng.choice(len(images), p=prob)]
        y = rng.integers(img.shape[0] - patch + 1)
        x = rng.integers(img.shape[1] - patch + 1)
        p = img[y:y + patch, x:x + patch]
        p = np.rot90(p, rng.integers(4))
        if rng.random() < 0.5:
            p = p[:, ::-1]
        clean[i, 0] = p
    sigma = sample_sigmas(rng, batch, dist)
    noisy = clean + sigma[:, None, None, None] * rng.standard_normal(clean.shape).astype(np.float32)
    return torch.from_numpy(clean), torch.from_numpy(noisy), torch.from_numpy(sigma)


def psnr(a, b):
    return float(10 * np.log10(1.0 / np.mean((np.clip(a, 0, 1) - b) ** 2)))


def validate(model, clean, rng_seed=0):
    """PSNR (dB) of noisy input and denoised output of the held-out image per sigma."""
    rng = np.random.default_rng(rng_seed)
    out = {}
    with torch.no_grad():
        for s in VALIDATION_SIGMAS:
            noisy = clean + s * rng.standard_normal(clean.shape).astype(np.float32)
            den = model(torch.from_numpy(noisy)[None, None], torch.tensor([s]))[0, 0].numpy()
            out[f"{s:g}"] = {"noisy": psnr(noisy, clean), "denoised": psnr(den, clean)}
    return out


def load_weights(model, path):
    """Copy weights exported by :func:`export` into ``model`` (to continue training)."""
    with np.load(path) as f:
        for i, conv in enumerate(model.convs):
            conv.weight.data.copy_(torch.from_numpy(f[f"w{i}"]))
            conv.bias.data.copy_(torch.from_numpy(f[f"b{i}"]))


def loss_fn(out, clean, sigma, kind):
    """``"mse"``; or ``"relative"``: each patch's MSE divided by ``sigma**2 + 0.01**2``,
    so that every noise level counts by its relative (dB) improvement rather than the
    high levels dominating the sum."""
    if kind == "mse":
        return F.mse_loss(out, clean)
    per_patch = ((out - clean) ** 2).mean(dim=(1, 2, 3))
    return (per_patch / (sigma**2 + 0.01**2)).mean()


def export(model, path, meta):
    """float32 weights ``w{i}`` (out, in, 3, 3), ``b{i}`` (out,), plus the architecture."""
    arrays = {}
    for i, conv in enumerate(model.convs):
        arrays[f"w{i}"] = conv.weight.detach().numpy().astype(np.float32)
        arrays[f"b{i}"] = conv.bias.detach().numpy().astype(np.float32)
    arrays["meta"] = np.array(json.dumps(meta))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez_compressed(path, **arrays)


def export_reference(model, path, seed=0):
    """A small noisy input and the PyTorch output for it (run-time inference tests)."""
    rng = np.random.default_rng(seed)
    clean = luma(data.camera())[200:232, 240:264]  # 32 x 24, held-out image
    sigmas = np.array([0.0, 0.02, 0.08], np.float32)
    inputs = np.stack([clean + s * rng.standard_normal(clean.shape).astype(np.float32)
                       for s in sigmas]).astype(np.float32)
    with torch.no_grad():
        outputs = model(torch.from_numpy(inputs)[:, None], torch.from_numpy(sigmas))[:, 0].numpy()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez_compressed(path, inputs=inputs, sigmas=sigmas, outputs=outputs.astype(np.float32))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--patch", type=int, default=64)
    p.add_argument("--features", type=int, default=48)
    p.add_argument("--depth", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=0, help="steps of linear learning-rate warm-up")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--noise", choices=["mixed", "loguniform"], default="mixed",
                   help="distribution of the training noise levels (see sample_sigmas)")
    p.add_argument("--loss", choices=["mse", "relative"], default="mse")
    p.add_argument("--init", help="start from these exported weights (a second stage); the "
                                  "record of the earlier stage(s) is kept from --out")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--validate-every", type=int, default=500)
    p.add_argument("--weights", default=os.path.join(ROOT, "mfsr", "weights", "dncnn_small.npz"))
    p.add_argument("--reference", default=os.path.join(ROOT, "tests", "data",
                                                       "dncnn_reference.npz"))
    p.add_argument("--out", default=os.path.join(HERE, "results", "denoiser_training.json"))
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    images = training_images(args.patch)
    val_clean = luma(getattr(data, VALIDATION_IMAGE)())
    model = SmallFFDNet(args.features, args.depth)
    earlier = []
    if args.init:
        load_weights(model, args.init)
        if os.path.exists(args.out):
            with open(args.out) as f:
                prev = json.load(f)
            earlier = prev.pop("earlier_stages", []) + [prev]
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    # linear warm-up (Adam's first steps are ~lr per weight: too much for trained weights),
    # then cosine decay to lr / 100
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, (t + 1) / max(
        args.warmup, 1)) * (0.01 + 0.495 * (1 + np.cos(np.pi * min(t, args.steps) / args.steps))))
    print(f"{len(images)} training images, {n_params} parameters", flush=True)

    curve, validation, running = [], [], []
    t0 = time.time()
    for step in range(1, args.steps + 1):
        clean, noisy, sigma = sample_batch(images, rng, args.batch, args.patch, args.noise)
        loss = loss_fn(model(noisy, sigma), clean, sigma, args.loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running.append(loss.item())
        if step % args.log_every == 0:
            curve.append({"step": step, "seconds": time.time() - t0,
                          "loss": float(np.mean(running)), "lr": sched.get_last_lr()[0]})
            running = []
            print(f"step {step} {args.loss} {curve[-1]['loss']:.3e} "
                  f"{curve[-1]['seconds']:.0f}s", flush=True)
        if step % args.validate_every == 0 or step == args.steps:
            model.eval()
            validation.append({"step": step, "psnr": validate(model, val_clean)})
            model.train()
            print("  validation", json.dumps(validation[-1]["psnr"]), flush=True)
    train_seconds = time.time() - t0

    meta = {"architecture": "polyphase-residual-cnn", "features": args.features,
            "depth": args.depth, "unshuffle": 2, "parameters": n_params,
            "trained_with": "benchmarks/train_denoiser.py " + " ".join(sys.argv[1:]),
            "sigma_range": [0.0, 0.2]}
    export(model, args.weights, meta)
    export_reference(model, args.reference)
    record = {
        "command": "python " + " ".join([os.path.relpath(__file__, ROOT)] + sys.argv[1:]),
        "args": vars(args), "parameters": n_params,
        "training_data": {"source": "scikit-image " + __import__("skimage").__version__
                                    + " skimage.data (files inside the wheel)",
                          "images": list(TRAIN_IMAGES) + ["stereo_motorcycle (left)"],
                          "scales": [1.0, 0.75, 0.5], "colour": "BT.601 luma",
                          "held_out_for_validation": VALIDATION_IMAGE},
        "noise": "AWGN, levels: " + NOISE_LEVELS[args.noise],
        "loss": " ".join(loss_fn.__doc__.split()) if args.loss == "relative" else "mse",
        "train_seconds": train_seconds,
        "total_train_seconds": train_seconds + sum(e["train_seconds"] for e in earlier),
        "torch": torch.__version__,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "threads": args.threads},
        "loss_curve": curve, "validation": validation, "earlier_stages": earlier,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(record, f, indent=1)
    print(f"wrote {args.weights}, {args.reference}, {args.out} ({train_seconds:.0f} s)")


if __name__ == "__main__":
    main()

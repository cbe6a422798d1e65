"""Self-calibration on simulated data: noise level, Poisson-Gaussian model, PSF width.

Every stack is made by ``mfsr.simulate`` (BD: Gaussian PSF, phase 0, x4, 7 frames of
random sub-pixel global motion, float output) from greyscale images that ship with
scikit-image, so the truth is known:

- Gaussian noise of each ``--sigmas`` level: ``mfsr.degradation.estimate_noise`` of the
  whole stack (the estimate ``reconstruct`` uses when ``noise=None``), relative error;
- Poisson-Gaussian noise (``gain``, ``sigma``): ``estimate_noise_model`` of the stack;
- PSF width (``--psf-sigmas`` x ``--psf-noises``): ``mfsr.pipeline.calibration.estimate_psf`` with
  the motion from ``mfsr.register`` and the noise from ``estimate_noise`` (what
  ``reconstruct(psf="estimate")`` does);
- PSF width on real video (``--real``): 7-frame windows of ``<data>/bigbuckbunny/BDx4``
  and ``BDx4_noise5`` (made with a Gaussian PSF of sigma 1.6 HR px, see the data README),
  luma, scored on centred LR crops of each ``--real-crops`` size; and, as a control, a
  stack with simulated global motion made from one of its ground-truth frames.

    python benchmarks/calibration.py --out benchmarks/results/calibration.json
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from skimage import color, data

import mfsr
from mfsr.pipeline.calibration import estimate_psf
from mfsr.degradation import PoissonGaussianNoise, estimate_noise, estimate_noise_model
from mfsr.io import read_image
from mfsr.video import luma_of

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_io import command_line, write_json  # noqa: E402

IMAGES = {"camera": lambda: data.camera(),
          "astronaut": lambda: color.rgb2gray(data.astronaut()),
          "coffee": lambda: color.rgb2gray(data.coffee()),
          "chelsea": lambda: color.rgb2gray(data.chelsea())}


def grey(name):
    image = IMAGES[name]()
    return (image / 255.0 if image.dtype == np.uint8 else image).astype(np.float32)


def stack(name, psf=1.6, noise=0.0, seed=0):
    return mfsr.simulate(grey(name), 4, 7, degradation="BD", psf=psf, noise=noise,
                         seed=seed).frames


def _luma(path):
    """The luma ``reconstruct`` works on (BT.601 Y, [0, 1]) of one frame file."""
    return luma_of(read_image(path))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", nargs="+", default=list(IMAGES), choices=list(IMAGES))
    p.add_argument("--sigmas", type=float, nargs="+", default=[0.005, 0.01, 0.02, 0.04])
    p.add_argument("--pg", type=float, nargs=2, action="append", metavar=("GAIN", "SIGMA"),
                   help="Poisson-Gaussian (gain, sigma) pairs (default: 0.0004 0.005, "
                        "0.001 0.01)")
    p.add_argument("--psf-sigmas", type=float, nargs="+", default=[1.0, 1.6, 2.0])
    p.add_argument("--psf-noises", type=float, nargs="+", default=[0.005, 0.01, 0.02])
    p.add_argument("--psf-images", nargs="+", default=["camera", "astronaut"],
                   choices=list(IMAGES))
    p.add_argument("--real", action="store_true", help="also estimate the PSF of bigbuckbunny")
    p.add_argument("--real-crops", type=int, nargs="+", default=[64, 128])
    p.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "..", "shared", "data"))
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args(argv)
    pg_levels = args.pg or [(0.0004, 0.005), (0.001, 0.01)]
    t0 = time.time()

    gaussian = []
    print("Gaussian noise: estimate_noise(stack) / true sigma")
    for name in args.images:
        for sigma in args.sigmas:
            est = float(estimate_noise(stack(name, noise=sigma)))
            gaussian.append({"image": name, "sigma": sigma, "estimate": est,
                             "relative_error": est / sigma - 1})
            print(f"  {name:10s} sigma {sigma:.3f}: {est:.4f} ({est / sigma - 1:+.1%})")

    poisson = []
    print("Poisson-Gaussian noise: estimate_noise_model(stack)")
    for name in args.images:
        for gain, sigma in pg_levels:
            model = estimate_noise_model(stack(name, noise=PoissonGaussianNoise(gain, sigma)))
            poisson.append({"image": name, "gain": gain, "sigma": sigma,
                            "gain_estimate": model.gain, "sigma_estimate": model.sigma})
            print(f"  {name:10s} gain {gain:g} sigma {sigma:g}: gain {model.gain:.2e}, "
                  f"sigma {model.sigma:.4f}")

    psf = []
    print("PSF width: estimate_psf (HR px)")
    for name in args.psf_images:
        for noise in args.psf_noises:
            for true in args.psf_sigmas:
                frames = stack(name, psf=true, noise=noise)
                t = time.perf_counter()
                est, _ = estimate_psf(frames, 4, mfsr.register(frames))
                psf.append({"image": name, "noise": noise, "sigma": true, "estimate": float(est),
                            "error": float(est - true), "seconds": time.perf_counter() - t})
                print(f"  {name:10s} noise {noise:.3f} sigma {true:.1f}: {est:.2f} "
                      f"({est - true:+.2f})", flush=True)

    real = []
    if args.real:
        print("PSF width on bigbuckbunny (truth 1.6)")
        for degradation in ("BDx4", "BDx4_noise5"):
            folder = os.path.join(args.data, "bigbuckbunny", degradation)
            names = sorted(f for f in os.listdir(folder) if f.endswith(".png"))
            for start in (0, 10, 20):
                frames = np.stack([_luma(os.path.join(folder, f))
                                   for f in names[start:start + 7]])
                motion = mfsr.register(frames)
                for crop in args.real_crops:
                    row = {"degradation": degradation, "frames": [start, start + 6],
                           "crop": crop}
                    t = time.perf_counter()
                    try:
                        est = float(estimate_psf(frames, 4, motion, crop=crop)[0])
                        row.update(estimate=est, error=est - 1.6)
                        text = f"{est:.2f} ({est - 1.6:+.2f})"
                    except ValueError as e:  # a static window: refused, with the reason
                        row.update(refused=str(e))
                        text = f"refused: {e}"
                    row["seconds"] = time.perf_counter() - t
                    real.append(row)
                    print(f"  {degradation:12s} frames {start}-{start + 6}, crop {crop}: {text}",
                          flush=True)
        # control: global motion simulated from one ground-truth frame of the same video,
        # so that only the motion differs from the windows above
        gt = os.path.join(args.data, "bigbuckbunny", "GT")
        hr = _luma(os.path.join(gt, sorted(os.listdir(gt))[13]))
        sim = mfsr.simulate(hr, 4, 7, degradation="BD", psf=1.6, noise=0.003, seed=0)
        for label, motion in (("registered", mfsr.register(sim.frames)), ("true", sim.motion)):
            est = float(estimate_psf(sim.frames, 4, motion)[0])
            real.append({"degradation": f"simulated global motion from GT frame 13, noise "
                                        f"0.003, {label} motion", "crop": 64,
                         "estimate": est, "error": est - 1.6})
            print(f"  global motion from GT frame 13, {label} motion: {est:.2f} "
                  f"({est - 1.6:+.2f})", flush=True)

    result = {"command": command_line(__file__),
              "setup": "mfsr.simulate(grey image, 4, 7, degradation='BD', psf, noise, seed=0), "
                       "float frames", "gaussian": gaussian, "poisson_gaussian": poisson,
              "psf": psf, "psf_real": real, "mfsr": mfsr.__version__,
              "total_seconds": time.time() - t0}
    if args.out:
        write_json(args.out, result)
        print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

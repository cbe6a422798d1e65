"""Self-calibration on simulated data: noise level, Poisson-Gaussian model, PSF width.

Every stack is made by ``mfsr.simulate`` (BD: Gaussian PSF, phase 0, x4, 7 frames of
random sub-pixel global motion, float output) from greyscale images that ship with
scikit-image, so the truth is known:

- Gaussian noise of each ``--sigmas`` level: ``mfsr.degradation.estimate_noise`` of the
  whole stack (the estimate ``reconstruct`` uses when ``noise=None``), relative error;
- Poisson-Gaussian noise (``gain``, ``sigma``): ``estimate_noise_model`` of the stack;
- PSF width (``--psf-sigmas``, noise 0.005): ``mfsr.calibration.estimate_psf`` with the
  motion from ``mfsr.register`` (what ``reconstruct(psf="estimate")`` does).

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
from mfsr.calibration import estimate_psf
from mfsr.degradation import PoissonGaussianNoise, estimate_noise, estimate_noise_model

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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", nargs="+", default=list(IMAGES), choices=list(IMAGES))
    p.add_argument("--sigmas", type=float, nargs="+", default=[0.005, 0.01, 0.02, 0.04])
    p.add_argument("--pg", type=float, nargs=2, action="append", metavar=("GAIN", "SIGMA"),
                   help="Poisson-Gaussian (gain, sigma) pairs (default: 0.0004 0.005, "
                        "0.001 0.01)")
    p.add_argument("--psf-sigmas", type=float, nargs="+", default=[1.0, 1.6, 2.0])
    p.add_argument("--psf-images", nargs="+", default=["camera", "astronaut"],
                   choices=list(IMAGES))
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
    print("PSF width: estimate_psf (HR px), noise 0.005")
    for name in args.psf_images:
        for true in args.psf_sigmas:
            frames = stack(name, psf=true, noise=0.005)
            t = time.perf_counter()
            est, _ = estimate_psf(frames, 4, mfsr.register(frames))
            psf.append({"image": name, "sigma": true, "estimate": float(est),
                        "error": float(est - true), "seconds": time.perf_counter() - t})
            print(f"  {name:10s} sigma {true:.1f}: {est:.2f} ({est - true:+.2f})")

    result = {"command": command_line(__file__),
              "setup": "mfsr.simulate(grey image, 4, 7, degradation='BD', psf, noise, seed=0), "
                       "float frames", "gaussian": gaussian, "poisson_gaussian": poisson,
              "psf": psf, "mfsr": mfsr.__version__, "total_seconds": time.time() - t0}
    if args.out:
        write_json(args.out, result)
        print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

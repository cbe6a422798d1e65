"""Build the weights folder of ``mfsr bench --weights DIR`` from the public sources.

mfsr never downloads weights. This script copies each network's published file out of a
clone of its source repository (listed in ``mfsr.bench.deep.NETWORKS``: repository,
path, SHA-256), checks its SHA-256 and writes it to DIR under the name the loader looks
for. Clone the sources first (each file is a plain git blob, under 4 MiB, no LFS):

    git clone https://github.com/phoenix104104/LapSRN
    git clone https://github.com/twtygqyy/pytorch-vdsr
    python benchmarks/bench_weights.py ~/mfsr-weights \\
        --source phoenix104104/LapSRN=LapSRN --source twtygqyy/pytorch-vdsr=pytorch-vdsr

A source is a checkout or a bare git directory (its HEAD is read). Networks whose source
is not given are listed as skipped; the script exits 1 if a file is missing or its
SHA-256 is not the published one.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

from mfsr.bench.deep import NETWORKS, sha256


def read_source(folder, path):
    """Bytes of ``path`` in a checkout or a bare git directory ``folder``."""
    plain = os.path.join(folder, path)
    if os.path.isfile(plain):
        with open(plain, "rb") as f:
            return f.read()
    git_dir = folder if os.path.isfile(os.path.join(folder, "HEAD")) else \
        os.path.join(folder, ".git")
    proc = subprocess.run(["git", "--git-dir", git_dir, "show", f"HEAD:{path}"],
                          capture_output=True)
    if proc.returncode != 0:
        raise FileNotFoundError(f"{path} not in {folder}: {proc.stderr.decode()[-300:]}")
    return proc.stdout


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", help="weights folder to write")
    p.add_argument("--source", action="append", default=[], metavar="OWNER/NAME=PATH",
                   help="a clone of a source repository (repeat)")
    args = p.parse_args(argv)
    sources = dict(s.split("=", 1) for s in args.source)
    os.makedirs(args.out, exist_ok=True)
    failed = False
    for name, spec in NETWORKS.items():
        if spec["repo"] not in sources:
            print(f"{name}: skipped (no --source {spec['repo']}=PATH)")
            continue
        try:
            blob = read_source(sources[spec["repo"]], spec["path"])
        except FileNotFoundError as exc:
            print(f"{name}: {exc}")
            failed = True
            continue
        dest = os.path.join(args.out, spec["file"])
        with open(dest + ".tmp", "wb") as f:
            f.write(blob)
        digest = sha256(dest + ".tmp")
        if digest != spec["sha256"]:
            os.remove(dest + ".tmp")
            print(f"{name}: SHA-256 {digest} is not the published {spec['sha256']}")
            failed = True
            continue
        os.replace(dest + ".tmp", dest)
        print(f"{name}: {dest} ({len(blob)} bytes, SHA-256 ok)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

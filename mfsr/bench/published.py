"""Published rows (figures from papers and model zoos), printed beside measured ones.

The table is ``published.csv`` beside this module; every row names its source and the
protocol it was measured under. :func:`matching` keeps the rows of one set and protocol.
"""
from __future__ import annotations

import csv
import os

__all__ = ["load_published", "matching"]

TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "published.csv")
# folder names under which the sets are commonly stored -> the table's names
ALIASES = {"vid4": "Vid4", "reds4": "REDS4", "reds": "REDS4", "udm10": "UDM10",
           "spmcs": "SPMCS-30", "spmcs-30": "SPMCS-30", "vimeo-90k-t": "Vimeo-90K-T",
           "vimeo90k": "Vimeo-90K-T", "vimeo_septuplet": "Vimeo-90K-T",
           "vimeo-90k": "Vimeo-90K-T"}


def load_published(path=TABLE):
    """All rows of the table as dicts (``psnr``, ``ssim`` floats, ``crop``/``scale`` ints).

    Parameters
    ----------
    path : str
        CSV file (default: the one shipped with mfsr).

    Returns
    -------
    list of dict
    """
    with open(path, newline="") as f:
        lines = [line for line in f if not line.startswith("#")]
    rows = list(csv.DictReader(lines))
    for r in rows:
        r["psnr"], r["ssim"] = float(r["psnr"]), float(r["ssim"])
        r["scale"], r["crop"] = int(r["scale"]), int(r["crop"])
    return rows


def canonical_name(name):
    """The table's name of a set from a folder name (``vid4`` -> ``Vid4``)."""
    return ALIASES.get(name.lower(), name)


def matching(dataset, protocol):
    """Rows of ``dataset`` measured under the same degradation, scale, channel and crop.

    Parameters
    ----------
    dataset : str
        Set name or folder name.
    protocol : Protocol

    Returns
    -------
    list of dict
    """
    name = canonical_name(dataset)
    return [r for r in load_published()
            if r["dataset"] == name and r["protocol"] == protocol.degradation
            and r["scale"] == protocol.scale and r["channel"] == protocol.channel
            and r["crop"] == protocol.crop]

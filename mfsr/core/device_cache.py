"""Small constant tables kept on the device, uploaded once per device and dtype.

Colour matrices, interpolation and filter tables and the system operator's gather tables
are built on the host (NumPy). On the CuPy path an ``xp.asarray`` of them per call is a
host-to-device copy per call (per frame in the video job); :func:`device_constant`
uploads each once and hands the same device array back afterwards.
"""
from __future__ import annotations

import collections
import threading

import numpy as np

# entries kept (least recently used dropped first); the tables are small, the largest
# (estimate_noise's filter matrices, n x n float64) a few MB at the sizes mfsr runs
MAX_ENTRIES = 64

_cache = collections.OrderedDict()
_lock = threading.Lock()


def _device_id(xp):
    try:
        return int(xp.cuda.Device().id)
    except Exception:  # noqa: BLE001 - a module without devices: one slot
        return 0


def device_constant(key, make, xp):
    """``make()`` (a NumPy array, built on the host) as an array of module ``xp``.

    For NumPy ``make()`` is called each time (no copy is involved). For CuPy the device
    copy is cached under ``key`` (hashable; it must determine ``make()``'s result) and
    the current device, so a table is built and uploaded once per device. Callers must
    not write into the returned array.
    """
    if xp is np:
        return make()
    full = (xp, _device_id(xp), key)  # the module itself: a stand-in never meets CuPy
    with _lock:
        hit = _cache.get(full)
        if hit is not None:
            _cache.move_to_end(full)
            return hit
    value = xp.asarray(make())
    with _lock:
        _cache[full] = value
        while len(_cache) > MAX_ENTRIES:
            _cache.popitem(last=False)
    return value


def clear():
    """Drop every cached device table (tests; freeing device memory)."""
    with _lock:
        _cache.clear()

"""A CuPy stand-in that runs mfsr's device path on the CPU and reports every host touch.

``tests/cuda_host.py`` stands in for CuPy only under the raw kernels. This module
stands in for the whole ``cupy`` package (and ``cupyx.scipy``) while a
:func:`device_standin` block is active, so that :func:`mfsr.reconstruct` and the video
job run end to end on "device" arrays with host memory underneath, and it says what a
real GPU run would have done:

- **array operations**: every call of a ``cupy.*`` / ``cupyx.scipy.*`` function, every
  array method, operator, index and ``numpy`` ufunc / function dispatched on a device
  array. Each is classified as ``compute`` (allocates or writes: would launch a kernel
  or a copy), ``view`` (a new array that shares the input's memory: reshape, slice,
  transpose) or ``noop`` (returns an input unchanged: ``asarray`` of a device array,
  ``astype(copy=False)`` to the same dtype). ``ops`` = compute + view, counted only
  outside kernel-set calls; the ones inside are ``inner_ops``.
- **kernel-set calls**: calls of the public functions of ``mfsr/kernels/cupy_kernels``
  (the module the registry hands out for device arrays) from outside it, and the raw
  kernel launches they make (``launches``). The kernels run as the CUDA sources built as
  host C++ (``cuda_host``; the builds are cached on disk by source hash), or, without
  a C++ compiler or with ``kernels="reference"``, as :mod:`mfsr.kernels.reference`.
- **host syncs**: implicit device-to-host conversions: ``__array__`` (``np.asarray`` of a
  device array), ``float()`` / ``int()`` / ``bool()`` / ``operator.index`` / ``.item()`` /
  ``.tolist()`` / ``repr`` / ``format`` of a device array, and the data-dependent
  shapes CuPy must read back (boolean-mask indexing, ``nonzero``, ``unique``, ...).
- **host calls**: any call into ``cv2``, ``scipy`` or ``skimage`` made from project code
  (``mfsr``, tests, benchmarks) while the block is active, caught by a profile hook
  (``sys.setprofile``), so ``from scipy.ndimage import x`` bindings are seen too;
  ``device_args`` says whether a device array was among a Python-level callee's
  arguments.
- **transfers**: explicit ``.get()`` / ``cupy.asnumpy`` (device to host) and
  ``cupy.asarray`` / ``cupy.array`` of host data (host to device), with bytes; plus
  ``implicit_h2d``: NumPy arrays handed to device operations (CuPy raises ``TypeError``
  there, except as an index or an assigned value, which it copies up).

Every event carries its call site, ``path:line (function)`` of the innermost project
frame (not the stand-in, not a site-packages or standard-library frame); the first
occurrence of each site also keeps a short stack. ``mode="strict"`` raises
:class:`HostSyncError` / :class:`HostCallError` / ``TypeError`` at the first host touch
(the event is recorded first); ``mode="report"`` records and carries on with the true
value, so a whole run can be measured.

Usage::

    with device_standin(mode="report") as dev:
        frames = dev.asarray(host_frames)          # an explicit upload (recorded)
        hr = mfsr.reconstruct(frames, 4, registration="gpu")
    print(dev.report.format())

``sys.modules["cupy"]`` (and ``cupyx*``) and the kernel registry's cache are replaced
only inside the block and restored after it; importing this module changes nothing.
``mfsr.core.backend`` needs no change: it picks CuPy by ``type(a).__module__`` starting with
``"cupy"``, which the stand-in array's class declares.
"""
from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import json
import operator
import os
import subprocess
import sys
import sysconfig
import tempfile
import threading
import types

import numpy as np

_THIS = os.path.abspath(__file__)
ROOT = os.path.dirname(os.path.dirname(_THIS))
_STDLIB = tuple({os.path.abspath(p) for p in (sysconfig.get_paths()["stdlib"],
                                             sysconfig.get_paths()["platstdlib"])})
HOST_LIBRARIES = ("cv2", "scipy", "skimage")

# functions that may take host data (an explicit upload); everything else wants device
# arrays, as in CuPy (whose ufuncs and functions raise TypeError on numpy.ndarray)
_UPLOADS = frozenset({"asarray", "array", "asanyarray"})
# metadata helpers: no array work, not counted
_METADATA = frozenset({"shape", "ndim", "size", "result_type", "promote_types", "can_cast",
                       "iinfo", "finfo", "dtype", "isscalar", "issubdtype", "may_share_memory",
                       "shares_memory", "broadcast_shapes", "min_scalar_type", "isfortran",
                       "get_printoptions", "set_printoptions"})
# outputs whose shape depends on the data: CuPy reads a count back to size them
_SHAPE_SYNC = frozenset({"nonzero", "flatnonzero", "argwhere", "unique", "compress",
                         "extract", "trim_zeros", "setdiff1d", "intersect1d", "union1d"})


class HostSyncError(RuntimeError):
    """Strict mode: an implicit device-to-host conversion."""


class HostCallError(RuntimeError):
    """Strict mode: a host library (cv2 / scipy / skimage) called while on the device."""


_active = None            # the DeviceStandin of the current block, if any
_tls = threading.local()  # kernel-set call depth


def _depth():
    return getattr(_tls, "depth", 0)


@functools.lru_cache(maxsize=None)
def _is_project(filename):
    if filename.startswith("<") or "site-packages" in filename or "dist-packages" in filename:
        return False
    path = os.path.abspath(filename)
    return path != _THIS and not any(path.startswith(p + os.sep) for p in _STDLIB)


@functools.lru_cache(maxsize=None)
def _rel(filename):
    path = os.path.abspath(filename)
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def _project_frame(frame):
    while frame is not None and not _is_project(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def _where(frame):
    return f"{_rel(frame.f_code.co_filename)}:{frame.f_lineno} ({frame.f_code.co_name})"


# generic helpers: a site inside one of them also names the project frame that called it
HELPER_FILES = frozenset({"mfsr/core/backend.py", "mfsr/core/validation.py", "mfsr/kernels/buffers.py"})


def _site_of(frame):
    site = _where(frame)
    if _rel(frame.f_code.co_filename) in HELPER_FILES:
        caller = _project_frame(frame.f_back)
        if caller is not None:
            site = f"{site} <- {_where(caller)}"
    return site


def _stack(frame, n=4):
    out = []
    while frame is not None and len(out) < n:
        if _is_project(frame.f_code.co_filename):
            out.append(_where(frame))
        frame = frame.f_back
    return out


# ------------------------------------------------------------------------------ report

class Report:
    """What a :func:`device_standin` block saw. All counters are ``collections.Counter``."""

    def __init__(self):
        self.ops = collections.Counter()          # (category, name) -> n, outside kernels
        self.op_sites = collections.Counter()     # site -> n (compute + view)
        self.op_stages = collections.Counter()    # stage -> n (compute + view)
        self.inner_ops = collections.Counter()    # (category, name) -> n, inside kernels
        self.kernel_calls = collections.Counter()  # kernel-set function -> n
        self.kernel_sites = collections.Counter()  # site -> n
        self.launches = collections.Counter()     # raw kernel -> n
        self.host_syncs = collections.Counter()   # (kind, site) -> n
        self.host_calls = collections.Counter()   # (library.function, site, device_args) -> n
        self.transfers = collections.Counter()    # (direction, site) -> n
        self.transfer_bytes = collections.Counter()  # direction -> bytes
        self.implicit_h2d = collections.Counter()  # (operation, site) -> n
        self.stacks = {}                          # site -> short stack (first occurrence)

    # -- totals
    def n_ops(self, category=None):
        """Array operations outside kernel-set calls (``compute`` + ``view`` by default)."""
        cats = ("compute", "view") if category is None else (category,)
        return sum(n for (c, _), n in self.ops.items() if c in cats)

    @property
    def n_kernel_calls(self):
        return sum(self.kernel_calls.values())

    @property
    def n_host_syncs(self):
        return sum(self.host_syncs.values())

    @property
    def n_host_calls(self):
        return sum(self.host_calls.values())

    @property
    def n_transfers(self):
        return sum(self.transfers.values())

    @property
    def total(self):
        """The issue's figure: kernel-set calls plus array operations."""
        return self.n_ops() + self.n_kernel_calls

    @property
    def host_work(self):
        """Host syncs + host calls + transfers + implicit uploads (0 = no host work)."""
        return (self.n_host_syncs + self.n_host_calls + self.n_transfers
                + sum(self.implicit_h2d.values()))

    @staticmethod
    def by_file(counter):
        """Sum a counter keyed by call site (``path:line (function)``) by file."""
        out = collections.Counter()
        for site, n in counter.items():
            out[site.split(":")[0]] += n
        return out

    def summary(self, top=15):
        """A JSON-able dict of the totals and the top call sites."""
        def pairs(counter, fmt=lambda k: k):
            return [[fmt(k), n] for k, n in counter.most_common(top)]
        syncs_by_site = collections.Counter()
        for (kind, site), n in self.host_syncs.items():
            syncs_by_site[f"{site} [{kind}]"] += n
        calls = collections.Counter()
        for (fn, site, dev), n in self.host_calls.items():
            calls[f"{fn} <- {site}{' [device args]' if dev else ''}"] += n
        transfers = collections.Counter()
        for (direction, site), n in self.transfers.items():
            transfers[f"{direction} {site}"] += n
        implicit = collections.Counter()
        for (op, site), n in self.implicit_h2d.items():
            implicit[f"{op} <- {site}"] += n
        return {
            "total_ops_plus_kernel_calls": self.total,
            "array_ops": self.n_ops(),
            "array_ops_compute": self.n_ops("compute"),
            "array_ops_view": self.n_ops("view"),
            "array_ops_noop": self.n_ops("noop"),
            "kernel_calls": self.n_kernel_calls,
            "kernel_launches": sum(self.launches.values()),
            "inner_ops": sum(n for (c, _), n in self.inner_ops.items() if c != "noop"),
            "host_syncs": self.n_host_syncs,
            "host_calls": self.n_host_calls,
            "transfers": dict(_sum_by(self.transfers, 0)),
            "transfer_bytes": dict(self.transfer_bytes),
            "implicit_h2d": sum(self.implicit_h2d.values()),
            "kernel_calls_by_function": dict(self.kernel_calls.most_common()),
            "launches_by_kernel": dict(self.launches.most_common()),
            "ops_by_stage": pairs(self.op_stages),
            "ops_by_file": pairs(self.by_file(self.op_sites)),
            "ops_top_sites": pairs(self.op_sites),
            "ops_top_names": pairs(collections.Counter(
                {f"{c}:{n}": v for (c, n), v in self.ops.items() if c != "noop"})),
            "host_syncs_by_file": pairs(self.by_file(
                collections.Counter({s: n for (_, s), n in self.host_syncs.items()}))),
            "host_syncs_top_sites": pairs(syncs_by_site),
            "host_syncs_by_kind": dict(_sum_by(self.host_syncs, 0).most_common()),
            "host_calls_top": pairs(calls),
            "transfers_top": pairs(transfers),
            "implicit_h2d_top": pairs(implicit),
            "stacks": {k: v for k, v in self.stacks.items()
                       if any(k in s for s, _ in syncs_by_site.most_common(top))
                       or any(k in s for s, _ in calls.most_common(top))},
        }

    def format(self, top=10):
        """A readable summary (what the benchmark prints)."""
        s = self.summary(top)
        lines = [
            f"ops (array ops + kernel-set calls): {s['total_ops_plus_kernel_calls']}",
            f"  array ops: {s['array_ops']} (compute {s['array_ops_compute']}, view "
            f"{s['array_ops_view']}; no-ops not counted: {s['array_ops_noop']})",
            f"  kernel-set calls: {s['kernel_calls']} (raw launches {s['kernel_launches']}, "
            f"array ops inside them {s['inner_ops']})",
            f"host syncs: {s['host_syncs']}   host calls (cv2/scipy/skimage): "
            f"{s['host_calls']}   explicit transfers: {s['transfers']} "
            f"({s['transfer_bytes']} bytes)   implicit uploads: {s['implicit_h2d']}",
        ]

        def section(title, rows):
            if rows:
                lines.append(title)
                lines.extend(f"  {n:6d}  {k}" for k, n in rows)
        section("kernel-set calls by function:", list(s["kernel_calls_by_function"].items()))
        section("ops by stage:", s["ops_by_stage"])
        section("ops by file:", s["ops_by_file"])
        section("ops, top sites:", s["ops_top_sites"])
        section("host syncs by kind:", list(s["host_syncs_by_kind"].items()))
        section("host syncs, top sites:", s["host_syncs_top_sites"])
        section("host calls by call site:", s["host_calls_top"])
        section("explicit transfers:", s["transfers_top"])
        section("implicit uploads (NumPy arrays in device ops):", s["implicit_h2d_top"])
        return "\n".join(lines)


def _sum_by(counter, index):
    out = collections.Counter()
    for key, n in counter.items():
        out[key[index]] += n
    return out


# ----------------------------------------------------------------------- the session

class DeviceStandin:
    """State of one :func:`device_standin` block: the fake modules and the report."""

    def __init__(self, mode="report", stage_functions=("_reconstruct", "_reconstruct_window",
                                                        "iter_reconstruct")):
        if mode not in ("report", "strict"):
            raise ValueError(f"mode must be 'report' or 'strict', got {mode!r}")
        self.mode = mode
        self.strict = mode == "strict"
        self.report = Report()
        self.stage_functions = frozenset(stage_functions)
        self.cupy = None
        self.kernels = None

    # -- helpers for tests and benchmarks
    def asarray(self, a, dtype=None):
        """Upload host data (recorded as an explicit host-to-device transfer)."""
        return self.cupy.asarray(a, dtype=dtype)

    def reset(self):
        """Start a fresh report (e.g. after the uploads)."""
        self.report = Report()

    # -- recording
    def _site(self, frame):
        frame = _project_frame(frame)
        if frame is None:
            return "<no project frame>", None
        site = _site_of(frame)
        if site not in self.report.stacks:
            self.report.stacks[site] = _stack(frame)
        return site, frame

    def _stage(self, frame):
        inner = None
        while frame is not None:
            if frame.f_code.co_name in self.stage_functions and \
                    _is_project(frame.f_code.co_filename):
                import linecache
                text = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
                return f"{_rel(frame.f_code.co_filename)}:{frame.f_lineno} {text[:60]}"
            inner = frame
            frame = frame.f_back
        return "(outside the pipeline)" if inner is not None else "?"

    def op(self, category, name, frame):
        if _depth():
            self.report.inner_ops[(category, name)] += 1
            return
        self.report.ops[(category, name)] += 1
        if category != "noop":
            site, pf = self._site(frame)
            self.report.op_sites[site] += 1
            self.report.op_stages[self._stage(pf)] += 1

    def sync(self, kind, frame, message=None):
        site, _ = self._site(frame)
        self.report.host_syncs[(kind, site)] += 1
        if self.strict:
            raise HostSyncError(message or f"implicit device-to-host conversion ({kind}) at "
                                f"{site}")

    def host_call(self, name, frame, device_args):
        site = _site_of(frame)
        if site not in self.report.stacks:
            self.report.stacks[site] = _stack(frame)
        self.report.host_calls[(name, site, bool(device_args))] += 1
        if self.strict:
            raise HostCallError(f"host library call {name} at {site}"
                                f"{' with a device array' if device_args else ''}")

    def transfer(self, direction, nbytes, frame):
        site, _ = self._site(frame)
        self.report.transfers[(direction, site)] += 1
        self.report.transfer_bytes[direction] += int(nbytes)

    def implicit_upload(self, name, frame, allowed=False):
        site, _ = self._site(frame)
        self.report.implicit_h2d[(name, site)] += 1
        if self.strict and not allowed:
            raise TypeError(f"{name}: a numpy.ndarray in a device operation at {site} "
                            "(CuPy raises TypeError: Unsupported type numpy.ndarray)")

    # -- the profile hook that sees cv2 / scipy / skimage
    def _build_profiler(self):
        import cv2
        cv2_ids = {}
        for name, value in vars(cv2).items():
            if callable(value) and not isinstance(value, type):
                cv2_ids[id(value)] = f"cv2.{name}"
        libs = tuple(f"{os.sep}{lib}{os.sep}" for lib in HOST_LIBRARIES if lib != "cv2")
        session = self

        def profile(frame, event, arg):
            if event == "call":
                fn = frame.f_code.co_filename
                if "-packages" not in fn:
                    return
                hit = next((lib for lib in libs if lib in fn), None)
                if hit is None:
                    return
                back = frame.f_back
                if back is None or not _is_project(back.f_code.co_filename):
                    return
                name = f"{hit.strip(os.sep)}.{frame.f_code.co_name}"
                module = frame.f_globals.get("__name__", "")
                if module:
                    name = f"{module}.{frame.f_code.co_name}"
                device = any(_holds_device(v) for v in frame.f_locals.values())
                session.host_call(name, back, device)
            elif event == "c_call":
                name = cv2_ids.get(id(arg))
                if name is None:
                    owner = getattr(arg, "__self__", None)
                    if owner is None or not type(owner).__module__.startswith("cv2"):
                        return
                    name = f"cv2.{type(owner).__name__}.{arg.__name__}"
                if not _is_project(frame.f_code.co_filename):
                    return
                session.host_call(name, frame, False)
        return profile


def _holds_device(value, depth=0):
    if isinstance(value, ndarray):
        return True
    if depth < 1 and isinstance(value, (list, tuple)):
        return any(_holds_device(v, depth + 1) for v in value[:16])
    return False


def _session():
    s = _active
    if s is not None and s._profile is not None and sys.getprofile() is not s._profile:
        sys.setprofile(s._profile)  # a strict-mode raise inside the hook removes it
    return s


# ------------------------------------------------------------------ wrapping / calling

def _unwrap(value, found, depth=0):
    """``value`` with device arrays replaced by their NumPy arrays; host arrays met go
    into ``found['host']``, device ones into ``found['device']``."""
    if isinstance(value, ndarray):
        found["device"].append(value)
        return value._a
    if isinstance(value, np.ndarray):
        found["host"].append(value)
        return value
    if depth < 3:
        if isinstance(value, tuple):
            return tuple(_unwrap(v, found, depth + 1) for v in value)
        if isinstance(value, list):
            return [_unwrap(v, found, depth + 1) for v in value]
        if isinstance(value, dict):
            return {k: _unwrap(v, found, depth + 1) for k, v in value.items()}
    return value


def _wrap(value, inputs, depth=0):
    """NumPy results as device arrays (an input's own array as that input's wrapper);
    NumPy scalars and Python bools / numbers become 0-d device arrays, as CuPy's
    reductions return them."""
    if isinstance(value, np.ndarray):
        for w in inputs:
            if w._a is value:
                return w
        return ndarray._of(value)
    if isinstance(value, (np.generic, bool)) or (isinstance(value, (int, float, complex))
                                                 and depth == 0):
        return ndarray._of(np.asarray(value))
    if depth < 2 and isinstance(value, (tuple, list)):
        return type(value)(_wrap(v, inputs, depth + 1) for v in value)
    return value


def _classify(result, device_inputs, inplace):
    if inplace or result is None:
        return "compute"
    arrays = result if isinstance(result, (tuple, list)) else (result,)
    arrays = [a for a in arrays if isinstance(a, np.ndarray)]
    if not arrays:
        return "compute"
    if any(a is w._a for a in arrays for w in device_inputs):
        return "noop"
    if all(any(np.may_share_memory(a, w._a) for w in device_inputs) for a in arrays):
        return "view"
    return "compute"


def _call(name, fn, args, kwargs, *, frame, upload=False, inplace=False, count=True):
    """Run ``fn`` on the NumPy arrays under ``args`` and wrap the result; count it."""
    s = _session()
    found = {"device": [], "host": []}
    uargs = _unwrap(args, found)
    ukwargs = _unwrap(kwargs, found)
    if s is not None and found["host"] and not upload:
        s.implicit_upload(name, frame)
    result = fn(*uargs, **ukwargs)
    if s is not None and count:
        inplace = inplace or kwargs.get("out") is not None
        s.op(_classify(result, found["device"], inplace), name, frame)
    return _wrap(result, found["device"])


def _array_nbytes(value):
    try:
        return np.asarray(value).nbytes
    except Exception:  # noqa: BLE001 - only a byte count
        return 0


class ndarray:
    """A device array of the stand-in: a NumPy array underneath, every use counted."""

    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 1000
    __hash__ = None

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        self._a = np.empty(shape, dtype=dtype, order=order)
        s = _session()
        if s is not None:
            s.op("compute", "ndarray", sys._getframe(1))

    @classmethod
    def _of(cls, a):
        obj = object.__new__(cls)
        obj._a = a
        return obj

    # -- metadata (no work)
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    device = property(lambda self: _cuda.Device())

    def __len__(self):
        return len(self._a)

    # -- explicit transfers
    def get(self, stream=None, order="C", out=None, blocking=True):
        """Device to host copy (explicit; recorded)."""
        s = _session()
        if s is not None:
            s.transfer("d2h", self._a.nbytes, sys._getframe(1))
        host = np.array(self._a, order=order)
        if out is not None:
            out[...] = host
            return out
        return host

    # -- implicit conversions: host syncs
    def _sync(self, kind, frame):
        s = _session()
        if s is not None:
            s.sync(kind, frame)

    def __array__(self, dtype=None, copy=None):
        self._sync("__array__", sys._getframe(1))
        return self._a if dtype is None else self._a.astype(dtype, copy=False)

    def __float__(self):
        self._sync("float", sys._getframe(1))
        return float(self._a)

    def __int__(self):
        self._sync("int", sys._getframe(1))
        return int(self._a)

    def __index__(self):
        self._sync("index", sys._getframe(1))
        return operator.index(self._a.item() if self._a.ndim == 0 else self._a)

    def __complex__(self):
        self._sync("complex", sys._getframe(1))
        return complex(self._a)

    def __bool__(self):
        self._sync("bool", sys._getframe(1))
        return bool(self._a)

    def item(self, *args):
        self._sync("item", sys._getframe(1))
        return self._a.item(*args)

    def tolist(self):
        self._sync("tolist", sys._getframe(1))
        return self._a.tolist()

    def __repr__(self):
        if _active is not None:
            self._sync("repr", sys._getframe(1))
        return f"standin.array({self._a!r})"

    __str__ = __repr__

    def __format__(self, spec):
        self._sync("format", sys._getframe(1))
        return format(self._a.item() if self._a.ndim == 0 else self._a, spec)

    def __contains__(self, value):
        self._sync("contains", sys._getframe(1))
        return _unwrap(value, {"device": [], "host": []}) in self._a

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        frame = sys._getframe(1)
        for i in range(len(self._a)):
            yield _call("ndarray.__iter__", operator.getitem, (self, i), {}, frame=frame)

    def __copy__(self):
        return _call("ndarray.copy", np.copy, (self,), {}, frame=sys._getframe(1))

    def __deepcopy__(self, memo):
        return self.__copy__()

    def __reduce__(self):
        raise TypeError("stand-in device arrays do not pickle (call .get() first)")

    # -- indexing
    def __getitem__(self, key):
        frame = sys._getframe(1)
        s = _session()
        keys = key if isinstance(key, tuple) else (key,)
        if s is not None and any(isinstance(k, ndarray) and k.dtype == bool for k in keys):
            s.sync("shape:boolean-mask index", frame)
        found = {"device": [], "host": []}
        ukey = _unwrap(key, found)
        if s is not None and found["host"]:
            s.implicit_upload("ndarray.__getitem__ index", frame, allowed=True)
        result = self._a[ukey]
        if s is not None:
            s.op(_classify(result, [self], False), "ndarray.__getitem__", frame)
        return _wrap(result, [self])

    def __setitem__(self, key, value):
        frame = sys._getframe(1)
        s = _session()
        found = {"device": [], "host": []}
        ukey = _unwrap(key, found)
        uvalue = _unwrap(value, found)
        if s is not None and found["host"]:
            s.implicit_upload("ndarray.__setitem__", frame, allowed=True)
        self._a[ukey] = uvalue
        if s is not None:
            s.op("compute", "ndarray.__setitem__", frame)

    # -- NumPy interoperability (as CuPy: ufuncs and functions dispatch to the device)
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        fn = ufunc if method == "__call__" else getattr(ufunc, method)
        name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        return _call(name, fn, inputs, kwargs, frame=sys._getframe(1))

    def __array_function__(self, func, types_, args, kwargs):
        name = f"np.{func.__name__}"
        if func.__name__ in _SHAPE_SYNC:
            s = _session()
            if s is not None:
                s.sync(f"shape:{func.__name__}", sys._getframe(1))
        if func.__name__ in _METADATA:
            return func(*_unwrap(args, {"device": [], "host": []}),
                        **_unwrap(kwargs, {"device": [], "host": []}))
        return _call(name, func, args, kwargs, frame=sys._getframe(1))

    # -- every other method (astype, reshape, sum, copy, fill, ...) and attribute (T, ...)
    def __getattr__(self, name):
        if name.startswith("__") or name == "_a":
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if isinstance(attr, np.ndarray):  # T, real, imag, base: views
            s = _session()
            if s is not None:
                s.op(_classify(attr, [self], False), f"ndarray.{name}", sys._getframe(1))
            return _wrap(attr, [self])
        if not callable(attr):
            return attr
        owner = self

        def method(*args, **kwargs):
            frame = sys._getframe(1)
            if name in _SHAPE_SYNC:
                s = _session()
                if s is not None:
                    s.sync(f"shape:{name}", frame)
            return _call(f"ndarray.{name}", lambda a, *rest, **k: getattr(a, name)(*rest, **k),
                         (owner,) + args, kwargs, frame=frame,
                         inplace=name in ("fill", "sort", "put"))
        return method


def _binary(name, fn, inplace=False, reflected=False):
    def op(self, other):
        args = (other, self) if reflected else (self, other)
        return _call(f"ndarray.{name}", fn, args, {}, frame=sys._getframe(1), inplace=inplace)
    op.__name__ = name
    return op


def _unary(name, fn):
    def op(self):
        return _call(f"ndarray.{name}", fn, (self,), {}, frame=sys._getframe(1))
    op.__name__ = name
    return op


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and",
              "or", "xor", "lshift", "rshift"):
    _fn = getattr(operator, _name + "_" if _name in ("and", "or") else _name)
    setattr(ndarray, f"__{_name}__", _binary(f"__{_name}__", _fn))
    setattr(ndarray, f"__r{_name}__", _binary(f"__r{_name}__", _fn, reflected=True))
    setattr(ndarray, f"__i{_name}__", _binary(f"__i{_name}__", getattr(operator, f"i{_name}"),
                                              inplace=True))
for _name in ("lt", "le", "eq", "ne", "gt", "ge"):
    setattr(ndarray, f"__{_name}__", _binary(f"__{_name}__", getattr(operator, _name)))
for _name, _fn in (("neg", operator.neg), ("pos", operator.pos), ("abs", operator.abs),
                   ("invert", operator.invert)):
    setattr(ndarray, f"__{_name}__", _unary(f"__{_name}__", _fn))
ndarray.__module__ = "cupy"  # what mfsr.core.backend and mfsr.kernels test for
ndarray.__qualname__ = "ndarray"


# --------------------------------------------------------------------- fake modules

class _Namespace(types.ModuleType):
    """A module whose missing attributes come from ``target`` (NumPy or SciPy), with the
    callables wrapped so that their calls are counted array operations."""

    def __init__(self, name, target, prefix):
        super().__init__(name)
        self._target = target
        self._prefix = prefix

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = getattr(self._target, name)
        if isinstance(value, (type, types.ModuleType)) or not callable(value):
            return value
        qual = f"{self._prefix}.{name}"
        if name in _METADATA:
            wrapped = value
        else:
            upload = name in _UPLOADS
            shape_sync = name in _SHAPE_SYNC

            def wrapped(*args, **kwargs):
                frame = sys._getframe(1)
                if shape_sync or (name == "where" and len(args) == 1 and not kwargs):
                    s = _session()
                    if s is not None:
                        s.sync(f"shape:{name}", frame)
                return _call(qual, value, args, kwargs, frame=frame, upload=upload)
            wrapped.__name__ = name
        setattr(self, name, wrapped)
        return wrapped


def _make_cupy(kernel_mode, build_dir):
    cp = _Namespace("cupy", np, "cp")
    cp.__version__ = "0.0-standin"
    cp.__path__ = []  # a package, so that ``import cupy.x`` looks in sys.modules
    cp.ndarray = ndarray
    cp.linalg = _Namespace("cupy.linalg", np.linalg, "cp.linalg")
    cp.fft = _Namespace("cupy.fft", np.fft, "cp.fft")
    cp.random = _Namespace("cupy.random", np.random, "cp.random")
    cp.cuda = _cuda

    def asarray(a, dtype=None, order=None, *, blocking=False):
        frame = sys._getframe(1)
        if isinstance(a, ndarray):
            if dtype is None or np.dtype(dtype) == a.dtype:
                s = _session()
                if s is not None:
                    s.op("noop", "cp.asarray", frame)
                return a
            return _call("cp.asarray", np.asarray, (a,), {"dtype": dtype}, frame=frame)
        if isinstance(a, (list, tuple)) and _holds_device(a):
            return _call("cp.asarray", np.asarray, (a,), {"dtype": dtype}, frame=frame)
        s = _session()
        if s is not None:
            s.transfer("h2d", _array_nbytes(a), frame)
        return ndarray._of(np.array(a, dtype=dtype, order=order or "K", copy=True))

    def array(a, dtype=None, copy=True, order="K", ndmin=0):
        frame = sys._getframe(1)
        if isinstance(a, ndarray):
            return _call("cp.array", np.array, (a,), {"dtype": dtype, "copy": copy,
                                                     "order": order, "ndmin": ndmin},
                         frame=frame)
        s = _session()
        if s is not None:
            s.transfer("h2d", _array_nbytes(a), frame)
        return ndarray._of(np.array(a, dtype=dtype, copy=True, order=order, ndmin=ndmin))

    def asnumpy(a, stream=None, order="C", out=None, blocking=True):
        if isinstance(a, ndarray):
            s = _session()
            if s is not None:
                s.transfer("d2h", a.nbytes, sys._getframe(1))
            host = np.array(a._a, order=order)
            if out is not None:
                out[...] = host
                return out
            return host
        return np.asarray(a, order=order)

    def get_array_module(*args):
        return cp if any(isinstance(a, ndarray) for a in args) else np

    def fuse(*args, **kwargs):
        """``cupy.fuse``: the fused function counts as one operation."""
        def decorate(fn):
            @functools.wraps(fn)
            def fused(*a, **k):
                frame = sys._getframe(1)
                s = _session()
                _tls.depth = _depth() + 1
                try:
                    out = fn(*a, **k)
                finally:
                    _tls.depth -= 1
                if s is not None:
                    s.op("compute", f"cp.fuse:{fn.__name__}", frame)
                return out
            return fused
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return decorate(args[0])
        return decorate

    class ElementwiseKernel:  # noqa: D401 - not emulated
        """Not emulated: the kernels of mfsr are RawModule sources (``cuda/*.cu``)."""

        def __init__(self, *args, **kwargs):
            self.args = args

        def __call__(self, *args, **kwargs):
            raise NotImplementedError("the device stand-in does not emulate "
                                      "cupy.ElementwiseKernel; use a RawModule kernel")

    cp.asarray = asarray
    cp.array = array
    cp.asanyarray = asarray
    cp.asnumpy = asnumpy
    cp.get_array_module = get_array_module
    cp.fuse = fuse
    cp.ElementwiseKernel = ElementwiseKernel
    cp.ReductionKernel = ElementwiseKernel
    cp.RawModule = functools.partial(_RawModule, build_dir=build_dir) \
        if kernel_mode == "host" else _NoRawModule
    cp.get_default_memory_pool = lambda: _MemoryPool()
    cp.get_default_pinned_memory_pool = lambda: _MemoryPool()

    cupyx = types.ModuleType("cupyx")
    cupyx.__path__ = []
    scipy_pkg = types.ModuleType("cupyx.scipy")
    scipy_pkg.__path__ = []
    cupyx.scipy = scipy_pkg
    subs = {}
    import importlib
    for sub in ("ndimage", "signal", "special", "fft", "linalg"):
        try:
            target = importlib.import_module(f"scipy.{sub}")
        except ImportError:  # pragma: no cover - scipy is a dependency
            continue
        mod = _Namespace(f"cupyx.scipy.{sub}", target, f"cupyx.scipy.{sub}")
        setattr(scipy_pkg, sub, mod)
        subs[f"cupyx.scipy.{sub}"] = mod
    modules = {"cupy": cp, "cupy.linalg": cp.linalg, "cupy.fft": cp.fft,
               "cupy.random": cp.random, "cupy.cuda": cp.cuda, "cupyx": cupyx,
               "cupyx.scipy": scipy_pkg, **subs}
    return cp, modules


class _MemoryPool:
    def free_all_blocks(self):
        pass

    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def set_limit(self, size=None, fraction=None):
        pass


class _Device:
    id = 0

    def __init__(self, device=None):
        pass

    def synchronize(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_cuda = types.ModuleType("cupy.cuda")
_cuda.Device = _Device
_cuda.runtime = types.SimpleNamespace(getDeviceCount=lambda: 1)
_cuda.Stream = types.SimpleNamespace(null=types.SimpleNamespace(synchronize=lambda: None))
_cuda.get_current_stream = lambda: _cuda.Stream.null


# --------------------------------------------------------------- kernels: host C++ build

def _cache_dir(build_dir):
    if build_dir is not None:
        os.makedirs(build_dir, exist_ok=True)
        return str(build_dir)
    user = os.getuid() if hasattr(os, "getuid") else 0
    path = os.environ.get("MFSR_STANDIN_CACHE") or os.path.join(
        tempfile.gettempdir(), f"mfsr-standin-kernels-{user}")
    os.makedirs(path, exist_ok=True)
    return path


@functools.lru_cache(maxsize=None)
def _build(code, build_dir):
    """The host build of one CUDA source (cached on disk by a hash of the source)."""
    import ctypes

    import cuda_host
    flags = ["-std=c++17", "-O2", "-Wall", "-Werror", "-x", "c++"]
    key = hashlib.sha256((code + " ".join(flags) + cuda_host.CXX).encode()).hexdigest()[:20]
    lib, sig = (os.path.join(build_dir, f"{key}{ext}") for ext in (".so", ".json"))
    if not (os.path.exists(lib) and os.path.exists(sig)):
        src = os.path.join(build_dir, f"{key}.{os.getpid()}.cpp")
        with open(src, "w") as f:
            f.write("#define MFSR_HOST_EMULATION 1\n" + code)
        tmp = f"{lib}.{os.getpid()}.tmp"
        built = subprocess.run([cuda_host.CXX, *flags, "-shared", "-fPIC", src, "-o", tmp],
                               capture_output=True, text=True, check=False)
        if built.returncode:
            raise RuntimeError(f"host build of a CUDA source failed:\n{built.stderr}")
        expanded = subprocess.run([cuda_host.CXX, *flags, "-E", "-P", src], check=True,
                                  capture_output=True, text=True).stdout
        sigs = {k: [[kind, np.dtype(d).str] for kind, d in v]
                for k, v in cuda_host._signatures(expanded).items()}
        with open(f"{sig}.{os.getpid()}.tmp", "w") as f:
            json.dump(sigs, f)
        os.replace(tmp, lib)
        os.replace(f"{sig}.{os.getpid()}.tmp", sig)
        os.remove(src)
    with open(sig) as f:
        sigs = {k: [(kind, np.dtype(d).type) for kind, d in v] for k, v in json.load(f).items()}
    return ctypes.CDLL(lib), sigs


class _RawModule:
    """``cupy.RawModule`` over the host build (``cuda_host``): launches are counted."""

    def __init__(self, code=None, options=(), *, build_dir=None, **kwargs):
        assert "-std=c++17" in options
        self.lib, self.signatures = _build(code, _cache_dir(build_dir))

    def get_function(self, name):
        import cuda_host
        return _Launch(name, cuda_host._HostKernel(name, getattr(self.lib, name),
                                                   self.signatures[name]))


class _NoRawModule:
    def __init__(self, *args, **kwargs):
        raise ImportError("the device stand-in runs without host-built kernels here")


class _Launch:
    def __init__(self, name, kernel):
        self.name, self.kernel = name, kernel

    def __call__(self, grid, block, args, shared_mem=0, stream=None):
        frame = sys._getframe(1)
        s = _session()
        found = {"device": [], "host": []}
        uargs = _unwrap(tuple(args), found)
        if s is not None:
            if found["host"]:
                s.implicit_upload(f"kernel {self.name} (host pointer)", frame)
            s.report.launches[self.name] += 1
        self.kernel(grid, block, uargs)


def _load_kernel_set(kernel_mode):
    """``mfsr/kernels/cupy_kernels`` imported afresh over the current fake ``cupy``
    (or the reference set), its public functions wrapped to count kernel-set calls."""
    from mfsr.kernels import reference
    if kernel_mode == "host":
        import cuda_host
        module = cuda_host.import_cupy_set("mfsr.kernels._cupy_kernels_standin")
    else:
        module = types.ModuleType("mfsr.kernels._reference_standin")
        module.__dict__.update({k: v for k, v in vars(reference).items()
                                if not k.startswith("__")})
        module.NAME = "reference-standin"
    public = {k for k in reference.__all__
              if isinstance(getattr(reference, k), types.FunctionType)}
    public |= {k for k, v in vars(module).items()
               if isinstance(v, types.FunctionType) and not k.startswith("_")
               and v.__module__.startswith(module.__name__ + ".")}
    for name in sorted(public):
        fn = getattr(module, name, None)
        if isinstance(fn, types.FunctionType):
            setattr(module, name, _count_kernel_calls(name, fn))
    return module


def _count_kernel_calls(name, fn):
    @functools.wraps(fn)
    def call(*args, **kwargs):
        s = _session()
        if s is None or _depth():
            return fn(*args, **kwargs)
        site, _ = s._site(sys._getframe(1))
        s.report.kernel_calls[name] += 1
        s.report.kernel_sites[site] += 1
        _tls.depth = 1
        try:
            return fn(*args, **kwargs)
        finally:
            _tls.depth = 0
    return call


# ----------------------------------------------------------------------- the block

_lock = threading.Lock()


@contextlib.contextmanager
def device_standin(mode="report", kernels="auto", build_dir=None, watch_host_calls=True):
    """Run a block with the CuPy stand-in installed; yields the :class:`DeviceStandin`.

    Parameters
    ----------
    mode : {"report", "strict"}
        ``"report"``: record every host touch and carry on; ``"strict"``: raise at the
        first one (after recording it).
    kernels : {"auto", "host", "reference"}
        The kernel set device arrays get: ``"host"`` = ``mfsr/kernels/cupy_kernels``
        over the CUDA sources built as host C++ (needs a C++ compiler), ``"reference"``
        = :mod:`mfsr.kernels.reference` (xp code); ``"auto"``: host when a compiler is
        found.
    build_dir : path, optional
        Where the host builds are cached (default: ``$MFSR_STANDIN_CACHE`` or a folder in
        the temporary directory).
    watch_host_calls : bool
        Install the profile hook that records cv2 / scipy / skimage calls.
    """
    global _active
    if kernels not in ("auto", "host", "reference"):
        raise ValueError(f"kernels must be 'auto', 'host' or 'reference', got {kernels!r}")
    if kernels == "auto":
        import cuda_host
        kernels = "host" if cuda_host.CXX is not None else "reference"
    if not _lock.acquire(blocking=False):
        raise RuntimeError("device stand-in blocks do not nest")
    import mfsr.kernels as registry
    session = DeviceStandin(mode)
    session._profile = None
    cp, modules = _make_cupy(kernels, build_dir)
    saved = {name: sys.modules.get(name, _MISSING) for name in modules}
    had_loaded = "cupy" in registry._loaded
    saved_loaded = registry._loaded.get("cupy")
    old_profile = sys.getprofile()
    old_thread_profile = threading.getprofile()
    try:
        sys.modules.update(modules)
        session.cupy = cp
        session.kernels = _load_kernel_set(kernels)
        registry._loaded["cupy"] = session.kernels
        _active = session
        if watch_host_calls:
            session._profile = session._build_profiler()
            sys.setprofile(session._profile)
            threading.setprofile(session._profile)
        yield session
    finally:
        _active = None
        if watch_host_calls:
            sys.setprofile(old_profile)
            threading.setprofile(old_thread_profile)
        for name, value in saved.items():
            if value is _MISSING:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = value
        if had_loaded:
            registry._loaded["cupy"] = saved_loaded
        else:
            registry._loaded.pop("cupy", None)
        _lock.release()


_MISSING = object()

__all__ = ["device_standin", "DeviceStandin", "Report", "ndarray", "HostSyncError",
           "HostCallError"]

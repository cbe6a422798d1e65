"""Deep single-image SR baselines from their authors' published weights, run in NumPy.

No deep-learning framework is needed at run time: the networks here are plain stacks of
convolutions, run by a small NumPy engine (im2col and one matrix product per layer, in
row tiles). Weights are never shipped nor downloaded: ``--weights DIR`` names a folder
built by ``benchmarks/bench_weights.py`` from the public sources, and every file is
checked against its SHA-256 before it is read.

Each network follows its authors' test code (named in :data:`NETWORKS`): what it sees
(Y of MATLAB ``rgb2ycbcr`` on [0, 1] data), how the LR image was made in training (MATLAB
bicubic, i.e. the BI protocol: on BD data these networks meet a degradation they were not
trained for), how chroma is upscaled (MATLAB bicubic) and how the result is put back
together (MATLAB ``ycbcr2rgb``).

- ``lapsrn``: LapSRN x4 (Lai et al., CVPR 2017), the authors' MatConvNet model
  ``pretrained_models/LapSRN_x4.mat`` of ``phoenix104104/LapSRN`` (``SR_LapSRN.m``: Y in,
  Y out at x4 by two x2 pyramid levels).
- ``vdsr``: VDSR (Kim et al., CVPR 2016) as ported by ``twtygqyy/pytorch-vdsr`` (MIT),
  ``model/model_epoch_50.pth`` (``eval.py``: the MATLAB-bicubic x4 Y in, residual added
  inside the net, Y out), read from PyTorch's legacy file format without PyTorch.
"""
from __future__ import annotations

import collections
import hashlib
import os
import pickle
import struct
import time

import numpy as np

from ..degradation import imresize
from .methods import Method

__all__ = ["NETWORKS", "load_weights", "WeightsError", "NetworkMethod", "conv2d",
           "conv_transpose2d", "rgb2ycbcr", "ycbcr2rgb"]

# name -> file in the weights folder, its SHA-256, where it comes from, its convention
NETWORKS = {
    "lapsrn": {
        "file": "LapSRN_x4.mat",
        "repo": "phoenix104104/LapSRN", "path": "pretrained_models/LapSRN_x4.mat",
        "sha256": "1d845a3efdca8848968df9e216931419e3b1122373a233d612b4f599985e6367",
        "source": "github.com/phoenix104104/LapSRN pretrained_models/LapSRN_x4.mat "
                  "(authors' MatConvNet model)",
        "scale": 4,
        "convention": "Y of MATLAB rgb2ycbcr on [0,1] in, Y out (SR_LapSRN.m); trained "
                      "on MATLAB bicubic (BI) downscales",
    },
    "vdsr": {
        "file": "vdsr_model_epoch_50.pth",
        "repo": "twtygqyy/pytorch-vdsr", "path": "model/model_epoch_50.pth",
        "sha256": "eab4d79ae5a6e5acef4c55e46015aed225ade207679bcb6695b07af8fb18e876",
        "source": "github.com/twtygqyy/pytorch-vdsr model/model_epoch_50.pth (MIT)",
        "scale": None,
        "convention": "MATLAB bicubic x s of the LR Y in, Y out (eval.py); trained on "
                      "MATLAB bicubic (BI) x2/x3/x4",
    },
}


class WeightsError(ValueError):
    """A weights file is missing or is not the published one."""


def sha256(path):
    """SHA-256 (hex) of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def weights_path(name, folder):
    """Path of network ``name``'s weights in ``folder``, its SHA-256 checked.

    Raises
    ------
    WeightsError
        No folder, no file, or a file whose SHA-256 is not the published one.
    """
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; valid: {', '.join(NETWORKS)}")
    spec = NETWORKS[name]
    if not folder:
        raise WeightsError(f"{name}: needs --weights DIR (a folder built by "
                           f"benchmarks/bench_weights.py)")
    path = os.path.join(folder, spec["file"])
    if not os.path.isfile(path):
        raise WeightsError(f"{name}: {path} not found (from {spec['source']}; build the "
                           f"folder with benchmarks/bench_weights.py)")
    digest = sha256(path)
    if digest != spec["sha256"]:
        raise WeightsError(f"{name}: {path} has SHA-256 {digest}, not the published "
                           f"{spec['sha256']}")
    return path


# --- a small NumPy convolution engine (C, H, W) float32 ---------------------------------

def conv2d(x, w, b=None, pad=1, rows=64):
    """Cross-correlation of ``x`` (C, H, W) with ``w`` (O, C, kh, kw), zero padding
    ``pad``, stride 1, as Conv2d / MatConvNet ``vl_nnconv``; tiled over ``rows``."""
    c, h, wd = x.shape
    o, c2, kh, kw = w.shape
    if c2 != c:
        raise ValueError(f"x has {c} channels, w expects {c2}")
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    wm = np.ascontiguousarray(w.reshape(o, -1).T, dtype=np.float32)
    out = np.empty((o, oh, ow), np.float32)
    for r0 in range(0, oh, rows):
        r1 = min(oh, r0 + rows)
        win = np.lib.stride_tricks.sliding_window_view(xp[:, r0:r1 + kh - 1], (kh, kw),
                                                       axis=(1, 2))
        cols = win.transpose(1, 2, 0, 3, 4).reshape((r1 - r0) * ow, c * kh * kw)
        out[:, r0:r1] = (cols @ wm).T.reshape(o, r1 - r0, ow)
    if b is not None:
        out += np.asarray(b, np.float32).reshape(-1, 1, 1)
    return out


def conv_transpose2d(x, f, b=None, upsample=2, crop=(0, 0, 0, 0)):
    """MatConvNet ``vl_nnconvt``: ``x`` (D, H, W), ``f`` (fh, fw, K, D) as MATLAB holds it,
    output (K, (H-1) U + fh - crop_top - crop_bottom, ...)."""
    d, h, w = x.shape
    fh, fw, k, d2 = f.shape
    if d2 != d:
        raise ValueError(f"x has {d} channels, f expects {d2}")
    u = upsample
    full = np.zeros((k, (h - 1) * u + fh, (w - 1) * u + fw), np.float32)
    xm = x.reshape(d, -1)
    for i in range(fh):
        for j in range(fw):
            full[:, i:i + (h - 1) * u + 1:u, j:j + (w - 1) * u + 1:u] += (
                f[i, j].astype(np.float32) @ xm).reshape(k, h, w)
    top, bottom, left, right = crop
    out = full[:, top:full.shape[1] - bottom, left:full.shape[2] - right]
    if b is not None:
        out = out + np.asarray(b, np.float32).reshape(-1, 1, 1)
    return out


# --- MATLAB colour conversion (rgb2ycbcr / ycbcr2rgb on [0, 1] doubles) ----------------

_M = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0],
               [112.0, -93.786, -18.214]]) / 255.0
_OFFSET = np.array([16.0, 128.0, 128.0]) / 255.0


def rgb2ycbcr(rgb):
    """MATLAB ``rgb2ycbcr`` of an RGB image in [0, 1] (result in [0, 1] units)."""
    return np.asarray(rgb, np.float64) @ _M.T + _OFFSET


def ycbcr2rgb(ycc):
    """MATLAB ``ycbcr2rgb`` of a YCbCr image in [0, 1] units."""
    return (np.asarray(ycc, np.float64) - _OFFSET) @ np.linalg.inv(_M).T


# --- networks ---------------------------------------------------------------------------

class LapSRN:
    """The authors' MatConvNet DagNN, evaluated layer by layer (Conv, ConvTranspose,
    leaky ReLU, Sum; the training losses are skipped)."""

    scale = 4

    def __init__(self, path):
        from scipy.io import loadmat
        net = loadmat(path, squeeze_me=True, struct_as_record=False)["net"]
        self.params = {p.name: np.asarray(p.value, np.float32) for p in net.params}
        self.layers = [layer for layer in net.layers if "loss" not in layer.type]

    def __call__(self, y):
        vars_ = {"LR": np.asarray(y, np.float32)[None]}
        for layer in self.layers:
            ins = [layer.inputs] if isinstance(layer.inputs, str) else list(layer.inputs)
            params = [layer.params] if isinstance(layer.params, str) else list(layer.params)
            x = vars_[ins[0]]
            blk = layer.block
            if layer.type == "dagnn.Conv":
                # loadmat squeezes singleton dimensions: restore (fh, fw, in, out)
                f = self.params[params[0]].reshape(
                    tuple(int(v) for v in np.atleast_1d(blk.size)))
                w = f.transpose(3, 2, 0, 1)     # (fh, fw, in, out) -> (out, in, fh, fw)
                b = self.params[params[1]] if len(params) > 1 else None
                pad = int(np.atleast_1d(blk.pad)[0])
                out = conv2d(x, w, b, pad)
            elif layer.type == "dagnn.ConvTranspose":
                f = self.params[params[0]]
                f = f.reshape(tuple(int(v) for v in np.atleast_1d(blk.size)))
                b = self.params[params[1]] if len(params) > 1 else None
                out = conv_transpose2d(x, f, b, int(np.atleast_1d(blk.upsample)[0]),
                                       tuple(int(v) for v in np.atleast_1d(blk.crop)))
            elif layer.type == "dagnn.ReLU":
                out = np.where(x > 0, x, x * np.float32(blk.leak))
            elif layer.type == "dagnn.Sum":
                out = sum(vars_[n] for n in ins)
            else:
                raise ValueError(f"LapSRN: layer type {layer.type} not supported")
            vars_[layer.outputs] = out
        return vars_["level1_output"][0]


class _Storage:
    def __init__(self, dtype, key):
        self.dtype, self.key = dtype, key


class _Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, offset
        self.size, self.stride = tuple(size), tuple(stride)


class _Object:
    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state


_STORAGES = {"FloatStorage": np.float32, "DoubleStorage": np.float64,
             "HalfStorage": np.float16, "LongStorage": np.int64, "IntStorage": np.int32}


class _LegacyUnpickler(pickle.Unpickler):
    """PyTorch's pre-1.6 ``torch.save`` format, read without torch: tensors become
    references into the raw storages that follow the pickles."""

    def find_class(self, module, name):
        if module == "torch._utils" and name.startswith("_rebuild_tensor"):
            return lambda storage, offset, size, stride, *rest: _Tensor(storage, offset,
                                                                        size, stride)
        if module == "torch" and name in _STORAGES:
            return _STORAGES[name]
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        return type(name, (_Object,), {})        # modules, Parameter: keep their state

    def persistent_load(self, pid):
        if pid[0] == "module":
            return pid[1]
        return _Storage(pid[1], pid[2])


def read_legacy_torch(path):
    """The parameters of a module saved whole with PyTorch's legacy format.

    Returns
    -------
    dict
        Dotted parameter names (``"input.weight"``) -> float32 arrays.
    """
    with open(path, "rb") as f:
        for _ in range(3):                      # magic number, protocol, system info
            pickle.load(f)
        obj = _LegacyUnpickler(f, encoding="latin1").load()
        keys = pickle.load(f)
        storages = {}
        for key in keys:
            n, = struct.unpack("<q", f.read(8))
            storages[key] = f.read(4 * n)        # the models here are float32
    found = {}

    def walk(module, prefix):
        state = getattr(module, "state", {})
        for name, p in state.get("_parameters", {}).items():
            if p is None:
                continue
            t = p.args[0] if isinstance(p, _Object) and p.args else p
            data = np.frombuffer(storages[t.storage.key], np.float32)
            found[prefix + name] = np.lib.stride_tricks.as_strided(
                data[t.offset:], t.size, tuple(4 * s for s in t.stride)).copy()
        for name, child in state.get("_modules", {}).items():
            walk(child, prefix + name + ".")

    walk(obj["model"] if isinstance(obj, dict) else obj, "")
    return found


class VDSR:
    """20 3x3 convolutions (64 channels, ReLU, no bias) with a global residual."""

    scale = None

    def __init__(self, path):
        p = read_legacy_torch(path)
        self.layers = ([p["input.weight"]] + [p[f"residual_layer.{i}.conv.weight"]
                                              for i in range(18)] + [p["output.weight"]])

    def __call__(self, y_bicubic):
        x = np.asarray(y_bicubic, np.float32)[None]
        h = x
        for i, w in enumerate(self.layers):
            h = conv2d(h, w)
            if i < len(self.layers) - 1:
                np.maximum(h, 0, out=h)
        return (h + x)[0]


_LOADED = {}


def load_weights(name, folder):
    """The network ``name`` loaded from ``folder`` (SHA-256 checked; kept in memory)."""
    path = weights_path(name, folder)
    if path not in _LOADED:
        _LOADED[path] = {"lapsrn": LapSRN, "vdsr": VDSR}[name](path)
    return _LOADED[path]


def super_resolve(name, net, lr, scale):
    """One LR frame (uint8 RGB) through network ``name`` as its authors' test code does.

    Returns
    -------
    ndarray, float64 RGB in [0, 1] (not clipped)
    """
    rgb = np.asarray(lr, np.float64) / 255.0
    ycc = rgb2ycbcr(rgb) if rgb.ndim == 3 else rgb[..., None]
    up = imresize(ycc, float(scale))             # chroma (and VDSR's input): MATLAB bicubic
    if name == "lapsrn":
        if scale != 4:
            raise ValueError("lapsrn is the x4 model; --scale must be 4")
        y = net(ycc[..., 0])
    else:
        y = net(up[..., 0])
    up[..., 0] = y
    return ycbcr2rgb(up) if rgb.ndim == 3 else up[..., 0]


class NetworkMethod(Method):
    """A deep network as a per-frame bench method (``--weights DIR``)."""

    def __init__(self, name):
        spec = NETWORKS[name]
        super().__init__(name, "deep", f"{spec['source']}; {spec['convention']}")

    def frame(self, lr, t, context):
        net = load_weights(self.name, context.options.get("weights"))
        t0 = time.perf_counter()
        out = super_resolve(self.name, net, lr[t], context.protocol.scale)
        return np.clip(out, 0, 1), time.perf_counter() - t0

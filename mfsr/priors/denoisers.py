"""Denoiser priors for plug-and-play reconstruction: any callable ``denoise(x, sigma)``.

A :class:`Denoiser` maps an image ``x`` of shape ``(H, W)`` (float, nominally [0, 1]) and a
noise standard deviation ``sigma`` (same units) to a denoised image of the same shape and
array module. Plug-and-play solvers (:func:`mfsr.solvers.pnp_admm`) use it in place of the
proximal map of a prior. Three kinds:

- :class:`Denoiser` wraps any callable ``f(x, sigma)``.
- :class:`LearnedDenoiser`: a small CNN (polyphase residual network, FFDNet-style, 170 k
  weights) trained by ``benchmarks/train_denoiser.py`` on images shipped with
  scikit-image; the weights ship inside the package (``mfsr/weights/dncnn_small.npz``).
  Inference runs without PyTorch: 3x3 convolutions as matrix products on NumPy (CPU,
  BLAS) or CuPy (GPU, cuBLAS) arrays, one code path for both.
- :class:`BM3DDenoiser`: BM3D through the optional ``bm3d`` package (CPU only).
"""
from __future__ import annotations

import json
from importlib import resources

import numpy as np

from ..core.backend import get_array_module, to_device, to_numpy
from ..core.validation import check_array, check_choice, check_float

DEFAULT_WEIGHTS = "dncnn_small.npz"


# The eight flips and rotations of the square as (forward, inverse) pairs on 2-D arrays;
# a self-ensemble of n averages the denoiser over the first n (identity first).
_DIHEDRAL = (
    (lambda a: a, lambda a: a),
    (lambda a: a.T, lambda a: a.T),
    (lambda a: a[::-1, ::-1], lambda a: a[::-1, ::-1]),
    (lambda a: a[::-1, ::-1].T, lambda a: a.T[::-1, ::-1]),
    (lambda a: a[::-1], lambda a: a[::-1]),
    (lambda a: a[:, ::-1], lambda a: a[:, ::-1]),
    (lambda a: a.T[::-1], lambda a: a[::-1].T),
    (lambda a: a.T[:, ::-1], lambda a: a[:, ::-1].T),
)
ENSEMBLE_SIZES = (1, 2, 4, 8)


class Denoiser:
    """A denoiser from any callable ``function(x, sigma) -> x_denoised``.

    Parameters
    ----------
    function : callable
        Takes an image ``(H, W)`` and a noise standard deviation (float, image units)
        and returns the denoised image, same shape.
    name : str, optional
        Label used in ``repr`` and reports; default the callable's name.
    ensemble : {1, 2, 4, 8}
        Self-ensemble: denoise this many flipped/rotated copies of the image (identity,
        transpose, 180-degree rotation, anti-transpose, then the other four), undo each
        transform and average. Costs ``ensemble`` denoiser runs; helps denoisers that are
        not invariant to these transforms (such as a CNN), not rotation-invariant ones.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> from mfsr.priors.denoisers import Denoiser
    >>> gauss = Denoiser(lambda x, s: ndimage.gaussian_filter(x, 1.0), name="gauss")
    >>> gauss(np.zeros((8, 8), np.float32), 0.05).shape
    (8, 8)
    """

    def __init__(self, function=None, name=None, ensemble=1):
        if function is not None and not callable(function):
            raise TypeError(f"function must be callable, got {type(function).__name__}")
        self.function = function
        self.name = name or getattr(function, "__name__", type(self).__name__.lower())
        self.ensemble = check_choice(ensemble, "ensemble", ENSEMBLE_SIZES)

    def denoise(self, x, sigma):
        """Denoise a validated float image; subclasses override this."""
        if self.function is None:
            raise NotImplementedError("Denoiser needs a function or a subclass")
        return self.function(x, sigma)

    def __call__(self, x, sigma):
        """Denoise ``x`` (shape ``(H, W)``) at noise level ``sigma`` >= 0.

        Returns
        -------
        array, shape (H, W)
            Same array module as ``x``; float32 unless ``x`` is float64.
        """
        x = check_array(x, "x", ndim=2)
        sigma = check_float(sigma, "sigma", minimum=0.0)
        xp = get_array_module(x)
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float32)
        out = None
        for forward, inverse in _DIHEDRAL[:self.ensemble]:
            xt = xp.ascontiguousarray(forward(x))
            y = to_device(self.denoise(xt, sigma), xp)
            if tuple(y.shape) != tuple(xt.shape):
                raise ValueError(f"denoiser {self.name!r} returned shape {tuple(y.shape)} "
                                 f"for input {tuple(xt.shape)}")
            y = inverse(y).astype(x.dtype, copy=False)
            out = y if out is None else out + y  # a new array from the second term on
        if self.ensemble > 1:
            out /= self.ensemble
        return out

    def __repr__(self):
        extra = f", ensemble={self.ensemble}" if self.ensemble > 1 else ""
        return f"{type(self).__name__}(name={self.name!r}{extra})"


def _conv_stack(h, layers, biases, xp, block=None):
    """Run 3x3 zero-padded convolutions with ReLU between them (none after the last).

    ``h`` is ``(H, W, C0)``; ``layers[i]`` is ``(9 * Cin, Cout)`` (taps in (ky, kx) order).
    Each layer works on the flattened zero-padded grid of ``(H + 2) * (W + 2)`` positions,
    where the nine taps of a 3x3 filter are nine contiguous row blocks of one array: a
    block of ``block`` positions gathers them side by side (im2col of that block only) and
    one matrix product ``(block, 9 Cin) @ (9 Cin, Cout)`` (BLAS on the CPU, cuBLAS on the
    GPU) writes the block's output straight into the next layer's padded buffer.
    """
    hh, ww, c0 = h.shape
    row = ww + 2
    n = hh * row - 2  # flat positions from the first to the last interior pixel
    start = row + 1
    offsets = [dy * row + dx for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    if block is None:
        block = 8192 if xp is np else 1 << 18
    block = min(block, n)
    cur = xp.zeros(((hh + 2) * row, c0), np.float32)
    cur.reshape(hh + 2, row, c0)[1:-1, 1:-1] = h
    last = len(layers) - 1
    for i, (w, b) in enumerate(zip(layers, biases)):
        cin = cur.shape[1]
        cols = xp.empty((block, 9 * cin), np.float32)
        nxt = xp.zeros(((hh + 2) * row, w.shape[1]), np.float32)
        for a in range(0, n, block):
            m = min(block, n - a)
            for k, off in enumerate(offsets):
                cols[:m, k * cin:(k + 1) * cin] = cur[start + a + off:start + a + off + m]
            out = nxt[start + a:start + a + m]
            xp.matmul(cols[:m], w, out=out)
            out += b
            if i < last:
                xp.maximum(out, 0, out=out)
        grid = nxt.reshape(hh + 2, row, -1)
        grid[:, 0] = 0  # positions that fell on the left/right padding
        grid[:, -1] = 0
        cur = nxt
    return cur.reshape(hh + 2, row, -1)[1:-1, 1:-1]


class LearnedDenoiser(Denoiser):
    """Small CNN denoiser shipped with mfsr, run in NumPy (CPU) or CuPy (GPU).

    The network (``benchmarks/train_denoiser.py``): the image is split into its four 2x2
    polyphase components, a constant noise-level channel ``sigma`` is appended, ``depth``
    3x3 convolutions (``features`` channels, ReLU) predict the noise of each component,
    and the re-interleaved prediction is subtracted from the input. Trained on
    ``sigma`` in [0, 0.2] on images shipped with scikit-image; matches the PyTorch model
    it was exported from to 1e-4.

    Parameters
    ----------
    weights : str or path, optional
        ``.npz`` file written by ``benchmarks/train_denoiser.py``; default the file shipped
        in ``mfsr/weights``.
    ensemble : {1, 2, 4, 8}
        Self-ensemble size (see :class:`Denoiser`); ``reconstruct(method="pnp")`` uses 4.

    Examples
    --------
    >>> import numpy as np
    >>> from skimage import data
    >>> from mfsr.priors.denoisers import LearnedDenoiser
    >>> clean = data.camera()[:64, :64] / 255.0
    >>> noisy = clean + 0.05 * np.random.default_rng(0).standard_normal(clean.shape)
    >>> out = LearnedDenoiser()(noisy.astype(np.float32), 0.05)
    >>> bool(np.mean((out - clean) ** 2) < np.mean((noisy - clean) ** 2))
    True
    """

    def __init__(self, weights=None, ensemble=1):
        if weights is None:
            ref = resources.files("mfsr").joinpath("weights", DEFAULT_WEIGHTS)
            with resources.as_file(ref) as path:
                self._load(path)
        else:
            self._load(weights)
        super().__init__(None, "learned", ensemble)
        self._device_cache = {}

    def _load(self, path):
        with np.load(path, allow_pickle=False) as f:
            self.meta = json.loads(str(f["meta"]))
            depth = int(self.meta["depth"])
            ws = [np.asarray(f[f"w{i}"], np.float32) for i in range(depth)]
            bs = [np.asarray(f[f"b{i}"], np.float32) for i in range(depth)]
        self.unshuffle = int(self.meta.get("unshuffle", 2))
        u2 = self.unshuffle ** 2
        if ws[0].shape[1] != u2 + 1 or ws[-1].shape[0] != u2:
            raise ValueError(f"weights file {path} does not hold a polyphase denoiser "
                             f"(first layer {ws[0].shape}, last {ws[-1].shape})")
        # torch (out, in, ky, kx) -> (9 * in, out), rows in (ky, kx, in) order
        self.taps = [np.ascontiguousarray(w.transpose(2, 3, 1, 0).reshape(9 * w.shape[1],
                                                                          w.shape[0]))
                     for w in ws]
        self.biases = bs

    @property
    def n_parameters(self):
        """Number of weights and biases."""
        return int(sum(t.size for t in self.taps) + sum(b.size for b in self.biases))

    def _params(self, xp):
        if xp is np:
            return self.taps, self.biases
        key = id(xp)
        if key not in self._device_cache:
            self._device_cache[key] = ([xp.asarray(t) for t in self.taps],
                                       [xp.asarray(b) for b in self.biases])
        return self._device_cache[key]

    def denoise(self, x, sigma):
        xp = get_array_module(x)
        u = self.unshuffle
        hh, ww = x.shape
        ph, pw = (-hh) % u, (-ww) % u
        img = x.astype(np.float32, copy=False)
        if ph or pw:
            img = xp.pad(img, ((0, ph), (0, pw)), mode="reflect" if min(hh, ww) > 1 else "edge")
        h2, w2 = img.shape[0] // u, img.shape[1] // u
        # polyphase split: channel i*u + j holds img[u*r + i, u*c + j] (torch pixel_unshuffle)
        poly = img.reshape(h2, u, w2, u).transpose(0, 2, 1, 3).reshape(h2, w2, u * u)
        feat = xp.empty((h2, w2, u * u + 1), np.float32)
        feat[..., :u * u] = poly
        feat[..., u * u] = sigma
        taps, biases = self._params(xp)
        noise = _conv_stack(feat, taps, biases, xp)
        noise = noise.reshape(h2, w2, u, u).transpose(0, 2, 1, 3).reshape(h2 * u, w2 * u)
        return img[:hh, :ww] - noise[:hh, :ww]

    def __repr__(self):
        return (f"LearnedDenoiser(features={self.meta.get('features')}, "
                f"depth={self.meta.get('depth')}, parameters={self.n_parameters}, "
                f"ensemble={self.ensemble})")


def bm3d_available():
    """Return True when the optional ``bm3d`` package imports."""
    try:
        import bm3d  # noqa: F401
    except ImportError:
        return False
    return True


class BM3DDenoiser(Denoiser):
    """BM3D (Dabov et al. 2007) through the optional ``bm3d`` package; runs on the CPU.

    CuPy input is copied to the host and the result copied back.

    Parameters
    ----------
    profile : str
        ``bm3d`` profile (``"np"``, ``"refilter"``, ``"vn"``, ``"high"``, ``"deb"``).
    ensemble : {1, 2, 4, 8}
        Self-ensemble size (see :class:`Denoiser`).

    Raises
    ------
    ImportError
        When ``bm3d`` is not installed (``pip install bm3d``).
    """

    def __init__(self, profile="np", ensemble=1):
        if not bm3d_available():
            raise ImportError('BM3DDenoiser needs the bm3d package: pip install "mfsr[bm3d]"')
        self.profile = check_choice(profile, "profile", ("np", "refilter", "vn", "high", "deb",
                                                         "vn_old"))
        super().__init__(None, "bm3d", ensemble)

    def denoise(self, x, sigma):
        import bm3d
        if sigma == 0.0:
            return x.copy()
        out = bm3d.bm3d(to_numpy(x).astype(np.float64), sigma_psd=sigma, profile=self.profile)
        return np.asarray(out, np.float32)

    def __repr__(self):
        return f"BM3DDenoiser(profile={self.profile!r})"


DENOISERS = {"learned": LearnedDenoiser, "bm3d": BM3DDenoiser}
_shared = {}


def make_denoiser(denoiser="learned", ensemble=1) -> Denoiser:
    """Build a denoiser from a name, a :class:`Denoiser` or any callable.

    Parameters
    ----------
    denoiser : {"learned", "bm3d"}, Denoiser or callable
        A name builds the shipped denoiser (the learned one is loaded once per ensemble
        size and shared); a callable ``f(x, sigma)`` is wrapped in :class:`Denoiser`; a
        :class:`Denoiser` is returned as it is.
    ensemble : {1, 2, 4, 8}
        Self-ensemble size of a denoiser built here (see :class:`Denoiser`).

    Returns
    -------
    Denoiser
    """
    if isinstance(denoiser, Denoiser):
        return denoiser
    if isinstance(denoiser, str):
        check_choice(denoiser, "denoiser", tuple(DENOISERS))
        if denoiser == "learned":
            key = ("learned", ensemble)
            if key not in _shared:
                _shared[key] = LearnedDenoiser(ensemble=ensemble)
            return _shared[key]
        return DENOISERS[denoiser](ensemble=ensemble)
    if callable(denoiser):
        return Denoiser(denoiser, ensemble=ensemble)
    raise TypeError(f"denoiser must be a name, a Denoiser or a callable, got "
                    f"{type(denoiser).__name__}")


__all__ = ["Denoiser", "LearnedDenoiser", "BM3DDenoiser", "DENOISERS", "make_denoiser",
           "bm3d_available"]

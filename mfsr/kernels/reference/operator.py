"""Reference system operator: the separable gather ``S_y z S_x^T`` of two sparse matrices
in ELL form (:func:`separable_gather`), the warps' tables (:func:`prepare_warps`) and
the whole ``A = D B W_k`` over a stack of warps with its adjoint
(:func:`warp_blur_decimate`, :func:`warp_blur_decimate_adjoint`); ``cuda/operator.cu``
in the CuPy set.
"""
from __future__ import annotations

import numpy as np

from ...core.backend import get_array_module
from ..buffers import deliver
from ..geometry import bilinear_tables, upsample_flow
from .warp import warp_adjoint, warp_forward


def separable_gather(z, rows, row_weights, cols, col_weights):
    """Apply two sparse matrices in ELL form along the last two axes: ``S_y z S_x^T``.

    ``out[..., i, j] = sum_a sum_b row_weights[i, a] col_weights[j, b]
    z[..., rows[i, a], cols[j, b]]``.

    Parameters
    ----------
    z : array (..., H, W)
    rows, row_weights : arrays (h, m_y)
        Column indices (into ``H``; int64) and values of each row of ``S_y``; unused
        entries carry weight 0 and any valid index.
    cols, col_weights : arrays (w, m_x)
        The same for ``S_x`` (indices into ``W``).

    Returns
    -------
    array (..., h, w) of ``z``'s dtype
    """
    xp = get_array_module(z)
    rows, cols = xp.asarray(rows), xp.asarray(cols)
    wr = xp.asarray(row_weights, dtype=z.dtype)
    wc = xp.asarray(col_weights, dtype=z.dtype)
    t = sum(wr[:, a, None] * xp.take(z, rows[:, a], axis=-2) for a in range(rows.shape[1]))
    out = sum(wc[:, b] * xp.take(t, cols[:, b], axis=-1) for b in range(cols.shape[1]))
    return out.astype(z.dtype, copy=False)


def prepare_warps(flows, scale, phase):
    """Precompute what :func:`warp_blur_decimate` needs of ``K`` warps (once per operator).

    Parameters
    ----------
    flows : array (K, h, w, 2)
        LR flows ``(dx, dy)`` in LR pixels; the HR warps are
        ``upsample_flow(flows[k], scale, phase)`` (:mod:`mfsr.kernels.geometry`).
    scale : int
    phase : float

    Returns
    -------
    tuple
        An opaque state for this kernel set's :func:`warp_blur_decimate` and
        :func:`warp_blur_decimate_adjoint`. Here the stacked bilinear tables
        ``(index, wy, wx)``, each ``(K, H*W)``, and ``identity``, a NumPy bool array
        ``(K,)`` flagging warps by a zero flow (their tables are not read).
    """
    xp = get_array_module(flows)
    k, h, w = flows.shape[:3]
    n = scale * h * scale * w
    tables = (xp.empty((k, n), xp.int64), xp.empty((k, n), xp.float32),
              xp.empty((k, n), xp.float32))
    identity = np.zeros(k, bool)
    for i in range(k):
        flow_hr = upsample_flow(flows[i], scale, phase)
        identity[i] = not bool(xp.any(flow_hr != 0))
        bilinear_tables(flow_hr, out=tuple(t[i] for t in tables))
    return tables + (identity,)


def warp_blur_decimate(x, warps, rows, row_weights, cols, col_weights):
    """The system operator ``A x = [S_y (W_k x) S_x^T]_k`` for ``K`` warps in one call.

    Parameters
    ----------
    x : array (H, W)
    warps : tuple
        ``prepare_warps(flows, scale, phase)`` of the same kernel set.
    rows, row_weights, cols, col_weights
        Blur + decimation ``D B`` as for :func:`separable_gather`.

    Returns
    -------
    array (K, h, w)
    """
    xp = get_array_module(x)
    index, wy, wx, identity = warps
    z = xp.stack([x.copy() if identity[k] else warp_forward(x, index[k], wy[k], wx[k])
                  for k in range(len(identity))])
    return separable_gather(z, rows, row_weights, cols, col_weights)


def warp_blur_decimate_adjoint(y, warps, rows_t, row_weights_t, cols_t, col_weights_t,
                               out=None, weights=None):
    """``A^T y = sum_k W_k^T (S_y^T y_k S_x)``, the adjoint of :func:`warp_blur_decimate`.

    The sampling tables are those of the transposed matrices ``S_y^T`` (``(H, m)``) and
    ``S_x^T`` (``(W, m)``). Returns an array ``(H, W)`` (``out`` when given: a
    C-contiguous array of that shape and ``y``'s dtype). ``weights`` (``y``'s shape and
    dtype), when given, multiplies ``y`` as it is read: ``A^T (weights * y)``, each
    product rounded in the dtype as the NumPy expression (the data weights of the
    solvers' normal maps, at no extra pass).
    """
    if weights is not None:
        if tuple(weights.shape) != tuple(y.shape):
            raise ValueError(f"weights must have y's shape {tuple(y.shape)}, got "
                             f"{tuple(weights.shape)}")
        y = weights * y
    index, wy, wx, identity = warps
    z = separable_gather(y, rows_t, row_weights_t, cols_t, col_weights_t)
    total = None
    for k in range(len(identity)):
        zk = z[k] if identity[k] else warp_adjoint(z[k], index[k], wy[k], wx[k])
        total = zk.copy() if total is None else total.__iadd__(zk)
    return deliver(total, out)

"""CUDA C sources of the CuPy kernels (package data), readable without CuPy.

Each ``<name>.cu`` compiles on its own with ``nvcc`` (``-I`` this folder) and defines,
for ``T`` in ``float`` / ``double``, the kernels ``<function>_f32`` / ``<function>_f64``
listed in :data:`KERNELS`. :func:`source` returns a file with its local ``#include``
lines inlined, ready for NVRTC (``cupy.RawModule``).
"""
from __future__ import annotations

import importlib.resources
import re

#: kernel function (without dtype suffix) -> source file (without ``.cu``)
KERNELS = {
    "warp_forward": "warp",
    "warp_adjoint": "warp",
    "strided_correlate": "sampling",
    "strided_correlate_adjoint": "sampling",
    "pairwise_prior": "prior",
    "tv_prior": "prior",
    "data_fidelity": "data",
    "ell_gather_rows": "operator",
    "ell_gather_cols": "operator",
    "warp_frames": "operator",
    "gather_cols_splat": "operator",
    "kernel_merge": "merge",
    "lk_gradients": "flow",
    "lk_products": "flow",
    "lk_vertical": "flow",
    "lk_solve": "flow",
    "lk_median": "flow",
    "lk_pyramid_down": "flow",
    "lk_upsample": "flow",
    "lk_confidence": "flow",
    "weighted_smoothness": "irls",
    "weighted_smoothness_value": "irls",
    "smoothness_differences": "irls",
    "cg_update": "irls",
    "cg_direction": "irls",
    "ell_gather_rows_weighted": "operator",
    "pairwise_prior_gradient": "prior",
    "irls_residuals": "irls",
    "irls_key_median": "irls",
    "irls_sorted_median": "irls",
    "irls_data_weights": "irls",
    "irls_prior_weights": "irls",
    "irls_objective_partials": "irls",
    "irls_objective_sum": "irls",
    "dot_partials": "irls",
    "sum_partials": "irls",
    "cg_update_dot": "irls",
    "filter_rows": "filter",
    "filter_cols": "filter",
    "warp_difference": "photometric",
}
#: source files, without ``.cu``
SOURCES = tuple(sorted(set(KERNELS.values())))
#: dtype suffix of each kernel variant
SUFFIXES = {"float32": "f32", "float64": "f64"}

_INCLUDE = re.compile(r'^#include "([\w.]+)"[ \t]*$', re.MULTILINE)


def folder():
    """Return the folder holding the ``.cu`` files (a ``Traversable``)."""
    return importlib.resources.files(__name__)


def source(name):
    """Return the text of ``<name>.cu`` with its local includes inlined (each once).

    Inlining, rather than an NVRTC include path, keeps CuPy's on-disk kernel cache
    (keyed by the source text) in step with the shared header.

    Parameters
    ----------
    name : str
        One of :data:`SOURCES`.

    Returns
    -------
    str
    """
    if name not in SOURCES:
        raise ValueError(f"unknown CUDA source {name!r}; valid: {', '.join(map(repr, SOURCES))}")
    base = folder()

    def read(filename, seen):
        text = base.joinpath(filename).read_text(encoding="utf-8")

        def include(match):
            dep = match.group(1)
            if dep in seen:
                return ""
            seen.add(dep)
            return read(dep, seen)
        return _INCLUDE.sub(include, text)
    return read(f"{name}.cu", set())

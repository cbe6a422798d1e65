"""``mfsr bench``: the standard VSR test sets under their published protocols.

Sits at the top of the package, beside the CLI: it knows datasets
(:mod:`~mfsr.bench.datasets`), protocols and metrics (:mod:`~mfsr.bench.protocols`),
the methods it compares (:mod:`~mfsr.bench.methods`, :mod:`~mfsr.bench.deep`) and
published rows (:mod:`~mfsr.bench.published`), and calls only mfsr's public API.

>>> from mfsr.bench import Protocol, run_bench            # doctest: +SKIP
>>> result = run_bench("Vid4/", Protocol("BD", 4), ["bicubic", "irls"])  # doctest: +SKIP
"""
from .datasets import Clip, Dataset, detect
from .protocols import Protocol, degrade, score, ssim_wang
from .registry import make_method, method_names
from .report import markdown
from .runner import run_bench, select_frames

__all__ = ["run_bench", "Protocol", "detect", "Dataset", "Clip", "degrade", "score",
           "ssim_wang", "markdown", "make_method", "method_names", "select_frames"]

"""Per-iteration record every solver returns."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..core.backend import get_array_module, to_numpy


def _deferred(value):
    """``float(value)``, or a 0-d device array left as it is (no host read)."""
    if type(value).__module__.startswith("cupy"):
        return value
    return float(value)


@dataclass
class History:
    """What a solver did, one entry per iteration.

    Attributes
    ----------
    objective : list of float
        Objective value after each iteration (NaN where a solver has none). Values a
        solver recorded as 0-d device arrays are floats after :meth:`read_back`.
    residual_norm : list of float
        ``||sqrt(c) (A x - y)||_2`` after each iteration.
    seconds : list of float
        Wall time of each iteration.
    """

    objective: list = field(default_factory=list)
    residual_norm: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    _t: float = field(default=0.0, repr=False)

    def start(self):
        """Start timing an iteration."""
        self._t = time.perf_counter()

    def record(self, objective, residual_norm):
        """Close an iteration started with :meth:`start`.

        Numbers on the host are stored as floats. A 0-d device (CuPy) array is stored as
        it is, without a host read, until :meth:`read_back` turns all of them into floats
        with one copy; solvers that record device values call it at the end of a solve.
        """
        self.seconds.append(time.perf_counter() - self._t)
        self.objective.append(_deferred(objective))
        self.residual_norm.append(_deferred(residual_norm))

    def read_back(self):
        """Replace the values recorded as device arrays by floats, with one device-to-host
        copy for all of them (none when there are none); return ``self``."""
        pending = [(values, i) for values in (self.objective, self.residual_norm)
                   for i, v in enumerate(values) if not isinstance(v, float)]
        if not pending:
            return self
        xp = get_array_module(*(values[i] for values, i in pending))
        stacked = xp.stack([xp.asarray(values[i]) for values, i in pending])
        for (values, i), v in zip(pending, to_numpy(stacked).astype(np.float64).tolist()):
            values[i] = v
        return self

    @property
    def pending(self) -> int:
        """Number of values still on the device (see :meth:`read_back`)."""
        return sum(not isinstance(v, float) for v in self.objective + self.residual_norm)

    @property
    def iterations(self) -> int:
        """Number of recorded iterations."""
        return len(self.seconds)

"""Per-iteration record every solver returns."""
from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class History:
    """What a solver did, one entry per iteration.

    Attributes
    ----------
    objective : list of float
        Objective value after each iteration (NaN where a solver has none).
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
        """Close an iteration started with :meth:`start`."""
        self.seconds.append(time.perf_counter() - self._t)
        self.objective.append(float(objective))
        self.residual_norm.append(float(residual_norm))

    @property
    def iterations(self) -> int:
        """Number of recorded iterations."""
        return len(self.seconds)

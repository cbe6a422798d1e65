"""Solvers that know only the operator ``A``, a data term and a prior."""
from .cg import cg_solve, conjugate_gradient
from .data_terms import DATA_TERMS, L1, L2, DataTerm, Huber, make_data_term
from .history import History
from .ibp import ibp
from .irls import irls, irls_weights
from .kernel_merge import kernel_merge
from .map import map_gradient_descent, map_lbfgs
from .objective import Objective
from .pnp import pnp_admm
from .shift_and_add import shift_and_add

__all__ = ["shift_and_add", "ibp", "map_gradient_descent", "map_lbfgs", "conjugate_gradient", "cg_solve", "irls", "irls_weights", "pnp_admm",
           "kernel_merge",
           "Objective", "History", "DataTerm", "L1", "L2", "Huber", "DATA_TERMS",
           "make_data_term"]

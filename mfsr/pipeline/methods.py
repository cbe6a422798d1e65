"""The reconstruction methods: each one a small builder registered beside its defaults.

A builder takes the call's :class:`SolveOptions` and the :class:`Problem` (operator,
reference, noise level, frames that take part) and returns ``solve(stack) -> (hr,
history)`` for one ``(K, h, w)`` channel stack. :func:`mfsr.reconstruct` looks the
method up in :data:`METHODS` and never branches on its name, so a new method is one
decorated function here (and its solver in :mod:`mfsr.solvers`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .. import solvers
from ..core.validation import check_choice
from ..priors import DENOISERS, PRIORS, Denoiser, Prior, make_denoiser, make_prior
from ..solvers.pnp import PNP_ENSEMBLE, PNP_ITERATIONS, pnp_parameters

# Prior weight rule, calibrated on bigbuckbunny crops (docs/methods.md):
# lambda = PRIOR_GAIN[prior] * K * max(sigma, SIGMA_FLOOR).
PRIOR_GAIN = {"tikhonov": 0.6}
DEFAULT_PRIOR_GAIN = 5e-3
SIGMA_FLOOR = 0.007
# IRLS solves weighted least squares, so its weight follows the noise variance:
# lambda = IRLS_GAIN * K * max(sigma, IRLS_SIGMA_FLOOR)**2.
IRLS_GAIN = 22.0
IRLS_SIGMA_FLOOR = 0.004
# Width (LR px) of the smooth per-frame photometric offsets IRLS fits beside the image
# (mfsr.degradation.offsets); None turns them off.
IRLS_OFFSETS = 2.0


def prior_weight(sigma, n_frames, prior="huber"):
    """Default prior weight ``lambda`` from the noise level.

    ``lambda = gain * K * max(sigma, 0.007)``. The data term sums over the K frames, so
    the weight grows with K to keep the balance per frame; the floor stands for the model
    errors (registration, quantisation) that even clean 8-bit video has. ``gain`` is
    0.6 for the quadratic ``"tikhonov"`` prior and 5e-3 for the edge-preserving ones.

    Parameters
    ----------
    sigma : float
        Noise standard deviation, [0, 1] image units.
    n_frames : float
        Number of LR frames K (or the effective number that take part).
    prior : str
        Name of the prior.

    Returns
    -------
    float
    """
    gain = PRIOR_GAIN.get(prior, DEFAULT_PRIOR_GAIN)
    return gain * n_frames * max(float(sigma), SIGMA_FLOOR)


def irls_weight(sigma, n_frames):
    """Default prior weight of ``"irls"``: ``22 K max(sigma, 0.004)**2``."""
    return IRLS_GAIN * n_frames * max(float(sigma), IRLS_SIGMA_FLOOR) ** 2


@dataclass(frozen=True)
class SolveOptions:
    """What the caller asked of the solver, checked once (:func:`solve_options`)."""

    method: str
    iterations: int
    prior: object = None
    weight: float | None = None
    data_term: object = None


@dataclass
class Problem:
    """What a solver is given besides the frames.

    Attributes
    ----------
    operator : SystemOperator
        ``A = D B W`` (with the data weights in its confidence).
    reference : int
        Index of the reference frame.
    sigma : float
        Noise standard deviation the defaults follow.
    n_effective : float
        Frames (or frame areas) that take part; the prior weights grow with it.
    init : callable
        ``init(stack) -> x0``, the starting estimate of a channel stack.
    anchor : tuple (array, array), optional
        ``(image, weights)``: an HR estimate of this view from elsewhere and its
        per-pixel weights (the video job's recursion, :mod:`mfsr.video.recurrence`); only the
        methods built on IRLS take one.
    """

    operator: object
    reference: int
    sigma: float
    n_effective: float
    init: Callable
    anchor: object = None


@dataclass(frozen=True)
class Method:
    """A registered method: its builder and defaults."""

    name: str
    build: Callable
    iterations: int
    prior: str | None = None
    uses: str = "none"  # what prior it takes: "none", "prior" or "denoiser"
    anchored: bool = False  # whether it takes an anchor (Problem.anchor)


METHODS = {}


def method(name, iterations, prior=None, uses="none", anchored=False):
    """Register ``builder(options, problem) -> solve`` as method ``name``."""
    def register(build):
        METHODS[name] = Method(name, build, iterations, prior, uses, anchored)
        return build
    return register


def is_denoiser(prior):
    """True for the priors of ``method="pnp"``: a denoiser name, a Denoiser, a callable."""
    if isinstance(prior, str):
        return prior in DENOISERS
    return isinstance(prior, Denoiser) or (callable(prior) and not isinstance(prior, Prior))


def resolve_method(method_name, prior):
    """The method for ``method_name`` (``None``: ``"pnp"`` for a denoiser prior, else
    ``"irls"``), after checking that it takes ``prior``."""
    if method_name is None:
        method_name = "pnp" if is_denoiser(prior) else "irls"
    check_choice(method_name, "method", tuple(METHODS))
    m = METHODS[method_name]
    if prior is None:
        return m
    if m.uses == "denoiser" and not is_denoiser(prior):
        raise ValueError(f"method {m.name!r} needs a denoiser prior: one of {tuple(DENOISERS)}, "
                         f"a Denoiser or a callable denoise(x, sigma); got {prior!r}")
    if m.uses != "denoiser" and is_denoiser(prior):
        raise ValueError(f"prior {prior!r} is a denoiser: use method='pnp' (or leave method "
                         f"unset); method {m.name!r} takes no denoiser")
    if m.uses == "none":
        takers = tuple(n for n, v in METHODS.items() if v.uses == "prior")
        raise ValueError(f"prior is used only by methods {takers} (one of {tuple(PRIORS)} or "
                         f"a Prior) and 'pnp' (a denoiser), not {m.name!r}")
    return m


def _data_term(data_term, sigma):
    """The data term of ``"map"``: a name (thresholds from the noise level) or a DataTerm."""
    if not isinstance(data_term, str):
        return data_term
    check_choice(data_term, "data_term", tuple(solvers.DATA_TERMS))
    level = max(sigma, 1e-3)
    options = {"huber": {"delta": 3.0 * level}, "l1": {"eps": level / 4, "scale": level},
               "l2": {}}[data_term]
    return solvers.make_data_term(data_term, **options)


@method("map", iterations=20, prior="huber", uses="prior")
def _map(options, problem):
    prior = make_prior(options.prior or "huber")
    weight = prior_weight(problem.sigma, problem.n_effective, prior.name) \
        if options.weight is None else options.weight
    data_term = _data_term(options.data_term or "huber", problem.sigma)
    if options.iterations == 0:
        return lambda y: (problem.init(y), solvers.History())
    return lambda y: solvers.map_lbfgs(
        solvers.Objective(problem.operator, y, data_term, prior, weight), problem.init(y),
        options.iterations)


def _irls_extras(problem):
    """IRLS's photometric offsets (for a stack of several frames) and anchor."""
    extras = {} if problem.anchor is None else {"anchor": problem.anchor}
    if IRLS_OFFSETS is not None and problem.operator.n_frames > 1:
        extras.update(offsets=IRLS_OFFSETS, reference=problem.reference)
    return extras


@method("irls", iterations=5, anchored=True)
def _irls(options, problem):
    weight = irls_weight(problem.sigma, problem.n_effective) if options.weight is None \
        else options.weight
    return lambda y: solvers.irls(problem.operator, y, problem.init(y), weight,
                                  outer=options.iterations, **_irls_extras(problem))


@method("cg", iterations=30, prior="tikhonov", uses="prior")
def _cg(options, problem):
    prior = make_prior(options.prior or "tikhonov")
    weight = prior_weight(problem.sigma, problem.n_effective, prior.name) \
        if options.weight is None else options.weight
    return lambda y: solvers.conjugate_gradient(problem.operator, y, problem.init(y), prior,
                                                weight, options.iterations)


@method("ibp", iterations=20)
def _ibp(options, problem):
    return lambda y: solvers.ibp(problem.operator, y, problem.init(y), options.iterations)


@method("saa", iterations=1)
def _saa(options, problem):
    return lambda y: solvers.shift_and_add(problem.operator, y, problem.init(y), mode="mean")


@method("saa_median", iterations=1)
def _saa_median(options, problem):
    return lambda y: solvers.shift_and_add(problem.operator, y, problem.init(y), mode="median")


@method("pnp", iterations=PNP_ITERATIONS, prior="learned", uses="denoiser", anchored=True)
def _pnp(options, problem):
    prior = options.prior or "learned"
    # the shipped CNN with its self-ensemble; user denoisers run as given
    denoiser = make_denoiser(prior, PNP_ENSEMBLE if prior == "learned" else 1)
    params = {**pnp_parameters(problem.sigma), "iterations": options.iterations}
    if options.weight is not None:
        params["weight"] = options.weight
    no_prior = options.weight == 0  # then the robust data fit alone, as for other methods
    start_weight = 0.0 if no_prior else irls_weight(problem.sigma, problem.n_effective)

    def pnp(y):  # plug-and-play refines the default method's result
        start = solvers.irls(problem.operator, y, problem.init(y), start_weight,
                             outer=METHODS["irls"].iterations, **_irls_extras(problem))
        return start if no_prior else solvers.pnp_admm(problem.operator, y, start[0],
                                                       denoiser, **params)
    return pnp


@method("kernel", iterations=1)
def _kernel(options, problem):
    return lambda y: solvers.kernel_merge(problem.operator, y, noise=problem.sigma)


DEFAULT_ITERATIONS = {name: m.iterations for name, m in METHODS.items()}

__all__ = ["METHODS", "Method", "SolveOptions", "Problem", "method", "resolve_method",
           "is_denoiser", "prior_weight", "irls_weight", "DEFAULT_ITERATIONS"]

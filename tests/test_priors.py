"""Gradients of priors and data terms against central finite differences."""
import numpy as np
import pytest

from mfsr import kernels, priors, solvers


def check_gradient(f_and_g, x, rng):
    d = rng.standard_normal(x.shape)
    f, g = f_and_g(x)
    e = 1e-6
    fd = (f_and_g(x + e * d)[0] - f_and_g(x - e * d)[0]) / (2 * e)
    assert abs(fd - np.vdot(g, d)) <= 1e-5 * max(1.0, abs(fd))


@pytest.mark.parametrize("cpu", ["numpy", "auto"])
@pytest.mark.parametrize("prior", [priors.Tikhonov(), priors.TotalVariation(eps=0.05),
                                   priors.BilateralTV(radius=2, eps=0.05),
                                   priors.HuberMRF(delta=0.2)], ids=repr)
def test_prior_gradient(prior, cpu, rng):
    x = rng.random((12, 15))
    with kernels.use(cpu):
        check_gradient(prior.value_and_gradient, x, rng)


@pytest.mark.parametrize("term", [solvers.L2(), solvers.L1(eps=0.05), solvers.Huber(0.3)],
                         ids=lambda t: t.name)
def test_data_term_derivative(term, rng):
    r = rng.standard_normal(50)
    check_gradient(lambda v: (float(term.value_and_derivative(v, np)[0].sum()),
                              term.value_and_derivative(v, np)[1]), r, rng)


def test_priors_are_zero_on_constants():
    x = np.full((9, 9), 0.4)
    for name in priors.PRIORS:
        value, grad = priors.make_prior(name).value_and_gradient(x)
        assert value == pytest.approx(0.0, abs=1e-12)
        assert np.abs(grad).max() < 1e-12


@pytest.mark.parametrize("cpu", ["numpy", "auto"])
def test_prior_gradient_goes_into_out(cpu, rng):
    x = rng.random((12, 15)).astype(np.float32)
    with kernels.use(cpu):
        for name in priors.PRIORS:
            prior = priors.make_prior(name)
            value, grad = prior.value_and_gradient(x)
            out = np.full_like(x, np.nan)
            value_out, grad_out = prior.value_and_gradient(x, out=out)
            assert grad_out is out and value_out == value, name
            np.testing.assert_array_equal(out, grad, err_msg=name)
            with pytest.raises(ValueError, match="out must be"):
                prior.value_and_gradient(x, out=np.empty((3, 3), np.float32))


def test_unknown_prior_lists_valid_names():
    with pytest.raises(ValueError, match="btv"):
        priors.make_prior("l0")

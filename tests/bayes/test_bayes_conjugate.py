"""Bayesian linear regression (gaussian model, unit noise variance): the learning rule with
lr = 1 reaches the exact conjugate posterior in one step, and its ELBO is the exact log
evidence there."""

from __future__ import annotations

import numpy as np
import pytest

import ngdx
from ngdx._result import convergence_warning
from ngdx.bayes._fit import build_problem, run
from ngdx.bayes._rule import Gaussian

from bayes_problems import conjugate, log_evidence, make_data


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_one_step_from_anywhere_is_the_conjugate_posterior(fit_intercept):
    X, y = make_data("gaussian", n=40, fit_intercept=fit_intercept)
    alpha = 0.7
    problem = build_problem(X, y, ngdx._models.families.get_family("gaussian"), None,
                            fit_intercept, 32, 1)
    p = problem.p
    far = Gaussian.from_precision(np.full(p, 5.0), 3.0 * np.eye(p))  # nowhere near
    with pytest.warns(convergence_warning(), match="max_iter=1"):
        post = run(problem, far, alpha, max_iter=1)
    mean, cov = conjugate(X, y, alpha, fit_intercept)
    np.testing.assert_allclose(post.mean, mean, rtol=0, atol=1e-10)
    np.testing.assert_allclose(post.covariance, cov, rtol=0, atol=1e-10)
    assert post.n_iter == 1


def test_elbo_is_the_log_evidence_without_intercept():
    X, y = make_data("gaussian", n=40, fit_intercept=False)
    for alpha in (0.3, 2.0):
        post = ngdx.bayes.fit(X, y, "gaussian", prior_precision=alpha, fit_intercept=False)
        assert post.converged
        assert abs(post.elbo - log_evidence(X, y, alpha)) <= 1e-10 * abs(post.elbo)
        # the Laplace evidence is exact too for a Gaussian posterior
        lap = ngdx.bayes.fit(X, y, "gaussian", prior_precision=alpha, fit_intercept=False,
                             method="laplace")
        assert abs(lap.elbo - log_evidence(X, y, alpha)) <= 1e-10 * abs(post.elbo)


def test_elbo_is_below_the_evidence_away_from_the_posterior():
    # The bound is strict at any other q: one step from a far start has a lower ELBO.
    X, y = make_data("gaussian", n=40, fit_intercept=False)
    problem = build_problem(X, y, ngdx._models.families.get_family("gaussian"), None,
                            False, 32, 1)
    far = Gaussian.from_precision(np.full(3, 1.0), 2.0 * np.eye(3))
    post = run(problem, far, 1.0)
    assert post.history["elbo"][0] < log_evidence(X, y, 1.0) - 1.0
    assert post.history["elbo"][1] == pytest.approx(log_evidence(X, y, 1.0), rel=1e-12)


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("method", ["vi", "laplace"])
def test_fit_returns_the_conjugate_posterior(fit_intercept, method):
    X, y = make_data("gaussian", n=40, fit_intercept=fit_intercept)
    s = np.random.default_rng(1).integers(0, 3, size=40).astype(float)
    post = ngdx.bayes.fit(X, y, "gaussian", prior_precision=1.5, fit_intercept=fit_intercept,
                          sample_weight=s, method=method)
    mean, cov = conjugate(X, y, 1.5, fit_intercept, s)
    np.testing.assert_allclose(post.mean_coef, mean[:3], rtol=0, atol=1e-10)
    np.testing.assert_allclose(post.covariance, cov, rtol=0, atol=1e-10)
    assert post.mean_intercept == (pytest.approx(mean[3], abs=1e-10) if fit_intercept else 0.0)


def test_failure_paths_are_named_in_the_result():
    from ngdx._models.families import get_family

    X, y = make_data("poisson", n=30)
    problem = build_problem(X, y, get_family("poisson"), None, True, 32, 1)
    # q so wide that exp(eta) overflows at the outer quadrature nodes: a non-finite ELBO
    wide = Gaussian.from_precision(np.zeros(4), 1e-6 * np.eye(4))
    with pytest.warns(convergence_warning(), match="not finite"):
        post = run(problem, wide, 1.0)
    assert not post.converged and post.n_iter == 0 and "not finite" in post.message
    # every row's curvature underflows to 0 far from the data and the intercept has no
    # prior: the new precision is singular
    X, y = make_data("logistic", n=30)
    problem = build_problem(X, y, get_family("logistic"), None, True, 32, 1)
    far = Gaussian.from_precision(np.array([0.0, 0.0, 0.0, 1e4]), 1e12 * np.eye(4))
    with pytest.warns(convergence_warning(), match="not positive definite"):
        post = run(problem, far, 1.0, lr=1.0)
    assert not post.converged and post.n_iter == 0

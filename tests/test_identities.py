"""The mathematics, checked without the reference: derivatives against finite
differences, Fisher identities, Monte Carlo convergence, the KL expansion and
reparametrization."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ngdx
from ngdx import _reference as ref
from ngdx._functional import fused

from conftest import make_problem

CANONICAL = ("logistic", "poisson", "gaussian", "multinomial")


def rel_err(a, b):
    return np.abs(np.asarray(a) - np.asarray(b)).max() / max(np.abs(b).max(), 1e-300)


def central_difference(f, theta, h=1e-5):
    """Gradient (same shape as theta, or with trailing dims of f's output) by central differences."""
    flat = theta.ravel().astype(float)
    cols = []
    for j in range(flat.size):
        e = np.zeros_like(flat)
        e[j] = h
        cols.append((np.asarray(f((flat + e).reshape(theta.shape)))
                     - np.asarray(f((flat - e).reshape(theta.shape)))) / (2 * h))
    return np.stack(cols, axis=0)


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_gradient_matches_finite_differences(model, fit_intercept):
    X, y, theta = make_problem(model, 80, 3, 3, seed=1, fit_intercept=fit_intercept)
    theta = theta.ravel()
    sw = np.random.default_rng(0).uniform(0.5, 1.5, size=80)
    kw = dict(fit_intercept=fit_intercept, sample_weight=sw)
    g = fused(X, y, theta, model, **kw)[1]
    fd = central_difference(lambda t: fused(X, y, t, model, **kw)[0], theta)
    assert rel_err(g, fd) < 1e-8


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_hessian_matches_finite_differences_of_gradient(model, fit_intercept):
    X, y, theta = make_problem(model, 80, 3, 3, seed=2, fit_intercept=fit_intercept)
    theta = theta.ravel()
    kw = dict(fit_intercept=fit_intercept)
    H = fused(X, y, theta, model, "hessian", **kw)[2]
    fd = central_difference(lambda t: fused(X, y, t, model, **kw)[1], theta)
    assert rel_err(H, fd) < 1e-7
    assert np.array_equal(H, H.T)


def test_grad_is_minus_mean_score(model):
    X, y, theta = make_problem(model, 120, 4, 3, seed=3)
    np.testing.assert_allclose(ngdx.grad(X, y, theta, model).ravel(),
                               -ngdx.scores(X, y, theta, model).mean(axis=0), rtol=1e-12,
                               atol=1e-15)


@pytest.mark.parametrize("model", CANONICAL)
def test_true_fisher_equals_hessian_for_canonical_links(model):
    X, y, theta = make_problem(model, 200, 3, 3, seed=4)
    F = ngdx.fisher(X, None, theta, model, "true")
    H = ngdx.hessian(X, y, theta, model)
    assert rel_err(F, H) < 1e-13


def test_probit_hessian_differs_from_fisher_but_equals_it_in_expectation():
    X, y, theta = make_problem("probit", 30, 3, seed=5, scale=1.0)
    F = ngdx.fisher(X, None, theta, "probit")
    H = ngdx.hessian(X, y, theta, "probit")
    assert rel_err(H, F) > 1e-2  # the observed Hessian depends on y
    # E_y[H] row by row: Phi(eta) H(y=1) + (1 - Phi(eta)) H(y=0).
    mu = ref._special().ndtr(X @ theta)
    expected = np.zeros_like(F)
    for i in range(len(X)):
        xi = X[i:i + 1]
        expected += (mu[i] * ngdx.hessian(xi, [1], theta, "probit")
                     + (1 - mu[i]) * ngdx.hessian(xi, [0], theta, "probit"))
    assert rel_err(expected / len(X), F) < 1e-13


def _label_distribution(model, eta_row):
    """(labels, probabilities) of p(. | eta) for one row, exact or by quadrature."""
    if model == "logistic":
        p1 = 1 / (1 + math.exp(-eta_row[0]))
        return [0.0, 1.0], [1 - p1, p1]
    if model == "probit":
        p1 = float(ref._special().ndtr(eta_row[0]))
        return [0.0, 1.0], [1 - p1, p1]
    if model == "poisson":
        lam = math.exp(eta_row[0])
        ks = np.arange(0, 80)
        return list(ks.astype(float)), list(np.exp(ks * math.log(lam) - lam
                                                   - ref._special().gammaln(ks + 1)))
    if model == "gaussian":
        nodes, weights = np.polynomial.hermite_e.hermegauss(20)
        return list(eta_row[0] + nodes), list(weights / math.sqrt(2 * math.pi))
    prob = np.exp(eta_row - eta_row.max())
    prob /= prob.sum()
    return [float(k) for k in range(len(eta_row))], list(prob)


def test_score_has_zero_mean_and_the_fisher_is_its_covariance(model):
    X, _, theta = make_problem(model, 6, 2, 3, seed=6)
    eta = ref.linear_predictor(X, theta.ravel())
    F = np.zeros((theta.size, theta.size))
    for i in range(len(X)):
        labels, probs = _label_distribution(model, eta[i])
        S = np.vstack([ngdx.scores(X[i:i + 1], [yk], theta, model) for yk in labels])
        probs = np.asarray(probs)
        np.testing.assert_allclose(probs @ S, 0.0, atol=1e-12)  # E[score] = 0
        F += np.einsum("k,ka,kb->ab", probs, S, S)
    assert rel_err(F / len(X), ngdx.fisher(X, None, theta, model)) < 1e-10


def test_mc_fisher_approaches_true_fisher(model):
    X, _, theta = make_problem(model, 40, 2, 3, seed=7)
    F = ngdx.fisher(X, None, theta, model, "true")
    errors = [rel_err(ngdx.fisher(X, None, theta, model, "mc", n_mc_samples=S, seed=1), F)
              for S in (4, 4000)]
    assert errors[1] < 0.1
    assert errors[1] < errors[0] / 5  # ~ 1/sqrt(S): sqrt(1000) ~ 32


def test_mc_diagonal_is_diagonal_of_mc_fisher(model):
    X, _, theta = make_problem(model, 300, 3, 3, seed=8)
    full = ngdx.fisher(X, None, theta, model, "mc", n_mc_samples=3, seed=2)
    diag = ngdx.fisher(X, None, theta, model, "mc", n_mc_samples=3, seed=2, diagonal=True)
    assert rel_err(diag, np.diag(full)) < 1e-13


def test_kl_is_half_quadratic_form_of_fisher(model):
    X, _, theta = make_problem(model, 100, 3, 3, seed=9)
    v = np.random.default_rng(0).normal(size=theta.shape)
    F = ngdx.fisher(X, None, theta, model)
    quad = 0.5 * v.ravel() @ F @ v.ravel()
    ratios = [ngdx.kl(X, theta, theta + eps * v, model) / (eps**2 * quad) for eps in (1e-2, 1e-3)]
    assert abs(ratios[1] - 1) < 5e-3
    assert abs(ratios[1] - 1) < abs(ratios[0] - 1) or abs(ratios[0] - 1) < 1e-6
    assert ngdx.kl(X, theta, theta, model) == 0.0


def test_natural_gradient_is_invariant_to_reparametrization(model):
    # theta = A phi with X' = X A: the Fisher becomes A^T F A, the gradient A^T g, and
    # the natural gradient in phi maps back to the same step in theta.
    X, y, theta = make_problem(model, 200, 3, 3, seed=10)
    A = np.array([[2.0, 0.3, 0.0], [0.0, 0.5, 0.1], [0.4, 0.0, 3.0]])
    phi = np.linalg.solve(A, theta)
    XA = X @ A
    assert abs(ngdx.loss(XA, y, phi, model) - ngdx.loss(X, y, theta, model)) < 1e-12
    if model == "multinomial":
        # F is singular along the softmax's free shift (a kron 1); the gradient is
        # orthogonal to it, and the minimum-norm solutions (zero row sums) correspond.
        solve = lambda F, g: np.linalg.lstsq(F, g, rcond=1e-12)[0]  # noqa: E731
    else:
        solve = ngdx.natural_gradient
    step_theta = solve(ngdx.fisher(X, y, theta, model), ngdx.grad(X, y, theta, model).ravel())
    step_phi = solve(ngdx.fisher(XA, y, phi, model), ngdx.grad(XA, y, phi, model).ravel())
    K = theta.size // 3
    mapped = (A @ step_phi.reshape(3, K)).ravel()
    assert rel_err(mapped, step_theta) < 1e-9
    # plain gradient steps are not invariant
    g_phi = ngdx.grad(XA, y, phi, model).reshape(3, K)
    assert rel_err((A @ g_phi).ravel(), ngdx.grad(X, y, theta, model).ravel()) > 1e-2


def test_duplicated_rows_equal_doubled_weights(model):
    X, y, theta = make_problem(model, 60, 3, 3, seed=11, fit_intercept=True)
    w = np.ones(60)
    w[:10] = 2.0
    Xd, yd = np.vstack([X, X[:10]]), np.concatenate([y, y[:10]])
    for kind in ("true", "empirical", "hessian"):
        a = fused(X, y, theta, model, kind, fit_intercept=True, sample_weight=w)
        b = fused(Xd, yd, theta, model, kind, fit_intercept=True)
        for u, v in zip(a, b):
            assert rel_err(u, v) < 1e-12


def test_intercept_equals_a_column_of_ones(model):
    X, y, theta = make_problem(model, 300, 3, 3, seed=12, fit_intercept=True)
    X1 = np.hstack([X, np.ones((300, 1))])
    for kind in ("true", "empirical", "hessian"):
        for diagonal in (False, True):
            a = fused(X, y, theta, model, kind, diagonal=diagonal, fit_intercept=True)
            b = fused(X1, y, theta, model, kind, diagonal=diagonal)
            for u, v in zip(a, b):
                assert rel_err(u, v) < 1e-12


def test_fisher_is_symmetric_positive_semidefinite(model):
    X, y, theta = make_problem(model, 50, 4, 3, seed=13)
    for kind in ("true", "empirical", "mc"):
        F = ngdx.fisher(X, y, theta, model, kind, seed=0)
        assert np.array_equal(F, F.T)
        assert np.linalg.eigvalsh(F).min() > -1e-12 * np.abs(F).max()

"""The multinomial model: Monte Carlo expectations over fixed draws (stated in the
docstring), checked against the logistic model (K = 2), the MAP, frequency weights and the
centred parametrization."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import ngdx


def make(n=150, K=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    B = rng.normal(size=(2, K))
    prob = np.exp(X @ B)
    prob /= prob.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(K, p=pi) for pi in prob]).astype(float)
    return X, y


def test_two_classes_are_the_logistic_model():
    # softmax over (eta_0, eta_1) is the logistic of eta_1 - eta_0; a N(0, 1/alpha) prior
    # on both coefficient columns is N(0, 2/alpha) on their difference.
    X, y = make(K=2)
    multi = ngdx.bayes.fit(X, y, "multinomial", prior_precision=2.0)
    logit = ngdx.bayes.fit(X, y, "logistic", prior_precision=1.0)
    diff = np.append(multi.mean_coef[:, 1] - multi.mean_coef[:, 0],
                     multi.mean_intercept[1] - multi.mean_intercept[0])
    sd = np.sqrt(np.diag(logit.covariance))
    # Monte Carlo error of 256 draws per row: a few thousandths of a posterior sd
    np.testing.assert_allclose(diff, logit.mean, atol=0.02 * sd.min())
    # the difference's covariance, D S D^T
    D = np.zeros((3, 6))
    for j in range(3):
        D[j, 2 * j], D[j, 2 * j + 1] = -1.0, 1.0
    np.testing.assert_allclose(np.sqrt(np.diag(D @ multi.covariance @ D.T)), sd, rtol=0.02)
    lap_multi = ngdx.bayes.fit(X, y, "multinomial", prior_precision=2.0, method="laplace")
    lap_logit = ngdx.bayes.fit(X, y, "logistic", prior_precision=1.0, method="laplace")
    np.testing.assert_allclose(D @ lap_multi.mean, lap_logit.mean, atol=1e-8)
    np.testing.assert_allclose(D @ lap_multi.covariance @ D.T, lap_logit.covariance,
                               rtol=1e-7, atol=1e-12)


def test_laplace_mean_is_the_map():
    X, y = make()
    lap = ngdx.bayes.fit(X, y, "multinomial", prior_precision=0.5, method="laplace")
    res = ngdx.fit(X, y, "multinomial", l2=0.5 / len(y), tol=1e-12)
    np.testing.assert_allclose(lap.mean_coef, res.coef, atol=1e-8)
    np.testing.assert_allclose(lap.mean_intercept, res.intercept, atol=1e-8)


def test_centred_parametrization():
    X, y = make()
    post = ngdx.bayes.fit(X, y, "multinomial")
    assert post.mean_coef.shape == (2, 3) and post.mean_intercept.shape == (3,)
    assert abs(post.mean_intercept.sum()) < 1e-12
    shift = np.zeros(9)
    shift[-3:] = 1.0
    np.testing.assert_allclose(post.covariance @ shift, 0.0, atol=1e-12)
    draws = post.sample(100, seed=0)
    np.testing.assert_allclose(draws[:, -3:].sum(axis=1), 0.0, atol=1e-12)
    prob = post.predict(X[:4])
    np.testing.assert_allclose(prob.sum(axis=1), 1.0)
    assert post.predict(X[:4], kind="samples", n_samples=7, seed=0).shape == (7, 4, 3)


def test_weights_and_layouts():
    X, y = make(n=60)
    s = np.ones(60)
    s[:10] = 2.0
    a = ngdx.bayes.fit(X, y, "multinomial", sample_weight=s)
    b = ngdx.bayes.fit(np.vstack([X, X[:10]]), np.concatenate([y, y[:10]]), "multinomial")
    np.testing.assert_allclose(a.mean, b.mean, atol=1e-8)
    np.testing.assert_allclose(a.covariance, b.covariance, rtol=1e-7, atol=1e-10)
    dense = ngdx.bayes.fit(X, y, "multinomial", fit_intercept=False)
    for other in (sp.csr_matrix(X), X.astype(np.float32)):
        post = ngdx.bayes.fit(other, y, "multinomial", fit_intercept=False)
        tol = 1e-9 if sp.issparse(other) else 1e-5  # float32 rounds X
        np.testing.assert_allclose(post.mean, dense.mean, rtol=tol, atol=tol)


@pytest.mark.parametrize("method", ["vi", "laplace"])
def test_auto_prior_precision(method):
    X, y = make()
    post = ngdx.bayes.fit(X, y, "multinomial", prior_precision="auto", method=method)
    assert post.converged and post.prior_precision != 1.0

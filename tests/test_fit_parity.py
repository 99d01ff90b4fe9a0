"""ngdx.fit reaches the optimum the established libraries find, on data they ship."""

from __future__ import annotations

import numpy as np
import pytest

import ngdx

sklearn = pytest.importorskip("sklearn")  # a test dependency (pip install ".[test]")
sm = pytest.importorskip("statsmodels.api")

from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

METHODS = ["ngd", "newton"]


@pytest.mark.parametrize("method", METHODS)
def test_logistic_matches_sklearn_breast_cancer(method):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    C = 0.5
    ref = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
    res = ngdx.fit(X, y, "logistic", method, l2=1.0 / (C * len(y)), tol=1e-11)
    assert res.converged
    np.testing.assert_allclose(res.coef, ref.coef_[0], atol=1e-6)
    np.testing.assert_allclose(res.intercept, ref.intercept_[0], atol=1e-6)


@pytest.mark.parametrize("method", METHODS + ["kfac"])
def test_multinomial_matches_sklearn_iris(method):
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    C = 2.0
    ref = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
    res = ngdx.fit(X, y, "multinomial", method, l2=1.0 / (C * len(y)), tol=1e-11,
                   max_iter=2000)
    assert res.converged, res.message
    np.testing.assert_allclose(res.coef, ref.coef_.T, atol=1e-6)
    np.testing.assert_allclose(res.intercept, ref.intercept_ - ref.intercept_.mean(), atol=1e-6)
    assert abs(res.intercept.sum()) < 1e-12


def test_weighted_logistic_matches_sklearn():
    X, y = load_breast_cancer(return_X_y=True)
    X = np.ascontiguousarray(StandardScaler().fit_transform(X)[:, :8])
    w = np.random.default_rng(0).uniform(0.2, 3.0, size=len(y))
    C = 1.0
    ref = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    ref.fit(X, y, sample_weight=w)
    res = ngdx.fit(X, y, l2=1.0 / (C * w.sum()), sample_weight=w, tol=1e-11)
    np.testing.assert_allclose(res.coef, ref.coef_[0], atol=1e-6)
    np.testing.assert_allclose(res.intercept, ref.intercept_[0], atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_probit_matches_statsmodels_spector(method):
    data = sm.datasets.spector.load_pandas()
    X, y = np.ascontiguousarray(data.exog.to_numpy(float)), data.endog.to_numpy(float)
    ref = sm.Probit(y, sm.add_constant(X)).fit(method="newton", tol=1e-14, maxiter=200, disp=0)
    res = ngdx.fit(X, y, "probit", method, tol=1e-11)
    assert res.converged
    np.testing.assert_allclose(res.coef, ref.params[1:], atol=1e-6)
    np.testing.assert_allclose(res.intercept, ref.params[0], atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_poisson_matches_statsmodels_randhie(method):
    data = sm.datasets.randhie.load_pandas()
    X, y = np.ascontiguousarray(data.exog.to_numpy(float)), data.endog.to_numpy(float)
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Poisson()).fit(tol=1e-14,
                                                                           maxiter=200)
    res = ngdx.fit(X, y, "poisson", method, tol=1e-11)
    assert res.converged
    np.testing.assert_allclose(res.coef, ref.params[1:], atol=1e-6)
    np.testing.assert_allclose(res.intercept, ref.params[0], atol=1e-6)


def test_gaussian_matches_least_squares_diabetes():
    X, y = load_diabetes(return_X_y=True)
    X1 = np.hstack([X, np.ones((len(y), 1))])
    beta = np.linalg.lstsq(X1, y, rcond=None)[0]
    res = ngdx.fit(X, y, "gaussian", tol=1e-9)
    assert res.converged
    np.testing.assert_allclose(res.coef, beta[:-1], atol=1e-6 * np.abs(beta).max())
    np.testing.assert_allclose(res.intercept, beta[-1], atol=1e-6)

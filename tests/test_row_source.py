"""The in-memory row source (ngdx._data.ArrayRows): what the objective reads rows through."""

from __future__ import annotations

import numpy as np
import pytest

import ngdx
from ngdx._data import ArrayRows
from ngdx._functional import fused


@pytest.mark.parametrize("n", [1, 63, 64, 200, 1001])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_gram_is_the_gaussian_fisher_bit_for_bit(n, fit_intercept, weighted, n_threads):
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 5))
    sw = rng.uniform(0.1, 3.0, n) if weighted else None
    rows = ArrayRows(X, np.zeros(n), sample_weight=sw, fit_intercept=fit_intercept,
                     n_threads=n_threads)
    dp = 5 + fit_intercept
    # gaussian curvature weights are 1: its true Fisher is the weighted mean Gram
    _, _, F = fused(X, np.zeros(n), np.zeros(dp), "gaussian", "true", n_threads=n_threads,
                    fit_intercept=fit_intercept, sample_weight=sw)
    np.testing.assert_array_equal(rows.gram(), F)
    Xt = np.hstack([X, np.ones((n, 1))]) if fit_intercept else X
    s = np.ones(n) if sw is None else sw
    np.testing.assert_allclose(rows.gram(), (Xt * s[:, None]).T @ Xt / s.sum(), rtol=1e-12)


def test_every_read_of_X_counts_one_pass_and_X_is_never_copied():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = (rng.random(50) < 0.5).astype(float)
    rows = ArrayRows(X, y, fit_intercept=True, n_threads=1)
    assert rows.X is X and rows.n_passes == 0
    grad = np.empty(4)
    rows.fused_pass("logistic", np.zeros(4), 1, "none", grad_out=grad)
    rows.fisher_vector_product("logistic", np.zeros(4), np.ones(4), 1, np.empty(4))
    rows.curvature_weights("logistic", np.zeros(4), "true")
    rows.gram()
    rows.matmul(np.ones(3))
    rows.rmatmul(np.ones(50))
    rows.row_gram()
    rows.row_gram()  # computed once
    assert rows.n_passes == 7


def test_a_fit_reports_its_passes_over_the_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (rng.random(300) < 1 / (1 + np.exp(-X @ [1.0, -1.0, 0.5]))).astype(float)
    res = ngdx.fit(X, y, tol=1e-10)
    # a Newton-type fit reads X once per iterate: its trial pass with the curvature
    assert res.n_passes == res.history["passes"].sum() == res.n_iter + 1
    gd = ngdx.fit(X, y, method="gd", max_iter=3, tol=0)
    # gradient descent: 30 Fisher-vector products for its safe step, then per step a
    # trial pass and the KL's Fisher-vector product
    assert gd.history["passes"][0] == 1 + 30
    assert (gd.history["passes"][1:] == 2).all()

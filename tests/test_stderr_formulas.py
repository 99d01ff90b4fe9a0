"""Standard errors by independent formulas: the inverse of a finite-difference Hessian of the
summed NLL for every model, expected == observed on canonical links, sigma^2 (X^T X)^-1,
frequency weights as repeated rows, sparse and float32 X, and the passes they cost."""

from __future__ import annotations

import numpy as np
import pytest

import ngdx
from ngdx import _reference as ref

from conftest import ALL_MODELS, make_problem

CANONICAL = ("logistic", "poisson", "gaussian", "multinomial")
KINDS = ("expected", "observed", "robust", "HC1", "cluster")


def problem(model, n=120, d=3, seed=0, sample_weight=False):
    X, y, _ = make_problem(model, n=n, d=d, seed=seed)
    sw = np.random.default_rng(seed + 1).integers(1, 4, size=n).astype(float) \
        if sample_weight else None
    return X, y, sw


def fitted(X, y, model, sw=None, **kw):
    kw.setdefault("tol", 1e-11)
    kw.setdefault("max_iter", 200)
    return ngdx.fit(X, y, model, sample_weight=sw, **kw)


def theta_of(res):
    return np.vstack([np.reshape(res.coef, (res.coef.shape[0], -1)),
                      np.reshape(res.intercept, (1, -1))]).ravel()


def summed_gradient(X, y, theta, model, sw, l2):
    """Gradient of sum_i s_i l_i + W l2/2 |coef|^2 (the reference, X with a ones column)."""
    Xa = np.hstack([X, np.ones((len(X), 1))])
    s = np.ones(len(X)) if sw is None else sw
    g = ref.grad(Xa, y, theta, model, sample_weight=s) * s.sum()
    mask = np.ones_like(theta).reshape(Xa.shape[1], -1)
    mask[-1] = 0.0
    return g + s.sum() * l2 * mask.ravel() * theta


def fd_hessian(X, y, theta, model, sw, l2, h=1e-5):
    p = theta.size
    H = np.empty((p, p))
    for j in range(p):
        e = np.zeros(p)
        e[j] = h
        H[:, j] = (summed_gradient(X, y, theta + e, model, sw, l2)
                   - summed_gradient(X, y, theta - e, model, sw, l2)) / (2 * h)
    return 0.5 * (H + H.T)


def dispersion(X, y, res, sw):
    if res.model != "gaussian":
        return 1.0
    r = y - res.decision_function(X)
    s = np.ones(len(y)) if sw is None else sw
    return float(s @ r**2) / (s.sum() - X.shape[1] - 1)


@pytest.mark.parametrize("model", ALL_MODELS)
@pytest.mark.parametrize("l2, weighted", [(0.0, False), (0.05, True)])
def test_observed_is_the_inverse_finite_difference_hessian(model, l2, weighted):
    X, y, sw = problem(model, sample_weight=weighted)
    res = fitted(X, y, model, sw, l2=l2)
    H = fd_hessian(X, y, theta_of(res), model, sw, l2)
    if model == "multinomial":  # singular along the common shifts: the pseudo-inverse
        expected = np.linalg.pinv(H, rcond=1e-7, hermitian=True)
    else:
        expected = np.linalg.inv(H)
    expected *= dispersion(X, y, res, sw)
    np.testing.assert_allclose(res.covariance("observed"), expected, rtol=1e-5,
                               atol=1e-7 * np.abs(expected).max())


@pytest.mark.parametrize("model", CANONICAL)
def test_expected_equals_observed_on_canonical_links(model):
    X, y, sw = problem(model, sample_weight=True)
    res = fitted(X, y, model, sw)
    assert res._kept is None or res._kept[0] == "true"
    res._kept = None  # both from a pass: the core's two curvatures agree
    np.testing.assert_allclose(res.covariance("expected"), res.covariance("observed"),
                               rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("weighted", [False, True])
def test_gaussian_is_sigma2_inverse_gram(weighted):
    X, y, sw = problem("gaussian", sample_weight=weighted)
    res = fitted(X, y, "gaussian", sw)
    Xa = np.hstack([X, np.ones((len(X), 1))])
    s = np.ones(len(y)) if sw is None else sw
    beta = np.linalg.solve(Xa.T @ (s[:, None] * Xa), Xa.T @ (s * y))
    sigma2 = float(s @ (y - Xa @ beta) ** 2) / (s.sum() - Xa.shape[1])
    expected = sigma2 * np.linalg.inv(Xa.T @ (s[:, None] * Xa))
    np.testing.assert_allclose(res.covariance(), expected, rtol=1e-9)


def test_gaussian_dispersion_of_a_near_exact_fit():
    # Residuals of 1e-9: the dispersion must come from the residuals, not from the NLL
    # (whose constant log(2 pi) / 2 would swamp a mean square of 1e-18). The residuals
    # of the fit's own theta (the optimum's last digits move them by about 1%).
    X, _, _ = problem("gaussian")
    r = np.random.default_rng(3).normal(size=len(X)) * 1e-9
    y = X @ [1.0, 2.0, -1.0] + 0.5 + r
    res = fitted(X, y, "gaussian", tol=0.0, max_iter=3, reuse_curvature=False)
    Xa = np.hstack([X, np.ones((len(X), 1))])
    e = y - Xa @ theta_of(res)
    expected = float(e @ e) / (len(y) - 4) * np.linalg.inv(Xa.T @ Xa)
    np.testing.assert_allclose(res.covariance(), expected, rtol=1e-6)


def test_compiled_empirical_fisher_weighs_rows_by_s():
    # The robust meat is sum_i s_i g_i g_i^T: the core's "empirical" curvature must weigh
    # each row by s_i (not s_i^2), as the reference does; checked against the reference
    # and against the repeated rows.
    X, y, sw = problem("logistic", sample_weight=True)
    theta = np.array([0.3, -0.2, 0.1])
    from ngdx._data import ArrayRows
    from ngdx._models import GLMObjective, get_family
    obj = GLMObjective(ArrayRows(X, y, sample_weight=sw), get_family("logistic"), 1, l2=0.0)
    F = obj.evaluate(theta, "empirical").stats
    np.testing.assert_allclose(F, ref.curvature(X, y, theta, "logistic", "empirical",
                                                sample_weight=sw), rtol=1e-12)
    rep = np.repeat(np.arange(len(y)), sw.astype(int))
    G = ref.scores(X[rep], y[rep], theta, "logistic")
    np.testing.assert_allclose(F, G.T @ G / len(rep), rtol=1e-12)


@pytest.mark.parametrize("model", ALL_MODELS)
@pytest.mark.parametrize("kind", KINDS)
def test_weight_two_is_the_row_twice(model, kind):
    X, y, _ = problem(model, n=60)
    sw = np.ones(len(y))
    sw[::3] = 2.0
    groups = np.arange(len(y)) % 4
    rep = np.repeat(np.arange(len(y)), sw.astype(int))
    g = {"groups": groups} if kind == "cluster" else {}
    g_rep = {"groups": groups[rep]} if kind == "cluster" else {}
    weighted = fitted(X, y, model, sw).covariance(kind, **g)
    repeated = fitted(X[rep], y[rep], model).covariance(kind, **g_rep)
    np.testing.assert_allclose(weighted, repeated, rtol=1e-7, atol=1e-12)


def sparse_and_float32(X):
    sparse = pytest.importorskip("scipy.sparse")
    Xs = X.copy()
    Xs[np.abs(Xs) < 0.5] = 0.0
    return Xs, sparse.csr_matrix(Xs)


@pytest.mark.parametrize("model", ALL_MODELS)
@pytest.mark.parametrize("kind", KINDS)
def test_sparse_and_float32_x_give_the_dense_covariance(model, kind):
    X, y, sw = problem(model, sample_weight=True)
    Xd, Xs = sparse_and_float32(X)
    g = {"groups": np.arange(len(y)) % 6} if kind == "cluster" else {}
    dense = fitted(Xd, y, model, sw).covariance(kind, **g)
    np.testing.assert_allclose(fitted(Xs, y, model, sw).covariance(kind, **g), dense,
                               rtol=1e-8, atol=1e-12 * np.abs(dense).max())
    X32 = X.astype(np.float32)
    dense32 = fitted(X32.astype(np.float64), y, model, sw).covariance(kind, **g)
    np.testing.assert_allclose(fitted(X32, y, model, sw).covariance(kind, **g), dense32,
                               rtol=1e-8, atol=1e-12 * np.abs(dense32).max())


def test_cluster_scores_block_by_block(monkeypatch):
    # Blocks of 7 rows (the default holds all 120): the same group sums.
    from ngdx._data import base
    X, y, sw = problem("multinomial", sample_weight=True)
    groups = np.random.default_rng(0).integers(0, 9, size=len(y))
    res = fitted(X, y, "multinomial", sw)
    whole = res.covariance("cluster", groups=groups)
    monkeypatch.setattr(base, "SCORE_BLOCK_BYTES", 8 * (res.coef.size + 3) * 7)
    np.testing.assert_allclose(res.covariance("cluster", groups=groups), whole, rtol=1e-12)


# ---------------------------------------------------------------------- passes over X
def passes(res, f):
    rows = res._objective.rows
    before = rows.n_passes
    out = f()
    return rows.n_passes - before, out


@pytest.mark.parametrize("model", ["logistic", "probit"])
def test_a_kept_curvature_costs_no_pass(model):
    # tol=0: every trial point carries its curvature, so the solver ends holding the dense
    # Fisher at the final theta; covariance reuses it.
    X, y, _ = problem(model)
    res = ngdx.fit(X, y, model, tol=0.0, max_iter=15, reuse_curvature=False)
    assert res._kept is not None and res._kept[0] == "true"
    n, cov = passes(res, res.covariance)
    assert n == 0
    n_obs, _ = passes(res, lambda: res.covariance("observed"))
    assert n_obs == (0 if model == "logistic" else 1)  # a canonical link's Hessian is F
    n_rob, _ = passes(res, lambda: res.covariance("robust"))
    assert n_rob == (1 if model == "logistic" else 2)
    kept, res._kept = res._kept, None
    n_fresh, fresh = passes(res, res.covariance)
    assert n_fresh == 1
    np.testing.assert_allclose(cov, fresh, rtol=1e-10)
    res._kept = kept


@pytest.mark.parametrize("kind, expected_passes", [
    ("expected", 1), ("observed", 1), ("robust", 2), ("HC1", 2), ("cluster", 2)])
def test_passes_without_a_kept_curvature(kind, expected_passes):
    X, y, _ = problem("probit")
    res = fitted(X, y, "probit", linear_solver="cg")  # matrix-free: nothing to keep
    assert res._kept is None
    g = {"groups": np.arange(len(y)) % 3} if kind == "cluster" else {}
    assert passes(res, lambda: res.covariance(kind, **g))[0] == expected_passes

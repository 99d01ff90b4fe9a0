"""A Poisson fit without a finite optimum (zero counts a direction separates) says so
instead of "converging" on the way to infinity (issue 10's last long fuzz run)."""

import warnings

import numpy as np
import pytest

import ngdx
from ngdx._data import ArrayRows
from ngdx._models.existence import zero_count_separation
from ngdx._models.families import get_family
from ngdx._models.glm import GLMObjective

# Rows 0-3 (y = 0) have no feature: theta = (x2: 1, x5: 2, intercept: -1) leaves rows 4 and
# 5 unchanged and lowers the four others' linear predictor, without bound.
X_SEP = np.array([[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0],
                  [0, 0, 0, 0, 0, 0], [0, 0, 1., 0, 0, 0], [0, 0, -1., 0, 0, 1.]])
Y_SEP = np.array([0., 0, 0, 0, 3, 1])


def fit_quietly(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ngdx.ConvergenceWarning)
        return ngdx.fit(*args, **kwargs)


@pytest.mark.parametrize("scale", [1.0, 1e-9, 1e9])
def test_separated_zero_counts_are_not_convergence(scale):
    # Before: converged=True at X (gradient below tol at coef ~ 50), max_iter at X * 1e-9.
    with pytest.warns(ngdx.ConvergenceWarning, match="no finite optimum: 4 rows"):
        res = ngdx.fit(X_SEP * scale, Y_SEP, "poisson")
    assert not res.converged
    assert "rows 0, 1, 2, 3" in res.message and "l2 > 0" in res.message


def test_penalty_gives_the_finite_optimum():
    res = ngdx.fit(X_SEP, Y_SEP, "poisson", l2=1e-2)
    assert res.converged, res.message


def test_one_hot_level_with_only_zero_counts():
    rng = np.random.default_rng(0)
    level = rng.integers(0, 4, size=400)
    X = np.c_[np.eye(4)[level][:, 1:], rng.normal(size=400)]
    y = rng.poisson(np.exp(0.3 * X[:, -1]))
    y[level == 2] = 0  # level 2 never has a count
    res = fit_quietly(X, y, "poisson", max_iter=200)
    assert not res.converged and res.message.startswith("no finite optimum")
    assert f"{(level == 2).sum()} rows with y = 0" in res.message
    # the same rows from the check itself, and from the sparse path
    import scipy.sparse as sp
    res_sparse = fit_quietly(sp.csr_matrix(X), y, "poisson", max_iter=200)
    assert res_sparse.message == res.message
    mask = check(X, y, np.r_[res.coef, res.intercept])
    np.testing.assert_array_equal(mask, level == 2)


def test_tiny_means_with_a_finite_optimum_converge():
    # Rows far out on x have mean ~ e^-25 and y = 0 (the symptom), but the rows with y > 0
    # fix both parameters: the optimum is finite and the fit converges to it.
    x = np.arange(31.0)
    y = np.zeros(31)
    y[:6] = [150, 55, 20, 7, 3, 1]
    res = ngdx.fit(x[:, None], y, "poisson")
    assert res.converged, res.message
    assert res.predict(x[-1:, None])[0] < 1e-8 * y.mean()  # the check did run
    # the optimum: the score equations hold
    mu = res.predict(x[:, None])
    np.testing.assert_allclose([(y - mu).sum(), (x * (y - mu)).sum()], 0, atol=1e-6 * y.sum())


def test_zero_weight_rows_are_not_part_of_the_problem():
    sw = np.ones(6)
    X = X_SEP[[0, 4, 5, 4, 5]]
    y = Y_SEP[[0, 4, 5, 4, 5]] + np.array([0, 1, 1, 0, 0])  # rows 3, 4: other counts
    sw = np.array([0.0, 1, 1, 1, 1])  # the only separable zero count weighs nothing
    res = ngdx.fit(X, y, "poisson", sample_weight=sw)
    assert res.converged, res.message


def test_all_counts_zero():
    X = np.random.default_rng(1).normal(size=(20, 2))
    res = fit_quietly(X, np.zeros(20), "poisson", max_iter=50)
    assert not res.converged and "no finite optimum: 20 rows" in res.message


def check(X, y, theta, sample_weight=None):
    rows = ArrayRows(np.ascontiguousarray(X, dtype=float), np.asarray(y, dtype=float),
                     sample_weight=sample_weight, fit_intercept=True)
    objective = GLMObjective(rows, get_family("poisson"), 1, l2=0.0)
    return zero_count_separation(objective, theta)


def lp_certificate(X, y):
    """The rows with y = 0 some direction v sends to mean 0 (X~_+ v = 0, X~_0 v <= 0): for
    each, whether min x~_j^T v over those v (bounded below by -1) is negative, by linear
    programming (scipy's HiGHS), independent of the check."""
    from scipy.optimize import linprog
    Xt = np.c_[X, np.ones(len(X))]
    pos, zero = Xt[y > 0], Xt[y == 0]
    mask = np.zeros(len(y), dtype=bool)
    for j, i in enumerate(np.flatnonzero(y == 0)):
        res = linprog(zero[j], A_ub=np.r_[zero, -zero[j:j + 1]],
                      b_ub=np.r_[np.zeros(len(zero)), 1.0], A_eq=pos, b_eq=np.zeros(len(pos)),
                      bounds=[(None, None)] * Xt.shape[1], method="highs")
        assert res.status == 0
        mask[i] = res.fun < -1e-7
    return mask


@pytest.mark.parametrize("seed", range(40))
def test_check_agrees_with_linear_programming(seed):
    pytest.importorskip("scipy")
    rng = np.random.default_rng(seed)
    n, d = rng.integers(4, 12), rng.integers(1, 6)
    X = rng.integers(-1, 2, size=(n, d)).astype(float) * rng.choice([1, 0.5, 3], size=d)
    y = rng.integers(0, 3, size=n).astype(float) * (rng.random(n) < 0.6)
    if not (y > 0).any():
        y[0] = 1.0
    # a theta with the symptom on every zero row, so the check always runs
    theta = np.r_[np.zeros(d), np.log(y.mean()) - 30.0]
    want = lp_certificate(X, y)
    got = check(X, y, theta)
    if not want.any():
        assert got is None
    else:
        assert got is not None
        np.testing.assert_array_equal(got, want)  # the largest set of separated rows


def test_extreme_weights_do_not_break_the_check():
    # Found by a fuzz run: weights 1 and 1e308 overflowed the check's Grams ("eigenvalues
    # did not converge"). The check weighs every row of positive weight alike.
    X = np.zeros((8, 2))
    X[6, 0] = 2.0
    y = np.zeros(8)
    y[6] = 2.0
    for big in (1e308, 1.0):
        s = np.zeros(8)
        s[0], s[6] = 1.0, big
        theta = np.array([(np.log(2.0) + 30.0) / 2, 0.0, -30.0])  # row 0's mean e^-30
        mask = check(X, y, theta, sample_weight=s)
        np.testing.assert_array_equal(np.flatnonzero(mask), [0])  # x0 -> +, intercept -> -
        res = fit_quietly(X, y, "poisson", sample_weight=s)
        assert np.isfinite(res.coef).all()


def test_unconverged_fits_are_checked_without_the_symptom():
    # Found by a fuzz run: a zero-weight row (x = -1) stops coef at -709.78, where its mean
    # would overflow, long before row 0's mean is small enough to be the symptom; the fit
    # ran to max_iter and said "increase max_iter". Row 0 (y = 0, x > 0) is separated.
    X = np.array([[0.015625], [-1.0], [0.0], [0.0]])
    y = np.array([0.0, 0.0, 0.0, 1.0])
    sw = np.array([1.0, 0.0, 0.0, 1.0])
    with pytest.warns(ngdx.ConvergenceWarning, match=r"no finite optimum: 1 row with y = 0 \(row 0\)"):
        res = ngdx.fit(X, y, "poisson", sample_weight=sw)
    assert not res.converged


def test_tiny_weights_do_not_break_the_symptom():
    # weights 5e-324 on the only rows: the mean count underflowed and its log raised
    # "math domain error" (a fuzz run)
    X = np.array([[1.0], [2.0], [0.5]])
    res = fit_quietly(X, np.array([0.25, 0.0, 0.25]), "poisson",
                      sample_weight=np.array([5e-324, 1.0, 5e-324]))
    assert np.isfinite(res.coef).all()


def test_huge_counts_do_not_overflow_the_schedule():
    # A fuzz run: y = 1e300 gave |grad| ~ 1e295, and the curvature schedule's guess at the
    # last step squared it (a Python OverflowError). Row 7 (y = 0, x2 = 1) is separated.
    X = np.zeros((8, 3))
    X[7, 2] = 1.0
    y = np.zeros(8)
    y[0] = 1e300
    with pytest.warns(ngdx.ConvergenceWarning, match=r"no finite optimum: 1 row with y = 0 \(row 7\)"):
        res = ngdx.fit(X, y, "poisson")
    assert np.isfinite(res.coef).all() and np.isfinite(res.intercept)

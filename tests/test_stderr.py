"""Standard errors against statsmodels on the data sets it ships (Spector, Scotland, RAND HIE,
ANES96): GLM's nonrobust, HC0 and cluster covariances with and without frequency weights,
OLS's HC1, Probit's observed information and MNLogit's reference-category covariance.

ngdx is fitted to a tight tol so that its optimum equals statsmodels' (the coefficients are
compared first); standard errors must then agree to 1e-6 relative."""

from __future__ import annotations

import numpy as np
import pytest

import ngdx

sm = pytest.importorskip("statsmodels.api")

RTOL = 1e-6


def spector():
    d = sm.datasets.spector.load_pandas()
    return np.ascontiguousarray(d.exog.to_numpy(float)), d.endog.to_numpy(float)


def scotland():
    d = sm.datasets.scotland.load_pandas()
    return np.ascontiguousarray(d.exog.to_numpy(float)), d.endog.to_numpy(float)


def randhie(n=2000):
    d = sm.datasets.randhie.load_pandas()
    return np.ascontiguousarray(d.exog.to_numpy(float)[:n]), d.endog.to_numpy(float)[:n]


#: (data, ngdx model, statsmodels family)
CASES = {
    "spector-logit": (spector, "logistic", lambda: sm.families.Binomial()),
    "spector-probit": (spector, "probit",
                       lambda: sm.families.Binomial(sm.families.links.Probit())),
    "scotland-gaussian": (scotland, "gaussian", lambda: sm.families.Gaussian()),
    "randhie-poisson": (randhie, "poisson", lambda: sm.families.Poisson()),
}


def with_constant(X):
    return sm.add_constant(X, prepend=False)  # ngdx's theta order: coef rows, then intercept


def frequency_weights(n, seed=0):
    return np.random.default_rng(seed).integers(1, 4, size=n).astype(float)


def ngdx_fit(X, y, model, sample_weight=None):
    return ngdx.fit(X, y, model, tol=1e-11, max_iter=200, sample_weight=sample_weight)


def sm_fit(X, y, family, sample_weight=None, **kw):
    return sm.GLM(y, with_constant(X), family=family, freq_weights=sample_weight).fit(
        tol=1e-14, **kw)


def check_optimum(res, glm):
    np.testing.assert_allclose(np.r_[res.coef, res.intercept], glm.params, rtol=1e-8,
                               atol=1e-10)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kind, cov_type", [("expected", "nonrobust"), ("robust", "HC0")])
def test_glm_covariance_equals_statsmodels(case, weighted, kind, cov_type):
    data, model, family = CASES[case]
    X, y = data()
    sw = frequency_weights(len(y)) if weighted else None
    res = ngdx_fit(X, y, model, sw)
    glm = sm_fit(X, y, family(), sw, cov_type=cov_type)
    check_optimum(res, glm)
    np.testing.assert_allclose(res.covariance(kind), glm.cov_params(), rtol=RTOL,
                               atol=1e-12 * np.abs(glm.cov_params()).max())
    np.testing.assert_allclose(res.std_errors(kind), glm.bse, rtol=RTOL)


@pytest.mark.parametrize("case", CASES)
def test_cluster_equals_statsmodels(case):
    data, model, family = CASES[case]
    X, y = data()
    groups = np.arange(len(y)) % 7  # made up: 7 clusters
    res = ngdx_fit(X, y, model)
    glm = sm_fit(X, y, family(), cov_type="cluster", cov_kwds={"groups": groups})
    check_optimum(res, glm)
    np.testing.assert_allclose(res.std_errors("cluster", groups=groups), glm.bse, rtol=RTOL)
    # Labels of any type name the same clusters.
    np.testing.assert_allclose(res.std_errors("cluster", groups=[f"g{g}" for g in groups]),
                               glm.bse, rtol=RTOL)


@pytest.mark.parametrize("case", CASES)
def test_weighted_cluster_equals_the_repeated_rows(case):
    # Frequency weights: the cluster covariance of the data with row i repeated s_i times
    # (statsmodels on the expanded data). statsmodels' freq_weights count rows, not
    # repetitions, in the small-sample factor (W - 1) / (W - p): the ratio is exactly that.
    data, model, family = CASES[case]
    X, y = data()
    sw = frequency_weights(len(y), seed=1)
    groups = np.arange(len(y)) % 5
    res = ngdx_fit(X, y, model, sw)
    se = res.std_errors("cluster", groups=groups)
    rep = np.repeat(np.arange(len(y)), sw.astype(int))
    expanded = sm_fit(X[rep], y[rep], family(), cov_type="cluster",
                      cov_kwds={"groups": groups[rep]})
    np.testing.assert_allclose(se, expanded.bse, rtol=RTOL)
    from statsmodels.tools.sm_exceptions import SpecificationWarning
    with pytest.warns(SpecificationWarning, match="not fully supported with freq_weights"):
        freq = sm_fit(X, y, family(), sw, cov_type="cluster", cov_kwds={"groups": groups})
    n, W, p = len(y), sw.sum(), X.shape[1] + 1
    factor = ((W - 1) / (W - p)) / ((n - 1) / (n - p))
    np.testing.assert_allclose(se**2, freq.bse**2 * factor, rtol=RTOL)


@pytest.mark.parametrize("case", CASES)
def test_hc1_is_hc0_times_n_over_n_minus_p(case):
    data, model, _ = CASES[case]
    X, y = data()
    sw = frequency_weights(len(y))
    res = ngdx_fit(X, y, model, sw)
    W, p = sw.sum(), X.shape[1] + 1
    np.testing.assert_allclose(res.covariance("HC1"), res.covariance("robust") * W / (W - p),
                               rtol=1e-13)


def test_gaussian_hc1_equals_statsmodels_ols():
    X, y = scotland()
    res = ngdx_fit(X, y, "gaussian")
    ols = sm.OLS(y, with_constant(X)).fit(cov_type="HC1")
    np.testing.assert_allclose(res.std_errors("HC1"), ols.bse, rtol=RTOL)
    np.testing.assert_allclose(res.std_errors(), sm.OLS(y, with_constant(X)).fit().bse,
                               rtol=RTOL)


def test_probit_expected_is_glm_and_observed_is_probit():
    X, y = spector()
    res = ngdx_fit(X, y, "probit")
    glm = sm_fit(X, y, CASES["spector-probit"][2]())
    probit = sm.Probit(y, with_constant(X)).fit(disp=0, tol=1e-14, maxiter=100,
                                                method="newton")
    check_optimum(res, glm)
    np.testing.assert_allclose(res.std_errors("expected"), glm.bse, rtol=RTOL)
    np.testing.assert_allclose(res.std_errors("observed"), probit.bse, rtol=RTOL)
    # ... and the two differ (a non-canonical link), by far more than the tolerance.
    assert np.abs(res.std_errors("observed") / res.std_errors("expected") - 1).max() > 1e-3


def test_multinomial_contrasts_equal_mnlogit():
    # MNLogit's parameters are theta_k - theta_0 (class 0 the reference): D theta with the
    # contrast matrix D, whose covariance is D Cov D^T from the centred covariance.
    d = sm.datasets.anes96.load_pandas()
    X = np.ascontiguousarray(d.exog[["logpopul", "age", "educ", "income"]].to_numpy(float))
    y = d.endog.to_numpy(float)
    res = ngdx.fit(X, y, "multinomial", tol=1e-11, max_iter=300)
    mn = sm.MNLogit(y, with_constant(X)).fit(disp=0, method="newton", tol=1e-14, maxiter=100)
    T = np.vstack([res.coef, res.intercept])
    rows, K = T.shape
    np.testing.assert_allclose(T[:, 1:] - T[:, :1], mn.params, rtol=1e-7, atol=1e-9)
    D = np.zeros((rows * (K - 1), rows * K))  # MNLogit's order: equation-major
    for k in range(1, K):
        for j in range(rows):
            D[(k - 1) * rows + j, j * K + k] = 1.0
            D[(k - 1) * rows + j, j * K] = -1.0
    cov = res.covariance()
    np.testing.assert_allclose(D @ cov @ D.T, mn.cov_params(), rtol=RTOL,
                               atol=1e-12 * np.abs(np.asarray(mn.cov_params())).max())
    # The centred parametrization: each row of theta sums to zero, so does its covariance.
    C = cov.reshape(rows, K, rows, K)
    np.testing.assert_allclose(C.sum(axis=1), 0.0, atol=1e-12 * np.abs(cov).max())

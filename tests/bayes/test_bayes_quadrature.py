"""The compiled quadrature pass against its NumPy twin and against scipy.integrate.quad,
and the fit's q against the stationarity conditions of Gaussian variational inference,
checked by an independent rule."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

import ngdx
from ngdx import _reference as ref
from ngdx.bayes import _reference as bref
from ngdx.bayes._quadrature import expectations, gauss_hermite

from bayes_problems import ONE_OUTPUT, make_data, stationarity


def rows(model, n, seed=0):
    rng = np.random.default_rng(seed)
    mean = rng.normal(scale=2.0, size=n)
    var = rng.random(n) * 3.0
    var[0] = 0.0  # a point mass: the terms at the mean
    if model in ("logistic", "probit"):
        y = (rng.random(n) < 0.5).astype(float)
    elif model == "poisson":
        y = rng.poisson(2.0, size=n).astype(float)
    else:
        y = rng.normal(size=n)
    return mean, var, y


@pytest.mark.parametrize("model", ONE_OUTPUT)
@pytest.mark.parametrize("n_quadrature", [1, 7, 32])
def test_core_matches_numpy_reference(model, n_quadrature):
    mean, var, y = rows(model, 1000)
    got = expectations(model, mean, var, y, n_quadrature, 2)
    want = bref.expectations(model, mean, var, y, *gauss_hermite(n_quadrature))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("model", ONE_OUTPUT)
def test_core_is_deterministic_for_a_thread_count(model):
    mean, var, y = rows(model, 3000)
    one = expectations(model, mean, var, y, 20, 1)
    two = expectations(model, mean, var, y, 20, 2)
    for a, b in zip(one, two):  # rows are independent: identical bits for any count
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("model", ONE_OUTPUT)
@pytest.mark.parametrize("n_quadrature, rel", [(32, 1e-6), (100, 1e-10)])
def test_gauss_hermite_matches_adaptive_quadrature(model, n_quadrature, rel):
    # sd up to 1.7 and |mean| up to ~4: the rule converges geometrically, at a rate set by
    # the poles of the logistic (and probit's) terms in the complex plane
    mean, var, y = rows(model, 12, seed=3)
    got = expectations(model, mean, var, y, n_quadrature, 1)
    for i in range(1, 12):
        sd = np.sqrt(var[i])

        def expect(f):
            def integrand(z):
                eta = np.array([[mean[i] + sd * z]])
                return f(eta) * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
            return integrate.quad(integrand, -12, 12, epsabs=1e-13, epsrel=1e-12)[0]

        yi = y[i:i + 1]
        want = (expect(lambda e: ref.row_loss(model, e, yi)[0]),
                expect(lambda e: ref.row_dloss(model, e, yi)[0, 0]),
                expect(lambda e: ref.row_hessian(model, e, yi)[0, 0, 0]))
        for g, w in zip(got, want):
            assert g[i] == pytest.approx(w, rel=rel, abs=1e-12), (model, i)


def test_rule_is_exact_for_polynomials():
    nodes, weights = gauss_hermite(5)
    assert weights.sum() == pytest.approx(1.0, abs=1e-15)
    # E[z^2k] = (2k - 1)!! for N(0, 1), exact below degree 2 n = 10
    for k, moment in enumerate([1, 1, 3, 15, 105]):
        assert weights @ nodes ** (2 * k) == pytest.approx(moment, rel=1e-13)


@pytest.mark.parametrize("model", ["logistic", "probit", "poisson"])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_fit_is_a_stationary_point(model, fit_intercept):
    X, y = make_data(model, n=80, fit_intercept=fit_intercept)
    alpha = 0.5
    post = ngdx.bayes.fit(X, y, model, prior_precision=alpha, fit_intercept=fit_intercept)
    assert post.converged
    grad, neg_hess = stationarity(model, X, y, fit_intercept, alpha, post.mean,
                                  post.covariance)
    scale = np.sqrt(np.diag(neg_hess))
    # E_q[grad log p] = 0 in the units of the posterior's curvature, and S^-1 = E_q[-H]
    np.testing.assert_allclose(grad / scale, 0.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.inv(post.covariance), neg_hess,
                               rtol=1e-6, atol=1e-6 * scale.max() ** 2)


def test_laplace_is_not_stationary_for_vi():
    # The check above can fail: the Laplace approximation of a logistic posterior is not
    # the variational optimum (its E_q[grad] is away from 0).
    X, y = make_data("logistic", n=80)
    lap = ngdx.bayes.fit(X, y, "logistic", prior_precision=0.5, method="laplace")
    grad, neg_hess = stationarity("logistic", X, y, True, 0.5, lap.mean, lap.covariance)
    assert np.max(np.abs(grad / np.sqrt(np.diag(neg_hess)))) > 1e-3


def test_core_checks_shapes_and_model():
    from ngdx import _core

    mean, var, y = rows("logistic", 5)
    nodes, weights = gauss_hermite(4)
    out = [np.empty(5) for _ in range(3)]
    with pytest.raises(ValueError, match="one-output"):
        _core.bayes.quadrature_pass("multinomial", mean, var, y, nodes, weights, 1, *out)
    with pytest.raises(ValueError, match="var"):
        _core.bayes.quadrature_pass("logistic", mean, var[:4], y, nodes, weights, 1, *out)
    with pytest.raises(ValueError, match="weights"):
        _core.bayes.quadrature_pass("logistic", mean, var, y, nodes, weights[:3], 1, *out)


@pytest.mark.parametrize("n_quadrature", [12, 20, 32])
def test_logistic_short_rules_are_exact_to_rounding(n_quadrature):
    # Rows whose eta has sd <= 0.08 (<= 0.25) use the 8- (16-) point Gauss-Hermite rule
    # when n_quadrature is larger: against a 64-point rule in NumPy, the terms agree to
    # rounding, from certain rows (sd 0) to the thresholds and past them, at means up to
    # where exp(-|eta|) underflows (|eta| > 708: the vectorized exp must give 0 there).
    rng = np.random.default_rng(3)
    sd = np.concatenate([[0.0, 1e-9, 1e-3, 0.05, 0.08, 0.0801, 0.2, 0.25, 0.2501, 0.4],
                         rng.random(400) * 0.3])
    mean = np.concatenate([np.linspace(-800, 800, 41), rng.normal(scale=4.0, size=400)])
    S, M = np.meshgrid(sd, mean[:60])  # every sd at the extreme means, and random pairs
    sd, mean = np.concatenate([S.ravel(), sd]), np.concatenate([M.ravel(), mean[:sd.size]])
    y = (rng.random(mean.size) < 0.5).astype(float)
    got = expectations("logistic", mean, sd**2, y, n_quadrature, 2)
    want = bref.expectations("logistic", mean, sd**2, y, *gauss_hermite(64))
    names = ("loss", "d1", "d2")
    for name, g, w in zip(names, got, want):
        # relative, above the subnormals, in units of the rounding of eta = mean + sd z
        # (|mean| eps: exp(eta) ~ 1e-191 at mean -440 carries 5e-14 of it)
        bad = np.abs(g - w) / (np.abs(w) + 1e-290) / (16 + np.abs(mean))
        tight = sd <= 0.3  # 64 points are not exact either beyond sd ~ 0.3
        assert bad[tight].max() < 2e-16, (name, float(bad[tight].max()),
                                          float(sd[tight][bad[tight].argmax()]))
    assert (got[2][np.abs(mean) > 760] == 0).all()  # d2 = sigma(1 - sigma) underflows to 0


@pytest.mark.parametrize("model", ONE_OUTPUT)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_fused_pass_matches_numpy_reference(model, dtype, fit_intercept):
    from ngdx import _core

    X, y = make_data(model, n=700, d=4, seed=5, fit_intercept=fit_intercept)
    X = X.astype(dtype)
    p = 4 + fit_intercept
    rng = np.random.default_rng(6)
    m = rng.normal(scale=0.3, size=p)
    A = rng.normal(scale=0.2, size=(p, p))
    S = A @ A.T + 0.01 * np.eye(p)
    F = np.linalg.cholesky(S)
    nodes, weights = gauss_hermite(20)
    for s in (None, rng.random(700) * 2):
        for factor, cov in ((F, S), (None, np.zeros((p, p)))):
            want = bref.terms(model, X.astype(np.float64), y, s, fit_intercept, m, cov, nodes,
                              weights)
            got = {}
            for threads in (1, 2):
                grad, hess = np.empty(p), np.empty((p, p))
                loss = _core.bayes.fused_pass(model, X, y, s, fit_intercept, m, factor, nodes,
                                              weights, threads, grad, hess)
                assert loss == pytest.approx(want[0], rel=1e-12)
                np.testing.assert_allclose(grad, want[1], rtol=1e-10, atol=1e-10)
                np.testing.assert_allclose(hess, want[2], rtol=1e-12, atol=1e-12)
                again = np.empty(p), np.empty((p, p))
                assert _core.bayes.fused_pass(model, X, y, s, fit_intercept, m, factor, nodes,
                                              weights, threads, *again) == loss
                np.testing.assert_array_equal(again[1], hess)  # deterministic per count
                got[threads] = hess
            np.testing.assert_allclose(got[1], got[2], rtol=1e-13)


def test_fused_pass_checks_shapes_and_model():
    from ngdx import _core

    X, y = make_data("logistic", n=10, fit_intercept=False)
    nodes, weights = gauss_hermite(4)
    g, H = np.empty(3), np.empty((3, 3))
    with pytest.raises(ValueError, match="one-output"):
        _core.bayes.fused_pass("multinomial", X, y, None, False, np.zeros(3), None, nodes,
                               weights, 1, g, H)
    with pytest.raises(ValueError, match="factor"):
        _core.bayes.fused_pass("logistic", X, y, None, False, np.zeros(3), np.eye(4), nodes,
                               weights, 1, g, H)
    with pytest.raises(ValueError, match="mean"):
        _core.bayes.fused_pass("logistic", X, y, None, True, np.zeros(3), None, nodes,
                               weights, 1, np.empty(4), np.empty((4, 4)))

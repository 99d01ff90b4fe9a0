"""Numerical care at extreme linear predictors, checked against high-precision values."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import ngdx
from ngdx import _reference as ref
from ngdx._functional import fused

mpmath.mp.dps = 50
ETAS = np.array([-1000.0, -300.0, -38.5, -20.0, -8.0, -5.000001, -4.99999, -1.0, 0.0, 0.5,
                 5.0, 9.0, 20.0, 38.5, 300.0, 1000.0])


def one_row_per_eta(etas=ETAS):
    """X is a column of linear predictors and theta = [1], so eta_i = X_i."""
    return etas[:, None].copy(), np.array([1.0])


def exact_probit(eta, y):
    """-log p, d/deta and d2/deta2 of the probit NLL, in 50-digit arithmetic."""
    e = mpmath.mpf(eta) if y == 1 else -mpmath.mpf(eta)  # -log Phi(e)
    loss = -mpmath.log(mpmath.ncdf(e)) if e < 0 else -mpmath.log1p(-mpmath.ncdf(-e))
    lam = mpmath.npdf(e) / mpmath.ncdf(e)
    sign = -1 if y == 1 else 1
    return loss, sign * lam, lam * (e + lam)


def exact_logistic(eta, y):
    e = mpmath.mpf(eta) if y == 1 else -mpmath.mpf(eta)  # -log sigmoid(e)
    loss = mpmath.log1p(mpmath.exp(-e))
    sign = -1 if y == 1 else 1
    return loss, sign / (1 + mpmath.exp(e)), mpmath.exp(e) / (1 + mpmath.exp(e)) ** 2


@pytest.mark.parametrize("model,exact", [("probit", exact_probit),
                                         ("logistic", exact_logistic)])
@pytest.mark.parametrize("y", [0.0, 1.0])
def test_loss_derivatives_accurate_at_extreme_eta(model, exact, y):
    for eta in ETAS:
        X, theta = np.ones((1, 1)), np.array([eta])
        loss, grad, hess = fused(X, np.array([y]), theta, model, "hessian")
        want = [float(v) for v in exact(eta, y)]
        for got, ref in zip((loss, grad[0], hess[0, 0]), want):
            assert np.isfinite(got)
            assert abs(got - ref) <= 1e-13 * abs(ref) + 1e-300, (model, eta, y, got, ref)


def test_probit_fisher_weight_accurate_in_both_tails():
    for eta in ETAS:
        X, theta = np.ones((1, 1)), np.array([eta])
        e = mpmath.mpf(eta)
        want = float(mpmath.npdf(e) ** 2 / (mpmath.ncdf(e) * mpmath.ncdf(-e)))
        got = ngdx.fisher(X, None, theta, "probit")[0, 0]
        assert abs(got - want) <= 1e-13 * want + 1e-300, (eta, got, want)


@pytest.mark.parametrize("model", ["logistic", "probit"])
def test_everything_finite_for_eta_up_to_1e3(model):
    X, theta = one_row_per_eta()
    y = (np.arange(len(ETAS)) % 2).astype(float)
    for kind in ("true", "empirical", "hessian", "mc"):
        for diagonal in (False, True):
            out = fused(X, y, theta, model, kind, diagonal=diagonal, n_mc_samples=2, seed=1)
            assert all(np.isfinite(v).all() for v in out)
    assert np.isfinite(ngdx.scores(X, y, theta, model)).all()
    for shift in (-2000.0, 0.5, 2000.0):
        assert np.isfinite(ngdx.kl(X, theta, theta + shift, model))


def test_bernoulli_kl_accurate_for_tiny_steps():
    # KL = F delta^2 / 2 + O(delta^3): at delta = 1e-6 the relative gap is ~1e-6, so
    # this fails if the KL is computed with cancellation (error ~ 1e-16 / KL).
    X, theta = one_row_per_eta(np.array([-3.0, 0.0, 2.0]))
    for model in ("logistic", "probit", "poisson"):
        F = ngdx.fisher(X, None, theta, model)[0, 0]
        kl = ngdx.kl(X, theta, theta + 1e-6, model)
        assert abs(kl / (0.5e-12 * F) - 1) < 1e-5
    Xm = np.array([[1.0], [-0.5]])
    theta_m = np.array([[0.3, -0.2, 0.1]])
    v = np.array([[1.0, 0.5, -2.0]])
    F = ngdx.fisher(Xm, None, theta_m, "multinomial")
    kl = ngdx.kl(Xm, theta_m, theta_m + 1e-6 * v, "multinomial")
    assert abs(kl / (0.5e-12 * v.ravel() @ F @ v.ravel()) - 1) < 1e-5


def test_multinomial_extreme_logits_finite():
    X = np.array([[1.0], [-1.0]])
    theta = np.array([[1000.0, -1000.0, 0.0]])
    y = np.array([1.0, 0.0])  # the least likely classes: loss ~ 2000
    loss, grad, F = fused(X, y, theta.ravel(), "multinomial", "true")
    assert np.isclose(loss, 2000.0, rtol=1e-12)
    assert np.isfinite(grad).all() and np.isfinite(F).all()
    assert np.isfinite(ngdx.kl(X, theta, -theta, "multinomial"))


@pytest.mark.parametrize("sparse", [False, True])
def test_multinomial_kl_of_huge_equal_logits(sparse):
    # Found by the long fuzz run: logits 1e20 * (1, 1) under q, (0, 0) under p: the same
    # distribution, KL 0. From eta - lse (lse rounds to 1e20 = eta) every log-probability
    # was 0 under q, and the KL 1 - log 2 = 0.307.
    X = np.array([[1e20], [-3e19]])
    if sparse:
        import scipy.sparse as sp
        X = sp.csr_matrix(X)
    p, q = np.array([[0.0, 0.0]]), np.array([[1.0, 1.0]])
    assert ngdx.kl(X, p, q, "multinomial") == 0.0
    # unequal: q puts all mass on class 1 on row 0, on class 0 on row 1; p uniform:
    # KL = mean of log 2 - H(p) + ... = log 2 + mean(-log q_k) weighted by p ~ 2.5e19
    q2 = np.array([[0.0, 1.0]])
    want = np.mean([0.5 * 1e20 - np.log(2), 0.5 * 3e19 - np.log(2)])
    np.testing.assert_allclose(ngdx.kl(X, p, q2, "multinomial"), want, rtol=1e-12)


@pytest.mark.parametrize("x", [-100.0, -23.482699226549986, -10.0, -5.1, -1.0, -0.3, 0.0, 0.5,
                               3.0, 10.0])
def test_reference_probit_curvature_is_accurate_where_the_core_is(x):
    # The NumPy oracle's lambda (x + lambda) cancelled for x << 0 (2e-11 at x = -23.5),
    # which a hypothesis example on a fresh CI machine exposed as a false core mismatch.
    mpmath.mp.dps = 50
    e = mpmath.mpf(x)
    lam = mpmath.npdf(e) / mpmath.ncdf(e)
    exact = float(lam * (e + lam))
    assert abs(ref.probit_curvature(np.array([x]))[0] / exact - 1) < 2e-12

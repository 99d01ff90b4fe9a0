"""Shared data and independent checks of the Bayesian tests: small GLM problems, the
closed-form conjugate posterior, and E_q[grad] / E_q[Hessian] of the log joint by a
quadrature rule other than the fit's."""

from __future__ import annotations

import numpy as np

from ngdx import _reference as ref

ONE_OUTPUT = ("logistic", "probit", "poisson", "gaussian")


def make_data(model, n=60, d=3, seed=0, fit_intercept=True):
    """(X, y) with labels drawn from the model at a moderate theta."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    theta = np.array([0.8, -1.2, 0.5, 0.3, -0.4][:d])
    eta = X @ theta + (0.3 if fit_intercept else 0.0)
    if model == "logistic":
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    elif model == "probit":
        y = (rng.normal(size=n) < eta).astype(float)
    elif model == "poisson":
        y = rng.poisson(np.exp(0.5 * eta)).astype(float)
    else:
        y = eta + rng.normal(size=n)
    return X, y


def augment(X, fit_intercept):
    return np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X


def prior_diag(d, alpha, fit_intercept):
    return np.append(np.full(d, alpha), [0.0] * fit_intercept)


def conjugate(X, y, alpha, fit_intercept, s=None):
    """The exact posterior (mean, covariance) of Bayesian linear regression with unit
    noise variance, frequency weights s, prior N(0, 1/alpha) on coef, flat intercept."""
    Xt = augment(X, fit_intercept)
    s = np.ones(len(y)) if s is None else s
    precision = Xt.T @ (s[:, None] * Xt) + np.diag(prior_diag(X.shape[1], alpha, fit_intercept))
    cov = np.linalg.inv(precision)
    return cov @ (Xt.T @ (s * y)), cov


def log_evidence(X, y, alpha):
    """log N(y; 0, I + X X^T / alpha): the evidence of the conjugate model without an
    intercept."""
    C = np.eye(len(y)) + X @ X.T / alpha
    sign, logdet = np.linalg.slogdet(C)
    return -0.5 * (len(y) * np.log(2 * np.pi) + logdet + y @ np.linalg.solve(C, y))


def stationarity(model, X, y, fit_intercept, alpha, mean, cov, n_nodes=200):
    """(E_q[grad log p(theta, y)], E_q[-Hessian of log p(theta, y)]) under q = N(mean, cov)
    by the probabilists' Gauss-Hermite rule with n_nodes (numpy's hermegauss: not the
    fit's rule) and ngdx._reference's per-row formulas."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(n_nodes)
    weights = weights / weights.sum()
    Xt = augment(X, fit_intercept)
    mu = Xt @ mean
    sd = np.sqrt(np.einsum("ij,jk,ik->i", Xt, cov, Xt))
    eta = (mu[:, None] + sd[:, None] * nodes).reshape(-1, 1)
    yy = np.repeat(y, n_nodes)
    d1 = ref.row_dloss(model, eta, yy)[:, 0].reshape(len(y), -1) @ weights
    d2 = ref.row_hessian(model, eta, yy)[:, 0, 0].reshape(len(y), -1) @ weights
    P = prior_diag(X.shape[1], alpha, fit_intercept)
    grad = -(Xt.T @ d1) - P * mean
    neg_hess = Xt.T @ (d2[:, None] * Xt) + np.diag(P)
    return grad, neg_hess

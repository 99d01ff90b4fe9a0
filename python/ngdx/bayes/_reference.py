"""NumPy twins of ``ngdx.bayes``'s compiled pass, for the parity tests (needs SciPy, as
``ngdx._reference`` does): obviously right and slow (n x p and n x q arrays)."""

from __future__ import annotations

import numpy as np

from .. import _reference as ref


def expectations(model, mean, var, y, nodes, weights):
    """(E[loss], E[loss'], E[loss'']) per row for eta_i ~ N(mean_i, var_i), by the rule
    (nodes, weights) for N(0, 1), from ngdx._reference's per-row formulas."""
    eta = mean[:, None] + np.sqrt(var)[:, None] * nodes[None, :]  # (n, q)
    yy = np.repeat(y, len(nodes))
    flat = eta.reshape(-1, 1)
    shape = eta.shape
    loss = ref.row_loss(model, flat, yy).reshape(shape) @ weights
    d1 = ref.row_dloss(model, flat, yy)[:, 0].reshape(shape) @ weights
    d2 = ref.row_hessian(model, flat, yy)[:, 0, 0].reshape(shape) @ weights
    return loss, d1, d2


def terms(model, X, y, sample_weight, fit_intercept, m, S, nodes, weights):
    """(sum_i s_i E[loss_i], gradient (p,), Hessian (p, p)) of the expected summed
    negative log-likelihood under q = N(m, S), theta = (coef, intercept)."""
    Xt = np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else np.asarray(X)
    s = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    mean = Xt @ m
    var = np.einsum("ij,jk,ik->i", Xt, S, Xt)
    loss, d1, d2 = expectations(model, mean, var, y, nodes, weights)
    return s @ loss, Xt.T @ (s * d1), (Xt * (s * d2)[:, None]).T @ Xt

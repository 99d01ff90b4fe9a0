"""One-dimensional Gaussian expectations of the per-row GLM terms.

For a Gaussian q(theta) = N(m, S) the linear predictor of row i is Gaussian,
eta_i ~ N(x~_i^T m, x~_i^T S x~_i), so every expectation the Bayesian learning rule needs
is one-dimensional: E[loss(eta_i)], E[loss'(eta_i)] (Bonnet's theorem turns it into the
gradient of E_q[loss] in m) and E[loss''(eta_i)] (Price's theorem: the Hessian, i.e. the
gradient in S). They are computed by Gauss-Hermite quadrature, deterministically, in the
compiled core (``_core.bayes.quadrature_pass``, rows in parallel); its NumPy twin is
:func:`ngdx.bayes._reference.expectations`.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import _core


@functools.lru_cache(maxsize=16)
def gauss_hermite(n_quadrature: int) -> tuple[np.ndarray, np.ndarray]:
    """The n-point Gauss-Hermite rule for N(0, 1): (nodes, weights), weights summing to 1,
    so that E[f(z)] ~ sum_k weights[k] f(nodes[k]); exact for polynomials of degree
    below 2 n. Read-only arrays (cached)."""
    t, w = np.polynomial.hermite.hermgauss(n_quadrature)
    nodes, weights = np.sqrt(2.0) * t, w / np.sqrt(np.pi)
    nodes.flags.writeable = weights.flags.writeable = False
    return nodes, weights


def expectations(model: str, mean: np.ndarray, var: np.ndarray, y: np.ndarray,
                 n_quadrature: int, n_threads: int):
    """(E[loss], E[loss'], E[loss'']) per row, each (n,), for eta_i ~ N(mean_i, var_i);
    the derivatives are in eta, the loss is -log p(y_i | eta_i), the second derivative the
    observed one (it differs from the Fisher weight for probit only)."""
    nodes, weights = gauss_hermite(n_quadrature)
    n = mean.shape[0]
    loss, d1, d2 = np.empty(n), np.empty(n), np.empty(n)
    _core.bayes.quadrature_pass(model, mean, var, y, nodes, weights, n_threads, loss, d1, d2)
    return loss, d1, d2

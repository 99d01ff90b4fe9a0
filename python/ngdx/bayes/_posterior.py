"""The result of ``ngdx.bayes.fit``: a Gaussian posterior q(theta) = N(m, S)."""

from __future__ import annotations

import math

import numpy as np

from .._models.families import softmax
from .._validation import as_rows_design, check_positive_int, resolve_seed
from ._quadrature import gauss_hermite


def _sigmoid(x):
    """1 / (1 + e^-x) without overflow (NumPy only: SciPy is not a dependency)."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _ndtr(x):
    """Phi(x), the standard normal CDF, by math.erfc (no SciPy)."""
    return np.vectorize(lambda t: 0.5 * math.erfc(-t / math.sqrt(2.0)), otypes=[float])(x)


#: The model's mean as a function of eta.
MEANS = {"logistic": _sigmoid, "probit": _ndtr, "poisson": np.exp, "gaussian": lambda e: e,
         "multinomial": softmax}


class Posterior:
    """A Gaussian posterior (or its approximation) over theta = (coef, intercept).

    Attributes
    ----------
    mean_coef : ndarray (d,) or (d, K)
        The posterior mean of the coefficients ((d, K) for multinomial).
    mean_intercept : float or ndarray (K,)
        The posterior mean of the intercept (0.0, or zeros, when ``fit_intercept=False``).
    covariance : ndarray (p, p)
        S, in theta order: theta.ravel() of the (d + fit_intercept, K) matrix whose last row
        is the intercept (K = 1 but multinomial: the d coefficients, then the intercept).
        Multinomial with an intercept: the covariance of the centred parametrization (the
        intercepts' common shift, on which the likelihood does not depend, projected out:
        S is singular along it, and the mean's intercepts sum to 0).
    elbo : float
        ``method="vi"``: the evidence lower bound E_q[log p(y | theta)] + E_q[log p(theta)]
        + H[q] of the returned q (with the intercept's flat prior taken as density 1, so
        defined up to that improper prior's constant when there is an intercept).
        ``method="laplace"``: the Laplace approximation of the log evidence,
        log p(y | m) + log p(m) + p/2 log(2 pi) + 1/2 log det S (same convention).
    history : dict of lists
        Per iteration: ``"elbo"`` (of the q at that iteration), ``"kl"`` (KL(q_new || q)
        of the step taken from it, NaN when none was taken) and ``"prior_precision"``.
    prior_precision : float
        The prior precision alpha used (the empirical-Bayes one under ``"auto"``).
    method, n_iter, converged, message, n_passes
        The method; steps taken; whether the stopping rule was met; why the loop stopped;
        passes over X (the MAP start's not counted).
    """

    def __init__(self, *, model, mean, covariance, fit_intercept, prior_precision, elbo,
                 history, method, n_iter, converged, message, n_passes, n_quadrature,
                 n_classes=1, null=None):
        self.model = model
        self.fit_intercept = fit_intercept
        self.n_classes = K = n_classes
        if null is not None:  # the centred parametrization: project the flat shift out
            mean = mean - (null @ mean) * null
            proj = np.eye(mean.size) - np.outer(null, null)
            covariance = proj @ covariance @ proj
        self.mean = mean
        d = mean.size // K - fit_intercept
        theta = mean.reshape(d + fit_intercept, K)
        if K == 1:
            self.mean_coef = theta[:d, 0].copy()
            self.mean_intercept = float(theta[d, 0]) if fit_intercept else 0.0
        else:
            self.mean_coef = theta[:d].copy()
            self.mean_intercept = theta[d].copy() if fit_intercept else np.zeros(K)
        self.covariance = covariance
        self.prior_precision = prior_precision
        self.elbo = elbo
        self.history = history
        self.method = method
        self.n_iter, self.converged, self.message = n_iter, converged, message
        self.n_passes = n_passes
        self.n_quadrature = n_quadrature

    def __repr__(self) -> str:
        return (f"<ngdx.bayes.Posterior model={self.model!r} method={self.method!r} "
                f"p={self.mean.size} elbo={self.elbo:.6g} "
                f"prior_precision={self.prior_precision:.4g} converged={self.converged}>")

    def _factor(self) -> np.ndarray:
        """F with S = F F^T, from S's eigendecomposition (S may be singular: multinomial,
        whose null directions come out at rounding level, +-1e-17, and are zeros)."""
        vals, vecs = np.linalg.eigh(self.covariance)
        vals[vals <= 1e-12 * max(float(vals.max()), 0.0)] = 0.0
        return vecs * np.sqrt(vals)

    def sample(self, n, seed=None) -> np.ndarray:
        """n draws of theta from q, shape (n, p), in theta order (coef, then intercept)."""
        n = check_positive_int(n, "n")
        rng = np.random.default_rng(resolve_seed(seed))
        return self.mean + rng.standard_normal((n, self.mean.size)) @ self._factor().T

    def _design(self, X):
        X, sparse = as_rows_design(X)
        d = self.mean_coef.shape[0]
        if X.shape[1] != d:
            raise ValueError(f"X has {X.shape[1]} columns but the posterior has {d} "
                             "coefficients")
        return X if sparse else X.astype(np.float64, copy=False)

    def _eta_moments(self, Xf):
        """eta's mean (n,) and variance (n,) per row (one-output models)."""
        d = self.mean_coef.size
        mean = np.asarray(Xf @ self.mean_coef) + self.mean_intercept
        F = self._factor()
        Z = np.asarray(Xf @ F[:d])
        if self.fit_intercept:
            Z = Z + F[d]
        return mean, np.einsum("ij,ij->i", Z, Z)

    def _eta_at(self, Xf, draws):
        """eta at draws of theta: (n_draws, n) or (n_draws, n, K)."""
        K, d = self.n_classes, self.mean_coef.shape[0]
        theta = draws.reshape(len(draws), -1, K)
        eta = np.stack([np.asarray(Xf @ t[:d]) for t in theta])
        if self.fit_intercept:
            eta = eta + theta[:, d][:, None, :]
        return eta if K > 1 else eta[..., 0]

    def predict(self, X, kind="mean", *, n_samples=1000, seed=None) -> np.ndarray:
        """The posterior predictive mean of y at the rows of X.

        ``kind="mean"``: E_q[mean(eta)] with eta ~ N(x~^T m, x~^T S x~), per row (n,):
        logistic by Gauss-Hermite quadrature with ``n_quadrature`` nodes (more accurate
        than MacKay's probit approximation), probit in closed form
        Phi(mu / sqrt(1 + sigma^2)), poisson exp(mu + sigma^2 / 2), gaussian mu.
        Multinomial: the class probabilities (n, K), E_q[softmax(eta)] by Monte Carlo over
        8 ``n_quadrature`` draws of theta (seed 0).
        ``kind="samples"``: the model's mean at ``n_samples`` draws of theta from q
        (``seed``), shape (n_samples, n) (or (n_samples, n, K)): Monte Carlo draws of the
        predictive mean.
        """
        if kind not in ("mean", "samples"):
            raise ValueError(f"unknown kind {kind!r}; valid: mean, samples")
        Xf = self._design(X)
        if kind == "samples":
            draws = self.sample(check_positive_int(n_samples, "n_samples"), seed)
            return MEANS[self.model](self._eta_at(Xf, draws))
        if self.model == "multinomial":
            return MEANS["multinomial"](self._eta_at(Xf, self.sample(
                8 * self.n_quadrature, 0))).mean(axis=0)
        mu, var = self._eta_moments(Xf)
        if self.model == "gaussian":
            return mu
        if self.model == "poisson":
            return np.exp(mu + 0.5 * var)
        if self.model == "probit":
            return _ndtr(mu / np.sqrt(1.0 + var))
        nodes, weights = gauss_hermite(self.n_quadrature)
        return _sigmoid(mu[:, None] + np.sqrt(var)[:, None] * nodes) @ weights

"""The frozen problem of a fit: the penalized objective and its curvature in coefficient space.

Parameters live in one flat vector ``theta`` of length p = (d + fit_intercept) * K: the
row-major (d + fit_intercept, K) matrix whose first d rows are ``coef`` and whose last row
(when fitting an intercept) is ``intercept``. The objective is

    f(theta) = sum_i s_i l_i(theta) / sum_i s_i + l2 / 2 * ||coef||^2,

l_i the negative log-likelihood of row i and s the sample weights (1 by default). The
intercept is not penalized; the core adds it as an implicit column of ones, so X is never
copied.
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._threads import resolve


class Objective:
    """Objective, gradient and curvature of one fitting problem, with reusable buffers.

    Inputs must already be validated (C-contiguous float64, finite, in the model's domain).
    """

    def __init__(self, X, y, model, n_classes, *, fit_intercept, sample_weight, l2, n_threads):
        self.X, self.y, self.model = X, y, model
        self.n_classes, self.fit_intercept = n_classes, bool(fit_intercept)
        self.sample_weight, self.l2 = sample_weight, float(l2)
        self.n_threads = resolve(n_threads)
        self.d = X.shape[1]
        self.p = (self.d + self.fit_intercept) * n_classes
        #: 1.0 on coef entries, 0.0 on the intercept: the penalty's curvature l2 * diag(mask).
        self.penalty_mask = np.ones(self.p)
        if self.fit_intercept:
            self.penalty_mask[self.d * n_classes:] = 0.0
        self._curvature = {}  # (p, p) and (p,) buffers, allocated once, reused every iteration
        self._fvp = np.empty(self.p)
        self._input_gram = None

    # ------------------------------------------------------------------ passes over X
    def evaluate(self, theta, kind="none", *, diagonal=False, n_samples=1, seed=0):
        """One fused pass: ``(f, grad, curvature, n_misclassified)``.

        ``curvature`` is None for kind "none", else the (p, p) or (p,) matrix of ``kind``
        ("true", "empirical", "mc", "hessian") of the mean NLL *plus the penalty's
        curvature* l2 * diag(penalty_mask). It is a buffer reused by the next call with
        the same shape: copy it to keep it.
        """
        grad = np.empty(self.p)
        curv = None
        if kind != "none":
            key = "diag" if diagonal else "full"
            if key not in self._curvature:
                self._curvature[key] = np.empty(self.p if diagonal else (self.p, self.p))
            curv = self._curvature[key]
        loss, n_mis = _core.glm.fused_pass(self.model, self.X, self.y, theta, self.n_classes,
                                       self.fit_intercept, self.sample_weight, kind,
                                       bool(diagonal), int(n_samples), int(seed), self.n_threads,
                                       grad, curv)
        coef_part = theta * self.penalty_mask
        f = loss + 0.5 * self.l2 * float(coef_part @ coef_part)
        grad += self.l2 * coef_part
        if curv is not None and self.l2 > 0.0:
            if diagonal:
                curv += self.l2 * self.penalty_mask
            else:
                curv[np.diag_indices(self.p)] += self.l2 * self.penalty_mask
        return f, grad, curv, n_mis

    def step_kl(self, theta, delta):
        """1/2 delta^T F delta with F the model's true Fisher at theta (undamped, no penalty):
        the KL divergence a small step delta moves the predictive distributions by."""
        quad = _core.glm.fisher_vector_product(self.model, self.X, theta, delta, self.n_classes,
                                           self.fit_intercept, self.sample_weight,
                                           self.n_threads, self._fvp)
        return 0.5 * quad

    def input_gram(self):
        """A = sum_i s_i x_i x_i^T / sum_i s_i over rows with the intercept's 1 appended:
        the input factor of K-FAC, constant over a fit (computed once)."""
        if self._input_gram is None:
            dp = self.d + self.fit_intercept
            A = np.empty((dp, dp))
            _core.glm.fused_pass("gaussian", self.X, np.zeros(self.X.shape[0]), np.zeros(dp), 1,
                             self.fit_intercept, self.sample_weight, "true", False, 1, 0,
                             self.n_threads, None, A)  # gaussian weights are 1: a plain Gram
            self._input_gram = A
        return self._input_gram

    def fisher_at_zero_coef(self, theta):
        """The true Fisher (plus the penalty) of the multinomial model at a theta whose
        coef rows are all zero, as the null-model start is: every row then has the same
        output weight W = diag(mu) - mu mu^T (mu the softmax of the intercept), so
        F = A kron W with A the input Gram: one Gram instead of K(K+1)/2."""
        K = self.n_classes
        b = theta[self.d * K:] if self.fit_intercept else np.zeros(K)
        mu = np.exp(b - b.max())
        mu /= mu.sum()
        F = np.kron(self.input_gram(), np.diag(mu) - np.outer(mu, mu))
        F[np.diag_indices(self.p)] += self.l2 * self.penalty_mask
        return F

    def row_gram(self):
        """C = X X^T (n, n), constant over a fit (computed once): the sample-space solve
        needs only C and per-row weights each iteration."""
        if getattr(self, "_row_gram", None) is None:
            self._row_gram = self.X @ self.X.T
        return self._row_gram

    def curvature_weights(self, theta, kind, *, n_samples=1, seed=0):
        """w (n,) with curvature(kind) = sum_i w_i x~_i x~_i^T (x~ with the intercept's 1):
        the per-row weights times s_i / sum(s). One-output models."""
        w = np.empty(self.X.shape[0])
        _core.glm.curvature_weights(self.model, self.X, self.y, theta, self.fit_intercept,
                                self.sample_weight, kind, int(n_samples), int(seed),
                                self.n_threads, w)
        total = self.X.shape[0] if self.sample_weight is None else self.sample_weight.sum()
        return w / total

    def linear_predictor(self, theta):
        """eta (n, K) at theta (allocates n x K; used by K-FAC's output factor)."""
        coef = theta.reshape(-1, self.n_classes)
        eta = self.X @ coef[: self.d]
        if self.fit_intercept:
            eta += coef[self.d]
        return eta

    def output_fisher(self, theta):
        """G = sum_i s_i (diag(mu_i) - mu_i mu_i^T) / sum_i s_i: the K x K output factor of
        K-FAC for the multinomial model (the mean true Fisher weight of a row)."""
        eta = self.linear_predictor(theta)
        mu = np.exp(eta - eta.max(axis=1, keepdims=True))
        mu /= mu.sum(axis=1, keepdims=True)
        s = np.ones(eta.shape[0]) if self.sample_weight is None else self.sample_weight
        return (np.diag(s @ mu) - (mu * s[:, None]).T @ mu) / s.sum()

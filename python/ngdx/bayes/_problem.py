"""The frozen problem of a Bayesian GLM fit and its pass over the rows.

The per-iteration pass of the Bayesian learning rule, for q = N(m, S) with S = L L^T:
row means x~^T m and variances x~^T S x~ = ||L^T x~||^2 (blocks of rows, so memory is
O(block x p) and never n x n), the per-row Gaussian expectations by quadrature, then the
gradient X~^T (s E[loss']) and the weighted Gram X~^T diag(s E[loss'']) X~. x~ is a row of
X with a trailing 1 when there is an intercept. A dense X (float64 or float32) is read once
per pass by the core's fused pass (``_core.bayes.fused_pass``); a CSR X by the blocks below,
the core's per-row expectations and the row source's Gram (also the fused pass's twin in
the tests, with ``bayes._reference.terms``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._data import ArrayRows, CSRRows
from .. import _core
from ._quadrature import expectations, gauss_hermite
from ._softmax import terms as softmax_terms

#: Rows per block of the row-variance pass: a block of X L is BLOCK_ROWS x p doubles.
BLOCK_ROWS = 4096


@dataclass(frozen=True)
class Terms:
    """What one pass returns about the expected summed negative log-likelihood
    E_q[sum_i s_i loss_i(theta)]: its value, gradient (p,) and Hessian (p, p) in m."""

    loss: float
    grad: np.ndarray
    hess: np.ndarray


class Problem:
    """X (dense float64/float32 or CSR), y, sample weights s, the intercept, the model and
    its K outputs: everything a fit reads and never changes. theta is the flat
    (d + fit_intercept, K) matrix, row-major, the intercept row last. ``prior_mask`` (p,) is
    1 on the coefficients (they get the prior) and 0 on the intercept (flat). ``null``
    (p,) is the unit direction the likelihood and the prior leave flat (the intercepts'
    common shift of the softmax), else None."""

    def __init__(self, X, sparse, y, sample_weight, fit_intercept, model, n_quadrature,
                 n_threads, n_classes=1):
        self.X, self.sparse, self.y, self.s = X, sparse, y, sample_weight
        self.fit_intercept, self.model = fit_intercept, model
        self.n_quadrature, self.n_threads = n_quadrature, n_threads
        self.n_classes = K = n_classes
        self.n_draws = 8 * n_quadrature  # the multinomial's Monte Carlo draws
        self.n, self.d = X.shape
        self.p = (self.d + fit_intercept) * K
        self.prior_mask = np.ones(self.p)
        self.null = None
        if fit_intercept:
            self.prior_mask[-K:] = 0.0
            if K > 1:
                self.null = np.zeros(self.p)
                self.null[-K:] = 1.0 / np.sqrt(K)
        self.rows = (CSRRows if sparse else ArrayRows)(X, y, fit_intercept=fit_intercept,
                                                       n_threads=n_threads)
        self.n_passes = 0

    def blocks(self, rows_per_block=BLOCK_ROWS):
        """(rows slice, X[rows] as float64 dense or CSR) over blocks of rows."""
        for i in range(0, self.n, rows_per_block):
            rows = slice(i, min(i + rows_per_block, self.n))
            Xb = self.X[rows]
            yield rows, (Xb if self.sparse else Xb.astype(np.float64, copy=False))

    def moments(self, m, factor=None):
        """(mean, var) of eta per row, each (n,), under q = N(m, factor factor^T); var = 0
        without a factor (q a point mass: the Laplace method's delta rule)."""
        d = self.d
        mean, var = np.empty(self.n), np.zeros(self.n)
        for rows, Xb in self.blocks():
            mean[rows] = Xb @ m[:d]
            if self.fit_intercept:
                mean[rows] += m[d]
            if factor is not None:
                Z = np.asarray(Xb @ factor[:d])
                if self.fit_intercept:
                    Z += factor[d]
                var[rows] = np.einsum("ij,ij->i", Z, Z)
        return mean, var

    def rmatvec(self, r):
        """X~^T r (p,)."""
        out = np.zeros(self.p)
        for rows, Xb in self.blocks():
            out[:self.d] += Xb.T @ r[rows]
        if self.fit_intercept:
            out[self.d] = r.sum()
        return out

    def gram(self, w):
        """sum_i w_i x~_i x~_i^T (p, p), w >= 0, by the row source's Gram (the core's
        kernels, dense or CSR: the mean Gram, times the sum of the weights it divided by)."""
        total = float(np.cumsum(w)[-1])  # summed in row order, as the row sources sum it
        if not total > 0:
            return np.zeros((self.p, self.p))
        return self.rows.gram(w) * total

    def terms(self, m, factor=None) -> Terms:
        """The expected summed weighted NLL, its gradient and Hessian in m, under
        q = N(m, factor factor^T) (or at the point m without a factor)."""
        self.n_passes += 1
        if self.n_classes > 1:
            return Terms(*softmax_terms(self, m, factor))
        if not self.sparse:
            return self._fused_terms(m, factor)
        mean, var = self.moments(m, factor)
        loss, d1, d2 = expectations(self.model, mean, var, self.y, self.n_quadrature,
                                    self.n_threads)
        if self.s is not None:
            loss, d1, d2 = loss * self.s, d1 * self.s, d2 * self.s
        total = float(loss.sum())
        if not (np.isfinite(total) and np.isfinite(d1).all() and np.isfinite(d2).all()):
            # eta overflowed the model at some node (exp(eta) of a very wide q): the loop
            # stops on the non-finite value, and no product with X is formed
            return _not_finite(total, self.p)
        return Terms(total, self.rmatvec(d1), self.gram(d2))

    def _fused_terms(self, m, factor):
        """``terms`` of a dense X by the core's fused pass: one sweep over X."""
        nodes, weights = gauss_hermite(self.n_quadrature)
        grad, hess = np.empty(self.p), np.empty((self.p, self.p))
        F = None if factor is None else np.ascontiguousarray(factor)
        total = _core.bayes.fused_pass(self.model, self.X, self.y, self.s, self.fit_intercept,
                                       np.ascontiguousarray(m), F, nodes, weights,
                                       self.n_threads, grad, hess)
        if not (np.isfinite(total) and np.isfinite(grad).all() and np.isfinite(hess).all()):
            return _not_finite(total, self.p)
        return Terms(float(total), grad, hess)


def _not_finite(total, p):
    """Terms of a pass whose values overflowed: NaN, or the infinite loss."""
    return Terms(total if not np.isfinite(total) else np.nan, np.full(p, np.nan),
                 np.full((p, p), np.nan))

"""Rows held in memory: the row source over one C-contiguous float64 or float32 ndarray.

A row source is where a fit's rows live. The objective reads rows only through it: it asks
for a fused pass (loss, gradient, curvature statistics), a Fisher-vector product, per-row
curvature weights, the input Gram, or products with X, and the source runs the compiled
kernels over its rows and reduces their partial results. This one holds X, y and the
sample weights in memory and hands them to the core as they are (no copy, one pass per
call). A chunked or distributed source implements the same methods by running the kernels
per chunk and reducing the (weighted) partial sums, without touching the objective or
the solver loop.

Every method that reads X counts one pass in ``n_passes``: a fit records them (passes
over the data are what a large problem pays for).
"""

from __future__ import annotations

import numpy as np

from .. import _core
from .base import RowSource

#: Rows of a float32 X converted at a time by the products with X (about 1 MB at d = 32).
_BLOCK_ROWS = 4096


class ArrayRows(RowSource):
    """X (n, d), labels y (n,) and optional sample weights (n,) held in memory.

    Inputs must already be validated (finite; X C-contiguous float64 or float32, the
    others C-contiguous float64). ``fit_intercept`` appends an implicit column of ones to
    every row; the core adds it, so X is never copied. A float32 X is read as float32 by
    the core's passes; the products with X below compute in float64.
    """

    def __init__(self, X, y, *, sample_weight=None, fit_intercept=False, n_threads=1):
        self.X = X
        self.n_rows, self.n_features = X.shape
        super().__init__(y, sample_weight, fit_intercept, n_threads)

    # ------------------------------------------------------------ fused passes of the core
    def fused_pass(self, model, theta, n_classes, kind="none", *, diagonal=False,
                   n_mc_samples=1, seed=0, grad_out, curvature_out=None):
        """(mean NLL, misclassified rows); fills grad_out and the curvature of ``kind``."""
        self.n_passes += 1
        return _core.glm.fused_pass(model, self.X, self.y, theta, n_classes, self.fit_intercept,
                                self.sample_weight, kind, bool(diagonal), int(n_mc_samples),
                                int(seed), self.n_threads, grad_out, curvature_out)

    def fisher_vector_product(self, model, theta, v, n_classes, out):
        """F v of the mean NLL's true Fisher into out; returns v^T F v."""
        self.n_passes += 1
        return _core.glm.fisher_vector_product(model, self.X, theta, v, n_classes,
                                           self.fit_intercept, self.sample_weight,
                                           self.n_threads, out)

    def curvature_weights(self, model, theta, kind, *, n_mc_samples=1, seed=0):
        """w (n,) with curvature(kind) = sum_i w_i x~_i x~_i^T (one-output models)."""
        self.n_passes += 1
        w = np.empty(self.n_rows)
        _core.glm.curvature_weights(model, self.X, self.y, theta, self.fit_intercept,
                                self.sample_weight, kind, int(n_mc_samples), int(seed),
                                self.n_threads, w)
        return w / self.weight_sum

    def _block_scores(self, model, start, stop, theta, n_classes, out):
        _core.glm.scores(model, self.X[start:stop], self.y[start:stop], theta, n_classes,
                         self.fit_intercept, self.n_threads, out)

    def gram(self, weights=None):
        """sum_i s_i x~_i x~_i^T / sum_i s_i (x~ with the intercept's 1): the input Gram;
        with ``weights`` (n,), non-negative with a positive sum, those instead of s."""
        self.n_passes += 1
        dp = self.n_features + self.fit_intercept
        A = np.empty((dp, dp))
        sw = self.sample_weight if weights is None else weights
        # The weights summed in row order, as the core's passes sum them (cumsum is
        # sequential, sum is pairwise): the same matrix, bit for bit, as their curvatures.
        total = self.n_rows if sw is None else float(np.cumsum(sw)[-1])
        _core.linalg.weighted_gram(self.X, sw, self.fit_intercept, 1.0 / total,
                                   self.n_threads, A)
        return A

    def column_scale(self, max_rows=65536):
        """c (d,): the root mean square of each column of X (weighted by the sample
        weights), from at most ``max_rows`` evenly spaced rows (all of them for smaller X):
        the scale of each feature, which makes the convergence test scale-free. Reads a
        sample, not a pass."""
        step = max(1, -(-self.n_rows // max_rows))
        Xs = self.X[::step]
        sw = self.sample_weight
        if sw is None:
            sq = np.einsum("ij,ij->j", Xs, Xs, dtype=np.float64) / Xs.shape[0]
        else:
            s = sw[::step]
            total = s.sum()
            if not total > 0:  # the sample missed every weighted row: use them all
                Xs, s, total = self.X, sw, sw.sum()
            sq = np.einsum("i,ij,ij->j", s / total, Xs, Xs, dtype=np.float64)
        return np.sqrt(sq)

    # ------------------------------------------------------------ products with X
    def row_gram(self, column_scale=None):
        """(X U)(X U)^T (n, n) in float64, U = diag(column_scale) (X X^T without it): the
        sample-space solve's constant, computed once for the scale of a fit. X U is formed
        first, so tiny columns with large scales (1e-160 and 1e160) do not overflow."""
        if self._row_gram is None or self._row_gram[0] is not column_scale:
            self.n_passes += 1
            X = self.X.astype(np.float64, copy=False)  # float32 X X^T would round to float32
            XU = X if column_scale is None else X * column_scale
            self._row_gram = (column_scale, XU @ XU.T)
        return self._row_gram[1]

    def matmul(self, B):
        """X @ B in float64, B (d,) or (d, k) float64."""
        self.n_passes += 1
        if self.X.dtype == np.float64:
            return self.X @ B
        out = np.empty((self.n_rows,) + np.shape(B)[1:])
        for rows, X in self._float64_blocks():
            out[rows] = X @ B
        return out

    def rmatmul(self, Z):
        """X^T @ Z in float64, Z (n,) or (n, k) float64."""
        self.n_passes += 1
        if self.X.dtype == np.float64:
            return self.X.T @ Z
        out = np.zeros((self.n_features,) + np.shape(Z)[1:])
        for rows, X in self._float64_blocks():
            out += X.T @ Z[rows]
        return out

    def _float64_blocks(self, rows_per_block=_BLOCK_ROWS):
        """(slice, X[slice] as float64) over the rows of a float32 X: NumPy would convert
        all of X for a mixed float32 @ float64 product, this a block at a time."""
        for i in range(0, self.n_rows, rows_per_block):
            rows = slice(i, i + rows_per_block)
            yield rows, self.X[rows].astype(np.float64)

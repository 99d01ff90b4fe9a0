"""Rows of a sparse design matrix: the row source over a ``scipy.sparse`` CSR matrix.

``CSRRows`` has the methods of ``ArrayRows`` (``ndarray.py``) and runs the core's CSR
kernels (``_core.glm.*_csr``), which read only the nonzeros of X: the objective and the
solver loop run on sparse data unchanged. The curvature X^T W X is accumulated from the
pairs of nonzeros of each row (a dense p x p output); X is never densified.

``import ngdx`` does not import scipy: a scipy.sparse matrix is recognized through
``sys.modules`` (if ``scipy.sparse`` was never imported, no object can be one) and read
through its own methods and arrays.
"""

from __future__ import annotations

import sys

import numpy as np

from .. import _core
from .base import RowSource

#: The index dtypes of scipy.sparse, which the core takes without conversion.
INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


def is_sparse(X) -> bool:
    """Whether X is a scipy.sparse matrix or array (without importing scipy)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and bool(sparse.issparse(X))


def copy_note(X, name: str = "X") -> str | None:
    """Why :func:`csr_parts` would copy the sparse X, or None when it takes X's arrays as
    they are: the text of the door's one-time warning (see :func:`csr_parts`)."""
    reasons = []
    if X.format != "csr":
        reasons.append(f"converted from {X.format.upper()} to CSR (a copy of its nonzeros and "
                       "indices); pass X.tocsr() once to avoid it")
    if X.dtype != np.float64:
        reasons.append(f"its {X.dtype} values converted to float64 (a copy of the nonzeros)")
    if X.format == "csr" and X.indices.dtype != X.indptr.dtype:
        reasons.append("its index arrays converted to one dtype (int64)")
    if X.format == "csr" and not X.has_canonical_format:
        reasons.append("sorted with duplicate entries summed (scipy's sum_duplicates, on a "
                       "copy); pass a matrix in canonical format to avoid it")
    if not reasons:
        return None
    return f"{name} is a scipy.sparse matrix that ngdx reads as CSR: " + "; ".join(reasons)


def as_csr(X, name: str = "X"):
    """X as a checked CSR matrix the core reads: float64 nonzeros, int32 or int64 indices
    (one dtype), canonical format (no duplicate entries); X itself when it already is one.

    See :func:`csr_parts` for the checks and the conversions.
    """
    if not is_sparse(X):
        raise ValueError(f"{name} must be a scipy.sparse matrix, got {type(X).__name__}")
    if len(X.shape) != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must be 2-D with at least one row and one column, "
                         f"got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if X.format != "csr":
        X = X.tocsr()
    if X.dtype != np.float64:
        X = X.astype(np.float64)
    for part in ("indices", "indptr"):
        dtype = getattr(X, part).dtype
        if dtype not in INDEX_DTYPES:
            raise ValueError(f"{name}.{part} must have dtype int32 or int64, got {dtype}")
    _check_structure(X, name)
    if X.indices.dtype != X.indptr.dtype:  # one index type: both int64
        X = X.copy()
        X.indices, X.indptr = X.indices.astype(np.int64), X.indptr.astype(np.int64)
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    _check_finite(X, name)
    return X


def csr_parts(X, name: str = "X"):
    """``(data, indices, indptr, shape)`` of a scipy.sparse matrix X, as the core's CSR
    kernels take them.

    ``data`` is float64 and ``indices`` and ``indptr`` int32 or int64 (one dtype), all
    C-contiguous; the rows hold no duplicate columns.

    Parameters
    ----------
    X : scipy.sparse matrix or array, shape (n, d)
        Any format; CSR in canonical form with float64 values is taken as it is.
    name : str
        The argument's name in error messages.

    Returns
    -------
    data : ndarray (nnz,), indices : ndarray (nnz,), indptr : ndarray (n + 1,), shape : (n, d)

    Raises
    ------
    ValueError
        When X is not a 2-D scipy.sparse matrix with at least one row and one column, holds
        values that are not real numbers or not finite (naming the first one's row and
        column), has index arrays of a dtype other than int32 or int64, or arrays that do not
        describe a CSR matrix of its shape (offsets, lengths, column indices).

    Notes
    -----
    What the door (``ngdx.fit``, the functional API, the estimators) must do with a sparse
    X: recognize it with :func:`is_sparse` (never by importing scipy), warn once with
    :func:`copy_note` when it returns a text (CSC or another format is converted to CSR:
    a copy of the nonzeros and indices; other value dtypes are converted to float64;
    non-canonical matrices are sorted with duplicates summed, on a copy), then build
    :class:`CSRRows` instead of ``ArrayRows``. y and sample weights are checked as for a
    dense X (their length against ``shape[0]``).
    """
    return _parts(as_csr(X, name))


def _parts(X):
    """csr_parts of a matrix as_csr returned (each array C-contiguous and aligned, as the
    core reads it; scipy's always are, so this copies nothing in practice)."""
    return tuple(np.require(a, requirements=["C", "A"]) for a in (X.data, X.indices, X.indptr)
                 ) + (X.shape,)


def _check_structure(X, name):
    """The CSR arrays describe a matrix of X's shape (checked once, in NumPy, so that a bad
    one is a message naming the part instead of the core's first failure)."""
    n, d = X.shape
    data, indices, indptr = X.data, X.indices, X.indptr
    bad = None
    if indptr.ndim != 1 or len(indptr) != n + 1:
        bad = f"indptr has {len(indptr)} entries for {n} rows (needs n + 1)"
    elif len(indices) != len(data):
        bad = f"indices has {len(indices)} entries but data has {len(data)}"
    elif indptr[0] != 0 or indptr[-1] != len(data) or (np.diff(indptr) < 0).any():
        bad = f"indptr must rise from 0 to the number of nonzeros ({len(data)})"
    elif len(indices) and (indices.min() < 0 or indices.max() >= d):
        bad = f"column indices must lie in [0, {d})"
    if bad:
        raise ValueError(f"{name} is not a valid CSR matrix of shape {X.shape}: {bad}")


def _check_finite(X, name):
    finite = np.isfinite(X.data)
    if finite.all():
        return
    k = int(np.argmin(finite))
    row = int(np.searchsorted(X.indptr, k, side="right")) - 1
    raise ValueError(f"{name} must be finite; found {X.data[k]} at index ({row}, "
                     f"{int(X.indices[k])}) ({int((~finite).sum())} non-finite values)")


class CSRRows(RowSource):
    """X (n, d) as a scipy.sparse CSR matrix, labels y (n,) and optional sample weights (n,).

    The row source of ``ArrayRows`` (same methods, same results to rounding) over a sparse X:
    the core reads each row's nonzeros, never a dense copy. X may be any scipy.sparse
    format (converted once by :func:`as_csr`; the caller warns, see :func:`csr_parts`); y and
    the sample weights must already be validated. ``fit_intercept`` appends an implicit
    column of ones to every row.
    """

    def __init__(self, X, y, *, sample_weight=None, fit_intercept=False, n_threads=1):
        self.X = as_csr(X)
        data, indices, indptr, (self.n_rows, self.n_features) = _parts(self.X)
        self._csr = (data, indices, indptr, self.n_features)  # the kernels' first arguments
        super().__init__(y, sample_weight, fit_intercept, n_threads)

    # ------------------------------------------------------------ fused passes of the core
    @property
    def nbytes(self) -> int:
        return int(self.X.data.nbytes + self.X.indices.nbytes + self.X.indptr.nbytes)

    def fused_pass(self, model, theta, n_classes, kind="none", *, diagonal=False,
                   n_mc_samples=1, seed=0, grad_out, curvature_out=None):
        """(mean NLL, misclassified rows); fills grad_out and the curvature of ``kind``."""
        self.n_passes += 1
        return _core.glm.fused_pass_csr(model, *self._csr, self.y, theta, n_classes,
                                        self.fit_intercept, self.sample_weight, kind,
                                        bool(diagonal), int(n_mc_samples), int(seed),
                                        self.n_threads, grad_out, curvature_out)

    def fisher_vector_product(self, model, theta, v, n_classes, out):
        """F v of the mean NLL's true Fisher into out; returns v^T F v."""
        self.n_passes += 1
        return _core.glm.fisher_vector_product_csr(model, *self._csr, theta, v, n_classes,
                                                   self.fit_intercept, self.sample_weight,
                                                   self.n_threads, out)

    def curvature_weights(self, model, theta, kind, *, n_mc_samples=1, seed=0):
        """w (n,) with curvature(kind) = sum_i w_i x~_i x~_i^T (one-output models)."""
        self.n_passes += 1
        w = np.empty(self.n_rows)
        _core.glm.curvature_weights_csr(model, *self._csr, self.y, theta, self.fit_intercept,
                                        self.sample_weight, kind, int(n_mc_samples), int(seed),
                                        self.n_threads, w)
        return w / self.weight_sum

    def _block_scores(self, model, start, stop, theta, n_classes, out):
        data, indices, indptr, d = self._csr
        lo, hi = int(indptr[start]), int(indptr[stop])
        _core.glm.scores_csr(model, data[lo:hi], indices[lo:hi], indptr[start:stop + 1] - lo,
                             d, self.y[start:stop], theta, n_classes, self.fit_intercept,
                             self.n_threads, out)

    def gram(self, weights=None):
        """sum_i s_i x~_i x~_i^T / sum_i s_i (x~ with the intercept's 1): the input Gram,
        as the gaussian model's true Fisher (its curvature weights are 1); with ``weights``
        (n,), non-negative with a positive sum, those instead of s."""
        self.n_passes += 1
        dp = self.n_features + self.fit_intercept
        A = np.empty((dp, dp))
        sw = self.sample_weight if weights is None else weights
        _core.glm.fused_pass_csr("gaussian", *self._csr, np.zeros(self.n_rows), np.zeros(dp), 1,
                                 self.fit_intercept, sw, "true", False, 1, 0,
                                 self.n_threads, None, A)
        return A

    def column_scale(self, max_rows=65536):
        """c (d,): the root mean square of each column of X (weighted by the sample
        weights), from at most ``max_rows`` evenly spaced rows (all of them for smaller X),
        as ``ArrayRows.column_scale``: the scale of each feature, which makes the
        convergence test scale-free. Reads a sample, not a pass."""
        step = max(1, -(-self.n_rows // max_rows))
        Xs, sw = self.X[::step], self.sample_weight
        s = np.full(Xs.shape[0], 1.0 / Xs.shape[0]) if sw is None else sw[::step]
        if sw is not None:
            if not s.sum() > 0:  # the sample missed every weighted row: use them all
                Xs, s = self.X, sw
            s = s / s.sum()
        return np.sqrt(np.asarray(Xs.multiply(Xs).T @ s).ravel())

    # ------------------------------------------------------------ products with X
    def row_gram(self, column_scale=None):
        """(X U)(X U)^T (n, n) as a dense array, U = diag(column_scale) (X X^T without it):
        the sample-space solve's constant, computed once for the scale of a fit."""
        if self._row_gram is None or self._row_gram[0] is not column_scale:
            self.n_passes += 1
            XU = self.X if column_scale is None else self.X.multiply(column_scale).tocsr()
            self._row_gram = (column_scale, np.ascontiguousarray((XU @ XU.T).toarray()))
        return self._row_gram[1]

    def matmul(self, B):
        """X @ B, B (d,) or (d, k), as an ndarray."""
        self.n_passes += 1
        return np.asarray(self.X @ B)

    def rmatmul(self, Z):
        """X^T @ Z, Z (n,) or (n, k), as an ndarray."""
        self.n_passes += 1
        return np.asarray(self.X.T @ Z)

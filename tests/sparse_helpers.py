"""Sparse test problems: CSR design matrices with every structure the kernels must read."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from conftest import make_problem


def sparsify(X, *, density=0.4, seed=0, index_dtype=np.int32, unsorted=False):
    """X (dense) with about 1 - density of its entries dropped, as CSR, with the structures
    a CSR reader must handle: an empty first row (and every 7th), an all-zero column 1 (when
    d > 1), explicit stored zeros, and optionally rows whose column indices are shuffled.
    Returns (Xs, dense) with dense == Xs.toarray()."""
    rng = np.random.default_rng(seed)
    n, d = X.shape
    keep = rng.random((n, d)) < density
    keep[::7] = False
    if d > 1:
        keep[:, 1] = False
    rows, cols = np.nonzero(keep)
    vals = X[rows, cols].copy()
    vals[rng.random(vals.size) < 0.1] = 0.0  # explicit zeros
    indptr = np.searchsorted(rows, np.arange(n + 1)).astype(index_dtype)
    indices = cols.astype(index_dtype)
    if unsorted:
        for i in range(n):
            a, b = indptr[i], indptr[i + 1]
            order = a + rng.permutation(b - a)
            indices[a:b], vals[a:b] = indices[order], vals[order]
    Xs = sp.csr_matrix((vals, indices, indptr), shape=(n, d))
    # scipy may pick its own index dtype on construction: set the one asked for.
    Xs.indices, Xs.indptr = indices, indptr
    return Xs, Xs.toarray()


def sparse_problem(model, n, d, K, *, seed=0, fit_intercept=True, **kw):
    """(Xs, X dense, y, theta flat) as conftest.make_problem's, with X sparsified."""
    X, y, theta = make_problem(model, n, d, K, seed=seed, fit_intercept=True)
    if not fit_intercept:
        theta = theta.reshape(d + 1, -1)[:d].ravel()
    Xs, dense = sparsify(X, seed=seed, **kw)
    return Xs, dense, y, theta


def parts(Xs):
    """The CSR kernels' first four arguments."""
    return Xs.data, Xs.indices, Xs.indptr, Xs.shape[1]

"""The sparse row source (ngdx._data.CSRRows): the objective and the solver loop on a
scipy.sparse X equal them on the dense X, and csr_parts checks what the door will hand it."""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

import ngdx
from ngdx import _fit
from ngdx._data import ArrayRows, CSRRows, csr_parts, is_sparse
from ngdx._data.csr import copy_note
from ngdx._models import GLMObjective, get_family

from conftest import ALL_MODELS
from sparse_helpers import sparse_problem
from test_parity import close


def both_objectives(model, *, fit_intercept, weighted, n_threads, n=400, d=6, K=3, seed=0,
                    l2=0.1, **kw):
    """(sparse, dense) GLMObjective over CSRRows(Xs) and ArrayRows(Xs.toarray()), and theta."""
    Xs, X, y, theta = sparse_problem(model, n, d, K, seed=seed, fit_intercept=fit_intercept, **kw)
    sw = np.random.default_rng(seed).uniform(0.0, 2.0, n) if weighted else None
    k = K if model == "multinomial" else 1
    rows = dict(sample_weight=sw, fit_intercept=fit_intercept, n_threads=n_threads)
    family = get_family(model)
    sparse = GLMObjective(CSRRows(Xs, y, **rows), family, k, l2=l2)
    dense = GLMObjective(ArrayRows(X, y, **rows), family, k, l2=l2)
    return sparse, dense, theta


@pytest.mark.parametrize("model", ALL_MODELS)
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_the_objective_over_csr_rows_equals_it_over_dense_rows(model, fit_intercept, weighted,
                                                                n_threads):
    sparse, dense, theta = both_objectives(model, fit_intercept=fit_intercept, weighted=weighted,
                                           n_threads=n_threads)
    v = np.random.default_rng(1).normal(size=theta.size)
    for kind in ("none", "true", "empirical", "mc", "hessian"):
        for diagonal in (False, True):
            a = sparse.evaluate(theta, kind, diagonal=diagonal, n_mc_samples=2, seed=3)
            b = dense.evaluate(theta, kind, diagonal=diagonal, n_mc_samples=2, seed=3)
            close(a.f, b.f)
            close(a.grad, b.grad)
            assert a.n_misclassified == b.n_misclassified
            if kind != "none":
                close(a.stats, b.stats)
            if kind != "none" and not diagonal and not sparse.family.multi_output:
                close(sparse.curvature_weights(theta, kind, n_mc_samples=2, seed=3),
                      dense.curvature_weights(theta, kind, n_mc_samples=2, seed=3))
    close(sparse.fisher_vector_product(theta, v), dense.fisher_vector_product(theta, v))
    close(sparse.step_kl(theta, v), dense.step_kl(theta, v))
    close(sparse.input_gram(), dense.input_gram())
    close(sparse.param_scale(), dense.param_scale())
    close(sparse.rows.column_scale(max_rows=50), dense.rows.column_scale(max_rows=50))
    close(sparse.linear_predictor(theta), dense.linear_predictor(theta))
    if sparse.family.multi_output:
        close(sparse.output_fisher(theta), dense.output_fisher(theta))
        close(sparse.fisher_at_zero_coef(theta), dense.fisher_at_zero_coef(theta))


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_products_with_x_equal_the_dense_ones(fit_intercept):
    sparse, dense, _ = both_objectives("logistic", fit_intercept=fit_intercept, weighted=True,
                                       n_threads=2, unsorted=True, index_dtype=np.int64)
    a, b = sparse.rows, dense.rows
    B, Z = np.random.default_rng(0).normal(size=(2, 6, 3)), np.ones((400, 2))
    for x, y in [(a.matmul(B[0, :, 0]), b.matmul(B[0, :, 0])), (a.matmul(B[0]), b.matmul(B[0])),
                 (a.rmatmul(Z[:, 0]), b.rmatmul(Z[:, 0])), (a.rmatmul(Z), b.rmatmul(Z)),
                 (a.row_gram(), b.row_gram()), (a.gram(), b.gram())]:
        assert type(x) is np.ndarray and x.shape == y.shape
        close(x, y)
    assert a.weight_sum == b.weight_sum
    assert a.n_passes == b.n_passes == 6  # every read of X counts (row_gram once)


def build(X, y, model, method, **kw):
    """_fit.build with fit's defaults."""
    defaults = {k: p.default for k, p in inspect.signature(ngdx.fit).parameters.items()
                if p.default is not inspect.Parameter.empty and k not in ("model", "method")}
    return _fit.build(X, y, model, method, **{**defaults, **kw})


@pytest.mark.filterwarnings("ignore::ngdx.ConvergenceWarning")  # compared, not asserted
@pytest.mark.parametrize("model,method,kw", [
    ("logistic", "ngd", {}),
    ("logistic", "ngd", dict(linear_solver="cg")),
    ("logistic", "newton", dict(step="armijo", sample_weight="random")),
    ("probit", "newton", {}),
    ("poisson", "ngd", dict(fisher="empirical", step="kl")),
    ("gaussian", "diag", dict(max_iter=300)),
    ("logistic", "gd", dict(max_iter=50, tol=0)),
    ("multinomial", "ngd", dict(l2=0.01)),
    ("multinomial", "kfac", dict(l2=0.01)),
    ("multinomial", "ngd", dict(reuse_curvature=True, n_threads=2)),
    ("logistic", "ngd", dict(linear_solver="woodbury", l2=0.1, n_rows=40)),
])
def test_a_solver_fit_on_csr_rows_equals_the_dense_fit(model, method, kw):
    """_fit.build's solver with its objective's rows swapped for CSRRows (what the door will
    build): the same iterates, to rounding, as the fit on the dense X."""
    kw = dict(kw)
    n = kw.pop("n_rows", 500)
    Xs, X, y, _ = sparse_problem(model, n, 60 if n < 60 else 8, 3, seed=4, density=0.5)
    if kw.get("sample_weight") == "random":
        kw["sample_weight"] = np.random.default_rng(0).uniform(0.0, 2.0, n)
    dense_solver, theta0 = build(X, y, model, method, **kw)
    dense = dense_solver.run(theta0.copy())
    solver, theta0 = build(X, y, model, method, **kw)
    old = solver.objective.rows
    solver.objective.rows = CSRRows(Xs, old.y, sample_weight=old.sample_weight,
                                    fit_intercept=old.fit_intercept, n_threads=old.n_threads)
    res = solver.run(theta0)
    assert res.message == dense.message and res.n_iter == dense.n_iter
    assert res.converged == dense.converged
    assert res.n_passes == dense.n_passes
    close(res.coef, dense.coef, rtol=1e-9)
    close(res.intercept, dense.intercept, rtol=1e-9)
    close(res.history["objective"], dense.history["objective"], rtol=1e-10)


@pytest.mark.parametrize("fmt", ["csc", "coo", "lil", "csr_array", "float32", "int64-int32",
                                 "duplicates", "unsorted"])
def test_every_format_is_read_as_its_csr_matrix(fmt):
    Xs, X, y, theta = sparse_problem("logistic", 120, 5, 2, seed=1, unsorted=fmt == "unsorted")
    if fmt == "csr_array":
        other = sp.csr_array(Xs)
    elif fmt == "float32":
        other = Xs.astype(np.float32)
        X = other.toarray().astype(np.float64)
    elif fmt == "int64-int32":
        other = Xs.copy()
        other.indices = other.indices.astype(np.int64)
    elif fmt == "duplicates":  # each entry stored as two halves
        other = sp.csr_matrix((np.repeat(Xs.data / 2, 2), np.repeat(Xs.indices, 2),
                               2 * Xs.indptr), shape=Xs.shape)
        assert other.nnz == 2 * Xs.nnz and not other.has_canonical_format
    elif fmt == "unsorted":
        other = Xs
        assert not other.has_sorted_indices
    else:
        other = Xs.asformat(fmt)
    assert (copy_note(other) is None) == (fmt == "csr_array")
    assert copy_note(Xs.sorted_indices()) is None
    data, indices, indptr, shape = csr_parts(other)
    assert data.dtype == np.float64 and indices.dtype == indptr.dtype
    np.testing.assert_array_equal(sp.csr_matrix((data, indices, indptr), shape).toarray(), X)
    rows = CSRRows(other, y, fit_intercept=True)
    g_sparse, g_dense = np.empty(6), np.empty(6)
    a = rows.fused_pass("logistic", theta, 1, grad_out=g_sparse)
    b = ArrayRows(X, y, fit_intercept=True).fused_pass("logistic", theta, 1, grad_out=g_dense)
    close(a[0], b[0])
    close(g_sparse, g_dense)


def test_a_canonical_csr_matrix_is_not_copied():
    Xs, _, y, _ = sparse_problem("logistic", 50, 4, 2, index_dtype=np.int64)
    Xs = Xs.sorted_indices()
    data, indices, indptr, shape = csr_parts(Xs)
    assert data is Xs.data and indices is Xs.indices and indptr is Xs.indptr
    assert shape == (50, 4)
    assert CSRRows(Xs, y).X is Xs


def malformed(**parts):
    X = sp.csr_matrix(np.eye(3))
    for name, value in parts.items():
        setattr(X, name, value)
    return X


@pytest.mark.parametrize("X,match", [
    (np.eye(3), "X must be a scipy.sparse matrix, got ndarray"),
    (sp.csr_matrix((0, 3)), r"at least one row and one column, got shape \(0, 3\)"),
    (sp.csr_matrix((2, 0)), "at least one row and one column"),
    (sp.csr_matrix(np.eye(2) * 1j), "X must hold real numbers, got dtype complex128"),
    (sp.csr_matrix(np.array([[1.0, np.nan], [0.0, np.inf]])),
     r"X must be finite; found nan at index \(0, 1\) \(2 non-finite values\)"),
    (sp.csr_matrix(np.array([[1.0, 0.0], [0.0, -np.inf]])), r"found -inf at index \(1, 1\)"),
    (malformed(indices=np.array([0, 1, 2], np.uint32)), "X.indices must have dtype int32 or "
                                                        "int64, got uint32"),
    (malformed(indptr=np.array([0, 1, 2, 3], np.int16)), "X.indptr must have dtype int32"),
    (malformed(indptr=np.array([0, 1, 3], np.int32)), "indptr has 3 entries for 3 rows"),
    (malformed(indptr=np.array([0, 2, 1, 3], np.int32)), "indptr must rise from 0"),
    (malformed(indices=np.array([0, 1, 3], np.int32)), r"column indices must lie in \[0, 3\)"),
    (malformed(indices=np.array([0, 1], np.int32)), "indices has 2 entries but data has 3"),
])
def test_csr_parts_rejects_bad_input_naming_it(X, match):
    with pytest.raises(ValueError, match=match):
        csr_parts(X)


def test_is_sparse_and_import_ngdx_does_not_import_scipy():
    assert is_sparse(sp.csr_matrix(np.eye(2))) and is_sparse(sp.csc_array(np.eye(2)))
    assert not is_sparse(np.eye(2)) and not is_sparse([[1.0]])
    code = ("import sys, ngdx, ngdx._data; from ngdx._data import is_sparse; "
            "assert not is_sparse([[1.0]]); assert 'scipy' not in sys.modules, "
            "sorted(m for m in sys.modules if m.startswith('scipy'))")
    subprocess.run([sys.executable, "-c", code], check=True)

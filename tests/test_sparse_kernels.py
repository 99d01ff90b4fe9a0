"""Every CSR kernel of the core (``_core.glm.*_csr``) against the NumPy reference on
``X.toarray()``, for every model and option, and on the structures a CSR reader must
handle: empty rows, all-zero columns, explicit zeros, unsorted indices, int64 indices."""

from __future__ import annotations

import numpy as np
import pytest

from ngdx import _core
from ngdx import _reference as ref

from conftest import ALL_MODELS
from sparse_helpers import parts, sparse_problem, sparsify
from test_parity import close

# n below one 256-row block, not a multiple of it, several blocks; d = 1; K = 2.
SIZES = [(1, 1, 2), (9, 1, 2), (300, 4, 3), (777, 3, 2), (513, 6, 4)]
KINDS = ("true", "empirical", "hessian", "mc")
STRUCTURES = {
    "int32": dict(index_dtype=np.int32),
    "int64": dict(index_dtype=np.int64),
    "unsorted": dict(index_dtype=np.int32, unsorted=True),
}


def n_classes(model, K):
    return K if model == "multinomial" else 1


def ref_mean(X, theta, model, fit_intercept):
    eta = ref.linear_predictor(X, theta, fit_intercept)
    if model == "multinomial":
        return np.exp(ref.log_softmax(eta))
    special = ref._special()
    return {"logistic": special.expit, "probit": special.ndtr, "poisson": np.exp,
            "gaussian": lambda e: e}[model](eta)


@pytest.mark.parametrize("model", ALL_MODELS)
@pytest.mark.parametrize("n,d,K", SIZES)
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("structure", list(STRUCTURES))
def test_fused_pass_csr_matches_reference(model, n, d, K, fit_intercept, weighted, structure):
    Xs, X, y, theta = sparse_problem(model, n, d, K, seed=n + d, fit_intercept=fit_intercept,
                                     **STRUCTURES[structure])
    sw = np.random.default_rng(1).uniform(0.1, 2.0, size=n) if weighted else None
    kw = dict(sample_weight=sw, fit_intercept=fit_intercept)
    p, k = theta.size, n_classes(model, K)
    for n_threads in (1, 2):
        for kind in KINDS:
            for diagonal in (False, True):
                grad, curv = np.empty(p), np.empty(p if diagonal else (p, p))
                loss, n_mis = _core.glm.fused_pass_csr(
                    model, *parts(Xs), y, theta, k, fit_intercept, sw, kind, diagonal, 3, 11,
                    n_threads, grad, curv)
                close(loss, ref.loss(X, y, theta, model, **kw))
                close(grad, ref.grad(X, y, theta, model, **kw))
                close(curv, ref.curvature(X, y, theta, model, kind, diagonal=diagonal,
                                          n_samples=3, seed=11, **kw))
                assert n_mis == ref.n_misclassified(X, y, theta, model, **kw)
        grad = np.empty(p)
        assert _core.glm.fused_pass_csr(model, *parts(Xs), y, theta, k, fit_intercept, sw,
                                        "none", False, 1, 0, n_threads, grad, None)[0] == loss


@pytest.mark.parametrize("model", ALL_MODELS)
@pytest.mark.parametrize("n,d,K", SIZES)
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("structure", list(STRUCTURES))
def test_per_row_csr_kernels_match_reference(model, n, d, K, fit_intercept, structure):
    Xs, X, y, theta = sparse_problem(model, n, d, K, seed=2 * n + d, fit_intercept=fit_intercept,
                                     **STRUCTURES[structure])
    rng = np.random.default_rng(5)
    sw = rng.uniform(0.1, 2.0, size=n)
    theta_q, v = theta + rng.normal(scale=0.3, size=theta.size), rng.normal(size=theta.size)
    p, k = theta.size, n_classes(model, K)
    for n_threads in (1, 2):
        S = np.empty((n, p))
        _core.glm.scores_csr(model, *parts(Xs), y, theta, k, fit_intercept, n_threads, S)
        close(S, ref.scores(X, y, theta, model, fit_intercept=fit_intercept))
        mu = np.empty((n, k))
        _core.glm.predict_mean_csr(model, *parts(Xs), theta, k, fit_intercept, n_threads, mu)
        close(mu, ref_mean(X, theta, model, fit_intercept))
        kl = _core.glm.mean_kl_csr(model, *parts(Xs), theta, theta_q, k, fit_intercept, sw,
                                   n_threads)
        close(kl, ref.kl(X, theta, theta_q, model, sample_weight=sw, fit_intercept=fit_intercept))
        Fv = np.empty(p)
        quad = _core.glm.fisher_vector_product_csr(model, *parts(Xs), theta, v, k, fit_intercept,
                                                   sw, n_threads, Fv)
        Fv_ref, quad_ref = ref.fisher_vector_product(X, theta, v, model, sample_weight=sw,
                                                     fit_intercept=fit_intercept)
        close(Fv, Fv_ref)
        close(quad, quad_ref)
        labels = np.empty((n, 3))
        _core.glm.sample_labels_csr(model, *parts(Xs), theta, k, fit_intercept, 3, 7, n_threads,
                                    labels)
        expected = ref.sample_labels(X, theta, model, 3, 7, fit_intercept=fit_intercept)
        if model == "gaussian":
            close(labels, expected)
        else:
            np.testing.assert_array_equal(labels, expected)


@pytest.mark.parametrize("model", ["logistic", "probit", "poisson", "gaussian"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("structure", list(STRUCTURES))
def test_curvature_weights_csr_match_reference(model, kind, structure):
    n, d = 300, 5
    Xs, X, y, theta = sparse_problem(model, n, d, 1, seed=4, **STRUCTURES[structure])
    sw = np.random.default_rng(2).uniform(0.0, 2.0, size=n)
    eta = ref.linear_predictor(X, theta, True)
    W = ref.row_curvature(model, eta, y, kind, n_samples=3, seed=7, X=X, theta=theta,
                          fit_intercept=True)
    for n_threads in (1, 2):
        w = np.empty(n)
        _core.glm.curvature_weights_csr(model, *parts(Xs), y, theta, True, sw, kind, 3, 7,
                                        n_threads, w)
        close(w, sw * W[:, 0, 0])


@pytest.mark.parametrize("model", ALL_MODELS)
def test_the_csr_pass_equals_the_dense_pass_and_is_deterministic(model):
    """Same row blocks and ordered reduction as the dense pass: the CSR pass agrees with it
    to rounding, and repeats itself bit for bit at each thread count."""
    Xs, X, y, theta = sparse_problem(model, 2000, 8, 3, seed=9, density=0.3)
    k, p = n_classes(model, 3), theta.size
    for n_threads in (1, 2, 3):
        out = []
        for _ in range(2):
            g, c = np.empty(p), np.empty((p, p))
            loss, _ = _core.glm.fused_pass_csr(model, *parts(Xs), y, theta, k, True, None, "true",
                                               False, 1, 0, n_threads, g, c)
            out.append((loss, g, c))
        assert out[0][0] == out[1][0]
        np.testing.assert_array_equal(out[0][1], out[1][1])
        np.testing.assert_array_equal(out[0][2], out[1][2])
        gd, cd = np.empty(p), np.empty((p, p))
        loss_d, _ = _core.glm.fused_pass(model, X, y, theta, k, True, None, "true", False, 1, 0,
                                         n_threads, gd, cd)
        close(out[0][0], loss_d)
        close(out[0][1], gd)
        close(out[0][2], cd)


def test_a_matrix_without_nonzeros_gives_the_intercept_only_model():
    import scipy.sparse as sp

    Xs = sp.csr_matrix((20, 4))
    y = (np.arange(20) % 3 == 0).astype(float)
    theta = np.array([0.0, 0.0, 0.0, 0.0, 0.3])
    g, c = np.empty(5), np.empty((5, 5))
    loss, _ = _core.glm.fused_pass_csr("logistic", *parts(Xs), y, theta, 1, True, None, "true",
                                       False, 1, 0, 2, g, c)
    close(loss, ref.loss(np.zeros((20, 4)), y, theta, "logistic", fit_intercept=True))
    assert (g[:4] == 0).all() and (c[:4] == 0).all() and (c[:, :4] == 0).all() and c[4, 4] > 0


def bad_csr(**override):
    """A 6 x 3 CSR matrix of ones as the core's arguments, with some replaced."""
    args = dict(data=np.ones(18), indices=np.tile(np.arange(3, dtype=np.int32), 6),
                indptr=np.arange(0, 19, 3, dtype=np.int32), n_features=3)
    args.update(override)
    return args


def with_index(position, value):
    indices = np.tile(np.arange(3, dtype=np.int32), 6)
    indices[position] = value
    return dict(indices=indices)


@pytest.mark.parametrize("override,match", [
    (dict(indptr=np.array([0, 3, 2, 9, 12, 15, 18], np.int32)), "non-decreasing"),
    (dict(indptr=np.array([1, 3, 6, 9, 12, 15, 18], np.int32)), "start at 0"),
    (dict(indptr=np.array([0, 3, 6, 9, 12, 15, 17], np.int32)), "end at the number of nonzeros"),
    (dict(n_features=2), "column index 2 at row 0, outside"),
    (with_index(4, 7), "column index 7 at row 1"),
    (with_index(17, -1), "column index -1 at row 5"),
    (dict(indptr=np.array([0], np.int32)), "indptr must be 1-D with at least 2"),
    (dict(indices=np.zeros(17, np.int32)), "indices must have shape"),
])
def test_the_core_rejects_arrays_that_are_not_a_csr_matrix(override, match):
    args = bad_csr(**override)
    n = len(args["indptr"]) - 1
    y = np.zeros(max(n, 0))
    for n_threads in (1, 2):
        with pytest.raises(ValueError, match=match):
            _core.glm.fused_pass_csr("gaussian", *args.values(), y, np.zeros(args["n_features"]), 1,
                                     False, None, "true", False, 1, 0, n_threads,
                                     np.empty(args["n_features"]),
                                     np.empty((args["n_features"],) * 2))


def test_the_core_takes_index_arrays_of_one_dtype_without_conversion():
    args = bad_csr()
    call = lambda a: _core.glm.predict_mean_csr("gaussian", *a.values(), np.zeros(3), 1,  # noqa
                                                False, 1, np.empty((6, 1)))
    mean = np.empty((6, 1))
    _core.glm.predict_mean_csr("gaussian", *dict(args, indices=args["indices"].astype(np.int64),
                               indptr=args["indptr"].astype(np.int64)).values(),
                               np.ones(3), 1, False, 1, mean)
    np.testing.assert_array_equal(mean, 3.0)
    for dtypes in [(np.int64, np.int32), (np.int32, np.int64), (np.int16, np.int16),
                   (np.uint32, np.uint32), (np.float64, np.float64)]:
        with pytest.raises(TypeError):
            call(dict(args, indices=args["indices"].astype(dtypes[0]),
                      indptr=args["indptr"].astype(dtypes[1])))
    with pytest.raises(TypeError):
        call(dict(args, data=args["data"].astype(np.float32)))


def test_the_csr_kernels_check_their_arguments_as_the_dense_ones():
    Xs, _, y, theta = sparse_problem("multinomial", 30, 3, 3, seed=0)
    p = theta.size

    def pass_(model="multinomial", y=y, theta=theta, kind="mc", n_samples=1, curvature=True):
        return _core.glm.fused_pass_csr(model, *parts(Xs), y, theta, 3, True, None, kind, False,
                                        n_samples, 0, 1, np.empty(p),
                                        np.empty((p, p)) if curvature else None)

    pass_()
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        pass_(n_samples=0)
    with pytest.raises(ValueError, match="curvature_out is needed for kind 'true'"):
        pass_(kind="true", curvature=False)
    with pytest.raises(ValueError, match=r"theta must have shape \(12,\), got \(11,\)"):
        pass_(theta=theta[:-1])
    with pytest.raises(ValueError, match=r"y must have shape \(30,\)"):
        pass_(y=y[:-1])
    bad = y.copy()
    bad[4] = 3.0
    with pytest.raises(ValueError, match="labels must be integers in 0..2, got 3.0+ at row 4"):
        pass_(y=bad)
    with pytest.raises(ValueError, match="multinomial needs at least 2 classes, got 1"):
        _core.glm.curvature_weights_csr("multinomial", *parts(Xs), y, theta[:4], True, None,
                                        "true", 1, 0, 1, np.empty(30))
    with pytest.raises(ValueError, match="unknown model 'tobit'"):
        pass_(model="tobit")

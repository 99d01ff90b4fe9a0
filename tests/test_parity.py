"""Every compiled kernel against the NumPy reference, for every model and option."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ngdx
from ngdx import _core
from ngdx import _reference as ref
from ngdx._functional import fused

from conftest import ALL_MODELS, make_problem

RTOL = 1e-12
# n below one 256-row block, not a multiple of it, and several blocks; d = 1; K = 2.
SIZES = [(1, 1, 2), (7, 1, 2), (300, 4, 3), (777, 2, 2), (513, 6, 4)]


@pytest.fixture(params=_core.runtime.gram_kernels())
def gram_kernel(request):
    """Each Gram kernel this build and CPU can run (AVX-512 and portable on AVX-512 CPUs)."""
    _core.runtime.select_gram_kernel(request.param)
    yield request.param
    _core.runtime.select_gram_kernel("auto")


def close(a, b, rtol=RTOL):
    """Relative agreement, scaled by the largest entry (so exact zeros compare fine)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    scale = max(np.abs(b).max(), 1e-300)
    err = np.abs(a - b).max() / scale
    assert err <= rtol, f"relative error {err:.3g} > {rtol:.1g}"


@pytest.mark.parametrize("n,d,K", SIZES)
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_fused_pass_matches_reference(model, n, d, K, fit_intercept, weighted, n_threads,
                                     gram_kernel):
    X, y, theta = make_problem(model, n, d, K, seed=n + d, fit_intercept=True)
    if not fit_intercept:
        theta = theta.reshape(d + 1, -1)[:d].ravel()
    sw = np.random.default_rng(1).uniform(0.1, 2.0, size=n) if weighted else None
    kw = dict(sample_weight=sw, fit_intercept=fit_intercept)
    for kind in ("true", "empirical", "hessian", "mc"):
        for diagonal in (False, True):
            loss, grad, curv = fused(X, y, theta, model, kind, diagonal=diagonal, n_mc_samples=3,
                                     seed=11, n_threads=n_threads, **kw)
            close(loss, ref.loss(X, y, theta, model, **kw))
            close(grad, ref.grad(X, y, theta, model, **kw))
            close(curv, ref.curvature(X, y, theta, model, kind, diagonal=diagonal, n_samples=3,
                                      seed=11, **kw))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["none", "true"])
def test_fused_pass_sums_the_squares_of_X_when_asked(model, dtype, kind):
    # The Dask door's check of X, folded into a pass: finite exactly when every entry is
    # finite and no curvature sum overflows; the other outputs are unchanged by it.
    X, y, theta = make_problem(model, 301, 7, 3, seed=12, fit_intercept=True)
    X = X.astype(dtype)
    K = 3 if model == "multinomial" else 1
    p = theta.size
    for n_threads in (1, 2):
        g0, g1, q = np.empty(p), np.empty(p), np.empty(1)
        C0, C1 = (None, None) if kind == "none" else (np.empty((p, p)), np.empty((p, p)))
        args = (model, X, y, theta, K, True, None, kind, False, 1, 0, n_threads)
        plain = _core.glm.fused_pass(*args, g0, C0)
        with_squares = _core.glm.fused_pass(*args, g1, C1, q)
        assert plain == with_squares
        np.testing.assert_array_equal(g0, g1)
        if C0 is not None:
            np.testing.assert_array_equal(C0, C1)
        close(q[0], np.sum(X.astype(np.float64) ** 2), rtol=1e-13)
    for bad, expected in ((np.nan, np.isnan), (1e200, np.isposinf)):
        if dtype == np.float32 and bad == 1e200:
            continue  # float32 squares cannot overflow a float64 sum
        Xb = X.copy()
        Xb[150, 3] = bad
        _core.glm.fused_pass(model, Xb, y, theta, K, True, None, "none", False, 1, 0, 2,
                             np.empty(p), None, q)
        assert expected(q[0])


@pytest.mark.parametrize("n,d,K", SIZES)
def test_public_functions_match_reference(model, n, d, K):
    X, y, theta = make_problem(model, n, d, K, seed=3)
    flat = theta.ravel()
    close(ngdx.loss(X, y, theta, model), ref.loss(X, y, flat, model))
    g = ngdx.grad(X, y, theta, model)
    assert g.shape == theta.shape
    close(g.ravel(), ref.grad(X, y, flat, model))
    S = ngdx.scores(X, y, theta, model)
    close(S, ref.scores(X, y, flat, model))
    close(ngdx.hessian(X, y, theta, model), ref.curvature(X, y, flat, model, "hessian"))
    for kind in ("true", "empirical", "mc"):
        for diagonal in (False, True):
            close(ngdx.fisher(X, y, theta, model, kind, diagonal=diagonal, n_mc_samples=2, seed=4),
                  ref.curvature(X, y, flat, model, kind, diagonal=diagonal, n_samples=2, seed=4))
    theta_q = theta + np.random.default_rng(0).normal(scale=0.3, size=theta.shape)
    close(ngdx.kl(X, theta, theta_q, model), ref.kl(X, flat, theta_q.ravel(), model))


@pytest.mark.parametrize("n,d,K", SIZES)
@pytest.mark.parametrize("kind", ["true", "empirical", "mc", "hessian", None])
@pytest.mark.parametrize("diagonal", [False, True])
def test_value_grad_curvature_matches_reference_and_the_separate_calls(model, n, d, K, kind,
                                                                       diagonal):
    X, y, theta = make_problem(model, n, d, K, seed=3)
    flat = theta.ravel()
    value, g, curv = ngdx.value_grad_curvature(X, y, theta, model, kind, diagonal=diagonal,
                                               n_mc_samples=2, seed=4)
    close(value, ref.loss(X, y, flat, model))
    assert g.shape == theta.shape
    close(g.ravel(), ref.grad(X, y, flat, model))
    close(value, ngdx.loss(X, y, theta, model))
    close(g, ngdx.grad(X, y, theta, model))
    if kind is None:
        assert curv is None
        return
    close(curv, ref.curvature(X, y, flat, model, kind, diagonal=diagonal, n_samples=2, seed=4))
    if kind == "hessian":
        separate = ngdx.hessian(X, y, theta, model)
        separate = np.diag(separate) if diagonal else separate
        close(curv, separate)
    else:
        np.testing.assert_array_equal(curv, ngdx.fisher(X, y, theta, model, kind,
                                                        diagonal=diagonal, n_mc_samples=2,
                                                        seed=4))


@pytest.mark.parametrize("weighted", [False, True])
def test_kl_with_intercept_and_weights_matches_reference(model, weighted):
    X, _, tp = make_problem(model, 300, 3, 3, seed=5, fit_intercept=True)
    tq = tp + np.random.default_rng(2).normal(scale=0.4, size=tp.shape)
    sw = np.random.default_rng(1).uniform(0.0, 2.0, size=300) if weighted else None
    K = 3 if model == "multinomial" else 1
    for n_threads in (1, 2):
        got = _core.glm.mean_kl(model, X, tp, tq, K, True, sw, n_threads)
        close(got, ref.kl(X, tp, tq, model, sample_weight=sw, fit_intercept=True))


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_scores_with_intercept_match_reference(model, fit_intercept):
    X, y, theta = make_problem(model, 600, 3, 3, seed=8, fit_intercept=True)
    if not fit_intercept:
        theta = theta.reshape(4, -1)[:3].ravel()
    K = 3 if model == "multinomial" else 1
    for n_threads in (1, 2):
        out = np.empty((600, theta.size))
        _core.glm.scores(model, X, y, theta, K, fit_intercept, n_threads, out)
        close(out, ref.scores(X, y, theta, model, fit_intercept=fit_intercept))


def test_sampled_labels_match_reference(model):
    X, _, theta = make_problem(model, 400, 2, 4, seed=6, fit_intercept=True, scale=1.0)
    K = 4 if model == "multinomial" else 1
    out = np.empty((400, 5))
    _core.glm.sample_labels(model, X, theta, K, True, 5, 123, 2, out)
    expected = ref.sample_labels(X, theta, model, 5, 123, fit_intercept=True)
    if model == "gaussian":
        close(out, expected)
    else:
        np.testing.assert_array_equal(out, expected)


def test_poisson_loss_is_exact_across_the_log_factorial_table():
    # Whole counts below 256 take log y! from a table, others lgamma(y + 1): each row's loss
    # (one row per fit, so the mean is the row's) matches math.lgamma on both sides of the
    # table's edge, for counts that are not whole and for huge ones.
    ys = [0.0, 1.0, 2.0, 7.0, 254.0, 255.0, 256.0, 257.0, 1e6, 2.5, 255.5, 1e-300, 3e17]
    g = np.empty(1)
    for y in ys:
        for eta in (-2.0, 0.3):
            expected = math.exp(eta) - y * eta + math.lgamma(y + 1.0)
            got, _ = _core.glm.fused_pass("poisson", np.array([[1.0]]), np.array([y]),
                                          np.array([eta]), 1, False, None, "none", False, 1, 0,
                                          1, g, None)
            assert got == pytest.approx(expected, rel=1e-15, abs=1e-15), (y, eta)
            assert g[0] == pytest.approx(math.exp(eta) - y, rel=1e-15, abs=1e-15)


def test_poisson_sampler_uses_both_branches_and_matches_reference():
    # Rates from 0.05 to 400: inversion below 12, PTRS above.
    X = np.linspace(-3, 6, 500)[:, None]
    theta = np.array([1.0])
    out = np.empty((500, 4))
    _core.glm.sample_labels("poisson", X, theta, 1, False, 4, 9, 2, out)
    np.testing.assert_array_equal(out, ref.sample_labels(X, theta, "poisson", 4, 9))
    assert out[X[:, 0] > 4].mean() > 50  # the PTRS branch ran and drew large counts


@pytest.mark.parametrize("n,p", [(1, 1), (5, 3), (300, 7), (1000, 40)])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_fisher_from_scores_matches_reference(n, p, n_threads):
    S = np.random.default_rng(n * p).normal(size=(n, p))
    for diagonal in (False, True):
        close(ngdx.fisher_from_scores(S, diagonal=diagonal, n_threads=n_threads),
              ref.fisher_from_scores(S, diagonal=diagonal))


@pytest.mark.parametrize("p", [1, 2, 10, 60])
@pytest.mark.parametrize("damping", [0.0, 0.1, 10.0])
def test_natural_gradient_matches_reference(p, damping):
    rng = np.random.default_rng(p)
    A = rng.normal(size=(p + 3, p))
    F = A.T @ A / (p + 3)
    g = rng.normal(size=p)
    x = ngdx.natural_gradient(F, g, damping)
    close(x, ref.natural_gradient(F, g, damping), rtol=1e-10)
    close((F + damping * np.eye(p)) @ x, g, rtol=1e-10)


@pytest.mark.parametrize("p", [1, 2, 10, 60, 301])
@pytest.mark.parametrize("damping", [0.0, 0.1])
def test_cholesky_factor_in_place_then_solves_match_reference(p, damping):
    rng = np.random.default_rng(p)
    A = rng.normal(size=(p + 3, p))
    F = A.T @ A / (p + 3)
    factor = F.copy()
    assert _core.linalg.damped_cholesky_factor(factor, damping)
    for seed in range(3):  # one factorization, several right-hand sides
        g = np.random.default_rng(seed).normal(size=p)
        x = np.empty(p)
        _core.linalg.cholesky_solve(factor, g, x)
        close(x, ref.natural_gradient(F, g, damping), rtol=1e-10)


def test_cholesky_factor_reports_a_matrix_that_is_not_positive_definite():
    F = np.array([[1.0, 2.0], [2.0, 1.0]])  # eigenvalues 3 and -1
    assert not _core.linalg.damped_cholesky_factor(F.copy(), 0.0)
    assert _core.linalg.damped_cholesky_factor(F.copy(), 1.5)
    assert not _core.linalg.damped_cholesky_factor(np.zeros((3, 3)), 0.0)


def test_cholesky_bindings_check_shapes():
    with pytest.raises(ValueError, match="A must be a square matrix"):
        _core.linalg.damped_cholesky_factor(np.ones((2, 3)), 0.0)
    with pytest.raises(ValueError, match="factor must be a square matrix"):
        _core.linalg.cholesky_solve(np.ones(3), np.ones(3), np.empty(3))
    with pytest.raises(ValueError, match="g"):
        _core.linalg.cholesky_solve(np.eye(3), np.ones(2), np.empty(3))


def test_fisher_of_scores_is_empirical_fisher(model):
    X, y, theta = make_problem(model, 400, 3, 3, seed=12)
    close(ngdx.fisher_from_scores(ngdx.scores(X, y, theta, model)),
          ngdx.fisher(X, y, theta, model, "empirical"))


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_fisher_vector_product_matches_reference(model, fit_intercept, weighted):
    X, _, theta = make_problem(model, 700, 3, 3, seed=14, fit_intercept=True)
    if not fit_intercept:
        theta = theta.reshape(4, -1)[:3].ravel()
    v = np.random.default_rng(3).normal(size=theta.size)
    sw = np.random.default_rng(4).uniform(0, 2, size=700) if weighted else None
    K = 3 if model == "multinomial" else 1
    want_Fv, want_quad = ref.fisher_vector_product(X, theta, v, model, sample_weight=sw,
                                                   fit_intercept=fit_intercept)
    for n_threads in (1, 2):
        out = np.empty(theta.size)
        quad = _core.glm.fisher_vector_product(model, X, theta, v, K, fit_intercept, sw, n_threads,
                                           out)
        close(out, want_Fv)
        close(quad, want_quad)


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_misclassification_count_matches_reference(model, fit_intercept):
    X, y, theta = make_problem(model, 900, 3, 3, seed=15, fit_intercept=True, scale=2.0)
    if not fit_intercept:
        theta = theta.reshape(4, -1)[:3].ravel()
    sw = np.random.default_rng(5).integers(0, 3, size=900).astype(float)  # zeros don't count
    K = 3 if model == "multinomial" else 1
    want = ref.n_misclassified(X, y, theta, model, sample_weight=sw, fit_intercept=fit_intercept)
    if model in ("logistic", "probit", "multinomial"):
        assert 0 < want < 900
    for n_threads in (1, 2):
        _, count = _core.glm.fused_pass(model, X, y, theta, K, fit_intercept, sw, "none", False, 1,
                                    0, n_threads, np.empty(theta.size), None)
        assert count == want


@pytest.mark.parametrize("model", ["logistic", "probit", "poisson", "gaussian"])
@pytest.mark.parametrize("kind", ["true", "empirical", "hessian", "mc"])
def test_curvature_weights_rebuild_the_curvature(model, kind):
    X, y, theta = make_problem(model, 600, 3, seed=16, fit_intercept=True)
    sw = np.random.default_rng(6).uniform(0, 2, size=600)
    for n_threads in (1, 2):
        w = np.empty(600)
        _core.glm.curvature_weights(model, X, y, theta, True, sw, kind, 3, 7, n_threads, w)
        X1 = np.hstack([X, np.ones((600, 1))])
        close(X1.T @ (w[:, None] * X1) / sw.sum(),
              ref.curvature(X, y, theta, model, kind, n_samples=3, seed=7, sample_weight=sw,
                            fit_intercept=True))

"""ngdx.bayes.fit's API: the Laplace method, empirical Bayes, weights, layouts, threads,
the posterior's predictions and draws, and validation at the door."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import ngdx
from ngdx import _reference as ref
from ngdx._result import convergence_warning

from bayes_problems import ONE_OUTPUT, augment, make_data, prior_diag


def neg_log_post_grad(model, X, y, fit_intercept, alpha, theta):
    r = ref.row_dloss(model, augment(X, fit_intercept) @ theta[:, None], y)[:, 0]
    return augment(X, fit_intercept).T @ r + prior_diag(X.shape[1], alpha, fit_intercept) * theta


@pytest.mark.parametrize("model", ONE_OUTPUT)
def test_laplace_is_map_and_inverse_hessian(model):
    X, y = make_data(model, n=70)
    alpha = 0.8
    post = ngdx.bayes.fit(X, y, model, prior_precision=alpha, method="laplace")
    grad = lambda t: neg_log_post_grad(model, X, y, True, alpha, t)  # noqa: E731
    p, h = post.mean.size, 1e-5
    H = np.empty((p, p))
    for j in range(p):
        e = np.zeros(p)
        e[j] = h
        H[:, j] = (grad(post.mean + e) - grad(post.mean - e)) / (2 * h)
    scale = np.sqrt(np.diag(H))
    np.testing.assert_allclose(grad(post.mean) / scale, 0.0, atol=1e-9)
    np.testing.assert_allclose(post.covariance, np.linalg.inv(H), rtol=1e-6,
                               atol=1e-8 / scale.min() ** 2)


@pytest.mark.parametrize("model", ["logistic", "poisson", "gaussian"])
def test_auto_prior_precision_is_a_stationary_point_of_the_elbo(model):
    X, y = make_data(model, n=60)
    post = ngdx.bayes.fit(X, y, model, prior_precision="auto")
    a = post.prior_precision
    assert post.converged and a != 1.0 and post.history["prior_precision"][0] == 1.0

    def slope(alpha, h=1e-3):
        up = ngdx.bayes.fit(X, y, model, prior_precision=alpha * (1 + h)).elbo
        down = ngdx.bayes.fit(X, y, model, prior_precision=alpha * (1 - h)).elbo
        return (up - down) / (2 * h)  # d ELBO / d log alpha; its scale is n_coef / 2 = 1.5

    assert abs(slope(a)) < 1e-5
    assert abs(slope(2 * a)) > 0.1  # away from it, the ELBO moves with alpha
    # the fixed alpha's fit at the chosen value is the same posterior
    fixed = ngdx.bayes.fit(X, y, model, prior_precision=a)
    np.testing.assert_allclose(fixed.mean, post.mean, atol=1e-6)


def test_auto_laplace_is_exact_evidence_maximum_for_gaussian():
    # For a Gaussian posterior the Laplace evidence is exact and MacKay's update is its
    # fixed point, which then agrees with the VI (EM) one.
    X, y = make_data("gaussian", n=60, fit_intercept=False)
    lap = ngdx.bayes.fit(X, y, "gaussian", prior_precision="auto", method="laplace",
                         fit_intercept=False, max_iter=500)
    vi = ngdx.bayes.fit(X, y, "gaussian", prior_precision="auto", fit_intercept=False,
                        max_iter=500)
    assert lap.prior_precision == pytest.approx(vi.prior_precision, rel=1e-5)


@pytest.mark.parametrize("model", ONE_OUTPUT)
@pytest.mark.parametrize("method", ["vi", "laplace"])
def test_weight_two_is_the_row_twice(model, method):
    X, y = make_data(model, n=40)
    s = np.ones(40)
    s[:10] = 2.0
    s[10:15] = 0.0
    keep = s > 0
    X2 = np.vstack([X[keep], X[:10]])
    y2 = np.concatenate([y[keep], y[:10]])
    a = ngdx.bayes.fit(X, y, model, sample_weight=s, method=method)
    b = ngdx.bayes.fit(X2, y2, model, method=method)
    np.testing.assert_allclose(a.mean, b.mean, atol=1e-8)
    np.testing.assert_allclose(a.covariance, b.covariance, rtol=1e-7, atol=1e-10)
    assert a.elbo == pytest.approx(b.elbo, rel=1e-9)


@pytest.mark.parametrize("model", ONE_OUTPUT)
def test_sparse_and_float32_equal_dense_float64(model):
    X, y = make_data(model, n=60)
    X = X.astype(np.float32)
    X[np.abs(X) < 0.5] = 0.0
    dense = ngdx.bayes.fit(X.astype(np.float64), y, model)
    for other in (X, sp.csr_matrix(X.astype(np.float64))):  # a float32 CSR is converted
        post = ngdx.bayes.fit(other, y, model)
        np.testing.assert_allclose(post.mean, dense.mean, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(post.covariance, dense.covariance, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(post.predict(other), dense.predict(X), rtol=1e-9)


def test_deterministic_for_a_thread_count():
    X, y = make_data("logistic", n=3000, d=5, seed=2)
    runs = [ngdx.bayes.fit(X, y, n_threads=t) for t in (1, 1, 2, 2)]
    np.testing.assert_array_equal(runs[0].covariance, runs[1].covariance)
    np.testing.assert_array_equal(runs[2].mean, runs[3].mean)
    np.testing.assert_array_equal(runs[2].covariance, runs[3].covariance)
    np.testing.assert_allclose(runs[0].covariance, runs[2].covariance, rtol=1e-12)


@pytest.mark.parametrize("model", ONE_OUTPUT)
def test_predictive_mean_matches_monte_carlo(model):
    X, y = make_data(model, n=50)
    post = ngdx.bayes.fit(X, y, model, prior_precision=3.0)
    mean = post.predict(X[:8])
    draws = post.predict(X[:8], kind="samples", n_samples=40000, seed=1)
    assert draws.shape == (40000, 8)
    se = draws.std(axis=0) / np.sqrt(40000)
    assert np.all(np.abs(draws.mean(axis=0) - mean) <= 5 * se + 1e-12)
    # the plug-in prediction at the mean differs (the predictive mean averages over q)
    if model != "gaussian":
        plug = ngdx.fit(X, y, model, l2=3.0 / 50).predict(X[:8])
        assert np.max(np.abs(plug - mean) / se) > 10


def test_sample_draws_from_q():
    X, y = make_data("poisson", n=50)
    post = ngdx.bayes.fit(X, y, "poisson")
    draws = post.sample(200000, seed=3)
    assert draws.shape == (200000, 4)
    np.testing.assert_array_equal(draws[:5], post.sample(5, seed=3))
    np.testing.assert_allclose(draws.mean(axis=0), post.mean,
                               atol=5 * np.sqrt(np.diag(post.covariance).max() / 200000))
    np.testing.assert_allclose(np.cov(draws.T), post.covariance,
                               atol=0.02 * np.diag(post.covariance).max())


def test_result_attributes_and_history():
    X, y = make_data("probit", n=60)
    post = ngdx.bayes.fit(X, y, "probit", fit_intercept=False)
    assert post.mean_intercept == 0.0 and post.mean_coef.shape == (3,)
    assert post.covariance.shape == (3, 3) and post.prior_precision == 1.0
    assert len(post.history["elbo"]) == post.n_iter + 1 == len(post.history["kl"])
    assert post.elbo == post.history["elbo"][-1]
    assert post.n_iter <= 12 and "converged" in post.message and "probit" in repr(post)
    assert set(post.history["lr"]) == {1.0}  # a fast contraction keeps the full step


def _fixed_point_residuals(X, y, post, alpha=1.0):
    """The rule's fixed-point equations at the returned q, by the same quadrature: the
    S-weighted norm of E_q[grad] + P m, and the relative gap between S^-1 and E_q[H] + P."""
    from ngdx._models.families import get_family
    from ngdx.bayes._fit import build_problem
    from ngdx.bayes._rule import Gaussian, Prior

    problem = build_problem(X, y, get_family(post.model), None, True, 32, 1)
    prior = Prior(alpha, problem.prior_mask, problem.null)
    q = Gaussian.from_precision(post.mean, np.linalg.inv(post.covariance))
    terms = problem.terms(q.mean, q.factor())
    g = terms.grad + prior.precision() @ q.mean
    gap = q.precision - (terms.hess + prior.precision())
    return float(np.sqrt(g @ post.covariance @ g)), float(np.abs(gap).max() / np.abs(q.precision).max())


def test_step_halves_when_the_rule_oscillates():
    # Nearly separable data: the full step overshoots and the mean's moves alternate while
    # they shrink slowly; halving rho on such a reversal ends it (82 steps with the full
    # step throughout). The step stops at the fixed point, not at a tiny step short of it.
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = y.astype(float)
    post = ngdx.bayes.fit(X, y, "logistic")
    lr = np.array(post.history["lr"])
    assert post.converged and post.n_iter <= 45
    assert lr[0] == 1.0 and lr[-1] < 1.0 and set(np.diff(np.log2(lr))) <= {0.0, -1.0}
    grad, gap = _fixed_point_residuals(X, y, post)
    assert grad < 1e-5 and gap < 1e-6
    # easy data keep the full step: the conjugate gaussian in one step
    Xg, yg = make_data("gaussian", n=60)
    assert set(ngdx.bayes.fit(Xg, yg, "gaussian").history["lr"]) == {1.0}


def test_auto_prior_does_not_cycle_on_a_breast_cancer_split():
    # Under "auto" the prior precision moves with q, and the full step alternated between
    # two posteriors (KLs 0.122, 0.087, 0.122, ... for 300 steps) on this split: the
    # steps stopped shrinking, so rho is halved, and the fit converges.
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True)
    Xa, _, ya, _ = train_test_split(X, y.astype(float), train_size=0.7, random_state=1,
                                    stratify=y)
    Xa = (Xa - Xa.mean(axis=0)) / Xa.std(axis=0)
    post = ngdx.bayes.fit(Xa, ya, "logistic", prior_precision="auto", tol=1e-10, max_iter=300)
    assert post.converged and min(post.history["lr"]) < 1.0
    grad, gap = _fixed_point_residuals(Xa, ya, post, post.prior_precision)
    assert grad < 1e-4 and gap < 1e-5


def test_halving_rules_on_synthetic_histories():
    from ngdx.bayes._fit import not_contracting, reversing

    P = np.diag([1.0, 4.0])
    assert reversing([np.array([1.0, 0.0]), np.array([-0.9, 0.1])], P)
    assert not reversing([np.array([1.0, 0.0]), np.array([0.5, 0.5])], P)
    assert not reversing([np.array([1.0, 0.0])], P)
    # orthogonal in the Euclidean metric, reversed in P's: (1, 1) . P (1, -1) = 1 - 4 < 0
    assert reversing([np.array([1.0, 1.0]), np.array([1.0, -1.0])], P)
    assert not_contracting([1e-3, 2e-3], [1.0, 1.0, 1.0], 1.0)            # grew
    assert not_contracting([1e-3, 5e-4, 1e-3], [1.0] * 4, 1.0)           # a 2-cycle
    assert not not_contracting([1e-3, 5e-4, 2e-4], [1.0] * 4, 1.0)       # shrinking
    assert not not_contracting([1e-3, 2e-3], [1.0, 0.5, 0.5], 0.5)       # new step size
    assert not not_contracting([1e-13, 2e-13], [1.0, 1.0, 1.0], 1.0)     # rounding level


def test_max_iter_warns_and_callback_stops(capsys):
    X, y = make_data("logistic", n=60)
    with pytest.warns(convergence_warning(), match="max_iter=1"):
        post = ngdx.bayes.fit(X, y, max_iter=1, lr=0.5, verbose=True)
    assert post.n_iter == 1 and not post.converged
    assert "elbo" in capsys.readouterr().out
    seen = []
    with pytest.warns(convergence_warning(), match="callback"):
        ngdx.bayes.fit(X, y, lr=0.5, callback=lambda q: seen.append(q.elbo) or len(seen) == 3)
    assert len(seen) == 3


def test_lr_below_one_reaches_the_same_posterior():
    X, y = make_data("logistic", n=60)
    full = ngdx.bayes.fit(X, y)
    half = ngdx.bayes.fit(X, y, lr=0.5, tol=1e-16, max_iter=200)
    np.testing.assert_allclose(half.mean, full.mean, atol=1e-7)
    assert half.n_iter > full.n_iter


@pytest.mark.parametrize("kwargs, match", [
    ({"prior_precision": 0.0}, "prior_precision"),
    ({"prior_precision": "mackay"}, "prior_precision"),
    ({"prior_precision": np.nan}, "prior_precision"),
    ({"lr": 1.5}, r"lr must be in \(0, 1\]"),
    ({"lr": 0.0}, "lr"),
    ({"n_quadrature": 0}, "n_quadrature"),
    ({"n_quadrature": 2.5}, "n_quadrature"),
    ({"method": "mcmc"}, "method"),
    ({"max_iter": 0}, "max_iter"),
    ({"tol": -1.0}, "tol"),
    ({"fit_intercept": "no"}, "fit_intercept"),
    ({"sample_weight": -np.ones(20)}, "sample_weight"),
    ({"sample_weight": np.ones(3)}, "sample_weight"),
    ({"model": "tweedie"}, "unknown model"),
    ({"callback": 3}, "callback"),
    ({"verbose": "yes"}, "verbose"),
])
def test_bad_arguments_raise_naming_them(kwargs, match):
    X, y = make_data("logistic", n=20)
    with pytest.raises(ValueError, match=match):
        ngdx.bayes.fit(X, y, **kwargs)


def test_bad_data_raises():
    X, y = make_data("logistic", n=20)
    with pytest.raises(ValueError, match="y for model 'logistic' must be 0 or 1"):
        ngdx.bayes.fit(X, y + 2)
    with pytest.raises(ValueError, match="X must be finite"):
        ngdx.bayes.fit(np.where(X > 1, np.inf, X), y)
    with pytest.raises(ValueError, match="y has 19 entries"):
        ngdx.bayes.fit(X, y[:-1])
    post = ngdx.bayes.fit(X, y)
    with pytest.raises(ValueError, match="X has 2 columns"):
        post.predict(np.ascontiguousarray(X[:, :2]))
    with pytest.raises(ValueError, match="kind"):
        post.predict(X, kind="median")
    with pytest.raises(ValueError, match="n must be"):
        post.sample(0)


def test_inputs_are_not_modified():
    X, y = make_data("poisson", n=40)
    s = np.linspace(0.5, 2.0, 40)
    copies = X.copy(), y.copy(), s.copy()
    post = ngdx.bayes.fit(X, y, "poisson", sample_weight=s, prior_precision="auto")
    post.predict(X, kind="samples", n_samples=3, seed=0)
    for a, b in zip((X, y, s), copies):
        np.testing.assert_array_equal(a, b)


def test_kl_to_go_extrapolates_a_steady_contraction_only():
    from ngdx.bayes._fit import kl_to_go

    # steps whose lengths shrink by rho = 0.01: KL_k rho^2 / (1 - rho)^2 still to go
    assert kl_to_go([1e-2, 1e-6], [1.0, 1.0, 1.0]) == pytest.approx(1e-6 * 1e-4 / 0.99**2)
    assert kl_to_go([1e-6], [1.0, 1.0]) == np.inf                  # one step: no rate
    assert kl_to_go([1e-2, 1e-6], [1.0, 0.5, 0.5]) == np.inf      # the step size changed
    assert kl_to_go([1e-2, 1e-6], [1.0, 1.0, 0.5]) == np.inf      # ... and is changing now
    assert kl_to_go([1e-2, 0.3e-2], [1.0, 1.0, 1.0]) == np.inf    # rho > 1/2: no clear rate
    assert kl_to_go([0.0, 0.0], [1.0, 1.0, 1.0]) == np.inf


def test_stopping_on_the_kl_to_go_returns_the_fixed_point():
    # the fit that stops early on the extrapolated KL is where a fit run to tol = 0 ends
    X, y = make_data("logistic", n=20_000, d=5, seed=4)
    early = ngdx.bayes.fit(X, y, "logistic")
    assert early.converged and "still to go" in early.message
    late = ngdx.bayes.fit(X, y, "logistic", tol=0.0, max_iter=12)
    sd = np.sqrt(np.diag(late.covariance))
    np.testing.assert_allclose(early.mean / sd, late.mean / sd, atol=1e-6)
    np.testing.assert_allclose(early.covariance, late.covariance, rtol=1e-6)

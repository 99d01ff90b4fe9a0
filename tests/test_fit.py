"""The contract of ngdx.fit: methods, steps, damping, convergence, failure paths, results."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ngdx
from ngdx import ConvergenceWarning

from conftest import ALL_MODELS


def data(model, n=400, d=4, K=3, seed=0):
    """Well-posed data drawn from the model (an intercept of 0.3)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[:, 1] += 0.8 * X[:, 0]  # correlated features
    if model == "multinomial":
        eta = X @ rng.normal(scale=0.5, size=(d, K)) + 0.3
        p = np.exp(eta - eta.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        y = (rng.random((n, 1)) > p.cumsum(1)).sum(1).astype(float)
        return X, y
    eta = X @ rng.normal(scale=0.5, size=d) + 0.3
    if model in ("logistic", "probit"):
        return X, (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    if model == "poisson":
        return X, rng.poisson(np.exp(eta)).astype(float)
    return X, eta + rng.normal(size=n)


def objective(res, X, y, model, l2=0.0):
    theta = res.coef
    b = res.intercept
    X1 = np.hstack([X, np.ones((len(X), 1))])
    full = np.vstack([np.reshape(theta, (X.shape[1], -1)), np.reshape(b, (1, -1))])
    full = full if model == "multinomial" else full[:, 0]
    return ngdx.loss(X1, y, full, model) + 0.5 * l2 * np.sum(np.square(theta))


# ------------------------------------------------------------------ optimum
@pytest.mark.parametrize("model,method", [
    (m, method) for m in ALL_MODELS for method in ("gd", "ngd", "diag", "newton", "kfac")
    if method != "kfac" or m == "multinomial"])  # kfac's error for others: tested below
def test_every_method_reaches_the_same_optimum(model, method):
    X, y = data(model, n=300, d=3)
    l2 = 1e-2
    ref = ngdx.fit(X, y, model, "newton", l2=l2, tol=1e-12)
    res = ngdx.fit(X, y, model, method, l2=l2, tol=1e-9, max_iter=20000,
                   step="armijo" if method in ("gd", "diag") else "fixed")
    assert ref.converged and res.converged, res.message
    np.testing.assert_allclose(res.coef, ref.coef, atol=1e-6)
    np.testing.assert_allclose(res.intercept, ref.intercept, atol=1e-6)


@pytest.mark.parametrize("fisher", ["true", "empirical", "mc"])
def test_ngd_with_each_fisher_reaches_the_optimum(model, fisher):
    X, y = data(model, n=300, d=3)
    ref = ngdx.fit(X, y, model, "newton", tol=1e-12)
    res = ngdx.fit(X, y, model, "ngd", fisher=fisher, n_mc_samples=4, seed=0, tol=1e-9,
                   max_iter=500)
    assert res.converged, res.message
    np.testing.assert_allclose(res.coef, ref.coef, atol=1e-6)


def test_default_ngd_converges_quickly_without_tuning(model):
    X, y = data(model, n=2000, d=6)
    res = ngdx.fit(X, y, model)
    assert res.converged and res.n_iter <= 25, (res.n_iter, res.message)
    assert res.history["grad_norm"][-1] <= 1e-8


def test_probit_newton_differs_from_fisher_scoring_but_reaches_the_same_point():
    X, y = data("probit")
    a = ngdx.fit(X, y, "probit", "newton", damping=0.0)
    b = ngdx.fit(X, y, "probit", "ngd", damping=0.0)
    assert not np.allclose(a.history["objective"][1], b.history["objective"][1], rtol=1e-8, atol=0)
    np.testing.assert_allclose(a.coef, b.coef, atol=1e-7)


@pytest.mark.parametrize("model", ["logistic", "poisson", "gaussian", "multinomial"])
def test_canonical_newton_equals_fisher_scoring(model):
    X, y = data(model)
    a = ngdx.fit(X, y, model, "newton", damping=0.0, tol=0, max_iter=4)
    b = ngdx.fit(X, y, model, "ngd", damping=0.0, tol=0, max_iter=4)
    np.testing.assert_allclose(a.history["objective"], b.history["objective"], rtol=1e-13)


# ------------------------------------------------------------------ objective
def test_sample_weight_two_equals_the_row_twice(model):
    X, y = data(model, n=200)
    w = np.ones(200)
    w[:50] = 2.0
    a = ngdx.fit(X, y, model, sample_weight=w, l2=0.01, tol=1e-11)
    b = ngdx.fit(np.vstack([X, X[:50]]), np.concatenate([y, y[:50]]), model, l2=0.01, tol=1e-11)
    np.testing.assert_allclose(a.coef, b.coef, atol=1e-8)
    np.testing.assert_allclose(a.intercept, b.intercept, atol=1e-8)
    np.testing.assert_allclose(a.history["objective"][-1], b.history["objective"][-1], rtol=1e-12)


def test_intercept_is_not_penalized():
    X, y = data("gaussian")
    y = y + 50.0
    res = ngdx.fit(X, y, "gaussian", l2=100.0)
    np.testing.assert_allclose(res.coef, 0.0, atol=0.05)  # shrunk
    assert abs(res.intercept - y.mean()) < 0.1  # free


def test_loss_history_is_the_penalized_objective(model):
    X, y = data(model)
    res = ngdx.fit(X, y, model, l2=0.05)
    assert np.isclose(res.history["objective"][-1], objective(res, X, y, model, 0.05), rtol=1e-12)


def test_multinomial_shift_is_removed():
    X, y = data("multinomial", K=4)
    for l2 in (0.0, 0.1):
        res = ngdx.fit(X, y, "multinomial", l2=l2)
        assert abs(res.intercept.sum()) < 1e-12
        if l2 == 0.0:
            np.testing.assert_allclose(res.coef.sum(axis=1), 0.0, atol=1e-12)
        assert res.converged and res.n_cholesky_failures == 0


def test_fit_intercept_false_fits_through_the_origin(model):
    X, y = data(model)
    res = ngdx.fit(X, y, model, fit_intercept=False)
    assert np.all(np.asarray(res.intercept) == 0.0)
    theta = res.coef
    assert np.abs(ngdx.grad(X, y, theta, model)).max() <= 1e-8


# ------------------------------------------------------------------ steps and damping
def test_armijo_never_increases_the_objective(model):
    X, y = data(model)
    for method in ("gd", "ngd", "diag"):
        res = ngdx.fit(X, y, model, method, step="armijo", lr=5.0, damping=0.0,
                       max_iter=5000, tol=1e-9)
        loss = res.history["objective"]
        # never increases (beyond the rounding of f itself, once steps are that small)
        assert np.all(np.diff(loss) <= 8 * np.finfo(float).eps * loss[:-1]), method
        assert res.converged, method


def test_kl_step_never_exceeds_max_kl(model):
    X, y = data(model)
    for method in ("gd", "ngd", "diag"):
        res = ngdx.fit(X, y, model, method, step="kl", max_kl=1e-3, max_iter=3000, tol=1e-8,
                       coef_init=np.full((4, 3) if model == "multinomial" else 4, 0.5))
        kl = res.history["kl"][1:]
        assert kl.max() <= 1e-3 * (1 + 1e-9)
        assert kl.max() >= 0.5e-3  # the trust region was active
        assert res.converged, (method, res.message)


def test_recorded_kl_is_the_kl_of_the_step_taken():
    # history["kl"] is 1/2 d^T F d with the true Fisher: for small steps, the exact KL
    # between the predictive distributions before and after the step.
    X, y = data("logistic")
    thetas = []

    def record(r):
        thetas.append(np.append(r.coef, r.intercept))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = ngdx.fit(X, y, method="gd", max_iter=4, tol=0, lr=0.5, callback=record)
    X1 = np.hstack([X, np.ones((len(X), 1))])
    for a, b, quad in zip(thetas[:-1], thetas[1:], res.history["kl"][2:]):
        assert abs(quad / ngdx.kl(X1, a, b) - 1) < 0.05


def test_adaptive_damping_rejects_bad_steps_without_counting_them():
    X, y = data("poisson")
    bad_start = np.full(4, 2.0)  # far from the optimum: full Newton steps overshoot
    res = ngdx.fit(X, y, "poisson", "ngd", coef_init=bad_start, damping="adaptive")
    assert res.converged
    loss = res.history["objective"]
    # accepted steps decrease f, up to the resolution of its evaluation (sqrt(n) 4 eps |f|)
    assert np.all(np.diff(loss) <= np.sqrt(len(y)) * 4 * np.finfo(float).eps * loss[:-1])
    assert len(loss) == res.n_iter + 1
    assert res.history["damping"][1] > 0


def test_final_newton_steps_below_the_rounding_of_f_are_judged_by_the_gradient():
    # With 1e5 rows f's rounding (~sqrt(n) eps |f|) exceeds the last steps' decrease:
    # judged by f alone they were rejected until the damping blew up (max_iter reached,
    # damping ~ 69, before the gradient rule).
    rng = np.random.default_rng(0)
    n, d = 100_000, 50
    X = rng.normal(size=(n, d))
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ rng.normal(scale=0.3, size=d))))).astype(float)
    res = ngdx.fit(X, y, tol=1e-13)
    assert res.converged and res.n_iter <= 7
    assert np.all(np.diff(res.history["damping"][1:]) < 0)  # no step rejected


def _solver(X, y, model, method="ngd", **kw):
    """(solver, theta0) as ngdx.fit would run them, with every other argument at fit's
    default: the seam the tests replace a policy through."""
    import inspect

    from ngdx import _fit

    defaults = {k: v.default for k, v in inspect.signature(ngdx.fit).parameters.items()
                if v.default is not inspect.Parameter.empty and k not in ("model", "method")}
    return _fit.build(X, y, model, method, **{**defaults, **kw})


@pytest.mark.parametrize("model", ["logistic", "poisson", "multinomial"])
def test_no_curvature_is_computed_at_the_converged_point(model):
    X, y = data(model, n=2000)
    res = ngdx.fit(X, y, model, tol=1e-12)
    assert res.converged
    curvature = res.history["curvature"]
    assert curvature[-1] == 0  # the last point needed only f and its gradient
    assert (curvature[:-1] == 1).all() and res.n_curvatures == res.n_iter  # one per step
    assert res.history["passes"][0] == 1 + (model == "multinomial")  # + the input Gram
    assert (res.history["passes"][1:] == 1).all()  # each step: its trial pass, nothing else


@pytest.mark.parametrize("model", ["logistic", "multinomial"])
def test_a_wrong_guess_of_the_last_step_costs_a_pass_not_the_answer(model):
    from ngdx._solver import CurvatureSchedule

    class AlwaysFinal(CurvatureSchedule):
        def likely_final(self, state):
            return True

    X, y = data(model, n=2000)
    expected = ngdx.fit(X, y, model, tol=1e-12)
    solver, theta = _solver(X, y, model, tol=1e-12)
    s = solver.schedule
    solver.schedule = AlwaysFinal(exact=s.exact, reuse=s.reuse, cost=s.cost, tol=s.tol)
    res = solver.run(theta)
    assert res.n_iter == expected.n_iter
    np.testing.assert_allclose(res.coef, expected.coef, rtol=0, atol=1e-12)
    # every accepted trial lacked the curvature: computed again at each iterate but the last
    assert (res.history["curvature"][:-1] == 1).all() and res.history["curvature"][-1] == 0
    assert res.n_curvatures == res.n_iter
    assert (res.history["passes"][2:] == 2).all()  # a trial pass and a curvature pass
    assert res.n_passes - expected.n_passes == res.n_iter - 1


@pytest.mark.parametrize("model", ["logistic", "probit", "poisson", "multinomial"])
@pytest.mark.parametrize("method", ["ngd", "newton"])
def test_reused_curvature_reaches_the_same_optimum_with_fewer_curvatures(model, method):
    X, y = data(model, n=3000, d=6)
    expected = ngdx.fit(X, y, model, method, tol=1e-11, reuse_curvature=False)
    res = ngdx.fit(X, y, model, method, tol=1e-11, reuse_curvature=True)
    assert res.converged
    np.testing.assert_allclose(res.coef, expected.coef, rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.intercept, expected.intercept, rtol=0, atol=1e-9)
    assert res.n_curvatures < res.n_iter  # some steps reused a curvature
    assert res.n_curvatures == res.history["curvature"].sum()  # refreshes at iterates only
    assert expected.n_curvatures >= expected.n_iter


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_multinomial_fisher_at_zero_coef_is_the_kronecker_product(fit_intercept, weighted):
    from ngdx._data import ArrayRows
    from ngdx._models import FAMILIES, GLMObjective

    X, y = data("multinomial", n=500, d=5, K=3)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, 500) if weighted else None
    rows = ArrayRows(X, y, sample_weight=sw, fit_intercept=fit_intercept, n_threads=2)
    obj = GLMObjective(rows, FAMILIES["multinomial"], 3, l2=0.3)
    theta = np.zeros(obj.p)
    if fit_intercept:
        theta[-3:] = [0.4, -0.2, 0.1]
    _, _, F, _ = obj.evaluate(theta, "true")
    np.testing.assert_allclose(obj.fisher_at_zero_coef(theta), F, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("model,method", [
    ("logistic", "ngd"), ("probit", "ngd"), ("poisson", "ngd"), ("gaussian", "ngd"),
    ("multinomial", "ngd"), ("logistic", "newton"), ("poisson", "newton"),
    ("multinomial", "newton")])
def test_conjugate_gradient_reaches_the_cholesky_optimum_without_a_p_by_p_matrix(
        model, method):
    import tracemalloc

    X, y = data(model, n=3000, d=6)
    expected = ngdx.fit(X, y, model, method, tol=1e-11, linear_solver="cholesky")
    res = ngdx.fit(X, y, model, method, tol=1e-11, linear_solver="cg")
    assert res.converged and res.linear_solver == "cg"
    np.testing.assert_allclose(res.coef, expected.coef, rtol=0, atol=1e-9)
    # memory: with p = 303 (K = 3: 909) a p x p matrix is 0.7 (6.6) MB; the cg fit's
    # allocations stay far below one
    X, y = data(model, n=3000, d=300)
    p = (300 + 1) * (3 if model == "multinomial" else 1)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = ngdx.fit(X, y, model, method, l2=1e-3, max_iter=3, tol=0,
                           linear_solver="cg")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res.linear_solver == "cg" and res.n_iter == 3
    assert peak < 0.25 * 8 * p * p


def test_conjugate_gradient_stops_at_its_tolerance():
    from ngdx import _curvature as _directions

    rng = np.random.default_rng(0)
    B = rng.normal(size=(40, 40))
    A = B @ B.T + 40 * np.eye(40)
    b = rng.normal(size=40)
    for rtol in (1e-2, 1e-6, 1e-12):
        x = _directions.conjugate_gradient(lambda v: A @ v, b, np.diag(A).copy(), rtol, 500)
        assert np.linalg.norm(A @ x - b) <= rtol * np.linalg.norm(b)
    x1 = _directions.conjugate_gradient(lambda v: A @ v, b, np.diag(A).copy(), 0.0, 1)
    assert np.linalg.norm(A @ x1 - b) > 1e-3 * np.linalg.norm(b)  # one product only
    assert _directions.conjugate_gradient(lambda v: -v, b, np.ones(40), 1e-8, 10) is None


def test_matrix_free_is_chosen_when_the_dense_matrix_is_too_big():
    from ngdx._models import FAMILIES
    from ngdx._solver.choose import use_matrix_free

    logistic, probit = FAMILIES["logistic"], FAMILIES["probit"]
    assert use_matrix_free("auto", logistic, "ngd", "true", n=10**5, p=20_000)
    assert not use_matrix_free("auto", logistic, "ngd", "true", n=10**5, p=2_000)
    assert not use_matrix_free("auto", logistic, "ngd", "true", n=10**4, p=20_000)  # n < p
    assert not use_matrix_free("auto", probit, "newton", "true", n=10**5, p=20_000)
    assert use_matrix_free("cg", probit, "ngd", "true", n=10, p=3)


@pytest.mark.parametrize("kwargs,match", [
    (dict(linear_solver="cg", method="gd"), "linear_solver 'cg' needs"),
    (dict(linear_solver="cg", fisher="empirical"), "linear_solver 'cg' needs"),
    (dict(linear_solver="cg", model="probit", method="newton"), "canonical-link"),
    (dict(linear_solver="cg", reuse_curvature=True), "reuse_curvature=True is for"),
])
def test_conjugate_gradient_where_it_cannot_apply_is_a_value_error(kwargs, match):
    X, y = data("logistic")
    with pytest.raises(ValueError, match=match):
        ngdx.fit(X, y, **kwargs)


def test_reuse_is_chosen_by_cost():
    from ngdx._solver.choose import use_reuse

    def reuse(n, d, K=1):
        return use_reuse("auto", "ngd", "fixed", "cholesky", n, d, K, True)

    assert not reuse(1000, 5)       # a curvature costs less than a pass
    assert not reuse(10**6, 50)
    assert reuse(20_000, 2000)      # p^2 work per row, p^3 to factor
    assert reuse(1000, 200, K=10)   # K(K+1)/2 Grams
    assert not use_reuse("auto", "ngd", "kl", "cholesky", 20_000, 2000, 1, True)
    assert not use_reuse("auto", "ngd", "fixed", "cg", 20_000, 2000, 1, True)


@pytest.mark.parametrize("kwargs,match", [
    (dict(reuse_curvature="sometimes"), "reuse_curvature"),
    (dict(reuse_curvature=1), "reuse_curvature must be True, False or 'auto'"),
    (dict(reuse_curvature=True, method="gd"), "reuse_curvature=True is for methods"),
    (dict(reuse_curvature=True, method="diag"), "reuse_curvature=True is for methods"),
    (dict(reuse_curvature=True, step="kl"), "not step 'kl'"),
    (dict(reuse_curvature=True, linear_solver="woodbury", l2=0.1), "woodbury"),
])
def test_reuse_curvature_where_it_cannot_apply_is_a_value_error(kwargs, match):
    X, y = data("logistic")
    with pytest.raises(ValueError, match=match):
        ngdx.fit(X, y, **kwargs)


@pytest.mark.parametrize("start", [-0.3, 0.3])
def test_a_rejected_step_on_a_reused_curvature_refreshes_it_and_keeps_the_damping(start):
    # With refreshes switched off, only rejections renew the curvature: a reused
    # curvature's step that overshoots is retried from a curvature at the same point, and
    # the damping is not raised for it.
    from ngdx._solver import CurvatureSchedule

    class NeverRefresh(CurvatureSchedule):
        def should_refresh(self, state, before, after):
            return False

    X, y = data("poisson", n=3000, d=6)
    solver, theta = _solver(X, y, "poisson", coef_init=np.full(6, start),
                            reuse_curvature=True, tol=0.0, max_iter=30)
    s = solver.schedule
    solver.schedule = NeverRefresh(exact=s.exact, reuse=s.reuse, cost=s.cost, tol=s.tol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = solver.run(theta)
    assert res.n_rejected >= 1 and res.n_curvatures > 1  # a rejection renewed the curvature
    assert res.n_curvatures == res.n_rejected + 1
    assert res.n_curvatures == res.history["curvature"].sum()
    assert (np.diff(res.history["damping"]) <= 0).all()
    loss = np.array(res.history["objective"])
    assert (np.diff(loss) <= 1e-12 * loss[:-1]).all()


def test_fixed_damping_is_used_as_given():
    X, y = data("logistic")
    res = ngdx.fit(X, y, damping=0.5, max_iter=3, tol=0)
    np.testing.assert_array_equal(res.history["damping"], 0.5)


def test_cholesky_failure_raises_damping_and_is_recorded():
    X, y = data("logistic")
    X = np.hstack([X, X[:, :1]])  # a duplicated column: a singular Fisher
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = ngdx.fit(X, y, "logistic", "ngd", damping=0.0, tol=1e-8, max_iter=200)
    assert res.n_cholesky_failures >= 1
    assert res.history["damping"][1] > 0
    assert res.converged


# ------------------------------------------------------------------ stopping
def test_tol_zero_runs_exactly_max_iter(model):
    X, y = data(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tol=0 asks for max_iter steps: no warning
        res = ngdx.fit(X, y, model, tol=0, max_iter=7)
    assert res.n_iter == 7 and not res.converged
    for key in ("objective", "grad_norm", "step_norm", "kl", "damping", "time", "curvature",
                "passes"):
        assert res.history[key].shape == (8,)
    assert res.history["step_norm"][0] == 0 and res.history["kl"][0] == 0
    assert np.all(np.diff(res.history["time"]) >= 0)


def test_max_iter_gives_a_convergence_warning():
    X, y = data("logistic")
    with pytest.warns(ConvergenceWarning, match="max_iter = 2 reached"):
        res = ngdx.fit(X, y, method="gd", max_iter=2)
    assert not res.converged and res.n_iter == 2 and "max_iter" in res.message


def test_a_diverging_fit_stops_says_so_and_returns_the_best_iterate():
    X, y = data("poisson")
    with pytest.warns(ConvergenceWarning, match="the fit diverged") as record:
        res = ngdx.fit(X * 30, y, "poisson", "gd", lr=10.0, max_iter=50)
    assert "smaller lr" in str(record[0].message) and not res.converged
    assert np.isfinite(res.coef).all() and np.isfinite(res.history["objective"]).all()
    best = int(np.argmin(res.history["objective"]))
    theta = np.append(res.coef, res.intercept)
    X1 = np.hstack([X * 30, np.ones((len(X), 1))])
    assert np.isclose(ngdx.loss(X1, y, theta, "poisson"), res.history["objective"][best])


def test_line_search_failure_is_reported():
    from ngdx._curvature import Identity

    class Ascending(Identity):  # a direction that ascends: no decrease is ever found
        def solve(self, grad, damping):
            return -grad

    X, y = data("logistic")
    solver, theta = _solver(X, y, "logistic", method="gd", step="armijo")
    solver.curvature = Ascending(solver.objective)
    with pytest.warns(ConvergenceWarning, match="line search"):
        res = solver.run(theta)
    assert res.n_iter == 0 and "line search" in res.message
    assert res.n_rejected == solver.step.MAX_BACKTRACKS


def test_callback_sees_each_iteration_and_can_stop():
    X, y = data("logistic")
    seen = []

    def callback(r):
        seen.append((r.n_iter, r.history["objective"][-1]))
        return r.n_iter == 2

    res = ngdx.fit(X, y, method="gd", callback=callback)
    assert [s[0] for s in seen] == [1, 2]
    assert res.n_iter == 2 and not res.converged and "callback" in res.message


def test_verbose_prints_one_line_per_iteration(capsys):
    X, y = data("logistic")
    res = ngdx.fit(X, y, verbose=True)
    out = capsys.readouterr().out.strip().splitlines()
    rows = [line for line in out if line.split() and line.split()[0].isdigit()]
    assert len(rows) == res.n_iter + 1
    assert "objective" in out[1] and "KL" in out[1] and "damping" in out[1]


# ------------------------------------------------------------------ separable data
def seeds_toy(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(n, 2))
    return X, (X[:, 0] + X[:, 1] > 1).astype(float)


@pytest.mark.parametrize("method", ["gd", "ngd", "newton"])
def test_separable_data_stop_unconverged_with_a_warning(method):
    X, y = seeds_toy()
    with pytest.warns(ConvergenceWarning, match="separable"):
        res = ngdx.fit(X, y, method=method, max_iter=5000)
    assert not res.converged and "separable" in res.message and "l2" in res.message
    assert np.isfinite(res.coef).all() and np.isfinite(res.intercept)
    assert np.all((res.predict(X) > 0.5) == (y == 1))


def test_separable_multinomial_is_detected():
    X, y = seeds_toy()
    y3 = y + (X[:, 0] > 0.9) * (y == 1)  # three separable classes
    with pytest.warns(ConvergenceWarning, match="separable"):
        res = ngdx.fit(X, y3, "multinomial")
    assert np.isfinite(res.coef).all()


def test_separable_data_converge_with_l2():
    X, y = seeds_toy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = ngdx.fit(X, y, l2=1e-3)
    assert res.converged
    assert res.coef[0] > 0 and res.coef[1] > 0
    assert abs(res.coef[0] - res.coef[1]) < 0.2 * res.coef[0]  # the symmetric boundary


# ------------------------------------------------------------------ reparametrization
def test_ngd_is_invariant_to_affine_reparametrization_gd_is_not():
    X, y = data("logistic", n=300, d=3)
    A = np.array([[2.0, 0.5, 0.0], [0.0, 0.3, 0.2], [1.0, 0.0, 4.0]])
    c = np.array([1.0, -2.0, 0.5])
    X2 = X @ A + c

    def path(Xd, method, lr):
        preds = []
        ngdx.fit(Xd, y, method=method, fisher="true", damping=0.0, l2=0.0, lr=lr, tol=0,
                 max_iter=6, callback=lambda r: preds.append(r.predict(Xd)) and False)
        return np.array(preds)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ngd1, ngd2 = path(X, "ngd", 0.5), path(X2, "ngd", 0.5)
        gd1, gd2 = path(X, "gd", 0.5), path(X2, "gd", 0.5)
    np.testing.assert_allclose(ngd1, ngd2, atol=1e-10)
    assert np.abs(gd1 - gd2).max() > 1e-2


# ------------------------------------------------------------------ result
def test_predict_returns_the_models_mean(model):
    X, y = data(model)
    res = ngdx.fit(X, y, model)
    mu = res.predict(X)
    eta = res.decision_function(X)
    if model == "multinomial":
        assert mu.shape == (len(X), 3)
        np.testing.assert_allclose(mu.sum(1), 1.0)
        np.testing.assert_allclose(np.log(mu[:, 0] / mu[:, 1]), eta[:, 0] - eta[:, 1])
    elif model == "logistic":
        np.testing.assert_allclose(mu, 1 / (1 + np.exp(-eta)))
    elif model == "probit":
        from scipy.special import ndtr

        np.testing.assert_allclose(mu, ndtr(eta), rtol=1e-13)
    elif model == "poisson":
        np.testing.assert_allclose(mu, np.exp(eta))
    else:
        np.testing.assert_allclose(mu, eta)
    # at the optimum with an intercept, mean prediction matches mean label (canonical links)
    if model in ("logistic", "poisson", "gaussian"):
        assert abs(mu.mean() - y.mean()) < 1e-8


def test_inputs_are_not_modified(model):
    X, y = data(model)
    w = np.ones(len(y))
    Xc, yc, wc = X.copy(), y.copy(), w.copy()
    coef0 = np.zeros((4, 3)) if model == "multinomial" else np.zeros(4)
    c0 = coef0.copy()
    ngdx.fit(X, y, model, sample_weight=w, coef_init=coef0)
    for a, b in ((X, Xc), (y, yc), (w, wc), (coef0, c0)):
        np.testing.assert_array_equal(a, b)


def test_results_are_deterministic_for_a_thread_count(model):
    X, y = data(model, n=3000)
    for n_threads in (1, 2):
        a = ngdx.fit(X, y, model, n_threads=n_threads)
        b = ngdx.fit(X, y, model, n_threads=n_threads)
        np.testing.assert_array_equal(a.coef, b.coef)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kwargs,match", [
    (dict(method="sgd"), "unknown method 'sgd'; valid: gd, ngd, diag, newton, kfac"),
    (dict(fisher="observed"), "unknown fisher 'observed'; valid: true, empirical, mc"),
    (dict(step="wolfe"), "unknown step 'wolfe'; valid: fixed, kl, armijo"),
    (dict(model="gamma"), "unknown model 'gamma'"),
    (dict(method="kfac"), "kfac"),
    (dict(lr=0.0), "lr must be a finite number > 0"),
    (dict(lr=-1.0), "lr must be"),
    (dict(max_kl=0.0), "max_kl must be"),
    (dict(max_iter=0), "max_iter must be an integer >= 1"),
    (dict(l2=-1.0), "l2 must be >= 0"),
    (dict(tol=-1.0), "tol must be >= 0"),
    (dict(damping=-1.0), "damping must be a finite number >= 0 or 'adaptive', got -1.0"),
    (dict(damping="auto"), "damping must be a number >= 0 or 'adaptive', got 'auto'"),
    (dict(sample_weight=np.ones(3)), "sample_weight has 3 entries"),
    (dict(sample_weight=-np.ones(400)), "sample_weight must be non-negative"),
    (dict(sample_weight=np.zeros(400)), "positive sum"),
    (dict(coef_init=np.zeros(3)), "coef_init must have shape"),
    (dict(intercept_init=[0.0, 1.0]), "intercept_init must have 1 entries"),
    (dict(callback=3), "callback must be callable"),
    (dict(n_threads=0), "n_threads"),
])
def test_bad_arguments_raise_value_error(kwargs, match):
    X, y = data("logistic")
    with pytest.raises(ValueError, match=match):
        ngdx.fit(X, y, **kwargs)


def test_bad_data_raise_value_error():
    X, y = data("logistic")
    with pytest.raises(ValueError, match="y for model 'logistic' must be 0 or 1"):
        ngdx.fit(X, y + 2)
    with pytest.raises(ValueError, match="X must be finite"):
        ngdx.fit(np.where(X > 2, np.nan, X), y)
    with pytest.raises(ValueError, match="y has 3 entries"):
        ngdx.fit(X, y[:3])
    with pytest.raises(ValueError, match="at least 2 classes"):
        ngdx.fit(X, np.zeros(len(y)), "multinomial")


def test_convergence_warning_is_sklearns_but_import_ngdx_does_not_load_sklearn():
    import subprocess
    import sys

    from sklearn.exceptions import ConvergenceWarning as SklearnWarning

    assert ngdx.ConvergenceWarning is SklearnWarning
    code = "import sys, ngdx; assert 'sklearn' not in sys.modules, 'sklearn imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------ sample-space solve
@pytest.mark.parametrize("model", ["logistic", "probit", "poisson", "gaussian"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_woodbury_takes_the_same_steps_as_cholesky(model, fit_intercept):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 150)) / 4
    eta = X @ rng.normal(scale=0.3, size=150) + 0.3
    y = {"logistic": (rng.random(60) < 1 / (1 + np.exp(-eta))).astype(float),
         "probit": (rng.standard_normal(60) < eta).astype(float),
         "poisson": rng.poisson(np.exp(eta)).astype(float),
         "gaussian": eta + rng.normal(size=60)}[model]
    # Without damping both solve (J^T J + l2 P) step = grad: the same steps. (With it, the
    # dense path damps in standardized units, the sample-space path lambda I.)
    kw = dict(l2=0.05, fit_intercept=fit_intercept, tol=1e-8, damping=0.0)
    a = ngdx.fit(X, y, model, linear_solver="cholesky", **kw)
    b = ngdx.fit(X, y, model, linear_solver="woodbury", **kw)
    assert (a.linear_solver, b.linear_solver) == ("cholesky", "woodbury")
    assert a.n_iter == b.n_iter and b.converged
    # two different factorizations (p x p in standardized coordinates, n x n): rounding,
    # amplified by undamped early Poisson steps (objective 48 at the second iterate)
    np.testing.assert_allclose(b.history["objective"], a.history["objective"], rtol=1e-10)
    np.testing.assert_allclose(b.history["kl"], a.history["kl"], rtol=1e-8, atol=1e-15)
    np.testing.assert_allclose(b.coef, a.coef, atol=1e-9)
    kw["damping"] = "adaptive"
    a = ngdx.fit(X, y, model, linear_solver="cholesky", **kw)
    b = ngdx.fit(X, y, model, linear_solver="woodbury", **kw)
    assert a.converged and b.converged
    np.testing.assert_allclose(b.coef, a.coef, atol=1e-7)


def test_woodbury_is_chosen_automatically_for_wide_data():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 100))
    y = (rng.random(40) < 0.5).astype(float)
    assert ngdx.fit(X, y, l2=0.1).linear_solver == "woodbury"
    assert ngdx.fit(np.ascontiguousarray(X[:, :10]), y, l2=0.1).linear_solver == "cholesky"
    assert ngdx.fit(X, y, method="gd", l2=0.1, max_iter=5000).linear_solver == "none"
    with pytest.raises(ValueError, match="linear_solver 'woodbury' is for methods"):
        ngdx.fit(X, y, method="diag", linear_solver="woodbury")
    with pytest.raises(ValueError, match="unknown linear_solver 'lu'"):
        ngdx.fit(X, y, linear_solver="lu")


def test_woodbury_without_penalty_or_damping_raises_the_damping():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 100))
    y = X[:, 0] + rng.normal(size=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = ngdx.fit(X, y, "gaussian", damping=0.0, max_iter=3, tol=0)
    assert res.linear_solver == "woodbury"
    assert res.n_cholesky_failures >= 1 and res.history["damping"][1] > 0


@pytest.mark.parametrize("factor", [1e-9, 1e6])
def test_the_sample_space_solve_is_scale_free_too(factor):
    """Without a penalty the Woodbury path damps in standardized units (Marquardt), so
    rescaling features changes nothing but the coefficients' units; found by the long
    fuzz run, where X * 1e-9 took 100 iterations instead of 16."""
    X = np.zeros((6, 6))
    X[5, 5] = 1.0
    y = np.array([0.0, 0, 0, 0, 1, 0])  # the fuzz run's example
    base = ngdx.fit(X, y, linear_solver="woodbury")
    scaled = ngdx.fit(X * factor, y, linear_solver="woodbury")
    assert base.converged and scaled.converged and scaled.n_iter == base.n_iter
    np.testing.assert_allclose(scaled.coef * factor, base.coef, rtol=1e-9)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 60))
    y = 0.3 * X[:, :3].sum(axis=1) + rng.normal(size=30)
    scales = factor * np.linspace(0.2, 3.0, 60)  # per feature too
    base = ngdx.fit(X, y, "gaussian", linear_solver="woodbury")  # n < p: an interpolant
    scaled = ngdx.fit(X * scales, y, "gaussian", linear_solver="woodbury")
    assert base.converged and scaled.converged and scaled.n_iter == base.n_iter
    np.testing.assert_allclose(scaled.predict(X * scales), base.predict(X), rtol=1e-6,
                               atol=1e-9)
    # a penalty is in X's units: l2 * factor^2 on X * factor is the same problem, and
    # the damping (lambda times the features' mean square) follows
    for model, yy in (("gaussian", y), ("logistic", (y > 0).astype(float))):
        a = ngdx.fit(X, yy, model, linear_solver="woodbury", l2=1e-2)
        b = ngdx.fit(X * factor, yy, model, linear_solver="woodbury", l2=1e-2 * factor**2)
        assert a.converged and b.converged and a.n_iter == b.n_iter
        np.testing.assert_allclose(b.predict(X * factor), a.predict(X), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("model", ["logistic", "probit", "poisson", "multinomial"])
def test_newton_records_the_true_fisher_kl(model):
    # On a canonical link the Newton curvature is the true Fisher, so history["kl"] is read
    # off it (no Fisher-vector pass); probit's Hessian differs and keeps the pass. Either
    # way the record is 1/2 d^T F d with the true Fisher at the point the step left.
    from ngdx import _reference

    X, y = data(model)
    thetas = []

    def record(r):
        thetas.append(np.vstack([np.reshape(r.coef, (X.shape[1], -1)),
                                 np.reshape(r.intercept, (1, -1))]).ravel())

    res = ngdx.fit(X, y, model, "newton", l2=0.01, callback=record)
    assert res.converged and res.n_iter >= 3
    # the callback sees the iterates after each step: KL of step j + 1 in history[j + 1]
    for a, b, kl in zip(thetas[:-1], thetas[1:], res.history["kl"][2:]):
        F = _reference.curvature(X, y, a, model, "true", fit_intercept=True)
        d = b - a
        assert kl == pytest.approx(0.5 * d @ F @ d, rel=1e-9, abs=1e-300)

"""ngdx.nn.fit: the GLM's optimum without hidden layers, K-FAC's step against its dense
definition, the KL cap, the baselines, and argument validation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ngdx
from ngdx.nn import _reference as R
from ngdx.nn._fit import build

from nn_problems import problem


def fit_quietly(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ngdx.ConvergenceWarning)
        return ngdx.nn.fit(*args, **kw)


@pytest.mark.parametrize("method", ["ngd", "kfac"])
@pytest.mark.parametrize("output,K", [("multinomial", 3), ("logistic", 1), ("poisson", 1)])
def test_without_hidden_layers_it_reaches_the_glm_optimum(output, K, method):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    eta = X @ rng.normal(size=(4, K)) * 0.7
    if output == "multinomial":
        y = np.array([rng.choice(K, p=np.exp(e) / np.exp(e).sum()) for e in eta], float)
    elif output == "logistic":
        y = (rng.random(300) < 1 / (1 + np.exp(-eta[:, 0]))).astype(float)
    else:
        y = rng.poisson(np.exp(eta[:, 0])).astype(float)
    glm = ngdx.fit(X, y, output, "ngd", l2=1e-2, tol=1e-10)
    net = ngdx.nn.MLP((4, K), output=output)
    res = ngdx.nn.fit(net, X, y, method, l2=1e-2, tol=1e-9, max_iter=500)
    assert res.converged, res.message
    W, b = res.params[0]
    coef = glm.coef if K > 1 else glm.coef[:, None]
    # the softmax's free shift: compare the zero-sum representatives
    if K > 1:
        W, b = W - W.mean(axis=1, keepdims=True), b - b.mean()
    np.testing.assert_allclose(W, coef, atol=1e-6)
    np.testing.assert_allclose(b, np.atleast_1d(glm.intercept), atol=1e-6)
    assert res.history["objective"][-1] == pytest.approx(glm.history["objective"][-1],
                                                         rel=1e-10)


def _solver(net, X, y, method="kfac", **kw):
    args = dict(params_init=None, l2=0.0, fisher="true", damping="adaptive", lr=None,
                step="fixed", max_kl=0.01, sample_weight=None, max_iter=10, tol=1e-6,
                n_mc_samples=1, seed=0, linear_solver="auto", batch_size=None,
                n_threads=None, verbose=False, callback=None)
    args.update(kw)
    return build(net, X, y, method, **args)


@pytest.mark.parametrize("l2,damping", [(0.0, 1e-2), (1e-3, 0.5), (0.1, 0.0)])
def test_the_kfac_direction_is_the_factored_damped_solve(l2, damping):
    """d = ((A + pi sqrt(g) I) kron (G + sqrt(g)/pi I))^-1 grad per layer (g = damping + l2),
    rescaled by alpha = grad.d / (d^T (F + l2 P + damping I) d), all written out densely."""
    ls = (3, 5, 4, 3)
    net = ngdx.nn.MLP(ls, activation="tanh", output="multinomial")
    X, y, theta, _ = problem("multinomial", ls, n=60, seed=1)
    solver, _ = _solver(net, X, y, l2=l2)
    ev = solver.curvature.evaluate(theta, True)
    solver.curvature.refresh(theta, ev.stats)
    step = solver.curvature.solve(ev.grad, damping)
    As, Gs = R.kfac_factors(ls, theta, X, y, "tanh", "multinomial", "true")
    gamma = damping + l2
    blocks = []
    for A, G in zip(As, Gs):
        pi = np.sqrt((np.trace(A) / len(A)) / (np.trace(G) / len(G)))
        blocks.append(np.kron(A + pi * np.sqrt(gamma) * np.eye(len(A)),
                              G + np.sqrt(gamma) / pi * np.eye(len(G))))
    M = np.zeros((len(theta), len(theta)))
    at = 0
    for B in blocks:
        M[at:at + len(B), at:at + len(B)] = B
        at += len(B)
    mask = np.concatenate([np.r_[np.ones(i * o), np.zeros(o)] for i, o in net.shapes])
    g = R.grad(ls, theta, X, y, "tanh", "multinomial") + l2 * mask * theta
    np.testing.assert_allclose(ev.grad, g, rtol=1e-10, atol=1e-14)
    d = np.linalg.solve(M, g)
    F = R.fisher(ls, theta, X, y, "tanh", "multinomial", "true") + l2 * np.diag(mask)
    alpha = (g @ d) / (d @ F @ d + damping * d @ d)
    np.testing.assert_allclose(step, alpha * d, rtol=1e-8, atol=1e-12 * np.abs(d).max())
    # the quadratic model and the KL read off the same product
    assert solver.curvature.quad(-0.5 * step) == pytest.approx(0.25 * step @ F @ step, rel=1e-8)
    F0 = F - l2 * np.diag(mask)
    assert solver.curvature.step_kl(2 * step) == pytest.approx(2 * step @ F0 @ step, rel=1e-8)


def test_the_kl_trust_region_caps_every_step_by_the_exact_fisher():
    ls = (4, 8, 3)
    net = ngdx.nn.MLP(ls, activation="tanh", output="multinomial")
    X, y, _, _ = problem("multinomial", ls, n=150, seed=2)
    seen = []
    res = fit_quietly(net, X, y, "kfac", step="kl", max_kl=1e-3, lr=10.0, max_iter=8,
                      callback=lambda r: seen.append(ngdx.nn.flatten(r.params)) and False)
    thetas = [ngdx.nn.flatten(net.init(0))] + seen
    kls = []
    for a, b in zip(thetas[:-1], thetas[1:]):
        F = R.fisher(ls, a, X, None, "tanh", "multinomial", "true")
        kls.append(0.5 * (b - a) @ F @ (b - a))
    assert max(kls) <= 1e-3 * (1 + 1e-8)
    assert min(kls) > 0.5e-3  # lr = 10 asks for more: every step was capped
    np.testing.assert_allclose(res.history["kl"][1:], kls, rtol=1e-8)


def test_exact_ngd_by_cholesky_and_by_cg_reach_the_same_optimum():
    """CG solves inexactly (Eisenstat-Walker), so the paths differ slightly; both are
    Gauss-Newton methods on the same objective and end at the same point."""
    ls = (3, 4, 2)
    net = ngdx.nn.MLP(ls, activation="logistic", output="logistic")
    X, y, _, _ = problem("logistic", ls, n=80, seed=3)
    a = ngdx.nn.fit(net, X, y, "ngd", linear_solver="cholesky", l2=1e-2, tol=1e-6,
                    max_iter=500)
    b = ngdx.nn.fit(net, X, y, "ngd", linear_solver="cg", l2=1e-2, tol=1e-6, max_iter=500)
    assert (a.linear_solver, b.linear_solver) == ("cholesky", "cg")
    assert a.converged and b.converged
    # f - f* <= p |g|^2 / (2 mu) with mu >= l2: about 1e-9 at |g| <= tol = 1e-6
    assert a.history["objective"][-1] == pytest.approx(b.history["objective"][-1], abs=1e-8)
    # the parameters of an optimum need not be unique (a flat valley); its function is
    np.testing.assert_allclose(a.predict(X), b.predict(X), atol=1e-4)


@pytest.mark.parametrize("method", ["adam", "gd"])
def test_first_order_baselines_descend(method):
    ls = (4, 6, 1)
    net = ngdx.nn.MLP(ls, activation="relu", output="gaussian")
    X, y, _, _ = problem("gaussian", ls, n=100, seed=4)
    res = fit_quietly(net, X, y, method, max_iter=300, lr=1e-2 if method == "adam" else None)
    obj = res.history["objective"]
    assert res.linear_solver == {"adam": "adam", "gd": "none"}[method]
    assert obj[-1] < obj[0] - 0.1


def test_natural_gradient_needs_far_fewer_iterations_than_adam():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(float)  # XOR
    net = ngdx.nn.MLP((2, 8, 2), activation="tanh", output="multinomial")
    adam = fit_quietly(net, X, y, "adam", lr=0.05, l2=1e-4, max_iter=300)
    L = adam.history["objective"][-1]
    assert (adam.predict(X).argmax(axis=1) == y).mean() > 0.95
    for method in ("ngd", "kfac"):
        res = fit_quietly(net, X, y, method, l2=1e-4, max_iter=300,
                          callback=lambda r: r.history["objective"][-1] <= L)
        assert res.history["objective"][-1] <= L
        assert res.n_iter <= 300 / 5, (method, res.n_iter)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(method="lbfgs"), ValueError, "method.*kfac.*ngd.*adam.*gd"),
    (dict(fisher="hessian"), ValueError, "fisher"),
    (dict(linear_solver="cg"), ValueError, "linear_solver is for method 'ngd'"),
    (dict(method="ngd", fisher="empirical", linear_solver="cg"), ValueError, "fisher='true'"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(method="ngd", batch_size=4), ValueError, "mini-batches.*kfac"),
    (dict(batch_size=4, step="kl"), ValueError, "mini-batches.*step='fixed'"),
    (dict(method="gd", batch_size=4), ValueError, "needs a learning rate"),
    (dict(batch_size=4, inverse_update_period=0), ValueError, "inverse_update_period"),
    (dict(damping="auto"), ValueError, "damping"),
    (dict(damping=-1.0), ValueError, "damping"),
    (dict(l2=np.nan), ValueError, "l2"),
    (dict(max_iter=0), ValueError, "max_iter"),
    (dict(step="line"), ValueError, "step"),
    (dict(params_init=[(np.zeros((3, 4)), np.zeros(4))]), ValueError, "params_init"),
    (dict(callback=3), ValueError, "callback"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    net = ngdx.nn.MLP((3, 4, 2), output="multinomial")
    X = np.random.default_rng(0).normal(size=(10, 3))
    y = np.arange(10) % 2
    kw = dict(kwargs)
    method = kw.pop("method", "kfac")
    with pytest.raises(error, match=match):
        ngdx.nn.fit(net, X, y, method, **kw)
    with pytest.raises(ValueError, match="net must be an ngdx.nn.MLP"):
        ngdx.nn.fit("mlp", X, y)


# ------------------------------------------------------------------ mini-batches
@pytest.mark.parametrize("method,lr", [("adam", 1e-2), ("gd", 0.3)])
def test_one_batch_of_every_row_is_the_full_batch_method(method, lr):
    """batch_size = n: each epoch is one step on the whole data, the full-batch fit's step."""
    ls = (4, 6, 3)
    net = ngdx.nn.MLP(ls, activation="tanh", output="multinomial")
    X, y, _, _ = problem("multinomial", ls, n=50, seed=5)
    full = fit_quietly(net, X, y, method, lr=lr, max_iter=7, l2=1e-3)
    mini = fit_quietly(net, X, y, method, lr=lr, max_iter=7, l2=1e-3, batch_size=50)
    np.testing.assert_allclose(mini.history["objective"], full.history["objective"],
                               rtol=1e-12)
    np.testing.assert_allclose(ngdx.nn.flatten(mini.params), ngdx.nn.flatten(full.params),
                               rtol=1e-12, atol=1e-14)
    assert mini.n_iter == 7


def test_mini_batch_kfac_trains_and_is_reproducible():
    ls = (5, 8, 3)
    net = ngdx.nn.MLP(ls, activation="relu", output="multinomial")
    X, y, _, _ = problem("multinomial", ls, n=240, seed=6)
    kw = dict(batch_size=40, max_iter=4, l2=1e-3, damping=1e-2, seed=1)
    a = fit_quietly(net, X, y, "kfac", **kw)
    b = fit_quietly(net, X, y, "kfac", **kw)
    c = fit_quietly(net, X, y, "kfac", **dict(kw, seed=2))
    obj = a.history["objective"]
    assert len(obj) == 5 and a.n_iter == 4              # one entry per epoch
    assert obj[-1] < 0.9 * obj[0]
    np.testing.assert_array_equal(ngdx.nn.flatten(a.params), ngdx.nn.flatten(b.params))
    assert not np.array_equal(ngdx.nn.flatten(a.params), ngdx.nn.flatten(c.params))
    # passes: every epoch reads each row several times (the pass, two Fisher-vector
    # products) plus the epoch's full-batch evaluation
    assert (a.history["passes"][1:] >= 3).all()


def test_the_factors_moving_average():
    from ngdx.nn._stochastic import _moving_average
    f1 = [(np.eye(2), np.eye(3))]
    f2 = [(3 * np.eye(2), 5 * np.eye(3))]
    avg = _moving_average(None, f1, 1)                 # the first batch: a copy
    assert avg[0][0] is not f1[0][0]
    avg = _moving_average(avg, f2, 2)                  # rho = 1 - 1/2
    np.testing.assert_allclose(avg[0][0], 2 * np.eye(2))
    np.testing.assert_allclose(avg[0][1], 3 * np.eye(3))
    avg = _moving_average(avg, [(np.zeros((2, 2)), np.zeros((3, 3)))], 100)  # rho = 0.95
    np.testing.assert_allclose(avg[0][0], 0.95 * 2 * np.eye(2))


def test_auto_never_swaps_an_empirical_fisher_for_the_true_one():
    """A dense Fisher over the memory budget made "auto" fall back to CG, whose products
    are the true Fisher's, silently ignoring fisher='empirical'."""
    from ngdx.nn._fit import representation
    big = ngdx.nn.MLP((200, 400, 400, 10), output="multinomial")  # p ~ 245k: dense ~1.4 TB
    assert representation("ngd", "auto", "true", 100, big) == "cg"
    for fisher in ("empirical", "mc"):
        with pytest.raises(ValueError, match="conjugate gradient needs fisher='true'"):
            representation("ngd", "auto", fisher, 100, big)
    small = ngdx.nn.MLP((3, 4, 2), output="multinomial")
    assert representation("ngd", "auto", "empirical", 100, small) == "cholesky"

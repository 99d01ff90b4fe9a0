"""ngdx.nn.MLP: parameters, validation, and its functions against the reference."""

from __future__ import annotations

import numpy as np
import pytest

import ngdx
from ngdx.nn import _reference as R

from nn_problems import OUTPUTS, problem

ARCH = {"multinomial": (4, 6, 3), "logistic": (4, 6, 2), "gaussian": (4, 6, 5, 2),
        "poisson": (4, 6, 1)}


def test_init_flatten_unflatten_and_order():
    net = ngdx.nn.MLP((3, 5, 2), activation="tanh", output="multinomial")
    params = net.init(seed=0)
    assert [(W.shape, b.shape) for W, b in params] == [((3, 5), (5,)), ((5, 2), (2,))]
    theta = ngdx.nn.flatten(params)
    assert theta.shape == (net.n_params,) == (3 * 5 + 5 + 5 * 2 + 2,)
    np.testing.assert_array_equal(theta[:15], params[0][0].ravel())   # W_1 row-major
    np.testing.assert_array_equal(theta[15:20], params[0][1])          # then b_1
    back = ngdx.nn.unflatten(net, theta)
    for (W, b), (W2, b2) in zip(params, back):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)
    # scikit-learn's Glorot bound; the same seed gives the same parameters
    bound = np.sqrt(6 / (3 + 5))
    assert np.abs(params[0][0]).max() <= bound and np.abs(params[0][0]).max() > 0.5 * bound
    np.testing.assert_array_equal(ngdx.nn.flatten(net.init(seed=0)), theta)
    assert not np.array_equal(ngdx.nn.flatten(net.init(seed=1)), theta)


def test_sparse_init():
    # Martens (2010): min(15, fan_in) N(0, 1) weights into each unit, zero biases
    net = ngdx.nn.MLP((40, 20, 8, 3), activation="logistic", output="multinomial")
    params = net.init(seed=2, scheme="sparse")
    for (W, b), k in zip(params, (15, 15, 8)):
        np.testing.assert_array_equal((W != 0).sum(axis=0), k)
        assert not b.any()
    W = params[0][0]
    assert 0.7 < W[W != 0].std() < 1.3  # unit scale, 300 draws
    # a different pattern for every unit, the same for a seed
    assert len({tuple(np.flatnonzero(W[:, j])) for j in range(20)}) > 15
    np.testing.assert_array_equal(ngdx.nn.flatten(net.init(seed=2, scheme="sparse")),
                                  ngdx.nn.flatten(params))
    with pytest.raises(ValueError, match="scheme 'he'; valid: glorot, sparse"):
        net.init(seed=0, scheme="he")


@pytest.mark.parametrize("output", OUTPUTS)
def test_loss_grad_fisher_predict_match_the_reference(output):
    ls = ARCH[output]
    net = ngdx.nn.MLP(ls, activation="tanh", output=output)
    X, y, theta, s = problem(output, ls, seed=3)
    params = net.unflatten(theta)
    assert net.loss(params, X, y, sample_weight=s) == pytest.approx(
        R.loss(ls, theta, X, y, "tanh", output, s), rel=1e-12)
    g = net.grad(params, X, y, sample_weight=s)
    np.testing.assert_allclose(ngdx.nn.flatten(g), R.grad(ls, theta, X, y, "tanh", output, s),
                               rtol=1e-10, atol=1e-13)
    assert [W.shape for W, _ in g] == [W.shape for W, _ in params]
    np.testing.assert_allclose(net.grad(theta, X, y), R.grad(ls, theta, X, y, "tanh", output),
                               rtol=1e-10, atol=1e-13)  # a flat vector gives a flat vector
    for kind in ("true", "empirical", "mc"):
        F = net.fisher(params, X, y, kind, sample_weight=s, n_samples=2, seed=5)
        want = R.fisher(ls, theta, X, y, "tanh", output, kind, s, n_mc_samples=2, seed=5)
        np.testing.assert_allclose(F, want, rtol=1e-10, atol=1e-13 * np.abs(want).max())
    np.testing.assert_allclose(net.fisher(params, X), R.fisher(ls, theta, X, None, "tanh",
                                                               output, "true"), rtol=1e-10,
                               atol=1e-14)
    mean = R.predict(ls, theta, X, "tanh", output)
    np.testing.assert_allclose(net.predict(params, X), mean[:, 0] if ls[-1] == 1 else mean,
                               rtol=1e-12)


def test_float32_inputs_give_the_float64_answer_on_the_same_values():
    net = ngdx.nn.MLP((4, 6, 3), activation="relu", output="multinomial")
    X, y, theta, _ = problem("multinomial", (4, 6, 3), seed=2)
    X32 = X.astype(np.float32)
    assert net.loss(theta, X32, y) == pytest.approx(net.loss(theta, X32.astype(float), y),
                                                    rel=1e-12)


@pytest.mark.parametrize("kwargs,match", [
    (dict(layer_sizes=(3,)), "layer_sizes"),
    (dict(layer_sizes=(3, 0, 2)), "layer_sizes"),
    (dict(layer_sizes=(3, 2.5, 2)), "layer_sizes"),
    (dict(layer_sizes="abc"), "layer_sizes"),
    (dict(layer_sizes=(3, True, 2)), "layer_sizes"),
    (dict(layer_sizes=(3, 2), activation="sigmoid"), "activation.*relu.*tanh"),
    (dict(layer_sizes=(3, 2), output="softmax"), "output.*multinomial"),
    (dict(layer_sizes=(3, 1), output="multinomial"), "n_outputs"),
])
def test_bad_architectures_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ngdx.nn.MLP(**kwargs)


def test_bad_data_and_params_are_named():
    net = ngdx.nn.MLP((3, 4, 2), output="logistic")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 3)), (rng.random((10, 2)) < 0.5).astype(float)
    params = net.init(0)
    with pytest.raises(ValueError, match="X has 2 columns.*3 inputs"):
        net.loss(params, np.ascontiguousarray(X[:, :2]), y)
    with pytest.raises(ValueError, match=r"y must have shape \(n, 2\)"):
        net.loss(params, X, y[:, 0])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        net.loss(params, X, y + 0.5)
    with pytest.raises(ValueError, match="y has 9 rows"):
        net.loss(params, X, y[:9])
    with pytest.raises(ValueError, match="layer 2's W and b"):
        net.loss([params[0], (params[1][0].T, params[1][1])], X, y)
    with pytest.raises(ValueError, match="list of 2"):
        net.loss(params[:1], X, y)
    with pytest.raises(ValueError, match="params has 5 entries"):
        net.loss(np.zeros(5), X, y)
    with pytest.raises(ValueError, match="X must"):
        net.loss(params, np.full((10, 3), np.nan), y)
    with pytest.raises(ValueError, match="kind"):
        net.fisher(params, X, y, kind="hessian")
    with pytest.raises(ValueError, match="empirical.*needs y"):
        net.fisher(params, X, None, kind="empirical")
    m = ngdx.nn.MLP((3, 4, 3), output="multinomial")
    with pytest.raises(ValueError, match="class labels"):
        m.loss(m.init(0), X, np.full(10, 3.0))


def test_user_arrays_are_not_modified():
    net = ngdx.nn.MLP((3, 4, 2), output="multinomial")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 3)), rng.integers(0, 2, 10).astype(float)
    params = net.init(0)
    copies = [X.copy(), y.copy()] + [a.copy() for pair in params for a in pair]
    net.grad(params, X, y)
    net.fisher(params, X, y)
    with pytest.warns(ngdx.ConvergenceWarning, match="ngdx.nn.fit: max_iter = 3"):
        ngdx.nn.fit(net, X, y, "kfac", params_init=params, max_iter=3, l2=1e-2)
    for a, b in zip([X, y] + [a for pair in params for a in pair], copies):
        np.testing.assert_array_equal(a, b)


def test_soft_targets_of_the_logistic_output_are_the_cross_entropy():
    """Targets in [0, 1] (grey levels: the autoencoder's pixels) give the loss
    -sum_k [y log mu + (1 - y) log(1 - mu)] and its gradient, compiled as in the reference."""
    ls = (4, 6, 3)
    net = ngdx.nn.MLP(ls, activation="logistic", output="logistic")
    rng = np.random.default_rng(7)
    X, theta = rng.normal(size=(30, 4)), rng.normal(size=R.n_params(ls))
    Y = rng.random((30, 3))
    Y[0] = [0.0, 1.0, 0.5]
    mu = R.predict(ls, theta, X, "logistic", "logistic")
    want = -(Y * np.log(mu) + (1 - Y) * np.log1p(-mu)).sum(axis=1).mean()
    assert net.loss(theta, X, Y) == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(net.grad(theta, X, Y),
                               R.grad(ls, theta, X, Y, "logistic", "logistic"), rtol=1e-10,
                               atol=1e-14)
    np.testing.assert_allclose(net.fisher(theta, X, Y, "empirical"),
                               R.fisher(ls, theta, X, Y, "logistic", "logistic", "empirical"),
                               rtol=1e-10, atol=1e-14)

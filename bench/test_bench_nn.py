"""The network kernels of _core.nn on issue 11's teacher-student shape (d = 50, hidden
(128, 128), K = 10 classes, relu) at n = 2e4, 2 threads: the fused K-FAC pass (true and
MC Fisher), the dense pass (on a one-hidden-layer network small enough for p x p) and the
Fisher-vector product. Each answer is checked against a float64 NumPy computation.

    python -m pytest bench/test_bench_nn.py                       # time
    python -m pytest bench/test_bench_nn.py --benchmark-disable   # answers checked only
"""

from __future__ import annotations

import numpy as np
import pytest
from ngdx._core import nn as core
from ngdx.nn import _reference as ref

N, D, HIDDEN, K = 20_000, 50, (128, 128), 10
SIZES = (D, *HIDDEN, K)
SMALL = (D, 16, K)  # the dense pass: p = 986
THREADS = 2
RTOL = 1e-10

pytestmark = pytest.mark.benchmark(group="nn teacher-student n=2e4")


def init(sizes, rng, scale=1.0):
    """Glorot-like weights, zero biases, in the flat layout."""
    blocks = [(rng.normal(scale=scale / np.sqrt(i), size=(i, o)), np.zeros(o))
              for i, o in ref.shapes(sizes)]
    return ref.flatten(blocks)


@pytest.fixture(scope="module")
def data():
    """X, labels drawn from a random teacher network, and a student's theta."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D))
    teacher = init(SIZES, rng, scale=2.0)
    eta = ref.forward(SIZES, teacher, X, "relu")[2]
    prob = np.exp(ref.log_softmax(eta))
    y = (rng.random((N, 1)) > prob.cumsum(axis=1)).sum(axis=1).clip(0, K - 1).astype(float)
    return X, y, init(SIZES, rng), init(SMALL, rng)


def numpy_pass(sizes, theta, X, y):
    """(loss, grad, [a~ per layer], [z per hidden layer], eta) by NumPy float64 backprop
    (A^T G per layer: the reference's per-row gradients would take n x p memory)."""
    params = ref.unflatten(sizes, theta)
    inputs, pre = [X], []
    for W, b in params[:-1]:
        pre.append(inputs[-1] @ W + b)
        inputs.append(np.maximum(pre[-1], 0.0))
    eta = inputs[-1] @ params[-1][0] + params[-1][1]
    logp = ref.log_softmax(eta)
    labels = y.astype(int)
    loss = -logp[np.arange(len(y)), labels].mean()
    g = (np.exp(logp) - np.eye(K)[labels]) / len(y)
    grads = []
    for l in range(len(params) - 1, -1, -1):
        grads.append(np.concatenate([inputs[l].T @ g, g.sum(axis=0)[None]]).ravel())
        if l:
            g = (g @ params[l][0].T) * (pre[l - 1] > 0)
    return loss, np.concatenate(grads[::-1]), inputs, eta


def numpy_fvp(sizes, theta, X, v):
    """F v by forward-mode tangents, the softmax's Lambda and back-propagation, in NumPy."""
    params, tangents = ref.unflatten(sizes, theta), ref.unflatten(sizes, v)
    a, da, pre = X, np.zeros_like(X), []
    for (W, b), (dW, db) in zip(params, tangents):
        z, dz = a @ W + b, da @ W + a @ dW + db
        pre.append((a, z))
        a, da = np.maximum(z, 0.0), dz * (z > 0)
    mu = np.exp(ref.log_softmax(z))
    g = (mu * dz - mu * (mu * dz).sum(axis=1, keepdims=True)) / len(X)
    out = []
    for l in range(len(params) - 1, -1, -1):
        a_in, _ = pre[l]
        out.append(np.concatenate([a_in.T @ g, g.sum(axis=0)[None]]).ravel())
        if l:
            g = (g @ params[l][0].T) * (pre[l - 1][1] > 0)
    return np.concatenate(out[::-1])


def assert_close(actual, expected, rtol=RTOL):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def timed(benchmark, f):
    return benchmark.pedantic(f, rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("kind", ["true", "mc"])
def test_fused_kfac_pass(benchmark, data, kind):
    """Loss, gradient and the K-FAC factors in one pass; A_1 and G_L checked in NumPy (the
    others only exist as back-propagated statistics)."""
    X, y, theta, _ = data
    grad = np.empty(len(theta))
    factors = [np.empty((s, s)) for i, o in ref.shapes(SIZES) for s in (i + 1, o)]
    loss, _ = timed(benchmark, lambda: core.fused_pass(
        X, y, None, SIZES, theta, "relu", "multinomial", "kfac", kind, 1, 0, THREADS, grad,
        factors, None))
    want_loss, want_grad, _, eta = numpy_pass(SIZES, theta, X, y)
    assert loss == pytest.approx(want_loss, rel=RTOL)
    assert_close(grad, want_grad)
    X1 = np.column_stack([X, np.ones(N)])
    assert_close(factors[0], X1.T @ X1 / N)
    if kind == "true":
        mu = np.exp(ref.log_softmax(eta))
        assert_close(factors[-1], (np.diag(mu.sum(axis=0)) - mu.T @ mu) / N)


def test_dense_pass(benchmark, data):
    """The exact Fisher (p = 986) with the loss and gradient: F v against the NumPy
    Fisher-vector product."""
    X, y, _, theta = data
    p = len(theta)
    grad, F = np.empty(p), np.empty((p, p))
    loss, _ = timed(benchmark, lambda: core.fused_pass(
        X, y, None, SMALL, theta, "relu", "multinomial", "dense", "true", 1, 0, THREADS, grad,
        None, F))
    want_loss, want_grad, *_ = numpy_pass(SMALL, theta, X, y)
    assert loss == pytest.approx(want_loss, rel=RTOL)
    assert_close(grad, want_grad)
    v = np.random.default_rng(1).normal(size=p)
    assert_close(F @ v, numpy_fvp(SMALL, theta, X, v), rtol=1e-9)


def test_fisher_vector_product(benchmark, data):
    X, _, theta, _ = data
    v = np.random.default_rng(2).normal(size=len(theta))
    out = np.empty(len(theta))
    quad = timed(benchmark, lambda: core.fisher_vector_product(
        X, None, SIZES, theta, "relu", "multinomial", v, THREADS, out))
    want = numpy_fvp(SIZES, theta, X, v)
    assert_close(out, want)
    assert quad == pytest.approx(v @ want, rel=RTOL)

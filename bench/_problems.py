"""Shared pieces of the benchmarks: the synthetic problem, the hand-written NumPy and
SciPy baselines, and the tolerance used to check that every backend agrees.

Every backend computes, for logistic regression at ``theta`` with eta = X @ theta and
mu = sigmoid(eta):

* ``loss``   = mean_i [log(1 + e^eta_i) - y_i eta_i]      (mean, not sum)
* ``grad``   = X^T (mu - y) / n
* ``fisher`` = X^T diag(w) X / n,  w = mu (1 - mu)          (true Fisher = Hessian)
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import dsyrk
from scipy.special import expit

#: The benchmarked (n, d): tall and thin, medium, and wide enough for d^2 to dominate.
SIZES = ((1_000_000, 100), (100_000, 500), (20_000, 2_000))

SEED = 20261122

#: Every backend must agree with the NumPy baseline to this, relative to the scale of
#: each result (see assert_close). Measured disagreements are 1e-16 to 3e-14.
RTOL = 1e-10


def make_problem(n: int, d: int, seed: int = SEED):
    """A logistic regression problem with labels drawn from the model.

    X is C-contiguous float64, standard normal scaled by 1/sqrt(d), so that
    eta = X @ theta is about N(0, 1) for theta ~ N(0, I): weights w stay away from
    0 and 1/4 and nothing saturates. Only X is (n, d); everything else is O(n + d).

    Returns
    -------
    X : ndarray, shape (n, d)
    y : ndarray, shape (n,), 0/1 floats
    theta : ndarray, shape (d,)
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X *= 1.0 / np.sqrt(d)  # in place: no second (n, d) array
    theta = rng.standard_normal(d)
    mu = expit(X @ theta)
    y = (rng.random(n) < mu).astype(np.float64)
    return X, y, theta


def numpy_pass(X, y, theta):
    """What a user writes by hand: loss, gradient, then the weighted Gram."""
    n = X.shape[0]
    eta = X @ theta
    mu = expit(eta)
    loss = np.mean(np.logaddexp(0.0, eta) - y * eta)
    grad = X.T @ (mu - y) / n
    w = mu * (1.0 - mu)
    fisher = X.T @ (w[:, None] * X) / n
    return loss, grad, fisher


def sqrt_weights(X, theta):
    """sqrt(w) of the true Fisher, w = mu (1 - mu)."""
    mu = expit(X @ theta)
    return np.sqrt(mu * (1.0 - mu))


def syrk_lower(Xs):
    """The lower triangle of Xs^T Xs by BLAS dsyrk, for a C-contiguous Xs (n, d).

    Xs.T is a Fortran-contiguous (d, n) view of the same memory, so ``trans=0`` computes
    (Xs.T)(Xs.T)^T = Xs^T Xs without a copy. Passing Xs itself with ``trans=1`` gives
    the same matrix but makes f2py copy all of Xs into Fortran order first (about 4x
    slower at 1e6 x 100). Only the lower triangle of the (d, d) result is written.
    """
    return dsyrk(1.0, Xs.T, trans=0, lower=1)


def mirror_lower(C):
    """The symmetric matrix whose lower triangle is that of C."""
    return np.tril(C) + np.tril(C, -1).T


def numpy_syrk_pass(X, y, theta):
    """The careful hand-written pass: NumPy for loss and gradient, dsyrk for the Gram."""
    n = X.shape[0]
    eta = X @ theta
    mu = expit(eta)
    loss = np.mean(np.logaddexp(0.0, eta) - y * eta)
    grad = X.T @ (mu - y) / n
    Xs = np.sqrt(mu * (1.0 - mu))[:, None] * X
    fisher = mirror_lower(syrk_lower(Xs)) / n
    return loss, grad, fisher


def float64_pass_of(X32, y, theta, chunk=100_000):
    """ngdx's one-thread float64 pass over the values of a float32 X, converted a chunk of
    rows at a time (the pass is a mean over rows): no second (n, d) array."""
    from ngdx._functional import fused

    n = X32.shape[0]
    total = None
    for i in range(0, n, chunk):
        part = fused(X32[i:i + chunk].astype(np.float64), y[i:i + chunk], theta, "logistic",
                     "true", n_threads=1)
        share = [(min(chunk, n - i) / n) * a for a in part]
        total = share if total is None else [t + a for t, a in zip(total, share)]
    return tuple(total)


def assert_close(actual, desired, rtol, what):
    """max |actual - desired| <= rtol * max |desired|: relative to the result's scale.

    Entrywise relative error is meaningless for the gradient and the off-diagonal
    Fisher entries, which are sums with heavy cancellation and can be close to 0.
    """
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.shape == desired.shape, f"{what}: shape {actual.shape} != {desired.shape}"
    err = float(np.max(np.abs(actual - desired)))
    scale = float(np.max(np.abs(desired)))
    assert err <= rtol * scale, f"{what}: max abs error {err:.3e} > {rtol:g} x {scale:.3e}"


def check_pass(got, expected, what, rtol=RTOL, symmetric=False):
    """Two (loss, grad, fisher) triples agree to rtol; with ``symmetric``, got's Fisher is
    exactly symmetric (true of ngdx and of a mirrored dsyrk, not of NumPy's GEMM)."""
    assert_close(got[0], expected[0], rtol, f"{what}: loss")
    assert_close(got[1], expected[1], rtol, f"{what}: grad")
    assert_close(got[2], expected[2], rtol, f"{what}: fisher")
    if symmetric:
        assert np.array_equal(got[2], got[2].T), f"{what}: fisher not exactly symmetric"

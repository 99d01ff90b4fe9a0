"""The NumPy reference of the MLP kernels against independent computations: finite
differences, J^T Lambda J written out, the GLM reference, the Fisher identities."""

from __future__ import annotations

import numpy as np
import pytest

from ngdx import _reference as GLM
from ngdx.nn import _reference as R

from nn_problems import ACTIVATIONS, OUTPUTS, output_fisher, problem

ARCHS = {"multinomial": (4, 5, 3), "logistic": (4, 5, 2), "gaussian": (4, 3, 5, 2),
         "poisson": (4, 5, 1)}


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("output", OUTPUTS)
def test_gradient_matches_finite_differences(output, activation):
    ls = ARCHS[output]
    X, y, theta, s = problem(output, ls, seed=1)
    if activation == "relu":  # keep pre-activations away from the kink at 0
        theta = theta + 0.01
    g = R.grad(ls, theta, X, y, activation, output, s)
    h = 1e-6
    fd = np.array([(R.loss(ls, theta + h * e, X, y, activation, output, s)
                    - R.loss(ls, theta - h * e, X, y, activation, output, s)) / (2 * h)
                   for e in np.eye(len(theta))])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("output", OUTPUTS)
def test_true_fisher_is_J_Lambda_J_and_its_product(output, activation):
    ls = ARCHS[output]
    X, y, theta, s = problem(output, ls, seed=2)
    J = R.jacobian(ls, theta, X, activation)
    # J by finite differences of eta, independent of the backward pass
    h = 1e-6
    Jfd = np.stack([(R.forward(ls, theta + h * e, X, activation)[2]
                     - R.forward(ls, theta - h * e, X, activation)[2]) / (2 * h)
                    for e in np.eye(len(theta))], axis=-1)
    np.testing.assert_allclose(J, Jfd, rtol=1e-6, atol=1e-8)
    eta = R.forward(ls, theta, X, activation)[2]
    w = s / s.sum()
    F = np.einsum("i,ikp,ikl,ilq->pq", w, Jfd, output_fisher(output, eta), Jfd)
    got = R.fisher(ls, theta, X, y, activation, output, "true", s)
    np.testing.assert_allclose(got, F, rtol=1e-6, atol=1e-8 * np.abs(F).max())
    v = np.random.default_rng(0).normal(size=len(theta))
    np.testing.assert_allclose(R.fisher_vector_product(ls, theta, X, v, activation, output, s),
                               got @ v, rtol=1e-10, atol=1e-12 * np.abs(got @ v).max())


@pytest.mark.parametrize("output", OUTPUTS)
def test_empirical_and_mc_fisher_estimate_the_true_one(output):
    """E_y[empirical Fisher at y ~ model] = true Fisher: the MC Fisher with many samples
    approaches it; the empirical Fisher is the mean outer product of per-row gradients."""
    ls = ARCHS[output]
    X, y, theta, s = problem(output, ls, n=20, seed=3)
    F = R.fisher(ls, theta, X, y, "tanh", output, "true", s)
    Fmc = R.fisher(ls, theta, X, y, "tanh", output, "mc", s, n_mc_samples=4000, seed=1)
    assert np.abs(Fmc - F).max() < 0.05 * np.abs(F).max()
    # empirical: per-row gradients by finite differences of each row's loss
    w = s / s.sum()
    h = 1e-6
    rows = np.stack([np.array([(R.loss(ls, theta + h * e, X[i:i + 1], np.asarray(y)[i:i + 1],
                                       "tanh", output)
                                - R.loss(ls, theta - h * e, X[i:i + 1], np.asarray(y)[i:i + 1],
                                         "tanh", output)) / (2 * h)
                               for e in np.eye(len(theta))]) for i in range(len(X))])
    np.testing.assert_allclose(R.fisher(ls, theta, X, y, "tanh", output, "empirical", s),
                               np.einsum("i,ip,iq->pq", w, rows, rows), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", ["true", "empirical", "mc"])
@pytest.mark.parametrize("output,model,K", [("multinomial", "multinomial", 3),
                                             ("logistic", "logistic", 1),
                                             ("gaussian", "gaussian", 1),
                                             ("poisson", "poisson", 1)])
def test_a_network_without_hidden_layers_is_the_glm(output, model, K, kind):
    ls = (4, K)
    X, y, theta, s = problem(output, ls, seed=4)
    kw = dict(sample_weight=s, fit_intercept=True)
    assert R.loss(ls, theta, X, y, "relu", output, s) == pytest.approx(
        GLM.loss(X, y, theta, model, **kw), rel=1e-13)
    np.testing.assert_allclose(R.grad(ls, theta, X, y, "relu", output, s),
                               GLM.grad(X, y, theta, model, **kw).ravel(), rtol=1e-12, atol=1e-14)
    F = R.fisher(ls, theta, X, y, "relu", output, kind, s, n_mc_samples=3, seed=7)
    G = GLM.curvature(X, y, theta, model, kind, n_samples=3, seed=7, **kw)
    np.testing.assert_allclose(F, G, rtol=1e-11,
                               atol=1e-13 * np.abs(G).max())


@pytest.mark.parametrize("output", OUTPUTS)
def test_kfac_factors_of_the_last_layer_and_the_one_layer_network(output):
    """A_L is the Gram of the last hidden layer's outputs with a 1 appended, G_L the mean
    output Fisher (true) or the mean r r^T (empirical); with no hidden layer A kron G is
    exactly the Fisher where Lambda is constant (gaussian)."""
    ls = ARCHS[output]
    X, y, theta, s = problem(output, ls, seed=5)
    inputs, _, eta = R.forward(ls, theta, X, "logistic")
    w = s / s.sum()
    As, Gs = R.kfac_factors(ls, theta, X, y, "logistic", output, "true", s)
    a1 = np.hstack([inputs[-1], np.ones((len(X), 1))])
    np.testing.assert_allclose(As[-1], (a1 * w[:, None]).T @ a1, rtol=1e-12)
    np.testing.assert_allclose(Gs[-1], np.einsum("i,ikl->kl", w, output_fisher(output, eta)),
                               rtol=1e-10, atol=1e-14)
    _, Ge = R.kfac_factors(ls, theta, X, y, "logistic", output, "empirical", s)
    r = R.residual(output, eta, R.as_targets(output, y, eta.shape[1]))
    np.testing.assert_allclose(Ge[-1], np.einsum("i,ik,il->kl", w, r, r), rtol=1e-10)
    if output == "gaussian":
        ls1 = (4, 2)
        th1 = np.random.default_rng(0).normal(size=R.n_params(ls1))
        (A,), (G,) = R.kfac_factors(ls1, th1, X, y, "relu", output, "true", s)
        np.testing.assert_allclose(np.kron(A, G), R.fisher(ls1, th1, X, y, "relu", output,
                                                            "true", s), rtol=1e-12, atol=1e-14)


def test_the_kfac_blocks_sum_to_the_exact_fisher_blocks_when_A_and_G_decouple():
    """The diagonal blocks of the exact Fisher are E[(a a^T) kron (g g^T)] per row; K-FAC
    replaces this by E[a a^T] kron E[g g^T]: on one row (no expectation) they agree."""
    ls = (3, 4, 2)
    X, y, theta, _ = problem("logistic", ls, n=1, seed=6)
    F = R.fisher(ls, theta, X, y, "tanh", "logistic", "true")
    As, Gs = R.kfac_factors(ls, theta, X, y, "tanh", "logistic", "true")
    at = 0
    for A, G in zip(As, Gs):
        m = len(A) * len(G)
        np.testing.assert_allclose(F[at:at + m, at:at + m], np.kron(A, G), rtol=1e-10,
                                   atol=1e-14)
        at += m

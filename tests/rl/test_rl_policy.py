"""ngdx.rl's policies against independent computations: the Fisher by enumeration and as
the KL's Hessian, Fisher-vector products, gradients by finite differences, the KL."""

from __future__ import annotations

import numpy as np
import pytest
from ngdx._curvature.matrix_free import conjugate_gradient
from ngdx.rl._policy import LinearCategorical, LinearGaussian, features
from ngdx.rl._step import natural_direction


def batch(kind, n=300, d=3, K=3, seed=0):
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n, d)) * [1.0, 3.0, 0.2][:d]
    if kind == "categorical":
        pol = LinearCategorical(d, K, n_threads=2)
        theta = rng.normal(scale=0.7, size=pol.n_params)
        actions = pol.sample(obs, theta, rng)
    else:
        pol = LinearGaussian(d, K, n_threads=2)
        theta = rng.normal(scale=0.5, size=pol.n_params)
        actions = pol.sample(obs, theta, rng)
    return pol, obs, actions, theta, rng


def scores_categorical(pol, obs, theta, a):
    """Per-row grad log pi(a | s) by the formula x kron (onehot(a) - p)."""
    X = features(obs)
    P = np.exp(pol.log_probs(obs, theta))
    R = -P
    R[np.arange(len(a)), a] += 1.0
    return np.einsum("ij,ik->ijk", X, R).reshape(len(a), -1)


def test_categorical_fisher_is_the_expected_outer_product_of_scores():
    pol, obs, _, theta, _ = batch("categorical")
    P = np.exp(pol.log_probs(obs, theta))
    F = np.zeros((pol.n_params, pol.n_params))
    for a in range(pol.K):  # E_a[s s^T], enumerating the actions
        S = scores_categorical(pol, obs, theta, np.full(len(obs), a))
        F += (S * P[:, a:a + 1]).T @ S
    F /= len(obs)
    np.testing.assert_allclose(pol.fisher(obs, theta), F, rtol=1e-11, atol=1e-13)


def fd_grad(pol, obs, actions, w, theta, eps=1e-6):
    """Central differences of mean_i w_i log pi(a_i | s_i) in each parameter."""
    f = lambda t: float(np.mean(w * pol.log_prob(obs, actions, t)))  # noqa: E731
    return np.array([(f(theta + eps * e) - f(theta - eps * e)) / (2 * eps)
                     for e in np.eye(pol.n_params)])


def check_fisher(pol, obs, theta, rng, rtol):
    """F is the Hessian of v -> KL(theta, theta + v) at 0 (second differences of the KL,
    along random directions), and fvp(v) = F v."""
    F = pol.fisher(obs, theta)
    for _ in range(3):
        v = rng.normal(size=pol.n_params)
        eps = 1e-4
        second = (pol.kl(obs, theta, theta + eps * v) + pol.kl(obs, theta, theta - eps * v)) / eps**2
        assert second == pytest.approx(v @ F @ v, rel=1e-5)
        np.testing.assert_allclose(pol.fvp(obs, theta, v), F @ v, rtol=rtol, atol=rtol / 10)
    return F


@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
def test_fisher_is_the_hessian_of_the_kl_and_fvp_agrees(kind):
    pol, obs, _, theta, rng = batch(kind)
    F = check_fisher(pol, obs, theta, rng, 1e-11)
    np.testing.assert_allclose(F, F.T, rtol=0, atol=1e-14)


@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
def test_grad_is_the_gradient_of_the_weighted_mean_log_prob(kind):
    pol, obs, actions, theta, rng = batch(kind)
    w = rng.normal(size=len(obs))  # advantages: signed
    g = pol.grad(obs, actions, w, theta)
    fd = fd_grad(pol, obs, actions, w, theta)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_gaussian_kl_and_log_prob_match_the_formulas():
    pol, obs, actions, theta, rng = batch("gaussian", K=2)
    other = theta + rng.normal(scale=0.3, size=theta.size)
    (W, s), (W2, s2) = pol.split(theta), pol.split(other)
    X = features(obs)
    mu, mu2 = X @ W, X @ W2
    var, var2 = np.exp(2 * s), np.exp(2 * s2)
    kl = np.mean(np.sum(0.5 * np.log(var2 / var) + (var + (mu - mu2) ** 2) / (2 * var2) - 0.5,
                        axis=1))
    assert pol.kl(obs, theta, other) == pytest.approx(kl, rel=1e-12)
    lp = np.sum(-0.5 * (actions - mu) ** 2 / var - 0.5 * np.log(2 * np.pi * var), axis=1)
    np.testing.assert_allclose(pol.log_prob(obs, actions, theta), lp, rtol=1e-12)


def test_categorical_sampling_follows_the_probabilities():
    pol, obs, _, theta, rng = batch("categorical", n=4)
    many = np.repeat(obs[:1], 200_000, axis=0)
    counts = np.bincount(pol.sample(many, theta, rng), minlength=pol.K) / len(many)
    np.testing.assert_allclose(counts, np.exp(pol.log_probs(obs[:1], theta))[0], atol=4e-3)


@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
def test_natural_direction_dense_cg_and_the_damped_solve_agree(kind):
    pol, obs, actions, theta, rng = batch(kind)
    g = pol.grad(obs, actions, rng.normal(size=len(obs)), theta)
    dense = natural_direction(pol, obs, theta, g, "dense", damping=1e-4)
    F = pol.fisher(obs, theta)
    lam = 1e-4 * np.mean(np.diag(F))
    np.testing.assert_allclose(dense.s, np.linalg.solve(F + lam * np.eye(len(g)), g),
                               rtol=1e-8, atol=1e-10)
    assert dense.quad == pytest.approx(dense.s @ F @ dense.s, rel=1e-12)
    cg = natural_direction(pol, obs, theta, g, "cg", damping=1e-4, cg_iters=500, cg_tol=1e-13)
    lam_cg = 1e-4 * (g @ F @ g) / (g @ g)
    np.testing.assert_allclose(cg.s, np.linalg.solve(F + lam_cg * np.eye(len(g)), g),
                               rtol=1e-6, atol=1e-8)


def test_direction_failures_are_reported_not_nan():
    pol, obs, actions, theta, rng = batch("categorical")
    g = pol.grad(obs, actions, rng.normal(size=len(obs)), theta)

    class Negative(LinearCategorical):  # a Fisher that is not positive definite
        def fisher(self, obs, theta):
            return -np.eye(self.n_params)

        def fvp(self, obs, theta, v):
            return -v

    bad = Negative(3, 3)
    for solver in ("dense", "cg"):
        d = natural_direction(bad, obs, theta, g, solver)
        assert d.s is None and d.message
    d = natural_direction(pol, obs, theta, np.full_like(g, np.nan))
    assert d.s is None and "not finite" in d.message


def test_conjugate_gradient_solves_spd_systems():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(20, 20))
    A = A @ A.T + np.eye(20)
    b = rng.normal(size=20)
    x = conjugate_gradient(lambda v: A @ v, b, np.ones(20), 1e-14, 200)
    np.testing.assert_allclose(A @ x, b, rtol=1e-9, atol=1e-9)


def mlp_batch(kind, n=200, d=3, K=2, seed=0):
    from ngdx.rl._mlp_policy import MLPCategorical, MLPGaussian

    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n, d))
    cls = MLPCategorical if kind == "categorical" else MLPGaussian
    pol = cls(d, K, hidden=(5, 4), activation="tanh", n_threads=2, seed=seed)
    theta = pol.init(rng)
    theta[: pol.n_net] += rng.normal(scale=0.5, size=pol.n_net)  # away from the near-uniform start
    if kind == "gaussian":
        theta[pol.n_net:] = [0.3, -0.5]
    return pol, obs, pol.sample(obs, theta, rng), theta, rng


@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
def test_mlp_policy_grad_fisher_and_fvp_against_finite_differences(kind):
    pol, obs, actions, theta, rng = mlp_batch(kind)
    w = rng.normal(size=len(obs))
    g = pol.grad(obs, actions, w, theta)
    fd = fd_grad(pol, obs, actions, w, theta)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-8)
    check_fisher(pol, obs, theta, rng, 1e-9)

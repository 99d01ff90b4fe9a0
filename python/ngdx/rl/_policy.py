"""Policies: a distribution over actions given an observation, with parameters theta.

A policy is the model of a GLM (or of a network) whose label is the action: a categorical
policy over Discrete actions is a multinomial model, a Gaussian policy over Box actions a
gaussian one with a learned, state-independent log standard deviation. Each knows, on a
batch of observations: its log-probabilities, the gradient of a weighted mean of them,
the mean KL between two parameter vectors, its exact Fisher (dense) and Fisher-vector
products (matrix-free), samples and the deterministic action.

Parameters are one flat vector. Features are the observations with a trailing 1 (the
intercept): theta is the row-major (n_obs + 1, K) matrix of a linear map, followed for
the Gaussian by the K log standard deviations.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _core
from .._config import resolve_threads
from .._functional import fused

LOG_2PI = math.log(2.0 * math.pi)


def features(obs):
    """[obs, 1] as C-contiguous float64 (n, d + 1)."""
    obs = np.asarray(obs, dtype=np.float64)
    return np.ascontiguousarray(np.hstack([obs, np.ones((obs.shape[0], 1))]))


def log_softmax(eta):
    z = eta - eta.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


class Categorical:
    """What a categorical policy derives from its ``logits(obs, theta)`` (n, K)."""

    kind = "categorical"

    def log_probs(self, obs, theta):
        """(n, K) log pi(. | s_i)."""
        return log_softmax(self.logits(obs, theta))

    def log_prob(self, obs, actions, theta):
        return self.log_probs(obs, theta)[np.arange(len(actions)), actions.astype(np.intp)]

    def kl(self, obs, theta_old, theta_new):
        """mean_i KL(pi_old(. | s_i) || pi_new(. | s_i))."""
        lp, lq = self.log_probs(obs, theta_old), self.log_probs(obs, theta_new)
        return float(np.mean(np.sum(np.exp(lp) * (lp - lq), axis=1)))

    def sample(self, obs, theta, rng):
        P = np.exp(self.log_probs(obs, theta))
        u = rng.random((P.shape[0], 1))
        return np.minimum((np.cumsum(P, axis=1) < u).sum(axis=1), self.K - 1)

    def mode(self, obs, theta):
        return np.argmax(self.logits(obs, theta), axis=1)


class Gaussian:
    """What a diagonal Gaussian policy derives from ``mean(obs, theta)`` (n, K) and
    ``split(theta)`` = (the mean's parameters, log_std)."""

    kind = "gaussian"

    def log_prob(self, obs, actions, theta):
        log_std = self.split(theta)[1]
        z = (actions.reshape(-1, self.K) - self.mean(obs, theta)) * np.exp(-log_std)
        return -0.5 * np.sum(z * z, axis=1) - float(log_std.sum()) - 0.5 * self.K * LOG_2PI

    def kl(self, obs, theta_old, theta_new):
        so, sn = self.split(theta_old)[1], self.split(theta_new)[1]
        dm = (self.mean(obs, theta_old) - self.mean(obs, theta_new)) * np.exp(-sn)
        per_dim = (sn - so) + 0.5 * (np.exp(2.0 * (so - sn)) - 1.0)  # the same on every row
        return float(per_dim.sum() + 0.5 * np.mean(np.sum(dm * dm, axis=1)))

    def sample(self, obs, theta, rng):
        mu = self.mean(obs, theta)
        return mu + np.exp(self.split(theta)[1]) * rng.standard_normal(mu.shape)

    def mode(self, obs, theta):
        return self.mean(obs, theta)


class LinearCategorical(Categorical):
    """pi(a | s) = softmax([s, 1] W)_a over K actions: the multinomial GLM, whose exact
    Fisher sum_i x_i x_i^T kron (diag p_i - p_i p_i^T) / n comes from the core's fused
    pass (the Gram kernel)."""

    def __init__(self, n_obs: int, n_actions: int, n_threads=None):
        self.d, self.K = n_obs + 1, n_actions
        self.n_params = self.d * self.K
        self.n_threads = resolve_threads(n_threads)

    def init(self, rng):
        return np.zeros(self.n_params)  # the uniform policy

    def logits(self, obs, theta):
        return features(obs) @ theta.reshape(self.d, self.K)

    def grad(self, obs, actions, weights, theta):
        """(1/n) sum_i w_i grad log pi(a_i | s_i) = X~^T (w (onehot - p)) / n."""
        X = features(obs)
        P = np.exp(log_softmax(X @ theta.reshape(self.d, self.K)))
        R = -P
        R[np.arange(len(actions)), actions.astype(np.intp)] += 1.0
        return (X.T @ (weights[:, None] * R)).ravel() / len(actions)

    def fisher(self, obs, theta):
        """The exact Fisher of the mean log-likelihood (p, p), by the core's fused pass."""
        obs = np.ascontiguousarray(obs, dtype=np.float64)
        y = np.zeros(obs.shape[0])
        return fused(obs, y, np.ascontiguousarray(theta), "multinomial", "true",
                     fit_intercept=True, n_threads=self.n_threads)[2]

    def fvp(self, obs, theta, v):
        """F v without forming F: X~^T (diag p - p p^T)(X~ V) / n, row by row."""
        X = features(obs)
        P = np.exp(log_softmax(X @ theta.reshape(self.d, self.K)))
        U = X @ v.reshape(self.d, self.K)
        WU = P * (U - np.sum(P * U, axis=1, keepdims=True))
        return (X.T @ WU).ravel() / X.shape[0]


class LinearGaussian(Gaussian):
    """pi(a | s) = N([s, 1] W, diag(exp(2 log_std))), log_std learned and independent of
    s. Its Fisher is block diagonal: (X~^T X~ / n) kron diag(sigma^-2) on W (the core's
    Gram kernel) and 2 I on log_std."""

    def __init__(self, n_obs: int, n_actions: int, n_threads=None, log_std_init=0.0):
        self.d, self.K = n_obs + 1, n_actions
        self.n_mean = self.d * self.K
        self.n_params = self.n_mean + self.K
        self.n_threads = resolve_threads(n_threads)
        self.log_std_init = float(log_std_init)

    def init(self, rng):
        theta = np.zeros(self.n_params)
        theta[self.n_mean:] = self.log_std_init
        return theta

    def split(self, theta):
        return theta[: self.n_mean].reshape(self.d, self.K), theta[self.n_mean:]

    def mean(self, obs, theta):
        return features(obs) @ self.split(theta)[0]

    def grad(self, obs, actions, weights, theta):
        W, log_std = self.split(theta)
        X = features(obs)
        inv_var = np.exp(-2.0 * log_std)
        r = actions.reshape(-1, self.K) - X @ W
        g_mean = X.T @ (weights[:, None] * r * inv_var)
        g_std = weights @ (r * r * inv_var - 1.0)
        return np.concatenate([g_mean.ravel(), g_std]) / len(weights)

    def fisher(self, obs, theta):
        _, log_std = self.split(theta)
        obs = np.ascontiguousarray(obs, dtype=np.float64)
        G = np.empty((self.d, self.d))
        _core.linalg.weighted_gram(obs, None, True, 1.0 / obs.shape[0], self.n_threads, G)
        F = np.zeros((self.n_params, self.n_params))
        F[: self.n_mean, : self.n_mean] = np.kron(G, np.diag(np.exp(-2.0 * log_std)))
        F[self.n_mean:, self.n_mean:] = 2.0 * np.eye(self.K)
        return F

    def fvp(self, obs, theta, v):
        _, log_std = self.split(theta)
        X = features(obs)
        V = v[: self.n_mean].reshape(self.d, self.K)
        top = (X.T @ (X @ V)) / X.shape[0] * np.exp(-2.0 * log_std)
        return np.concatenate([top.ravel(), 2.0 * v[self.n_mean:]])


def make_policy(name, observation_space, action_space, n_threads=None, hidden=(64, 64),
                activation="tanh", seed=0, log_std_init=0.0):
    """The policy for a Gymnasium environment's spaces: categorical for Discrete actions,
    diagonal Gaussian for a 1-D Box (starting at log sd ``log_std_init``); its map from
    observations linear or an MLP of ngdx.nn (``hidden``, ``activation``; initialized from
    ``seed``)."""
    from gymnasium import spaces

    if not (isinstance(observation_space, spaces.Box) and len(observation_space.shape) == 1):
        raise ValueError("ngdx.rl needs a 1-D Box observation space, got "
                         f"{observation_space}")
    n_obs = observation_space.shape[0]
    if isinstance(action_space, spaces.Discrete):
        if action_space.n < 2:
            raise ValueError(f"a Discrete action space needs n >= 2 actions, got {action_space}")
        cls, n_actions = LinearCategorical, int(action_space.n)
    elif isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
        cls, n_actions = LinearGaussian, int(action_space.shape[0])
    else:
        raise ValueError("ngdx.rl supports Discrete actions (a categorical policy) and 1-D Box "
                         f"actions (a diagonal Gaussian policy), got {action_space}")
    gauss = {} if cls is LinearCategorical else {"log_std_init": log_std_init}
    if name == "linear":
        return cls(n_obs, n_actions, n_threads, **gauss)
    from ._mlp_policy import MLPCategorical, MLPGaussian

    mlp = MLPCategorical if cls is LinearCategorical else MLPGaussian
    return mlp(n_obs, n_actions, hidden, activation, n_threads, seed, **gauss)

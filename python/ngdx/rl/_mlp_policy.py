"""Policies whose map from observations is an MLP of ngdx.nn (``policy="mlp"``): the
core's network passes give the logits or means, the gradients and the exact Fisher (the
network's generalized Gauss-Newton matrix: the Fisher of a GLM output layer) and its
products.

Gaussian policies reuse the unit-variance gaussian output of the core: with D =
diag(sigma^-2), the Fisher of the means is J^T D J = T F1 T, F1 the unit-variance Fisher
of the network whose last layer is scaled by 1/sigma (its output is D^1/2 mu) and T the
diagonal map that scales the last layer's parameters of output k by 1/sigma_k; the
gradient of log pi in those parameters is T times the unit-variance gradient of that
network at targets a / sigma.
"""

from __future__ import annotations

import numpy as np

from .._config import resolve_threads
from ..nn import MLP
from ..nn import _passes
from ._policy import LOG_2PI, log_softmax

#: The policy's output layer starts at this fraction of its random initialization, so
#: that the first policy is nearly uniform (as sb3's orthogonal init with gain 0.01).
OUTPUT_GAIN = 0.01


class _MLPPolicy:
    def __init__(self, n_obs, n_outputs, output, hidden, activation, n_threads, seed):
        self.net = MLP((n_obs, *hidden, n_outputs), activation=activation, output=output)
        self.K = n_outputs
        self.n_threads = resolve_threads(n_threads)
        self.seed = seed
        W_last, _ = self.net.shapes[-1]
        self.n_net = self.net.n_params
        self.last = slice(self.n_net - (W_last + 1) * n_outputs, self.n_net)

    def _init_net(self):
        theta = self.net.as_theta(self.net.init(seed=self.seed))
        theta[self.last] *= OUTPUT_GAIN
        return theta

    def _x(self, obs):
        return np.ascontiguousarray(obs, dtype=np.float64)

    def _forward(self, obs, theta_net):
        X = self._x(obs)
        out = np.empty((X.shape[0], self.K))
        _passes.forward(X, self.net.layer_sizes, theta_net, self.net.activation, self.net.output,
                        False, self.n_threads, out)
        return out

    def _grad_sum(self, obs, y, w, theta_net):
        """sum_i w_i grad NLL_i (signed w) by the core's weighted-mean pass, once for the
        positive and once for the negative weights (the pass divides by sum w)."""
        X = self._x(obs)
        total = np.zeros(self.n_net)
        for sign, part in ((1.0, np.maximum(w, 0.0)), (-1.0, np.maximum(-w, 0.0))):
            mass = float(part.sum())
            if mass == 0.0:
                continue
            g = np.empty(self.n_net)
            _passes.fused_pass(X, y, np.ascontiguousarray(part), self.net.layer_sizes, theta_net,
                               self.net.activation, self.net.output, "none", "true", 1, 0,
                               self.n_threads, g, None, None)
            total += sign * mass * g
        return total

    def _fvp(self, obs, theta_net, v):
        X = self._x(obs)
        out = np.empty(self.n_net)
        _passes.fisher_vector_product(X, None, self.net.layer_sizes, theta_net,
                                      self.net.activation, self.net.output, v, self.n_threads,
                                      out)
        return out

    def _fisher(self, obs, theta_net):
        X = self._x(obs)
        F = np.empty((self.n_net, self.n_net))
        g = np.empty(self.n_net)
        y = self._dummy_targets(X.shape[0])
        _passes.fused_pass(X, y, None, self.net.layer_sizes, theta_net, self.net.activation,
                           self.net.output, "dense", "true", 1, 0, self.n_threads, g, None, F)
        return F


class MLPCategorical(_MLPPolicy):
    """pi(a | s) = softmax(MLP(s))_a."""

    kind = "categorical"

    def __init__(self, n_obs, n_actions, hidden=(64, 64), activation="tanh", n_threads=None,
                 seed=0):
        super().__init__(n_obs, n_actions, "multinomial", hidden, activation, n_threads, seed)
        self.n_params = self.n_net

    def init(self, rng):
        return self._init_net()

    def _dummy_targets(self, n):
        return np.zeros(n)

    def logits(self, obs, theta):
        return self._forward(obs, theta)

    def log_probs(self, obs, theta):
        return log_softmax(self.logits(obs, theta))

    def log_prob(self, obs, actions, theta):
        return self.log_probs(obs, theta)[np.arange(len(actions)), actions.astype(np.intp)]

    def grad(self, obs, actions, weights, theta):
        y = np.ascontiguousarray(actions, dtype=np.float64)
        return -self._grad_sum(obs, y, np.asarray(weights, dtype=np.float64), theta) / len(y)

    def kl(self, obs, theta_old, theta_new):
        lp, lq = self.log_probs(obs, theta_old), self.log_probs(obs, theta_new)
        return float(np.mean(np.sum(np.exp(lp) * (lp - lq), axis=1)))

    def fisher(self, obs, theta):
        return self._fisher(obs, theta)

    def fvp(self, obs, theta, v):
        return self._fvp(obs, theta, v)

    def sample(self, obs, theta, rng):
        P = np.exp(self.log_probs(obs, theta))
        u = rng.random((P.shape[0], 1))
        return np.minimum((np.cumsum(P, axis=1) < u).sum(axis=1), self.K - 1)

    def mode(self, obs, theta):
        return np.argmax(self.logits(obs, theta), axis=1)


class MLPGaussian(_MLPPolicy):
    """pi(a | s) = N(MLP(s), diag(exp(2 log_std))), log_std learned, state-independent;
    theta = [the network's parameters, log_std]."""

    kind = "gaussian"

    def __init__(self, n_obs, n_actions, hidden=(64, 64), activation="tanh", n_threads=None,
                 seed=0, log_std_init=0.0):
        super().__init__(n_obs, n_actions, "gaussian", hidden, activation, n_threads, seed)
        self.n_params = self.n_net + n_actions
        self.log_std_init = float(log_std_init)
        # output k of each last-layer parameter (W row-major (h, K), then b (K,))
        h = self.net.shapes[-1][0]
        self._output_of = np.concatenate([np.tile(np.arange(n_actions), h),
                                          np.arange(n_actions)])

    def init(self, rng):
        return np.concatenate([self._init_net(), np.full(self.K, self.log_std_init)])

    def _dummy_targets(self, n):
        return np.zeros((n, self.K))

    def split(self, theta):
        return theta[: self.n_net], theta[self.n_net:]

    def _scaling(self, log_std):
        """T's diagonal on the network's parameters: 1/sigma_k on output k's last layer."""
        t = np.ones(self.n_net)
        t[self.last] = np.exp(-log_std)[self._output_of]
        return t

    def mean(self, obs, theta):
        return self._forward(obs, self.split(theta)[0])

    def log_prob(self, obs, actions, theta):
        net, log_std = self.split(theta)
        z = (actions.reshape(-1, self.K) - self._forward(obs, net)) * np.exp(-log_std)
        return -0.5 * np.sum(z * z, axis=1) - float(log_std.sum()) - 0.5 * self.K * LOG_2PI

    def grad(self, obs, actions, weights, theta):
        net, log_std = self.split(theta)
        t = self._scaling(log_std)
        a = actions.reshape(-1, self.K)
        w = np.asarray(weights, dtype=np.float64)
        y = np.ascontiguousarray(a * np.exp(-log_std))
        g_net = -t * self._grad_sum(obs, y, w, net * t) / len(w)
        r = (a - self._forward(obs, net)) * np.exp(-log_std)
        g_std = w @ (r * r - 1.0) / len(w)
        return np.concatenate([g_net, g_std])

    def kl(self, obs, theta_old, theta_new):
        (no, so), (nn_, sn) = self.split(theta_old), self.split(theta_new)
        dm = (self._forward(obs, no) - self._forward(obs, nn_)) * np.exp(-sn)
        per_dim = (sn - so) + 0.5 * (np.exp(2.0 * (so - sn)) - 1.0)
        return float(per_dim.sum() + 0.5 * np.mean(np.sum(dm * dm, axis=1)))

    def fisher(self, obs, theta):
        net, log_std = self.split(theta)
        t = self._scaling(log_std)
        F = np.zeros((self.n_params, self.n_params))
        F[: self.n_net, : self.n_net] = t[:, None] * self._fisher(obs, net * t) * t[None, :]
        F[self.n_net:, self.n_net:] = 2.0 * np.eye(self.K)
        return F

    def fvp(self, obs, theta, v):
        net, log_std = self.split(theta)
        t = self._scaling(log_std)
        top = t * self._fvp(obs, net * t, t * v[: self.n_net])
        return np.concatenate([top, 2.0 * v[self.n_net:]])

    def sample(self, obs, theta, rng):
        mu = self.mean(obs, theta)
        return mu + np.exp(self.split(theta)[1]) * rng.standard_normal(mu.shape)

    def mode(self, obs, theta):
        return self.mean(obs, theta)


"""Value functions V(s), fitted by ngdx itself to each batch's returns (the GAE targets
A + V_old): ridge regression on the observations, or an MLP trained by K-FAC."""

from __future__ import annotations

import warnings

import numpy as np

from .. import _core
from .._config import resolve_threads
from ._policy import features


class LinearValue:
    """V(s) = [s, 1] w, by ridge regression (penalty ``l2`` times the number of rows on w
    without the intercept) refitted from scratch on each batch."""

    def __init__(self, n_obs, l2=1e-3, n_threads=None, seed=0):
        self.w = np.zeros(n_obs + 1)
        self.l2 = float(l2)
        self.n_threads = resolve_threads(n_threads)

    def __call__(self, obs):
        return features(obs) @ self.w

    def fit(self, obs, targets):
        obs = np.ascontiguousarray(obs, dtype=np.float64)
        d = obs.shape[1] + 1
        G = np.empty((d, d))
        _core.linalg.weighted_gram(obs, None, True, 1.0, self.n_threads, G)
        G[np.arange(d - 1), np.arange(d - 1)] += self.l2 * obs.shape[0]
        w = np.linalg.lstsq(G, features(obs).T @ targets, rcond=None)[0]
        if np.isfinite(w).all():
            self.w = w

    def state(self):
        return {"w": self.w}

    def load(self, state):
        self.w = np.asarray(state["w"], dtype=np.float64)


class MLPValue:
    """V(s) an MLP (tanh hidden layers, one linear output) trained on each batch by K-FAC
    for ``n_iter`` steps from its previous parameters (ngdx.nn.fit, gaussian output: least
    squares)."""

    def __init__(self, n_obs, hidden=(64, 64), activation="tanh", n_iter=5, damping=1e-2,
                 n_threads=None, seed=0):
        from ..nn import MLP

        self.net = MLP((n_obs, *hidden, 1), activation=activation, output="gaussian")
        self.params = self.net.init(seed=seed)
        self.n_iter, self.damping = int(n_iter), damping
        self.n_threads = resolve_threads(n_threads)
        self.seed = seed

    def __call__(self, obs):
        out = self.net.predict(self.params, np.asarray(obs, dtype=np.float64),
                               n_threads=self.n_threads)
        return np.asarray(out, dtype=np.float64).reshape(-1)

    def fit(self, obs, targets):
        from ..nn import fit

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # max_iter reached: by design
            res = fit(self.net, np.asarray(obs, dtype=np.float64), targets, "kfac",
                      params_init=self.params, max_iter=self.n_iter, tol=0.0, seed=self.seed,
                      damping=self.damping,
                      n_threads=self.n_threads)
        if all(np.isfinite(W).all() and np.isfinite(b).all() for W, b in res.params):
            self.params = res.params

    def state(self):
        return {f"{k}{i}": a for i, (W, b) in enumerate(self.params) for k, a in (("W", W), ("b", b))}

    def load(self, state):
        n = len(self.params)
        self.params = [(np.asarray(state[f"W{i}"]), np.asarray(state[f"b{i}"])) for i in range(n)]


def make_value(name, n_obs, hidden, activation, n_threads, seed):
    if name == "linear":
        return LinearValue(n_obs, n_threads=n_threads)
    if name == "mlp":
        return MLPValue(n_obs, hidden, activation, n_threads=n_threads, seed=seed)
    raise ValueError(f"value_fn must be 'linear' or 'mlp', got {name!r}")

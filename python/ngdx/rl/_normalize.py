"""Observation normalization: running mean and variance of the observations seen in
training (Chan et al.'s parallel update, float64), applied as clip((s - mean) / sd, +-clip)
to what the policy and the value function see, frozen outside ``learn``."""

from __future__ import annotations

import numpy as np


class Identity:
    """No normalization: the observations as they are."""

    def __call__(self, obs):
        return obs

    def update(self, obs):
        pass

    def state(self):
        return {}

    def load(self, state):
        pass


class RunningNorm:
    """clip((s - mean) / sqrt(var + eps), -clip, clip) with the running mean and variance of
    every observation passed to ``update`` (mean 0 and var 1 until the first update, which
    replaces them)."""

    def __init__(self, n_obs, clip=10.0, eps=1e-8):
        self.mean = np.zeros(n_obs)
        self.var = np.ones(n_obs)
        self.count = 0.0
        self.clip, self.eps = float(clip), float(eps)

    def __call__(self, obs):
        z = (np.asarray(obs, dtype=np.float64) - self.mean) / np.sqrt(self.var + self.eps)
        return np.clip(z, -self.clip, self.clip)

    def update(self, obs):
        obs = np.asarray(obs, dtype=np.float64).reshape(-1, self.mean.size)
        n = obs.shape[0]
        if n == 0:
            return
        mean_b, var_b = obs.mean(axis=0), obs.var(axis=0)
        total = self.count + n
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n / total)
        self.var = (self.var * self.count + var_b * n + delta**2 * (self.count * n / total)) / total
        self.count = total

    def state(self):
        return {"mean": self.mean, "var": self.var, "count": np.array(self.count)}

    def load(self, state):
        self.mean = np.asarray(state["mean"], dtype=np.float64)
        self.var = np.asarray(state["var"], dtype=np.float64)
        self.count = float(state["count"])


def make_normalizer(normalize_obs, n_obs):
    return RunningNorm(n_obs) if normalize_obs else Identity()

"""Experience: Gymnasium environments stepped together, and advantages by GAE.

The environments run through Gymnasium's vector API (``SyncVectorEnv``) in the
``SAME_STEP`` autoreset mode: when an episode ends, the step returns the next episode's
first observation and ``info["final_obs"]`` the last one, whose value bootstraps a
truncated episode (a time limit is not a terminal state).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


def gymnasium():
    """The gymnasium module, imported on first use (an optional dependency: ``ngdx[rl]``)."""
    try:
        import gymnasium as gym
    except ImportError:  # pragma: no cover - exercised without the extra
        raise ImportError("ngdx.rl needs gymnasium: pip install 'ngdx[rl]'") from None
    return gym


def make_vector_env(env, n_envs: int, seed: int):
    """(vector env, its first observations) for a Gymnasium id, an environment instance
    (n_envs copies re-made from its spec) or a callable returning one."""
    gym = gymnasium()
    if isinstance(env, str):
        fns = [lambda: gym.make(env) for _ in range(n_envs)]
    elif isinstance(env, gym.Env):
        if n_envs == 1:
            fns = [lambda: env]
        elif env.spec is not None:
            fns = [lambda: gym.make(env.spec) for _ in range(n_envs)]
        else:
            raise ValueError("n_envs > 1 needs an environment id or an environment with a spec "
                             "(gymnasium.make) to copy; got an instance without one")
    elif callable(env):
        fns = [env for _ in range(n_envs)]
    else:
        raise ValueError("env must be a Gymnasium id, a gymnasium.Env or a callable returning "
                         f"one, got {type(env).__name__}")
    venv = gym.vector.SyncVectorEnv(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    obs, _ = venv.reset(seed=[seed + i for i in range(n_envs)])
    venv.single_action_space.seed(seed)
    return venv, obs


@dataclass
class Batch:
    """n_steps x n_envs transitions, flattened time-major to rows."""

    obs: np.ndarray          # (T, N, d)
    actions: np.ndarray      # (T, N) or (T, N, K)
    rewards: np.ndarray      # (T, N)
    terminated: np.ndarray   # (T, N) bool
    truncated: np.ndarray    # (T, N) bool
    final_obs: dict          # (t, env) -> the last observation of an episode that ended there
    last_obs: np.ndarray     # (N, d): the observations after the batch
    episode_returns: list    # returns of the episodes that finished in the batch

    def map_obs(self, f):
        """This batch with f applied to every observation (the rows, the episodes' last
        observations and the observations after the batch)."""
        return replace(self, obs=f(self.obs), last_obs=f(self.last_obs),
                       final_obs={k: f(v) for k, v in self.final_obs.items()})

    def rows(self, a):
        return a.reshape(a.shape[0] * a.shape[1], *a.shape[2:])


class Collector:
    """Steps a vector env with a policy's sampled actions and keeps the running episode
    returns across batches."""

    def __init__(self, venv, obs, clip_low=None, clip_high=None):
        self.venv, self.obs = venv, obs
        self.running = np.zeros(venv.num_envs)
        self.clip_low, self.clip_high = clip_low, clip_high

    def collect(self, n_steps, act):
        """A Batch of n_steps per env, actions from ``act(obs) -> actions``."""
        obs, actions, rewards, term, trunc = [], [], [], [], []
        final_obs, finished = {}, []
        for t in range(n_steps):
            a = act(self.obs)
            sent = a if self.clip_low is None else np.clip(a, self.clip_low, self.clip_high)
            nxt, r, te, tr, info = self.venv.step(sent)
            r = np.asarray(r, dtype=np.float64)
            obs.append(self.obs)
            actions.append(a)
            rewards.append(r)
            term.append(np.asarray(te, dtype=bool))
            trunc.append(np.asarray(tr, dtype=bool))
            self.running += r
            for i in np.flatnonzero(np.logical_or(te, tr)):
                final_obs[t, i] = np.asarray(info["final_obs"][i], dtype=np.float64)
                finished.append(float(self.running[i]))
                self.running[i] = 0.0
            self.obs = nxt
        stack = np.asarray
        return Batch(stack(obs, dtype=np.float64), stack(actions), stack(rewards),
                     stack(term), stack(trunc), final_obs,
                     np.asarray(self.obs, dtype=np.float64), finished)


def gae(rewards, values, next_values, terminated, done, gamma, lam):
    """Generalized advantage estimates (T, N): A_t = delta_t + gamma lam (1 - done_t)
    A_t+1, delta_t = r_t + gamma (1 - terminated_t) V(s_t+1) - V(s_t), where V(s_t+1) is
    next_values[t]: the value of the next state of the same episode (for a truncated
    episode, of its last observation). Schulman et al. (2016)."""
    T = rewards.shape[0]
    adv = np.zeros_like(rewards)
    last = np.zeros(rewards.shape[1:])
    for t in range(T - 1, -1, -1):
        delta = rewards[t] + gamma * (~terminated[t]) * next_values[t] - values[t]
        last = delta + gamma * lam * (~done[t]) * last
        adv[t] = last
    return adv


def next_state_values(batch: Batch, value_of):
    """(T, N) V of each transition's next state: the next row's observation, the episode's
    last observation where it ended (bootstrap of truncation; terminal rows are masked in
    gae), the observations after the batch for the last row."""
    T, N = batch.rewards.shape
    V = value_of(batch.rows(batch.obs)).reshape(T, N)
    nxt = np.empty((T, N))
    nxt[:-1] = V[1:]
    nxt[-1] = value_of(batch.last_obs)
    if batch.final_obs:
        keys = list(batch.final_obs)
        vals = value_of(np.stack([batch.final_obs[k] for k in keys]))
        for (t, i), v in zip(keys, vals):
            nxt[t, i] = v
    return V, nxt

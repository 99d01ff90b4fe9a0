"""The on-policy loop shared by TRPO, NPG and VPG: collect a batch, estimate advantages
by GAE with a value function fitted by ngdx, take the policy step, record it."""

from __future__ import annotations

import io
import json
import math
import numbers
import time

import numpy as np

from .._config import resolve_threads
from .._validation import check_choice
from ._normalize import make_normalizer
from ._policy import make_policy
from ._rollout import Collector, gae, gymnasium, make_vector_env, next_state_values
from ._value import make_value

HISTORY_KEYS = ("timesteps", "mean_return", "kl", "surrogate_gain", "line_search_steps",
                "time", "failed")


def _positive(value, name, kind=numbers.Real, strict=True):
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value) or (
            value <= 0 if strict else value < 0):
        raise ValueError(f"{name} must be a {'positive' if strict else 'non-negative'} "
                         f"{'integer' if kind is numbers.Integral else 'number'}, got {value!r}")
    return value


def _finite(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _unit(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


class PolicyGradient:
    """Base class: the on-policy loop. Subclasses define ``_update``."""

    algorithm = "base"

    def __init__(self, env, policy="mlp", *, hidden=(64, 64), activation="tanh",
                 gamma=0.99, gae_lambda=0.95, n_steps=2048, n_envs=1, value_fn="mlp",
                 normalize_advantage=True, normalize_obs=False, log_std_init=0.0, seed=0,
                 n_threads=None, verbose=0):
        self.config = dict(
            policy=check_choice(policy, "policy", ("linear", "mlp")),
            hidden=tuple(int(_positive(h, "hidden", numbers.Integral)) for h in hidden),
            activation=check_choice(activation, "activation", ("tanh", "relu", "logistic")),
            gamma=_unit(gamma, "gamma"), gae_lambda=_unit(gae_lambda, "gae_lambda"),
            n_steps=int(_positive(n_steps, "n_steps", numbers.Integral)),
            n_envs=int(_positive(n_envs, "n_envs", numbers.Integral)),
            value_fn=check_choice(value_fn, "value_fn", ("linear", "mlp")),
            normalize_advantage=bool(normalize_advantage), normalize_obs=bool(normalize_obs),
            log_std_init=_finite(log_std_init, "log_std_init"),
            seed=int(_positive(seed, "seed", numbers.Integral, strict=False)),
            verbose=int(verbose))
        self.n_threads = resolve_threads(n_threads)
        self.env = env
        cfg = self.config
        self.venv, obs = make_vector_env(env, cfg["n_envs"], cfg["seed"])
        self.observation_space = self.venv.single_observation_space
        self.action_space = self.venv.single_action_space
        self.policy = make_policy(cfg["policy"], self.observation_space, self.action_space,
                                  self.n_threads, cfg["hidden"], cfg["activation"], cfg["seed"],
                                  cfg["log_std_init"])
        self.obs_norm = make_normalizer(cfg["normalize_obs"], self.observation_space.shape[0])
        self.rng = np.random.default_rng(cfg["seed"])
        self.theta = self.policy.init(self.rng)
        self.value = make_value(cfg["value_fn"], self.observation_space.shape[0], cfg["hidden"],
                                cfg["activation"], self.n_threads, cfg["seed"])
        box = self.policy.kind == "gaussian"
        self.collector = Collector(self.venv, obs, *((self.action_space.low,
                                                      self.action_space.high) if box else ()))
        self.history = {k: np.zeros(0) for k in HISTORY_KEYS}
        self.failures = []  # (update index, message)
        self.num_timesteps = 0

    # ------------------------------------------------------------------ the loop
    def learn(self, total_timesteps, callback=None):
        """Train for at least ``total_timesteps`` environment steps (whole batches of
        n_steps x n_envs). ``callback(agent)`` after each update; True stops. Returns
        self."""
        total = int(_positive(total_timesteps, "total_timesteps", numbers.Integral))
        cfg = self.config
        start = time.perf_counter()
        target = self.num_timesteps + total
        while self.num_timesteps < target:
            batch = self.collector.collect(
                cfg["n_steps"],
                lambda o: self.policy.sample(self.obs_norm(o), self.theta, self.rng))
            self.num_timesteps += cfg["n_steps"] * cfg["n_envs"]
            info = self._train_on(batch)
            info["timesteps"] = self.num_timesteps
            info["mean_return"] = (float(np.mean(batch.episode_returns))
                                   if batch.episode_returns else math.nan)
            info["time"] = time.perf_counter() - start
            self._record(info)
            if cfg["verbose"]:
                print(f"{self.algorithm} steps {self.num_timesteps:8d}  return "
                      f"{info['mean_return']:9.2f}  kl {info['kl']:.2e}  gain "
                      f"{info['surrogate_gain']: .3e}  ls {info['line_search_steps']:.0f}")
            if callback is not None and callback(self):
                break
        return self

    def _train_on(self, batch):
        """Advantages, the policy step, the value fit; the history entry (without time)."""
        cfg = self.config
        info = dict(kl=0.0, surrogate_gain=0.0, line_search_steps=0.0, failed=0.0)
        if not np.isfinite(batch.rewards).all():
            return self._fail(info, "non-finite rewards in the batch: no update")
        # the step and the value fit see the batch as the policy that drew its actions saw
        # it (the update is on-policy); the statistics take in its observations afterwards
        raw = batch.rows(batch.obs)
        batch = batch.map_obs(self.obs_norm)
        values, next_values = next_state_values(batch, self.value)
        done = batch.terminated | batch.truncated
        adv = gae(batch.rewards, values, next_values, batch.terminated, done, cfg["gamma"],
                  cfg["gae_lambda"])
        if not np.isfinite(adv).all():
            return self._fail(info, "non-finite advantages (the value function?): no update")
        obs, actions = batch.rows(batch.obs), batch.rows(batch.actions)
        returns = (adv + values).reshape(-1)
        A = adv.reshape(-1)
        if cfg["normalize_advantage"] and A.size > 1:
            A = (A - A.mean()) / (A.std() + 1e-8)
        step = self._update(obs, actions, A)
        info.update(step)
        if step.get("message"):
            self.failures.append((len(self.history["timesteps"]), step["message"]))
            info["failed"] = 1.0
        info.pop("message", None)
        self.value.fit(obs, returns)
        self.obs_norm.update(raw)
        return info

    def _fail(self, info, message):
        self.failures.append((len(self.history["timesteps"]), message))
        info.update(failed=1.0, kl=math.nan, surrogate_gain=math.nan)
        return info

    def _record(self, info):
        for k in HISTORY_KEYS:
            self.history[k] = np.append(self.history[k], float(info[k]))

    def surrogate(self, obs, actions, A, log_prob_old, theta):
        """mean_i pi_theta(a_i|s_i) / pi_old(a_i|s_i) A_i."""
        ratio = np.exp(self.policy.log_prob(obs, actions, theta) - log_prob_old)
        return float(np.mean(ratio * A))

    # ------------------------------------------------------------------ using the policy
    def predict(self, obs, deterministic=True):
        """The action for one observation (d,) or a batch (n, d): the most likely one (the
        mean for a Gaussian policy, clipped to the action space) or a sample."""
        obs = np.asarray(obs, dtype=np.float64)
        single = obs.ndim == 1
        batch = obs.reshape(1, -1) if single else obs
        if batch.ndim != 2 or batch.shape[1] != self.observation_space.shape[0]:
            raise ValueError(f"obs must have shape ({self.observation_space.shape[0]},) or "
                             f"(n, {self.observation_space.shape[0]}), got {obs.shape}")
        batch = self.obs_norm(batch)
        a = (self.policy.mode(batch, self.theta) if deterministic
             else self.policy.sample(batch, self.theta, self.rng))
        if self.policy.kind == "gaussian":
            a = np.clip(a, self.action_space.low, self.action_space.high)
        return a[0] if single else a

    def evaluate(self, n_episodes=10, seed=None, deterministic=True):
        """(mean, std) of the returns of ``n_episodes`` episodes on a fresh copy of the
        environment (seeded ``seed``, ``seed + 1``, ...)."""
        n = int(_positive(n_episodes, "n_episodes", numbers.Integral))
        env = self._fresh_env()
        returns = []
        for k in range(n):
            obs, _ = env.reset(seed=None if seed is None else int(seed) + k)
            total, done = 0.0, False
            while not done:
                obs, r, term, trunc, _ = env.step(self.predict(obs, deterministic))
                total += float(r)
                done = term or trunc
            returns.append(total)
        return float(np.mean(returns)), float(np.std(returns))

    def _fresh_env(self):
        """A new copy of the environment (from its id, its spec or its factory), or the
        instance itself when it has no spec to copy."""
        gym = gymnasium()
        env = self.env
        if isinstance(env, str):
            return gym.make(env)
        if isinstance(env, gym.Env):
            return gym.make(env.spec) if env.spec is not None else env
        return env()

    # ------------------------------------------------------------------ persistence
    def save(self, path):
        """Writes the policy, value function and settings to exactly the file ``path``."""
        arrays = {f"value_{k}": v for k, v in self.value.state().items()}
        arrays.update({f"obs_norm_{k}": v for k, v in self.obs_norm.state().items()})
        config = dict(self.config, algorithm=self.algorithm, extra=self._extra_config())
        buf = io.BytesIO()
        np.savez(buf, theta=self.theta, config=np.array(json.dumps(config)), **arrays)
        with open(path, "wb") as f:
            f.write(buf.getvalue())

    @classmethod
    def load(cls, path, env, **overrides):
        """The agent saved at ``path``, on ``env`` (its settings, policy and value function;
        ``overrides`` for n_threads or verbose)."""
        with np.load(path, allow_pickle=False) as data:
            config = json.loads(str(data["config"]))
            algorithm = config.pop("algorithm")
            if algorithm != cls.algorithm:
                raise ValueError(f"{path} holds a {algorithm} agent, not {cls.algorithm}")
            kwargs = dict(config.pop("extra"), **config)
            kwargs.update(overrides)
            agent = cls(env, **kwargs)
            theta = np.array(data["theta"], dtype=np.float64)
            if theta.shape != agent.theta.shape:
                raise ValueError(f"{path}: a policy of {theta.size} parameters does not fit this "
                                 f"environment's ({agent.theta.size})")
            agent.theta = theta
            agent.value.load({k[len("value_"):]: np.array(data[k]) for k in data.files
                              if k.startswith("value_")})
            agent.obs_norm.load({k[len("obs_norm_"):]: np.array(data[k]) for k in data.files
                                 if k.startswith("obs_norm_")})
        return agent

    def _extra_config(self):
        return {}

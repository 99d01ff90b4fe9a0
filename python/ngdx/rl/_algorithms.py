"""TRPO, the natural policy gradient and the vanilla policy gradient."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._validation import check_choice
from ._agent import PolicyGradient, _positive
from ._step import SOLVERS, kl_scale, natural_direction

#: NPG's shrinks of a step whose measured KL exceeds 1.5 max_kl, at most.
MAX_SHRINKS = 10


class _Natural(PolicyGradient):
    def __init__(self, env, policy="mlp", *, max_kl=0.01, fisher_solver="auto",
                 damping=1e-4, cg_iters=25, **kw):
        super().__init__(env, policy, **kw)
        self.max_kl = float(_positive(max_kl, "max_kl"))
        self.fisher_solver = check_choice(fisher_solver, "fisher_solver", SOLVERS)
        self.damping = float(_positive(damping, "damping", strict=False))
        self.cg_iters = int(_positive(cg_iters, "cg_iters", numbers.Integral))

    def _extra_config(self):
        return dict(max_kl=self.max_kl, fisher_solver=self.fisher_solver,
                    damping=self.damping, cg_iters=self.cg_iters)

    def _full_step(self, obs, actions, A):
        """(the natural-gradient step to the KL radius or None, why not)."""
        g = self.policy.grad(obs, actions, A, self.theta)
        d = natural_direction(self.policy, obs, self.theta, g, self.fisher_solver,
                              self.damping, self.cg_iters)
        return (None, d.message) if d.s is None else (kl_scale(d.quad, self.max_kl) * d.s, "")


class TRPO(_Natural):
    """Trust-region policy optimization (Schulman et al., 2015) with the exact Fisher.

    Each update maximizes the surrogate mean_i [pi(a_i|s_i) / pi_old(a_i|s_i)] A_i subject
    to the mean KL(pi_old || pi) <= max_kl: the natural-gradient direction s = F^-1 g
    scaled to the KL radius, sqrt(2 max_kl / s^T F s) s, then shrunk by ``backtrack_factor``
    (at most ``max_backtracks`` times) until the surrogate improves and the *measured* mean
    KL over the batch is within max_kl. A failed line search, s^T F s <= 0 or a non-finite value
    leaves the policy unchanged and is recorded (``history["failed"]``, ``failures``).

    Parameters
    ----------
    env : str, gymnasium.Env or callable
        A Gymnasium id (``"CartPole-v1"``), an environment, or a function returning one.
        Discrete actions get a categorical policy, 1-D Box actions a diagonal Gaussian
        with a learned state-independent log standard deviation (actions clipped to the
        space when sent to the environment and by ``predict``).
    policy : {"mlp", "linear"}
        The policy's map from observations: an MLP of ngdx.nn (``hidden``, ``activation``;
        its output layer starts near 0, a nearly uniform policy), or linear in [obs, 1].
    hidden, activation : tuple of int, str
        The hidden layers of the MLP policy and of the MLP value function.
    gamma, gae_lambda : float in [0, 1]
        Discount and GAE's lambda (sb3-contrib's defaults: 0.99, 0.95).
    n_steps : int
        Environment steps per environment and update (a batch is n_steps x n_envs).
    n_envs : int
        Copies of the environment stepped together (Gymnasium's SyncVectorEnv).
    value_fn : {"mlp", "linear"}
        The baseline V(s), refitted to each batch's GAE returns by ngdx: an MLP trained by
        K-FAC (5 steps from its previous parameters), or ridge regression.
    normalize_advantage : bool
        Standardize each batch's advantages.
    normalize_obs : bool
        Standardize the observations the policy and the value function see by the running
        mean and variance of those met in training (clipped to +-10, as stable-baselines3's
        VecNormalize; the RL Zoo's ``normalize: true``). The statistics take in each batch
        before the update on it, are frozen outside ``learn`` (``predict``, ``evaluate``)
        and are saved with the agent.
    log_std_init : float
        A Gaussian policy's initial log standard deviation (the RL Zoo uses -2 on some
        continuous-control tasks); ignored for discrete actions.
    seed : int
        Seeds the environments (seed + i for copy i), the action draws and the value
        function's initialization: a run is reproducible for a thread count.
    n_threads : int, optional
        Threads of the compiled core.
    verbose : int
        1 prints a line per update.

    max_kl : float
        The KL radius of an update: the measured mean KL(pi_old || pi_new) over the batch's
        states.
    fisher_solver : {"auto", "dense", "cg"}
        How F s = g is solved, F the exact Fisher of the policy on the batch's states:
        "dense" forms F (the Gram kernel of the core) and factors it by Cholesky, "cg" runs
        conjugate gradient on exact Fisher-vector products; "auto" is dense up to 1024
        parameters.
    damping : float
        F + damping * scale * I, scale the Fisher's (its mean diagonal; for cg its Rayleigh
        quotient along g).
    cg_iters : int
        Conjugate-gradient iterations at most.
    max_backtracks : int
        Shrinks of the step the line search may try.
    backtrack_factor : float in (0, 1)
        The line search's shrink factor (0.5; sb3-contrib's is 0.8). The full step of a
        small MLP policy can reach ~1000 max_kl (the KL's quadratic model is poor far from
        theta): a factor near 1 needs more ``max_backtracks`` (0.8 needs ~30).

    Attributes
    ----------
    history : dict of 1-D arrays, one entry per update
        "timesteps", "mean_return" (of the training episodes that finished in the batch;
        NaN when none did), "kl" (the measured mean KL of the update taken, 0 when none),
        "surrogate_gain", "line_search_steps" (shrinks; -1 when the search failed),
        "time" (seconds since ``learn`` started), "failed" (1 when no step was taken).
    failures : list of (update index, message)
    theta : ndarray
        The policy's parameters (``policy`` describes their layout).

    Examples
    --------
    >>> import ngdx
    >>> agent = ngdx.rl.TRPO("CartPole-v1", n_steps=256, value_fn="linear", seed=0)
    >>> bool(agent.learn(1024).history["kl"].max() <= 0.01)
    True
    """

    algorithm = "TRPO"

    def __init__(self, env, policy="mlp", *, hidden=(64, 64), activation="tanh", gamma=0.99,
                 gae_lambda=0.95, n_steps=2048, n_envs=1, value_fn="mlp",
                 normalize_advantage=True, normalize_obs=False, log_std_init=0.0, max_kl=0.01,
                 fisher_solver="auto", damping=1e-4, cg_iters=25, max_backtracks=10,
                 backtrack_factor=0.5, seed=0, n_threads=None, verbose=0):
        super().__init__(env, policy, hidden=hidden, activation=activation, gamma=gamma,
                         gae_lambda=gae_lambda, n_steps=n_steps, n_envs=n_envs,
                         value_fn=value_fn, normalize_advantage=normalize_advantage,
                         normalize_obs=normalize_obs, log_std_init=log_std_init,
                         max_kl=max_kl, fisher_solver=fisher_solver, damping=damping,
                         cg_iters=cg_iters, seed=seed, n_threads=n_threads, verbose=verbose)
        self.max_backtracks = int(_positive(max_backtracks, "max_backtracks",
                                            numbers.Integral, strict=False))
        self.backtrack_factor = float(backtrack_factor)
        if not 0 < self.backtrack_factor < 1:
            raise ValueError(f"backtrack_factor must be in (0, 1), got {backtrack_factor!r}")

    def _extra_config(self):
        return dict(super()._extra_config(), max_backtracks=self.max_backtracks,
                    backtrack_factor=self.backtrack_factor)

    def _update(self, obs, actions, A):
        full, message = self._full_step(obs, actions, A)
        if full is None:
            return dict(line_search_steps=-1.0, message=message)
        old = self.policy.log_prob(obs, actions, self.theta)
        base = float(np.mean(A))  # the surrogate at theta_old (ratio 1)
        scale = 1.0
        for k in range(self.max_backtracks + 1):
            trial = self.theta + scale * full
            gain = self.surrogate(obs, actions, A, old, trial) - base
            kl = self.policy.kl(obs, self.theta, trial)
            if math.isfinite(gain) and math.isfinite(kl) and gain > 0 and kl <= self.max_kl:
                self.theta = trial
                return dict(kl=kl, surrogate_gain=gain, line_search_steps=float(k))
            scale *= self.backtrack_factor
        return dict(line_search_steps=-1.0,
                    message=f"the line search found no step within max_kl={self.max_kl:g} "
                            f"that improves the surrogate ({self.max_backtracks} shrinks)")


class NPG(_Natural):
    """The natural policy gradient (Kakade, 2001): the step
    sqrt(2 max_kl / g^T F^-1 g) F^-1 g, no line search.

    The quadratic model of the KL sets the step; the KL actually reached is measured and
    recorded. Where it exceeds 1.5 max_kl (the model is poor far from theta: an MLP's
    Fisher is ill-conditioned), the step is shrunk by sqrt(max_kl / KL) until it is not
    (``line_search_steps`` counts the shrinks; at most 10), so that no update moves the
    policy beyond 1.5 max_kl. Unlike TRPO's line search this does not ask the surrogate to
    improve. Parameters, attributes and failures as in
    [`TRPO`][ngdx.rl.TRPO], without ``max_backtracks`` and ``backtrack_factor``.
    """

    algorithm = "NPG"

    def _update(self, obs, actions, A):
        step, message = self._full_step(obs, actions, A)
        if step is None:
            return dict(line_search_steps=-1.0, message=message)
        old = self.policy.log_prob(obs, actions, self.theta)
        kl = self.policy.kl(obs, self.theta, self.theta + step)
        shrunk = 0
        while not (math.isfinite(kl) and kl <= 1.5 * self.max_kl) and shrunk < MAX_SHRINKS:
            step *= math.sqrt(self.max_kl / kl) if math.isfinite(kl) and kl > 0 else 0.1
            kl, shrunk = self.policy.kl(obs, self.theta, self.theta + step), shrunk + 1
        if not (math.isfinite(kl) and kl <= 1.5 * self.max_kl):
            return dict(line_search_steps=-1.0,
                        message=f"no step of the natural direction within 1.5 max_kl "
                                f"({MAX_SHRINKS} shrinks)")
        gain = self.surrogate(obs, actions, A, old, self.theta + step) - float(np.mean(A))
        self.theta = self.theta + step
        return dict(kl=kl, surrogate_gain=gain, line_search_steps=float(shrunk))


class VPG(PolicyGradient):
    """The vanilla policy gradient (REINFORCE with a GAE baseline; Williams, 1992), the
    baseline of the natural methods: Adam steps along the gradient of the mean of
    log pi(a_i|s_i) A_i.

    Parameters and attributes as in [`TRPO`][ngdx.rl.TRPO], without ``max_kl``,
    ``fisher_solver``, ``damping``, ``cg_iters``, ``max_backtracks`` and
    ``backtrack_factor``, and with:

    Parameters
    ----------
    lr : float
        Adam's step size.
    n_epochs : int
        Adam steps per batch (the first along the policy gradient, the next ones on the
        importance-weighted surrogate).
    """

    algorithm = "VPG"

    def __init__(self, env, policy="mlp", *, lr=0.01, n_epochs=1, **kw):
        super().__init__(env, policy, **kw)
        self.lr = float(_positive(lr, "lr"))
        self.n_epochs = int(_positive(n_epochs, "n_epochs", numbers.Integral))
        self._m = np.zeros_like(self.theta)
        self._v = np.zeros_like(self.theta)
        self._t = 0

    def _extra_config(self):
        return dict(lr=self.lr, n_epochs=self.n_epochs)

    def _update(self, obs, actions, A):
        old = self.policy.log_prob(obs, actions, self.theta)
        theta = self.theta
        for _ in range(self.n_epochs):
            ratio = np.exp(self.policy.log_prob(obs, actions, theta) - old)
            g = self.policy.grad(obs, actions, ratio * A, theta)
            if not np.isfinite(g).all():
                return dict(message="the policy gradient is not finite")
            self._t += 1
            self._m = 0.9 * self._m + 0.1 * g
            self._v = 0.999 * self._v + 0.001 * g * g
            mh, vh = self._m / (1 - 0.9**self._t), self._v / (1 - 0.999**self._t)
            theta = theta + self.lr * mh / (np.sqrt(vh) + 1e-8)
        kl = self.policy.kl(obs, self.theta, theta)
        gain = self.surrogate(obs, actions, A, old, theta) - float(np.mean(A))
        self.theta = theta
        return dict(kl=kl, surrogate_gain=gain)

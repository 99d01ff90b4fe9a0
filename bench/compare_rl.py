"""ngdx.rl (TRPO, NPG, VPG) against sb3-contrib's TRPO and stable-baselines3's PPO and A2C
on CartPole-v1, Acrobot-v1 and Pendulum-v1 (issue 13), one subprocess per training run.

    python bench/compare_rl.py                     # 3 envs x 6 methods x 5 seeds (long)
    python bench/compare_rl.py --quick             # CartPole, 1e4 steps, 1 seed: a smoke run
    python bench/compare_rl.py --envs CartPole-v1 --seeds 3 --save

The anchors are optional and never ngdx dependencies: ``pip install ".[bench]"`` brings
them (stable-baselines3, sb3-contrib, gymnasium, torch), or ``pip install
"stable-baselines3>=2.3" "sb3-contrib>=2.3" "gymnasium>=1.1"`` beside an installed torch
(on Linux the default torch wheel is a CUDA build with gigabytes of CUDA libraries; a
CPU-only build, from PyTorch's CPU wheel index, is enough here). A method whose library
is missing gets a "not installed" row.

Protocol. Each (env, method, seed) trains in its own process with ``--threads`` threads
(ngdx's ``n_threads``, ``torch.set_num_threads``, and the BLAS/OpenMP variables) for the
env's budget of environment steps (1e5, 1e5, 2e5). Every training episode's undiscounted
return is recorded by one wrapper under each copy of the env, whatever the library, with
the environment steps taken so far: the training curve is the mean return of the last 10
finished episodes, and "solved at" the first step at which it reaches the env's threshold
(475, -90, -200). After training, 10 episodes are played deterministically on a fresh
env, episode k seeded 1000 + seed + k (as ``agent.evaluate(seed=1000 + seed)`` does); the
table gives the mean +- std over seeds of their mean. Wall time is that of ``learn``
alone (median and range over seeds), per 1e5 steps its median over seeds; "x sb3-contrib
TRPO" is sb3-contrib TRPO's time per 1e5 steps over the method's. For ngdx runs, the
largest measured KL of an update over max_kl, and whether a non-finite value appeared in
``agent.history`` (outside the updates it records as failed: their kl is NaN by design)
or in the evaluation; failed updates are counted. Each run also measures the share of
the CPUs that other processes used meanwhile (bench/_machine.py): above 5% the table
names the method, and the speed target is not judged from it (on a 2-core machine, one
busy core slows a 2-thread torch run by up to 70x). Do not quote times from a shared
machine.

Hyperparameters. The sb3 methods use the RL Zoo's tuned ones (``ZOO`` below, copied from
rl-baselines3-zoo's hyperparams/{trpo,ppo,a2c}.yml; its budgets are not used). Where the
zoo says ``normalize: true``, the training env is wrapped in VecNormalize (observations
and rewards, gamma the algorithm's), and the evaluation normalizes observations with the
training statistics, frozen. ngdx runs the zoo's TRPO settings of each env (``NGDX``:
n_envs, n_steps per env, gamma, gae_lambda) for all three of its methods, an MLP policy
(64, 64) tanh (``--policy linear`` for the linear one) and no observation normalization.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shlex
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _machine import CpuMeter  # noqa: E402
from _rl_report import ANCHOR, ENVS, save_curves, summarize, table, targets  # noqa: E402
from compare import add_child_arguments, cpu_model, run_script, write_report  # noqa: E402

QUICK_BUDGET = 10_000
METHODS = ("ngdx TRPO", "ngdx NPG", "ngdx VPG", "sb3-contrib TRPO", "sb3 PPO", "sb3 A2C")
MAX_KL = 0.01  # ngdx's TRPO and NPG, as sb3-contrib's target_kl
EVAL_EPISODES = 10

#: The RL Zoo's tuned hyperparameters (github.com/DLR-RM/rl-baselines3-zoo, commit
#: 22e3ff2, hyperparams/trpo.yml, ppo.yml, a2c.yml), as written there but for
#: n_timesteps and policy ("MlpPolicy" for all); "lin_X" is a linear schedule from X to 0.
ZOO = {
    ("CartPole-v1", "sb3-contrib TRPO"): dict(
        n_envs=2, n_steps=512, batch_size=512, cg_damping=1e-3, gae_lambda=0.98,
        gamma=0.99, learning_rate=1e-3, n_critic_updates=20),
    ("Pendulum-v1", "sb3-contrib TRPO"): dict(
        n_envs=2, n_steps=1024, gamma=0.9, n_critic_updates=15, use_sde=True,
        sde_sample_freq=4),
    ("Acrobot-v1", "sb3-contrib TRPO"): dict(normalize=True, n_envs=2, n_steps=1024),
    ("Pendulum-v1", "sb3 PPO"): dict(
        n_envs=4, n_steps=1024, gae_lambda=0.95, gamma=0.9, n_epochs=10, ent_coef=0.0,
        learning_rate=1e-3, clip_range=0.2, use_sde=True, sde_sample_freq=4),
    ("CartPole-v1", "sb3 PPO"): dict(
        n_envs=8, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
        ent_coef=0.0, learning_rate="lin_0.001", clip_range="lin_0.2"),
    ("Acrobot-v1", "sb3 PPO"): dict(
        normalize=True, n_envs=16, n_steps=256, gae_lambda=0.94, gamma=0.99, n_epochs=4,
        ent_coef=0.0),
    ("CartPole-v1", "sb3 A2C"): dict(n_envs=8, ent_coef=0.0),
    ("Acrobot-v1", "sb3 A2C"): dict(normalize=True, n_envs=16, ent_coef=0.0),
    ("Pendulum-v1", "sb3 A2C"): dict(
        normalize=True, n_envs=8, ent_coef=0.0, max_grad_norm=0.5, n_steps=8,
        gae_lambda=0.9, vf_coef=0.4, gamma=0.9, use_rms_prop=True,
        normalize_advantage=False, learning_rate="lin_7e-4", use_sde=True,
        policy_kwargs=dict(log_std_init=-2, ortho_init=False)),
}

#: ngdx's settings per env: the zoo's TRPO ones above (n_steps is per env in ngdx as in
#: sb3, so CartPole's batch is 2 x 512 = 1024 steps, the zoo's).
NGDX = {"CartPole-v1": dict(n_envs=2, n_steps=512, gamma=0.99, gae_lambda=0.98),
        "Acrobot-v1": dict(n_envs=2, n_steps=1024, gamma=0.99, gae_lambda=0.95),
        "Pendulum-v1": dict(n_envs=2, n_steps=1024, gamma=0.9, gae_lambda=0.95)}

#: method -> the modules it needs, for the "not installed" rows.
NEEDS = {"ngdx": ("gymnasium",), "sb3-contrib": ("gymnasium", "torch", "stable_baselines3",
                                                 "sb3_contrib"),
         "sb3": ("gymnasium", "torch", "stable_baselines3")}


def missing(method):
    """The first module ``method`` needs that is not importable, else None."""
    for module in NEEDS[method.split()[0]]:
        if importlib.util.find_spec(module) is None:
            return module
    if method.startswith("ngdx") and importlib.util.find_spec("ngdx.rl") is None:
        return "ngdx.rl"
    return None


def zoo_kwargs(env_id, method):
    """(n_envs, normalize, the algorithm's keyword arguments) from ``ZOO``: "lin_X" made a
    linear schedule (sb3 passes the remaining progress, 1 -> 0)."""
    kwargs = dict(ZOO[(env_id, method)])
    n_envs, normalize = kwargs.pop("n_envs", 1), kwargs.pop("normalize", False)
    for key, value in kwargs.items():
        if isinstance(value, str) and value.startswith("lin_"):
            start = float(value[4:])
            kwargs[key] = lambda progress, start=start: progress * start
    return n_envs, normalize, kwargs


# ------------------------------------------------------------------ the child
class EpisodeLog:
    """Every finished episode's (environment steps so far, return), over all the copies of
    an env that ``factory`` makes: the same training curve for every library."""

    def __init__(self):
        self.steps, self.episodes = 0, []

    def snapshot(self):
        """What was recorded so far, for the JSON: training only when taken before the
        evaluation (whose env ngdx makes by the same factory)."""
        return dict(steps=self.steps, episodes=list(self.episodes))

    def factory(self, env_id):
        import gymnasium as gym

        log = self

        class Recorded(gym.Wrapper):
            def reset(self, **kwargs):
                self.total = 0.0
                return self.env.reset(**kwargs)

            def step(self, action):
                obs, reward, terminated, truncated, info = self.env.step(action)
                log.steps += 1
                self.total += float(reward)
                if terminated or truncated:
                    log.episodes.append((log.steps, self.total))
                return obs, reward, terminated, truncated, info

        return lambda: Recorded(gym.make(env_id))


def play(env_id, act, seed):
    """Returns of ``EVAL_EPISODES`` episodes of ``act(obs)`` on a fresh env, episode k
    seeded 1000 + seed + k."""
    import gymnasium as gym

    env, returns = gym.make(env_id), []
    for k in range(EVAL_EPISODES):
        obs, _ = env.reset(seed=1000 + seed + k)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def train_ngdx(method, env_id, seed, budget, threads, policy, log):
    import ngdx.rl

    algorithm = method.split()[1]
    kwargs = dict(NGDX[env_id], max_kl=MAX_KL) if algorithm != "VPG" else dict(NGDX[env_id])
    agent = getattr(ngdx.rl, algorithm)(log.factory(env_id), policy=policy, hidden=(64, 64),
                                        activation="tanh", seed=seed, n_threads=threads,
                                        **kwargs)
    with CpuMeter() as meter:
        agent.learn(budget)
    recorded = log.snapshot()  # before evaluate, whose env is recorded too
    mean, _ = agent.evaluate(n_episodes=EVAL_EPISODES, seed=1000 + seed, deterministic=True)
    history = {k: np.asarray(v, dtype=float).tolist() for k, v in agent.history.items()}
    return meter, dict(recorded, eval_mean=mean, history=history, max_kl=kwargs.get("max_kl"))


def train_sb3(method, env_id, seed, budget, threads, log):
    import torch
    from stable_baselines3 import A2C, PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    torch.set_num_threads(threads)
    if method == ANCHOR:
        from sb3_contrib import TRPO as algorithm
    else:
        algorithm = {"sb3 PPO": PPO, "sb3 A2C": A2C}[method]
    n_envs, normalize, kwargs = zoo_kwargs(env_id, method)
    venv = make_vec_env(log.factory(env_id), n_envs=n_envs, seed=seed)
    if normalize:
        venv = VecNormalize(venv, gamma=kwargs.get("gamma", 0.99))
    model = algorithm("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **kwargs)
    with CpuMeter() as meter:
        model.learn(budget)
    recorded = log.snapshot()

    def act(obs):
        if normalize:  # the training statistics, not updated (VecNormalize.normalize_obs)
            obs = venv.normalize_obs(obs)
        return model.predict(obs, deterministic=True)[0]

    return meter, dict(recorded, eval_mean=play(env_id, act, seed))


def child(args):
    log = EpisodeLog()
    if args.method.startswith("ngdx"):
        out = train_ngdx(args.method, args.env, args.seed, args.budget, args.threads,
                         args.policy, log)
    else:
        out = train_sb3(args.method, args.env, args.seed, args.budget, args.threads, log)
    meter, result = out
    print(json.dumps(dict(result, time=meter.wall, foreign=meter.foreign)))
    return 0


# ------------------------------------------------------------------ the parent
def versions():
    names = []
    for module in ("ngdx", "gymnasium", "torch", "stable_baselines3", "sb3_contrib"):
        if importlib.util.find_spec(module) is None:
            names.append(f"{module} not installed")
            continue
        from importlib import metadata

        dist = {"stable_baselines3": "stable-baselines3", "sb3_contrib": "sb3-contrib"}
        names.append(f"{module} {metadata.version(dist.get(module, module))}")
    return ", ".join(names)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"CartPole only, {QUICK_BUDGET:,} steps, 1 seed")
    parser.add_argument("--envs", nargs="+", choices=list(ENVS), default=None)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--seeds", type=int, default=None, help="default 5 (1 with --quick)")
    parser.add_argument("--policy", choices=("mlp", "linear"), default="mlp",
                        help="ngdx's policy (default mlp (64, 64) tanh)")
    parser.add_argument("--out", help="write the report to this file")
    add_child_arguments(parser)  # --threads (2), --timeout (s per run), --save, --child
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--env", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--budget", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    envs = args.envs or (["CartPole-v1"] if args.quick else list(ENVS))
    seeds = args.seeds or (1 if args.quick else 5)
    command = shlex.join(argv if argv is not None else sys.argv[1:])
    lines = [f"# ngdx.rl vs sb3-contrib and stable-baselines3 ({datetime.date.today()})", "",
             f"Machine: {cpu_model()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}, {versions()}; {args.threads} threads per run, "
             f"{seeds} seeds, ngdx policy {args.policy}. Command: "
             f"`python bench/compare_rl.py {command}`.", ""]
    print("\n".join(lines), flush=True)
    results, raw = {}, {}
    for env_id in envs:
        budget = QUICK_BUDGET if args.quick else ENVS[env_id]["budget"]
        results[env_id] = {}
        for method in args.methods:
            absent = missing(method)
            if absent:
                results[env_id][method] = {"skipped": f"not installed ({absent})"}
                continue
            runs = []
            for seed in range(seeds):
                flags = ["--method", method, "--env", env_id, "--seed", str(seed), "--budget",
                         str(budget), "--policy", args.policy]
                runs.append(run_script(__file__, flags, args.threads, args.timeout))
                r = runs[-1]
                print(f"  {env_id} {method} seed {seed}: " + (r["error"] if "error" in r else
                      f"{r['time']:.1f} s, eval {r['eval_mean']:.1f}"), flush=True)
            raw[f"{env_id} {method}"] = runs
            results[env_id][method] = dict(summarize(runs, ENVS[env_id]["solved"]),
                                           budget=budget)
        part = table(env_id, results[env_id], budget)
        print("\n".join(part), flush=True)
        lines += part + [""]
    verdicts = targets(results)
    print("\n".join(verdicts), flush=True)
    report = "\n".join(lines + verdicts) + "\n"
    name = "compare-rl-quick" if args.quick else "compare-rl"
    write_report(report, args.out, name if args.save else None)
    if args.save:
        save_curves(raw, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

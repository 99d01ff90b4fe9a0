"""``python -m ngdx demo --model rl``: TRPO, the natural policy gradient and the vanilla
policy gradient train the same linear policy on CartPole-v1."""

from __future__ import annotations

import math

import numpy as np

from ._demo import _pyplot_or_none, _save_figure

ENV = "CartPole-v1"
#: CartPole-v1 counts as solved at a mean return of 475 (its spec's reward_threshold).
SOLVED = 475.0
#: The agents' common settings: the RL Zoo's CartPole gae_lambda, 8 environments.
SETTINGS = dict(policy="linear", n_steps=128, n_envs=8, gae_lambda=0.98)
#: (label, ngdx.rl class name) of every method the demo compares.
RL_METHODS = [("trpo", "TRPO"), ("npg", "NPG"), ("vpg", "VPG")]
MISSING_GYMNASIUM = ('the rl demo needs gymnasium, an optional extra: pip install ".[rl]" '
                     '(from a source checkout; pip install "ngdx[rl]" from a wheel)')


def has_gymnasium():
    """Whether gymnasium can be imported (the demo's own check, before any training)."""
    try:
        import gymnasium  # noqa: F401
    except ImportError:
        return False
    return True


def run_rl(steps=50_000, seed=0, out=".", verbose=False):
    """Train TRPO, NPG and VPG for ``steps`` environment steps each, print a table, plot
    the mean training return against steps and seconds; return {label: agent} and the
    plot's path (None without matplotlib)."""
    from . import rl

    print(f"ngdx demo: TRPO, NPG and VPG on {ENV}, a linear policy, "
          f"n_steps={SETTINGS['n_steps']} x n_envs={SETTINGS['n_envs']}, "
          f"gae_lambda={SETTINGS['gae_lambda']} (seed {seed}, {steps} steps)\n")
    header = (f"{'method':<8} {'final return':>12} {'eval return':>16} "
              f"{f'steps to {SOLVED:g}':>13} {'time (s)':>9} {'max KL':>9}")
    print(header)
    print("-" * len(header))
    agents = {}
    for label, name in RL_METHODS:
        agent = getattr(rl, name)(ENV, seed=seed, verbose=int(verbose), **SETTINGS)
        agent.learn(steps)
        agents[label] = agent
        print(_row(label, agent))
    print("\nfinal return: mean training return of the last batch in which an episode ended\n"
          "eval return: mean +- std over 10 deterministic episodes (seeds 1000-1009)\n"
          f"steps to {SOLVED:g}: to the first batch whose mean training return reached it\n"
          "max KL: the largest measured mean KL of an update")
    path = _plot_returns(agents, out, f"ngdx demo: {ENV}, linear policy (seed {seed})")
    return agents, path


def _row(label, agent):
    """The table's row of a trained agent."""
    h = agent.history
    finished = np.isfinite(h["mean_return"])
    final = h["mean_return"][finished][-1] if finished.any() else math.nan
    mean, std = agent.evaluate(10, seed=1000)
    solved = np.flatnonzero(h["mean_return"] >= SOLVED)  # NaN compares False
    to_solved = f"{h['timesteps'][solved[0]]:.0f}" if solved.size else "-"
    kl = h["kl"][np.isfinite(h["kl"])]
    return (f"{label:<8} {final:>12.1f} {f'{mean:.1f} +- {std:.1f}':>16} {to_solved:>13} "
            f"{h['time'][-1]:>9.2f} {(kl.max() if kl.size else math.nan):>9.2e}")


def _plot_returns(agents, out, title):
    """Mean training return against environment steps and seconds, one line per agent;
    batches in which no episode ended (mean_return NaN) are skipped, not carried forward."""
    plt = _pyplot_or_none()
    if plt is None:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, (x, xlabel) in zip(axes, (("timesteps", "environment steps"),
                                      ("time", "wall time (s)"))):
        for label, agent in agents.items():
            h = agent.history
            keep = np.isfinite(h["mean_return"])
            ax.plot(h[x][keep], h["mean_return"][keep], label=label)
        ax.axhline(SOLVED, color="grey", linestyle=":", linewidth=1, label=f"solved ({SOLVED:g})")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("mean training return")
        ax.set_title(f"return, by {xlabel.split(' (')[0]}")
        ax.legend()
    return _save_figure(plt, fig, title, out, "ngdx-demo-rl.png", "return plot")

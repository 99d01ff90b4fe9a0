"""Reinforcement learning with the exact Fisher: TRPO, the natural policy gradient (NPG)
and the vanilla policy gradient (VPG), on Gymnasium environments.

A policy over Discrete actions is a multinomial model and a Gaussian policy a gaussian
one: ngdx's exact Fisher, its KL and its damped solves are the whole natural step.
Gymnasium is an optional dependency (``pip install 'ngdx[rl]'``), imported on first use.

>>> import ngdx
>>> agent = ngdx.rl.TRPO("CartPole-v1", n_steps=256, value_fn="linear", seed=0)
>>> agent.learn(512).history["timesteps"].tolist()
[256.0, 512.0]
"""

from ._algorithms import NPG, TRPO, VPG
from ._rollout import gae

__all__ = ["NPG", "TRPO", "VPG", "gae"]

"""The natural-gradient direction of a policy: F s = g with F the exact Fisher of the
policy on the batch's states, dense (Cholesky) or by conjugate gradient on exact
Fisher-vector products, and the step scaled to a KL radius."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._curvature.matrix_free import conjugate_gradient

SOLVERS = ("auto", "dense", "cg")
#: "auto" forms the dense Fisher up to this many parameters (a p x p matrix and its
#: Cholesky factor: 8 MB and ~0.1 s at 1024), conjugate gradient beyond.
DENSE_MAX_PARAMS = 1024


class Direction(NamedTuple):
    s: np.ndarray | None   #: F^-1 g (damped), or None when it failed
    quad: float            #: s^T F s with the undamped F: 2 KL of the unit step
    message: str           #: why it failed ("" when it did not)


def natural_direction(policy, obs, theta, g, solver="auto", damping=1e-4, cg_iters=25,
                      cg_tol=1e-10) -> Direction:
    """s = (F + lambda I)^-1 g, lambda = damping times the Fisher's scale (the mean of its
    diagonal, dense; the Rayleigh quotient g^T F g / g^T g, cg). A non-finite g or s, or
    s^T F s <= 0, is a failure (no step), never a NaN step."""
    if not np.isfinite(g).all():
        return Direction(None, math.nan, "the policy gradient is not finite")
    if not np.any(g):
        return Direction(None, 0.0, "the policy gradient is zero")
    if solver == "auto":
        solver = "dense" if policy.n_params <= DENSE_MAX_PARAMS else "cg"
    if solver == "dense":
        F = policy.fisher(obs, theta)
        if not np.isfinite(F).all():
            return Direction(None, math.nan, "the Fisher is not finite")
        lam = damping * max(float(np.mean(np.diag(F))), np.finfo(float).tiny)
        try:
            L = np.linalg.cholesky(F + lam * np.eye(F.shape[0]))
        except np.linalg.LinAlgError:
            return Direction(None, math.nan, "the damped Fisher is not positive definite")
        s = np.linalg.solve(L.T, np.linalg.solve(L, g))
        quad = float(s @ F @ s)
    else:
        fvp = lambda v: policy.fvp(obs, theta, v)  # noqa: E731
        lam = damping * max(float(g @ fvp(g)) / float(g @ g), np.finfo(float).tiny)
        s = conjugate_gradient(lambda v: fvp(v) + lam * v, g, np.ones_like(g), cg_tol, cg_iters)
        if s is None:
            return Direction(None, math.nan, "the damped Fisher is not positive definite")
        quad = float(s @ fvp(s))
    if not (np.isfinite(s).all() and math.isfinite(quad)):
        return Direction(None, quad, "the natural-gradient direction is not finite")
    if not quad > 0.0:
        return Direction(None, quad, f"s^T F s = {quad:.3g} <= 0: no KL-scaled step")
    return Direction(s, quad, "")


def kl_scale(quad, max_kl):
    """beta with 1/2 beta^2 s^T F s = max_kl: the step to the KL radius."""
    return math.sqrt(2.0 * max_kl / quad)

"""Step rules: how a direction becomes a step and its trial point.

``take(solver, state, direction, with_curvature)`` returns ``(delta, kl, trial)``: the
step, its KL (1/2 delta^T F delta) and the :class:`~ngdx._models.Evaluation` at
theta + delta, or None when the rule finds no acceptable step (``failure`` says why).
"""

from __future__ import annotations

import math

import numpy as np

from .damping import rounding


class FixedStep:
    """delta = -lr * direction."""

    name = "fixed"
    failure = ""

    def take(self, solver, state, direction, with_curvature):
        delta = -state.lr * direction
        kl = solver.step_kl(state, delta)
        return delta, kl, solver.evaluate(state.theta + delta, with_curvature)


class KLTrustRegion(FixedStep):
    """The fixed step, shrunk so that its KL 1/2 delta^T F delta (F the true Fisher) does
    not exceed ``max_kl``: the trust region of natural-gradient methods (TRPO's)."""

    name = "kl"

    def __init__(self, max_kl: float):
        self.max_kl = float(max_kl)

    def take(self, solver, state, direction, with_curvature):
        delta = -state.lr * direction
        kl = solver.step_kl(state, delta)
        if kl > self.max_kl:
            delta *= math.sqrt(self.max_kl / kl)
            kl = self.max_kl  # the quadratic KL of the shrunk step, by construction
        return delta, kl, solver.evaluate(state.theta + delta, with_curvature)


class Armijo(FixedStep):
    """Backtracking from lr * direction, halving until f decreases sufficiently:
    f(theta + delta) <= f + C * grad . delta.

    Below the rounding noise of f the test cannot be decided from values: there a step
    that does not raise f beyond it and shrinks the slope along delta (which, f being
    convex, means it did not overshoot the line's minimum) is accepted.
    """

    name = "armijo"
    C = 1e-4             # the sufficient-decrease constant
    MAX_BACKTRACKS = 60  # halvings before the search gives up
    failure = ("the line search found no decrease of the objective (at the limit of "
               "floating-point precision, or a non-descent direction)")

    def take(self, solver, state, direction, with_curvature):
        delta = -state.lr * direction
        slope = float(state.grad @ delta)
        noise = rounding(state.f)
        scale = 1.0
        for attempt in range(self.MAX_BACKTRACKS):
            trial = solver.evaluate(state.theta + scale * delta, with_curvature and attempt == 0)
            f_new = trial.f
            if -scale * slope <= noise:  # the predicted decrease is below f's rounding
                accept = (f_new <= state.f + noise
                          and abs(float(trial.grad @ delta)) <= (1 - self.C) * abs(slope))
            else:
                accept = f_new <= state.f + self.C * scale * slope
            if math.isfinite(f_new) and accept:
                if attempt > 0 and with_curvature:
                    trial = solver.evaluate(state.theta + scale * delta, True)
                return scale * delta, solver.step_kl(state, scale * delta), trial
            solver.record_rejection(state)
            scale *= 0.5
        return None


#: name -> class, the ``step`` argument of ngdx.fit.
STEP_RULES = {"fixed": FixedStep, "kl": KLTrustRegion, "armijo": Armijo}


def gradient_descent_lr(objective, theta, n_iter=30):
    """1 / lambda_max(F + l2 P) at theta, by power iteration with Fisher-vector products:
    gradient descent's classical safe step."""
    rng = np.random.default_rng(0)
    v = rng.normal(size=objective.p)
    v /= np.linalg.norm(v)
    lam = 0.0
    for _ in range(n_iter):
        Fv = objective.fisher_vector_product(theta, v)
        lam = float(v @ Fv)
        top = float(np.abs(Fv).max())
        if not top > 0 or not np.isfinite(top):
            break
        v = Fv / top  # scaled first: |Fv| itself overflows when F + l2 P ~ 1e300
        v /= np.linalg.norm(v)
    return 1.0 / lam if lam > 0 else 1.0

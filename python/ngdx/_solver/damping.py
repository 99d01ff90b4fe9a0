"""Damping rules: how lambda in (M + lambda I) step = grad is set, and which trial steps
are accepted.

``judge`` says whether a trial point is accepted (``ACCEPT``), rejected and retried with
more damping (``REJECT``) or ends the fit (``STOP``); ``update`` gives the damping of the
next step after an accepted one. Whatever the rule, a failed solve (M + lambda I not
positive definite) raises lambda by ``after_failure``.
"""

from __future__ import annotations

import math

import numpy as np

ACCEPT, REJECT, STOP = "accept", "reject", "stop"

EPS = np.finfo(float).eps


def rounding(f: float) -> float:
    """The rounding noise of one evaluation of f: changes below it say nothing."""
    return 4.0 * EPS * abs(f)


def resolution(f: float, n_rows: int) -> float:
    """The change of f its evaluation can resolve: sums of n rounded terms carry errors
    that grow like sqrt(n) eps |f| (4 eps |f| alone rejected genuine final Newton steps of
    a 1e5-row fit as increases)."""
    return rounding(f) * math.sqrt(n_rows)


class FixedDamping:
    """lambda as given; every finite trial point is accepted."""

    #: Whether judge and update read the quadratic model's predicted decrease.
    uses_prediction = False
    #: lambda after a failed solve: FAILURE_FACTOR times larger, and at least FLOOR times
    #: the curvature's mean diagonal.
    FAILURE_FACTOR = 10.0
    FLOOR = 1e-10

    def __init__(self, value: float = 0.0):
        self.value = float(value)

    def initial(self, scale: float) -> float:
        """lambda at the start, given the curvature's mean diagonal."""
        return self.value

    def after_failure(self, damping: float, scale: float) -> float:
        return max(self.FAILURE_FACTOR * damping, self.FLOOR * scale)

    def judge(self, f, f_new, predicted, resolution, grad_norm, grad_norm_new) -> str:
        return ACCEPT if math.isfinite(f_new) else STOP

    def update(self, damping, f, f_new, predicted) -> float:
        return damping


class LevenbergMarquardt(FixedDamping):
    """Levenberg-Marquardt: lambda follows how well the quadratic model
    m(step) = grad . step + 1/2 step^T M step predicted the actual change of f.

    rho = (f - f_new) / predicted; lambda is divided by SHRINK when rho > UPPER, multiplied
    by GROW when rho < LOWER; a step that raises f beyond its rounding is rejected and
    lambda multiplied by REJECT_FACTOR. Where even the predicted decrease is below what
    f can resolve, a step is accepted when f does not rise beyond that and the gradient
    shrinks. (kfac-jax's damping thresholds, Martens & Grosse 2015, sec. 6.5.)
    """

    uses_prediction = True
    INITIAL = 1e-3        # lambda at the start, times the curvature's mean diagonal
    UPPER, SHRINK = 0.75, 3.0
    LOWER, GROW = 0.25, 2.0
    REJECT_FACTOR = 4.0

    def __init__(self):
        super().__init__(0.0)

    def initial(self, scale):
        return self.INITIAL * scale

    def after_rejection(self, damping, scale):
        return max(self.REJECT_FACTOR * damping, self.FLOOR * scale)

    def judge(self, f, f_new, predicted, resolution, grad_norm, grad_norm_new):
        ok = f_new <= f + rounding(f)
        if not ok and predicted <= resolution:
            ok = f_new <= f + resolution and grad_norm_new <= grad_norm
        return ACCEPT if math.isfinite(f_new) and ok else REJECT

    def update(self, damping, f, f_new, predicted):
        # Changes below the rounding noise of f say nothing about the model's fit.
        noise = rounding(f)
        if abs(f - f_new) > noise and predicted > noise:
            rho = (f - f_new) / predicted
            if rho > self.UPPER:
                return damping / self.SHRINK
            if rho < self.LOWER:
                return damping * self.GROW
        return damping

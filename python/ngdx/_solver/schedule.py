"""When the curvature is computed: with every trial point, not at a point that will likely
be the last, or kept over several exact-gradient steps (reuse) and refreshed by a cost
model."""

from __future__ import annotations

import math

# Relative costs behind the reuse choice (measured on a 2-core AVX-512 machine; only their
# ratios matter): seconds per entry of X for a pass of f and its gradient, per row and
# output for the link function, per entry of a p x p matrix read by a step's solves and
# products, and flop rates of the Gram and the Cholesky.
PASS_SECONDS_PER_ENTRY = 5e-10
PASS_SECONDS_PER_OUTPUT = 5e-9
STEP_SECONDS_PER_MATRIX_ENTRY = 7e-9
GRAM_FLOPS = 1e11
CHOLESKY_FLOPS = 2e10


def refresh_cost(n, d, n_classes, fit_intercept):
    """A new dense curvature and its factorization, in units of one reused step (a pass of
    f and gradient, and the solves and products with p x p matrices)."""
    K = n_classes
    dp = d + bool(fit_intercept)
    p = dp * K
    cheap = (n * dp * K * PASS_SECONDS_PER_ENTRY + n * K * PASS_SECONDS_PER_OUTPUT
             + p**2 * STEP_SECONDS_PER_MATRIX_ENTRY)
    dear = n * dp**2 * K * (K + 1) / 2 / GRAM_FLOPS + p**3 / 3 / CHOLESKY_FLOPS
    return dear / cheap


class CurvatureSchedule:
    """Decides, for Newton-type (``exact``) curvatures, whether a trial point's pass also
    computes the curvature, and under ``reuse`` when a kept curvature is refreshed.

    Parameters
    ----------
    exact : bool
        The curvature is the full M (Newton-type steps converge quadratically).
    reuse : bool
        Keep one factored curvature over several steps.
    cost : float
        A refresh's cost in reused steps (:func:`refresh_cost`).
    tol : float
        The fit's tolerance on max|grad|.
    """

    def __init__(self, *, exact, reuse, cost, tol):
        self.exact, self.reuse, self.cost, self.tol = exact, bool(reuse), float(cost), tol

    def with_trial(self, state) -> bool:
        """Whether the next trial point's pass should compute the curvature too."""
        return not self.reuse and not self.likely_final(state)

    def likely_final(self, state) -> bool:
        """Whether the next point will probably meet tol, so that computing the curvature
        with it would be wasted (it is computed later if the guess was wrong). Newton-type
        steps converge quadratically near the optimum: |g+| ~ C |g|^2, with C read off the
        last two iterations."""
        norms = state.history["grad_norm"]
        if not self.exact or self.tol <= 0 or len(norms) < 2:
            return False
        before, now = norms[-2], norms[-1]
        if not 0.0 < now < before:
            return False
        # C |g|^2 = now^3 / before^2, as now (now / before)^2: no overflow at |g| ~ 1e300
        return now * (now / before) ** 2 < 0.1 * self.tol

    def should_refresh(self, state, before, after) -> bool:
        """After an accepted step under reuse: recompute the curvature at the new point?

        A reused curvature's steps converge linearly, at a rate that grows with how far
        the iterate has moved since the curvature was computed, i.e. with max|grad| there:
        rate ~ c |g_refresh|, c read off the steps taken. The expected cost to reach tol
        (in reused steps) is compared both ways: keep going at the rate seen (or, after a
        fresh step, expected), or pay ``cost`` now and go on at rate c |g| from here.
        Until a reused step has measured c, one is tried."""
        if before <= 0.0 or after <= 0.0:
            return False
        rate = after / before
        if not rate < 1.0:
            return True
        if state.curvature_age > 0:
            state.reuse_constant = rate / state.refresh_grad
            reuse_rate = rate
        elif math.isnan(state.reuse_constant):
            return False  # try one reused step, which measures c
        else:
            reuse_rate = state.reuse_constant * state.refresh_grad
        remaining = math.log(after / self.tol) if self.tol > 0 else 30.0
        rate_after = state.reuse_constant * after
        if remaining <= 0.0 or not rate_after < 1.0:
            return False
        if not reuse_rate < 1.0:
            return True
        keep = remaining / -math.log(reuse_rate)
        refresh = self.cost + remaining / -math.log(rate_after)
        return refresh < keep

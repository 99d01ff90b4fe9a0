"""The curvature protocol: how a curvature matrix M is estimated, stored, damped and solved.

Every representation (dense, diagonal, Kronecker-factored, sample-space, matrix-free, and
the identity of gradient descent) is one class with the methods below, in the manner of
kfac-jax's curvature blocks. It owns its statistics, its factorization and its buffers.
It serves two clients: the full-batch solver loop (``ngdx._solver``), which refreshes it
at chosen iterates, and, later, a stochastic driver that refreshes it from mini-batch
statistics by a moving average (see docs/architecture.md).

Life cycle at one point theta::

    ev = curvature.evaluate(theta, with_curvature=True)  # one pass: f, grad, statistics
    curvature.refresh(theta, ev.stats)                   # M from those statistics
    step = curvature.solve(grad, damping)                # (M + damping I)^-1 grad, or None
    curvature.quad(step)                                 # step^T M step (undamped)
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np


class Curvature:
    """Base class and protocol of the curvature representations.

    Parameters
    ----------
    objective : GLMObjective
        The problem (anything with its ``evaluate``, ``fisher_vector_product`` and
        ``step_kl``).
    kind : {"none", "true", "empirical", "mc", "hessian"}
        The curvature the statistics estimate: the true (expected) Fisher, the empirical
        Fisher, a Monte Carlo Fisher (``n_mc_samples`` labels per row drawn from ``rng``)
        or the observed Hessian.
    """

    #: The name ``FitResult.linear_solver`` reports.
    name = "none"
    #: M is the full curvature (not an approximation of its structure): Newton-type steps,
    #: quadratic convergence near the optimum.
    exact = False
    #: One factorization can serve several steps (the solver's curvature reuse).
    reusable = False
    #: What the fused pass computes: the (p,) diagonal instead of the (p, p) matrix.
    diagonal_pass = False

    def __init__(self, objective, kind="none", *, n_mc_samples=1, rng=None, unit=None):
        self.objective, self.kind = objective, kind
        self.n_mc_samples, self.rng = n_mc_samples, rng
        self.stats = None  # the statistics M is built from; None: not computed here yet
        self.theta = None  # where they were computed
        #: (p,) c_j^2, the squared scale of each parameter's feature: damping lambda adds
        #: lambda c_j^2 to M's diagonal (Marquardt's scaling), i.e. lambda I in the
        #: coordinates of standardized features, so a fit does not depend on the units of X.
        self.unit = np.ones(objective.p) if unit is None else unit

    # ------------------------------------------------------------------ estimation
    @property
    def needs_statistics(self) -> bool:
        """Whether M depends on the point (False for the identity)."""
        return self.kind != "none"

    @property
    def ready(self) -> bool:
        """Whether M is there (at the point it was last refreshed at)."""
        return self.stats is not None or not self.needs_statistics

    def evaluate(self, theta, with_curvature=True):
        """f, grad and (when asked) this representation's statistics at theta: one pass."""
        kind = self.kind if with_curvature else "none"
        seed = self._seed() if kind == "mc" else 0
        return self.objective.evaluate(theta, kind, diagonal=self.diagonal_pass,
                                       n_mc_samples=self.n_mc_samples, seed=seed,
                                       curvature_out=self._buffer(kind))

    def refresh(self, theta, stats):
        """Take M from statistics computed at theta (None: M is stale until the next)."""
        self.theta, self.stats = theta, stats
        self.forget_factor()

    def forget_factor(self):
        """Drop a factorization (the damping changed, or it failed)."""

    # ------------------------------------------------------------------ use
    def solve(self, grad, damping) -> Optional[np.ndarray]:
        """(M + damping diag(unit))^-1 grad, or None when that matrix is not positive
        definite."""
        raise NotImplementedError

    def quad(self, v) -> float:
        """v^T M v, M undamped (the damping rule's quadratic model)."""
        raise NotImplementedError

    def scale(self) -> float:
        """The mean of diag(M) / unit, or 1 without one: the damping's unit."""
        return 1.0

    def step_kl(self, delta) -> Optional[float]:
        """1/2 delta^T F delta (F the true Fisher) when M can give it without a pass over
        the data, else None (the objective computes it)."""
        return None

    # ------------------------------------------------------------------ helpers
    def _seed(self):
        return int(self.rng.integers(2**63))

    def _buffer(self, kind):
        """Where the pass writes the statistics (None: a new array)."""
        return None

    @staticmethod
    def _finite_positive(scale):
        return scale if scale > 0 and math.isfinite(scale) else 1.0


class Identity(Curvature):
    """M = I: gradient descent."""

    name = "none"

    def __init__(self, objective, kind="none", **kw):
        super().__init__(objective, "none")

    def solve(self, grad, damping):
        return grad.copy()

    def quad(self, v):
        return float(v @ v)


class Diagonal(Curvature):
    """M = diag(c), the diagonal of the chosen curvature: diagonal natural gradient."""

    name = "diagonal"
    diagonal_pass = True

    def solve(self, grad, damping):
        c = self.stats
        denom = c + damping * self.unit
        if not (denom > 1e-300 * max(float(np.abs(c).max()), 1.0)).all():
            return None
        return grad / denom

    def quad(self, v):
        return float(v @ (self.stats * v))

    def scale(self):
        if self.stats is None:
            return 1.0
        return self._finite_positive(float(np.mean(self.stats / self.unit)))

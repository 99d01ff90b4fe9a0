"""The dense p x p curvature, factored by Cholesky: natural gradient and Newton steps."""

from __future__ import annotations

import numpy as np

from .. import _core
from .base import Curvature


class Dense(Curvature):
    """M (p x p) with its Cholesky factor of M + damping I, reused until forgotten.

    The fused pass writes M into a buffer that does not hold the M in use (two when trial
    points carry a curvature, one under reuse, where M is refreshed only once it is
    stale), and the factor lives in one more: a fit allocates its p x p matrices once,
    whatever its number of iterations.

    For a multi-output model M is singular along the softmax's free shift (every
    direction e_j kron 1 of a flat row j, ``objective.flat_rows()``). The factor is taken
    of M + c_j/K (1 1^T) on those rows (c_j the mean of the block's diagonal), which is positive definite and, since gradients are
    orthogonal to the null space, gives the same steps: the singular direction is removed
    by construction instead of being left to the damping. ``quad`` reads M itself.
    """

    name = "cholesky"
    exact = True
    reusable = True

    def __init__(self, objective, kind="true", **kw):
        super().__init__(objective, kind, **kw)
        self._free = []      # p x p buffers not holding the M in use
        self._factor = None  # M + damping I factored in place; None: not factored
        self._factor_buffer = None
        self._flat_rows = objective.flat_rows()
        self._sqrt_unit = np.sqrt(self.unit)

    def evaluate(self, theta, with_curvature=True):
        obj = self.objective
        known = obj.closed_form_curvature(theta, self.kind) if with_curvature else None
        if known is not None:  # e.g. the null-model start of a multinomial: A kron W
            return obj.evaluate(theta)._replace(stats=known)
        return super().evaluate(theta, with_curvature)

    def _buffer(self, kind):
        """A p x p buffer that does not hold the M in use (allocated once)."""
        if kind == "none":
            return None
        if not self._free:
            p = self.objective.p
            self._free.append(np.empty((p, p)))
        return self._free[0]

    def refresh(self, theta, stats):
        old = self.stats
        self._free = [b for b in self._free if b is not stats]
        if old is not None and old is not stats:
            self._free.append(old)  # the next pass may overwrite it
        super().refresh(theta, stats)

    def forget_factor(self):
        self._factor = None

    def solve(self, grad, damping):
        """Factored in the coordinates of standardized features: C^-1 M C^-1 + damping I,
        C = diag(sqrt(unit)), so that neither the damping nor the factorization's pivot
        test depends on the units of X."""
        c = self._sqrt_unit
        if self._factor is None:
            M = self.stats
            if self._factor_buffer is None:
                self._factor_buffer = np.empty_like(M)
            A = self._factor_buffer
            np.divide(M, np.multiply.outer(c, c), out=A)
            if len(self._flat_rows):
                K = self.objective.n_classes
                for j in self._flat_rows:
                    block = slice(j * K, (j + 1) * K)
                    shift = max(float(np.trace(A[block, block])) / K, 1e-300)
                    A[block, block] += shift / K
            if not _core.linalg.damped_cholesky_factor(A, float(damping)):
                return None
            self._factor = A
        step = np.empty_like(grad)
        _core.linalg.cholesky_solve(self._factor, grad / c, step)
        return step / c

    def quad(self, v):
        return float(v @ (self.stats @ v))

    def scale(self):
        if self.stats is None:
            return 1.0
        return self._finite_positive(float(np.mean(np.diag(self.stats) / self.unit)))

    def step_kl(self, delta):
        """Read off M when it is the true Fisher (plus the penalty, subtracted here): under
        ``"true"``, and under ``"hessian"`` for a canonical link, whose observed Hessian is
        the true Fisher (a Newton fit's KL then costs no Fisher-vector pass over X)."""
        obj = self.objective
        if not (self.kind == "true"
                or (self.kind == "hessian" and getattr(obj, "hessian_is_fisher", False))):
            return None
        coef_part = delta * obj.penalty_mask
        return 0.5 * (float(delta @ (self.stats @ delta)) - obj.l2 * float(coef_part @ coef_part))

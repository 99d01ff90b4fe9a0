"""Sample-space curvature (Woodbury): the damped solve in n x n for n < p."""

from __future__ import annotations

import numpy as np

from .. import _core
from .base import Curvature


class Woodbury(Curvature):
    """M = J^T J + l2 P for a one-output model, J = diag(sqrt(w)) [X, 1] (n x p): its
    statistics are the per-row curvature weights w (n,), never a p x p matrix.

    With c = l2 + damping > 0, the push-through identity J (c I + J^T J)^-1 = R J,
    R = (c I + J J^T)^-1, turns the p x p system into one n x n Cholesky of
    c I + diag(sqrt(w)) C diag(sqrt(w)), C = X X^T (computed once per fit); the
    intercept, which the penalty does not reach, is eliminated by a Schur complement.
    Cost per solve O(n^2 + n d) after C, against O(n d^2 + d^3) for the dense path.

    Without a penalty (l2 = 0) the damping is Marquardt's, lambda diag(c^2) with c the
    features' scales (``objective.param_scale``), as on the other paths: the system is
    solved in the coordinates of standardized features, X C^-1, whose row Gram
    X C^-2 X^T is the constant. So a fit does not depend on the units of X (rescaling a
    column rescales its coefficient, nothing else). With l2 > 0 the penalty is in the
    units of X and both it and the damping must be scalar on coef for the push-through
    identity: the damping is then lambda times the mean c_j^2 (invariant to rescaling all
    of X, not to rescaling one column).
    """

    name = "woodbury"
    exact = True

    def __init__(self, objective, kind="true", **kw):
        super().__init__(objective, kind, **kw)
        self._inv_scale = None  # 1 / c on coef when the damping is Marquardt's
        c = objective.param_scale()[: objective.d]
        with np.errstate(over="ignore"):  # c ~ 1e-160: its square is 0, the mean of none
            self._mean_square = float(np.mean(c * c)) if objective.l2 > 0.0 else 1.0
        if not self._mean_square > 0 or not np.isfinite(self._mean_square):
            self._mean_square = 1.0
        if objective.l2 == 0.0:
            self._inv_scale = 1.0 / c
        # the damping's unit, as the protocol reports it: lambda diag(unit) is added to M
        self.unit = np.ones(objective.p)
        with np.errstate(under="ignore", over="ignore"):
            self.unit[: objective.d] = c * c if objective.l2 == 0.0 else self._mean_square

    def _gram(self):
        return self.objective.rows.row_gram(self._inv_scale)

    def evaluate(self, theta, with_curvature=True):
        obj = self.objective
        ev = obj.evaluate(theta)
        if with_curvature:
            seed = self._seed() if self.kind == "mc" else 0
            ev = ev._replace(stats=obj.curvature_weights(theta, self.kind,
                                                         n_mc_samples=self.n_mc_samples,
                                                         seed=seed))
        return ev

    def _rows_times(self, delta):
        """z = J delta / sqrt(w) = X delta_coef + delta_intercept."""
        obj = self.objective
        z = obj.rows.matmul(delta[: obj.d])
        return z + (delta[obj.d] if obj.fit_intercept else 0.0)

    def solve(self, grad, damping):
        obj = self.objective
        if self._inv_scale is None:
            return sample_space_solve(obj.rows, self._gram(), self.stats, grad, obj.l2,
                                      damping * self._mean_square, obj.fit_intercept,
                                      intercept_damping=damping)
        d, u = obj.d, self._inv_scale  # in standardized coordinates: theta~ = C theta
        g = grad.copy()
        g[:d] *= u
        step = sample_space_solve(_ScaledColumns(obj.rows, u), self._gram(), self.stats, g,
                                  0.0, damping, obj.fit_intercept)
        if step is not None:
            step[:d] *= u
        return step

    def quad(self, v):
        obj = self.objective
        r = np.sqrt(self.stats)
        z = r * obj.rows.matmul(v[: obj.d]) + (r * v[obj.d] if obj.fit_intercept else 0.0)
        penalty = obj.l2 * float(v[: obj.d] @ v[: obj.d]) if obj.l2 > 0.0 else 0.0
        return float(z @ z) + penalty  # (0 * inf would be NaN for coef ~ 1e160)

    def scale(self):
        """Mean diagonal of sum_i w_i x~_i x~_i^T + l2 P (in standardized coordinates
        without a penalty, as the damping)."""
        if self.stats is None:
            return 1.0
        obj = self.objective
        ms = self._mean_square  # coef's unit (1 in standardized coordinates), 1 the intercept's
        coef = (float(self.stats @ np.diag(self._gram())) + obj.l2 * obj.d) / ms
        return self._finite_positive((coef + obj.fit_intercept * float(self.stats.sum())) / obj.p)

    def step_kl(self, delta):
        """sum_i w_i (x~_i . delta)^2 / 2, when w are the true Fisher's weights."""
        if self.kind != "true":
            return None
        z = self._rows_times(delta)
        return 0.5 * float(self.stats @ (z * z))


class _ScaledColumns:
    """The products of a row source with X diag(u) instead of X."""

    def __init__(self, rows, u):
        self.rows, self.u = rows, u
        self.n_features = rows.n_features

    def matmul(self, v):
        return self.rows.matmul(self.u * v)

    def rmatmul(self, z):
        return self.u * self.rows.rmatmul(z)


def sample_space_solve(rows, C, w, grad, l2, damping, fit_intercept, intercept_damping=None):
    """Solve (J^T J + diag(l2 + damping on coef, intercept_damping on the intercept))
    step = grad in sample space (see :class:`Woodbury`); ``intercept_damping`` defaults to
    ``damping``. ``rows`` gives the products with X, C = X X^T. Returns None when
    c = l2 + damping <= 0 (J^T J alone is singular when n < p) or the n x n solve fails."""
    c = float(l2) + float(damping)
    damping = float(damping if intercept_damping is None else intercept_damping)
    if not c > 0:
        return None
    d = rows.n_features
    r = np.sqrt(w)
    S = C * r[:, None]  # J J^T restricted to coef: diag(r) X X^T diag(r)
    S *= r
    S[np.diag_indices_from(S)] += c

    def JT_coef(z):  # J^T restricted to coef
        return rows.rmatmul(r * z)

    g_coef = grad[:d]
    Jg = r * rows.matmul(g_coef)
    # Every R = (c I + J J^T)^-1 needed comes from R u and R J g (u = r, J's intercept
    # column), since R J J^T = I - c R: one factorization, two right-hand sides.
    # S is positive definite (c > 0): Cholesky, half of LU's work.
    try:
        L = np.linalg.cholesky(S)
    except np.linalg.LinAlgError:
        return None
    rhs = [r, Jg] if fit_intercept else [Jg]
    sol = np.empty((len(r), len(rhs)))
    for k, b in enumerate(rhs):  # row-major L read column-major is the upper factor L^T
        out = np.empty(len(r))
        _core.linalg.cholesky_solve(L, np.ascontiguousarray(b), out)
        sol[:, k] = out
    if not np.isfinite(sol).all():
        return None
    b = 0.0
    RJv = sol[:, -1]
    if fit_intercept:
        Ru, RJg = sol[:, 0], sol[:, 1]
        denom = float(damping) + c * float(r @ Ru)
        if not denom > 0:
            return None
        b = (grad[d] - float(r @ RJg)) / denom
        v = g_coef - b * JT_coef(r)
        RJv = RJg - b * (r - c * Ru)  # R J v, with J J^T u = S u - c u
    else:
        v = g_coef
    a = (v - JT_coef(RJv)) / c
    return np.append(a, b) if fit_intercept else a

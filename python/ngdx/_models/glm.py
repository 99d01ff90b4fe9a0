"""The GLM objective: the penalized mean NLL and its curvature statistics in parameter space.

Parameters live in one flat vector ``theta`` of length p = (d + fit_intercept) * K: the
row-major (d + fit_intercept, K) matrix whose first d rows are ``coef`` and whose last row
(when fitting an intercept) is ``intercept``. The objective is

    f(theta) = sum_i s_i l_i(theta) / sum_i s_i + l2 / 2 * ||coef||^2,

l_i the negative log-likelihood of row i and s the sample weights (1 by default). The
intercept is not penalized.

This is the protocol the solver loop sees (``evaluate``, ``fisher_vector_product``,
``step_kl``, ``remove_flat_directions``); an MLP, a variational family or a policy
implements the same methods. Rows are read only through a row source (``ngdx._data``).
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from .._result import FitResult
from .existence import zero_count_separation
from .families import Family, softmax


class Evaluation(NamedTuple):
    """What one pass at a point returns."""

    f: float                   #: the objective
    grad: np.ndarray           #: its gradient (p,)
    stats: Optional[object]    #: curvature statistics (the representation's), or None
    n_misclassified: int       #: training rows a classifier gets wrong (0 otherwise)


class GLMObjective:
    """Objective, gradient and curvature statistics of one GLM fitting problem.

    Parameters
    ----------
    rows : row source
        The data (``ngdx._data.ArrayRows``), with its intercept column setting.
    family : Family
    n_classes : int
        K, the outputs per row.
    l2 : float
        The ridge penalty on coef.
    """

    def __init__(self, rows, family: Family, n_classes: int, *, l2: float):
        self.rows, self.family = rows, family
        #: the observed Hessian of the NLL is the true Fisher (a canonical link)
        self.hessian_is_fisher = family.canonical
        self.model = family.name
        self.n_classes, self.fit_intercept = n_classes, rows.fit_intercept
        self.l2 = float(l2)
        self.d = rows.n_features
        self.p = (self.d + self.fit_intercept) * n_classes
        #: 1.0 on coef entries, 0.0 on the intercept: the penalty's curvature l2 * diag(mask).
        self.penalty_mask = np.ones(self.p)
        if self.fit_intercept:
            self.penalty_mask[self.d * n_classes:] = 0.0
        self._fvp = np.empty(self.p)
        self._input_gram = None
        self._param_scale = None

    # ------------------------------------------------------------------ passes over X
    def evaluate(self, theta, kind="none", *, diagonal=False, n_mc_samples=1, seed=0,
                 curvature_out=None) -> Evaluation:
        """One fused pass at theta.

        ``stats`` is None for kind "none", else ``curvature_out`` ((p, p), or (p,) when
        ``diagonal``; allocated when None) filled with the curvature of ``kind`` ("true",
        "empirical", "mc", "hessian") of the mean NLL *plus the penalty's curvature*
        l2 * diag(penalty_mask).
        """
        grad = np.empty(self.p)
        curv = None
        if kind != "none":
            curv = curvature_out
            if curv is None:
                curv = np.empty(self.p if diagonal else (self.p, self.p))
        loss, n_mis = self.rows.fused_pass(self.model, theta, self.n_classes, kind,
                                           diagonal=diagonal, n_mc_samples=n_mc_samples,
                                           seed=seed, grad_out=grad, curvature_out=curv)
        f = loss
        if self.l2 > 0.0:  # (0 * inf would be NaN where coef ~ 1e160 serves X ~ 1e-160)
            coef_part = theta * self.penalty_mask
            f += 0.5 * self.l2 * float(coef_part @ coef_part)
            grad += self.l2 * coef_part
        if curv is not None and self.l2 > 0.0:
            if diagonal:
                curv += self.l2 * self.penalty_mask
            else:
                curv[np.diag_indices(self.p)] += self.l2 * self.penalty_mask
        return Evaluation(f, grad, curv, n_mis)

    def fisher_vector_product(self, theta, v):
        """(F + l2 P) v: the true Fisher of the mean NLL at theta plus the penalty's
        curvature, times v (one pass, no p x p matrix)."""
        out = np.empty(self.p)
        self.rows.fisher_vector_product(self.model, theta, v, self.n_classes, out)
        return out + self.l2 * self.penalty_mask * v

    def step_kl(self, theta, delta):
        """1/2 delta^T F delta with F the model's true Fisher at theta (undamped, no penalty):
        the KL divergence a small step delta moves the predictive distributions by."""
        return 0.5 * self.rows.fisher_vector_product(self.model, theta, delta, self.n_classes,
                                                     self._fvp)

    def curvature_weights(self, theta, kind, *, n_mc_samples=1, seed=0):
        """w (n,) with curvature(kind) = sum_i w_i x~_i x~_i^T (x~ with the intercept's 1):
        the per-row weights times s_i / sum(s). One-output models."""
        return self.rows.curvature_weights(self.model, theta, kind, n_mc_samples=n_mc_samples,
                                           seed=seed)

    def input_gram(self):
        """A = sum_i s_i x~_i x~_i^T / sum_i s_i: K-FAC's input factor, constant over a fit
        (computed once)."""
        if self._input_gram is None:
            self._input_gram = self.rows.gram()
        return self._input_gram

    def linear_predictor(self, theta):
        """eta (n, K) at theta (allocates n x K)."""
        coef = theta.reshape(-1, self.n_classes)
        eta = self.rows.matmul(coef[: self.d])
        if self.fit_intercept:
            eta += coef[self.d]
        return eta

    def output_fisher(self, theta):
        """G = sum_i s_i (diag(mu_i) - mu_i mu_i^T) / sum_i s_i: the K x K output factor of
        K-FAC for a multi-output model (the mean true Fisher weight of a row)."""
        mu = softmax(self.linear_predictor(theta))  # a Dask array for a Dask source
        sw = self.rows.sample_weight
        smu, total = (mu, mu.shape[0]) if sw is None else (mu * sw[:, None], sw.sum())
        return self.rows.compute((np.diag(smu.sum(axis=0)) - smu.T @ mu) / total)

    def closed_form_curvature(self, theta, kind):
        """The curvature of ``kind`` (plus the penalty) where it has a closed form cheaper
        than a pass, else None: a multi-output model's true Fisher (= Hessian) at zero coef,
        as the null-model start is."""
        if self.family.multi_output and kind in ("true", "hessian") and self.coef_is_zero(theta):
            return self.fisher_at_zero_coef(theta)
        return None

    def fisher_at_zero_coef(self, theta):
        """The true Fisher (plus the penalty) of a multi-output model at a theta whose coef
        rows are all zero, as the null-model start is: every row then has the same output
        weight W = diag(mu) - mu mu^T (mu the softmax of the intercept), so
        F = A kron W with A the input Gram: one Gram instead of K(K+1)/2."""
        K = self.n_classes
        b = theta[self.d * K:] if self.fit_intercept else np.zeros(K)
        mu = softmax(b)
        F = np.kron(self.input_gram(), np.diag(mu) - np.outer(mu, mu))
        F[np.diag_indices(self.p)] += self.l2 * self.penalty_mask
        return F

    def param_scale(self):
        """(p,) the scale of each parameter's feature: the root mean square of its column
        of X (1 for the intercept, and where a column is zero). grad / param_scale is the
        gradient with respect to the coefficients of standardized features, which the
        convergence test reads: rescaling a feature does not change when a fit stops.
        Computed once (the damping's units and the convergence test both read it)."""
        if self._param_scale is not None:
            return self._param_scale
        with np.errstate(over="ignore", invalid="ignore"):
            c = self.rows.column_scale()
        c = np.where(np.isfinite(c) & (c > np.finfo(float).tiny), c, 1.0)
        scale = np.ones((self.d + self.fit_intercept, self.n_classes))
        scale[: self.d] = c[:, None]
        self._param_scale = scale.ravel()
        return self._param_scale

    def coef_is_zero(self, theta) -> bool:
        return not theta[: self.d * self.n_classes].any()

    # ------------------------------------------------------------------ the softmax's shift
    def flat_rows(self):
        """Rows of theta (as a (rows, K) matrix) along which the objective is flat: the
        multi-output model's free common shift, on the intercept (and on every coef row
        when l2 = 0). Empty for one-output models."""
        if not self.family.multi_output:
            return []
        if self.l2 == 0.0:
            return range(self.d + self.fit_intercept)
        return [self.d] if self.fit_intercept else []

    def remove_flat_directions(self, theta):
        """Shift theta, in place, to zero-sum intercepts (and coef rows when l2 = 0): the
        same model, the representative the solver and the result use."""
        if not self.family.multi_output:
            return
        T = theta.reshape(-1, self.n_classes)
        rows = slice(None) if self.l2 == 0.0 else slice(self.d, None)
        if self.l2 == 0.0 or self.fit_intercept:
            T[rows] -= T[rows].mean(axis=1, keepdims=True)

    def separated(self, n_misclassified) -> bool:
        """Whether the fit has no finite optimum: a classifier without a penalty that
        classifies every training row correctly (the solver loop then stops)."""
        return self.family.classifier and self.l2 == 0.0 and n_misclassified == 0

    def no_finite_optimum(self, theta, converged=True):
        """Why the fit has no finite optimum, as a sentence, or None: asked once when the
        solver loop stops (by tolerance, ``converged``, or by max_iter). A count model
        without a penalty whose rows with y = 0 a direction separates
        (``_models.existence``) reaches its tolerance at an arbitrary point of a path to
        infinity: a converged fit is checked when a zero count's mean shows the sign of
        it, one that did not converge always (a pass and a few p x p matrices)."""
        if not (self.family.zero_counts_unbounded and self.l2 == 0.0):
            return None
        rows = zero_count_separation(self, theta, symptom=converged)
        if rows is None:
            return None
        index = np.flatnonzero(rows)
        shown = ", ".join(str(i) for i in index[:5]) + (", ..." if index.size > 5 else "")
        which = (f"{index.size} rows with y = 0 (rows {shown}) are" if index.size > 1
                 else f"1 row with y = 0 (row {shown}) is")
        return (f"no finite optimum: {which} fitted "
                "ever better as the mean goes to 0 along a direction that leaves every row "
                "with y > 0 unchanged, so the likelihood has no finite maximizer and some "
                "coefficients grow without bound; use l2 > 0 for a finite optimum, or drop "
                f"{'those rows' if index.size > 1 else 'that row'}")

    def result(self, theta, **fields):
        """The FitResult at theta; ``fields`` are the solver's (n_iter, history, ...)."""
        coef, intercept = self.split(theta)
        return FitResult(coef=coef, intercept=intercept, model=self.model, **fields)

    def keep_data(self, result, curvature, theta, f):
        """Give the final ``result`` what its standard errors need (``ngdx._stderr``): this
        objective (its row source refers to the caller's arrays, no copy), and the
        curvature the solver holds when it is a dense matrix computed at theta, with the
        objective f there; a later ``result.covariance()`` then costs no pass over X."""
        kept = None
        if (getattr(curvature, "name", None) == "cholesky" and curvature.stats is not None
                and curvature.theta is not None and np.array_equal(curvature.theta, theta)):
            kept = (curvature.kind, curvature.stats, float(f))
        result._keep(self, kept)

    def split(self, theta):
        """(coef, intercept) in the public layout: (d,) and float, or (d, K) and (K,)."""
        K = self.n_classes
        T = theta.reshape(-1, K)
        coef = T[: self.d].copy()
        intercept = T[self.d].copy() if self.fit_intercept else np.zeros(K)
        if not self.family.multi_output:
            return coef[:, 0], float(intercept[0])
        return coef, intercept

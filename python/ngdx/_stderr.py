"""Standard errors of a GLM fit: the covariance of the estimates from the curvature at the
optimum (``FitResult.covariance``, ``std_errors``, ``summary``).

The fit minimizes the *mean* weighted NLL; the covariance is that of the estimates of the
*summed* log-likelihood, so every mean curvature below is multiplied by W = sum_i s_i
(a row of weight 2 counts as the row twice). With H the mean curvature of ``kind`` (plus
the penalty's l2 on coef) at the optimum and A = (W H)^-1:

=========== ==================================================================
expected    phi A, H the expected (true) Fisher
observed    phi A, H the observed Hessian
robust      A (sum_i s_i g_i g_i^T) A, H observed (HC0 sandwich), g_i the row's score
HC1         robust * W / (W - p)
cluster     c A (sum_g S_g S_g^T) A, S_g = sum_{i in g} s_i g_i,
            c = G / (G - 1) * (W - 1) / (W - p)
=========== ==================================================================

phi is the Pearson dispersion sum_i s_i (y_i - mu_i)^2 / (W - p) for families with
``estimated_dispersion`` (gaussian), else 1. A multi-output model's curvature is singular
along the softmax's free shifts; A is then the pseudo-inverse of W H (restricted to the
complement of those directions): the covariance of the centred parametrization.
"""

from __future__ import annotations

import math

import numpy as np

from numpy.typing import ArrayLike

from ._solver.choose import dense_bytes, memory_budget
from ._summary import Summary
from ._typing import CovarianceKind

#: The ``kind`` of ``FitResult.covariance``.
COVARIANCE_KINDS = ("expected", "observed", "robust", "HC1", "cluster")
#: The curvature (a fused pass's kind) each covariance kind inverts.
_BREAD = {"expected": "true", "observed": "hessian", "robust": "hessian", "HC1": "hessian",
          "cluster": "hessian"}
#: Below this half mean square of the residuals, the gaussian's dispersion is not read
#: off its NLL (which adds log(2 pi) / 2 = 0.92 and would lose the digits) but summed.
_DISPERSION_FROM_LOSS = 1e-4


def objective_of(result):
    """The objective a FitResult keeps from its fit, else a ValueError saying why."""
    objective = getattr(result, "_objective", None)
    if objective is None:
        raise ValueError(
            "this FitResult has no reference to the data it was fitted on, which its "
            "covariance needs: only the FitResult that ngdx.fit returns keeps one (a "
            "FitResult built by hand, copied or unpickled does not); refit with ngdx.fit")
    return objective


def check_kind(kind, groups):
    """``kind`` checked against ``groups`` (a ValueError naming the argument)."""
    if not isinstance(kind, str) or kind not in COVARIANCE_KINDS:
        raise ValueError(f"unknown kind {kind!r}; valid: {', '.join(COVARIANCE_KINDS)}")
    if kind == "cluster" and groups is None:
        raise ValueError("kind 'cluster' needs groups= (one group label per row of X)")
    if kind != "cluster" and groups is not None:
        raise ValueError(f"groups is for kind 'cluster' only, got kind {kind!r}; valid kinds "
                         f"with groups: cluster")
    return kind


def group_codes(groups, n_rows):
    """(codes (n,) in 0..G-1, G) of the ``groups`` labels, checked."""
    labels = np.asarray(groups)
    if labels.ndim != 1 or labels.shape[0] != n_rows:
        raise ValueError(f"groups must have one label per row of X: shape ({n_rows},), got "
                         f"shape {labels.shape}")
    uniques, codes = np.unique(labels, return_inverse=True)
    if len(uniques) < 2:
        raise ValueError(f"groups must hold at least 2 distinct groups for kind 'cluster', "
                         f"got {len(uniques)}")
    return codes.reshape(-1), len(uniques)


def theta_of(result, objective):
    """The fitted theta, flat, in the objective's layout."""
    K, d = objective.n_classes, objective.d
    T = [np.reshape(result.coef, (d, K))]
    if objective.fit_intercept:
        T.append(np.reshape(result.intercept, (1, K)))
    return np.ascontiguousarray(np.vstack(T).ravel(), dtype=float)


def mean_curvature(result, objective, theta, kind):
    """H, the mean curvature of ``kind`` ("true" or "hessian") plus the penalty at theta:
    the one the solver kept when it is that (or, on a canonical link, either), else one
    pass. Returns (H, the objective f at theta or None)."""
    kept = getattr(result, "_kept", None)
    if kept is not None:
        kept_kind, M, f = kept
        if kept_kind == kind or (objective.family.canonical
                                 and {kept_kind, kind} <= {"true", "hessian"}):
            return M, f
    ev = objective.evaluate(theta, kind)
    return ev.stats, ev.f


def pseudo_inverse(objective, M):
    """M^-1, or for a multi-output model the inverse restricted to the complement of the
    flat directions (the softmax's common shifts, ``objective.flat_rows()``): with N an
    orthonormal basis of them, P (M + c N N^T)^-1 P, P = I - N N^T."""
    rows = list(objective.flat_rows())
    p, K = objective.p, objective.n_classes
    N = np.zeros((p, len(rows)))
    for col, j in enumerate(rows):
        N[j * K:(j + 1) * K, col] = 1.0 / math.sqrt(K)
    c = max(float(np.mean(np.diag(M))), np.finfo(float).tiny)
    try:
        inv = np.linalg.inv(M + c * (N @ N.T) if rows else M)
    except np.linalg.LinAlgError:
        raise ValueError(
            "the curvature at the fitted theta is singular, so the estimates have no finite "
            "covariance: collinear columns of X, fewer rows than parameters, or a direction "
            "the data do not determine; use l2 > 0 (a Bayesian posterior covariance, see "
            "covariance's docstring) or drop the redundant columns") from None
    if rows:
        P = np.eye(p) - N @ N.T
        inv = P @ inv @ P
    return 0.5 * (inv + inv.T)


def dispersion(objective, theta, f, weight_sum):
    """phi: Pearson's chi^2 / (W - p) for a family with an estimated dispersion, else 1.
    Read off the NLL f at theta when that keeps the digits (no pass), else one pass."""
    if not objective.family.estimated_dispersion:
        return 1.0
    p = objective.p
    if not weight_sum > p:
        raise ValueError(f"the dispersion needs more rows (sum of sample weights "
                         f"{weight_sum:g}) than parameters (p = {p})")
    half_mse = None
    if f is not None:  # gaussian NLL: (y - mu)^2 / 2 + log(2 pi) / 2, penalty on top
        coef_part = theta * objective.penalty_mask
        half_mse = f - 0.5 * objective.l2 * float(coef_part @ coef_part) - 0.5 * math.log(
            2 * math.pi)
    if half_mse is None or half_mse < _DISPERSION_FROM_LOSS:
        rows = objective.rows
        r = rows.y - objective.linear_predictor(theta)[:, 0]
        s = rows.sample_weight
        half_mse = 0.5 * float((r * r) @ (np.ones_like(r) if s is None else s)) / weight_sum
    return 2.0 * half_mse * weight_sum / (weight_sum - p)


def covariance(result, kind="expected", groups=None):
    """The (p, p) covariance of ``kind`` (see the module docstring) for a FitResult."""
    objective = objective_of(result)
    kind = check_kind(kind, groups)
    p, rows = objective.p, objective.rows
    if dense_bytes(p) > memory_budget():
        raise ValueError(
            f"p = {p} parameters is too large for a dense covariance: its p x p matrices "
            f"need {dense_bytes(p) / 2**30:,.1f} GiB, more than the memory budget "
            f"({memory_budget() / 2**30:.1f} GiB)")
    codes = group_codes(groups, rows.n_rows) if kind == "cluster" else None
    W = rows.weight_sum
    if kind in ("HC1", "cluster") and not W > p:
        raise ValueError(f"kind {kind!r} needs more rows (sum of sample weights {W:g}) than "
                         f"parameters (p = {p}): its small-sample factor divides by W - p")
    theta = theta_of(result, objective)
    H, f = mean_curvature(result, objective, theta, _BREAD[kind])
    A = pseudo_inverse(objective, W * H)
    if kind in ("expected", "observed"):
        return dispersion(objective, theta, f, W) * A
    if kind == "cluster":
        S = rows.group_scores(objective.model, theta, objective.n_classes, *codes)
        meat = S.T @ S
    else:  # sum_i s_i g_i g_i^T: the empirical Fisher of the mean NLL (weights s_i) times W
        meat = objective.evaluate(theta, "empirical").stats
        meat[np.diag_indices(p)] -= objective.l2 * objective.penalty_mask
        meat *= W
    cov = A @ meat @ A
    cov = 0.5 * (cov + cov.T)
    if kind == "HC1":
        cov *= W / (W - p)
    elif kind == "cluster":
        G = codes[1]
        cov *= G / (G - 1.0) * (W - 1.0) / (W - p)
    return cov


def std_errors(result, kind="expected", groups=None):
    """sqrt(diag(covariance)) in theta's layout: (d + fit_intercept,) for a one-output
    model, (d + fit_intercept, K) for a multi-output one."""
    objective = objective_of(result)
    se = np.sqrt(np.clip(np.diag(covariance(result, kind, groups)), 0.0, None))
    shape = (-1,) if not objective.family.multi_output else (-1, objective.n_classes)
    return se.reshape(shape)


class StandardErrorsMixin:
    """``covariance_``, ``std_errors_`` and ``summary()`` of the estimators, read from
    ``result_`` (``FitResult.covariance``). The fitted estimator's ``result_`` keeps a
    reference to the training data (no copy) for them; pickling drops it, after which
    they raise ``ValueError``."""

    @property
    def covariance_(self) -> np.ndarray:
        """The "expected" covariance of the estimates, (p, p) in ``result_``'s theta order
        (coef rows, then the intercept row): ``result_.covariance()``. Computed at each
        access (at most one pass over the training data, which the estimator keeps a
        reference to; dropped when pickled, after which this raises ValueError)."""
        from sklearn.utils.validation import check_is_fitted
        check_is_fitted(self)
        return self.result_.covariance("expected")

    @property
    def std_errors_(self) -> np.ndarray:
        """sqrt(diag(covariance_)): ``result_.std_errors()``, shape (d + fit_intercept,),
        or (d + fit_intercept, K) for more than two classes (the last row the
        intercept's). Needs the training data as ``covariance_`` does."""
        from sklearn.utils.validation import check_is_fitted
        check_is_fitted(self)
        return self.result_.std_errors("expected")

    def summary(self, kind: CovarianceKind = "expected", alpha: float = 0.05,
                groups: ArrayLike | None = None) -> Summary:
        """The Wald table of the fit (``FitResult.summary``), its rows named by
        ``feature_names_in_`` when fit saw them (else ``x0, x1, ...``) and, with more
        than two classes, by ``classes_``.

        Parameters
        ----------
        kind : {"expected", "observed", "robust", "HC1", "cluster"}
        alpha : float in (0, 1)
            The intervals' level is 1 - alpha.
        groups : array_like, shape (n,), optional
            Clusters of the training rows, for ``kind="cluster"``.
        """
        from sklearn.utils.validation import check_is_fitted
        check_is_fitted(self)
        classes = getattr(self, "classes_", None)
        multi = classes is not None and len(classes) > 2
        return self.result_.summary(kind, alpha, getattr(self, "feature_names_in_", None),
                                    groups=groups, class_names=classes if multi else None)

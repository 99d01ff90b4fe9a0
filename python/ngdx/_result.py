"""The result of a fit, and the warning an unconverged fit raises."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike


class _NgdxConvergenceWarning(UserWarning):
    """A fit ended before its convergence criterion was met."""


_convergence_warning = None


def convergence_warning():
    """The class of the warning an unconverged fit raises: scikit-learn's
    ``ConvergenceWarning`` when scikit-learn is installed (so its users' filters apply),
    else ngdx's own ``UserWarning`` subclass. Resolved on first use: importing
    scikit-learn costs about a second, which ``import ngdx`` should not pay."""
    global _convergence_warning
    if _convergence_warning is None:
        try:
            from sklearn.exceptions import ConvergenceWarning
        except ImportError:  # pragma: no cover - depends on the environment
            ConvergenceWarning = _NgdxConvergenceWarning
        _convergence_warning = ConvergenceWarning
    return _convergence_warning


def __getattr__(name):
    if name == "ConvergenceWarning":
        return convergence_warning()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Keys of ``FitResult.history``, each a 1-D array of length n_iter + 1.
HISTORY_KEYS = ("objective", "grad_norm", "step_norm", "kl", "damping", "time", "curvature",
                "passes")


class History(dict):
    """``FitResult.history``: a dict of per-iterate arrays.

    ``history["loss"]`` is the old name of ``history["objective"]`` (the penalized
    objective, not the unpenalized mean NLL ``ngdx.loss`` returns); it still works, with a
    ``DeprecationWarning``, and will be removed in a later release.
    """

    def __getitem__(self, key):
        if key == "loss":
            warnings.warn('history["loss"] is deprecated: it is the penalized objective, '
                          'now history["objective"]', DeprecationWarning, stacklevel=2)
            key = "objective"
        return super().__getitem__(key)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __contains__(self, key):
        return super().__contains__("objective" if key == "loss" else key)


@dataclass
class FitResult:
    """What [`ngdx.fit`][ngdx.fit] returns.

    Attributes
    ----------
    coef : ndarray, shape (d,) or (d, K)
        Coefficients; (d, K) for ``"multinomial"``.
    intercept : float or ndarray of shape (K,)
        Intercept (0.0, or zeros, when ``fit_intercept=False``).
    n_iter : int
        Accepted steps.
    converged : bool
        Whether max |grad of the objective| <= tol was reached.
    message : str
        Why the fit stopped.
    history : dict of str to ndarray
        Per iterate (entry 0 is the starting point): ``"objective"`` (the objective,
        penalty included), ``"grad_norm"`` (max-abs gradient in standardized
        coordinates, each entry divided by its feature's root mean square: what ``tol``
        is compared with), ``"step_norm"`` (Euclidean
        norm of the step that led there), ``"kl"`` (1/2 step^T F step with the model's
        true Fisher; under curvature reuse the quadratic form of the curvature the step
        used), ``"damping"`` (the damping of that step), ``"time"`` (seconds since the fit
        started), ``"curvature"`` (1 where the curvature was computed at that iterate, 0
        where it was not: a reused or skipped curvature) and ``"passes"`` (passes over the
        data spent to get there from the previous iterate: trial points, curvature
        refreshes, Fisher-vector products). ``"loss"`` is a deprecated alias of
        ``"objective"``.
    model : str
        The model fitted.
    n_cholesky_failures : int
        Times a curvature solve failed (M + damping not positive definite) and the
        damping was raised instead.
    linear_solver : str
        How the steps were solved: ``"cholesky"`` (p x p), ``"woodbury"`` (n x n, sample
        space), ``"cg"`` (conjugate gradient on Fisher-vector products, no p x p matrix),
        ``"diagonal"``, ``"kronecker"`` (K-FAC) or ``"none"`` (gradient descent).
    n_rejected : int
        Trial points rejected: by the damping rule (then retried with more damping or a
        fresh curvature) or by the line search (each halving).
    n_curvatures : int
        Curvatures computed (statistics at a point), at rejected trial points too.
    n_passes : int
        Passes over the data in the whole fit (fused passes, Fisher-vector products,
        products with X).
    """

    coef: np.ndarray
    intercept: float | np.ndarray
    n_iter: int
    converged: bool
    message: str
    history: dict[str, np.ndarray] = field(repr=False)
    model: str = "logistic"
    n_cholesky_failures: int = 0
    linear_solver: str = "cholesky"
    n_rejected: int = 0
    n_curvatures: int = 0
    n_passes: int = 0

    def _theta(self, X: ArrayLike) -> tuple[np.ndarray, np.ndarray, int]:
        from ._validation import as_rows_design

        X, _ = as_rows_design(X)
        d = self.coef.shape[0]
        if X.shape[1] != d:
            raise ValueError(f"X has {X.shape[1]} columns but the fit had {d}")
        K = 1 if self.coef.ndim == 1 else self.coef.shape[1]
        theta = np.vstack([self.coef.reshape(d, K), np.reshape(self.intercept, (1, K))])
        return X, np.ascontiguousarray(theta.ravel()), K

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """The linear predictor eta = X @ coef + intercept, shape (n,) or (n, K)."""
        X, theta, K = self._theta(X)
        eta = np.asarray(X @ theta.reshape(-1, K)[:-1]) + theta.reshape(-1, K)[-1]
        return eta if self.coef.ndim == 2 else eta[:, 0]

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The model's mean at X.

        Probabilities P(y = 1) for ``"logistic"`` and ``"probit"``, an (n, K) matrix of
        class probabilities for ``"multinomial"``, the rate for ``"poisson"`` and the mean
        for ``"gaussian"``.
        """
        from . import _core
        from ._config import get_num_threads

        from ._data.csr import _parts, is_sparse

        X, theta, K = self._theta(X)
        out = np.empty((X.shape[0], K))
        if is_sparse(X):
            data, indices, indptr, (_, d) = _parts(X)
            _core.glm.predict_mean_csr(self.model, data, indices, indptr, d, theta, K, True,
                                       get_num_threads(), out)
        else:
            _core.glm.predict_mean(self.model, X, theta, K, True, get_num_threads(), out)
        from ._functional import check_in_range
        check_in_range("the prediction", self.model, ["coef"], out, with_y=False)
        return out if self.coef.ndim == 2 else out[:, 0]

"""The result of a fit, and the warning an unconverged fit raises."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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
HISTORY_KEYS = ("loss", "grad_norm", "step_norm", "kl", "damping", "time")


@dataclass
class FitResult:
    """What :func:`ngdx.fit` returns.

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
        Per iterate (entry 0 is the starting point): ``"loss"`` (the objective, penalty
        included), ``"grad_norm"`` (max-abs gradient), ``"step_norm"`` (Euclidean norm of
        the step that led there), ``"kl"`` (1/2 step^T F step with the model's true
        Fisher), ``"damping"`` (the damping of that step) and ``"time"`` (seconds since
        the fit started).
    model : str
        The model fitted.
    n_cholesky_failures : int
        Times a curvature solve failed and the damping was raised instead.
    linear_solver : str
        How the steps were solved: ``"cholesky"`` (p x p), ``"woodbury"`` (n x n, sample
        space), ``"diagonal"``, ``"kronecker"`` (K-FAC) or ``"none"`` (gradient descent).
    """

    coef: np.ndarray
    intercept: float | np.ndarray
    n_iter: int
    converged: bool
    message: str
    history: dict = field(repr=False)
    model: str = "logistic"
    n_cholesky_failures: int = 0
    linear_solver: str = "cholesky"

    def _theta(self, X):
        from ._validation import as_design

        X = as_design(X)
        d = self.coef.shape[0]
        if X.shape[1] != d:
            raise ValueError(f"X has {X.shape[1]} columns but the fit had {d}")
        K = 1 if self.coef.ndim == 1 else self.coef.shape[1]
        theta = np.vstack([self.coef.reshape(d, K), np.reshape(self.intercept, (1, K))])
        return X, np.ascontiguousarray(theta.ravel()), K

    def decision_function(self, X):
        """The linear predictor eta = X @ coef + intercept, shape (n,) or (n, K)."""
        X, theta, K = self._theta(X)
        eta = X @ theta.reshape(-1, K)[:-1] + theta.reshape(-1, K)[-1]
        return eta if self.coef.ndim == 2 else eta[:, 0]

    def predict(self, X):
        """The model's mean at X.

        Probabilities P(y = 1) for ``"logistic"`` and ``"probit"``, an (n, K) matrix of
        class probabilities for ``"multinomial"``, the rate for ``"poisson"`` and the mean
        for ``"gaussian"``.
        """
        from . import _core
        from ._threads import get_num_threads

        X, theta, K = self._theta(X)
        out = np.empty((X.shape[0], K))
        _core.glm.predict_mean(self.model, X, theta, K, True, get_num_threads(), out)
        return out if self.coef.ndim == 2 else out[:, 0]

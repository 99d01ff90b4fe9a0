"""The result of a fit, and the warning an unconverged fit raises."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np
from numpy.typing import ArrayLike

from ._typing import CovarianceKind

if TYPE_CHECKING:
    from ._summary import Summary


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

    # Not dataclass fields (so not in repr or ==), never pickled: what ``covariance``
    # needs from the fit (``ngdx._stderr``).
    _objective = None  #: the fit's objective: its row source refers to the caller's X
    _kept = None       #: (kind, mean curvature, f) at the fitted theta, or None

    def _keep(self, objective, kept):
        self._objective, self._kept = objective, kept

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_objective", None)
        state.pop("_kept", None)
        return state

    def covariance(self, kind: CovarianceKind = "expected", *,
                   groups: ArrayLike | None = None) -> np.ndarray:
        r"""The covariance of the estimates, (p, p) in ``theta.ravel()`` order (coef rows,
        then the intercept row; p = (d + fit_intercept) K).

        The fit minimizes the mean weighted NLL; this is the covariance of the estimates
        of the *summed* log-likelihood $\sum_i s_i \log p(y_i | x_i, \theta)$ (a row of
        weight 2 counts as the row twice): with H the curvature of the mean NLL at the
        optimum and $W = \sum_i s_i$, the inverse of $W H$, i.e. the inverse Fisher
        information of the sample, at the fitted theta (the optimum when ``converged``).

        ``kind``:

        * ``"expected"``: $\phi (W F)^{-1}$, F the expected (true) Fisher.
        * ``"observed"``: $\phi (W H)^{-1}$, H the observed Hessian (equal to
          ``"expected"`` for canonical links; differs for probit).
        * ``"robust"``: the HC0 sandwich $A (\sum_i s_i g_i g_i^\top) A$,
          $A = (W H)^{-1}$ with H observed, $g_i$ row i's score. Right when the
          mean model holds but its variance may not; with frequency weights, the
          sandwich of the data with each row repeated s_i times.
        * ``"HC1"``: HC0 times W / (W - p), the econometric convention of statsmodels'
          OLS and Stata (statsmodels' GLM applies no such factor).
        * ``"cluster"``: $c A (\sum_g S_g S_g^\top) A$ with
          $S_g = \sum_{i \in g} s_i g_i$ and statsmodels' default small-sample factor
          $c = G/(G-1) \cdot (W-1)/(W-p)$; needs ``groups``. With frequency weights W
          counts the repeated rows (statsmodels' ``freq_weights`` count each row once in
          c, so its cluster errors differ from those of the repeated rows; these equal
          them).

        $\phi$ is the dispersion: for ``"gaussian"`` (whose NLL fixes the noise variance
        at 1) Pearson's $\sum_i s_i (y_i - \mu_i)^2 / (W - p)$, as statsmodels' GLM
        estimates it; 1 for the other families. The sandwiches need none.

        With ``l2 > 0`` H is the penalized curvature $H + l_2 P$ (P the identity on coef,
        0 on the intercept), so the result is the inverse Hessian of the penalized summed
        NLL: the Laplace approximation of the Bayesian posterior covariance under a
        Gaussian prior $N(0, 1/(W l_2))$ on each coef (flat on the intercept), *not* the
        sampling covariance of the ridge estimator (which is the sandwich
        $A (W F) A$, smaller). The sandwich kinds keep the penalized bread and the
        likelihood's scores.

        ``"multinomial"``: the softmax is unchanged by adding a constant to every class of
        a row of theta, so the curvature is singular along those common shifts (each row
        with ``l2 = 0``, the intercept row with ``l2 > 0``). The covariance returned is
        that of the centred (identified) parametrization the fit reports, in which each
        such row sums to zero: the pseudo-inverse of W H restricted to the complement of
        the shift directions. statsmodels' ``MNLogit`` uses a reference category instead,
        $\beta_k = \theta_k - \theta_0$; for any contrast matrix D (such as that
        difference) the covariance of $D\theta$ is $D\,\mathrm{Cov}\,D^\top$, which is
        MNLogit's.

        Cost: one pass over X, or none when the solver ended holding the dense curvature
        of this kind computed at the fitted theta (``method="ngd"``/``"newton"`` on the
        Cholesky path, when its last step carried a curvature: the solver skips it on a
        step it expects to be the last); ``"robust"``/``"HC1"``/``"cluster"`` add one
        pass for the scores (cluster: block by block into a (G, p) array, never n x p).

        Parameters
        ----------
        kind : {"expected", "observed", "robust", "HC1", "cluster"}
        groups : array_like, shape (n,), optional
            The cluster of each row of X, for ``kind="cluster"`` only (>= 2 groups).

        Returns
        -------
        ndarray, shape (p, p)

        Raises
        ------
        ValueError
            On a bad ``kind`` or ``groups``; when the result keeps no reference to the
            data (a FitResult built by hand, or unpickled: the reference is dropped when
            pickling); when p x p matrices exceed the memory budget.

        Examples
        --------
        >>> import numpy as np, ngdx
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 2))
        >>> y = X @ [1.0, -1.0] + rng.normal(size=200)
        >>> res = ngdx.fit(X, y, "gaussian")
        >>> res.covariance().shape
        (3, 3)
        """
        from ._stderr import covariance
        return covariance(self, kind, groups)

    def std_errors(self, kind: CovarianceKind = "expected", *,
                   groups: ArrayLike | None = None) -> np.ndarray:
        """Standard errors: the square roots of ``covariance(kind, groups=groups)``'s
        diagonal, in the layout of theta: shape (d + fit_intercept,) for a one-output
        model (``se[:d]`` the coef's, ``se[d]`` the intercept's), (d + fit_intercept, K)
        for ``"multinomial"``. One array rather than a (coef, intercept) pair, so that
        ``std_errors().ravel()`` lines up with the covariance's rows and columns."""
        from ._stderr import std_errors
        return std_errors(self, kind, groups)

    def summary(self, kind: CovarianceKind = "expected", alpha: float = 0.05,
                feature_names: Sequence[str] | None = None, *,
                groups: ArrayLike | None = None,
                class_names: Sequence[str] | None = None) -> Summary:
        """The Wald table of the fit: coef, std err, z, P>|z| and the (1 - alpha)
        confidence interval per parameter, from ``covariance(kind, groups=groups)``.

        Returns an [`ngdx.Summary`][ngdx.Summary] that prints as a table and converts to a
        pandas DataFrame with ``.to_frame()``. Normal quantiles and p-values (no t distribution, also for
        ``"gaussian"``, as statsmodels' GLM). ``feature_names`` (d,) labels the coef rows
        (default ``x0, x1, ...``); ``class_names`` (K,) the classes of a multinomial fit.

        Raises
        ------
        ValueError
            As ``covariance``; alpha outside (0, 1); names of the wrong length.
        """
        from ._stderr import objective_of, theta_of
        from ._summary import Summary, check_alpha, parameter_names

        alpha = check_alpha(alpha)
        objective = objective_of(self)
        names = parameter_names(objective.d, objective.fit_intercept, objective.n_classes,
                                objective.family.multi_output, feature_names, class_names)
        se = self.std_errors(kind, groups=groups).ravel()
        return Summary(names, theta_of(self, objective), se, kind=kind, alpha=alpha,
                       model=self.model)

    def _theta(self, X: ArrayLike) -> tuple[np.ndarray, np.ndarray, int]:
        from ._validation import as_rows_design

        X, _ = as_rows_design(X)
        d = self.coef.shape[0]
        if X.shape[1] != d:
            raise ValueError(f"X has {X.shape[1]} columns but the fit had {d}")
        K = 1 if self.coef.ndim == 1 else self.coef.shape[1]
        theta = np.vstack([self.coef.reshape(d, K), np.reshape(self.intercept, (1, K))])
        return X, np.ascontiguousarray(theta.ravel()), K

    def _dask_predict(self, X, mean):
        from ._data.dask import predict

        K = 1 if self.coef.ndim == 1 else self.coef.shape[1]
        d = self.coef.shape[0]
        theta = np.vstack([self.coef.reshape(d, K), np.reshape(self.intercept, (1, K))])
        out = predict(X, self.model, np.ascontiguousarray(theta.ravel()), K, mean)
        return out if self.coef.ndim == 2 else out[:, 0]

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """The linear predictor eta = X @ coef + intercept, shape (n,) or (n, K) (a lazy
        Dask array for a Dask X)."""
        from ._data.dask import is_dask

        if is_dask(X):
            return self._dask_predict(X, mean=False)
        X, theta, K = self._theta(X)
        eta = np.asarray(X @ theta.reshape(-1, K)[:-1]) + theta.reshape(-1, K)[-1]
        return eta if self.coef.ndim == 2 else eta[:, 0]

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The model's mean at X.

        Probabilities P(y = 1) for ``"logistic"`` and ``"probit"``, an (n, K) matrix of
        class probabilities for ``"multinomial"``, the rate for ``"poisson"`` and the mean
        for ``"gaussian"``. For a Dask X, a lazy Dask array computed chunk by chunk.
        """
        from . import _core
        from ._data.dask import is_dask

        if is_dask(X):
            return self._dask_predict(X, mean=True)
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

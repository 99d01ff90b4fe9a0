"""scikit-learn estimators over [`ngdx.fit`][ngdx.fit]:
[`ngdx.NGDClassifier`][ngdx.NGDClassifier] and [`ngdx.NGDRegressor`][ngdx.NGDRegressor].

They validate the data the scikit-learn way (``validate_data``: feature counts and names,
dtypes, sparse and non-finite input), encode class labels of any type, hand the problem to
[`ngdx.fit`][ngdx.fit] and keep its [`ngdx.FitResult`][ngdx.FitResult] as ``result_``.
Every prediction goes through that result, and ``coef_``, ``intercept_`` and ``n_iter_``
are read off it, so there is one source of truth for the fitted model.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import Tags, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._estimator_math import log_probabilities, mean_deviance
from ._estimators_dask import any_dask, checked_X, encode_classes, fit_data, rowwise
from ._fit import fit
from ._stderr import StandardErrorsMixin
from ._typing import FisherKind, Method, Model, StepRule
from ._validation import as_rows_design, validate_estimator_data

BINARY_MODELS = ("logistic", "probit")
REGRESSION_MODELS = ("gaussian", "poisson")


class _NGDEstimator(StandardErrorsMixin, BaseEstimator):
    """What both estimators share: the call to ngdx.fit and the fitted attributes."""

    def _fit(self, X: ArrayLike, y: ArrayLike, model: Model,
             sample_weight: ArrayLike | None) -> _NGDEstimator:
        """Run ngdx.fit on validated X and encoded y; sets ``result_``."""
        if (sample_weight is not None and not any_dask(sample_weight)
                and not np.asarray(sample_weight).any()):
            # Caught here for scikit-learn's wording (its checks look for 'weight.*zero');
            # ngdx.fit would say "sample_weight must have a positive sum".
            raise ValueError("sample_weight is zero for every row: there is nothing to fit")
        seed = None
        if self.fisher == "mc":
            seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self.result_ = fit(X, y, model, self.method, fisher=self.fisher, damping=self.damping,
                           lr=self.lr, step=self.step, max_kl=self.max_kl, l2=self.l2,
                           fit_intercept=self.fit_intercept, sample_weight=sample_weight,
                           max_iter=self.max_iter, tol=self.tol, seed=seed,
                           n_threads=self.n_threads, verbose=self.verbose)
        return self

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # scipy.sparse X: read by the core's CSR kernels
        return tags

    def _validated(self, X: ArrayLike) -> np.ndarray:
        """X for prediction, checked against what fit saw, in the core's layout (so that
        the predictions made from it copy nothing)."""
        check_is_fitted(self)
        if any_dask(X):  # checked by its shape here, by chunks where they are predicted
            return checked_X(self, X)
        X = validate_estimator_data(self, X, reset=False)
        return as_rows_design(X)[0]

    @property
    def n_iter_(self) -> int:
        """Accepted steps of the fit (``result_.n_iter``)."""
        return self.result_.n_iter


class NGDClassifier(ClassifierMixin, _NGDEstimator):
    r"""Logistic, probit or multinomial regression fitted by [`ngdx.fit`][ngdx.fit].

    Two classes are fitted with ``model`` (``"logistic"`` or ``"probit"``), with
    ``classes_[1]`` the positive class; more than two classes always use
    ``"multinomial"`` (softmax), whatever ``model`` says.
    
    ``fit`` minimizes

    $$
    f(\theta) = \frac{\sum_i s_i \, \ell_i(\theta)}{\sum_i s_i}
    + \frac{l_2}{2} \lVert \mathrm{coef} \rVert^2
    $$

    ($\ell_i$ the negative log-likelihood of row i, $s_i$ its
    ``sample_weight``, 1 by default; the intercept is not penalized). A row of weight 2
    counts as the row twice; multiplying every weight by a constant changes nothing.
    Every parameter is read by ``fit`` only, which passes it to [`ngdx.fit`][ngdx.fit]: see
    there for the details.
    scikit-learn's ``LogisticRegression(C=C)`` has the same optimum at
    ``l2 = 1 / (C * sum(sample_weight))``.

    Parameters
    ----------
    model : {"logistic", "probit"}, default="logistic"
        Link of a two-class fit; ignored with more than two classes.
    method : {"gd", "ngd", "diag", "newton", "kfac"}, default="ngd"
        Optimizer, as in [`ngdx.fit`][ngdx.fit] (``"kfac"`` is for the multinomial model:
        NGDClassifier with more than two classes).
    fisher : {"true", "empirical", "mc"}, default="true"
        The Fisher of ``method="ngd"`` and ``"diag"``; ignored by the other methods.
    step : {"fixed", "kl", "armijo"}, default="fixed"
        Step rule of every method: fixed ``lr``, a KL trust region of radius
        ``max_kl``, or backtracking.
    damping : float in [0, 1e150] or "adaptive", default="adaptive"
        lambda in (M + lambda I) x = g; ignored by ``method="gd"``.
    lr : float in (0, 1e150] or None, default=None
        Step size; None means 1.0, or 1 / L for ``method="gd"``.
    max_kl : float > 0, default=0.01
        Trust-region radius of ``step="kl"``.
    l2 : float >= 0, default=0.0
        Ridge penalty on ``coef_`` (not the intercept), relative to the *mean* loss.
    fit_intercept : bool, default=True
        Fit an intercept.
    max_iter : int >= 1, default=100
        Maximum number of accepted steps.
    tol : float >= 0, default=1e-8
        Converged when max |gradient of the objective| <= tol, each entry divided by its
        feature's root mean square (scale-free; see [`ngdx.fit`][ngdx.fit]).
    n_threads : int or None, default=None
        Threads of the compiled core (default [`ngdx.get_num_threads`][ngdx.get_num_threads]).
    random_state : int, RandomState instance or None, default=None
        Seeds the Monte Carlo Fisher (``fisher="mc"``); unused otherwise.
    verbose : bool or int, default=False
        Print one line per iteration.

    Attributes
    ----------
    classes_ : ndarray, shape (K,)
        The sorted distinct labels seen by ``fit``.
    coef_ : ndarray, shape (1, d) or (K, d)
        Coefficients: a view of ``result_.coef`` laid out like scikit-learn's
        ``LogisticRegression.coef_`` (one row for two classes, one per class otherwise).
    intercept_ : ndarray, shape (1,) or (K,)
        Intercepts (zeros when ``fit_intercept=False``; they sum to zero for K > 2).
    n_iter_ : int
        Accepted steps of the fit.
    result_ : FitResult
        What [`ngdx.fit`][ngdx.fit] returned (``converged``, ``message``, ``history``, ...).
    n_features_in_ : int
        Number of features seen by ``fit``.
    feature_names_in_ : ndarray of str, shape (n_features_in_,)
        Column names of X, when X was a DataFrame with string column names.
    covariance_, std_errors_ : ndarray
        The "expected" covariance of the estimates and its standard errors
        (``result_.covariance()``, ``result_.std_errors()``; ``summary()`` for the table
        and the other kinds). The fitted estimator keeps a reference to the training data
        for them (no copy), dropped when pickled.

    Warns
    -----
    ConvergenceWarning
        From [`ngdx.fit`][ngdx.fit] when the fit stops unconverged, e.g. separable classes with
        ``l2=0`` (no finite optimum exists).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from ngdx import NGDClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = NGDClassifier(l2=1e-3).fit(X, y)
    >>> clf.result_.model, clf.coef_.shape, clf.intercept_.shape
    ('multinomial', (3, 4), (3,))
    >>> clf.predict(X[[0, 50, 100]])
    array([0, 1, 2])
    >>> clf.predict_proba(X[:2]).sum(axis=1)
    array([1., 1.])
    >>> round(clf.score(X, y), 2)
    0.99
    """

    def __init__(self, model: Literal["logistic", "probit"] = "logistic", method: Method = "ngd", *,
                 fisher: FisherKind = "true", step: StepRule = "fixed",
                 damping: float | Literal["adaptive"] = "adaptive", lr: float | None = None,
                 max_kl: float = 0.01, l2: float = 0.0, fit_intercept: bool = True,
                 max_iter: int = 100, tol: float = 1e-8, n_threads: int | None = None,
                 random_state: int | np.random.RandomState | None = None,
                 verbose: bool | int = False) -> None:
        self.model = model
        self.method = method
        self.fisher = fisher
        self.step = step
        self.damping = damping
        self.lr = lr
        self.max_kl = max_kl
        self.l2 = l2
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
            ) -> NGDClassifier:
        """Fit the model to X (n, d) and labels y (n,) of any type, with optional
        non-negative ``sample_weight`` (n,). Returns self."""
        if self.model not in BINARY_MODELS:
            raise ValueError(f"{type(self).__name__}: unknown model {self.model!r}; valid: "
                             f"{', '.join(BINARY_MODELS)}")
        if any_dask(X, y, sample_weight):
            X, y = fit_data(self, X, y)
            self.classes_, y_code = encode_classes(y)
        else:
            X, y = validate_estimator_data(self, X, y)
            check_classification_targets(y)
            self.classes_, y_code = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes, "
                             f"but the data contains only one class: {self.classes_[0]}")
        model = self.model if len(self.classes_) == 2 else "multinomial"
        return self._fit(X, y_code.astype(np.float64), model, sample_weight)

    @property
    def coef_(self) -> np.ndarray:
        """Coefficients, (1, d) or (K, d)."""
        c = self.result_.coef
        return c[np.newaxis, :] if c.ndim == 1 else c.T

    @property
    def intercept_(self) -> np.ndarray:
        """Intercepts, (1,) or (K,)."""
        return np.reshape(self.result_.intercept, -1)

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """The linear predictor eta = X @ coef_.T + intercept_: shape (n,) for two classes
        (positive favours ``classes_[1]``), (n, K) otherwise."""
        X = self._validated(X)
        return self.result_.decision_function(X)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The most probable class of each row, shape (n,)."""
        eta = self.decision_function(X)
        if any_dask(eta):
            return eta.map_blocks(self._labels, dtype=self.classes_.dtype,
                                  drop_axis=1 if eta.ndim == 2 else None)
        return self._labels(eta)

    def _labels(self, eta):
        return self.classes_[eta.argmax(axis=1) if eta.ndim == 2 else (eta > 0).astype(int)]

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities, shape (n, K), columns in the order of ``classes_``.

        For two classes each column is the model's mean at +eta or -eta (both links are
        symmetric), so the small probability keeps its relative accuracy instead of being
        computed as 1 - p.
        """
        X = self._validated(X)
        res = self.result_
        if res.coef.ndim == 2:
            return res.predict(X)
        negated = dataclasses.replace(res, coef=-res.coef, intercept=-res.intercept)
        columns = [negated.predict(X), res.predict(X)]
        if any_dask(X):
            import dask.array as da

            return da.stack(columns, axis=1)
        return np.column_stack(columns)

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Log class probabilities, shape (n, K), computed from eta directly: accurate
        where a probability is near 1 (log p ~ -(1 - p)) and finite where it underflows."""
        eta = self.decision_function(X)
        log_proba = functools.partial(log_probabilities, self.result_.model)
        if any_dask(eta):
            return rowwise(log_proba, eta, 2 if eta.ndim == 1 else eta.shape[1])
        return log_proba(eta)


class NGDRegressor(RegressorMixin, _NGDEstimator):
    r"""Gaussian (least squares) or Poisson (log link) regression fitted by
    [`ngdx.fit`][ngdx.fit].
    
    ``fit`` minimizes

    $$
    f(\theta) = \frac{\sum_i s_i \, \ell_i(\theta)}{\sum_i s_i}
    + \frac{l_2}{2} \lVert \mathrm{coef} \rVert^2
    $$

    ($\ell_i$ the negative log-likelihood of row i, $s_i$ its
    ``sample_weight``, 1 by default; the intercept is not penalized). A row of weight 2
    counts as the row twice; multiplying every weight by a constant changes nothing.
    Every parameter is read by ``fit`` only, which passes it to [`ngdx.fit`][ngdx.fit]: see
    there for the details.
    For ``"gaussian"`` the loss is half the squared error, so the optimum is
    scikit-learn's ``Ridge(alpha=l2 * sum(sample_weight))`` (``LinearRegression`` at
    ``l2=0``); for ``"poisson"`` it is ``PoissonRegressor(alpha=l2)``.

    Parameters
    ----------
    model : {"gaussian", "poisson"}, default="gaussian"
        The response distribution; ``"poisson"`` needs y >= 0.
    method : {"gd", "ngd", "diag", "newton", "kfac"}, default="ngd"
        Optimizer, as in [`ngdx.fit`][ngdx.fit] (``"kfac"`` is for the multinomial model:
        NGDClassifier with more than two classes).
    fisher : {"true", "empirical", "mc"}, default="true"
        The Fisher of ``method="ngd"`` and ``"diag"``; ignored by the other methods.
    step : {"fixed", "kl", "armijo"}, default="fixed"
        Step rule of every method: fixed ``lr``, a KL trust region of radius
        ``max_kl``, or backtracking.
    damping : float in [0, 1e150] or "adaptive", default="adaptive"
        lambda in (M + lambda I) x = g; ignored by ``method="gd"``.
    lr : float in (0, 1e150] or None, default=None
        Step size; None means 1.0, or 1 / L for ``method="gd"``.
    max_kl : float > 0, default=0.01
        Trust-region radius of ``step="kl"``.
    l2 : float >= 0, default=0.0
        Ridge penalty on ``coef_`` (not the intercept), relative to the *mean* loss.
    fit_intercept : bool, default=True
        Fit an intercept.
    max_iter : int >= 1, default=100
        Maximum number of accepted steps.
    tol : float >= 0, default=1e-8
        Converged when max |gradient of the objective| <= tol, each entry divided by its
        feature's root mean square (scale-free; see [`ngdx.fit`][ngdx.fit]).
    n_threads : int or None, default=None
        Threads of the compiled core (default [`ngdx.get_num_threads`][ngdx.get_num_threads]).
    random_state : int, RandomState instance or None, default=None
        Seeds the Monte Carlo Fisher (``fisher="mc"``); unused otherwise.
    verbose : bool or int, default=False
        Print one line per iteration.

    Attributes
    ----------
    coef_ : ndarray, shape (d,)
        Coefficients (``result_.coef`` itself).
    intercept_ : float
        Intercept (0.0 when ``fit_intercept=False``).
    n_iter_ : int
        Accepted steps of the fit.
    result_ : FitResult
        What [`ngdx.fit`][ngdx.fit] returned (``converged``, ``message``, ``history``, ...).
    n_features_in_ : int
        Number of features seen by ``fit``.
    feature_names_in_ : ndarray of str, shape (n_features_in_,)
        Column names of X, when X was a DataFrame with string column names.
    covariance_, std_errors_ : ndarray
        The "expected" covariance of the estimates and its standard errors
        (``result_.covariance()``, ``result_.std_errors()``; ``summary()`` for the table
        and the other kinds). The fitted estimator keeps a reference to the training data
        for them (no copy), dropped when pickled.

    Warns
    -----
    ConvergenceWarning
        From [`ngdx.fit`][ngdx.fit] when the fit stops unconverged (``max_iter`` reached, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from ngdx import NGDRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 2))
    >>> y = rng.poisson(np.exp(X @ [0.5, -0.3] + 1.0))
    >>> reg = NGDRegressor(model="poisson").fit(X, y)
    >>> reg.coef_.round(1), round(reg.intercept_, 1)
    (array([ 0.5, -0.3]), 1.0)
    >>> bool(np.isclose(reg.predict(np.zeros((1, 2)))[0], np.exp(reg.intercept_)))
    True
    """

    def __init__(self, model: Literal["gaussian", "poisson"] = "gaussian",
                 method: Method = "ngd", *, fisher: FisherKind = "true", step: StepRule = "fixed",
                 damping: float | Literal["adaptive"] = "adaptive", lr: float | None = None,
                 max_kl: float = 0.01, l2: float = 0.0, fit_intercept: bool = True,
                 max_iter: int = 100, tol: float = 1e-8, n_threads: int | None = None,
                 random_state: int | np.random.RandomState | None = None,
                 verbose: bool | int = False) -> None:
        self.model = model
        self.method = method
        self.fisher = fisher
        self.step = step
        self.damping = damping
        self.lr = lr
        self.max_kl = max_kl
        self.l2 = l2
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
            ) -> NGDRegressor:
        """Fit the model to X (n, d) and targets y (n,), with optional non-negative
        ``sample_weight`` (n,). Returns self."""
        if self.model not in REGRESSION_MODELS:
            raise ValueError(f"{type(self).__name__}: unknown model {self.model!r}; valid: "
                             f"{', '.join(REGRESSION_MODELS)}")
        if any_dask(X, y, sample_weight):
            X, y = fit_data(self, X, y)
        else:
            X, y = validate_estimator_data(self, X, y, y_numeric=True)
        return self._fit(X, y, self.model, sample_weight)

    @property
    def coef_(self) -> np.ndarray:
        """Coefficients, (d,)."""
        return self.result_.coef

    @property
    def intercept_(self) -> float:
        """Intercept, a float."""
        return float(self.result_.intercept)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The model's mean at X, shape (n,): X @ coef_ + intercept_, or its exponential
        for ``"poisson"``."""
        X = self._validated(X)
        return self.result_.predict(X)

    def score(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
              ) -> float:
        """D², the fraction of deviance explained, as scikit-learn's GLM regressors score:
        1 - D(y, predict(X)) / D(y, mean(y)) with the model's deviance D: R² (squared
        error) for ``"gaussian"``, the Poisson deviance for ``"poisson"`` (as
        ``PoissonRegressor.score``). 1 is a perfect fit; it can be negative."""
        y = np.asarray(y, dtype=np.float64)
        mean = np.average(y, weights=sample_weight)
        deviance = mean_deviance(self.model, y, self.predict(X), sample_weight)
        null = mean_deviance(self.model, y, np.full_like(y, mean), sample_weight)
        if null == 0.0:  # constant y: scikit-learn's convention (r2_score's force_finite)
            return 1.0 if deviance == 0.0 else 0.0
        return float(1.0 - deviance / null)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        # As scikit-learn's PoissonRegressor: its generic checks then draw y >= 0.
        tags.target_tags.positive_only = self.model == "poisson"
        return tags

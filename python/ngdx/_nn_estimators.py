"""scikit-learn estimators over [`ngdx.nn.fit`][ngdx.nn.fit]:
[`ngdx.NGDMLPClassifier`][ngdx.NGDMLPClassifier] and
[`ngdx.NGDMLPRegressor`][ngdx.NGDMLPRegressor].

They take scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` parameter names where they
mean the same thing, validate the data the scikit-learn way (``validate_data``), build an
[`ngdx.nn.MLP`][ngdx.nn.MLP] whose output family fits y, and train it with
[`ngdx.nn.fit`][ngdx.nn.fit], stopping by scikit-learn's rule (the loss, or the validation
score, did not improve by ``tol`` for ``n_iter_no_change`` iterations) through its
``callback`` (``_nn_estimator_base.py``). The
[`ngdx.nn.MLPFitResult`][ngdx.nn.MLPFitResult] is kept as ``result_``: every prediction
and ``coefs_``, ``intercepts_``, ``n_iter_`` are read off it.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import log_expit, log_softmax  # scipy is a dependency of scikit-learn
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Tags
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d, validate_data

from ._nn_estimator_base import MLPEstimator
from ._validation import DESIGN_DTYPES

#: The constant of the unit-variance Gaussian NLL per output: log(2 pi) / 2.
HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class NGDMLPClassifier(ClassifierMixin, MLPEstimator):
    r"""A multilayer perceptron classifier trained by natural gradient (K-FAC by default)
    with [`ngdx.nn.fit`][ngdx.nn.fit]: scikit-learn's ``MLPClassifier`` parameters where
    they mean the same thing.

    Two classes: one logistic output (the probability of ``classes_[1]``); more: a
    softmax over the classes; a 2-D 0/1 indicator y (multilabel): one independent
    logistic output per column.

    ``fit`` minimizes scikit-learn's loss

    $$
    \frac{\sum_i s_i \, \ell_i}{\sum_i s_i}
    + \frac{\alpha}{2 \sum_i s_i} \sum_l \lVert W_l \rVert^2
    $$

    ($\ell_i$ the negative log-likelihood of row i summed over its outputs, $s_i$ its
    ``sample_weight``, 1 by default; biases are not penalized): [`ngdx.nn.fit`][ngdx.nn.fit]
    with ``l2 = alpha / sum(sample_weight)`` (``alpha / n`` without weights). Dividing by
    the sum of the weights, as scikit-learn's MLPs do since 1.7, makes a row of weight 2
    the same as the row twice. ``loss_curve_`` is that objective (``result_.history
    ["objective"]`` after each iteration), exactly scikit-learn's penalized loss.

    ``tol`` has scikit-learn's meaning: the fit stops, converged, when the training loss
    (with ``early_stopping``, the validation accuracy) has not improved by ``tol`` for more
    than ``n_iter_no_change`` consecutive iterations; [`ngdx.nn.fit`][ngdx.nn.fit]'s
    gradient test is off (its ``tol=0``). Reaching ``max_iter`` first gives a
    ``ConvergenceWarning``.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Units of each hidden layer; ``()`` for none (a GLM).
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        The hidden layers' activation.
    alpha : float >= 0, default=0.0001
        scikit-learn's L2 penalty: ngdx's ``l2`` is ``alpha`` over the number of training
        rows (the sum of ``sample_weight`` when given).
    batch_size : int or None, default=None
        None: full batch (the regime where natural-gradient steps win); an integer:
        mini-batches of that many rows (see [`ngdx.nn.fit`][ngdx.nn.fit]), methods
        "kfac", "adam" and "gd".
    max_iter : int >= 1, default=200
        Maximum number of iterations: full-batch steps, or epochs with ``batch_size``
        (as scikit-learn counts them).
    tol : float >= 0, default=0.0001
        Stop when the loss (or validation score) has not improved by ``tol`` for more than
        ``n_iter_no_change`` consecutive iterations.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the validation split and the ``"mc"`` Fisher's draws.
    verbose : bool or int, default=False
        Print one line per iteration.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified for single-output y),
        score them after each iteration, stop as ``tol`` says and keep the parameters of
        the best score.
    validation_fraction : float in (0, 1), default=0.1
        The held-out fraction of ``early_stopping``.
    n_iter_no_change : int >= 1, default=10
        Iterations without improvement by ``tol`` tolerated before stopping.
    method : {"kfac", "ngd", "adam", "gd"}, default="kfac"
        The optimizer of [`ngdx.nn.fit`][ngdx.nn.fit]: K-FAC, the exact Fisher, or the
        first-order baselines.
    fisher : {"true", "empirical", "mc"}, default="true"
        The Fisher the natural-gradient methods estimate.
    damping : float >= 0 or "adaptive", default="adaptive"
        lambda; "adaptive" is Levenberg-Marquardt.
    lr : float > 0 or None, default=None
        Step size (None: [`ngdx.nn.fit`][ngdx.nn.fit]'s default for ``method``).
    n_threads : int or None, default=None
        Threads of the compiled core (default [`ngdx.get_num_threads`][ngdx.get_num_threads]).

    Attributes
    ----------
    classes_ : ndarray, shape (K,)
        The sorted labels (``arange(n_labels)`` for multilabel y).
    coefs_, intercepts_ : list of ndarray
        Weights (fan_in, fan_out) and biases (fan_out,) of each layer.
    n_iter_ : int
        Iterations run.
    loss_, loss_curve_, best_loss_ : float, list of float, float or None
        The loss after the last iteration, after each, and the lowest (None with
        ``early_stopping``).
    validation_scores_, best_validation_score_ : list of float, float or None
        Validation accuracy after each iteration and its best (``early_stopping`` only).
    n_layers_, n_outputs_ : int
    out_activation_ : {"logistic", "softmax"}
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names of X, when X was a DataFrame with string column names.
    net_ : ngdx.nn.MLP
    result_ : ngdx.nn.MLPFitResult
        What [`ngdx.nn.fit`][ngdx.nn.fit] returned; ``converged`` and ``message`` say how
        the fit stopped; with ``early_stopping``, ``params`` are the best ones.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from ngdx import NGDMLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = NGDMLPClassifier((4,), activation="tanh", tol=1e-3, random_state=0).fit(X, y)
    >>> clf.out_activation_, [W.shape for W in clf.coefs_], clf.result_.converged
    ('softmax', [(4, 4), (4, 3)], True)
    >>> bool(clf.score(X, y) > 0.95)
    True
    """

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
            ) -> NGDMLPClassifier:
        """Fit to X (n, d) and labels y (n,) of any type, or a 0/1 indicator y (n, K)
        (multilabel), with optional non-negative ``sample_weight`` (n,). Returns self."""
        X, y = validate_data(self, X, y, dtype=DESIGN_DTYPES, order="C", multi_output=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if y.ndim == 2:
            if type_of_target(y) != "multilabel-indicator":
                raise ValueError(f"y: {type(self).__name__} takes 1-D class labels or a 2-D "
                                 f"0/1 indicator matrix (multilabel), got {type_of_target(y)}")
            self.classes_ = np.arange(y.shape[1])
            return self._fit_network(X, y.astype(np.float64), "logistic", y.shape[1],
                                     sample_weight, stratify=False)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        K = len(self.classes_)
        if K < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes, "
                             f"but the data contains only one class: {self.classes_[0]!r}")
        codes = encoder.transform(y).astype(np.float64)
        return self._fit_network(X, codes, "logistic" if K == 2 else "multinomial",
                                 1 if K == 2 else K, sample_weight, stratify=True)

    @property
    def out_activation_(self) -> str:
        """scikit-learn's name of the output: "softmax" or "logistic"."""
        return "softmax" if self.net_.output == "multinomial" else "logistic"

    def _predicted(self, net, eta):
        if net.output == "multinomial":
            return eta.argmax(axis=1)
        return (eta > 0).astype(int) if _multilabel(net) else (eta[:, 0] > 0).astype(int)

    def _validation_score(self, predicted, Y, sample_weight):
        return accuracy_score(Y.astype(int), predicted, sample_weight=sample_weight)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The most probable class of each row (n,), or for multilabel y the 0/1 indicator
        (n, K) of the labels with probability > 1/2."""
        eta = self._decision(X)  # checks that self is fitted
        codes = self._predicted(self.net_, eta)
        return codes if _multilabel(self.net_) else self.classes_[codes]

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Log probabilities (n, K) in the order of ``classes_``, from the output's eta
        (finite where a probability underflows): each class's, or for multilabel y each
        label's probability of being 1."""
        eta = self._decision(X)
        if self.net_.output == "multinomial":
            return log_softmax(eta, axis=1)
        if _multilabel(self.net_):
            return log_expit(eta)
        return np.column_stack([log_expit(-eta[:, 0]), log_expit(eta[:, 0])])

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Probabilities (n, K): ``exp(predict_log_proba(X))``."""
        return np.exp(self.predict_log_proba(X))

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class NGDMLPRegressor(RegressorMixin, MLPEstimator):
    r"""A multilayer perceptron regressor (squared error, one or several outputs) trained
    by natural gradient (K-FAC by default) with [`ngdx.nn.fit`][ngdx.nn.fit]:
    scikit-learn's ``MLPRegressor`` parameters where they mean the same thing.

    ``fit`` minimizes scikit-learn's loss

    $$
    \frac{1}{K} \sum_k \frac{\sum_i s_i \, (y_{ik} - \hat y_{ik})^2 / 2}{\sum_i s_i}
    + \frac{\alpha}{2 \sum_i s_i} \sum_l \lVert W_l \rVert^2
    $$

    ($K$ the number of outputs, $s_i$ the ``sample_weight``, 1 by default; biases are not
    penalized). ngdx's unit-variance Gaussian NLL sums the outputs and adds
    $\tfrac{K}{2}\log 2\pi$, so this is [`ngdx.nn.fit`][ngdx.nn.fit]'s objective divided
    by K, minus $\tfrac12 \log 2\pi$, at ``l2 = K * alpha / sum(sample_weight)``
    (``alpha / n`` for one output without weights): the optimum of scikit-learn's
    ``MLPRegressor`` with the same ``alpha``. Dividing by the sum of the weights, as
    scikit-learn's MLPs do since 1.7, makes a row of weight 2 the same as the row twice.
    ``loss_curve_`` is scikit-learn's loss after each iteration, read off
    ``result_.history["objective"]`` by that affine map.

    ``tol`` has scikit-learn's meaning: the fit stops, converged, when the training loss
    (with ``early_stopping``, the validation R²) has not improved by ``tol`` for more than
    ``n_iter_no_change`` consecutive iterations; [`ngdx.nn.fit`][ngdx.nn.fit]'s gradient
    test is off (its ``tol=0``). Reaching ``max_iter`` first gives a
    ``ConvergenceWarning``.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Units of each hidden layer; ``()`` for none (a GLM).
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        The hidden layers' activation.
    alpha : float >= 0, default=0.0001
        scikit-learn's L2 penalty: ngdx's ``l2`` is ``alpha`` times the number of outputs
        over the number of training rows (the sum of ``sample_weight`` when given).
    batch_size : int or None, default=None
        None: full batch (the regime where natural-gradient steps win); an integer:
        mini-batches of that many rows (see [`ngdx.nn.fit`][ngdx.nn.fit]), methods
        "kfac", "adam" and "gd".
    max_iter : int >= 1, default=200
        Maximum number of iterations: full-batch steps, or epochs with ``batch_size``
        (as scikit-learn counts them).
    tol : float >= 0, default=0.0001
        Stop when the loss (or validation score) has not improved by ``tol`` for more than
        ``n_iter_no_change`` consecutive iterations.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the validation split and the ``"mc"`` Fisher's draws.
    verbose : bool or int, default=False
        Print one line per iteration.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, score them (R²) after each
        iteration, stop as ``tol`` says and keep the parameters of the best score.
    validation_fraction : float in (0, 1), default=0.1
        The held-out fraction of ``early_stopping``.
    n_iter_no_change : int >= 1, default=10
        Iterations without improvement by ``tol`` tolerated before stopping.
    method : {"kfac", "ngd", "adam", "gd"}, default="kfac"
        The optimizer of [`ngdx.nn.fit`][ngdx.nn.fit]: K-FAC, the exact Fisher, or the
        first-order baselines.
    fisher : {"true", "empirical", "mc"}, default="true"
        The Fisher the natural-gradient methods estimate.
    damping : float >= 0 or "adaptive", default="adaptive"
        lambda; "adaptive" is Levenberg-Marquardt.
    lr : float > 0 or None, default=None
        Step size (None: [`ngdx.nn.fit`][ngdx.nn.fit]'s default for ``method``).
    n_threads : int or None, default=None
        Threads of the compiled core (default [`ngdx.get_num_threads`][ngdx.get_num_threads]).

    Attributes
    ----------
    coefs_, intercepts_ : list of ndarray
        Weights (fan_in, fan_out) and biases (fan_out,) of each layer.
    n_iter_ : int
        Iterations run.
    loss_, loss_curve_, best_loss_ : float, list of float, float or None
        The loss after the last iteration, after each, and the lowest (None with
        ``early_stopping``).
    validation_scores_, best_validation_score_ : list of float, float or None
        Validation R² after each iteration and its best (``early_stopping`` only).
    n_layers_, n_outputs_ : int
    out_activation_ : "identity"
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names of X, when X was a DataFrame with string column names.
    net_ : ngdx.nn.MLP
    result_ : ngdx.nn.MLPFitResult
        What [`ngdx.nn.fit`][ngdx.nn.fit] returned; ``converged`` and ``message`` say how
        the fit stopped; with ``early_stopping``, ``params`` are the best ones.

    Examples
    --------
    >>> import numpy as np
    >>> from ngdx import NGDMLPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-2, 2, size=(200, 1))
    >>> y = np.column_stack([np.sin(X[:, 0]), X[:, 0] ** 2])
    >>> reg = NGDMLPRegressor((16,), activation="tanh", random_state=0).fit(X, y)
    >>> reg.n_outputs_, reg.predict(X).shape, reg.out_activation_
    (2, (200, 2), 'identity')
    >>> bool(reg.score(X, y) > 0.99)
    True
    """

    out_activation_ = "identity"
    _averages_outputs = True
    _nll_constant = HALF_LOG_2PI

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
            ) -> NGDMLPRegressor:
        """Fit to X (n, d) and targets y (n,) or (n, K), with optional non-negative
        ``sample_weight`` (n,). Returns self."""
        X, y = validate_data(self, X, y, dtype=DESIGN_DTYPES, order="C", multi_output=True,
                             y_numeric=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        K = 1 if y.ndim == 1 else y.shape[1]
        return self._fit_network(X, y.astype(np.float64), "gaussian", K, sample_weight,
                                 stratify=False)

    def _predicted(self, net, eta):
        return eta[:, 0] if net.n_outputs == 1 else eta

    def _validation_score(self, predicted, Y, sample_weight):
        return r2_score(Y, predicted, sample_weight=sample_weight)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The network's output: (n,) for a 1-D y in fit, (n, K) otherwise."""
        eta = self._decision(X)  # checks that self is fitted
        return self._predicted(self.net_, eta)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _multilabel(net) -> bool:
    """Whether a classifier's network has independent logistic outputs (multilabel y)."""
    return net.output == "logistic" and net.n_outputs > 1

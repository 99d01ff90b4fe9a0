"""What [`ngdx.NGDMLPClassifier`][ngdx.NGDMLPClassifier] and
[`ngdx.NGDMLPRegressor`][ngdx.NGDMLPRegressor] share: their parameters, the fit through
[`ngdx.nn.fit`][ngdx.nn.fit] stopped by scikit-learn's rule, and the fitted attributes.

scikit-learn's MLPs stop when the training loss (or, with ``early_stopping``, the
validation score) has not improved by ``tol`` for more than ``n_iter_no_change``
consecutive iterations. ``_Stopping`` applies that rule as ngdx.nn.fit's ``callback`` (which
stops the fit by returning True), with fit's own gradient test switched off (``tol=0``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from typing import Literal, Sequence

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from . import nn
from ._config import resolve_threads
from ._result import convergence_warning
from ._typing import FisherKind
from ._validation import (DESIGN_DTYPES, check_bool, check_nonnegative, check_positive_int,
                          check_sample_weight)
from .nn import _passes

#: The optimizer of ``ngdx.nn.fit`` and the hidden layers' activation of ``ngdx.nn.MLP``.
NetworkMethod = Literal["kfac", "ngd", "adam", "gd"]
Activation = Literal["relu", "tanh", "logistic", "identity"]


class _Stopping:
    """scikit-learn's stopping rule as [`ngdx.nn.fit`][ngdx.nn.fit]'s callback.

    After each iteration: without ``validation``, the training loss (``to_loss`` of the
    objective) counts as no improvement when it is above the best loss so far minus tol;
    with ``validation`` (a function of the fit's current result), the validation score
    counts when it is below the best score so far plus tol, and the parameters of the best
    score are kept. The fit stops when more than ``patience`` consecutive iterations did
    not improve (scikit-learn's ``_update_no_improvement_count``).
    """

    def __init__(self, tol, patience, to_loss, validation=None, verbose=False):
        self.tol, self.patience, self.to_loss = tol, patience, to_loss
        self.validation, self.verbose = validation, verbose
        self.best_loss, self.best_score, self.best_params = math.inf, -math.inf, None
        self.scores = []
        self.count, self.stopped = 0, False

    def __call__(self, result) -> bool:
        if self.validation is None:
            loss = self.to_loss(float(result.history["objective"][-1]))
            no_better = loss > self.best_loss - self.tol
            self.best_loss = min(self.best_loss, loss)
        else:
            score = float(self.validation(result))
            self.scores.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")  # scikit-learn's line
            no_better = score < self.best_score + self.tol
            if score > self.best_score:
                self.best_score, self.best_params = score, result.params
        self.count = self.count + 1 if no_better else 0
        self.stopped = self.count > self.patience
        return self.stopped

    def what(self) -> str:
        return "training loss" if self.validation is None else "validation score"


class MLPEstimator(BaseEstimator):
    """What both estimators share: the parameters, the fit, the fitted attributes."""

    def __init__(self, hidden_layer_sizes: int | Sequence[int] = (100,),
                 activation: Activation = "relu", *, alpha: float = 0.0001,
                 batch_size: int | None = None, max_iter: int = 200, tol: float = 1e-4,
                 random_state: int | np.random.RandomState | None = None,
                 verbose: bool | int = False, early_stopping: bool = False,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 10,
                 method: NetworkMethod = "kfac", fisher: FisherKind = "true",
                 damping: float | Literal["adaptive"] = "adaptive", lr: float | None = None,
                 n_threads: int | None = None) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.method = method
        self.fisher = fisher
        self.damping = damping
        self.lr = lr
        self.n_threads = n_threads

    # ------------------------------------------------------------------ what subclasses say
    #: Whether scikit-learn's loss averages the outputs (ngdx's NLL sums them), and the
    #: constant per output of ngdx's NLL that scikit-learn's loss leaves out.
    _averages_outputs = False
    _nll_constant = 0.0

    def _predicted(self, net, eta):
        """The prediction from eta of ``net``, in the encoding of the fitted targets."""
        raise NotImplementedError

    def _validation_score(self, predicted, Y, sample_weight) -> float:
        raise NotImplementedError

    # ------------------------------------------------------------------ the fit
    def _fit_network(self, X, Y, output, n_outputs, sample_weight, stratify):
        """Train ``output``'s network on validated X and encoded Y; sets the fitted state."""
        hidden = _hidden_layer_sizes(self.hidden_layer_sizes)
        alpha = check_nonnegative(self.alpha, "alpha")
        tol = check_nonnegative(self.tol, "tol")
        max_iter = check_positive_int(self.max_iter, "max_iter")
        patience = check_positive_int(self.n_iter_no_change, "n_iter_no_change")
        early = check_bool(self.early_stopping, "early_stopping")
        sw = _sample_weight(sample_weight, X.shape[0])
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))  # net.init and the "mc" draws
        net = nn.MLP((X.shape[1], *hidden, n_outputs), self.activation, output)
        validation = None
        if early:
            X, Y, sw, X_val, Y_val, sw_val = _hold_out(
                X, Y, sw, self.validation_fraction, rng, Y if stratify else None)

            def validation(result):
                eta = _eta(net, result.params, X_val, self.n_threads)
                return self._validation_score(self._predicted(net, eta), Y_val, sw_val)
        # ngdx's objective is `scale` times scikit-learn's loss plus a constant, so the
        # penalty 0.5 alpha ||W||^2 / n of scikit-learn's loss (n the sum of the weights)
        # is ngdx's at l2 = scale * alpha / n.
        scale = n_outputs if self._averages_outputs else 1
        n = X.shape[0] if sw is None else float(np.sum(sw))
        l2 = scale * alpha / n

        def to_loss(objective):
            return objective / scale - self._nll_constant
        stopping = _Stopping(tol, patience, to_loss, validation, self.verbose)
        res = nn.fit(net, X, Y, self.method, l2=l2, fisher=self.fisher, damping=self.damping,
                     lr=self.lr, sample_weight=sw, max_iter=max_iter, tol=0.0, seed=seed,
                     batch_size=self.batch_size, n_threads=self.n_threads,
                     verbose=self.verbose, callback=stopping)
        if stopping.stopped:
            res = dataclasses.replace(res, converged=True, message=(
                f"converged: the {stopping.what()} did not improve by tol = {tol:g} for "
                f"{patience + 1} consecutive iterations"))
        elif res.n_iter >= max_iter:  # fit's other failures have warned already
            warnings.warn(
                f"{type(self).__name__}: max_iter = {max_iter} reached while the "
                f"{stopping.what()} still improved by more than tol = {tol:g} within "
                f"n_iter_no_change = {patience} iterations; increase max_iter",
                convergence_warning(), stacklevel=3)
        if early and stopping.best_params is not None:
            res = dataclasses.replace(res, params=stopping.best_params)
        self.result_, self.net_ = res, net
        self.loss_curve_ = [to_loss(f) for f in res.history["objective"][1:].tolist()]
        self.loss_ = to_loss(float(res.history["objective"][-1]))
        self.best_loss_ = None if early else min(self.loss_curve_, default=self.loss_)
        self.validation_scores_ = stopping.scores if early else None
        self.best_validation_score_ = stopping.best_score if early else None
        return self

    # ------------------------------------------------------------------ prediction
    def _decision(self, X: ArrayLike) -> np.ndarray:
        """eta (n, n_outputs), the output layer's linear predictor at X."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=DESIGN_DTYPES, order="C", reset=False)
        return _eta(self.net_, self.result_.params, X, self.n_threads)

    # ------------------------------------------------------------------ fitted attributes
    @property
    def coefs_(self) -> list:
        """The weight matrices, ``coefs_[l]`` of shape (fan_in, fan_out) of layer l + 1."""
        return [W for W, _ in self.result_.params]

    @property
    def intercepts_(self) -> list:
        """The bias vectors, ``intercepts_[l]`` of shape (fan_out,)."""
        return [b for _, b in self.result_.params]

    @property
    def n_iter_(self) -> int:
        """Accepted steps of the fit (``result_.n_iter``)."""
        return self.result_.n_iter

    @property
    def n_layers_(self) -> int:
        """Layers, input and output included."""
        return len(self.net_.layer_sizes)

    @property
    def n_outputs_(self) -> int:
        """Units of the output layer."""
        return self.net_.n_outputs


def _eta(net, params, X, n_threads):
    """The output layer's linear predictor (n, K) of ``net`` at ``params``."""
    out = np.empty((X.shape[0], net.n_outputs))
    _passes.forward(X, net.layer_sizes, net.as_theta(params), net.activation, net.output,
                    False, resolve_threads(n_threads), out)
    return out


def _hidden_layer_sizes(value) -> tuple:
    """scikit-learn's hidden_layer_sizes (an int or a sequence of ints >= 1) as a tuple."""
    sizes = (value,) if isinstance(value, numbers.Integral) else value
    try:
        sizes = tuple(sizes)
    except TypeError:
        sizes = None
    if sizes is None or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                                and s >= 1 for s in sizes):
        raise ValueError("hidden_layer_sizes must be an integer >= 1 or a sequence of them "
                         f"(() for no hidden layer), got {value!r}")
    return tuple(int(s) for s in sizes)


def _sample_weight(sample_weight, n):
    """Checked weights (n,), or None; a scalar is every row's weight, as in scikit-learn."""
    if sample_weight is None:
        return None
    sw = np.asarray(sample_weight)
    if sw.ndim == 0:
        sw = np.full(n, sw, dtype=np.float64)
    if sw.size and not sw.any():
        # scikit-learn's wording (its checks look for 'weight.*zero'); ngdx.nn.fit would
        # say "sample_weight must have a positive sum"
        raise ValueError("sample_weight is zero for every row: there is nothing to fit")
    return check_sample_weight(sw, n)


def _hold_out(X, Y, sw, fraction, rng, stratify):
    """(X, Y, sw) for training and (X, Y, sw) held out for early stopping."""
    if (isinstance(fraction, bool) or not isinstance(fraction, numbers.Real)
            or not 0 < fraction < 1):
        raise ValueError(f"validation_fraction must be a number in (0, 1), got {fraction!r}")
    arrays = (X, Y) if sw is None else (X, Y, sw)
    parts = train_test_split(*arrays, test_size=fraction, random_state=rng, stratify=stratify)
    train, held = parts[0::2], parts[1::2]
    if held[0].shape[0] < 2:
        raise ValueError("validation_fraction: the validation set has fewer than 2 rows; "
                         "increase validation_fraction or pass more rows")
    if sw is None:
        train, held = (*train, None), (*held, None)
    return (*train, *held)

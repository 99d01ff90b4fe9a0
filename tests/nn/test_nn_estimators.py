"""The scikit-learn estimators over ngdx.nn.fit: scikit-learn's own checks, alpha as
scikit-learn's penalty, scikit-learn's tol and early stopping, labels, multilabel and
multi-output targets, pipelines, and accuracy on digits against MLPClassifier."""

from __future__ import annotations

import inspect
import math
import re
import typing
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, log_softmax

sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import load_digits, load_iris  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402  (a dependency of scikit-learn)

import ngdx  # noqa: E402
from ngdx import NGDMLPClassifier, NGDMLPRegressor  # noqa: E402
from ngdx import _nn_estimator_base  # noqa: E402


@pytest.fixture(autouse=True)
def one_blas_thread():
    # Without the compiled core, K-FAC's damped solves are SciPy triangular solves of
    # (width x width) factors: on a loaded 2-core machine OpenBLAS's spinning threads made
    # each take ~10 ms, and these tests 10x slower. The results do not depend on it.
    with threadpool_limits(1, user_api="blas"):
        yield


def iris(scaled=True):
    X, y = load_iris(return_X_y=True)
    return (StandardScaler().fit_transform(X) if scaled else X), y


def mlp_forward(X, coefs, intercepts, activation):
    """The network's output layer eta, written out with NumPy (as scikit-learn's MLP)."""
    phi = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0), "identity": lambda z: z,
           "logistic": expit}[activation]
    a = X
    for W, b in zip(coefs[:-1], intercepts[:-1]):
        a = phi(a @ W + b)
    return a @ coefs[-1] + intercepts[-1]


def sklearn_stop(curve, tol, patience, higher_is_better=False):
    """The iteration at which scikit-learn's rule (``_update_no_improvement_count``) stops
    on a curve of losses (or validation scores), or None."""
    best, count = -math.inf if higher_is_better else math.inf, 0
    for i, v in enumerate(curve):
        worse = v < best + tol if higher_is_better else v > best - tol
        count = count + 1 if worse else 0
        best = max(best, v) if higher_is_better else min(best, v)
        if count > patience:
            return i + 1
    return None


# ---------------------------------------------------------------------- scikit-learn's checks
# Most of these checks fit for a few iterations, so max_iter is reached on purpose: its
# ConvergenceWarning is scikit-learn's, which its checks expect the caller to filter.
# early_stopping=True is not among the instances: several checks fit 1 to 10 rows, too
# few to hold out a stratified validation set (scikit-learn's MLPClassifier fails them
# the same way). Nor is a method="ngd" regressor: check_sample_weight_equivalence fits 15
# rows of 30 features exactly, where the exact Fisher (97 parameters, rank <= 11) is so
# near singular that its steps grow rounding differences to 1e-3 in 10 iterations.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks([
    NGDMLPClassifier((4,), max_iter=20),
    NGDMLPRegressor((4,), max_iter=20),
    NGDMLPClassifier((3, 3), activation="logistic", max_iter=10, method="ngd"),
    NGDMLPRegressor((3,), activation="tanh", max_iter=100, method="adam", lr=0.05),
])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ---------------------------------------------------------------------- alpha <-> l2
def test_classifier_loss_is_sklearns_penalized_loss_and_nn_fits_objective():
    X, y = iris()
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    alpha = 3.0
    clf = NGDMLPClassifier((5,), activation="tanh", alpha=alpha, max_iter=5, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter = 5 reached"):
        clf.fit(X, y, sample_weight=sw)
    squares = sum(float((W ** 2).sum()) for W in clf.coefs_)
    eta = mlp_forward(X, clf.coefs_, clf.intercepts_, "tanh")
    nll = -np.average(log_softmax(eta, axis=1)[np.arange(len(y)), y], weights=sw)
    # scikit-learn's MLP loss with weights (1.7): weighted mean NLL + alpha/2 ||W||^2 / sum(sw)
    assert clf.loss_ == pytest.approx(nll + 0.5 * alpha * squares / sw.sum(), rel=1e-12)
    # ... and ngdx.nn.fit's objective at l2 = alpha / sum(sw)
    l2 = alpha / sw.sum()
    objective = clf.net_.loss(clf.result_.params, X, y, sample_weight=sw) + 0.5 * l2 * squares
    assert clf.result_.history["objective"][-1] == pytest.approx(objective, rel=1e-12)
    assert clf.loss_curve_[-1] == clf.loss_ and len(clf.loss_curve_) == clf.n_iter_ == 5


def test_regressor_loss_averages_outputs_as_sklearn():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    Y = np.column_stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2], X[:, 0] - X[:, 2]])
    alpha, K = 2.0, 3
    reg = NGDMLPRegressor((6,), activation="tanh", alpha=alpha, max_iter=4, random_state=0)
    with pytest.warns(ConvergenceWarning):
        reg.fit(X, Y)
    squares = sum(float((W ** 2).sum()) for W in reg.coefs_)
    residual = Y - mlp_forward(X, reg.coefs_, reg.intercepts_, "tanh")
    sk_loss = 0.5 * (residual ** 2).mean(axis=0).mean() + 0.5 * alpha * squares / len(X)
    assert reg.loss_ == pytest.approx(sk_loss, rel=1e-12)
    objective = (reg.net_.loss(reg.result_.params, X, Y)
                 + 0.5 * (K * alpha / len(X)) * squares)  # l2 = K alpha / n
    assert reg.result_.history["objective"][-1] == pytest.approx(objective, rel=1e-12)


def test_no_hidden_layer_reaches_ngdx_fits_multinomial_optimum():
    X, y = iris()
    alpha = 1.5  # l2 = alpha / n = 0.01
    clf = NGDMLPClassifier((), alpha=alpha, tol=1e-13, n_iter_no_change=3, max_iter=300,
                           random_state=0).fit(X, y)
    ref = ngdx.fit(X, y, "multinomial", l2=alpha / len(y), tol=1e-12)
    assert clf.result_.converged and clf.out_activation_ == "softmax"
    assert_allclose(clf.coefs_[0], ref.coef, atol=1e-5)
    # the softmax is invariant to a common shift of the (unpenalized) intercepts
    b = clf.intercepts_[0]
    assert_allclose(b - b.mean(), ref.intercept, atol=1e-5)
    assert_allclose(clf.predict_proba(X), ref.predict(X), atol=1e-6)


def test_no_hidden_layer_reaches_ngdx_fits_logistic_optimum_with_weights():
    X, y = iris()
    keep = y > 0  # versicolor against virginica: not separable
    X, y = X[keep], np.where(y[keep] == 2, "virginica", "versicolor")
    sw = np.random.default_rng(2).uniform(0.5, 2.0, len(y))
    clf = NGDMLPClassifier((), alpha=0.5, tol=1e-13, n_iter_no_change=3, max_iter=300,
                           random_state=0).fit(X, y, sample_weight=sw)
    ref = ngdx.fit(X, (y == "virginica").astype(float), "logistic", l2=0.5 / sw.sum(),
                   sample_weight=sw, tol=1e-12)
    assert clf.out_activation_ == "logistic" and clf.coefs_[0].shape == (4, 1)
    assert_allclose(clf.coefs_[0][:, 0], ref.coef, atol=1e-6)
    assert_allclose(clf.intercepts_[0][0], ref.intercept, atol=1e-6)
    assert_array_equal(clf.classes_, ["versicolor", "virginica"])


def test_multi_output_regression_without_hidden_layer_is_sklearns_ridge():
    # scikit-learn's MLPRegressor loss averages the K outputs: its optimum is a ridge of
    # penalty K * alpha per output, which the regressor must reproduce.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 4))
    Y = X @ rng.normal(size=(4, 3)) + rng.normal(size=(120, 3))
    reg = NGDMLPRegressor((), alpha=5.0, tol=1e-14, n_iter_no_change=3, max_iter=100,
                          random_state=0).fit(X, Y)
    ridge = Ridge(alpha=3 * 5.0).fit(X, Y)
    assert_allclose(reg.coefs_[0], ridge.coef_.T, rtol=1e-8)
    assert_allclose(reg.intercepts_[0], ridge.intercept_, rtol=1e-8)
    assert reg.score(X, Y) == pytest.approx(ridge.score(X, Y), rel=1e-10)


# ---------------------------------------------------------------------- tol and early stopping
def test_the_stopping_rule_replica_is_sklearns():
    # sklearn_stop reproduces MLPClassifier's own stop on its own loss curve.
    X, y = iris()
    sk = MLPClassifier((5,), tol=1e-3, n_iter_no_change=4, max_iter=2000,
                       random_state=0).fit(X, y)
    assert sk.n_iter_ < 2000
    assert sklearn_stop(sk.loss_curve_, 1e-3, 4) == sk.n_iter_


@pytest.mark.parametrize("tol,patience", [(1e-3, 3), (1e-5, 10)])
def test_tol_has_sklearns_meaning(tol, patience):
    X, y = iris()
    clf = NGDMLPClassifier((5,), activation="tanh", tol=tol, n_iter_no_change=patience,
                           max_iter=500, random_state=0).fit(X, y)  # no warning
    assert clf.n_iter_ == sklearn_stop(clf.loss_curve_, tol, patience)
    assert clf.result_.converged and "did not improve by tol" in clf.result_.message
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None


def test_max_iter_reached_warns_and_is_not_converged():
    X, y = iris()
    clf = NGDMLPClassifier((5,), tol=0.0, max_iter=7, random_state=0)
    with pytest.warns(ConvergenceWarning, match="NGDMLPClassifier: max_iter = 7 reached"):
        clf.fit(X, y)
    assert clf.n_iter_ == 7 and not clf.result_.converged


def test_early_stopping_keeps_the_best_parameters():
    # noisy labels and no penalty: the validation accuracy peaks and then falls
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 5))
    y = (X[:, 0] + 0.8 * rng.normal(size=200) > 0).astype(int)
    kw = dict(hidden_layer_sizes=(32,), activation="tanh", alpha=0.0, early_stopping=True,
              validation_fraction=0.3, n_iter_no_change=5, tol=0.0, random_state=0)
    clf = NGDMLPClassifier(max_iter=200, **kw).fit(X, y)
    scores = clf.validation_scores_
    best = int(np.argmax(scores))  # the first best, as scikit-learn keeps it
    assert len(scores) == clf.n_iter_ and clf.best_validation_score_ == scores[best]
    assert clf.n_iter_ == sklearn_stop(scores, 0.0, 5, higher_is_better=True)
    assert clf.n_iter_ > best + 1 and clf.result_.converged
    assert clf.best_loss_ is None
    # The same fit stopped right after the best iteration ends on the kept parameters.
    with pytest.warns(ConvergenceWarning):
        upto = NGDMLPClassifier(max_iter=best + 1, **kw).fit(X, y)
    assert upto.validation_scores_ == scores[:best + 1]
    for W, W_upto in zip(clf.coefs_, upto.coefs_):
        assert_array_equal(W, W_upto)


def test_early_stopping_regressor_scores_r2(capsys):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(150, 2))
    y = np.sin(2 * X[:, 0]) + 0.1 * rng.normal(size=150)
    reg = NGDMLPRegressor((8,), activation="tanh", early_stopping=True, tol=1e-3,
                          n_iter_no_change=3, max_iter=200, random_state=0, verbose=True)
    reg.fit(X, y)
    assert reg.best_validation_score_ == max(reg.validation_scores_) > 0.9
    assert reg.n_iter_ == sklearn_stop(reg.validation_scores_, 1e-3, 3, higher_is_better=True)
    printed = re.findall(r"^Validation score: (\S+)$", capsys.readouterr().out, flags=re.M)
    assert_allclose([float(v) for v in printed], reg.validation_scores_, atol=1e-6)


# ---------------------------------------------------------------------- targets
def test_string_labels_give_the_same_fit_as_integer_codes():
    X, y = iris()
    species = np.array(["setosa", "versicolor", "virginica"])
    names = species[y]
    kw = dict(hidden_layer_sizes=(4,), tol=1e-3, random_state=0)
    by_name = NGDMLPClassifier(**kw).fit(X, names)
    by_code = NGDMLPClassifier(**kw).fit(X, y)
    assert_array_equal(by_name.classes_, species)
    assert_array_equal(by_name.predict(X), species[by_code.predict(X)])
    assert_array_equal(by_name.predict_proba(X), by_code.predict_proba(X))
    assert by_name.score(X, names) > 0.95


def test_binary_probabilities_are_accurate_where_one_is_tiny():
    X, y = iris()
    keep = y < 2  # setosa against versicolor
    clf = NGDMLPClassifier((3,), activation="identity", tol=1e-3,
                           random_state=0).fit(X[keep], y[keep])
    far = X[keep] * 1000  # eta is linear in X: far from the boundary
    eta = mlp_forward(far, clf.coefs_, clf.intercepts_, "identity")[:, 0]
    log_p = clf.predict_log_proba(far)
    assert log_p.min() < -745  # exp() of it underflows: 1 - p would give log(0)
    assert_allclose(log_p, np.column_stack([-np.logaddexp(0, eta), -np.logaddexp(0, -eta)]),
                    rtol=1e-12)
    p = clf.predict_proba(X[keep])
    assert p.shape == (100, 2)
    assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    assert_array_equal(clf.predict(X[keep]), p.argmax(axis=1))


def test_multilabel_without_hidden_layer_is_one_logistic_regression_per_label():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(150, 3))
    Y = (X @ rng.normal(size=(3, 3)) + rng.normal(size=(150, 3)) > 0).astype(int)
    alpha = 1.5
    clf = NGDMLPClassifier((), alpha=alpha, tol=1e-13, n_iter_no_change=3, max_iter=300,
                           random_state=0).fit(X, Y)
    assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 3
    for k in range(3):
        ref = ngdx.fit(X, Y[:, k], "logistic", l2=alpha / len(X), tol=1e-12)
        assert_allclose(clf.coefs_[0][:, k], ref.coef, atol=1e-6)
        assert_allclose(clf.intercepts_[0][k], ref.intercept, atol=1e-6)
    P = clf.predict_proba(X)
    assert P.shape == (150, 3) and ((P > 0) & (P < 1)).all()
    assert_array_equal(clf.predict(X), (P > 0.5).astype(int))
    assert clf.score(X, Y) == np.mean((clf.predict(X) == Y).all(axis=1))  # subset accuracy


def test_regressor_output_shapes():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(60, 2))
    y = X[:, 0] - X[:, 1]
    kw = dict(hidden_layer_sizes=(3,), tol=1e-3, random_state=0)
    reg = NGDMLPRegressor(**kw).fit(X, y)
    assert reg.predict(X).shape == (60,) and reg.n_outputs_ == 1 and reg.n_layers_ == 3
    with pytest.warns(DataConversionWarning):
        column = NGDMLPRegressor(**kw).fit(X, y[:, None])  # as scikit-learn: raveled
    assert_array_equal(column.predict(X), reg.predict(X))
    two = NGDMLPRegressor(**kw).fit(X, np.column_stack([y, -y]))
    assert two.predict(X).shape == (60, 2) and two.n_outputs_ == 2


# ---------------------------------------------------------------------- composition
def test_pipeline_and_grid_search():
    X, y = iris(scaled=False)
    pipe = make_pipeline(StandardScaler(),
                         NGDMLPClassifier((4,), tol=1e-3, random_state=0))
    search = GridSearchCV(pipe, {"ngdmlpclassifier__alpha": [1e-4, 30.0]}, cv=3)
    search.fit(X, y)
    assert search.best_params_ == {"ngdmlpclassifier__alpha": 1e-4}
    assert search.score(X, y) > 0.95


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize("params,error,match", [
    (dict(hidden_layer_sizes=(4, 0)), ValueError, "hidden_layer_sizes must be"),
    (dict(hidden_layer_sizes="4"), ValueError, "hidden_layer_sizes must be"),
    (dict(alpha=-1.0), ValueError, "alpha must be >= 0"),
    (dict(tol=float("nan")), ValueError, "tol must be a finite number"),
    (dict(max_iter=0), ValueError, "max_iter must be an integer >= 1"),
    (dict(n_iter_no_change=0), ValueError, "n_iter_no_change must be an integer >= 1"),
    (dict(early_stopping="yes"), ValueError, "early_stopping must be True or False"),
    (dict(early_stopping=True, validation_fraction=1.0), ValueError,
     "validation_fraction must be a number in"),
    (dict(activation="softplus"), ValueError, "unknown activation 'softplus'"),
    (dict(method="lbfgs"), ValueError, "unknown method 'lbfgs'"),
    (dict(fisher="exact"), ValueError, "unknown fisher 'exact'"),
    (dict(n_threads=0), ValueError, "n_threads must be"),
    (dict(batch_size=0), ValueError, "batch_size"),
])
def test_bad_parameters_name_the_argument(params, error, match):
    X, y = iris()
    with pytest.raises(error, match=match):
        NGDMLPClassifier(**{"hidden_layer_sizes": (2,), **params}).fit(X, y)


def test_bad_targets_name_the_argument():
    X, y = iris()
    with pytest.raises(ValueError, match="y: NGDMLPClassifier takes 1-D class labels"):
        NGDMLPClassifier((2,)).fit(X, np.column_stack([y, y]))  # multiclass-multioutput
    with pytest.raises(ValueError, match="sample_weight is zero for every row"):
        NGDMLPClassifier((2,)).fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="validation set has fewer than 2 rows"):
        NGDMLPRegressor((2,), early_stopping=True).fit(X[:10], y[:10])


def test_literal_aliases_match_ngdx_nn():
    from ngdx.nn._fit import METHODS
    from ngdx.nn._reference import ACTIVATIONS

    assert set(typing.get_args(_nn_estimator_base.NetworkMethod)) == set(METHODS)
    assert set(typing.get_args(_nn_estimator_base.Activation)) == set(ACTIVATIONS)


def test_docstrings_document_every_parameter_alike():
    # Each docstring is a literal (griffe reads the source): their shared entries must not
    # drift apart; alpha and early_stopping differ on purpose (outputs, R² or accuracy).
    entries = []
    for cls in (NGDMLPClassifier, NGDMLPRegressor):
        section = inspect.cleandoc(cls.__doc__).split("Parameters\n----------\n")[1]
        section = section.split("\n\nAttributes")[0]
        found = {e.split(" :")[0]: e for e in re.split(r"\n(?=\S)", section)}
        assert list(found) == list(inspect.signature(cls).parameters), cls.__name__
        entries.append({k: v for k, v in found.items()
                        if k not in ("alpha", "early_stopping")})
    assert entries[0] == entries[1]


# ---------------------------------------------------------------------- digits
def test_digits_accuracy_at_least_mlpclassifiers():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25,
                                                        stratify=y, random_state=0)
    clf = NGDMLPClassifier((64,), activation="tanh", alpha=1e-4, random_state=0)
    clf.fit(X_train, y_train)
    sk = MLPClassifier((64,), activation="tanh", alpha=1e-4, max_iter=2000,
                       random_state=0).fit(X_train, y_train)
    assert sk.n_iter_ < 2000  # converged by its own rule
    assert clf.result_.converged
    assert clf.score(X_test, y_test) >= sk.score(X_test, y_test)


@pytest.mark.parametrize("method", ["kfac", "adam"])
def test_mini_batches_train_and_count_epochs(method):
    X, y = iris()
    clf = NGDMLPClassifier((5,), method=method, batch_size=30, max_iter=15, n_iter_no_change=99,
                           random_state=0, lr=1e-2 if method == "adam" else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.n_iter_ == 15 and len(clf.loss_curve_) == 15
    assert clf.loss_curve_[-1] < 0.8 * clf.loss_curve_[0]

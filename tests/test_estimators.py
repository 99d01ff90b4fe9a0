"""The scikit-learn estimators: sklearn's own estimator checks, agreement with sklearn's
models and with ngdx.fit, labels, weights, pipelines, pickling."""

from __future__ import annotations

import contextlib
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, log_expit, log_ndtr, ndtr

sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import (LinearRegression, LogisticRegression,  # noqa: E402
                                  PoissonRegressor, Ridge)
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import ngdx  # noqa: E402
from ngdx import ConvergenceWarning  # noqa: E402
from ngdx._estimators import NGDClassifier, NGDRegressor  # noqa: E402


def binary_data(n=300, d=3, seed=0, link=expit):
    """Non-separable two-class data drawn from the model (so l2=0 has an optimum)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[:, 1] += 0.5 * X[:, 0]
    eta = X @ np.linspace(1.0, -0.5, d) + 0.3
    return X, (rng.random(n) < link(eta)).astype(int)


def regression_data(model, n=300, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    eta = X @ np.linspace(0.5, -0.3, d) + 0.4
    if model == "poisson":
        return X, rng.poisson(np.exp(eta)).astype(float)
    return X, eta + rng.normal(size=n)


# ---------------------------------------------------------------------- scikit-learn's checks
# Several checks fit separable toy data (blobs) with l2=0, where ngdx.fit stops with a
# ConvergenceWarning by design (no finite optimum exists); sklearn expects such warnings
# to be filtered by the caller. check_f_contiguous_array_estimator passes a Fortran-ordered
# X on purpose: it is copied to C order with a PerformanceWarning (tests/test_float32.py).
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::ngdx.PerformanceWarning")
@parametrize_with_checks([
    NGDClassifier(),
    NGDClassifier(model="probit"),
    NGDClassifier(l2=1e-2),
    NGDClassifier(method="newton", step="armijo"),
    NGDClassifier(fisher="empirical", step="kl"),
    NGDRegressor(),
    NGDRegressor(model="poisson"),
    NGDRegressor(model="poisson", method="newton", step="armijo"),
    NGDRegressor(l2=1e-2, fit_intercept=False),
])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ---------------------------------------------------------------------- agreement with sklearn
def test_multinomial_agrees_with_logistic_regression_on_iris():
    X, y = load_iris(return_X_y=True)
    l2 = 1e-2
    clf = NGDClassifier(l2=l2, tol=1e-10).fit(X, y)
    ref = LogisticRegression(C=1 / (len(y) * l2), solver="newton-cholesky", tol=1e-12,
                             max_iter=1000).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-14)
    assert_allclose(proba, ref.predict_proba(X), rtol=0, atol=1e-6)
    assert_allclose(clf.coef_, ref.coef_, rtol=0, atol=1e-6)
    # The softmax is invariant to a common shift of the intercepts: compare them centred.
    assert_allclose(clf.intercept_, ref.intercept_ - ref.intercept_.mean(), rtol=0, atol=1e-5)
    assert_allclose(clf.predict_log_proba(X), np.log(ref.predict_proba(X)), atol=1e-5)
    assert_array_equal(clf.predict(X), ref.predict(X))


def test_binary_logistic_agrees_with_logistic_regression_with_weights():
    X, y = binary_data()
    sw = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y))
    l2 = 1e-3
    clf = NGDClassifier(l2=l2, tol=1e-10).fit(X, y, sample_weight=sw)
    ref = LogisticRegression(C=1 / (sw.sum() * l2), solver="newton-cholesky", tol=1e-12,
                             max_iter=1000).fit(X, y, sample_weight=sw)
    assert clf.coef_.shape == (1, 3) and clf.intercept_.shape == (1,)
    assert_allclose(clf.coef_, ref.coef_, rtol=1e-7)
    assert_allclose(clf.intercept_, ref.intercept_, rtol=1e-7)
    assert_allclose(clf.decision_function(X), ref.decision_function(X), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("l2", [0.0, 1e-2])
def test_gaussian_agrees_with_linear_regression_and_ridge(l2):
    X, y = regression_data("gaussian")
    sw = np.random.default_rng(2).uniform(0.5, 2.0, size=len(y))
    reg = NGDRegressor(l2=l2).fit(X, y, sample_weight=sw)
    ref = (LinearRegression() if l2 == 0 else Ridge(alpha=l2 * sw.sum())).fit(X, y, sw)
    assert reg.coef_.shape == (3,) and isinstance(reg.intercept_, float)
    assert_allclose(reg.coef_, ref.coef_, rtol=1e-9)
    assert_allclose(reg.intercept_, ref.intercept_, rtol=1e-9)
    assert_allclose(reg.predict(X), ref.predict(X), rtol=1e-9, atol=1e-11)
    assert reg.score(X, y, sw) == pytest.approx(ref.score(X, y, sw), rel=1e-12)


def test_poisson_agrees_with_poisson_regressor():
    X, y = regression_data("poisson")
    l2 = 1e-2
    reg = NGDRegressor(model="poisson", l2=l2, tol=1e-10).fit(X, y)
    ref = PoissonRegressor(alpha=l2, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    ref.fit(X, y)
    assert_allclose(reg.coef_, ref.coef_, rtol=1e-7)
    assert_allclose(reg.intercept_, ref.intercept_, rtol=1e-7)
    assert_allclose(reg.predict(X), np.exp(X @ reg.coef_ + reg.intercept_), rtol=1e-12)
    assert_allclose(reg.predict(X), ref.predict(X), rtol=1e-7)


# ---------------------------------------------------------------------- agreement with ngdx.fit
CLASSIFIER_CASES = [
    ("logistic", dict()),
    ("probit", dict(method="newton", step="armijo", l2=1e-3)),
    ("logistic", dict(fisher="empirical", step="kl", max_kl=0.05)),
    ("logistic", dict(method="gd", lr=0.5, max_iter=7, tol=0.0)),
    ("probit", dict(damping=1e-2, fit_intercept=False, max_iter=5, tol=0.0)),
    ("logistic", dict(method="diag", max_iter=3, tol=0.0, n_threads=1)),
]


@pytest.mark.parametrize("model, params", CLASSIFIER_CASES)
def test_classifier_is_ngdx_fit_on_encoded_labels(model, params):
    X, y01 = binary_data()
    labels = np.array(["spam", "ham"])[1 - y01]  # sorted: "ham" (y01 = 0) < "spam"
    clf = NGDClassifier(model, **params).fit(X, labels)
    res = ngdx.fit(X, y01, model, **params)
    assert_array_equal(clf.classes_, ["ham", "spam"])
    assert clf.n_iter_ == res.n_iter and clf.result_.model == model
    assert_array_equal(clf.coef_[0], res.coef)
    assert_array_equal(clf.intercept_, [res.intercept])
    assert_array_equal(clf.predict_proba(X)[:, 1], res.predict(X))
    assert_array_equal(clf.decision_function(X), res.decision_function(X))
    assert_array_equal(clf.predict(X), np.where(res.decision_function(X) > 0, "spam", "ham"))


@pytest.mark.parametrize("params", [dict(), dict(method="kfac", max_iter=7, tol=0.0)])
def test_multiclass_is_ngdx_fit_multinomial_whatever_the_model(params):
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    params = {"l2": 1e-3, **params}
    clf = NGDClassifier("probit", **params).fit(X, labels)
    res = ngdx.fit(X, y, "multinomial", **params)
    assert clf.result_.model == "multinomial"
    assert clf.coef_.shape == (3, 4) and clf.intercept_.shape == (3,)
    assert_array_equal(clf.coef_, res.coef.T)
    assert_array_equal(clf.predict_proba(X), res.predict(X))
    assert_allclose(clf.decision_function(X), X @ clf.coef_.T + clf.intercept_, rtol=1e-12)
    assert_array_equal(clf.predict(X), clf.classes_[res.predict(X).argmax(axis=1)])


@pytest.mark.parametrize("model", ["gaussian", "poisson"])
def test_regressor_is_ngdx_fit(model):
    X, y = regression_data(model)
    reg = NGDRegressor(model, l2=1e-3).fit(X, y)
    res = ngdx.fit(X, y, model, l2=1e-3)
    assert_array_equal(reg.coef_, res.coef)
    assert reg.intercept_ == res.intercept and reg.n_iter_ == res.n_iter
    assert_array_equal(reg.predict(X), res.predict(X))


# ---------------------------------------------------------------------- labels
@pytest.mark.parametrize("labels", [
    np.array([False, True]), np.array([-1, 1]), np.array([-1.0, 2.0]),
    np.array(["no", "yes"], dtype=object),
])
def test_binary_labels_of_any_type(labels):
    X, y01 = binary_data()
    clf = NGDClassifier().fit(X, labels[y01])
    base = NGDClassifier().fit(X, y01)
    assert_array_equal(clf.classes_, labels)
    assert_array_equal(clf.predict(X), labels[base.predict(X)])
    assert_array_equal(clf.predict_proba(X), base.predict_proba(X))


def test_positive_class_is_the_larger_label():
    X, y01 = binary_data()
    clf = NGDClassifier().fit(X, np.where(y01 == 1, "b", "a"))
    flipped = NGDClassifier().fit(X, np.where(y01 == 1, "a", "b"))
    assert_allclose(clf.coef_, -flipped.coef_, rtol=1e-10)
    assert_allclose(clf.predict_proba(X), flipped.predict_proba(X)[:, ::-1], rtol=1e-10)
    assert (clf.predict(X)[clf.decision_function(X) > 0] == "b").all()
    # eta = 0 exactly goes to classes_[0], as in scikit-learn's linear classifiers.
    clf = NGDClassifier(fit_intercept=False).fit(X, np.where(y01 == 1, "b", "a"))
    assert clf.decision_function(np.zeros((1, 3)))[0] == 0.0
    assert clf.predict(np.zeros((1, 3)))[0] == "a"
    assert_array_equal(clf.predict_proba(np.zeros((1, 3))), [[0.5, 0.5]])


@pytest.mark.parametrize("model, cdf, log_cdf", [("logistic", expit, log_expit),
                                                 ("probit", ndtr, log_ndtr)])
def test_binary_probabilities_keep_relative_accuracy_in_the_tails(model, cdf, log_cdf):
    X, y = binary_data(link=cdf)
    clf = NGDClassifier(model).fit(X, y)
    X_far = X[:20] * (30 / np.abs(clf.decision_function(X[:20])).max())
    eta = clf.decision_function(X_far)
    assert np.abs(eta).max() > 25  # where 1 - p has no correct digits left
    proba = clf.predict_proba(X_far)
    assert_allclose(proba, np.column_stack([cdf(-eta), cdf(eta)]), rtol=1e-10, atol=0)
    assert_allclose(clf.predict_log_proba(X_far),
                    np.column_stack([log_cdf(-eta), log_cdf(eta)]), rtol=1e-10)


def test_multinomial_log_probabilities_are_accurate_near_one():
    mpmath = pytest.importorskip("mpmath")
    X, y = load_iris(return_X_y=True)
    clf = NGDClassifier(l2=1e-3).fit(X, y)
    X_far = X[::15] * 3.0
    eta = clf.decision_function(X_far)
    with mpmath.workdps(50):
        want = [[float(e - mpmath.log(sum(mpmath.exp(mpmath.mpf(v)) for v in row)))
                 for e in row] for row in eta.tolist()]
    got = clf.predict_log_proba(X_far)
    assert np.abs(got).min() < 1e-6  # a class with probability within 1e-6 of one
    assert_allclose(got, want, rtol=1e-12)
    assert_allclose(np.exp(got), clf.predict_proba(X_far), rtol=1e-12, atol=1e-300)


def test_one_class_is_an_error():
    X, _ = binary_data(n=20)
    with pytest.raises(ValueError, match="only one class: cat"):
        NGDClassifier().fit(X, ["cat"] * 20)


def test_continuous_target_is_rejected_by_the_classifier():
    X, y = regression_data("gaussian", n=20)
    with pytest.raises(ValueError, match="Unknown label type"):
        NGDClassifier().fit(X, y)


# ---------------------------------------------------------------------- parameters and warnings
@pytest.mark.parametrize("estimator, message", [
    (NGDClassifier(model="poisson"), "unknown model 'poisson'; valid: logistic, probit"),
    (NGDClassifier(model="multinomial"), "unknown model 'multinomial'"),
    (NGDRegressor(model="logistic"), "unknown model 'logistic'; valid: gaussian, poisson"),
    (NGDClassifier(method="sgd"), "unknown method 'sgd'"),
    (NGDRegressor(n_threads=0), "n_threads"),
])
def test_invalid_parameters_raise_at_fit(estimator, message):
    X, y = binary_data(n=30)
    with pytest.raises(ValueError, match=message):
        estimator.fit(X, y)


def test_poisson_rejects_negative_targets():
    X, y = regression_data("gaussian", n=30)
    with pytest.raises(ValueError, match="non-negative"):
        NGDRegressor(model="poisson").fit(X, y)


def test_all_zero_sample_weight_is_an_error():
    X, y = binary_data(n=30)
    with pytest.raises(ValueError, match="zero for every row"):
        NGDClassifier().fit(X, y, sample_weight=np.zeros(30))


def test_separable_data_warns_and_l2_fixes_it():
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array(["a", "a", "b", "b"])
    with pytest.warns(ConvergenceWarning, match="separable"):
        clf = NGDClassifier().fit(X, y)
    assert not clf.result_.converged
    assert_array_equal(clf.predict(X), y)  # stopped where every row is classified right
    clf = NGDClassifier(l2=1e-2).fit(X, y)  # no warning: pytest turns warnings into errors
    assert clf.result_.converged


def test_random_state_seeds_the_monte_carlo_fisher():
    X, y = binary_data()
    params = dict(fisher="mc", max_iter=3, tol=0.0)
    a = NGDClassifier(random_state=0, **params).fit(X, y).coef_
    b = NGDClassifier(random_state=0, **params).fit(X, y).coef_
    c = NGDClassifier(random_state=1, **params).fit(X, y).coef_
    assert_array_equal(a, b)
    assert not np.allclose(a, c, rtol=1e-6, atol=0)


@pytest.mark.parametrize("verbose", [True, 2])
def test_verbose_prints_the_iterations(verbose, capsys):
    X, y = binary_data()
    clf = NGDClassifier(verbose=verbose).fit(X, y)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ngdx.fit: model=logistic, method=ngd")
    # header, column titles, the start and one row per iteration, the stopping message
    assert len(out) == clf.n_iter_ + 4 and out[-1].startswith("converged")
    NGDClassifier().fit(X, y)
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------------- weights
@pytest.mark.parametrize("estimator, data", [
    (NGDClassifier("probit"), lambda: binary_data(n=60, link=ndtr)),
    (NGDClassifier(l2=1e-2), lambda: load_iris(return_X_y=True)),
    (NGDRegressor("poisson"), lambda: regression_data("poisson", n=60)),
    (NGDRegressor(), lambda: regression_data("gaussian", n=60)),
])
def test_integer_weights_equal_repeated_rows_and_scale_does_not_matter(estimator, data):
    X, y = data()
    sw = np.random.default_rng(3).integers(0, 4, size=len(y))
    sw[:3] = [0, 1, 3]
    weighted = clone_fit(estimator, X, y, sample_weight=sw)
    repeated = clone_fit(estimator, np.repeat(X, sw, axis=0), np.repeat(y, sw))
    scaled = clone_fit(estimator, X, y, sample_weight=2.5 * sw)
    assert weighted.result_.converged and repeated.result_.converged
    assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-7, atol=1e-9)
    assert_allclose(weighted.intercept_, repeated.intercept_, rtol=1e-7, atol=1e-9)
    assert_allclose(scaled.coef_, weighted.coef_, rtol=1e-7, atol=1e-9)
    # A weight-0 row changes nothing, unlike a weight-1 row.
    unit = clone_fit(estimator, X, y, sample_weight=np.maximum(sw, 1))
    assert not np.allclose(unit.coef_, weighted.coef_, rtol=1e-4, atol=0)


def clone_fit(estimator, X, y, **kwargs):
    return sklearn.base.clone(estimator).fit(X, y, **kwargs)


# ---------------------------------------------------------------------- sklearn machinery
def test_pipeline_is_scaling_then_fitting():
    X, y = binary_data()
    X = X * [1.0, 100.0, 0.01] + 5.0
    pipe = Pipeline([("scale", StandardScaler()), ("clf", NGDClassifier())]).fit(X, y)
    Z = StandardScaler().fit_transform(X)
    clf = NGDClassifier().fit(Z, y)
    assert_allclose(pipe.predict_proba(X), clf.predict_proba(Z), rtol=1e-12)
    assert_allclose(pipe["clf"].coef_, clf.coef_, rtol=1e-12)


def test_grid_search_over_l2():
    X, y = load_iris(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", NGDClassifier())])
    grid = [1e-4, 1e-2, 1.0]
    search = GridSearchCV(pipe, {"clf__l2": grid}, cv=3).fit(X, y)
    assert search.cv_results_["mean_test_score"].shape == (3,)
    assert search.best_score_ > 0.9
    best = search.best_params_["clf__l2"]
    assert best in grid and search.best_estimator_["clf"].l2 == best
    refit = NGDClassifier(l2=best).fit(StandardScaler().fit_transform(X), y)
    assert_allclose(search.best_estimator_["clf"].coef_, refit.coef_, rtol=1e-12)
    # The penalty shrinks the coefficients.
    norms = [np.linalg.norm(search.best_estimator_["clf"].set_params(l2=l2)
                            .fit(StandardScaler().fit_transform(X), y).coef_) for l2 in grid]
    assert norms[0] > norms[1] > norms[2]


@pytest.mark.parametrize("estimator, data", [
    (NGDClassifier("probit"), lambda: binary_data()),
    (NGDClassifier(), lambda: load_iris(return_X_y=True)),
    (NGDRegressor("poisson"), lambda: regression_data("poisson")),
])
def test_pickle_round_trip_predicts_identically(estimator, data):
    X, y = data()
    est = clone_fit(estimator, X, y)
    back = pickle.loads(pickle.dumps(est))
    assert back.get_params() == est.get_params()
    assert_array_equal(back.coef_, est.coef_)
    assert_array_equal(back.predict(X), est.predict(X))
    if hasattr(est, "predict_proba"):
        assert_array_equal(back.predict_proba(X), est.predict_proba(X))


def test_dataframe_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = binary_data()
    df = pd.DataFrame(X, columns=["age", "dose", "weight"])
    labels = np.where(y == 1, "sick", "well")
    # A frame of one dtype is one (d, n) block: its values are Fortran-ordered, copied to
    # C order with a PerformanceWarning (the copy sklearn's validate_data would make).
    def relaid():
        return (pytest.warns(ngdx.PerformanceWarning) if np.asarray(df).flags.f_contiguous
                else contextlib.nullcontext())

    with relaid():
        clf = NGDClassifier().fit(df, pd.Series(labels))
    assert_array_equal(clf.feature_names_in_, ["age", "dose", "weight"])
    assert clf.n_features_in_ == 3
    with relaid():
        proba = clf.predict_proba(df)
    assert_array_equal(proba, NGDClassifier().fit(X, labels).predict_proba(X))
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(df[["dose", "age", "weight"]])
    assert not hasattr(NGDClassifier().fit(X, y), "feature_names_in_")

"""The standard errors' API: errors, the data reference (kept, not compared, not pickled),
the summary table and its DataFrame, and the estimators' ``covariance_``, ``std_errors_``
and ``summary()``."""

from __future__ import annotations

import copy
import math
import pickle
import sys
import warnings

import numpy as np
import pytest

import ngdx
from ngdx._stderr import COVARIANCE_KINDS

from conftest import make_problem


@pytest.fixture(scope="module")
def res():
    X, y, _ = make_problem("logistic", n=80, d=2, seed=4)
    return ngdx.fit(X, y, "logistic", tol=1e-10)


def test_std_errors_are_the_root_diagonal_in_theta_layout():
    X, y, _ = make_problem("multinomial", n=90, d=2, K=3, seed=1)
    r = ngdx.fit(X, y, "multinomial", l2=0.01, tol=1e-10)
    se = r.std_errors()
    assert se.shape == (3, 3)  # (d + 1, K): coef rows, then the intercept's
    np.testing.assert_array_equal(se.ravel(), np.sqrt(np.diag(r.covariance())))
    r1 = ngdx.fit(X, (y > 0).astype(float), "logistic", fit_intercept=False)
    assert r1.std_errors().shape == (2,) and r1.covariance().shape == (2, 2)


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize("kind", ["Expected", "hc0", "", None, 1])
def test_unknown_kind_lists_the_valid_ones(res, kind):
    with pytest.raises(ValueError, match="kind .*valid: expected, observed, robust, HC1, "
                                         "cluster"):
        res.covariance(kind)


def test_groups_errors(res):
    n = len(res._objective.rows.y)
    with pytest.raises(ValueError, match="kind 'cluster' needs groups="):
        res.covariance("cluster")
    with pytest.raises(ValueError, match=r"groups must have one label per row of X: shape "
                                         rf"\({n},\), got shape \(3,\)"):
        res.covariance("cluster", groups=[0, 1, 0])
    with pytest.raises(ValueError, match="at least 2 distinct groups.*got 1"):
        res.covariance("cluster", groups=np.zeros(n))
    for kind in ("expected", "robust"):
        with pytest.raises(ValueError, match=f"groups is for kind 'cluster' only, got kind "
                                             f"'{kind}'"):
            res.std_errors(kind, groups=np.arange(n) % 2)


@pytest.mark.parametrize("alpha", [0, 1, 1.5, -0.1, float("nan"), "0.05", True, None])
def test_alpha_outside_the_unit_interval(res, alpha):
    with pytest.raises(ValueError, match=r"alpha must be a number in \(0, 1\)"):
        res.summary(alpha=alpha)


def test_names_of_the_wrong_length(res):
    with pytest.raises(ValueError, match=r"feature_names must have one name per column of X "
                                         r"\(2\), got 3"):
        res.summary(feature_names=["a", "b", "c"])


def test_too_many_parameters_for_a_dense_covariance(res, monkeypatch):
    from ngdx import _stderr
    monkeypatch.setattr(_stderr, "memory_budget", lambda: 100)
    with pytest.raises(ValueError, match="p = 3 parameters is too large for a dense "
                                         "covariance"):
        res.covariance()


def test_more_parameters_than_rows_for_the_small_sample_factors():
    X, y, _ = make_problem("gaussian", n=3, d=3, seed=0)
    r = ngdx.fit(X, y, "gaussian", l2=0.1)
    for kind, g in (("expected", {}), ("HC1", {}), ("cluster", {"groups": [0, 1, 1]})):
        with pytest.raises(ValueError, match="than parameters"):
            r.covariance(kind, **g)
    assert np.isfinite(r.covariance("robust")).all()


# ---------------------------------------------------------------------- the data reference
def test_a_hand_built_result_has_no_data():
    r = ngdx.FitResult(coef=np.zeros(2), intercept=0.0, n_iter=0, converged=True,
                       message="", history={})
    with pytest.raises(ValueError, match="no reference to the data it was fitted on"):
        r.covariance()
    with pytest.raises(ValueError, match="no reference to the data"):
        r.summary()


def test_pickling_drops_the_data(res):
    cov = res.covariance()
    back = pickle.loads(pickle.dumps(res))
    np.testing.assert_array_equal(back.coef, res.coef)
    assert back.message == res.message and back.model == res.model
    assert back._objective is None and back._kept is None
    with pytest.raises(ValueError, match="unpickled"):
        back.covariance()
    assert res.covariance() is not cov and np.array_equal(res.covariance(), cov)  # unchanged
    assert copy.deepcopy(res)._objective is None


def test_the_reference_is_not_a_copy_and_not_in_repr_or_equality(res):
    X, y, _ = make_problem("poisson", n=40, d=2, seed=2)
    r = ngdx.fit(X, y, "poisson")
    assert r._objective.rows.X is X  # the caller's array
    assert "_objective" not in repr(r) and "_kept" not in repr(r)
    from dataclasses import fields
    assert {f.name for f in fields(r)}.isdisjoint({"_objective", "_kept"})


# ---------------------------------------------------------------------- the table
def test_summary_prints_the_names_and_numbers(res):
    s = res.summary(alpha=0.1, feature_names=["age", "dose"])
    text = str(s)
    assert repr(s) == text
    for word in ("age", "dose", "intercept", "coef", "std err", "P>|z|", "[0.05", "0.95]"):
        assert word in text
    se = res.std_errors()
    coef = np.r_[res.coef, res.intercept]
    for value in np.r_[coef, se, coef / se]:
        assert f"{value:.4f}" in text
    q = 1.6448536269514722  # the standard normal's 0.95 quantile
    np.testing.assert_allclose(s.ci_upper, coef + q * se, rtol=1e-12)
    z = coef / se
    np.testing.assert_allclose(s.z, z)
    np.testing.assert_allclose(s.p_value, [math.erfc(abs(v) / math.sqrt(2)) for v in z])
    assert s.names == ["age", "dose", "intercept"]


def test_summary_p_values_against_scipy(res):
    stats = pytest.importorskip("scipy.stats")
    s = res.summary()
    np.testing.assert_allclose(s.p_value, 2 * stats.norm.sf(np.abs(s.z)), rtol=1e-12)
    np.testing.assert_allclose(s.ci_lower, s.coef + stats.norm.ppf(0.025) * s.std_err,
                               rtol=1e-12)


def test_to_frame_columns(res):
    pytest.importorskip("pandas")
    frame = res.summary(kind="HC1").to_frame()
    assert list(frame.columns) == ["coef", "std err", "z", "P>|z|", "[0.025", "0.975]"]
    assert list(frame.index) == ["x0", "x1", "intercept"]
    np.testing.assert_array_equal(frame["std err"], res.std_errors("HC1"))


def test_to_frame_without_pandas(res, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="needs pandas"):
        res.summary().to_frame()


def test_multinomial_rows_name_the_classes():
    X, y, _ = make_problem("multinomial", n=90, d=2, K=3, seed=1)
    s = ngdx.fit(X, y, "multinomial", l2=0.01).summary(class_names=["a", "b", "c"])
    assert s.names[:3] == ["x0[a]", "x0[b]", "x0[c]"] and s.names[-1] == "intercept[c]"


# ---------------------------------------------------------------------- estimators
def test_regressor_reads_result_and_feature_names():
    pytest.importorskip("sklearn")
    pd = pytest.importorskip("pandas")
    X, y, _ = make_problem("gaussian", n=60, d=2, seed=3)
    frame = pd.DataFrame({"u": X[:, 0], "v": X[:, 1]})
    with warnings.catch_warnings():  # a frame's values may be Fortran-ordered: copied
        warnings.simplefilter("ignore", ngdx.PerformanceWarning)
        est = ngdx.NGDRegressor().fit(frame, y)
    np.testing.assert_array_equal(est.covariance_, est.result_.covariance())
    np.testing.assert_array_equal(est.std_errors_, est.result_.std_errors())
    assert est.summary(kind="robust").names == ["u", "v", "intercept"]
    assert est.summary(kind="robust").kind == "robust"


def test_classifier_with_string_labels():
    pytest.importorskip("sklearn")
    X, y, _ = make_problem("multinomial", n=90, d=2, K=3, seed=1)
    labels = np.array(["no", "yes"])[(y > 0).astype(int)]
    binary = ngdx.NGDClassifier().fit(X, labels)
    assert binary.std_errors_.shape == (3,)  # one output: classes_[1] against classes_[0]
    assert binary.summary().names == ["x0", "x1", "intercept"]
    multi = ngdx.NGDClassifier(l2=0.01).fit(X, np.array(["r", "g", "b"])[y.astype(int)])
    assert multi.std_errors_.shape == (3, 3)
    assert multi.summary().names[:3] == ["x0[b]", "x0[g]", "x0[r]"]  # classes_ order
    groups = np.arange(90) % 3
    np.testing.assert_array_equal(multi.summary("cluster", groups=groups).std_err,
                                  multi.result_.std_errors("cluster", groups=groups).ravel())


def test_estimator_errors_unfitted_and_unpickled():
    NotFittedError = pytest.importorskip("sklearn.exceptions").NotFittedError
    est = ngdx.NGDRegressor()
    with pytest.raises(NotFittedError):
        est.std_errors_
    with pytest.raises(NotFittedError):
        est.summary()
    X, y, _ = make_problem("poisson", n=40, d=2, seed=2)
    back = pickle.loads(pickle.dumps(ngdx.NGDRegressor("poisson").fit(X, y)))
    with pytest.raises(ValueError, match="no reference to the data"):
        back.covariance_


def test_every_kind_is_listed():
    assert COVARIANCE_KINDS == ("expected", "observed", "robust", "HC1", "cluster")


def test_a_singular_curvature_says_so():
    X, y, _ = make_problem("gaussian", n=40, d=2, seed=0)
    X = np.ascontiguousarray(np.hstack([X, X[:, :1]]))  # a repeated column
    unpenalized = ngdx.fit(X, y, "gaussian", linear_solver="cg", max_iter=5, tol=0.0)
    with pytest.raises(ValueError, match="curvature at the fitted theta is singular"):
        unpenalized.covariance()
    penalized = ngdx.fit(X, y, "gaussian", l2=1e-3)
    assert np.isfinite(penalized.covariance()).all()  # the penalty identifies it

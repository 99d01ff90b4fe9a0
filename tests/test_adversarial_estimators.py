"""The adversarial inputs of issue 10 at the scikit-learn estimators' door (the rest is in
test_adversarial.py): scikit-learn's messages name the argument, and X of dates or
durations is rejected as ngdx.fit rejects it."""

from __future__ import annotations

import numpy as np
import pytest

import ngdx

pytest.importorskip("sklearn")


# ------------------------------------------------------------------ the estimators' messages
def _estimator_cases():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 3))
    return X, {
        "scalar": (X[0, 0], r"X: Expected 2D array, got scalar array"),
        "1-D": (X.ravel(), r"(?s)X: Expected 2D array, got 1D array.*Reshape your data"),
        "3-D": (X[None], r"X: Found array with dim 3"),
        "length": (X[:-1], r"X and y: Found input variables with inconsistent numbers of "
                           r"samples: \[9, 10\]"),
        "complex": (X.astype(complex), r"X: Complex data not supported"),
        "datetime": (X.astype(np.int64).astype("datetime64[s]"),
                     r"X must hold real numbers .*got dtype datetime64\[s\]"),
        "timedelta": (X.astype(np.int64).astype("timedelta64[ms]"),
                      r"X must hold real numbers .*got dtype timedelta64\[ms\]"),
    }


@pytest.mark.parametrize("case", ["scalar", "1-D", "3-D", "length", "complex", "datetime",
                                  "timedelta"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_the_estimators_errors_name_x_in_scikit_learns_words(case, kind):
    """scikit-learn's messages said "Expected 2D array" or "Complex data not supported"
    without naming X, and a datetime64 X was fitted as numbers (its seconds since 1970)."""
    X, cases = _estimator_cases()
    bad, match = cases[case]
    y = np.arange(10) % 2 if kind == "classifier" else X @ [1.0, -1.0, 0.5]
    est = ngdx.NGDClassifier(l2=0.1) if kind == "classifier" else ngdx.NGDRegressor()
    with pytest.raises(ValueError, match=match):
        est.fit(bad, y)
    if case != "length":  # and again when predicting
        est.fit(X, y)
        with pytest.raises(ValueError, match=match):
            est.predict(bad)


def test_the_estimators_blame_y_when_x_is_fine():
    X, _ = _estimator_cases()
    with pytest.raises(ValueError, match=r"y: Complex data not supported"):
        ngdx.NGDRegressor().fit(X, np.ones(10, dtype=complex))
    with pytest.raises(ValueError, match=r"y: Found array with dim 3"):
        ngdx.NGDRegressor().fit(X, np.ones((10, 1, 1)))


def test_a_datetime_dataframe_column_is_rejected_by_the_estimators():
    pd = pytest.importorskip("pandas")
    X, _ = _estimator_cases()
    frame = pd.DataFrame({"a": X[:, 0], "when": pd.date_range("2026-01-01", periods=10)})
    with pytest.raises(ValueError, match=r"X must hold real numbers .*datetime64"):
        ngdx.NGDRegressor().fit(frame, X[:, 1])

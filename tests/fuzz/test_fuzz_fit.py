"""Fuzzing ngdx.fit (every keyword), FitResult.predict and the scikit-learn estimators
under the harness's contract (fuzz_contract): a finite fit that ends no worse than it
started and predicts finite means of the right shape, or a ValueError/TypeError naming
the argument."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.special import expit, ndtr, softmax

import ngdx
from fuzz_contract import FUZZ, Expect, assert_close, assert_finite, run
from fuzz_inputs import (BOOL_INVALID, N_THREADS, SEED, Param, active, array_variant, choice,
                         gate, moderate, nonneg, posint, positive)
from test_fuzz_functional import problem

FIT_PARAMS = {
    "method": choice("method", ["gd", "ngd", "diag", "newton", "kfac"]),
    "fisher": choice("fisher", ["true", "empirical", "mc"]),
    "damping": Param("damping", ("adaptive", 0.0, 1e-3, 1.0),
                     ("adapt", -1.0, np.nan, np.inf, True, None, [1.0]), (1e308,)),
    "lr": positive("lr", 1.0, either=(100.0, 1e308), optional=True),
    "step": choice("step", ["fixed", "kl", "armijo"]),
    "max_kl": positive("max_kl", 1.0),
    "l2": nonneg("l2", 1.0),
    "fit_intercept": Param("fit_intercept", (True, False), BOOL_INVALID,
                           gap="fit_intercept:non-bool"),
    "max_iter": posint("max_iter", 20),
    "tol": nonneg("tol", 1e-3, either=()),
    "n_mc_samples": posint("n_mc_samples", 2),
    "seed": SEED,
    "linear_solver": choice("linear_solver", ["auto", "cholesky", "woodbury", "cg"]),
    "reuse_curvature": Param("reuse_curvature", ("auto", True, False), ("yes", 2, None, "")),
    "n_threads": N_THREADS,
    "verbose": Param("verbose", (False, True, 0, 1), ("loud", None, [1], 1.5)),
    "callback": Param("callback", (None, lambda r: None, lambda r: r.n_iter >= 2),
                      (1, "stop", [print])),
}
#: Choices that may not combine with the model or the other defaults: a valid one may be
#: rejected, naming itself or what it conflicts with.
COMBINING = {"method", "fisher", "step", "linear_solver", "reuse_curvature", "damping"}
CONFLICTS = ("method", "model", "fisher", "step", "linear_solver", "damping", "l2")


def mean_of(model, eta):
    return {"logistic": expit, "probit": ndtr, "poisson": np.exp, "gaussian": lambda e: e,
            "multinomial": lambda e: softmax(e, axis=1)}[model](eta)


def check_fit(res, model, d, K):
    """A finite result, no worse than its start, whose predict is the model's mean."""
    shape = (d, K) if model == "multinomial" else (d,)
    assert_finite(res.coef, shape, "coef")
    assert_finite(res.intercept, (K,) if model == "multinomial" else (), "intercept")
    obj = np.asarray(res.history["objective"])
    assert np.isfinite(obj[-1]), f"final objective {obj[-1]!r}"
    assert obj[-1] <= obj[0] + 1e-9 * max(1.0, abs(obj[0])), \
        f"the fit ended worse than it started: objective {obj[0]!r} -> {obj[-1]!r}"


@st.composite
def fit_call(draw):
    model, X, y, _ = draw(problem())
    args = dict(X=X, y=y, model=model)
    K = int(y.max()) + 1 if model == "multinomial" else 1
    if model == "multinomial" and K < 2:
        y[0] = 1.0
        K = int(y.max()) + 1
    if model == "multinomial":  # K is given: drawn labels need not cover every class
        args["n_classes"] = K
    which = draw(st.sampled_from(["X", "y", "sample_weight", "coef_init", "intercept_init",
                                  "params", "params", "params", "none", "rescaled", "wide"]))
    expect = Expect("ok", (), "valid")
    canon = dict(args)
    if which == "rescaled":  # features on a small scale: the same fit, coef scaled back
        assume(active("fit:X-rescaled"))
        args["X"] = X * 1e-9
        expect = Expect("ok", ("X",), "fit:X-rescaled")
    elif which == "wide":  # a few rows, many features: cheap input, no p x p matrix
        assume(active("fit:wide-multinomial"))
        n = X.shape[0]
        args = dict(X=draw(moderate((n, 2000))), y=np.arange(n) % 3, model="multinomial",
                    l2=1e-2, n_classes=3)
        model, K, canon = "multinomial", 3, dict(args)
        expect = Expect("ok", (), "fit:wide-multinomial")
    elif which in ("X", "y"):
        v = gate(draw, array_variant(draw, args[which], which, peers=("X", "y", "sample_weight"),
                                     labels=which == "y", allow_sparse=which == "X"))
        args[which], expect = v.value, v.expect
        if v.canonical is not None:
            canon[which] = v.canonical
    elif which == "sample_weight":
        sw = draw(moderate((X.shape[0],), 0, 3))
        sw[0] = 1.0  # a positive sum
        v = gate(draw, array_variant(draw, sw, "sample_weight", peers=("X", "y"), labels=True))
        args["sample_weight"] = v.value
        expect = v.expect
    elif which == "coef_init":
        c = draw(moderate((X.shape[1], K) if model == "multinomial" else (X.shape[1],), -1, 1))
        v = gate(draw, array_variant(draw, c, "coef_init", peers=("X",), length=True))
        args["coef_init"] = v.value
        # a multinomial coef_init sets K: one with other columns may contradict y
        expect = v.expect if model != "multinomial" else Expect(
            "either" if v.expect.outcome == "ok" else v.expect.outcome,
            v.expect.names + ("y",), v.expect.label)
    elif which == "intercept_init":
        b = draw(moderate((K,) if model == "multinomial" else (), -1, 1))
        v = gate(draw, array_variant(draw, np.atleast_1d(b), "intercept_init", length=False))
        args["intercept_init"] = v.value if model == "multinomial" or v.expect.outcome != "ok" \
            else float(np.asarray(v.canonical).ravel()[0])
        expect = v.expect
        if model != "multinomial" and v.expect.label.startswith("intercept_init:ndim"):
            expect = Expect("either", v.expect.names, v.expect.label)  # a 0-d b is a float
    elif which == "params":
        names = draw(st.lists(st.sampled_from(sorted(FIT_PARAMS)), min_size=1, max_size=3,
                              unique=True))
        outcomes = []
        for name in names:
            v = gate(draw, FIT_PARAMS[name].variant(draw))
            args[name] = v.value
            outcomes.append(v.expect)
        rejected = [e for e in outcomes if e.outcome == "reject"]
        if rejected:  # a bad one, an extreme one or a valid choice that does not combine
            # with the model may be named first
            names_first = tuple(n for e in outcomes if e.outcome != "ok" for n in e.names)
            if set(names) & COMBINING:
                names_first += tuple(names) + CONFLICTS
            expect = Expect("reject", names_first, rejected[0].label)
        elif len(names) > 1 or set(names) & COMBINING or any(e.outcome == "either"
                                                              for e in outcomes):
            expect = Expect("either", tuple(names) + CONFLICTS,
                            next((e.label for e in outcomes if e.outcome == "either"),
                                 "fit:valid-combination"))
    if "n_samples" in args:
        expect.extra_warnings = ("DeprecationWarning",)
    return args, canon, expect, model, K


@FUZZ
@given(call=fit_call())
def test_fit(call):
    args, canon, expect, model, K = call
    d = np.shape(canon["X"])[1]
    res = run(ngdx.fit, args, expect, check=lambda r: check_fit(r, model, d, K))
    if res is not None and expect.outcome == "ok" and args["X"] is not canon["X"]:
        # a variant of X (dtype, layout, sparse, rescaled) is the same problem as its
        # float64 twin: the same predictions
        with warnings.catch_warnings():  # the call under test already showed its warnings
            warnings.simplefilter("ignore", ngdx.ConvergenceWarning)
            twin = ngdx.fit(**dict(args, X=canon["X"]))
        # Scale-free stopping: where the float64 fit converges, so does its variant. Only
        # converged fits are compared: without a finite optimum (quasi-separated classes)
        # an unconverged iterate depends on the path, not on the problem.
        assert res.converged or not twin.converged, (
            f"fit on {expect.label} did not converge ({res.message}) where the float64 "
            "fit did")
        if not twin.converged:
            return
        X_seen = args["X"] if expect.label == "fit:X-rescaled" else canon["X"]
        assert_close(res.predict(X_seen), twin.predict(canon["X"]), rtol=1e-6,
                     what=f"fit on {expect.label} against float64 X")


@FUZZ
@given(data=st.data())
def test_predict(data):
    draw = data.draw
    model, X, y, theta = draw(problem())
    K = theta.shape[1] if model == "multinomial" else 1
    b = np.zeros(K) if K > 1 else 0.0
    res = ngdx.FitResult(coef=theta, intercept=b, n_iter=0, converged=True, message="",
                         history={}, model=model)
    v = gate(draw, array_variant(draw, X, "X", peers=("X",), allow_sparse=True, length=False))

    def check(out):
        with np.errstate(all="ignore"):  # the reference may overflow: then finiteness
            want = mean_of(model, v.canonical @ theta.reshape(X.shape[1], K))
        assert_close(out, want if K > 1 else want[:, 0], rtol=1e-9, what="predict")

    run(res.predict, {"X": v.value}, v.expect, check=check)


ESTIMATOR_PARAMS = {k: FIT_PARAMS[k] for k in (
    "method", "fisher", "step", "damping", "lr", "max_kl", "l2", "fit_intercept", "max_iter",
    "tol", "n_threads", "verbose")}


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@FUZZ
@given(data=st.data())
def test_estimators(kind, data):
    pytest.importorskip("sklearn")
    draw = data.draw
    model = draw(st.sampled_from(["logistic", "probit"] if kind == "classifier"
                                 else ["gaussian", "poisson"]))
    _, X, y, _ = draw(problem(model if kind == "regressor" else "multinomial"))
    assume(X.shape[0] >= 2)  # two classes need two rows
    if kind == "classifier":
        names = np.array(["cat", "dog", "eel", "fox"], dtype=object)
        y = names[y.astype(int)]
        if len(set(y)) < 2:
            y[0] = "cat" if y[0] != "cat" else "dog"
    est_cls = ngdx.NGDClassifier if kind == "classifier" else ngdx.NGDRegressor
    params = {"model": model}
    which = draw(st.sampled_from(["X", "sample_weight", "param", "none"]))
    expect, fit_args = Expect("ok", (), "valid"), {"X": X, "y": y}
    if which == "X":
        v = gate(draw, array_variant(draw, X, "X", peers=("X", "y"), allow_sparse=True))
        fit_args["X"], expect = v.value, v.expect
    elif which == "sample_weight":
        sw = draw(moderate((X.shape[0],), 0, 3))
        sw[0] = 1.0
        v = gate(draw, array_variant(draw, sw, "sample_weight", peers=("X", "y"), labels=True))
        fit_args["sample_weight"], expect = v.value, v.expect
    elif which == "param":
        name = draw(st.sampled_from(sorted(ESTIMATOR_PARAMS)))
        v = gate(draw, ESTIMATOR_PARAMS[name].variant(draw))
        params[name] = v.value
        expect = v.expect
        if name in COMBINING and expect.outcome == "ok":
            expect = Expect("either", (name,) + CONFLICTS, expect.label)
    # scikit-learn's validate_data speaks for the estimators: its own wording, and it
    # converts strings of numbers as scikit-learn estimators do
    label = "estimator:" + expect.label
    if expect.label.endswith(("dtype-str", "dtype-object-str")):
        expect = Expect("either", expect.names, label)
    expect = Expect(expect.outcome, expect.names, label)
    assume(active(label))
    est = est_cls(**params)

    def check(fitted):
        # Predictions on the X it was fitted on (a variant of X may differ in a value: a
        # fit without a finite optimum, which says so, may overflow elsewhere)
        X_fit = fit_args["X"]
        out = fitted.predict_proba(X_fit) if kind == "classifier" else fitted.predict(X_fit)
        n_out = len(fitted.classes_) if kind == "classifier" else None
        assert_finite(out, (X.shape[0], n_out) if n_out else (X.shape[0],), "prediction")
        if kind == "classifier":
            assert_close(out.sum(axis=1), np.ones(X.shape[0]), rtol=1e-9, what="row sums")
            assert set(fitted.predict(X_fit)) <= set(fitted.classes_)
        assert np.isfinite(fitted.score(X_fit, y))

    run(est.fit, fit_args, expect, check=check)

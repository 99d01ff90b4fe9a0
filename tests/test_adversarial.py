"""The adversarial inputs of issue 10, each pinned: a correct answer or a ValueError that
names the argument, never a crash, a hang, a silent wrong answer or an absurd allocation."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

import ngdx


def logistic_data(n=200, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ np.linspace(1, -1, d)))).astype(float)
    return X, y


# ------------------------------------------------------------------ multinomial labels
def test_a_huge_label_is_a_value_error_before_any_allocation():
    X = np.random.default_rng(0).normal(size=(100, 3))
    for label in (10**7, 10**12, 2.0**62):
        y = np.zeros(100)
        y[:50], y[7] = 1, label
        tracemalloc.start()
        try:
            with pytest.raises(ValueError, match=r"label .* only 100 rows.*n_classes"):
                ngdx.fit(X, y, "multinomial")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 10 * X.nbytes


def test_labels_with_missing_classes_are_named_not_fitted_as_empty_classes():
    X = np.random.default_rng(0).normal(size=(60, 3))
    y = np.repeat([0.0, 2.0, 5.0], 20)
    with pytest.raises(ValueError, match=r"classes 1, 3, 4 have no row.*n_classes=6"):
        ngdx.fit(X, y, "multinomial")
    # asked for explicitly, the empty classes are fitted (and pushed towards probability 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ngdx.ConvergenceWarning)
        res = ngdx.fit(X, y, "multinomial", n_classes=6, l2=0.1, max_iter=20)
    assert res.coef.shape == (3, 6)
    assert (res.predict(X)[:, [1, 3, 4]] < 0.05).all()


@pytest.mark.parametrize("n_classes,match", [
    (1, "n_classes must be an integer >= 2"), (2.0, "n_classes must be an integer"),
    (True, "n_classes must be an integer"), (3, r"label 5 but n_classes=3"),
])
def test_bad_n_classes_is_a_value_error(n_classes, match):
    X = np.random.default_rng(0).normal(size=(60, 3))
    y = np.repeat([0.0, 2.0, 5.0], 20)
    with pytest.raises(ValueError, match=match):
        ngdx.fit(X, y, "multinomial", n_classes=n_classes)


def test_n_classes_is_for_the_multinomial_model_only():
    X, y = logistic_data()
    with pytest.raises(ValueError, match="n_classes is for model 'multinomial'"):
        ngdx.fit(X, y, n_classes=2)


# ------------------------------------------------------------------ booleans
@pytest.mark.parametrize("value", ["no", "False", 0, 1, None, [True]])
def test_fit_intercept_rejects_non_booleans(value):
    X, y = logistic_data()
    with pytest.raises(ValueError, match="fit_intercept must be True or False"):
        ngdx.fit(X, y, fit_intercept=value)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_diagonal_rejects_non_booleans(value):
    X, y = logistic_data()
    with pytest.raises(ValueError, match="diagonal must be True or False"):
        ngdx.fisher(X, y, np.zeros(3), diagonal=value)
    with pytest.raises(ValueError, match="diagonal must be True or False"):
        ngdx.fisher_from_scores(ngdx.scores(X, y, np.zeros(3)), diagonal=value)


def test_verbose_rejects_strings():
    X, y = logistic_data()
    with pytest.raises(ValueError, match="verbose must be True, False or an integer"):
        ngdx.fit(X, y, verbose="yes")


# ------------------------------------------------------------------ automatic solver choice
def test_a_small_wide_multinomial_problem_never_asks_for_gigabytes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 5000))  # 200 KB; the dense curvature would be 3 x 1.8 GB
    y = [0, 1, 2, 1, 0]
    tracemalloc.start()
    try:
        res = ngdx.fit(X, y, "multinomial", l2=1e-2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res.converged and res.linear_solver == "cg"
    assert peak < 50 * X.nbytes
    # where CG does not apply, a ValueError says what does, before any allocation
    with pytest.raises(ValueError, match=r"p = 15003 .* method 'diag' or 'kfac'"):
        ngdx.fit(X, y, "multinomial", l2=1e-2, fisher="empirical")
    with pytest.raises(ValueError, match=r"more than the memory budget"):
        ngdx.fit(rng.normal(size=(5, 10**5)), y, "multinomial", linear_solver="cholesky")


# ------------------------------------------------------------------ small fixes
def test_dir_lists_every_public_name():
    assert set(ngdx.__all__) <= set(dir(ngdx))
    for name in ("NGDClassifier", "NGDRegressor", "ConvergenceWarning"):
        assert name in dir(ngdx)


@pytest.mark.parametrize("argv,match", [
    (["demo", "--n", "0"], "--n: must be at least 1"),
    (["demo", "--d", "x"], "--d: 'x' is not an integer"),
    (["demo", "--max-iter", "-1"], "--max-iter: must be at least 1"),
    (["demo", "--verbose", "5"], "--verbose: invalid choice"),
])
def test_demo_arguments_are_checked_like_any_cli(argv, match, capsys):
    from ngdx.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert match in capsys.readouterr().err


def test_poisson_regressor_scores_the_deviance_explained_as_scikit_learn():
    pytest.importorskip("sklearn")
    from sklearn.linear_model import PoissonRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3))
    y = rng.poisson(np.exp(X @ [0.3, -0.2, 0.1] + 0.5))
    ours = ngdx.NGDRegressor(model="poisson", l2=0.01).fit(X, y)
    theirs = PoissonRegressor(alpha=0.01, tol=1e-10, max_iter=1000).fit(X, y)
    assert np.isclose(ours.score(X, y), theirs.score(X, y), rtol=1e-6)
    gaussian = ngdx.NGDRegressor().fit(X, y.astype(float))
    from sklearn.metrics import r2_score

    assert np.isclose(gaussian.score(X, y), r2_score(y, gaussian.predict(X)), rtol=1e-12)


@pytest.mark.parametrize("kwargs,match", [
    (dict(damping="auto"), "damping must be a number >= 0 or 'adaptive'"),
    (dict(damping=None), "damping must be a finite number >= 0 or 'adaptive'"),
    (dict(reuse_curvature="sometimes"), "reuse_curvature must be True, False or 'auto'"),
    (dict(lr="big"), "lr must be a finite number > 0 or None"),
])
def test_messages_list_every_kind_of_value_a_parameter_takes(kwargs, match):
    X, y = logistic_data()
    with pytest.raises(ValueError, match=match):
        ngdx.fit(X, y, **kwargs)


# ------------------------------------------------------------------ scale-free stopping
def model_data(model, n=400, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    eta = X @ np.linspace(0.8, -0.6, d) + 0.2
    y = {"logistic": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float),
         "probit": (rng.random(n) < 0.5 * (1 + np.tanh(eta))).astype(float),
         "poisson": rng.poisson(np.exp(0.5 * eta)).astype(float),
         "gaussian": eta + rng.normal(size=n),
         "multinomial": rng.integers(0, 3, n).astype(float)}[model]
    return X, y


@pytest.mark.parametrize("model", ["logistic", "probit", "poisson", "gaussian", "multinomial"])
@pytest.mark.parametrize("method", ["ngd", "newton", "diag"])
@pytest.mark.parametrize("factor", [1e-9, 1e9])
def test_a_fit_on_rescaled_features_stops_where_the_fit_on_X_does(model, method, factor):
    X, y = model_data(model)
    scales = factor * np.array([1.0, 3.0, 0.2])  # one factor overall, and per feature
    base = ngdx.fit(X, y, model, method, max_iter=500)
    scaled = ngdx.fit(X * scales, y, model, method, max_iter=500)
    assert base.converged and scaled.converged
    assert scaled.n_iter == base.n_iter and scaled.n_iter > 1
    np.testing.assert_allclose(scaled.predict(X * scales), base.predict(X), rtol=1e-6, atol=1e-9)
    coef = scaled.coef * (scales[:, None] if scaled.coef.ndim == 2 else scales)
    np.testing.assert_allclose(coef, base.coef, rtol=1e-6, atol=1e-9)


def test_the_scaled_gradient_is_what_tol_is_compared_with():
    X, y = model_data("logistic")
    X = X * [1e-9, 1.0, 1e6]
    res = ngdx.fit(X, y, tol=1e-9)
    raw = ngdx.grad(np.hstack([X, np.ones((len(X), 1))]), y,
                    np.append(res.coef, res.intercept))
    rms = np.append(np.sqrt((X ** 2).mean(axis=0)), 1.0)
    assert np.isclose(res.history["grad_norm"][-1], np.abs(raw / rms).max(), rtol=1e-6)
    assert res.history["grad_norm"][-1] <= 1e-9


# ------------------------------------------------------------------ divergence and overflow
@pytest.mark.parametrize("model,kwargs", [
    ("gaussian", dict(method="gd", lr=10.0)),
    ("logistic", dict(lr=100.0, damping=0.0)),
])
def test_a_diverging_fit_is_named_and_returns_the_best_iterate(model, kwargs):
    X, y = model_data(model, n=300)
    with pytest.warns(ngdx.ConvergenceWarning, match="the fit diverged") as record:
        res = ngdx.fit(X, y, model, max_iter=100, **kwargs)
    message = str(record[0].message)
    assert "smaller lr" in message and "step='kl'" in message and not res.converged
    import re

    best, grown = map(float, re.search(r"grew from (\S+) to (\S+);", message).groups())
    objective = res.history["objective"]
    assert grown > 100 * best and best == pytest.approx(objective.min(), rel=1e-5)
    theta = np.append(res.coef, res.intercept)
    X1 = np.hstack([X, np.ones((len(X), 1))])
    assert np.isclose(ngdx.loss(X1, y, theta, model), objective.min(), rtol=1e-12)


def test_values_whose_squares_overflow_are_a_value_error_naming_x():
    X, y = logistic_data()
    X[3, 1] = 1e300
    for call in (lambda: ngdx.fit(X, y), lambda: ngdx.fisher(X, y, np.zeros(3)),
                 lambda: ngdx.loss(X, y, np.zeros(3))):
        with pytest.raises(ValueError, match=r"X holds values too large .*1e\+300"):
            call()


def test_weights_whose_sum_overflows_change_nothing():
    X, y = logistic_data()
    base = ngdx.fit(X, y, l2=0.1)
    for w in (1e308, 1e-310):
        res = ngdx.fit(X, y, l2=0.1, sample_weight=np.full(len(y), w))
        assert res.converged
        np.testing.assert_allclose(res.coef, base.coef, rtol=1e-9)


def test_a_model_overflowing_at_theta_is_a_value_error_not_inf():
    X, y = model_data("poisson")
    with pytest.raises(ValueError, match="overflows float64 at this X, y and theta"):
        ngdx.loss(X, y, np.array([800.0, 0.0, 0.0]), "poisson")
    with pytest.raises(ValueError, match="overflows float64"):
        ngdx.value_grad_curvature(X, np.full(len(y), 1e200), np.zeros(3), "gaussian")


# ------------------------------------------------------------------ sparse X at the door
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_x_is_fitted_like_its_dense_twin_at_every_entry_point(fmt):
    sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(0)
    X = sparse.random(400, 6, density=0.3, format=fmt, random_state=0)
    Xd = np.ascontiguousarray(X.toarray())
    y = (rng.random(400) < 0.5).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if fmt != "csr" else "error", ngdx.PerformanceWarning)
        res = ngdx.fit(X, y, l2=1e-3)
        theta = res.coef
        checks = [(ngdx.loss(X, y, theta), ngdx.loss(Xd, y, theta)),
                  (ngdx.grad(X, y, theta), ngdx.grad(Xd, y, theta)),
                  (ngdx.fisher(X, y, theta), ngdx.fisher(Xd, y, theta)),
                  (ngdx.scores(X, y, theta), ngdx.scores(Xd, y, theta)),
                  (res.predict(X), ngdx.fit(Xd, y, l2=1e-3).predict(Xd))]
    for got, want in checks:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    if fmt != "csr":  # converted once, and the warning says so
        with pytest.warns(ngdx.PerformanceWarning, match=f"converted from {fmt.upper()} to CSR"):
            ngdx.fit(X, y, l2=1e-3)


def test_sparse_x_in_the_estimators():
    sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(1)
    X = sparse.random(300, 5, density=0.4, format="csr", random_state=1)
    y = np.array(["a", "b", "c"])[rng.integers(0, 3, 300)]
    clf = ngdx.NGDClassifier(l2=1e-3).fit(X, y)
    dense = ngdx.NGDClassifier(l2=1e-3).fit(np.ascontiguousarray(X.toarray()), y)
    np.testing.assert_allclose(clf.predict_proba(X), dense.predict_proba(X.toarray()),
                               rtol=1e-10)


def test_a_start_where_the_model_overflows_is_a_value_error():
    X, y = model_data("poisson")
    with pytest.raises(ValueError, match="not finite at the starting point.*coef_init"):
        ngdx.fit(X, y, "poisson", coef_init=np.full(3, 1e300))
    with pytest.raises(ValueError, match="not finite at the starting point"):
        ngdx.fit(X, y, "poisson", intercept_init=1e300)


# ------------------------------------------------------------------ extreme theta and starts
@pytest.mark.parametrize("eta", [1e4, 1e8, 1e20, 1e100])
def test_the_reference_probit_tail_is_the_mills_asymptote(eta):
    """Found by the long fuzz run: the NumPy oracle's phi/Phi at -eta cancelled two numbers
    of size eta^2/2 (score -1.78e8 at eta = 1e8 for y = 0, the core's -1e8 being right) and
    its Hessian weight 1 - 1/eta^2 rounded to 0."""
    from ngdx import _reference as ref

    X, y, theta = np.ones((1, 1)), np.zeros(1), np.array([eta])
    mills = eta + 1 / eta - 2 / eta**3  # phi(eta) / (1 - Phi(eta)), asymptotically
    np.testing.assert_allclose(ref.scores(X, y, theta, "probit"), [[-mills]], rtol=1e-12)
    np.testing.assert_allclose(ref.curvature(X, y, theta, "probit", "hessian"),
                               [[1 - 1 / eta**2]], rtol=1e-12)
    np.testing.assert_allclose(ngdx.scores(X, y, theta, "probit"), [[-mills]], rtol=1e-12)


@pytest.mark.parametrize("model", ["logistic", "probit", "poisson", "gaussian", "multinomial"])
@pytest.mark.parametrize("value", [1e300, -1e300, 1e308])
def test_an_extreme_theta_is_a_finite_answer_or_a_value_error_naming_it(model, value):
    """scores and kl at theta = 1e300 returned inf or NaN (poisson's scores, gaussian's KL)
    where loss, grad and fisher raised: each now gives a finite answer or says which
    argument is out of range."""
    X, y = model_data(model, n=20)
    zero = np.zeros((3, 3)) if model == "multinomial" else np.zeros(3)
    far = zero.copy()
    far.flat[0] = value
    calls = {"theta": [lambda: ngdx.scores(X, y, far, model), lambda: ngdx.loss(X, y, far, model),
                       lambda: ngdx.fisher(X, y, far, model)],
             "theta_p": [lambda: ngdx.kl(X, far, zero, model)],
             "theta_q": [lambda: ngdx.kl(X, zero, far, model)]}
    for name, fns in calls.items():
        for call in fns:
            try:
                out = call()
            except ValueError as e:
                assert "beyond the model's range" in str(e) and name in str(e)
            else:
                assert np.isfinite(out).all()


def test_the_overflow_message_names_the_parameters_of_each_entry_point():
    X, y = model_data("gaussian", n=20)
    far = np.array([1e300, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"score matrix of model 'poisson' overflows float64 "
                                         r"at this X, y and theta.*smaller theta"):
        ngdx.scores(X, np.abs(y), far, "poisson")
    with pytest.raises(ValueError, match=r"KL divergence of model 'gaussian' overflows float64 "
                                         r"at this X, theta_p and theta_q: the linear predictor "
                                         r"X @ theta_p or X @ theta_q"):
        ngdx.kl(X, np.zeros(3), far, "gaussian")


@pytest.mark.parametrize("model,shape", [("multinomial", (3, 1, 1)), ("multinomial", (3, 1)),
                                         ("logistic", (1, 1))])
def test_an_intercept_init_of_more_than_one_dimension_is_a_value_error(model, shape):
    """Found by the long fuzz run: intercept_init was flattened, so a (K, 1, 1) array was
    taken as K intercepts."""
    X, y = model_data(model, n=30)
    with pytest.raises(ValueError, match=r"intercept_init must be a number or a 1-D array"):
        ngdx.fit(X, y, model, intercept_init=np.zeros(shape))


# ------------------------------------------------------------------ extreme l2, lr, damping
@pytest.mark.parametrize("model", ["logistic", "poisson", "gaussian", "multinomial"])
@pytest.mark.parametrize("method", ["ngd", "newton", "diag"])
def test_an_absurd_ridge_is_fitted_to_its_optimum_coef_zero(model, method):
    """l2 = 1e300 is a legitimate ridge: coef ~ -grad / l2 (about 1e-300), the intercept the
    null model's, converged, finite, with no warning."""
    X, y = model_data(model, n=60)
    res = ngdx.fit(X, y, model, method, l2=1e300)
    assert res.converged
    assert np.abs(res.coef).max() < 1e-290
    null = ngdx.fit(np.zeros((len(y), 1)), y, model, l2=1.0)  # the intercept-only model
    np.testing.assert_allclose(res.intercept, null.intercept, rtol=1e-9, atol=1e-12)


def test_an_absurd_ridge_under_gradient_descent():
    """gradient_descent_lr's power iteration took |(F + l2 P) v|, which overflowed for
    l2 > ~1e154: lr fell back to 1 and the first step diverged."""
    X, y = model_data("logistic", n=60)
    res = ngdx.fit(X, y, "logistic", "gd", l2=1e300)
    assert res.converged and np.abs(res.coef).max() < 1e-290


def test_an_absurd_ridge_on_probit():
    """probit's null intercept was logit(mean) / 1.7, not its optimum, and the adaptive
    damping, scaled by the mean diagonal that l2 dominates, left the intercept unable to
    move for l2 > ~1e15: the start is now Phi^-1(mean), exact."""
    X, y = model_data("probit", n=60)
    assert ngdx.fit(X, y, "probit", l2=1e300).converged


@pytest.mark.parametrize("name,value", [("lr", 1e300), ("lr", 1e151), ("damping", 1e300),
                                        ("damping", 1e151), ("lr", 1e308)])
def test_an_lr_or_damping_beyond_1e150_is_a_value_error_with_the_range(name, value):
    """lr = 1e300 ended as "the damping was raised too often" and damping = 1e300 as
    "max_iter reached" (no step could ever be taken): both now say which argument and
    what range it takes, in ngdx.fit and the estimators alike."""
    X, y = logistic_data()
    with pytest.raises(ValueError, match=rf"{name} must be at most 1e\+150"):
        ngdx.fit(X, y, **{name: value})
    pytest.importorskip("sklearn")
    with pytest.raises(ValueError, match=rf"{name} must be at most 1e\+150"):
        ngdx.NGDClassifier(**{name: value}).fit(X, y)


@pytest.mark.parametrize("method", ["gd", "ngd"])
def test_the_largest_lr_and_damping_give_finite_fits(method):
    """At the bound, a fit is finite and no NumPy warning escapes (warnings are errors):
    lr = 1e150 diverges at once and returns the start; damping = 1e150 takes steps of
    ~1e-150 (no progress), reported as max_iter reached."""
    X, y = logistic_data()
    with pytest.warns(ngdx.ConvergenceWarning):
        res = ngdx.fit(X, y, method=method, lr=1e150, max_iter=5)
    assert np.isfinite(res.coef).all() and not res.converged
    assert res.history["objective"][-1] <= res.history["objective"][0]
    if method == "ngd":
        with pytest.warns(ngdx.ConvergenceWarning, match="max_iter = 5 reached"):
            res = ngdx.fit(X, y, method=method, damping=1e150, max_iter=5)
        assert np.abs(res.coef).max() < 1e-140


def test_a_prediction_that_overflows_names_coef_and_X():
    """FitResult.predict for poisson at an X entry of 1e20 returned [inf] (long fuzz run)."""
    res = ngdx.FitResult(coef=np.array([1.0]), intercept=0.0, n_iter=0, converged=True,
                         message="", history={}, model="poisson")
    with pytest.raises(ValueError, match="prediction of model 'poisson' overflows.*X.*coef"):
        res.predict(np.array([[1e20]]))
    np.testing.assert_allclose(res.predict(np.array([[2.0]])), [np.exp(2.0)])


def test_tiny_features_with_the_sample_space_solve():
    """X ~ 1e-160 through the Woodbury path: its standardized row Gram overflowed (1 / c^2
    with c ~ 1e-160) and 0 * |coef|^2 with coef ~ 1e160 made the objective NaN."""
    X = np.random.default_rng(0).normal(size=(5, 8))
    y = np.arange(5.0)
    base = ngdx.fit(X, y, "gaussian")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tiny = ngdx.fit(X * 1e-160, y, "gaussian")
        ngdx.NGDRegressor().fit(np.full((2, 2), 2.1e-160), [0.0, 0.0])
    assert base.linear_solver == tiny.linear_solver == "woodbury"
    assert tiny.converged and tiny.n_iter == base.n_iter
    np.testing.assert_allclose(tiny.predict(X * 1e-160), base.predict(X), atol=1e-9)

"""Validation at the door: bad input is a ValueError that names the problem.

Covers the public API (non-finite values, shapes, empty inputs, label domains, unknown
names, scalar options, dtypes, the positive-definiteness of the natural-gradient solve)
and the private core ``ngdx._core``, which must reject bad shapes by itself (a
``ValueError`` or, for a wrongly laid-out array under ``noconvert``, a ``TypeError``),
never crash.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import ngdx
from ngdx import _core

N, D, K = 30, 4, 3
MODELS = ("logistic", "probit", "poisson", "gaussian", "multinomial")
KINDS = ("true", "empirical", "mc")


def make_problem(model, n=N, d=D, seed=0):
    """A valid (X, y, theta) for ``model``: y float64 in the model's domain."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if model == "multinomial":
        return X, rng.integers(0, K, n).astype(float), 0.3 * rng.normal(size=(d, K))
    y = {
        "logistic": lambda: rng.integers(0, 2, n),
        "probit": lambda: rng.integers(0, 2, n),
        "poisson": lambda: rng.poisson(1.5, n),
        "gaussian": lambda: rng.normal(size=n),
    }[model]()
    return X, y.astype(float), 0.3 * rng.normal(size=d)


def _kl(X, y, theta, model="logistic", **kw):
    """kl in the (X, y, theta, model) calling convention: theta_p = theta, theta_q = 0."""
    return ngdx.kl(X, theta, np.zeros(np.shape(theta)), model, **kw)


# Every public function of (X, y, theta, model); the labelled ones read y.
LABELLED = {
    "loss": ngdx.loss,
    "grad": ngdx.grad,
    "scores": ngdx.scores,
    "hessian": ngdx.hessian,
    "fisher_true": functools.partial(ngdx.fisher, kind="true"),
    "fisher_empirical": functools.partial(ngdx.fisher, kind="empirical"),
    "fisher_mc": functools.partial(ngdx.fisher, kind="mc", seed=0),
    "fisher_diag": functools.partial(ngdx.fisher, kind="empirical", diagonal=True),
}
ALL = {**LABELLED, "kl": _kl}


def insert(a, index, value):
    a = np.array(a, dtype=float)
    a[index] = value
    return a


# ----------------------------------------------------------------------- non-finite values
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", sorted(ALL))
def test_nonfinite_X_is_named_with_its_index(name, bad):
    X, y, theta = make_problem("logistic")
    with pytest.raises(ValueError, match=r"X must be finite.*index \(7, 2\)"):
        ALL[name](insert(X, (7, 2), bad), y, theta, "logistic")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", sorted(LABELLED))
def test_nonfinite_y_is_named(name, model, bad):
    X, y, theta = make_problem(model)
    with pytest.raises(ValueError, match=r"y must be finite.*index \(3,\)"):
        LABELLED[name](X, insert(y, 3, bad), theta, model)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", sorted(ALL))
def test_nonfinite_theta_is_named(name, model, bad):
    X, y, theta = make_problem(model)
    where = (1, 2) if model == "multinomial" else 1
    with pytest.raises(ValueError, match=r"theta\w* must be finite"):
        ALL[name](X, y, insert(theta, where, bad), model)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("model", ["logistic", "multinomial"])
def test_nonfinite_theta_p_and_theta_q_are_told_apart(model, bad):
    X, _, theta = make_problem(model)
    where = (0, 1) if model == "multinomial" else 0
    with pytest.raises(ValueError, match=r"theta_p must be finite"):
        ngdx.kl(X, insert(theta, where, bad), theta, model)
    with pytest.raises(ValueError, match=r"theta_q must be finite"):
        ngdx.kl(X, theta, insert(theta, where, bad), model)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_scores_are_named(bad):
    S = np.random.default_rng(1).normal(size=(6, 3))
    for diagonal in (False, True):
        with pytest.raises(ValueError, match=r"S must be finite.*index \(4, 0\)"):
            ngdx.fisher_from_scores(insert(S, (4, 0), bad), diagonal=diagonal)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_F_and_g_are_named(bad):
    F, g = np.eye(3), np.ones(3)
    with pytest.raises(ValueError, match=r"F must be finite"):
        ngdx.natural_gradient(insert(F, (1, 1), bad), g)
    with pytest.raises(ValueError, match=r"g must be finite"):
        ngdx.natural_gradient(F, insert(g, 2, bad), damping=1.0)


def test_large_finite_values_are_not_mistaken_for_non_finite():
    # Their sum overflows to inf, but every entry is finite: X up to ~1e150 is used (the
    # curvature sums squares), beyond it is a ValueError that says so, not "non-finite".
    X = np.full((4, 2), 1e150)
    assert ngdx.loss(X, np.zeros(4), np.zeros(2), "gaussian") == pytest.approx(
        0.5 * np.log(2 * np.pi))
    with pytest.raises(ValueError, match=r"X holds values too large .* max \|X\| = 1e\+308"):
        ngdx.loss(np.full((4, 2), 1e308), np.zeros(4), np.zeros(2), "gaussian")
    x = ngdx.natural_gradient(np.diag([1e308, 1e308]), np.array([1e308, 1e308]))
    np.testing.assert_allclose(x, [1.0, 1.0])


# ----------------------------------------------------------------------- shapes
@pytest.mark.parametrize("n_y", [N - 1, N + 1, 0])
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", sorted(LABELLED))
def test_y_length_must_match_X_rows(name, model, n_y):
    X, _, theta = make_problem(model)
    y = np.zeros(n_y)
    with pytest.raises(ValueError, match=rf"y has {n_y} entries but X has {N} rows"):
        LABELLED[name](X, y, theta, model)


@pytest.mark.parametrize("name", sorted(LABELLED))
def test_y_must_be_one_dimensional(name):
    X, y, theta = make_problem("logistic")
    with pytest.raises(ValueError, match=r"y must be 1-D, got shape \(30, 1\)"):
        LABELLED[name](X, y[:, None], theta, "logistic")
    with pytest.raises(ValueError, match=r"y must be 1-D"):
        LABELLED[name](X, 1.0, theta, "logistic")


@pytest.mark.parametrize("d_theta", [D - 1, D + 1])
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", sorted(ALL))
def test_theta_rows_must_match_X_columns(name, model, d_theta):
    X, y, _ = make_problem(model)
    theta = np.zeros((d_theta, K)) if model == "multinomial" else np.zeros(d_theta)
    what = "rows" if model == "multinomial" else "entries"
    with pytest.raises(ValueError, match=rf"theta\w* has {d_theta} {what} but X has {D} columns"):
        ALL[name](X, y, theta, model)


@pytest.mark.parametrize("name", sorted(ALL))
def test_multinomial_theta_must_be_two_dimensional(name):
    X, y, _ = make_problem("multinomial")
    pattern = r"theta\w* for model 'multinomial' must have shape \(d, K\)"
    with pytest.raises(ValueError, match=pattern):
        ALL[name](X, y, np.zeros(D), "multinomial")
    with pytest.raises(ValueError, match=r"K >= 2"):
        ALL[name](X, y, np.zeros((D, 1)), "multinomial")


@pytest.mark.parametrize("model", ["logistic", "probit", "poisson", "gaussian"])
@pytest.mark.parametrize("name", sorted(ALL))
def test_one_output_theta_must_be_one_dimensional(name, model):
    X, y, _ = make_problem(model)
    with pytest.raises(ValueError, match=rf"theta\w* for model '{model}' must have shape \(d,\)"):
        ALL[name](X, y, np.zeros((D, 1)), model)
    with pytest.raises(ValueError, match=rf"theta\w* for model '{model}' must have shape"):
        ALL[name](X, y, 0.0, model)


def test_kl_theta_p_and_theta_q_shapes_must_agree():
    X, _, theta = make_problem("multinomial")
    pattern = r"theta_p and theta_q differ in shape: \(4, 3\) vs \(4, 2\)"
    with pytest.raises(ValueError, match=pattern):
        ngdx.kl(X, theta, theta[:, :2], "multinomial")
    X, _, theta = make_problem("logistic")
    with pytest.raises(ValueError, match=r"theta_q has 5 entries but X has 4 columns"):
        ngdx.kl(X, theta, np.zeros(D + 1))
    with pytest.raises(ValueError, match=r"theta_p has 3 entries but X has 4 columns"):
        ngdx.kl(X, np.zeros(D - 1), theta)
    with pytest.raises(ValueError, match=r"theta_q for model 'logistic' must have shape \(d,\)"):
        ngdx.kl(X, theta, theta[:, None])


@pytest.mark.parametrize("name", sorted(ALL))
def test_X_must_be_two_dimensional(name):
    X, y, theta = make_problem("logistic")
    with pytest.raises(ValueError, match=r"X must be 2-D, got shape \(30,\)"):
        ALL[name](X[:, 0], y, theta[:1], "logistic")
    with pytest.raises(ValueError, match=r"X must be 2-D, got shape \(30, 4, 1\)"):
        ALL[name](X[:, :, None], y, theta, "logistic")


def test_natural_gradient_shapes_must_agree():
    F, g = 2.0 * np.eye(2), np.ones(2)
    with pytest.raises(ValueError, match=r"g must have shape \(2,\) to match F, got \(3,\)"):
        ngdx.natural_gradient(F, np.ones(3))
    pattern = r"F must be a non-empty square matrix, got shape \(2, 3\)"
    with pytest.raises(ValueError, match=pattern):
        ngdx.natural_gradient(np.ones((2, 3)), g)
    with pytest.raises(ValueError, match=r"F must be 2-D"):
        ngdx.natural_gradient(np.ones(2), g)
    with pytest.raises(ValueError, match=r"g must be 1-D"):
        ngdx.natural_gradient(F, g[:, None])


def test_natural_gradient_that_overflows_is_a_value_error_not_inf():
    # positive definite in floating point, yet g / F overflows (found by the long fuzz run)
    with pytest.raises(ValueError, match="overflows.*numerically singular.*damping"):
        ngdx.natural_gradient(np.array([[5e-324]]), np.array([1.0]))
    np.testing.assert_allclose(  # the same tiny F with a damping that dominates it
        ngdx.natural_gradient(np.array([[5e-324]]), np.array([1.0]), damping=0.5), [2.0],
        rtol=1e-15)


def test_scores_must_be_two_dimensional():
    with pytest.raises(ValueError, match=r"S must be 2-D, got shape \(5,\)"):
        ngdx.fisher_from_scores(np.ones(5))


# ----------------------------------------------------------------------- empty inputs
@pytest.mark.parametrize("shape", [(0, D), (N, 0), (0, 0)])
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", sorted(ALL))
def test_empty_X_is_rejected(name, model, shape):
    d = shape[1]
    theta = np.zeros((d, K)) if model == "multinomial" else np.zeros(d)
    y = np.zeros(shape[0])
    with pytest.raises(ValueError, match=r"X must have at least one row and one column"):
        ALL[name](np.zeros(shape), y, theta, model)


@pytest.mark.parametrize("shape", [(0, 3), (3, 0)])
def test_empty_scores_and_curvature_are_rejected(shape):
    with pytest.raises(ValueError, match=r"S must have at least one row and one column"):
        ngdx.fisher_from_scores(np.zeros(shape))
    with pytest.raises(ValueError, match=r"F must be a non-empty square matrix"):
        ngdx.natural_gradient(np.zeros((0, 0)), np.zeros(0), damping=1.0)


# ----------------------------------------------------------------------- label domains
BAD_LABELS = [
    ("logistic", 2.0, r"y for model 'logistic' must be 0 or 1"),
    ("logistic", -1.0, r"y for model 'logistic' must be 0 or 1"),
    ("logistic", 0.5, r"y for model 'logistic' must be 0 or 1"),
    ("probit", 0.5, r"y for model 'probit' must be 0 or 1"),
    ("probit", 2.0, r"y for model 'probit' must be 0 or 1"),
    ("poisson", -1.0, r"y for model 'poisson' must be non-negative"),
    ("poisson", -1e-9, r"y for model 'poisson' must be non-negative"),
    ("multinomial", 1.5, r"y for model 'multinomial' must hold integer labels in 0\.\.2"),
    ("multinomial", -1.0, r"y for model 'multinomial' must hold integer labels in 0\.\.2"),
    ("multinomial", 3.0, r"y for model 'multinomial' must hold integer labels in 0\.\.2"),
    ("multinomial", 1e9, r"y for model 'multinomial' must hold integer labels in 0\.\.2"),
]


@pytest.mark.parametrize("model,bad,pattern", BAD_LABELS)
@pytest.mark.parametrize("name", sorted(LABELLED))
def test_labels_outside_the_domain_are_rejected(name, model, bad, pattern):
    X, y, theta = make_problem(model)
    with pytest.raises(ValueError, match=pattern):
        LABELLED[name](X, insert(y, 11, bad), theta, model)


@pytest.mark.parametrize("name", sorted(LABELLED))
def test_labels_on_the_domain_boundary_are_accepted(name):
    # An off-by-one or too-strict domain check fails here.
    X, y, theta = make_problem("multinomial")
    y[:] = np.arange(N) % K  # every label, the largest K - 1 included
    assert np.all(np.isfinite(LABELLED[name](X, y, theta, "multinomial")))
    X, y, theta = make_problem("poisson")
    y[:3] = [0.0, 0.0, 40.0]
    assert np.all(np.isfinite(LABELLED[name](X, y, theta, "poisson")))
    X, y, theta = make_problem("gaussian")
    y[:2] = [-1e3, 1e3]
    assert np.all(np.isfinite(LABELLED[name](X, y, theta, "gaussian")))
    X, y, theta = make_problem("logistic")
    assert np.all(np.isfinite(LABELLED[name](X, y.astype(bool), theta, "logistic")))


def test_multinomial_label_range_follows_theta_columns():
    X, y, theta = make_problem("multinomial")
    y[0] = 3.0  # valid with 4 classes, invalid with 3
    assert np.isfinite(ngdx.loss(X, y, np.zeros((D, 4)), "multinomial"))
    with pytest.raises(ValueError, match=r"integer labels in 0\.\.2 \(theta has 3 columns\)"):
        ngdx.loss(X, y, theta, "multinomial")


# ----------------------------------------------------------------------- unknown names
@pytest.mark.parametrize("model", ["foo", "Logistic", "", " logistic", "hessian", None, 3])
@pytest.mark.parametrize("name", sorted(ALL))
def test_unknown_model_lists_the_valid_ones(name, model):
    X, y, theta = make_problem("logistic")
    with pytest.raises(ValueError, match=r"unknown model") as excinfo:
        ALL[name](X, y, theta, model)
    for valid in MODELS:
        assert valid in str(excinfo.value)
    assert repr(model) in str(excinfo.value)


@pytest.mark.parametrize("kind", ["hessian", "fisher", "TRUE", "", "none", None, 1])
@pytest.mark.parametrize("model", MODELS)
def test_unknown_kind_lists_the_valid_ones(model, kind):
    X, y, theta = make_problem(model)
    with pytest.raises(ValueError, match=r"unknown kind") as excinfo:
        ngdx.fisher(X, y, theta, model, kind)
    for valid in KINDS:
        assert valid in str(excinfo.value)


# ----------------------------------------------------------------------- scalar options
@pytest.mark.parametrize("damping", [-1.0, -1e-12, -np.inf, np.inf, np.nan, "0.1", None])
def test_bad_damping_is_rejected(damping):
    with pytest.raises(ValueError, match=r"damping must be"):
        ngdx.natural_gradient(np.eye(2), np.ones(2), damping=damping)


@pytest.mark.parametrize("n_mc_samples", [0, -1, 1.5, True, "2", None])
@pytest.mark.parametrize("model", MODELS)
def test_bad_n_mc_samples_is_rejected(model, n_mc_samples):
    X, y, theta = make_problem(model)
    with pytest.raises(ValueError, match=r"n_mc_samples must be an integer >= 1"):
        ngdx.fisher(X, y, theta, model, "mc", n_mc_samples=n_mc_samples, seed=0)
    with pytest.raises(ValueError, match=r"n_mc_samples must be an integer >= 1"):
        ngdx.value_grad_curvature(X, y, theta, model, "mc", n_mc_samples=n_mc_samples)


@pytest.mark.parametrize("model", MODELS)
def test_n_samples_is_a_deprecated_alias_of_n_mc_samples(model):
    X, y, theta = make_problem(model)
    want = ngdx.fisher(X, y, theta, model, "mc", n_mc_samples=3, seed=0)
    with pytest.warns(DeprecationWarning, match="n_mc_samples"):
        got = ngdx.fisher(X, y, theta, model, "mc", n_samples=3, seed=0)
    np.testing.assert_array_equal(got, want)
    with pytest.warns(DeprecationWarning, match="n_mc_samples") as record:
        ngdx.fit(X, y, model, fisher="mc", n_samples=2, seed=0, max_iter=2, tol=0)
    assert record[0].filename == __file__  # points at the caller


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5, np.float64(3.0), "1", True, [1]])
@pytest.mark.parametrize("model", MODELS)
def test_bad_seed_is_rejected(model, seed):
    X, y, theta = make_problem(model)
    with pytest.raises(ValueError, match=r"seed must be None or an integer in \[0, 2\*\*64\)"):
        ngdx.fisher(X, y, theta, model, "mc", seed=seed)


def test_seed_range_ends_are_accepted():
    X, y, theta = make_problem("logistic")
    for seed in (0, 2**64 - 1, np.uint64(2**64 - 1), np.int32(7)):
        assert np.all(np.isfinite(ngdx.fisher(X, y, theta, kind="mc", seed=seed)))


BAD_THREADS = [0, -1, 1.5, True, False, "2", np.float64(2.0)]


@pytest.mark.parametrize("n_threads", BAD_THREADS)
@pytest.mark.parametrize("name", sorted(ALL))
def test_bad_n_threads_is_rejected(name, n_threads):
    X, y, theta = make_problem("logistic")
    with pytest.raises(ValueError, match=r"n_threads must be an integer in \[1, 1024\]"):
        ALL[name](X, y, theta, "logistic", n_threads=n_threads)


@pytest.mark.parametrize("n_threads", BAD_THREADS)
def test_bad_n_threads_is_rejected_by_fisher_from_scores(n_threads):
    with pytest.raises(ValueError, match=r"n_threads must be an integer in \[1, 1024\]"):
        ngdx.fisher_from_scores(np.ones((3, 2)), n_threads=n_threads)


@pytest.mark.parametrize("n_threads", BAD_THREADS)
def test_bad_n_threads_is_rejected_by_set_num_threads(n_threads):
    before = ngdx.get_num_threads()
    try:
        with pytest.raises(ValueError, match=r"n_threads must be an integer in \[1, 1024\]"):
            ngdx.set_num_threads(n_threads)
        assert ngdx.get_num_threads() == before
    finally:
        ngdx.set_num_threads(before)


def test_numpy_integer_n_threads_is_accepted():
    X, y, theta = make_problem("logistic")
    assert ngdx.loss(X, y, theta, n_threads=np.int64(1)) == ngdx.loss(X, y, theta, n_threads=1)


# ----------------------------------------------------------------------- missing labels
@pytest.mark.parametrize("model", MODELS)
def test_y_is_required_by_the_empirical_fisher(model):
    X, _, theta = make_problem(model)
    for diagonal in (False, True):
        with pytest.raises(ValueError, match=r"y is required"):
            ngdx.fisher(X, None, theta, model, "empirical", diagonal=diagonal)


@pytest.mark.parametrize("func", [ngdx.loss, ngdx.grad, ngdx.scores, ngdx.hessian])
def test_y_is_required_by_labelled_quantities(func):
    X, _, theta = make_problem("logistic")
    with pytest.raises(ValueError, match=r"y is required"):
        func(X, None, theta)


@pytest.mark.parametrize("model", MODELS)
def test_y_may_be_omitted_for_the_true_and_mc_fisher(model):
    X, y, theta = make_problem(model)
    for kind, kw in (("true", {}), ("mc", {"seed": 5, "n_mc_samples": 2})):
        with_y = ngdx.fisher(X, y, theta, model, kind, n_threads=1, **kw)
        without = ngdx.fisher(X, None, theta, model, kind, n_threads=1, **kw)
        np.testing.assert_array_equal(without, with_y)


# ----------------------------------------------------------------------- dtypes
NON_NUMERIC = {
    "str": lambda a: a.astype(str),
    "bytes": lambda a: a.astype("S8"),
    "object": lambda a: a.astype(object),
    "complex": lambda a: a.astype(complex),
    "datetime": lambda a: a.astype("int64").astype("datetime64[s]"),
}


@pytest.mark.parametrize("kind", sorted(NON_NUMERIC))
@pytest.mark.parametrize("name", sorted(ALL))
def test_non_numeric_X_is_rejected(name, kind):
    X, y, theta = make_problem("logistic")
    with pytest.raises(ValueError, match=r"X must hold real numbers \(bool, integer or float dtype\), got dtype"):
        ALL[name](NON_NUMERIC[kind](X), y, theta, "logistic")


@pytest.mark.parametrize("kind", sorted(NON_NUMERIC))
@pytest.mark.parametrize("name", sorted(LABELLED))
def test_non_numeric_y_is_rejected(name, kind):
    X, y, theta = make_problem("logistic")
    with pytest.raises(ValueError, match=r"y must hold real numbers \(bool, integer or float dtype\), got dtype"):
        LABELLED[name](X, NON_NUMERIC[kind](y), theta, "logistic")


@pytest.mark.parametrize("model", ["logistic", "multinomial"])
@pytest.mark.parametrize("kind", sorted(NON_NUMERIC))
@pytest.mark.parametrize("name", sorted(ALL))
def test_non_numeric_theta_is_rejected(name, kind, model):
    X, y, theta = make_problem(model)
    with pytest.raises(ValueError, match=r"theta\w* must hold real numbers \(bool, integer or float dtype\), got dtype"):
        ALL[name](X, y, NON_NUMERIC[kind](theta), model)


@pytest.mark.parametrize("kind", sorted(NON_NUMERIC))
def test_non_numeric_S_F_g_are_rejected(kind):
    S = np.arange(6.0).reshape(3, 2)
    with pytest.raises(ValueError, match=r"S must hold real numbers \(bool, integer or float dtype\), got dtype"):
        ngdx.fisher_from_scores(NON_NUMERIC[kind](S))
    F, g = np.eye(2), np.ones(2)
    with pytest.raises(ValueError, match=r"F must hold real numbers \(bool, integer or float dtype\), got dtype"):
        ngdx.natural_gradient(NON_NUMERIC[kind](F), g)
    with pytest.raises(ValueError, match=r"g must hold real numbers \(bool, integer or float dtype\), got dtype"):
        ngdx.natural_gradient(F, NON_NUMERIC[kind](g))


def test_timedelta_arrays_are_rejected():
    # timedelta64 is a NumPy integer subtype but not a real number: durations must not be
    # silently read as counts of their unit (the accepted dtypes are bool, ints, floats).
    X, y, theta = make_problem("logistic")
    td = lambda a: a.astype("int64").astype("timedelta64[s]")  # noqa: E731
    with pytest.raises(ValueError, match=r"X must hold real numbers \(bool, integer or float dtype\), got dtype"):
        ngdx.loss(td(X), y, theta)
    with pytest.raises(ValueError, match=r"y must hold real numbers \(bool, integer or float dtype\), got dtype"):
        ngdx.loss(X, td(y), theta)
    with pytest.raises(ValueError, match=r"theta must hold real numbers \(bool, integer or float dtype\), got dtype"):
        ngdx.grad(X, y, td(theta))
    with pytest.raises(ValueError, match=r"S must hold real numbers \(bool, integer or float dtype\), got dtype"):
        ngdx.fisher_from_scores(td(X))
    with pytest.raises(ValueError, match=r"F must hold real numbers \(bool, integer or float dtype\), got dtype"):
        ngdx.natural_gradient(td(np.eye(2)), np.ones(2))


# ----------------------------------------------------------------------- natural gradient
def test_indefinite_F_raises_linalg_error():
    F, g = np.array([[1.0, 2.0], [2.0, 1.0]]), np.ones(2)  # eigenvalues -1 and 3
    for damping in (0.0, 0.5, 1.0):  # 1.0 makes it singular, not yet definite
        with pytest.raises(np.linalg.LinAlgError, match=r"not positive definite"):
            ngdx.natural_gradient(F, g, damping=damping)
    x = ngdx.natural_gradient(F, g, damping=1.5)
    np.testing.assert_allclose(x, np.linalg.solve(F + 1.5 * np.eye(2), g), rtol=1e-13)


@pytest.mark.parametrize("F", [np.array([[1.0, 1.0], [1.0, 1.0]]), np.zeros((2, 2)),
                               np.diag([1.0, 0.0, 2.0])])
def test_singular_psd_F_needs_damping(F):
    g = np.arange(1.0, F.shape[0] + 1)
    with pytest.raises(np.linalg.LinAlgError, match=r"not positive definite"):
        ngdx.natural_gradient(F, g)
    for damping in (1e-3, 2.0):
        x = ngdx.natural_gradient(F, g, damping=damping)
        np.testing.assert_allclose((F + damping * np.eye(len(g))) @ x, g, rtol=1e-10)


def test_negative_definite_F_raises_linalg_error_even_with_small_damping():
    with pytest.raises(np.linalg.LinAlgError):
        ngdx.natural_gradient(-np.eye(3), np.ones(3), damping=0.5)


@pytest.mark.parametrize("F", [np.array([[2.0, 1.0], [0.0, 2.0]]),
                               np.array([[2.0, 0.0], [1e-6, 2.0]])])
def test_non_symmetric_F_is_a_value_error(F):
    with pytest.raises(ValueError, match=r"F must be symmetric") as excinfo:
        ngdx.natural_gradient(F, np.ones(2), damping=1.0)
    assert not isinstance(excinfo.value, np.linalg.LinAlgError)


# ----------------------------------------------------------------------- the private core
def _rng_X(n, d, seed=3):
    return np.random.default_rng(seed).normal(size=(n, d))


def fused_args(model="logistic", n=10, d=3, k=K, **override):
    """Valid keyword arguments of _core.glm.fused_pass, with ``override`` applied."""
    n_classes = k if model == "multinomial" else 1
    p = d * n_classes
    y = (np.arange(n) % n_classes).astype(float) if model == "multinomial" else (
        np.arange(n) % 2).astype(float)
    args = dict(model=model, X=_rng_X(n, d), y=y, theta=np.zeros(p), n_classes=n_classes,
                fit_intercept=False, sample_weight=None, kind="true", diagonal=False,
                n_samples=1, seed=0, n_threads=2, grad_out=np.empty(p),
                curvature_out=np.empty((p, p)))
    args.update(override)
    return args


def scores_args(model="logistic", n=10, d=3, k=K, **override):
    a = fused_args(model, n, d, k)
    args = {key: a[key] for key in ("model", "X", "y", "theta", "n_classes", "fit_intercept",
                                    "n_threads")}
    args["out"] = np.empty((n, a["theta"].size))
    args.update(override)
    return args


def kl_args(model="logistic", n=10, d=3, k=K, **override):
    a = fused_args(model, n, d, k)
    args = dict(model=model, X=a["X"], theta_p=a["theta"], theta_q=a["theta"] + 0.1,
                n_classes=a["n_classes"], fit_intercept=False, sample_weight=None, n_threads=2)
    args.update(override)
    return args


def labels_args(model="logistic", n=10, d=3, k=K, **override):
    a = fused_args(model, n, d, k)
    args = dict(model=model, X=a["X"], theta=a["theta"], n_classes=a["n_classes"],
                fit_intercept=False, n_samples=2, seed=1, n_threads=2, out=np.empty((n, 2)))
    args.update(override)
    return args


def fvp_args(model="logistic", n=10, d=3, k=K, **override):
    a = kl_args(model, n, d, k)
    p = a["theta_p"].size
    args = dict(model=model, X=a["X"], theta=a["theta_p"], v=np.ones(p),
                n_classes=a["n_classes"], fit_intercept=False, sample_weight=None, n_threads=2,
                out=np.empty(p))
    args.update(override)
    return args


@pytest.mark.parametrize("model", MODELS)
def test_core_accepts_the_baseline_arguments(model):
    # The negative cases below each change one argument of these; here every output
    # buffer starts as NaN and must come back filled.
    def filled(args, key):
        args[key][...] = np.nan
        return args

    args = filled(filled(fused_args(model), "grad_out"), "curvature_out")
    _core.glm.fused_pass(**args)
    assert np.all(np.isfinite(args["grad_out"])) and np.all(np.isfinite(args["curvature_out"]))
    args = filled(scores_args(model), "out")
    _core.glm.scores(**args)
    assert np.all(np.isfinite(args["out"]))
    assert np.isfinite(_core.glm.mean_kl(**kl_args(model)))
    args = filled(labels_args(model), "out")
    _core.glm.sample_labels(**args)
    assert np.all(np.isfinite(args["out"]))
    args = filled(fvp_args(model), "out")
    _core.glm.fisher_vector_product(**args)
    assert np.all(np.isfinite(args["out"]))


F32 = np.float32
BAD_FUSED = {
    "theta too short": (dict(theta=np.zeros(2)), ValueError, r"theta must have shape \(3,\)"),
    "theta too long": (dict(theta=np.zeros(4)), ValueError, r"theta must have shape \(3,\)"),
    "theta 2-D": (dict(theta=np.zeros((3, 1))), ValueError, r"theta must have shape"),
    "grad_out short": (dict(grad_out=np.empty(2)), ValueError, r"grad_out must have shape"),
    "grad_out 2-D": (dict(grad_out=np.empty((3, 1))), ValueError, r"grad_out must have shape"),
    "curvature_out wide": (dict(curvature_out=np.empty((3, 4))), ValueError,
                           r"curvature_out must have shape \(3, 3\)"),
    "curvature_out 1-D": (dict(curvature_out=np.empty(3)), ValueError,
                          r"curvature_out must have shape \(3, 3\)"),
    "curvature_out full when diagonal": (dict(diagonal=True), ValueError,
                                         r"curvature_out must have shape \(3,\)"),
    "curvature_out missing": (dict(curvature_out=None), ValueError, r"curvature_out is needed"),
    "y short": (dict(y=np.zeros(9)), ValueError, r"y must have shape \(10,\)"),
    "y long": (dict(y=np.zeros(11)), ValueError, r"y must have shape \(10,\)"),
    "y missing": (dict(y=None), ValueError, r"y must be given"),
    "X 1-D": (dict(X=np.zeros(10)), ValueError, r"X must be 2-D"),
    "X no rows": (dict(X=np.zeros((0, 3)), y=np.zeros(0)), ValueError, r"at least one row"),
    "X no columns": (dict(X=np.zeros((10, 0)), theta=np.zeros(0), grad_out=np.empty(0),
                          curvature_out=np.empty((0, 0))), ValueError, r"at least one parameter"),
    "n_classes 0": (dict(n_classes=0), ValueError, r"n_classes must be >= 1"),
    "n_classes -1": (dict(n_classes=-1), ValueError, r"n_classes must be >= 1"),
    "n_classes 2 for logistic": (dict(n_classes=2, theta=np.zeros(6), grad_out=np.empty(6),
                                      curvature_out=np.empty((6, 6))), ValueError,
                                 r"only multinomial"),
    "sample_weight short": (dict(sample_weight=np.ones(9)), ValueError,
                            r"sample_weight must have shape"),
    "sample_weight zero sum": (dict(sample_weight=np.zeros(10)), ValueError, r"positive sum"),
    "unknown model": (dict(model="foo"), ValueError, r"unknown model 'foo'"),
    "unknown kind": (dict(kind="foo"), ValueError, r"unknown curvature kind 'foo'"),
    "mc n_samples 0": (dict(kind="mc", n_samples=0), ValueError, r"n_samples must be >= 1"),
    "negative seed": (dict(seed=-1), TypeError, r"incompatible function arguments"),
    "float16 X": (dict(X=_rng_X(10, 3).astype(np.float16)), TypeError,
                  r"X must be a C-contiguous float64 or float32 array, got dtype float16"),
    "int X": (dict(X=np.zeros((10, 3), dtype=np.int64)), TypeError, r"got dtype int64"),
    "list X": (dict(X=np.zeros((10, 3)).tolist()), TypeError, r"incompatible"),
    "Fortran X": (dict(X=np.asfortranarray(_rng_X(10, 3))), TypeError,
                  r"X must be a C-contiguous .* got dtype float64, not C-contiguous"),
    "Fortran float32 X": (dict(X=np.asfortranarray(_rng_X(10, 3).astype(F32))), TypeError,
                          r"got dtype float32, not C-contiguous"),
    "strided X": (dict(X=_rng_X(10, 6)[:, ::2]), TypeError, r"not C-contiguous"),
    "strided theta": (dict(theta=np.zeros(6)[::2]), TypeError, r"incompatible"),
    "int y": (dict(y=np.zeros(10, dtype=np.int64)), TypeError, r"incompatible"),
    "float32 grad_out": (dict(grad_out=np.empty(3, F32)), TypeError, r"incompatible"),
    "Fortran curvature_out": (dict(curvature_out=np.empty((3, 3), order="F")), TypeError,
                              r"incompatible"),
    "list theta": (dict(theta=[0.0, 0.0, 0.0]), TypeError, r"incompatible"),
}


@pytest.mark.parametrize("case", sorted(BAD_FUSED))
def test_core_fused_pass_rejects(case):
    override, exc, pattern = BAD_FUSED[case]
    with pytest.raises(exc, match=pattern):
        _core.glm.fused_pass(**fused_args(**override))


def test_core_rejects_read_only_output_buffers():
    out = np.empty(3)
    out.setflags(write=False)
    with pytest.raises((ValueError, TypeError)):
        _core.glm.fused_pass(**fused_args(grad_out=out))
    out = np.empty((10, 3))
    out.setflags(write=False)
    with pytest.raises((ValueError, TypeError)):
        _core.glm.scores(**scores_args(out=out))


BAD_MULTINOMIAL_LABELS = [7.0, 3.0, -1.0, 1.5, np.nan, np.inf, -np.inf, 1e300]


@pytest.mark.parametrize("kind", ["none", "true", "empirical", "hessian", "mc"])
@pytest.mark.parametrize("label", BAD_MULTINOMIAL_LABELS)
def test_core_fused_pass_rejects_multinomial_labels_out_of_range(label, kind):
    args = fused_args("multinomial", kind=kind)
    args["y"][4] = label
    with pytest.raises(ValueError, match=r"multinomial labels must be integers in 0\.\.2"):
        _core.glm.fused_pass(**args)


@pytest.mark.parametrize("label", BAD_MULTINOMIAL_LABELS)
def test_core_scores_rejects_multinomial_labels_out_of_range(label):
    args = scores_args("multinomial")
    args["y"][9] = label
    with pytest.raises(ValueError, match=r"multinomial labels must be integers in 0\.\.2"):
        _core.glm.scores(**args)


@pytest.mark.parametrize("n_classes", [0, 1, -3])
def test_core_multinomial_needs_two_classes(n_classes):
    d = 3
    p = max(d * n_classes, 0)
    args = fused_args("multinomial", n_classes=n_classes, theta=np.zeros(p),
                      grad_out=np.empty(p), curvature_out=np.empty((p, p)), y=np.zeros(10))
    with pytest.raises(ValueError, match=r"n_classes|classes"):
        _core.glm.fused_pass(**args)
    with pytest.raises(ValueError, match=r"n_classes|classes"):
        _core.glm.scores(**scores_args("multinomial", n_classes=n_classes, theta=np.zeros(p),
                                   y=np.zeros(10), out=np.empty((10, p))))
    with pytest.raises(ValueError, match=r"n_classes|classes"):
        _core.glm.mean_kl(**kl_args("multinomial", n_classes=n_classes, theta_p=np.zeros(p),
                                theta_q=np.zeros(p)))
    with pytest.raises(ValueError, match=r"n_classes|classes"):
        _core.glm.sample_labels(**labels_args("multinomial", n_classes=n_classes, theta=np.zeros(p)))


BAD_SCORES = {
    "theta short": (dict(theta=np.zeros(2)), ValueError, r"theta must have shape"),
    "out wide": (dict(out=np.empty((10, 4))), ValueError, r"out must have shape \(10, 3\)"),
    "out short": (dict(out=np.empty((9, 3))), ValueError, r"out must have shape \(10, 3\)"),
    "out 1-D": (dict(out=np.empty(30)), ValueError, r"out must have shape \(10, 3\)"),
    "y short": (dict(y=np.zeros(9)), ValueError, r"y must have shape"),
    "n_classes 0": (dict(n_classes=0), ValueError, r"n_classes must be >= 1"),
    "unknown model": (dict(model="foo"), ValueError, r"unknown model"),
    "float32 out": (dict(out=np.empty((10, 3), F32)), TypeError, r"incompatible"),
    "Fortran X": (dict(X=np.asfortranarray(_rng_X(10, 3))), TypeError, r"not C-contiguous"),
    "float16 X": (dict(X=_rng_X(10, 3).astype(np.float16)), TypeError, r"got dtype float16"),
    "float32 theta": (dict(theta=np.zeros(3, F32)), TypeError, r"incompatible"),
}


@pytest.mark.parametrize("case", sorted(BAD_SCORES))
def test_core_scores_rejects(case):
    override, exc, pattern = BAD_SCORES[case]
    with pytest.raises(exc, match=pattern):
        _core.glm.scores(**scores_args(**override))


BAD_KL = {
    "theta_p short": (dict(theta_p=np.zeros(2)), ValueError, r"theta_p must have shape"),
    "theta_q long": (dict(theta_q=np.zeros(4)), ValueError, r"theta_q must have shape"),
    "sample_weight long": (dict(sample_weight=np.ones(11)), ValueError, r"sample_weight"),
    "n_classes 0": (dict(n_classes=0), ValueError, r"n_classes must be >= 1"),
    "X no rows": (dict(X=np.zeros((0, 3))), ValueError, r"at least one row"),
    "float32 theta_p": (dict(theta_p=np.zeros(3, F32)), TypeError, r"incompatible"),
    "strided theta_q": (dict(theta_q=np.zeros(6)[::2]), TypeError, r"incompatible"),
}


@pytest.mark.parametrize("case", sorted(BAD_KL))
def test_core_mean_kl_rejects(case):
    override, exc, pattern = BAD_KL[case]
    with pytest.raises(exc, match=pattern):
        _core.glm.mean_kl(**kl_args(**override))


BAD_LABELS_CORE = {
    "out wide": (dict(out=np.empty((10, 3))), ValueError, r"out must have shape \(10, 2\)"),
    "out 1-D": (dict(out=np.empty(20)), ValueError, r"out must have shape \(10, 2\)"),
    "n_samples 0": (dict(n_samples=0, out=np.empty((10, 0))), ValueError,
                    r"n_samples must be >= 1"),
    "theta long": (dict(theta=np.zeros(4)), ValueError, r"theta must have shape"),
    "n_classes 0": (dict(n_classes=0), ValueError, r"n_classes must be >= 1"),
    "float32 out": (dict(out=np.empty((10, 2), F32)), TypeError, r"incompatible"),
    "Fortran out": (dict(out=np.empty((10, 2), order="F")), TypeError, r"incompatible"),
}


@pytest.mark.parametrize("case", sorted(BAD_LABELS_CORE))
def test_core_sample_labels_rejects(case):
    override, exc, pattern = BAD_LABELS_CORE[case]
    with pytest.raises(exc, match=pattern):
        _core.glm.sample_labels(**labels_args(**override))


BAD_FVP = {
    "theta short": (dict(theta=np.zeros(2)), ValueError, r"theta must have shape \(3,\)"),
    "v long": (dict(v=np.ones(4)), ValueError, r"v must have shape \(3,\)"),
    "out 2-D": (dict(out=np.empty((3, 1))), ValueError, r"out must have shape \(3,\)"),
    "n_classes 0": (dict(n_classes=0), ValueError, r"n_classes must be >= 1"),
    "X no rows": (dict(X=np.zeros((0, 3))), ValueError, r"at least one row"),
    "float32 v": (dict(v=np.ones(3, F32)), TypeError, r"incompatible"),
    "strided out": (dict(out=np.empty(6)[::2]), TypeError, r"incompatible"),
}


@pytest.mark.parametrize("case", sorted(BAD_FVP))
def test_core_fisher_vector_product_rejects(case):
    override, exc, pattern = BAD_FVP[case]
    with pytest.raises(exc, match=pattern):
        _core.glm.fisher_vector_product(**fvp_args(**override))


def test_core_fisher_from_scores_rejects_bad_shapes():
    S = _rng_X(8, 3)
    _core.linalg.fisher_from_scores(S, False, 2, np.empty((3, 3)))  # baseline
    cases = [
        ((S, False, 2, np.empty((3, 4))), ValueError, r"out must have shape \(3, 3\)"),
        ((S, False, 2, np.empty(3)), ValueError, r"out must have shape \(3, 3\)"),
        ((S, True, 2, np.empty((3, 3))), ValueError, r"out must have shape \(3,\)"),
        ((S[0], False, 2, np.empty((3, 3))), ValueError, r"S must be 2-D"),
        ((np.zeros((0, 3)), False, 2, np.empty((3, 3))), ValueError, r"non-empty"),
        ((np.zeros((0, 3)), True, 2, np.empty(3)), ValueError, r"non-empty"),
        ((np.asfortranarray(S), False, 2, np.empty((3, 3))), TypeError, r"incompatible"),
        ((S.astype(F32), False, 2, np.empty((3, 3))), TypeError, r"incompatible"),
        ((S, False, 2, np.empty((3, 3), F32)), TypeError, r"incompatible"),
    ]
    for args, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            _core.linalg.fisher_from_scores(*args)


def test_core_damped_cholesky_solve_rejects_bad_shapes():
    F, g = 2.0 * np.eye(3), np.ones(3)
    out = np.empty(3)
    assert _core.linalg.damped_cholesky_solve(F, g, 0.0, out)  # baseline
    np.testing.assert_allclose(out, 0.5 * g)
    cases = [
        ((np.eye(3)[:, :2].copy(), g, 0.0, out), ValueError, r"F must be a square matrix"),
        ((np.ones(3), g, 0.0, out), ValueError, r"F must be a square matrix"),
        ((F, np.ones(2), 0.0, out), ValueError, r"g must have shape \(3,\)"),
        ((F, g, 0.0, np.empty(4)), ValueError, r"out must have shape \(3,\)"),
        ((np.zeros((0, 0)), np.zeros(0), 1.0, np.empty(0)), ValueError, r"non-empty"),
        ((np.asfortranarray(np.triu(np.ones((3, 3))) + 2 * np.eye(3)), g, 0.0, out), TypeError,
         r"incompatible"),
        ((F.astype(F32), g, 0.0, out), TypeError, r"incompatible"),
        ((F, np.ones(3, dtype=np.int64), 0.0, out), TypeError, r"incompatible"),
        ((F, g, 0.0, np.empty(6)[::2]), TypeError, r"incompatible"),
    ]
    for args, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            _core.linalg.damped_cholesky_solve(*args)


@pytest.mark.parametrize("kind", ["None", "none", "fisher", 1, True])
def test_value_grad_curvature_rejects_an_unknown_kind_listing_the_valid_ones(kind):
    X, y, theta = make_problem("logistic")
    with pytest.raises(ValueError, match=r"valid: 'true', 'empirical', 'mc', 'hessian' or None"):
        ngdx.value_grad_curvature(X, y, theta, "logistic", kind)


@pytest.mark.parametrize("diagonal", [None, 1, "yes"])
def test_value_grad_curvature_rejects_a_non_boolean_diagonal(diagonal):
    X, y, theta = make_problem("logistic")
    with pytest.raises(ValueError, match="diagonal must be True or False"):
        ngdx.value_grad_curvature(X, y, theta, "logistic", diagonal=diagonal)


def test_value_grad_curvature_needs_y():
    X, y, theta = make_problem("logistic")
    with pytest.raises(ValueError, match="y is required"):
        ngdx.value_grad_curvature(X, None, theta, "logistic")

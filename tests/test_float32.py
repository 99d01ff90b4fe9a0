"""float32 design matrices read by the core without a copy, and X copied for its layout.

A float32 X holds values that float64 represents exactly, so every result of a float32 X
must equal the float64 path's on ``X.astype(np.float64)`` up to the order of float64
sums (1e-12, as in test_parity): a kernel that accumulated in float32, or rounded eta or a product to float32,
would be off by ~1e-7. And the float32 array itself must reach the kernels (no copy).
"""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest

import ngdx
from ngdx import _core, _functional
from ngdx import _reference as ref
from ngdx._data import ndarray as _ndarray
from ngdx._functional import fused

from conftest import make_problem
from test_parity import close, gram_kernel  # noqa: F401  (gram_kernel: a fixture)

F32 = np.float32
# n below one 256-row block, not a multiple of it, and several blocks (of 64 and 128 rows
# for the Gram); d = 1; K = 2.
SIZES = [(1, 1, 2), (300, 4, 3), (777, 2, 2), (513, 6, 4)]


def f32_problem(model, n=300, d=4, K=3, seed=0, fit_intercept=False):
    """(X32, X64, y, theta): X32 float32, X64 its exact float64 copy."""
    X, y, theta = make_problem(model, n, d, K, seed=seed, fit_intercept=fit_intercept)
    X32 = X.astype(F32)
    return X32, X32.astype(np.float64), y, theta


# ------------------------------------------------------------------ the kernels, by parity
@pytest.mark.parametrize("n,d,K", SIZES)
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_fused_pass_of_float32_X_is_the_float64_pass_of_its_values(
        model, n, d, K, fit_intercept, weighted, n_threads, gram_kernel):
    X32, X64, y, theta = f32_problem(model, n, d, K, seed=n + d, fit_intercept=True)
    if not fit_intercept:
        theta = theta.reshape(d + 1, -1)[:d].ravel()
    sw = np.random.default_rng(1).uniform(0.1, 2.0, size=n) if weighted else None
    kw = dict(sample_weight=sw, fit_intercept=fit_intercept)
    for kind in ("none", "true", "empirical", "hessian", "mc"):
        for diagonal in (False, True):
            got = fused(X32, y, theta, model, kind, diagonal=diagonal, n_mc_samples=3, seed=11,
                        n_threads=n_threads, **kw)
            want = fused(X64, y, theta, model, kind, diagonal=diagonal, n_mc_samples=3, seed=11,
                         n_threads=n_threads, **kw)
            for g, w in zip(got, want):
                if w is not None:
                    close(g, w)
            if kind != "none":  # and the reference, on the same values
                close(got[2], ref.curvature(X64, y, theta, model, kind, diagonal=diagonal,
                                            n_samples=3, seed=11, **kw))
        close(got[0], ref.loss(X64, y, theta, model, **kw))
        close(got[1], ref.grad(X64, y, theta, model, **kw))


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_per_row_kernels_of_float32_X_are_the_float64_kernels_of_its_values(
        model, fit_intercept, n_threads):
    n, d = 700, 3
    X32, X64, y, theta = f32_problem(model, n, d, 3, seed=14, fit_intercept=True)
    if not fit_intercept:
        theta = theta.reshape(d + 1, -1)[:d].ravel()
    K = 3 if model == "multinomial" else 1
    p = theta.size
    rng = np.random.default_rng(3)
    v, theta_q = rng.normal(size=p), theta + rng.normal(scale=0.3, size=p)
    sw = rng.uniform(0, 2, size=n)
    glm = _core.glm

    def run(X):
        out = {"scores": np.empty((n, p)), "mean": np.empty((n, K)), "fv": np.empty(p),
               "labels": np.empty((n, 2))}
        glm.scores(model, X, y, theta, K, fit_intercept, n_threads, out["scores"])
        glm.predict_mean(model, X, theta, K, fit_intercept, n_threads, out["mean"])
        out["quad"] = glm.fisher_vector_product(model, X, theta, v, K, fit_intercept, sw,
                                                n_threads, out["fv"])
        out["kl"] = glm.mean_kl(model, X, theta, theta_q, K, fit_intercept, sw, n_threads)
        glm.sample_labels(model, X, theta, K, fit_intercept, 2, 5, n_threads, out["labels"])
        if K == 1:
            for kind in ("true", "empirical", "hessian", "mc"):
                out[kind] = np.empty(n)
                glm.curvature_weights(model, X, y, theta, fit_intercept, sw, kind, 3, 7,
                                      n_threads, out[kind])
        return out

    got, want = run(X32), run(X64)
    assert got.keys() == want.keys()
    for name in want:
        close(got[name], want[name])
    close(got["scores"], ref.scores(X64, y, theta, model, fit_intercept=fit_intercept))
    close(got["fv"], ref.fisher_vector_product(X64, theta, v, model, sample_weight=sw,
                                               fit_intercept=fit_intercept)[0])


@pytest.mark.parametrize("n,d", [(1, 1), (300, 7), (1000, 40)])
@pytest.mark.parametrize("intercept", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_weighted_gram_of_float32_A_is_the_float64_gram_of_its_values(n, d, intercept,
                                                                      n_threads, gram_kernel):
    A32 = np.random.default_rng(n + d).normal(size=(n, d)).astype(F32)
    A64 = A32.astype(np.float64)
    w = np.random.default_rng(2).normal(size=n)  # signed weights
    dp = d + intercept
    got, want = np.empty((dp, dp)), np.empty((dp, dp))
    _core.linalg.weighted_gram(A32, w, intercept, 0.5, n_threads, got)
    _core.linalg.weighted_gram(A64, w, intercept, 0.5, n_threads, want)
    close(got, want)
    A1 = np.hstack([A64, np.ones((n, 1))]) if intercept else A64
    close(got, 0.5 * A1.T @ (w[:, None] * A1))


def test_products_with_float32_X_are_float64_products_with_its_values():
    X32, X64, _, _ = f32_problem("gaussian", 2 * _ndarray._BLOCK_ROWS + 5, 3, seed=4)
    rows32, rows64 = (_ndarray.ArrayRows(X, None) for X in (X32, X64))
    rng = np.random.default_rng(5)
    for B in (rng.normal(size=3), rng.normal(size=(3, 2))):
        got = rows32.matmul(B)
        assert got.dtype == np.float64
        close(got, rows64.matmul(B))
    for Z in (rng.normal(size=X32.shape[0]), rng.normal(size=(X32.shape[0], 2))):
        close(rows32.rmatmul(Z), rows64.rmatmul(Z))
    small32, small64 = (_ndarray.ArrayRows(X[:50], None) for X in (X32, X64))
    assert small32.row_gram().dtype == np.float64
    close(small32.row_gram(), small64.row_gram())


# ------------------------------------------------------------------ the public API
def evaluate(X, y, theta, theta_q, model):
    """Every function of the functional API at one point, by name."""
    return {
        "loss": ngdx.loss(X, y, theta, model),
        "grad": ngdx.grad(X, y, theta, model),
        "scores": ngdx.scores(X, y, theta, model),
        "hessian": ngdx.hessian(X, y, theta, model),
        "fisher": ngdx.fisher(X, y, theta, model),
        "fisher_mc_diag": ngdx.fisher(X, None, theta, model, "mc", diagonal=True, seed=3),
        "vgc": ngdx.value_grad_curvature(X, y, theta, model, "empirical")[2],
        "kl": ngdx.kl(X, theta, theta_q, model),
    }


def test_functional_api_of_float32_X_is_the_float64_api_of_its_values(model):
    X32, X64, y, theta = f32_problem(model, 600, 4, 3, seed=5)
    theta_q = theta + 0.2
    got, want = evaluate(X32, y, theta, theta_q, model), evaluate(X64, y, theta, theta_q, model)
    for name in want:
        close(got[name], want[name])


FITS = [dict(), dict(method="newton", step="armijo"), dict(method="diag"),
        dict(linear_solver="cg"), dict(linear_solver="woodbury", l2=0.1),
        dict(method="gd", max_iter=30)]


@pytest.mark.parametrize("options", FITS,
                         ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("weighted", [False, True])
def test_fit_and_predict_of_float32_X_are_those_of_its_values(model, options, weighted):
    if model == "multinomial" and options.get("linear_solver") == "woodbury":
        pytest.skip("woodbury is for one-output models")
    X32, X64, y, _ = f32_problem(model, 400, 4, 3, seed=6)
    sw = np.random.default_rng(7).uniform(0.5, 2.0, size=400) if weighted else None
    kw = {"model": model, "l2": 1e-2, "sample_weight": sw, **options}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ngdx.ConvergenceWarning)  # gd's 30 steps
        got, want = ngdx.fit(X32, y, **kw), ngdx.fit(X64, y, **kw)
    assert got.converged == want.converged and got.n_iter == want.n_iter and got.linear_solver == want.linear_solver
    close(got.coef, want.coef, 1e-10)  # iterates amplify the last-bit differences a little
    close(got.intercept, want.intercept, 1e-10)
    close(got.predict(X32), want.predict(X64), 1e-10)
    close(want.predict(X32), want.predict(X64))
    close(want.decision_function(X32), want.decision_function(X64))


def test_multinomial_kfac_fit_of_float32_X_is_that_of_its_values():
    X32, X64, y, _ = f32_problem("multinomial", 400, 4, 3, seed=8)
    kw = dict(model="multinomial", method="kfac", l2=1e-2)
    close(ngdx.fit(X32, y, **kw).coef, ngdx.fit(X64, y, **kw).coef, 1e-10)


@pytest.mark.parametrize("classes", [2, 3])
def test_estimators_keep_float32_X_and_give_the_float64_answers(classes):
    sklearn = pytest.importorskip("sklearn")  # noqa: F841
    X32, X64, y, _ = f32_problem("multinomial", 300, 3, classes, seed=9)
    labels = np.array(["a", "b", "c"])[y.astype(int)]
    clf32, clf64 = ngdx.NGDClassifier(l2=1e-2).fit(X32, labels), ngdx.NGDClassifier(
        l2=1e-2).fit(X64, labels)
    close(clf32.coef_, clf64.coef_, 1e-10)
    close(clf32.predict_proba(X32), clf64.predict_proba(X64), 1e-10)
    assert np.array_equal(clf64.predict(X32), clf64.predict(X64))
    reg32 = ngdx.NGDRegressor(model="poisson").fit(X32, np.abs(X64[:, 0]).round())
    reg64 = ngdx.NGDRegressor(model="poisson").fit(X64, np.abs(X64[:, 0]).round())
    close(reg32.predict(X32), reg64.predict(X64), 1e-10)


# ------------------------------------------------------------------ no copy of a float32 X
class _Recorder:
    """Stands in for ngdx._core (and its submodules), recording the first array argument,
    X, of every kernel call."""

    def __init__(self, module=_core, seen=None):
        self.module, self.seen = module, [] if seen is None else seen

    def __getattr__(self, name):
        attr = getattr(self.module, name)
        if isinstance(attr, types.ModuleType):  # _core.glm, _core.linalg
            return _Recorder(attr, self.seen)
        if not callable(attr):
            return attr

        def record(*args):
            self.seen.append((name, next(a for a in args if isinstance(a, np.ndarray))))
            return attr(*args)

        return record


def test_float32_X_reaches_every_kernel_as_the_callers_array(model, monkeypatch):
    recorder = _Recorder()
    for module in (_functional, _ndarray, ngdx):  # ngdx._core: FitResult.predict's import
        monkeypatch.setattr(module, "_core", recorder)
    X32, _, y, theta = f32_problem(model, 300, 4, 3, seed=10)
    evaluate(X32, y, theta, theta + 0.1, model)
    for options in ({}, {"method": "newton"}, {"linear_solver": "cg"}):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ngdx.ConvergenceWarning)  # 3 steps
            ngdx.fit(X32, y, model, max_iter=3, **options).predict(X32)
    names = {name for name, _ in recorder.seen}
    assert {"fused_pass", "scores", "mean_kl", "fisher_vector_product", "predict_mean"} <= names
    for name, X in recorder.seen:
        assert X is X32, name


def test_the_estimators_hand_float32_X_to_fit_and_predict_as_it_is(monkeypatch):
    pytest.importorskip("sklearn")
    from ngdx import _estimators, _result

    X32, _, y, _ = f32_problem("logistic", 200, 3, seed=11)
    seen = []
    fit, predict = _estimators.fit, _result.FitResult.predict
    monkeypatch.setattr(_estimators, "fit", lambda X, *a, **k: seen.append(X) or fit(X, *a, **k))
    monkeypatch.setattr(_result.FitResult, "predict",
                        lambda self, X: seen.append(X) or predict(self, X))
    ngdx.NGDClassifier().fit(X32, y).predict_proba(X32)
    ngdx.NGDRegressor().fit(X32, y).predict(X32)
    assert len(seen) == 5  # fit, predict_proba (+ and - eta), fit, predict
    for X in seen:
        assert X.dtype == F32 and X.flags.c_contiguous and np.shares_memory(X, X32)


# ------------------------------------------------------------------ layout: one warning per call
def _one_warning(call):
    """call() issues exactly one PerformanceWarning (and nothing else); returns its result."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = call()
    assert [w.category for w in record] == [ngdx.PerformanceWarning], record
    assert record[0].filename == __file__, record[0].filename  # the user's line
    return out


@pytest.mark.parametrize("dtype", [np.float64, F32])
def test_a_fortran_X_is_copied_once_per_call_with_one_warning(dtype):
    X, y, theta = make_problem("logistic", 300, 3, seed=12)
    XF = np.asfortranarray(X.astype(dtype))
    XC = np.ascontiguousarray(XF)
    close(_one_warning(lambda: ngdx.loss(XF, y, theta)), ngdx.loss(XC, y, theta))
    close(_one_warning(lambda: ngdx.fisher(XF, y, theta)), ngdx.fisher(XC, y, theta))
    res = _one_warning(lambda: ngdx.fit(XF, y, max_iter=20))
    close(res.coef, ngdx.fit(XC, y, max_iter=20).coef)
    close(_one_warning(lambda: res.predict(XF)), res.predict(XC))
    pytest.importorskip("sklearn")
    clf = _one_warning(lambda: ngdx.NGDClassifier().fit(XF, y))
    close(_one_warning(lambda: clf.predict_proba(XF)), clf.predict_proba(XC))
    reg = _one_warning(lambda: ngdx.NGDRegressor().fit(XF[:, ::2], y))
    close(_one_warning(lambda: reg.predict(XF[:, ::2])), reg.predict(np.ascontiguousarray(
        XF[:, ::2])))

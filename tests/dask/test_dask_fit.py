"""ngdx.fit on Dask arrays (issue 14): the same coefficients and standard errors as the
in-memory fit, for every model, on the threaded scheduler and on a real LocalCluster
(two worker processes, started here), with uneven chunks and sample weights; bad chunks
raise the in-memory errors from the workers; column chunking is refused."""

from __future__ import annotations

import re
from contextlib import nullcontext

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

import ngdx  # noqa: E402

MODELS = ("logistic", "probit", "poisson", "gaussian", "multinomial")
CHUNKS = (700, 1100, 300, 900)  # uneven row chunks, n = 3000


def problem(model, n=3000, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    beta = rng.normal(size=d) * 0.5
    eta = X @ beta - 0.2
    if model == "logistic":
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    elif model == "probit":
        y = (rng.normal(size=n) < eta).astype(float)
    elif model == "poisson":
        y = rng.poisson(np.exp(0.5 * eta)).astype(float)
    elif model == "gaussian":
        y = eta + rng.normal(size=n)
    else:
        B = rng.normal(size=(d, 3)) * 0.5
        P = np.exp(X @ B)
        P /= P.sum(axis=1, keepdims=True)
        y = (rng.random(n)[:, None] > np.cumsum(P, axis=1)).sum(axis=1).astype(float)
    w = rng.uniform(0.2, 2.0, size=n)
    return X, y, w


def as_dask(X, y, w=None, chunks=CHUNKS):
    Xd = da.from_array(X, chunks=(chunks, -1))
    yd = da.from_array(y, chunks=(chunks,))
    wd = None if w is None else da.from_array(w, chunks=(chunks,))
    return Xd, yd, wd


def fit_dask(X, y, w, model, chunks=CHUNKS, **kw):
    Xd, yd, wd = as_dask(X, y, w, chunks)
    return ngdx.fit(Xd, yd, model, sample_weight=wd, **kw)


def rel(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(b)), 1e-300)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("weighted", [False, True])
def test_threaded_scheduler_equals_in_memory(model, weighted):
    X, y, w = problem(model)
    w = w if weighted else None
    kw = dict(l2=1e-3, tol=1e-10, max_iter=200)
    ref = ngdx.fit(X, y, model, sample_weight=w, **kw)
    with dask.config.set(scheduler="threads"):
        res = fit_dask(X, y, w, model, **kw)
    assert res.converged and ref.converged
    assert rel(res.coef, ref.coef) < 1e-10 and rel(res.intercept, ref.intercept) < 1e-10
    assert rel(res.std_errors(), ref.std_errors()) < 1e-10
    assert res.n_passes == ref.n_passes  # the same passes over the data


@pytest.mark.parametrize("model", MODELS)
def test_local_cluster_equals_in_memory_with_weights(client, model):
    X, y, w = problem(model, seed=1)
    kw = dict(tol=1e-10, max_iter=200)
    ref = ngdx.fit(X, y, model, sample_weight=w, **kw)
    res = fit_dask(X, y, w, model, **kw)
    assert res.converged
    assert rel(res.coef, ref.coef) < 1e-10 and rel(res.intercept, ref.intercept) < 1e-10
    for kind in ("expected", "HC1"):
        assert rel(res.std_errors(kind), ref.std_errors(kind)) < 1e-10, kind


@pytest.mark.parametrize("method, extra", [
    ("newton", {}), ("ngd", {"linear_solver": "cg"}), ("diag", {}),
    ("ngd", {"fisher": "empirical"}), ("gd", {"step": "armijo"}),
])
def test_other_methods_follow_the_in_memory_iterates(client, method, extra):
    X, y, w = problem("logistic", seed=2)
    kw = dict(method=method, max_iter=8, tol=0.0, **extra)
    ref = ngdx.fit(X, y, "logistic", sample_weight=w, **kw)
    res = fit_dask(X, y, w, "logistic", **kw)
    assert res.n_iter == ref.n_iter
    assert rel(res.coef, ref.coef) < 1e-10
    np.testing.assert_allclose(res.history["objective"], ref.history["objective"], rtol=1e-12)


def test_kfac_multinomial_and_cluster_standard_errors(client):
    X, y, w = problem("multinomial", seed=3)
    ref = ngdx.fit(X, y, "multinomial", method="kfac", max_iter=6, tol=0.0)
    res = fit_dask(X, y, None, "multinomial", method="kfac", max_iter=6, tol=0.0)
    assert rel(res.coef, ref.coef) < 1e-10
    groups = np.arange(X.shape[0]) % 37
    full = ngdx.fit(X, y, "multinomial", sample_weight=w, tol=1e-10)
    dfit = fit_dask(X, y, w, "multinomial", tol=1e-10)
    assert rel(dfit.std_errors("cluster", groups=groups),
               full.std_errors("cluster", groups=groups)) < 1e-10


def test_a_chunking_gives_one_answer_and_chunkings_agree_to_rounding(client):
    X, y, w = problem("poisson", seed=4)
    a = fit_dask(X, y, w, "poisson", tol=1e-10)
    b = fit_dask(X, y, w, "poisson", tol=1e-10)
    np.testing.assert_array_equal(a.coef, b.coef)  # deterministic for a chunking
    with dask.config.set(scheduler="threads"):
        c = fit_dask(X, y, w, "poisson", tol=1e-10)
    np.testing.assert_array_equal(a.coef, c.coef)  # whichever scheduler ran it
    e = fit_dask(X, y, w, "poisson", chunks=(3000,), tol=1e-10)
    f = fit_dask(X, y, w, "poisson", chunks=(1,) * 7 + (2993,), tol=1e-10)
    assert rel(e.coef, a.coef) < 1e-10 and rel(f.coef, a.coef) < 1e-10


def test_float32_and_integer_chunks_read_as_in_memory():
    X, y, _ = problem("logistic", seed=5)
    X32 = X.astype(np.float32)
    ref = ngdx.fit(X32, y, "logistic", tol=1e-10)
    with dask.config.set(scheduler="threads"):
        res = ngdx.fit(da.from_array(X32, chunks=(1000, -1)), da.from_array(y, chunks=1000),
                       "logistic", tol=1e-10)
        Xi = np.rint(X * 3).astype(np.int16)
        ri = ngdx.fit(da.from_array(Xi, chunks=(1000, -1)), y, "logistic", tol=1e-10)
    assert rel(res.coef, ref.coef) < 1e-10
    assert rel(ri.coef, ngdx.fit(Xi, y, "logistic", tol=1e-10).coef) < 1e-10


def test_predict_is_lazy_and_equals_in_memory(client):
    X, y, _ = problem("multinomial", seed=6)
    res = fit_dask(X, y, None, "multinomial", tol=1e-10)
    P = res.predict(da.from_array(X, chunks=(500, -1)))
    assert isinstance(P, da.Array)
    np.testing.assert_allclose(P.compute(), res.predict(X), rtol=1e-14, atol=1e-16)
    eta = res.decision_function(da.from_array(X, chunks=(500, -1)))
    np.testing.assert_allclose(eta.compute(), res.decision_function(X), rtol=1e-13, atol=1e-13)


# ------------------------------------------------------------------ bad input
def in_memory_error(*args, **kw):
    with pytest.raises(ValueError) as e:
        ngdx.fit(*args, **kw)
    return str(e.value)


@pytest.mark.parametrize("where", ["threads", "cluster"])
def test_bad_values_in_one_chunk_raise_the_in_memory_error(request, where):
    if where == "cluster":
        request.getfixturevalue("client")
    X, y, w = problem("logistic", seed=7)
    ctx = dask.config.set(scheduler="threads") if where == "threads" else dask.config.set({})
    with ctx:
        Xb = X.copy()
        Xb[2500, 3] = np.nan  # in the last chunk
        with pytest.raises(ValueError, match=r"X must be finite; found nan at index \(2500, 3\)"):
            fit_dask(Xb, y, None, "logistic")
        yb = y.copy()
        yb[800] = 2.0
        message = in_memory_error(X, yb, "logistic")
        with pytest.raises(ValueError, match="must be 0 or 1; got 2.0"):
            fit_dask(X, yb, None, "logistic")
        assert "must be 0 or 1; got 2.0" in message
        with pytest.raises(ValueError, match="non-negative counts"):
            fit_dask(X, -np.abs(y) - 1, None, "poisson")
        wb = w.copy()
        wb[10] = -1.0
        with pytest.raises(ValueError, match="sample_weight must be non-negative"):
            fit_dask(X, y, wb, "logistic")
        with pytest.raises(ValueError, match="sample_weight must have a positive sum"):
            fit_dask(X, y, np.zeros_like(w), "logistic")


def test_multinomial_classes_are_counted_over_every_chunk():
    X, y, _ = problem("multinomial", seed=8)
    y4 = np.where(y == 1, 3.0, y)  # classes 0, 2, 3: 1 has no row
    message = in_memory_error(X, y4, "multinomial")
    with dask.config.set(scheduler="threads"):
        with pytest.raises(ValueError) as e:
            fit_dask(X, y4, None, "multinomial")
        assert str(e.value) == message
        # a class present in one chunk only is present
        yc = np.zeros_like(y)
        yc[::2] = 1.0
        yc[2999] = 2.0
        ref = ngdx.fit(X, yc, "multinomial", tol=1e-10)
        res = fit_dask(X, yc, None, "multinomial", tol=1e-10)
        assert res.coef.shape == (5, 3) and rel(res.coef, ref.coef) < 1e-10
        with pytest.raises(ValueError, match="integer labels"):
            fit_dask(X, y + 0.5, None, "multinomial")


def test_column_chunks_and_mismatched_shapes_are_refused_with_how_to_fix():
    X, y, _ = problem("logistic")
    Xd = da.from_array(X, chunks=(1000, 2))
    with pytest.raises(ValueError, match=r"chunked across its columns.*rechunk\(\{1: -1\}\)"):
        ngdx.fit(Xd, y, "logistic")
    with pytest.raises(ValueError, match="y has 2999 entries but X has 3000 rows"):
        ngdx.fit(da.from_array(X, chunks=(1000, -1)), y[:-1], "logistic")
    with pytest.raises(ValueError, match="X must be 2-D"):
        ngdx.fit(da.from_array(y, chunks=1000), y, "logistic")
    Xu = da.from_array(X, chunks=(1000, -1))
    Xu = Xu[Xu[:, 0] > -10]  # unknown chunk sizes
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        ngdx.fit(Xu, y, "logistic")
    with pytest.raises(ValueError, match="woodbury"):
        ngdx.fit(da.from_array(X[:3], chunks=(2, -1)), y[:3], "logistic", l2=1.0,
                 linear_solver="woodbury")


def test_user_arrays_are_not_modified():
    X, y, w = problem("poisson", seed=9)
    X0, y0, w0 = X.copy(), y.copy(), w.copy()
    with dask.config.set(scheduler="threads"):
        fit_dask(X, y, w, "poisson", tol=1e-10)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(w, w0)


# ------------------------------------------------------------------ the other doors
def test_functional_api_on_dask_arrays_equals_in_memory():
    X, y, _ = problem("multinomial", seed=10)
    theta = np.random.default_rng(0).normal(size=(5, 3)) * 0.3
    Xd, yd, _ = as_dask(X, y)
    with dask.config.set(scheduler="threads"):
        assert ngdx.loss(Xd, yd, theta, "multinomial") == pytest.approx(
            ngdx.loss(X, y, theta, "multinomial"), rel=1e-13)
        assert rel(ngdx.grad(Xd, yd, theta, "multinomial"),
                   ngdx.grad(X, y, theta, "multinomial")) < 1e-12
        assert rel(ngdx.fisher(Xd, None, theta, "multinomial"),
                   ngdx.fisher(X, None, theta, "multinomial")) < 1e-12
        assert rel(ngdx.hessian(Xd, yd, theta, "multinomial"),
                   ngdx.hessian(X, y, theta, "multinomial")) < 1e-12
        assert ngdx.kl(Xd, theta, 0.5 * theta, "multinomial") == pytest.approx(
            ngdx.kl(X, theta, 0.5 * theta, "multinomial"), rel=1e-13)
        with pytest.raises(ValueError, match="one row per row of X"):
            ngdx.scores(Xd, yd, theta, "multinomial")
        # a list X beside a Dask y
        assert ngdx.loss(X.tolist(), yd, theta, "multinomial") == pytest.approx(
            ngdx.loss(X, y, theta, "multinomial"), rel=1e-13)


def test_estimators_fit_and_predict_dask_arrays_lazily():
    pytest.importorskip("sklearn")
    X, y, w = problem("multinomial", seed=11)
    labels = np.array(["ant", "bee", "cat"])[y.astype(int)]
    Xd = da.from_array(X, chunks=(CHUNKS, -1))
    ld = da.from_array(labels, chunks=(CHUNKS,))
    with dask.config.set(scheduler="threads"):
        ref = ngdx.NGDClassifier(tol=1e-10).fit(X, labels, sample_weight=w)
        est = ngdx.NGDClassifier(tol=1e-10).fit(Xd, ld, sample_weight=da.from_array(
            w, chunks=(CHUNKS,)))
        assert list(est.classes_) == ["ant", "bee", "cat"] and est.n_features_in_ == 5
        assert rel(est.coef_, ref.coef_) < 1e-10
        for method in ("predict_proba", "predict_log_proba", "decision_function"):
            out = getattr(est, method)(Xd)
            assert isinstance(out, da.Array), method
            np.testing.assert_allclose(out.compute(), getattr(ref, method)(X), rtol=1e-9,
                                       atol=1e-12)
        pred = est.predict(Xd)
        assert isinstance(pred, da.Array)
        np.testing.assert_array_equal(pred.compute(), ref.predict(X))
        with pytest.raises(ValueError, match="expecting 5 features"):
            est.predict(Xd[:, :4])
        Xb, yb, _ = problem("logistic", seed=12)
        binary = ngdx.NGDClassifier(tol=1e-10).fit(*as_dask(Xb, yb)[:2])
        np.testing.assert_allclose(binary.predict_proba(da.from_array(Xb, chunks=1000)).compute(),
                                   ngdx.NGDClassifier(tol=1e-10).fit(Xb, yb).predict_proba(Xb),
                                   rtol=1e-9)
        Xr, yr, _ = problem("poisson", seed=13)
        reg = ngdx.NGDRegressor(model="poisson", tol=1e-10).fit(*as_dask(Xr, yr)[:2])
        ref_r = ngdx.NGDRegressor(model="poisson", tol=1e-10).fit(Xr, yr)
        assert rel(reg.coef_, ref_r.coef_) < 1e-10
        np.testing.assert_allclose(reg.predict(da.from_array(Xr, chunks=700)).compute(),
                                   ref_r.predict(Xr), rtol=1e-9)
        assert rel(reg.std_errors_, ref_r.std_errors_) < 1e-9


def test_a_persisted_array_is_read_in_place_even_strided():
    from ngdx._stderr import objective_of

    X, y, _ = problem("logistic", seed=14)
    ref = ngdx.fit(X, y, "logistic", tol=1e-10)
    with dask.config.set(scheduler="threads"):
        Xf = da.from_array(np.asfortranarray(X), chunks=(1000, -1)).persist()  # F-order views
        res = ngdx.fit(Xf, y, "logistic", tol=1e-10)
        Xb = np.asfortranarray(X)
        Xb[1500, 2] = np.inf
        with pytest.raises(ValueError, match=r"found inf at index \(1500, 2\)"):
            ngdx.fit(da.from_array(Xb, chunks=(1000, -1)).persist(), y, "logistic")
    assert objective_of(res).rows.X is Xf  # no checked copy
    assert rel(res.coef, ref.coef) < 1e-10


def test_on_a_cluster_a_pass_runs_one_task_per_worker_thread_with_the_same_sums(client):
    from ngdx._data import dask_tasks, rows_of
    from ngdx._models import get_family

    X, y, w = problem("poisson", seed=15)
    Xd, yd, wd = (a.persist() for a in as_dask(X, y, w))
    groups = dask_tasks.chunk_groups(Xd)
    assert len(groups) == sum(client.nthreads().values()) == 2
    assert sorted(k for g in groups for k in g) == list(range(len(CHUNKS)))
    who = client.who_has(Xd)
    keys = list(dask.core.flatten(Xd.__dask_keys__()))
    for g in groups:  # a task's chunks are held by one worker
        assert len({who[keys[k]][0] for k in g}) == 1
    rows = rows_of(Xd, yd, wd, get_family("poisson"), coef_init=None, n_classes=None,
                   fit_intercept=True, n_threads=1)[0]
    theta = np.full(6, 0.05)

    def sums():
        g, C = np.empty(6), np.empty((6, 6))
        loss, _ = rows.fused_pass("poisson", theta, 1, "true", grad_out=g, curvature_out=C)
        return loss, g, C

    grouped = sums()
    original = dask_tasks.chunk_groups
    dask_tasks.chunk_groups = lambda X: None  # one task per chunk
    try:
        per_chunk = sums()
    finally:
        dask_tasks.chunk_groups = original
    for a, b in zip(grouped, per_chunk):  # the same partial sums, added in chunk order
        np.testing.assert_array_equal(a, b)


def test_an_X_read_in_place_is_checked_by_the_first_pass_that_reads_it(client):
    from ngdx._data import rows_of
    from ngdx._models import get_family

    X, y, w = problem("logistic", seed=16)
    for bad, pattern in ((np.nan, r"X must be finite; found nan at index \(2500, 3\)"),
                         (1e200, r"X holds values too large for a curvature: max \|X\| = 1e\+200")):
        Xb = X.copy()
        Xb[2500, 3] = bad
        assert re.search(pattern, in_memory_error(Xb, y, "logistic"))
        Xd = da.from_array(Xb, chunks=(CHUNKS, -1)).persist()
        with pytest.raises(ValueError, match=pattern):
            ngdx.fit(Xd, y, "logistic")
        wz = w.copy()
        wz[2100:] = 0.0  # the bad row's chunk has no weight: X is checked all the same
        with pytest.raises(ValueError, match=pattern):
            ngdx.fit(Xd, y, "logistic", sample_weight=wz)
        rows = rows_of(Xd, y, None, get_family("logistic"), coef_init=None, n_classes=None,
                       fit_intercept=True, n_threads=1)[0]
        with pytest.raises(ValueError, match=pattern):  # a pass other than the fused one
            rows.gram()


def test_binary_labels_summarized_per_chunk_start_where_in_memory_does():
    # The door counts 0/1 labels per chunk by a count and a dot: chunks with one class,
    # weights that leave a label no weight, and y of one class, as in memory.
    X, y, w = problem("probit", seed=17)
    y_late = np.zeros_like(y)
    y_late[2500:] = y[2500:]  # ones in the last chunk only
    w_zero = w.copy()
    w_zero[y == 1] = 0.0  # present, but no weight
    cases = [(y_late, None), (y_late, w), (y, w_zero), (np.ones_like(y), None)]
    with dask.config.set(scheduler="threads"):
        for labels, weights in cases:
            for model in ("logistic", "probit"):
                kw = dict(tol=1e-10, max_iter=20)
                with pytest.warns() if weights is w_zero or labels.min() == 1 else nullcontext():
                    ref = ngdx.fit(X, labels, model, sample_weight=weights, **kw)
                with pytest.warns() if weights is w_zero or labels.min() == 1 else nullcontext():
                    res = fit_dask(X, labels, weights, model, **kw)
                assert res.n_iter == ref.n_iter and res.message == ref.message
                assert rel(res.intercept, ref.intercept) < 1e-10
                assert rel(res.coef, ref.coef) < 1e-10 or np.max(np.abs(ref.coef)) == 0.0


def test_cluster_standard_errors_sum_the_scores_block_by_block(monkeypatch):
    # A chunk's scores are summed in blocks of SCORE_BLOCK_BYTES (here a few rows), never
    # n_chunk x p at once: the same standard errors as in memory.
    from ngdx._data import base

    X, y, w = problem("poisson", seed=18)
    groups = np.arange(X.shape[0]) % 23
    full = ngdx.fit(X, y, "poisson", sample_weight=w, tol=1e-10)
    expected = full.std_errors("cluster", groups=groups)
    monkeypatch.setattr(base, "SCORE_BLOCK_BYTES", 8 * 6 * 37)  # 37 rows of p = 6
    with dask.config.set(scheduler="threads"):
        dfit = fit_dask(X, y, w, "poisson", tol=1e-10)
        assert rel(dfit.std_errors("cluster", groups=groups), expected) < 1e-10

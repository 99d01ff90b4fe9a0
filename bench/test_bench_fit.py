"""Whole fits: ngdx.fit on compare.py's problems (AR(1)-correlated features), timed and
checked: each run must converge to max|grad| <= 1e-10 and match the Newton optimum.

    python -m pytest bench/test_bench_fit.py                  # time them
    python -m pytest bench/ --benchmark-save=NAME ...         # baselines: see README.md

The comparison with other libraries is bench/compare.py; this file tracks ngdx itself,
so that a change that slows a fit (more iterations, a slower pass) shows up in
``--benchmark-compare``.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest
from compare import make_data

import ngdx

FITS = {
    "logistic 1e6x100": dict(model="logistic", n=1_000_000, d=100, l2=0.0),
    "poisson 1e6x50": dict(model="poisson", n=1_000_000, d=50, l2=0.0),
    "multinomial10 2e4x50": dict(model="multinomial", n=20_000, d=50, l2=0.0, K=10),
    "logistic 2000x20000 l2 (woodbury)": dict(model="logistic", n=2000, d=20_000, l2=1e-2),
    "logistic 2e4x2000 (curvature reuse)": dict(model="logistic", n=20_000, d=2000, l2=0.0),
}


@pytest.fixture(scope="module", params=list(FITS), ids=list(FITS))
def fit_problem(request):
    gc.collect()
    pb = FITS[request.param]
    X, y = make_data(pb)
    return pb, X, y


@pytest.mark.benchmark(group="ngdx.fit")
def test_fit_ngd(benchmark, fit_problem):
    pb, X, y = fit_problem
    res = benchmark.pedantic(
        lambda: ngdx.fit(X, y, pb["model"], "ngd", l2=pb["l2"], tol=1e-10, n_threads=2),
        rounds=3, iterations=1, warmup_rounds=0)
    benchmark.extra_info.update(n_iter=res.n_iter, linear_solver=res.linear_solver)
    assert res.converged, res.message
    assert res.history["grad_norm"][-1] <= 1e-10
    ref = ngdx.fit(X, y, pb["model"], "newton", l2=pb["l2"], tol=1e-12, n_threads=2)
    np.testing.assert_allclose(res.coef, ref.coef, atol=1e-7)

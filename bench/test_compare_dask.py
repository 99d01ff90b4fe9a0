"""bench/compare_dask.py's parts: the Dask and in-memory data are the same numbers, a child
run of ngdx on Dask and in memory give the same optimum, and the table and targets from
fabricated runs.

    python -m pytest bench/test_compare_dask.py --benchmark-disable
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("dask.array")
pytest.importorskip("distributed")

import compare_dask  # noqa: E402


def test_the_dask_array_holds_the_in_memory_numbers():
    import dask

    X, y = compare_dask.in_memory("poisson", 2_500, 4, 1_000)
    Xd, yd = compare_dask.on_workers("poisson", 2_500, 4, 1_000)
    with dask.config.set(scheduler="threads"):
        Xc, yc = dask.compute(Xd, yd)
    np.testing.assert_array_equal(Xc, X)
    np.testing.assert_array_equal(yc, y)
    assert Xd.chunks[0] == (1_000, 1_000, 500)


def child(method):
    out = subprocess.run([sys.executable, compare_dask.__file__, "--child", "--method", method,
                          "--model", "logistic", "--n", "20000", "--chunk", "5000", "--tol",
                          "1e-10", "--threads", "2"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_ngdx_on_dask_and_in_memory_reach_the_same_optimum():
    dk, mem = child("ngdx dask"), child("ngdx memory")
    X, y = compare_dask.in_memory("logistic", 20000, compare_dask.D, 5000)
    (f_dk, g_dk), (f_mem, g_mem) = (compare_dask.evaluate(X, y, "logistic", r["coef"],
                                                          r["intercept"]) for r in (dk, mem))
    assert f_dk == pytest.approx(f_mem, rel=1e-13)
    np.testing.assert_allclose(dk["coef"], mem["coef"], rtol=1e-9)
    assert g_dk < 1e-8 and g_mem < 1e-8
    assert dk["passes"] == mem["passes"]  # a persisted X is read in place: no check pass
    assert len(dk["workers_mb"]) == 2


def test_suboptimality_resolves_what_the_difference_of_two_means_cannot():
    X, y = compare_dask.in_memory("poisson", 200_000, 5, 50_000)
    ngdx = pytest.importorskip("ngdx")
    res = ngdx.fit(X, y, "poisson", tol=1e-12)
    optimum = (res.coef, res.intercept)
    assert abs(compare_dask.suboptimality(X, y, "poisson", optimum, optimum)) == 0.0
    for eps in (1e-5, 1e-7):  # f - f* = eps^2 / 2 u^T H u along u: second order, > 0
        u = np.zeros(5)
        u[0] = eps
        sub = compare_dask.suboptimality(X, y, "poisson", (res.coef + u, res.intercept),
                                         optimum)
        H = np.mean(np.exp(X @ res.coef + res.intercept) * X[:, 0] ** 2)
        assert sub == pytest.approx(0.5 * eps**2 * H, rel=1e-3)


def test_the_run_of_median_time_is_reported_and_a_failure_ends_the_repeats(monkeypatch):
    import argparse

    outcomes = iter([dict(time=3.0), dict(time=1.0), dict(time=2.0)])
    monkeypatch.setattr(compare_dask, "run_script", lambda *a: next(outcomes))
    args = argparse.Namespace(repeat=3, threads=2, timeout=10)
    r = compare_dask.repeated([], args)
    assert r["time"] == 2.0 and r["times"] == [3.0, 1.0, 2.0]
    calls = []
    monkeypatch.setattr(compare_dask, "run_script",
                        lambda *a: calls.append(1) or {"error": "timeout after 10 s"})
    assert compare_dask.repeated([], args) == {"error": "timeout after 10 s"}
    assert len(calls) == 1


def test_table_and_targets_from_fabricated_runs():
    def run(time, sub, passes=5.0):
        return dict(time=time, n_iter=4, passes=passes, sub=sub, grad=1e-9, client_mb=1.0,
                    workers_mb=[10.0, 11.0], coef=[0.0])

    results = {"ngdx dask": run(4.0, 0.0), "ngdx memory": run(3.0, 0.0),
               "dask-ml newton": run(100.0, 1e-12), "dask-ml admm": run(60.0, 1e-6),
               "dask-glm proximal_grad": {"skipped": "not installed (dask_glm)"}}
    results["ngdx dask"]["times"] = [4.5, 4.0, 3.9]
    lines = compare_dask.table("logistic", results)
    row = next(line for line in lines if line.startswith("| dask-ml admm |"))
    assert "1.0e-06" in row and "| 1.0 |" in row  # suboptimality; the fastest anchor
    row = next(line for line in lines if line.startswith("| ngdx dask |"))
    assert "| 4.00 | 4.50, 4.00, 3.90 |" in row
    assert any("not installed (dask_glm)" in line for line in lines)
    verdicts = "\n".join(compare_dask.targets({"logistic": results}))
    assert "15.0x faster" in verdicts and "dask-ml admm" in verdicts
    assert "**met** (target 10x)" in verdicts
    assert "1.33x the time of ngdx in memory — **met**" in verdicts

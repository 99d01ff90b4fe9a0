"""ngdx's fit plus standard errors against statsmodels' GLM fit plus ``bse``.

    python bench/compare_stderr.py                  # logistic, n = 1e6, d = 100
    python bench/compare_stderr.py --quick          # n = 20000, d = 10: a smoke run
    python bench/compare_stderr.py --save           # write bench/results/DATE-compare-stderr.md

The issue's target: standard errors after a fit on logistic (1e6, 100) cost at most one
extra pass over X (<= 0.2 s), and fit + standard errors run >= 20x faster than
statsmodels' GLM fit + ``bse``. Each library runs in its own process (``compare.run_script``)
on the same saved data, imported before the clock starts, with the same threads. ngdx fits
to tol = 1e-8 and computes ``std_errors()`` ("expected": the inverse Fisher of the summed
log-likelihood); statsmodels runs IRLS to its tol = 1e-10 and reads ``bse`` (the same
quantity). The answers are checked: the two libraries' standard errors agree to 1e-5
relative, else the row says "check failed". The table gives the wall time of the fit and
of the standard errors apart, the passes over X the standard errors took, and the share
of the machine other processes used meanwhile (on 2 cores, 0.5 means one core was taken).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import sys
import tempfile
import time

import numpy as np

from _machine import CpuMeter
from compare import add_child_arguments, cpu_model, run_script, write_report

#: The largest relative difference of the standard errors that passes the check.
RTOL = 1e-5
IMPORTS = {"ngdx": "ngdx", "statsmodels": "statsmodels.api"}


def make_data(n, d, seed=0):
    """(X (n, d) C-contiguous, y): logistic labels from coefficients of norm ~1."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    beta = rng.normal(size=d) / np.sqrt(d)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ beta + 0.3)))).astype(float)
    return X, y


def fit_ngdx(X, y, threads):
    import ngdx

    t0 = time.perf_counter()
    res = ngdx.fit(X, y, "logistic", tol=1e-8, n_threads=threads)
    t1 = time.perf_counter()
    passes = res._objective.rows.n_passes
    se = res.std_errors()
    t2 = time.perf_counter()
    return dict(fit=t1 - t0, se=t2 - t1, se_passes=res._objective.rows.n_passes - passes,
                n_iter=res.n_iter, bse=se.tolist())


def fit_statsmodels(X, y, threads):
    import statsmodels.api as sm

    t0 = time.perf_counter()
    Xc = np.hstack([X, np.ones((X.shape[0], 1))])  # ngdx's order: coef, then intercept
    glm = sm.GLM(y, Xc, family=sm.families.Binomial()).fit(tol=1e-10)
    t1 = time.perf_counter()
    bse = np.asarray(glm.bse)
    t2 = time.perf_counter()
    return dict(fit=t1 - t0, se=t2 - t1, se_passes=None, n_iter=int(glm.fit_history["iteration"]),
                bse=bse.tolist())


SOLVERS = {"ngdx": fit_ngdx, "statsmodels": fit_statsmodels}


def child(args):
    """One timed fit + standard errors in this fresh process; prints a JSON line."""
    importlib.import_module(IMPORTS[args.solver])
    X, y = np.load(os.path.join(args.data, "X.npy")), np.load(os.path.join(args.data, "y.npy"))
    with CpuMeter() as meter:
        out = SOLVERS[args.solver](X, y, args.threads)
    out["foreign"] = meter.foreign
    print(json.dumps(out))


def table(results):
    """The report's table rows, with the check of the standard errors against each other."""
    rows = ["| library | fit (s) | std errors (s) | total (s) | iters | passes for std errors "
            "| max rel diff of std errors | other processes |", "|---|---|---|---|---|---|---|---|"]
    ok = [r for r in results.values() if "error" not in r]
    for name, r in results.items():
        if "error" in r:
            rows.append(f"| {name} | – | – | – | – | – | – | {r['error']} |")
            continue
        others = [np.asarray(o["bse"]) for o in ok if o is not r]
        diff = max((float(np.max(np.abs(np.asarray(r["bse"]) / o - 1))) for o in others),
                   default=float("nan"))
        check = f"{diff:.1e}" + (" (check failed)" if diff > RTOL else "")
        passes = "–" if r["se_passes"] is None else str(r["se_passes"])
        rows.append(f"| {name} | {r['fit']:.3f} | {r['se']:.3f} | {r['fit'] + r['se']:.3f} | "
                    f"{r['n_iter']} | {passes} | {check} | {r['foreign']:.2f} |")
    if len(ok) == 2:
        a, b = results["ngdx"], results["statsmodels"]
        rows.append("")
        rows.append(f"Speedup of fit + standard errors: "
                    f"{(b['fit'] + b['se']) / (a['fit'] + a['se']):.1f}x")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="rows (default 1e6)")
    parser.add_argument("--d", type=int, default=100, help="features (default 100)")
    parser.add_argument("--quick", action="store_true", help="n = 20000, d = 10")
    parser.add_argument("--out", help="also write the report to this file")
    add_child_arguments(parser)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    n, d = (20_000, 10) if args.quick else (args.n, args.d)
    X, y = make_data(n, d)
    lines = [f"# ngdx vs statsmodels: fit + standard errors ({datetime.date.today()})", "",
             f"Machine: {cpu_model()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}, NumPy {np.__version__}. Command: `python "
             f"bench/compare_stderr.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
             "", f"Logistic, n = {n}, d = {d} (+ intercept), {args.threads} threads per "
             "library.", ""]
    print("\n".join(lines), flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "X.npy"), X)
        np.save(os.path.join(tmp, "y.npy"), y)
        for solver in SOLVERS:
            results[solver] = run_script(__file__, ["--solver", solver, "--data", tmp],
                                         args.threads, args.timeout)
            print(f"  {solver}: done", flush=True)
    report = "\n".join(lines + table(results)) + "\n"
    print("\n".join(table(results)))
    write_report(report, args.out, "compare-stderr" if args.save else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""ngdx on a sparse design matrix against scikit-learn's and glum's sparse solvers.

    python bench/compare_sparse.py                 # n = 1e6, p = 1000, 1 % nonzeros
    python bench/compare_sparse.py --n 100000      # a smaller smoke run
    python bench/compare_sparse.py --save          # write bench/results/DATE-compare-sparse.md

The problem users have: one-hot categorical and hashed features. Each row has 10
nonzeros among 1000 columns (1 %): 8 categorical features of 100 levels each, one-hot
(Zipf-distributed level frequencies, so some levels are rare), and 2 tokens hashed
into 200 signed buckets; logistic labels drawn from a random coefficient vector. The
penalty l2 = 1e-5 on the coefficients (ngdx's convention: mean NLL + l2/2 |coef|^2,
intercept unpenalized; C = 1 / (n l2) for scikit-learn, alpha = l2 for glum) makes the
optimum unique (the one-hot groups are collinear with the intercept).

Every fit starts from zero coefficients (the intercept where each library starts it: ngdx
and glum at the intercept-only optimum, scikit-learn at zero), asks for max|grad| <= 1e-8
(scikit-learn: tol=1e-12, its tightest, since its tol is not that test) and runs in its own
process, reading the same saved CSR matrix; the library is imported before the clock starts. ngdx fits through ``CSRRows`` and its solver loop as ``ngdx.fit``
will (``ngdx.fit`` itself once it takes a sparse X). The table gives wall time,
iterations, the suboptimality of the penalized mean NLL against a Newton optimum run to
the rounding floor, the max-abs gradient at the returned solution (both by ngdx's CSR
pass), peak memory above the inputs, and the share of the machine that other processes
used during the fit (on 2 cores, 0.5 means one core was taken).
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
from compare import (_peak_rss, _reset_peak_rss, add_child_arguments, cpu_model, run_script,
                     save_result)

L2 = 1e-5
TOL = 1e-8


# ------------------------------------------------------------------ data
def make_data(n, seed=0):
    """(X CSR n x 1000, y): 8 one-hot features of 100 Zipf levels, 2 hashed signed tokens."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    levels = 1.0 / np.arange(1, 101) ** 1.1
    levels /= levels.sum()
    cols = [100 * f + rng.choice(100, size=n, p=levels) for f in range(8)]
    vals = [np.ones(n)] * 8
    for t in range(2):  # two tokens into one 200-bucket hashed block (collisions allowed)
        cols.append(800 + rng.integers(0, 200, size=n))
        vals.append(rng.choice([-1.0, 1.0], size=n))
    rows = np.repeat(np.arange(n), 10)
    X = sp.csr_matrix((np.column_stack(vals).ravel(), (rows, np.column_stack(cols).ravel())),
                      shape=(n, 1000))
    X.sum_duplicates()
    beta = rng.normal(scale=0.5, size=1000)
    eta = X @ beta - 0.5
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    return X, y


# ------------------------------------------------------------------ solvers (run in a child)
def fit_ngdx(X, y, threads):
    """ngdx.fit when it takes a sparse X; until then its plumbing (``_fit.build``) with
    CSRRows as the row source: the same choices of curvature, damping and schedule."""
    import ngdx

    try:
        res = ngdx.fit(X, y, "logistic", "ngd", l2=L2, tol=TOL, max_iter=200, n_threads=threads)
        return res.coef, res.intercept, res.n_iter, "ngdx.fit"
    except ValueError as err:
        if "X must hold real numbers" not in str(err):
            raise
    from ngdx._curvature import REPRESENTATIONS
    from ngdx._data import CSRRows
    from ngdx._models import GLMObjective, get_family
    from ngdx._solver import (STEP_RULES, CurvatureSchedule, LevenbergMarquardt, Solver,
                              refresh_cost)
    from ngdx._solver.choose import representation, use_reuse
    from ngdx._validation import as_initial_theta

    family = get_family("logistic")
    n, d = X.shape
    rows = CSRRows(X, y, fit_intercept=True, n_threads=threads)
    objective = GLMObjective(rows, family, 1, l2=L2)
    x_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    name = representation("ngd", "auto", family, "true", n, d + 1, 1, x_bytes)
    unit = None if name == "woodbury" else objective.param_scale() ** 2
    curvature = REPRESENTATIONS[name](objective, kind="true", n_mc_samples=1,
                                      rng=np.random.default_rng(0), unit=unit)
    schedule = CurvatureSchedule(exact=curvature.exact,
                                 reuse=use_reuse("auto", "ngd", "fixed", name, n, d, 1, True),
                                 tol=TOL, cost=refresh_cost(n, d, 1, True))
    solver = Solver(objective, curvature, damping=LevenbergMarquardt(), step=STEP_RULES["fixed"](),
                    schedule=schedule, tol=TOL, max_iter=200, lr=None, verbose=False,
                    callback=None, title="model=logistic, method=ngd, step=fixed")
    res = solver.run(as_initial_theta(objective, y, None, None, None))
    return res.coef, res.intercept, res.n_iter, f"CSRRows + Solver ({name})"


def fit_sklearn(solver):
    def run(X, y, threads):
        from sklearn.linear_model import LogisticRegression

        est = LogisticRegression(C=1.0 / (len(y) * L2), solver=solver, tol=1e-12, max_iter=10_000)
        est.fit(X, y)
        return est.coef_[0], est.intercept_[0], int(np.max(est.n_iter_)), "tol=1e-12"
    return run


def fit_glum(solver):
    def run(X, y, threads):
        from glum import GeneralizedLinearRegressor

        est = GeneralizedLinearRegressor(family="binomial", alpha=L2, solver=solver,
                                         gradient_tol=TOL, max_iter=10_000)
        est.fit(X, y)
        return est.coef_, est.intercept_, int(est.n_iter_), f"gradient_tol={TOL:g}"
    return run


SOLVERS = {
    "ngdx ngd": fit_ngdx,
    "sklearn lbfgs": fit_sklearn("lbfgs"),
    "sklearn newton-cholesky": fit_sklearn("newton-cholesky"),
    "glum irls-ls": fit_glum("irls-ls"),
    "glum irls-cd": fit_glum("irls-cd"),
}


def load(data_dir):
    import scipy.sparse as sp

    return sp.load_npz(os.path.join(data_dir, "X.npz")), np.load(os.path.join(data_dir, "y.npy"))


#: What each solver's library imports, done before the clock starts.
IMPORTS = {"ngdx": "ngdx._data", "sklearn": "sklearn.linear_model", "glum": "glum"}


def child(args):
    """One timed fit in this fresh process; prints a JSON line."""
    importlib.import_module(IMPORTS[args.solver.split()[0]])
    X, y = load(args.data)
    rss_inputs = _reset_peak_rss()
    with CpuMeter() as meter:
        start = time.perf_counter()
        coef, intercept, n_iter, how = SOLVERS[args.solver](X, y, args.threads)
        elapsed = time.perf_counter() - start
    print(json.dumps(dict(time=elapsed, n_iter=n_iter, coef=np.asarray(coef).tolist(),
                          intercept=float(np.asarray(intercept).ravel()[0]), how=how,
                          foreign=meter.foreign,
                          extra_mb=(_peak_rss() - rss_inputs) / 1024)))


# ------------------------------------------------------------------ parent
def run_child(solver, data_dir, threads, timeout):
    return run_script(__file__, ["--solver", solver, "--data", data_dir], threads, timeout)


def objective(X, y, coef, intercept):
    """(penalized mean NLL, max-abs gradient) at a solution, by ngdx's CSR pass."""
    from ngdx._data import CSRRows

    theta = np.append(np.asarray(coef, dtype=float), intercept)
    grad = np.empty(theta.size)
    loss, _ = CSRRows(X, y, fit_intercept=True, n_threads=2).fused_pass("logistic", theta, 1,
                                                                         grad_out=grad)
    grad[:-1] += L2 * theta[:-1]
    return loss + 0.5 * L2 * float(theta[:-1] @ theta[:-1]), float(np.abs(grad).max())


def reference_optimum(X, y, start):
    """Newton steps from the best solution found until the objective stops falling."""
    from ngdx._data import CSRRows
    from ngdx._models import GLMObjective, get_family

    obj = GLMObjective(CSRRows(X, y, fit_intercept=True, n_threads=2), get_family("logistic"), 1,
                       l2=L2)
    theta = np.asarray(start, dtype=float)
    best = obj.evaluate(theta).f
    for _ in range(10):
        ev = obj.evaluate(theta, "hessian")
        trial = theta - np.linalg.solve(ev.stats, ev.grad)
        f = obj.evaluate(trial).f
        if not f < best:
            break
        theta, best = trial, f
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="rows (default 1e6)")
    parser.add_argument("--solvers", nargs="*", default=list(SOLVERS), choices=list(SOLVERS))
    add_child_arguments(parser)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    import scipy.sparse as sp

    X, y = make_data(args.n)
    lines = [f"# ngdx vs sparse GLM solvers ({datetime.date.today()})", "",
             f"Machine: {cpu_model()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}, NumPy {np.__version__}. Command: `python "
             f"bench/compare_sparse.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
             "", f"Logistic, n = {X.shape[0]}, p = {X.shape[1]}, {X.nnz} nonzeros "
             f"({100 * X.nnz / np.prod(X.shape):.2f} %), l2 = {L2:g}, {args.threads} threads "
             "per solver.", ""]
    print("\n".join(lines), flush=True)
    table = ["| solver | time (s) | iters | suboptimality | max abs grad | extra memory (MB) "
             "| other processes | how |", "|---|---|---|---|---|---|---|---|"]
    print("\n".join(table), flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        sp.save_npz(os.path.join(tmp, "X.npz"), X, compressed=False)
        np.save(os.path.join(tmp, "y.npy"), y)
        for solver in args.solvers:
            results[solver] = run_child(solver, tmp, args.threads, args.timeout)
            print(f"  {solver}: done", flush=True)
    answers = {s: objective(X, y, r["coef"], r["intercept"]) for s, r in results.items()
               if "error" not in r}
    if answers:
        best = min(answers, key=lambda s: answers[s][0])
        f_star = reference_optimum(X, y, results[best]["coef"] + [results[best]["intercept"]])
        f_star = min([f_star] + [f for f, _ in answers.values()])
    for solver, r in results.items():
        if "error" in r:
            table.append(f"| {solver} | – | – | – | – | – | – | {r['error']} |")
            continue
        f, gmax = answers[solver]
        table.append(f"| {solver} | {r['time']:.2f} | {r['n_iter']} | {f - f_star:.1e} | "
                     f"{gmax:.1e} | {r['extra_mb']:.0f} | {r['foreign']:.2f} | {r['how']} |")
    report = "\n".join(lines + table) + "\n"
    print("\n".join(table))
    if args.save:
        save_result(report, "compare-sparse")
    return 0


if __name__ == "__main__":
    sys.exit(main())

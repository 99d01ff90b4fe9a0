"""ngdx against the GLM solvers users would pick instead, side by side on one machine.

    python bench/compare.py                      # every problem (long: the anchors are slow)
    python bench/compare.py --quick              # 10x fewer rows, one repeat: a smoke run
    python bench/compare.py --problems logistic-1e6x100 --save

Each problem is generated with a fixed seed and saved once; every fit then runs in its
own subprocess (so peak memory is its own) and is repeated (median time reported). The
anchors that are installed are run (``pip install ".[bench]"``): scikit-learn (lbfgs,
newton-cholesky), glum (irls-ls, irls-cd, lbfgs) and statsmodels (GLM IRLS), each with
the same penalty as ngdx and its tightest tolerance, with 1 and 2 BLAS threads (the best
is kept: OpenBLAS is sometimes slower with 2 on tall-skinny data). The table gives wall
time, iterations, the suboptimality of the penalized mean NLL against a high-precision
optimum (ngdx Newton run to the rounding floor), the max-abs gradient at the returned
solution, peak memory above the inputs, and the best anchor's time over ngdx's.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

#: name -> problem; l2 is ngdx's: mean NLL + l2/2 |coef|^2 (intercept unpenalized)
PROBLEMS = {
    "logistic-1e6x100": dict(model="logistic", n=1_000_000, d=100, l2=0.0),
    "logistic-1e5x500": dict(model="logistic", n=100_000, d=500, l2=0.0),
    "logistic-2e4x2000": dict(model="logistic", n=20_000, d=2000, l2=0.0),
    "multinomial10-1e5x200": dict(model="multinomial", n=100_000, d=200, l2=0.0, K=10),
    "poisson-1e6x50": dict(model="poisson", n=1_000_000, d=50, l2=0.0),
    "logistic-2000x20000-l2": dict(model="logistic", n=2000, d=20_000, l2=1e-2),
}
TOL = 1e-10  # max-abs gradient asked of every solver that takes one


# ------------------------------------------------------------------ data
def make_data(problem, seed=0):
    """Correlated standard-normal features (AR(1), rho = 0.9, as in real data where
    first-order solvers need hundreds of iterations); linear predictors of unit scale;
    y drawn from the model."""
    rng = np.random.default_rng(seed)
    n, d, model = problem["n"], problem["d"], problem["model"]
    X = rng.standard_normal((n, d))
    for j in range(1, d):  # in place: no second n x d array
        X[:, j] *= np.sqrt(1 - 0.9**2)
        X[:, j] += 0.9 * X[:, j - 1]
    if model == "multinomial":
        K = problem["K"]
        eta = X @ rng.normal(scale=1 / np.sqrt(d), size=(d, K))
        prob = np.exp(eta - eta.max(1, keepdims=True))
        prob /= prob.sum(1, keepdims=True)
        y = np.minimum((rng.random((n, 1)) > prob.cumsum(1)).sum(1), K - 1).astype(float)
        return X, y
    eta = X @ rng.normal(scale=1 / np.sqrt(d), size=d) + 0.2
    if model == "poisson":
        return X, rng.poisson(np.exp(0.5 * eta)).astype(float)
    return X, (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)


# ------------------------------------------------------------------ solvers (run in a child)
def solve_ngdx(X, y, pb, threads):
    import ngdx

    res = ngdx.fit(X, y, pb["model"], "ngd", l2=pb["l2"], tol=TOL, max_iter=200,
                   n_threads=threads)
    return res.coef, res.intercept, res.n_iter


def _sklearn_C(pb, n):
    return np.inf if pb["l2"] == 0 else 1.0 / (n * pb["l2"])


def solve_sklearn(solver):
    def run(X, y, pb, threads):
        from sklearn.linear_model import LogisticRegression, PoissonRegressor

        if pb["model"] == "poisson":
            est = PoissonRegressor(alpha=pb["l2"], solver=solver, tol=1e-12, max_iter=10_000)
            est.fit(X, y)
            return est.coef_, est.intercept_, int(est.n_iter_)
        est = LogisticRegression(C=_sklearn_C(pb, len(y)), solver=solver, tol=1e-12,
                                 max_iter=10_000)
        est.fit(X, y)
        coef = est.coef_.T if pb["model"] == "multinomial" else est.coef_[0]
        b = est.intercept_ if pb["model"] == "multinomial" else est.intercept_[0]
        return coef, b, int(np.max(est.n_iter_))
    return run


def solve_glum(solver):
    def run(X, y, pb, threads):
        from glum import GeneralizedLinearRegressor

        if pb["model"] == "multinomial":
            raise NotImplementedError("glum has no multinomial family")
        family = "binomial" if pb["model"] == "logistic" else "poisson"
        est = GeneralizedLinearRegressor(family=family, alpha=pb["l2"], solver=solver,
                                         gradient_tol=TOL, max_iter=10_000)
        est.fit(X, y)
        return est.coef_, est.intercept_, int(est.n_iter_)
    return run


def solve_statsmodels(X, y, pb, threads):
    import statsmodels.api as sm

    if pb["l2"] > 0 or pb["model"] == "multinomial":
        raise NotImplementedError("statsmodels GLM IRLS: unpenalized binomial/poisson only")
    family = sm.families.Binomial() if pb["model"] == "logistic" else sm.families.Poisson()
    res = sm.GLM(y, sm.add_constant(X, prepend=False), family=family).fit(
        method="IRLS", tol=1e-14, maxiter=200)
    return res.params[:-1], res.params[-1], int(res.fit_history["iteration"])


SOLVERS = {
    "ngdx ngd": solve_ngdx,
    "sklearn lbfgs": solve_sklearn("lbfgs"),
    "sklearn newton-cholesky": solve_sklearn("newton-cholesky"),
    "glum irls-ls": solve_glum("irls-ls"),
    "glum irls-cd": solve_glum("irls-cd"),
    "glum lbfgs": solve_glum("lbfgs"),
    "statsmodels irls": solve_statsmodels,
}


def _status_kb(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _reset_peak_rss():
    """Current RSS in KiB, with the peak (VmHWM) reset to it where Linux allows."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return _status_kb("VmRSS")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak_rss():
    try:
        return _status_kb("VmHWM")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(args):
    """One timed fit in this fresh process; prints a JSON line."""
    pb = PROBLEMS[args.problem] if not args.quick else quick(PROBLEMS[args.problem])
    X = np.load(os.path.join(args.data, "X.npy"))
    y = np.load(os.path.join(args.data, "y.npy"))
    # The fit's own peak: loading may have peaked above the inputs, so the kernel's
    # high-water mark is reset to the current RSS first (Linux; else ru_maxrss).
    rss_inputs = _reset_peak_rss()
    start = time.perf_counter()
    coef, intercept, n_iter = SOLVERS[args.solver](X, y, pb, args.threads)
    elapsed = time.perf_counter() - start
    rss_peak = _peak_rss()
    print(json.dumps(dict(time=elapsed, n_iter=n_iter, coef=np.asarray(coef).tolist(),
                          intercept=np.asarray(intercept).tolist(),
                          extra_mb=(rss_peak - rss_inputs) / 1024)))


# ------------------------------------------------------------------ parent
def quick(pb):
    return dict(pb, n=max(pb["n"] // 10, 200))


def run_script(script, args, threads, timeout):
    """Run ``script --child args`` in its own process with ``threads`` BLAS/OpenMP threads:
    the JSON of its last output line, or {"error": ...} (its last stderr line, or the
    timeout). Each comparison script's children are run by this."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, os.path.abspath(script), "--child"] + list(args) + [
        "--threads", str(threads)]
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout} s"}
    if out.returncode != 0:
        return {"error": ((out.stderr.strip().splitlines() or ["failed"])[-1])[:100]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def add_child_arguments(parser):
    """The options of a comparison script whose children ``run_script`` runs: --threads,
    --timeout and --save, and the hidden ones a child receives (--child, --solver, --data)."""
    parser.add_argument("--threads", type=int, default=2, help="threads of every solver")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per fit")
    parser.add_argument("--save", action="store_true", help="write bench/results/DATE-...md")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--solver", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)


def run_child(solver, name, data_dir, threads, quick_mode, timeout):
    return run_script(__file__, ["--solver", solver, "--problem", name, "--data", data_dir]
                      + (["--quick"] if quick_mode else []), threads, timeout)


def objective(X, y, pb, coef, intercept, n_threads=2):
    """(penalized mean NLL, max-abs gradient) at a solution, by ngdx's core."""
    from ngdx._functional import fused

    K = pb.get("K", 1)
    theta = np.vstack([np.reshape(coef, (pb["d"], K)), np.reshape(intercept, (1, K))]).ravel()
    loss, grad, _ = fused(X, y, np.ascontiguousarray(theta), pb["model"], fit_intercept=True,
                          n_threads=n_threads)
    c = np.asarray(coef).ravel()
    grad[: c.size] += pb["l2"] * c
    return loss + 0.5 * pb["l2"] * float(c @ c), float(np.abs(grad).max())


def reference_optimum(X, y, pb):
    import warnings

    import ngdx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ngdx.fit(X, y, pb["model"], "newton", l2=pb["l2"], tol=0, max_iter=30)
    return objective(X, y, pb, res.coef, res.intercept)[0]


def gemm_gflops(size=4000, repeats=3):
    """The machine's square-GEMM rate (2 size^3 flops) with NumPy's BLAS, best of repeats."""
    A = np.random.default_rng(0).standard_normal((size, size))
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        A @ A
        best = min(best, time.perf_counter() - t)
    return 2 * size**3 / best / 1e9


def gram_gflops(X, y, repeats=5):
    """The fused pass (loss, gradient, true Fisher) on X, counted as n d^2 flops."""
    from ngdx._functional import fused

    theta = np.zeros(X.shape[1])
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fused(X, y, theta, "logistic", "true", n_threads=2)
        best = min(best, time.perf_counter() - t)
    n, d = X.shape
    return n * d * d / best / 1e9


def cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x fewer rows, 1 repeat")
    parser.add_argument("--problems", nargs="*", default=list(PROBLEMS), choices=list(PROBLEMS))
    parser.add_argument("--solvers", nargs="*", default=list(SOLVERS), choices=list(SOLVERS))
    parser.add_argument("--repeats", type=int, default=None, help="default 3 (1 with --quick)")
    parser.add_argument("--anchor-threads", nargs="*", type=int, default=[1, 2])
    parser.add_argument("--timeout", type=int, default=900, help="seconds per fit")
    parser.add_argument("--save", action="store_true", help="write bench/results/DATE.md")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--solver", help=argparse.SUPPRESS)
    parser.add_argument("--problem", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    repeats = args.repeats or (1 if args.quick else 3)

    lines = [f"# ngdx vs GLM solvers ({datetime.date.today()})", "",
             f"Machine: {cpu_model()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}, NumPy {np.__version__}. Command: "
             f"`python bench/compare.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
             ""]
    gemm = gemm_gflops()
    lines.append(f"Square GEMM (NumPy, 4000^3, 2 threads): {gemm:.1f} GFLOP/s.")
    print("\n".join(lines), flush=True)
    table = ["", "| problem | solver | time (s) | iters | suboptimality | max abs grad | "
             "extra memory (MB) | best anchor / ngdx |", "|---|---|---|---|---|---|---|---|"]
    print("\n".join(table), flush=True)
    for name in args.problems:
        pb = quick(PROBLEMS[name]) if args.quick else PROBLEMS[name]
        X, y = make_data(pb)
        if name == "logistic-1e6x100":
            g = gram_gflops(X, y)
            lines.append(f"Fused pass (loss + gradient + true Fisher) on {name}: {g:.1f} "
                         f"GFLOP/s (n d^2), {100 * g / gemm:.0f}% of the GEMM rate.")
            print(lines[-1], flush=True)
        f_star = reference_optimum(X, y, pb)
        rows = {}
        with tempfile.TemporaryDirectory() as tmp:
            np.save(os.path.join(tmp, "X.npy"), X)
            np.save(os.path.join(tmp, "y.npy"), y)
            for solver in args.solvers:
                thread_options = [2] if solver.startswith("ngdx") else args.anchor_threads
                best = None
                for threads in thread_options:
                    runs = [run_child(solver, name, tmp, threads, args.quick, args.timeout)
                            for _ in range(repeats)]
                    ok = [r for r in runs if "error" not in r]
                    if not ok:
                        best = best or runs[0]
                        continue
                    r = dict(ok[0], time=statistics.median(x["time"] for x in ok),
                             extra_mb=max(x["extra_mb"] for x in ok), threads=threads)
                    if best is None or "error" in best or r["time"] < best["time"]:
                        best = r
                rows[solver] = best
        ngdx_time = rows.get("ngdx ngd", {}).get("time")
        anchors = [r["time"] for s, r in rows.items() if not s.startswith("ngdx")
                   and "error" not in r]
        for solver, r in rows.items():
            if "error" in r:
                row = f"| {name} | {solver} | – | – | – | – | – | {r['error']} |"
            else:
                f, gmax = objective(X, y, pb, r["coef"], r["intercept"])
                ratio = ""
                if solver.startswith("ngdx") and anchors and ngdx_time:
                    ratio = f"**{min(anchors) / ngdx_time:.1f}x**"
                row = (f"| {name} | {solver} ({r['threads']} thr) | {r['time']:.2f} | "
                       f"{r['n_iter']} | {max(f - f_star, 0.0):.1e} | {gmax:.1e} | "
                       f"{r['extra_mb']:.0f} | {ratio} |")
            table.append(row)
            print(row, flush=True)
        del X, y
    report = "\n".join(lines + table) + "\n"
    if args.save:
        save_result(report, "compare-quick" if args.quick else "compare")
    return 0


def write_report(report, out=None, save_name=None):
    """Writes report to the file ``out`` when given, and to bench/results/DATE-save_name.md
    when ``save_name`` is (the scripts' --out and --save)."""
    if out:
        with open(out, "w") as fh:
            fh.write(report)
    if save_name:
        save_result(report, save_name)


def save_result(report, name):
    """Writes report to bench/results/DATE-name.md."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                        f"{datetime.date.today()}-{name}.md")
    with open(path, "w") as fh:
        fh.write(report)
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    sys.exit(main())

"""ngdx on Dask arrays against dask-ml and dask-glm, and against ngdx in memory (issue 14).

    python bench/compare_dask.py                  # n = 1e7, d = 50 (4 GB per problem; long)
    python bench/compare_dask.py --n 1000000      # 0.4 GB per problem
    python bench/compare_dask.py --quick          # n = 2e5, one run each: a smoke run

Problems: logistic and poisson regression, n rows, d = 50 standard normal features, the
true coefficients linspace(-1, 1, d) / sqrt(d) (eta has sd ~0.58), intercept -0.3 for the
poisson. Chunk k of 250,000 rows (``--chunk``) is drawn from ``default_rng([seed, k])``,
so the Dask array (generated on the workers) and the in-memory array (the same chunks,
concatenated) hold the same numbers.

Protocol. Every fit runs in its own process, ``--repeat`` times (3; a method that fails
or times out once is not run again), and the run of median time is reported. A Dask
method starts
``LocalCluster(n_workers=2, threads_per_worker=1)``, generates the data on the workers and
persists them, and times ``fit`` alone; "ngdx memory" builds the array in its process and
runs ``ngdx.fit`` with 2 threads. Tolerances: ngdx tol=1e-10 (the scale-free gradient
test; ``--tol``); dask-ml and dask-glm the same tol (``--tol``), max_iter=100, and
C=1e8 (dask-glm: lamduh=1e-8; their objective is the summed NLL plus ||beta||^2 / (2C):
at n = 1e7 that penalty moves the optimum by ~1e-15). The workers import the library
before the clock starts. Columns: wall time of the fit; passes over X (ngdx: its
own count, ``FitResult.n_passes``: its door reads y, the weights and every
(n / 65536)-th row of X, not a pass; the others: chunk reads of X counted by a scheduler
plugin, divided by the chunks); the suboptimality f - f* of the mean NLL against ngdx's
in-memory optimum, as the mean of the rows' differences (the difference of two means of
1e7 rows has a rounding floor of ~1e-13, the mean of the differences ~1e-19), and the
max |gradient| at the returned solution by one ngdx pass, both over the same in-memory
array in the parent for every method; the peak RSS of the client and of each worker
(polled every 0.25 s) above their RSS before the fit. "x fastest dask-ml" is the fastest
dask-ml or dask-glm solver's time over the method's.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import math
import os
import platform
import shlex
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from compare import add_child_arguments, cpu_model, run_script, write_report  # noqa: E402

try:  # the bench extra's; without it the Dask rows say "not installed"
    from distributed.diagnostics.plugin import SchedulerPlugin
except ImportError:  # pragma: no cover
    SchedulerPlugin = object

MODELS = ("logistic", "poisson")
METHODS = ("ngdx dask", "ngdx memory", "dask-ml newton", "dask-ml lbfgs", "dask-ml admm",
           "dask-glm proximal_grad")
D = 50
SEED = 0


# ------------------------------------------------------------------ data
def true_coef(d):
    return np.linspace(-1.0, 1.0, d) / math.sqrt(d)


def chunk(model, k, rows, d, seed=SEED):
    """(X_k, y_k): chunk k of the problem."""
    rng = np.random.default_rng([seed, k])
    X = rng.standard_normal((rows, d))
    eta = X @ true_coef(d)
    if model == "logistic":
        y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-eta))).astype(np.float64)
    else:
        y = rng.poisson(np.exp(eta - 0.3)).astype(np.float64)
    return X, y


def row_chunks(n, rows):
    return [min(rows, n - s) for s in range(0, n, rows)]


def in_memory(model, n, d, rows):
    X, y = np.empty((n, d)), np.empty(n)
    start = 0
    for k, m in enumerate(row_chunks(n, rows)):
        X[start:start + m], y[start:start + m] = chunk(model, k, m, d)
        start += m
    return X, y


def on_workers(model, n, d, rows):
    import dask
    import dask.array as da

    parts = [dask.delayed(chunk, pure=True, nout=2)(model, k, m, d)
             for k, m in enumerate(row_chunks(n, rows))]
    sizes = row_chunks(n, rows)
    X = da.concatenate([da.from_delayed(p[0], (m, d), np.float64) for p, m in zip(parts, sizes)])
    y = da.concatenate([da.from_delayed(p[1], (m,), np.float64) for p, m in zip(parts, sizes)])
    return X, y


# ------------------------------------------------------------------ measurements
class PassCounter(SchedulerPlugin):
    """A scheduler plugin counting the tasks that read a chunk of X (its keys given)."""

    name = "ngdx-bench-passes"

    def __init__(self, keys):
        self.keys = set(keys)
        self.reads = 0

    async def start(self, scheduler):
        self.scheduler = scheduler

    def transition(self, key, start, finish, *args, **kwargs):
        if finish == "processing":
            ts = self.scheduler.tasks.get(key)
            if ts is not None:
                self.reads += sum(dep.key in self.keys for dep in ts.dependencies)


def _rss():
    import psutil

    return psutil.Process().memory_info().rss


class MemoryPoll:
    """Peak RSS of this process and of each worker, polled every ``every`` seconds."""

    def __init__(self, client=None, every=0.25):
        self.client, self.every = client, every
        self.base = self._sample()
        self.peak = dict(self.base)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        out = {"client": _rss()}
        if self.client is not None:
            out.update(self.client.run(_rss))
        return out

    def _run(self):
        while not self._stop.wait(self.every):
            try:
                for k, v in self._sample().items():
                    self.peak[k] = max(self.peak.get(k, 0), v)
            except Exception:  # a worker restarting: skip this sample
                pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def report(self):
        client = (self.peak["client"] - self.base["client"]) / 2**20
        workers = [(self.peak[k] - self.base.get(k, 0)) / 2**20 for k in sorted(self.peak)
                   if k != "client"]
        return client, workers


def evaluate(X, y, model, coef, intercept):
    """(mean NLL, max |gradient|) at (coef, intercept): one ngdx pass over X, y in memory
    (the same path, so the same rounding, for every method's solution)."""
    from ngdx._data import rows_of
    from ngdx._models import get_family

    family = get_family(model)
    rows = rows_of(X, y, None, family, coef_init=None, n_classes=None, fit_intercept=True,
                   n_threads=2)[0]
    theta = np.ascontiguousarray(np.append(np.ravel(coef), np.ravel(intercept)), dtype=float)
    g = np.empty(theta.size)
    loss, _ = rows.fused_pass(model, theta, 1, grad_out=g)
    return float(loss), float(np.abs(g).max())


#: |f - f*| below this is rounding in the rows' differences (~1e-19 at n = 1e7), not
#: optimization.
SUB_NOISE = 1e-18


def row_losses(X, y, model, coef, intercept, rows=1_000_000):
    """Each row's NLL at (coef, intercept), block by block, without the terms that do not
    depend on them (log y! for the poisson)."""
    out, b = np.empty(len(y)), np.asarray(coef, dtype=float).ravel()
    for s in range(0, len(y), rows):
        eta, yb = X[s:s + rows] @ b + intercept, y[s:s + rows]
        out[s:s + rows] = (np.logaddexp(0.0, np.where(yb == 1, -eta, eta)) if model == "logistic"
                           else np.exp(eta) - yb * eta)
    return out


def suboptimality(X, y, model, solution, optimum):
    """f(solution) - f(optimum), each a (coef, intercept), as the mean of the rows'
    differences: accurate to ~1e-19 at n = 1e7, where the difference of two means of 1e7
    rows each has a rounding floor of ~1e-13."""
    return float(np.mean(row_losses(X, y, model, *solution) - row_losses(X, y, model, *optimum)))


def fit_dask_ml(method, model, X, y, tol):
    name, solver = method.split()
    if name == "dask-ml":
        from dask_ml.linear_model import LogisticRegression, PoissonRegression
    else:
        from dask_glm.estimators import LogisticRegression, PoissonRegression
    cls = LogisticRegression if model == "logistic" else PoissonRegression
    penalty = dict(C=1e8) if name == "dask-ml" else dict(lamduh=1e-8)  # the same 1 / C
    est = cls(solver=solver, tol=tol, max_iter=100, fit_intercept=True, **penalty)
    est.fit(X, y)
    return np.ravel(est.coef_), float(np.ravel(est.intercept_)[0]), None


def child(args):
    import ngdx

    n, rows, tol, model = args.n, args.chunk, args.tol, args.model
    if args.method == "ngdx memory":
        X, y = in_memory(model, n, D, rows)
        with MemoryPoll() as mem:
            start = time.perf_counter()
            res = ngdx.fit(X, y, model, tol=tol, n_threads=args.threads)
            elapsed = time.perf_counter() - start
        coef, intercept, n_iter, passes = res.coef, res.intercept, res.n_iter, res.n_passes
    else:
        import dask
        from distributed import Client, LocalCluster, wait

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None, silence_logs=50) as cluster, \
                Client(cluster) as client:
            X, y = on_workers(model, n, D, rows)
            X, y = dask.persist(X, y)
            wait([X, y])
            # the libraries imported on the workers before the clock starts (a long-lived
            # cluster has them)
            client.run(importlib.import_module, "ngdx" if args.method.startswith("ngdx")
                       else args.method.split()[0].replace("-", "_"))
            keys = [k for k in dask.core.flatten(X.__dask_keys__())]
            client.register_plugin(PassCounter(keys))
            with MemoryPoll(client) as mem:
                start = time.perf_counter()
                if args.method == "ngdx dask":
                    res = ngdx.fit(X, y, model, tol=tol)
                    coef, intercept, n_iter = res.coef, res.intercept, res.n_iter
                    passes = res.n_passes
                else:
                    coef, intercept, n_iter = fit_dask_ml(args.method, model, X, y, tol)
                elapsed = time.perf_counter() - start
            if args.method != "ngdx dask":
                reads = client.run_on_scheduler(
                    lambda dask_scheduler: dask_scheduler.plugins[PassCounter.name].reads)
                passes = reads / len(keys)
    client_mb, workers_mb = mem.report()
    print(json.dumps(dict(time=elapsed, n_iter=n_iter, passes=passes,
                          coef=np.ravel(coef).tolist(),
                          intercept=float(np.ravel(intercept)[0]), client_mb=client_mb,
                          workers_mb=workers_mb)))


# ------------------------------------------------------------------ parent
def missing(method):
    import importlib.util

    module = {"dask-ml": "dask_ml", "dask-glm": "dask_glm"}.get(method.split()[0])
    need = ["dask", "distributed"] + ([module] if module else [])
    if method == "ngdx memory":
        need = []
    return [m for m in need if importlib.util.find_spec(m) is None]


def table(model, results):
    anchors = [r["time"] for m, r in results.items() if m.startswith("dask-") and "time" in r]
    fastest = min(anchors) if anchors else None
    lines = [f"### {model}", "",
             "| method | time s (median) | runs s | iterations | passes over X | f - f* | "
             "max abs grad | client MB | worker MB (each) | x fastest dask-ml |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for method, r in results.items():
        if "time" not in r:
            lines.append(f"| {method} | {r.get('error', r.get('skipped', '-'))} "
                         "| | | | | | | | |")
            continue
        runs = ", ".join(f"{t:.2f}" for t in r.get("times", [r["time"]]))
        sub = "-" if r.get("sub") is None else f"{r['sub']:.1e}"
        ratio = "-" if fastest is None else f"{fastest / r['time']:.1f}"
        workers = ", ".join(f"{w:.0f}" for w in r["workers_mb"]) or "-"
        it = "-" if r["n_iter"] is None else str(r["n_iter"])
        lines.append(f"| {method} | {r['time']:.2f} | {runs} | {it} | {r['passes']:.1f} | {sub} | "
                     f"{r['grad']:.1e} | {r['client_mb']:.0f} | {workers} | {ratio} |")
    return lines + [""]


def targets(all_results):
    out = ["Targets (issue 14):", ""]
    for model, results in all_results.items():
        dk, mem = results.get("ngdx dask", {}), results.get("ngdx memory", {})
        anchors = {m: r for m, r in results.items() if m.startswith("dask-") and "time" in r}
        if "time" in dk and anchors:
            best = min(anchors, key=lambda m: anchors[m]["time"])
            ratio = anchors[best]["time"] / dk["time"]
            better = all(dk["sub"] <= r["sub"] + SUB_NOISE for r in anchors.values())
            out.append(f"- {model}: ngdx on Dask {ratio:.1f}x faster than the fastest dask-ml/"
                       f"dask-glm solver ({best}), at {'better' if better else 'worse'} "
                       f"suboptimality — **{'met' if ratio >= 10 and better else 'not met'}** "
                       "(target 10x)")
        if "time" in dk and "time" in mem:
            ratio = dk["time"] / mem["time"]
            out.append(f"- {model}: ngdx on Dask {ratio:.2f}x the time of ngdx in memory — "
                       f"**{'met' if ratio <= 1.5 else 'not met'}** (target <= 1.5x)")
    return out


def repeated(flags, args):
    """The run of median time among ``args.repeat`` runs of a child (one failure ends it),
    with every run's time."""
    runs = []
    for _ in range(args.repeat):
        r = run_script(__file__, flags, args.threads, args.timeout)
        if "error" in r:
            return r if not runs else dict(sorted(runs, key=lambda r: r["time"])[
                (len(runs) - 1) // 2], times=[r["time"] for r in runs])
        runs.append(r)
    times = [r["time"] for r in runs]
    return dict(sorted(runs, key=lambda r: r["time"])[(len(runs) - 1) // 2], times=times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 2e5")
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--chunk", type=int, default=250_000, help="rows per chunk")
    parser.add_argument("--tol", type=float, default=1e-10)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--repeat", type=int, default=3, help="runs per method (median)")
    parser.add_argument("--out", help="write the report to this file")
    add_child_arguments(parser)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.chunk, args.repeat = 200_000, 50_000, 1
    if args.child:
        return child(args)
    command = shlex.join(argv if argv is not None else sys.argv[1:])
    lines = [f"# ngdx on Dask vs dask-ml and dask-glm ({datetime.date.today()})", "",
             f"Machine: {cpu_model()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}; n = {args.n:,}, d = {D}, chunks of "
             f"{args.chunk:,} rows ({args.n * D * 8 / 1e9:.1f} GB of X), "
             f"LocalCluster(n_workers=2, threads_per_worker=1). Command: "
             f"`python bench/compare_dask.py {command}`.", ""]
    print("\n".join(lines), flush=True)
    all_results = {}
    for model in args.models:
        results = {}
        for method in args.methods:
            absent = missing(method)
            if absent:
                results[method] = {"skipped": f"not installed ({', '.join(absent)})"}
                continue
            flags = ["--method", method, "--model", model, "--n", str(args.n), "--chunk",
                     str(args.chunk), "--tol", str(args.tol)]
            results[method] = r = repeated(flags, args)
            print(f"  {model} {method}: " + (r["error"] if "error" in r else
                  f"{r['time']:.2f} s (runs: {', '.join(f'{t:.2f}' for t in r['times'])}), "
                  f"{r['passes']:.1f} passes"), flush=True)
        # every solution evaluated over the same in-memory array: its gradient by an ngdx
        # pass, its suboptimality against ngdx's in-memory optimum row by row
        X, y = in_memory(model, args.n, D, args.chunk)
        optimum = results.get("ngdx memory", {})
        for r in results.values():
            if "time" in r:
                _, r["grad"] = evaluate(X, y, model, r["coef"], r["intercept"])
                r["sub"] = (suboptimality(X, y, model, (r["coef"], r["intercept"]),
                                          (optimum["coef"], optimum["intercept"]))
                            if "coef" in optimum else None)
        del X, y
        all_results[model] = results
        part = table(model, results)
        print("\n".join(part), flush=True)
        lines += part
    if args.out:  # the runs themselves (solutions included), to re-evaluate them later
        with open(args.out + ".json", "w") as fh:
            json.dump(all_results, fh)
    verdicts = targets(all_results)
    print("\n".join(verdicts), flush=True)
    write_report("\n".join(lines + verdicts) + "\n", args.out,
                 "compare-dask" if args.save else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

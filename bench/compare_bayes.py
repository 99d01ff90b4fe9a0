"""ngdx.bayes.fit (variational and Laplace) against numpyro's NUTS on Bayesian logistic
regression, and against the MAP fit's time (issue 12's targets), one subprocess per fit.

    python bench/compare_bayes.py                    # both problems (NUTS: minutes)
    python bench/compare_bayes.py --quick            # tiny problems, short chains: a smoke run
    python bench/compare_bayes.py --save             # writes bench/results/DATE-bayes.md

Protocol. The model of every method: Bernoulli likelihood with logits X w + b (summed),
w ~ N(0, 1/alpha) (alpha = 1), a flat prior on b. Problems: scikit-learn's
``load_breast_cancer`` (569 x 30, standardized) and a synthetic (1e5, 50). ngdx's fits
start from nothing (the MAP is part of their time); ``ngdx-map`` is ``ngdx.fit`` with
l2 = alpha / n alone, the denominator of the "x MAP" column. NUTS (numpyro, when
importable: it is never a dependency) runs 4 chains x 1000 draws after 1000 warm-up
steps, chains vectorized, and is the reference: each ngdx method's posterior means are
checked within 0.1 posterior sd of NUTS's and its sds within 10%. Times are wall times of
the fit in its own process (imports and data loading excluded); an ngdx fit runs in
``--repeats`` (5) fresh processes and its median is reported, NUTS once. Do not quote times from
a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from compare import cpu_model, run_script, write_report  # noqa: E402

PROBLEMS = {"breast-cancer": dict(n=569, d=30), "logistic-1e5x50": dict(n=100_000, d=50)}
QUICK = {"breast-cancer": dict(n=569, d=30), "logistic-1e5x50": dict(n=2_000, d=10)}
METHODS = ("ngdx-vi", "ngdx-laplace", "ngdx-map", "numpyro-nuts")
ALPHA = 1.0
MEAN_SD, SD_REL = 0.1, 0.10  # the checks against NUTS


def have_numpyro():
    import importlib.util

    return importlib.util.find_spec("numpyro") is not None


def make(name, quick):
    """(X, y) of a problem, deterministic."""
    if name == "breast-cancer":
        from sklearn.datasets import load_breast_cancer

        X, y = load_breast_cancer(return_X_y=True)
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        return np.ascontiguousarray(X), y.astype(float)
    pb = (QUICK if quick else PROBLEMS)[name]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((pb["n"], pb["d"]))
    eta = X @ rng.normal(scale=1 / np.sqrt(pb["d"]), size=pb["d"]) + 0.2
    return X, (rng.random(pb["n"]) < 1 / (1 + np.exp(-eta))).astype(float)


# ------------------------------------------------------------------ fits (in a child)
def fit_ngdx(X, y, method, threads):
    import ngdx

    if method == "ngdx-map":
        t0 = time.perf_counter()
        res = ngdx.fit(X, y, "logistic", "newton", l2=ALPHA / len(y), n_threads=threads)
        elapsed = time.perf_counter() - t0
        return elapsed, np.append(res.coef, res.intercept), None
    t0 = time.perf_counter()
    post = ngdx.bayes.fit(X, y, "logistic", prior_precision=ALPHA, n_threads=threads,
                          method=method.split("-")[1])
    elapsed = time.perf_counter() - t0
    return elapsed, post.mean, np.sqrt(np.diag(post.covariance))


def fit_nuts(X, y, threads, quick):
    import jax
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    jax.config.update("jax_enable_x64", True)
    d = X.shape[1]

    def model(X, y):
        w = numpyro.sample("w", dist.Normal(0.0, 1.0 / np.sqrt(ALPHA)).expand([d]).to_event(1))
        b = numpyro.sample("b", dist.ImproperUniform(dist.constraints.real, (), ()))
        numpyro.sample("y", dist.Bernoulli(logits=X @ w + b), obs=y)

    draws = 200 if quick else 1000
    mcmc = MCMC(NUTS(model), num_warmup=draws, num_samples=draws, num_chains=4,
                chain_method="vectorized", progress_bar=False)
    t0 = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(0), X, y)
    theta = np.column_stack([np.asarray(mcmc.get_samples()["w"]),
                             np.asarray(mcmc.get_samples()["b"])])
    elapsed = time.perf_counter() - t0
    return elapsed, theta.mean(axis=0), theta.std(axis=0)


def child(args):
    X, y = make(args.problem, args.quick)
    if args.method == "numpyro-nuts":
        elapsed, mean, sd = fit_nuts(X, y, args.threads, args.quick)
    else:
        elapsed, mean, sd = fit_ngdx(X, y, args.method, args.threads)
    print(json.dumps({"time": elapsed, "mean": mean.tolist(),
                      "sd": None if sd is None else sd.tolist()}))
    return 0


# ------------------------------------------------------------------ report
def check(row, ref):
    """'ok' or what failed, against the NUTS row."""
    if ref is None or "error" in ref or row.get("sd") is None:
        return "-"
    mean, sd = np.array(row["mean"]), np.array(row["sd"])
    rmean, rsd = np.array(ref["mean"]), np.array(ref["sd"])
    worst_mean = float(np.max(np.abs(mean - rmean) / rsd))
    worst_sd = float(np.max(np.abs(sd / rsd - 1)))
    ok = worst_mean <= MEAN_SD and worst_sd <= SD_REL
    return f"{'ok' if ok else 'check failed'} (mean {worst_mean:.3f} sd, sd {worst_sd:.1%})"


def report_problem(name, rows):
    ref = rows.get("numpyro-nuts")
    map_time = rows.get("ngdx-map", {}).get("time")
    lines = [f"### {name}:", "", "| method | time (s) | x MAP | x faster than NUTS | "
             "vs NUTS |", "|---|---|---|---|---|"]
    for method, row in rows.items():
        if "error" in row:
            lines.append(f"| {method} | Error: {row['error']} | | | |")
            continue
        ratio = f"{row['time'] / map_time:.2f}" if map_time else "-"
        faster = (f"{ref['time'] / row['time']:.0f}" if ref and "error" not in ref
                  and method != "numpyro-nuts" else "-")
        lines.append(f"| {method} | {row['time']:.4f} | {ratio} | {faster} | "
                     f"{check(row, ref)} |")
    return "\n".join(lines) + "\n"


def median_run(runs):
    """The run of median time among ``runs`` (fresh processes of one fit: a first call's
    time varies by ~0.1 s from one process to the next, as much as a small fit takes);
    a run that failed, if any did."""
    bad = [r for r in runs if "time" not in r]
    if bad:
        return bad[0]
    return sorted(runs, key=lambda r: r["time"])[len(runs) // 2]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--method", choices=METHODS)
    parser.add_argument("--problem", choices=list(PROBLEMS))
    parser.add_argument("--problems", nargs="+", choices=list(PROBLEMS), default=list(PROBLEMS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--save", action="store_true")
    parser.add_argument("--out", help="write the report to this file")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--repeats", type=int, default=5,
                        help="processes per ngdx fit, the median time reported (NUTS: one)")
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    methods = [m for m in METHODS if m != "numpyro-nuts" or have_numpyro()]
    parts = [f"## ngdx.bayes vs NUTS ({'quick' if args.quick else 'full'}), {cpu_model()}, "
             f"{args.threads} threads", "",
             "numpyro: " + ("installed" if have_numpyro() else "not installed (NUTS skipped)"),
             ""]
    for name in args.problems:
        rows = {}
        for method in methods:
            flags = ["--method", method, "--problem", name] + (["--quick"] if args.quick else [])
            runs = [run_script(__file__, flags, args.threads, args.timeout)
                    for _ in range(1 if method == "numpyro-nuts" or args.quick else args.repeats)]
            rows[method] = median_run(runs)
        parts.append(report_problem(name, rows))
    report = "\n".join(parts)
    print(report)
    write_report(report, args.out, "bayes" if args.save else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

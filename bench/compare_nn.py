"""ngdx.nn (K-FAC, exact natural gradient, Adam) against scikit-learn's and PyTorch's MLP
training on the four problems of issue 11, one subprocess per fit.

    python bench/compare_nn.py                           # every problem (long)
    python bench/compare_nn.py --quick                   # tiny problems: a smoke run
    python bench/compare_nn.py --problems digits --save  # writes bench/results/

Protocol. The objective of every method is ngdx's: the mean NLL of the output family plus
l2/2 sum ||W||^2 (biases unpenalized), computed by ngdx on each method's parameters (an
anchor's own loss is used along its path only where it equals ngdx's, checked at its
final point). The anchors (scikit-learn adam, sgd, lbfgs; PyTorch Adam and L-BFGS when
``torch`` is importable, float64 like ngdx, ``torch.set_num_threads(threads)``) run their
whole budget; adam and sgd are each at the best of a small learning-rate grid (lowest
final objective). L* is the lowest final training objective an anchor reaches. The table
gives, for every method, the wall time and passes over the training data until its
objective first reaches L* (or "not reached"), its final objective, its test accuracy or
R^2, and the peak resident memory of its process. The digits autoencoder is trained by
scikit-learn on squared error with identity outputs: it has no NLL of logistic outputs,
so it is left out of L* and only its test R^2 compares.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from compare import _peak_rss, _reset_peak_rss, cpu_model, run_script, write_report  # noqa: E402
from _nn_problems import PROBLEMS, make, objective, quick, test_score  # noqa: E402
from _nn_solvers import METHODS, Trace  # noqa: E402

#: A method has reached L* at a point whose objective is at most L* (1 + RTOL) (the
#: anchor that set L* reaches it exactly at its end).
RTOL = 1e-9


def have_torch():
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def versions():
    import sklearn

    import ngdx
    torch = "not installed"
    if have_torch():
        import torch as _torch
        torch = _torch.__version__
    return (f"ngdx {ngdx.__version__} (compiled core), scikit-learn {sklearn.__version__}, "
            f"PyTorch {torch}")


# ------------------------------------------------------------------ the child
def child(args):
    """One fit in this fresh process; prints one JSON line."""
    warnings.simplefilter("ignore")  # budgets end fits early by design
    pb = quick(PROBLEMS[args.problem]) if args.quick else dict(PROBLEMS[args.problem])
    pb["name"] = args.problem
    for key in ("X", "y", "X_test", "y_test"):
        pb[key] = np.load(os.path.join(args.data, key + ".npy"))
    solver = METHODS[args.method][0]
    lr = None if args.lr == "none" else float(args.lr)
    trace = Trace(os.path.join(args.data, f"snapshots-{os.getpid()}.bin"))
    warm_up(solver, pb, lr, args.threads, args.data)
    rss_inputs = _reset_peak_rss()
    trace.start()
    params, info = solver(pb, lr, args.threads, trace)
    elapsed = trace.elapsed()
    rss_peak = _peak_rss()
    # After the clock and the memory: ngdx's objective at every snapshot and at the end.
    from _nn_problems import network

    snapshots = trace.snapshots(network(pb)) if trace.n_snapshots else []
    comparable = not info.get("identity_output", False)
    points = []
    for t, passes, value, index in trace.points:
        if index is not None and comparable:
            value = objective(pb, snapshots[index])
        points.append([t, passes, value])
    final = objective(pb, params) if comparable else None
    check = None
    values = [v for _, _, v in points if v is not None]
    if comparable and values and not any(abs(v - final) <= 1e-9 * max(1.0, abs(final))
                                         for v in values):
        check = "its own loss never equals ngdx's objective at its final parameters"
    print(json.dumps(dict(time=elapsed, points=points, final=final, comparable=comparable,
                          score=test_score(pb, params, not comparable), check=check,
                          rss_mb=rss_peak / 1024, extra_mb=(rss_peak - rss_inputs) / 1024,
                          passes=points[-1][1] if points else 0, **info)))
    return 0


def warm_up(solver, pb, lr, threads, data_dir):
    """The same solver on 20 rows (and one of each class) for one iteration, before the clock and the memory
    baseline: imports, lazy initialization and first-call costs (PyTorch's are seconds)
    are not the fit's."""
    first = np.arange(20)
    if pb["output"] == "multinomial":  # every class, as scikit-learn's classifier needs
        first = np.union1d(first, np.unique(pb["y"], return_index=True)[1])
    rows = {k: pb[k][first] for k in ("X", "y", "X_test", "y_test")}
    tiny = dict(pb, budget={k: 1 for k in pb["budget"]}, **rows)
    trace = Trace(os.path.join(data_dir, f"warm-up-{os.getpid()}.bin"))
    trace.start()
    solver(tiny, lr, threads, trace)
    trace.close()


# ------------------------------------------------------------------ the parent
def run_child(method, name, lr, data_dir, threads, quick_mode, timeout):
    return run_script(__file__, ["--method", method, "--problem", name, "--lr",
                                 "none" if lr is None else repr(lr), "--data", data_dir]
                      + (["--quick"] if quick_mode else []), threads, timeout)


def best_of_grid(runs):
    """The run with the lowest final objective (the best test score when the objective
    is not comparable); None when every run failed."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return None
    if ok[0]["comparable"]:
        return min(ok, key=lambda r: (r["final"], r["time"]))
    return max(ok, key=lambda r: r["score"])


def to_target(run, target):
    """(seconds, passes) at the first point whose objective is <= target, else None."""
    for t, passes, value in run["points"]:
        if value is not None and value <= target + RTOL * abs(target):
            return t, passes
    return None


def fit_all(pb, methods, args, data_dir):
    """{method: its best run} on one problem, every fit in its own process."""
    jobs = []
    for method in methods:
        grid = METHODS[method][1]
        jobs += [(method, lr) for lr in
                 (grid[len(grid) // 2: len(grid) // 2 + 1] if args.quick else grid)]

    def fit(job):
        return run_child(job[0], pb["name"], job[1], data_dir, args.threads, args.quick,
                         args.timeout)

    runs = {method: [] for method in methods}
    with ThreadPoolExecutor(args.jobs) as pool:  # --jobs 1 (default): one fit at a time
        for (method, lr), r in zip(jobs, pool.map(fit, jobs)):
            runs[method].append(dict(r, lr=lr))
            print(f"  {method} lr={lr}: " + (r["error"] if "error" in r else
                  f"{r['time']:.2f} s, final {r['final']}, score {r['score']:.4f}"),
                  flush=True)
    return {method: best_of_grid(rs) or rs[0] for method, rs in runs.items()}


def table(pb, rows):
    """The markdown lines of one problem's table, and its summary sentence."""
    anchors = {m: r for m, r in rows.items() if METHODS[m][2] and "error" not in r
               and r["comparable"]}
    target = min((r["final"] for r in anchors.values()), default=None)
    metric = "test accuracy" if pb["output"] == "multinomial" else "test R^2"
    lines = [f"### {pb['name']}: {pb['layer_sizes']} {pb['activation']}/{pb['output']}, "
             f"n = {len(pb['y'])} (test {len(pb['y_test'])}), l2 = {pb['l2']:g}", ""]
    if target is None:
        lines.append("No anchor optimizes ngdx's objective here: no L*.")
    else:
        by = min(anchors, key=lambda m: anchors[m]["final"])
        lines.append(f"L* = {target:.6g} (the final objective of {by}).")
    lines += ["", f"| method | lr | time to L* (s) | passes to L* | total time (s) | "
              f"total passes | final objective | {metric} | peak RSS MB (above inputs) |",
              "|---|---|---|---|---|---|---|---|---|"]
    reached = {}
    for method, r in rows.items():
        if "error" in r:
            lines.append(f"| {method} | – | – | – | – | – | – | – | {r['error']} |")
            continue
        hit = to_target(r, target) if target is not None and r["comparable"] else None
        if hit:
            reached[method] = hit
        to_l = (f"{hit[0]:.3f} | {hit[1]}" if hit else
                "not reached | –" if target is not None and r["comparable"] else "n/a | n/a")
        final = f"{r['final']:.6g}" if r["comparable"] else "n/a (squared error)"
        note = f" (check failed: {r['check']})" if r.get("check") else ""
        lr = "–" if r["lr"] is None else f"{r['lr']:g}"
        lines.append(f"| {method} | {lr} | {to_l} | {r['time']:.3f} | {r['passes']} | "
                     f"{final}{note} | {r['score']:.4f} | {r['rss_mb']:.0f} "
                     f"({r['extra_mb']:.0f}) |")
    lines += ["", summary(reached, rows), ""]
    return lines


def summary(reached, rows):
    """K-FAC's ratios: time to L* against the fastest anchor, passes against Adam."""
    kfac = reached.get("ngdx kfac")
    if kfac is None:
        return "ngdx kfac did not reach L*." if "ngdx kfac" in rows else ""
    anchors = [hit for m, hit in reached.items() if METHODS[m][2]]
    adams = [hit for m, hit in reached.items() if m.endswith("adam")]
    parts = []
    if anchors:
        parts.append("time to L* of the fastest anchor / ngdx kfac's: "
                     f"{min(t for t, _ in anchors) / kfac[0]:.2f}")
    if adams:
        parts.append("passes to L* of the best Adam / ngdx kfac's: "
                     f"{min(p for _, p in adams) / max(kfac[1], 1):.2f}")
    else:
        most = max((rows[m]["passes"] for m in rows if m.endswith("adam")
                    and "error" not in rows[m]), default=0)
        parts.append(f"no Adam reached L* (in up to {most} passes)")
    return "; ".join(parts) + "."


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="150 rows, 8x narrower hidden layers, a few iterations")
    parser.add_argument("--problems", nargs="*", default=list(PROBLEMS), choices=list(PROBLEMS))
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--threads", type=int, default=2, help="of every method (default 2)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="fits run at once: 1 (default) for any timing")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per fit")
    parser.add_argument("--save", action="store_true", help="write bench/results/DATE-...md")
    parser.add_argument("--out", help="write the report to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--problem", help=argparse.SUPPRESS)
    parser.add_argument("--lr", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    methods = [m for m in args.methods if have_torch() or not m.startswith("torch")]
    skipped = [m for m in args.methods if m not in methods]
    command = shlex.join(argv if argv is not None else sys.argv[1:])
    lines = [f"# ngdx.nn vs scikit-learn and PyTorch MLP training ({datetime.date.today()})",
             "", f"Machine: {cpu_model()}, {os.cpu_count()} "
             f"cores, Python {platform.python_version()}, NumPy {np.__version__}, "
             f"{versions()}, "
             f"{args.threads} threads per method. Command: `python bench/compare_nn.py "
             f"{command}`."]
    if skipped:
        lines.append(f"Skipped (PyTorch not installed: `pip install \".[bench]\"`): "
                     f"{', '.join(skipped)}.")
    lines.append("")
    print("\n".join(lines), flush=True)
    for name in args.problems:
        pb = make(name, args.quick)
        with tempfile.TemporaryDirectory() as tmp:
            for key in ("X", "y", "X_test", "y_test"):
                np.save(os.path.join(tmp, key + ".npy"), pb[key])
            rows = fit_all(pb, methods, args, tmp)
        part = table(pb, rows)
        print("\n".join(part), flush=True)
        lines += part
    report = "\n".join(lines) + "\n"
    name = "compare-nn-quick" if args.quick else "compare-nn"
    write_report(report, args.out, name if args.save else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

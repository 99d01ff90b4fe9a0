"""Peak memory of one fused pass above its inputs, each case in a fresh process.

    python bench/memory.py                      # (1e6, 100): ngdx 2 and 1 threads, NumPy
    python bench/memory.py --size 20000 2000    # another (n, d)
    python bench/memory.py --budget 64          # exit status 1 if ngdx needs more (MiB)

A child process imports everything, builds (X, y, theta) and reads its resident set
(VmRSS); then it resets the kernel's peak-RSS counter (writing 5 to
/proc/self/clear_refs, Linux >= 4.0), runs the pass once -- the first call, thread
pool start included -- and reads the peak (VmHWM). The difference is the memory the
pass needed beyond its inputs, outputs included. Without clear_refs the peak of the
setup cannot be told apart and the child says so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

MiB = 1024 * 1024
CASES = {
    "ngdx, 2 threads": "ngdx2",
    "ngdx, 1 thread": "ngdx1",
    "NumPy baseline": "numpy",
}


def _status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child(case, n, d):
    """Runs in the fresh process: prints one JSON line of byte counts."""
    import gc

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _problems import make_problem, numpy_pass

    from ngdx._functional import fused

    X, y, theta = make_problem(n, d)
    gc.collect()
    inputs = X.nbytes + y.nbytes + theta.nbytes
    before = _status_kib("VmRSS") * 1024
    exact = _reset_peak()
    if case == "numpy":
        result = numpy_pass(X, y, theta)
    else:
        result = fused(X, y, theta, "logistic", "true", n_threads=int(case[-1]))
    peak = _status_kib("VmHWM") * 1024
    del result
    print(json.dumps({"inputs": inputs, "rss_before": before, "peak": peak,
                      "exact": exact}))


def measure(case, n, d):
    out = subprocess.run([sys.executable, __file__, "--child", case, str(n), str(d)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", nargs=2, type=int, default=(1_000_000, 100),
                        metavar=("N", "D"))
    parser.add_argument("--budget", type=float, default=64.0,
                        help="MiB above the inputs allowed for ngdx (default 64)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        case, n, d = args.child
        child(case, int(n), int(d))
        return 0

    n, d = args.size
    print(f"peak memory of one fused pass, n={n:_} d={d} (fresh process each)")
    print(f"{'case':<18}{'inputs MiB':>12}{'RSS before':>12}{'peak':>10}{'above':>10}")
    ok = True
    for label, case in CASES.items():
        m = measure(case, n, d)
        above = (m["peak"] - m["rss_before"]) / MiB
        note = "" if m["exact"] else "  (no clear_refs: lower bound)"
        print(f"{label:<18}{m['inputs'] / MiB:12.1f}{m['rss_before'] / MiB:12.1f}"
              f"{m['peak'] / MiB:10.1f}{above:10.1f}{note}")
        if case.startswith("ngdx") and above > args.budget:
            ok = False
    verdict = "within" if ok else "OVER"
    print(f"ngdx: {verdict} the budget of inputs + {args.budget:g} MiB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

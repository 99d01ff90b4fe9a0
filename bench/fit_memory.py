"""Memory a whole fit takes beyond its inputs, in a fresh process:

    python bench/fit_memory.py PROBLEM [--old-dir OLD_DIR]

PROBLEM is one of bench/test_bench_fit.py's problems or ``multinomial10 1e5x200``. Prints
the peak resident memory during the fit (VmHWM, reset after loading the data and a warm-up
fit) minus the resident memory before it. ``--old-dir`` measures another version instead
(its package as installed in OLD_DIR/ngdx, as for bench/ab_versions.py). Linux only.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from ab_versions import load_other  # noqa: E402
from compare import make_data  # noqa: E402
from test_bench_fit import FITS  # noqa: E402

PROBLEMS = {**FITS, "multinomial10 1e5x200": dict(model="multinomial", n=100_000, d=200,
                                                   l2=0.0, K=10)}


def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024  # MiB


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("problem", choices=list(PROBLEMS))
    parser.add_argument("--old-dir")
    args = parser.parse_args()
    if args.old_dir:
        module = load_other(args.old_dir)
    else:
        import ngdx as module
    pb = PROBLEMS[args.problem]
    X, y = make_data(pb)
    module.fit(X[:50], y[:50], pb["model"], max_iter=1, tol=0)  # first-use allocations
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current resident size
    before = status("VmRSS")
    res = module.fit(X, y, pb["model"], "ngd", l2=pb["l2"], tol=1e-10, n_threads=2)
    print(f"{args.problem}: {status('VmHWM') - before:.1f} MiB beyond the inputs "
          f"(X {X.nbytes / 2**20:.0f} MiB), n_iter {res.n_iter}")


if __name__ == "__main__":
    main()

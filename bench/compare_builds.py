"""Time the fused pass of several builds of ngdx._core side by side, on the same data.

Build the extension once per compiler target in build dirs of your own (never in the
project's build/), e.g.

    for arch in x86-64-v3 x86-64-v4 native ""; do
      cmake -S . -B /tmp/arch-${arch:-default} -G Ninja -DCMAKE_BUILD_TYPE=Release \\
            -DNGDX_ARCH=$arch -Dpybind11_DIR=$(python -m pybind11 --cmakedir)
      ninja -C /tmp/arch-${arch:-default}
    done
    python bench/compare_builds.py v3=/tmp/arch-x86-64-v3 v4=/tmp/arch-x86-64-v4 \\
           native=/tmp/arch-native sse2=/tmp/arch-default

Each LABEL=PATH names a built _core*.so or a directory holding one. All builds are
loaded into this one process (the module defines functions only, so several copies
coexist) and called in rotating order within each round, so a slow phase of the
machine hits every build alike. Calls during which other processes used more than
--max-foreign of the CPUs are discarded and repeated once the machine is quiet again.
Every build's answer is checked against the NumPy baseline first. GFLOP/s count n d^2
per pass (the Gram).
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import CpuMeter, wait_until_quiet  # noqa: E402
from _problems import check_pass, make_problem, numpy_pass  # noqa: E402


def load_core(label, path):
    """The _core extension at path (a .so, or a directory holding one) as a module."""
    if os.path.isdir(path):
        found = sorted(glob.glob(os.path.join(path, "_core*.so")))
        if not found:
            raise SystemExit(f"{label}: no _core*.so in {path}")
        path = found[0]
    # The last name component must stay "_core": it selects the PyInit__core symbol.
    spec = importlib.util.spec_from_file_location(f"ngdx_build_{len(label)}_{label}._core",
                                                  path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path


def fused(core, X, y, theta, n_threads):
    """ngdx._functional.fused for logistic / true Fisher, bound to one build's core."""
    d = theta.size
    grad, fisher = np.empty(d), np.empty((d, d))
    glm = getattr(core, "glm", core)  # _core.glm since the bindings were split per layer
    out = glm.fused_pass("logistic", X, y, theta, 1, False, None, "true", False, 1, 0,
                         n_threads, grad, fisher)
    loss = out[0] if isinstance(out, tuple) else out  # (loss, n_misclassified) since f6a913b
    return loss, grad, fisher


def time_builds(cores, problem, n_threads, rounds, max_foreign, max_extra):
    """{label: [clean seconds]} over `rounds` rotating rounds (plus retries)."""
    labels = list(cores)
    times = {label: [] for label in labels}
    dropped = {label: 0 for label in labels}
    for r in range(rounds + max_extra):
        pending = [lb for lb in labels if len(times[lb]) < rounds]
        if not pending:
            break
        shift = r % len(pending)
        for label in pending[shift:] + pending[:shift]:
            with CpuMeter() as m:
                t0 = time.perf_counter()
                fused(cores[label], *problem, n_threads)
                elapsed = time.perf_counter() - t0
            if m.foreign > max_foreign:
                dropped[label] += 1
                wait_until_quiet(max_foreign, window=0.5)
            else:
                times[label].append(elapsed)
    return times, dropped


def parse_size(text):
    n, d = text.lower().split("x")
    return int(float(n)), int(float(d))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("builds", nargs="+", metavar="LABEL=PATH")
    parser.add_argument("--sizes", nargs="+", type=parse_size,
                        default=[(1_000_000, 100), (20_000, 2_000)], metavar="NxD")
    parser.add_argument("--threads", nargs="+", type=int, default=[2])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--max-foreign", type=float, default=0.05,
                        help="drop calls while others used more than this share of the CPUs")
    args = parser.parse_args(argv)

    cores = {}
    for item in args.builds:
        label, _, path = item.partition("=")
        cores[label], where = load_core(label, path)
        print(f"{label:>10}: {where}")

    for n, d in args.sizes:
        problem = make_problem(n, d)
        expected = numpy_pass(*problem)
        for label, core in cores.items():
            check_pass(fused(core, *problem, max(args.threads)), expected, f"{label} vs NumPy",
                       symmetric=True)
        for n_threads in args.threads:
            for core in cores.values():  # warm up: thread pool, page faults
                fused(core, *problem, n_threads)
            quiet = wait_until_quiet()
            times, dropped = time_builds(cores, problem, n_threads, args.rounds,
                                         args.max_foreign, max_extra=10 * args.rounds)
            print(f"\nn={n:_} d={d} threads={n_threads} (machine {quiet:.0%} busy "
                  f"elsewhere at start; answers match NumPy to 1e-10)")
            print(f"{'build':>10} {'median s':>9} {'min s':>8} {'GFLOP/s':>8} {'kept':>5}"
                  f" {'dropped':>8}")
            for label, ts in times.items():
                if not ts:
                    print(f"{label:>10} {'-':>9} {'-':>8} {'-':>8} {0:>5} {dropped[label]:>8}")
                    continue
                med = statistics.median(ts)
                print(f"{label:>10} {med:9.4f} {min(ts):8.4f} {n * d * d / med / 1e9:8.1f}"
                      f" {len(ts):>5} {dropped[label]:>8}")
        del problem, expected
    return 0


if __name__ == "__main__":
    sys.exit(main())

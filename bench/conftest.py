"""Fixtures of the benchmarks: one problem size alive at a time, and its reference answer.

Run from the repository root with ``python -m pytest bench/`` (the project's
``testpaths`` keeps bench/ out of the plain test run).
"""

from __future__ import annotations

import gc
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # _problems, _machine, even with importlib mode

from _machine import CpuMeter  # noqa: E402
from _problems import check_pass, make_problem, numpy_pass  # noqa: E402

from ngdx import _core  # noqa: E402
from ngdx._functional import fused  # noqa: E402

#: (test id, share of the CPUs other processes used while it ran), for the summary.
_load = []


@pytest.fixture(scope="module")
def problem(request):
    """(X, y, theta) for the size in request.param (indirect parametrization).

    Module scope with a parameter: pytest runs every test of one size before the next
    and finalizes this fixture (and ``reference``) before building the next size, so
    only one X (800 MB at 1e6 x 100) is alive at a time.
    """
    gc.collect()  # anything left of the previous size
    return make_problem(*request.param)


@pytest.fixture(scope="module")
def reference(problem):
    """The NumPy answer and ngdx's one-thread answer, checked against each other once."""
    expected = numpy_pass(*problem)
    got = fused(*problem, "logistic", "true", n_threads=1)
    check_pass(got, expected, "ngdx (1 thread) vs NumPy", symmetric=True)
    return {"numpy": expected, "ngdx": got}


@pytest.fixture
def run(benchmark, request, problem):
    """Times f with pedantic rounds and records the size and the machine's load.

    Rounds come from ``--benchmark-min-rounds`` (default 5), after one warmup round.
    ``extra_info`` gets n, d, gram_flop = n d^2, the path of the timed ngdx._core and,
    when timed, the GFLOP/s at the median and the share of the CPUs other processes
    used meanwhile (``foreign_cpu``: a run above a few percent was disturbed and
    should be repeated).
    """
    rounds = request.config.getoption("benchmark_min_rounds")
    n, d = problem[0].shape

    def _run(f):
        with CpuMeter() as meter:
            result = benchmark.pedantic(f, rounds=rounds, iterations=1, warmup_rounds=1)
        benchmark.extra_info.update(n=n, d=d, gram_flop=n * d * d, ngdx_core=_core.__file__)
        if benchmark.stats is not None:
            median = benchmark.stats.stats.median
            benchmark.extra_info["gflops_at_median"] = round(n * d * d / median / 1e9, 2)
            benchmark.extra_info["foreign_cpu"] = round(meter.foreign, 3)
            _load.append((request.node.nodeid, meter.foreign))
        return result

    return _run


def pytest_terminal_summary(terminalreporter):
    busy = [(name, share) for name, share in _load if share > 0.05]
    if busy:
        terminalreporter.section("benchmarks disturbed by other processes")
        for name, share in busy:
            terminalreporter.write_line(f"{share:6.1%} of the CPUs busy elsewhere: {name}")


def pytest_benchmark_update_machine_info(config, machine_info):
    """Library versions, so a comparison across environments is flagged.

    pytest-benchmark warns when a compared run's machine_info differs, and the project's
    ``filterwarnings = error`` turns that warning into an error: keep only what
    identifies the environment here (the path of the timed ngdx build goes in each
    benchmark's extra_info instead).
    """
    import numpy as np
    import scipy

    machine_info["numpy"] = np.__version__
    machine_info["scipy"] = scipy.__version__
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        machine_info["numpy_blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # the layout of show_config differs between NumPy versions
        pass

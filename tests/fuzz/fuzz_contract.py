"""The contract every fuzzed call must keep, and the profiles that run it.

A call ends in one of two ways:

* a correct result: finite, of the right shape (each test's own check, often a parity with
  ``ngdx._reference``), with every input unmodified; or
* a ``ValueError``/``TypeError`` whose message names the offending argument,

and never in a crash, a hang (a per-call time bound, and a watchdog that dumps every
thread's stack and ends the process when a call never returns), an unbounded allocation
(the call's peak memory is bounded by a multiple of its inputs and outputs), or a warning
other than a fit's ``ConvergenceWarning`` or the ``PerformanceWarning`` of a copied X (a
NumPy ``RuntimeWarning`` is a failure).
"""

from __future__ import annotations

import copy
import faulthandler
import sys
import os
import re
import resource
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field

import numpy as np
from hypothesis import HealthCheck, settings

# ------------------------------------------------------------------------------ profiles
#: ``NGDX_FUZZ=long`` runs many more examples per entry point (for local runs: about
#: 20 minutes on 2 cores); the default "fast" profile is the test suite's, derandomized
#: under CI so that CI runs the same examples every time.
PROFILE = os.environ.get("NGDX_FUZZ", "fast")
_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                      HealthCheck.data_too_large])
settings.register_profile("ngdx-fuzz-fast", max_examples=20, database=None,
                          derandomize=bool(os.environ.get("CI")), **_COMMON)
settings.register_profile("ngdx-fuzz-long", max_examples=2000, **_COMMON)
if PROFILE not in ("fast", "long"):
    raise RuntimeError(f"NGDX_FUZZ must be 'fast' or 'long', got {PROFILE!r}")
FUZZ = settings(settings.get_profile(f"ngdx-fuzz-{PROFILE}"))

#: Seconds one call may take before it counts as a hang (generous: 2 shared cores, and
#: the sanitizer build runs these tests too); the watchdog ends the process at WATCHDOG.
CALL_SECONDS = float(os.environ.get("NGDX_FUZZ_CALL_SECONDS", "60"))
WATCHDOG_SECONDS = 10 * CALL_SECONDS
#: Memory a call may use beyond its inputs and outputs: interpreter and thread noise (a
#: first call starts OpenMP's threads and may import a module), not a runaway allocation.
MEMORY_SLACK = 256 * 2**20
#: ... plus this multiple of the bytes of its inputs and expected outputs.
MEMORY_FACTOR = 40
#: Under AddressSanitizer the resident size counts shadow memory and the quarantine: the
#: RSS bound is then left to tracemalloc's (NumPy's allocations).
SANITIZED = bool(os.environ.get("NGDX_SANITIZED"))


# ------------------------------------------------------------------------------ outcomes
@dataclass
class Expect:
    """What a call may do: ``"ok"`` (must succeed), ``"reject"`` (must raise naming one of
    ``names``) or ``"either"``; ``label`` is the argument class, for messages."""

    outcome: str = "ok"
    names: tuple = ()
    label: str = "valid"
    extra_warnings: tuple = field(default_factory=tuple)


class ContractError(AssertionError):
    pass


def nbytes(obj) -> int:
    """Bytes held by an argument (arrays, sparse matrices, lists of numbers)."""
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if hasattr(obj, "data") and hasattr(obj, "nnz"):  # scipy.sparse
        return sum(getattr(obj, a).nbytes for a in ("data", "indices", "indptr", "row", "col")
                   if isinstance(getattr(obj, a, None), np.ndarray))
    if isinstance(obj, (list, tuple)):
        return 8 * int(np.size(np.asarray(obj, dtype=object)))
    return 8


def _snapshot(obj):
    if isinstance(obj, np.ndarray):
        return (obj.copy(), obj.flags.writeable, obj.dtype)
    if hasattr(obj, "nnz"):
        return (obj.copy(), None, obj.dtype)
    if isinstance(obj, (list, tuple, dict)):
        return (copy.deepcopy(obj), None, None)
    return None


def _same(before, obj) -> bool:
    if before is None:
        return True
    value, writeable, dtype = before
    if isinstance(obj, np.ndarray):
        if obj.flags.writeable != writeable or obj.dtype != dtype:
            return False
        if obj.dtype.kind in "fc":
            return np.array_equal(value, obj, equal_nan=True) and \
                np.array_equal(np.signbit(value.real), np.signbit(obj.real))
        return np.array_equal(value, obj)
    if hasattr(obj, "nnz"):
        return (value != obj).nnz == 0 and value.dtype == obj.dtype
    return repr(value) == repr(obj)


def _rss_peak_reset() -> bool:
    try:  # Linux: writing 5 resets VmHWM (the peak RSS) to the current RSS
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _rss_now_and_peak() -> tuple[int, int]:
    cur = peak = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
    return cur, peak


def _names_argument(message: str, names) -> bool:
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", message)
               for n in names)


def run(fn, args: dict, expect: Expect, *, out_bytes: int = 0, check=None):
    """Call ``fn(**args)`` under the contract; ``check(result)`` asserts a correct result.

    Returns the result, or None when the call raised as allowed.
    """
    snapshots = {k: _snapshot(v) for k, v in args.items()}
    budget = MEMORY_SLACK + MEMORY_FACTOR * (sum(nbytes(v) for v in args.values()) + out_bytes)
    what = f"{getattr(fn, '__qualname__', fn)} with {expect.label}"
    precise = _rss_peak_reset()
    rss0, _ = _rss_now_and_peak() if precise else (0, 0)
    maxrss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    # to the process's real stderr: pytest's capture may have replaced sys.stderr by an
    # object without a file descriptor (--capture=sys, as .ci/sanitize runs it)
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True, file=sys.__stderr__)
    error = result = None
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn(**args)
        except (ValueError, TypeError) as e:
            error = e
        except BaseException as e:  # MemoryError, RuntimeError, SystemError, ...
            raise ContractError(f"{what}: raised {type(e).__name__}: {e}") from e
        finally:
            elapsed = time.perf_counter() - t0
            faulthandler.cancel_dump_traceback_later()
            _, traced_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    if precise:
        rss_peak = _rss_now_and_peak()[1] - rss0
    else:
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - maxrss0
    if elapsed > CALL_SECONDS:
        raise ContractError(f"{what}: took {elapsed:.1f} s (bound {CALL_SECONDS} s)")
    peak = traced_peak if SANITIZED else max(traced_peak, rss_peak)
    if peak > budget:
        raise ContractError(f"{what}: peak memory {peak / 2**20:.1f} MiB, bound "
                            f"{budget / 2**20:.1f} MiB")
    for k, v in args.items():
        if not _same(snapshots[k], v):
            raise ContractError(f"{what}: modified its argument {k}")
    # ngdx's documented warnings: an unconverged fit, and a copy of a non-C-ordered X
    allowed = ("ConvergenceWarning", "PerformanceWarning") + tuple(expect.extra_warnings)
    bad = [w for w in caught if w.category.__name__ not in allowed]
    if bad:
        w = bad[0]
        raise ContractError(f"{what}: warned {w.category.__name__}: {w.message} "
                            f"({w.filename}:{w.lineno})")
    if error is not None:
        if expect.outcome == "ok":
            raise ContractError(f"{what}: must succeed, raised {type(error).__name__}: {error}")
        if not _names_argument(str(error), expect.names):
            raise ContractError(f"{what}: {type(error).__name__} does not name "
                                f"{' or '.join(expect.names)}: {error}")
        return None
    if expect.outcome == "reject":
        raise ContractError(f"{what}: must raise naming {' or '.join(expect.names)}, "
                            f"returned {result!r:.200}")
    if check is not None:
        try:  # the reference may overflow where the core does not: it then checks finiteness
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                check(result)
        except AssertionError as e:
            raise ContractError(f"{what}: wrong result: {e}") from e
    return result


def assert_finite(x, shape=None, what="result"):
    x = np.asarray(x)
    if shape is not None:
        assert x.shape == tuple(shape), f"{what} has shape {x.shape}, expected {tuple(shape)}"
    assert np.isfinite(x).all(), f"{what} is not finite: {x!r:.300}"


def assert_close(got, want, rtol=1e-6, what="result"):
    """``got`` equals the reference ``want`` to rtol, relative to the result's scale."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, f"{what} has shape {got.shape}, reference {want.shape}"
    assert np.isfinite(got).all(), f"{what} is not finite: {got!r:.300}"
    if not np.isfinite(want).all():
        return  # the reference itself overflowed; finiteness was the check
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    err = float(np.abs(got - want).max(initial=0.0))
    assert err <= rtol * scale, f"{what} differs from the reference by {err:.3g} (scale {scale:.3g})"

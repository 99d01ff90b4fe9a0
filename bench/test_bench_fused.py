"""The fused pass (loss + gradient + true Fisher of logistic regression in one sweep
over X) against what a user writes with NumPy and SciPy. Every benchmark also checks
its answer against another implementation's.

    python -m pytest bench/                       # time (about 70 s on 2 cores)
    python -m pytest bench/ --benchmark-disable   # each once, answers checked only

The Gram X^T diag(w) X dominates everything (n d^2 multiply-adds): ``extra_info``
records GFLOP/s counted as n d^2 per pass.
"""

from __future__ import annotations

import numpy as np
import pytest
from _problems import (RTOL, SIZES, assert_close, check_pass, float64_pass_of, mirror_lower,
                       numpy_pass, numpy_syrk_pass, sqrt_weights, syrk_lower)

from ngdx import _core
from ngdx._functional import fused


def size_param(size):
    """A pytest param for one (n, d), e.g. id ``1e6x100``, in its own benchmark group."""
    n, d = size
    exponent = len(str(n)) - 1
    return pytest.param(size, id=f"{n // 10**exponent}e{exponent}x{d}",
                        marks=pytest.mark.benchmark(group=f"fused pass n={n:_} d={d}"))


ALL_SIZES = [size_param(s) for s in SIZES]
TALL = [size_param(SIZES[0])]


@pytest.mark.parametrize("problem", ALL_SIZES, indirect=True)
def test_ngdx_2_threads(run, problem, reference):
    got = run(lambda: fused(*problem, "logistic", "true", n_threads=2))
    check_pass(got, reference["numpy"], "ngdx (2 threads) vs NumPy", symmetric=True)


@pytest.mark.parametrize("problem", TALL, indirect=True)
def test_ngdx_1_thread(run, problem, reference):
    got = run(lambda: fused(*problem, "logistic", "true", n_threads=1))
    check_pass(got, reference["numpy"], "ngdx (1 thread) vs NumPy", symmetric=True)


@pytest.mark.parametrize("problem", TALL, indirect=True)
def test_ngdx_float32_X_2_threads(run, problem):
    """A float32 X (half the bytes to read), read by the core as it is and accumulated in
    float64; checked against the float64 pass over the same values."""
    X, y, theta = problem
    X32 = X.astype(np.float32)
    got = run(lambda: fused(X32, y, theta, "logistic", "true", n_threads=2))
    check_pass(got, float64_pass_of(X32, y, theta), "ngdx float32 X vs float64 of its values",
               symmetric=True)


@pytest.mark.parametrize("kernel", _core.runtime.gram_kernels()[1:])
@pytest.mark.parametrize("problem", ALL_SIZES, indirect=True)
def test_ngdx_other_gram_kernel(run, problem, reference, kernel):
    """The kernels the default one was chosen over (the portable one on AVX-512 CPUs)."""
    _core.runtime.select_gram_kernel(kernel)
    try:
        got = run(lambda: fused(*problem, "logistic", "true", n_threads=2))
    finally:
        _core.runtime.select_gram_kernel("auto")
    check_pass(got, reference["numpy"], f"ngdx ({kernel} kernel) vs NumPy", symmetric=True)


@pytest.mark.parametrize("problem", ALL_SIZES, indirect=True)
def test_numpy(run, problem, reference):
    """eta, mu, loss, X.T @ (mu - y) and X.T @ (w[:, None] * X), as written by hand."""
    got = run(lambda: numpy_pass(*problem))
    check_pass(got, reference["ngdx"], "NumPy vs ngdx")


@pytest.mark.parametrize("problem", ALL_SIZES, indirect=True)
def test_numpy_dsyrk(run, problem, reference):
    """The careful hand-written pass: NumPy loss and gradient, Gram by dsyrk."""
    got = run(lambda: numpy_syrk_pass(*problem))
    check_pass(got, reference["ngdx"], "NumPy + dsyrk vs ngdx", symmetric=True)


@pytest.mark.parametrize("problem", ALL_SIZES, indirect=True)
def test_dsyrk_gram_only(run, problem, reference):
    """BLAS dsyrk on sqrt(w)-scaled X alone: the Gram without loss, gradient, weights or
    scaling (Xs is formed before timing), the lower bound of any BLAS-based pass."""
    X, _, theta = problem
    Xs = sqrt_weights(X, theta)[:, None] * X  # a second (n, d) array, for this test only
    lower = run(lambda: syrk_lower(Xs))
    del Xs
    fisher = mirror_lower(lower) / X.shape[0]
    assert_close(fisher, reference["numpy"][2], RTOL, "dsyrk vs NumPy: fisher")
    assert_close(fisher, reference["ngdx"][2], RTOL, "dsyrk vs ngdx: fisher")

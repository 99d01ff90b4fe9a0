"""The Gram micro-kernels, each against the NumPy reference, at the shapes where tiling
goes wrong: widths around the 8-column panels and 24-row tiles (with and without the
intercept's column; a last panel half in use is computed half wide), row counts around the 64/128-row blocks, and widths past one
cache band (1008 rows of tiles), for every kernel this build and CPU can run."""

from __future__ import annotations

import numpy as np
import pytest

import ngdx
from ngdx import _core
from ngdx import _reference as ref
from ngdx._functional import fused

from conftest import make_problem

KERNELS = _core.runtime.gram_kernels()


@pytest.fixture(params=KERNELS)
def kernel(request):
    _core.runtime.select_gram_kernel(request.param)
    yield request.param
    _core.runtime.select_gram_kernel("auto")


def close(a, b, rtol=1e-12):
    err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)
    assert err <= rtol, f"relative error {err:.3g} > {rtol:.1g}"


def test_the_default_kernel_is_listed_first_and_is_active():
    assert _core.runtime.gram_kernel() == KERNELS[0]
    assert "portable" in KERNELS


def test_unknown_kernel_is_a_value_error_naming_the_allowed_ones():
    with pytest.raises(ValueError, match="allowed: 'auto', 'portable'|allowed: 'auto', 'avx512'"):
        _core.runtime.select_gram_kernel("sse9")
    assert _core.runtime.gram_kernel() == KERNELS[0]


# dp = d + intercept: a last panel with 1..4 columns in use is computed 4 rows wide (3, 4:
# 4 of 8 in use with and without the intercept; 5: 5 or 6, whole), 5..8 columns whole.
@pytest.mark.parametrize("d", [1, 3, 4, 5, 7, 8, 9, 12, 16, 23, 24, 25, 40, 47, 48, 49, 71,
                               100])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_logistic_fisher_matches_reference(kernel, d, fit_intercept, n_threads):
    n = 200  # blocks of 64 rows: three full and a partial one; two threads split them
    X, y, theta = make_problem("logistic", n, d, seed=d, fit_intercept=True)
    if not fit_intercept:
        theta = theta[:d]
    sw = np.random.default_rng(d).uniform(0.0, 2.0, size=n)
    kw = dict(sample_weight=sw, fit_intercept=fit_intercept)
    for kind in ("true", "hessian"):
        _, _, F = fused(X, y, theta, "logistic", kind, n_threads=n_threads, **kw)
        close(F, ref.curvature(X, y, theta, "logistic", kind, **kw))
        np.testing.assert_array_equal(F, F.T)


@pytest.mark.parametrize("n", [1, 63, 64, 65, 127, 128, 129, 300])
def test_row_counts_around_the_blocks_match_reference(kernel, n):
    X, y, theta = make_problem("poisson", n, 30, seed=n, scale=0.2, fit_intercept=True)
    _, _, F = fused(X, y, theta, "poisson", "empirical", n_threads=2, fit_intercept=True)
    close(F, ref.curvature(X, y, theta, "poisson", "empirical", fit_intercept=True))


@pytest.mark.parametrize("d,K", [(5, 3), (26, 4), (49, 2)])
def test_multinomial_pair_grams_match_reference(kernel, d, K):
    X, y, theta = make_problem("multinomial", 150, d, K, seed=d, fit_intercept=True)
    for kind in ("true", "empirical"):
        _, _, F = fused(X, y, theta, "multinomial", kind, n_threads=2, fit_intercept=True)
        close(F, ref.curvature(X, y, theta, "multinomial", kind, fit_intercept=True))


def test_widths_past_one_cache_band_match_reference(kernel):
    # 1100 + 1 columns pad to 1104: two bands of tiles at 128 rows per block.
    X, y, theta = make_problem("logistic", 130, 1100, seed=3, scale=0.05, fit_intercept=True)
    _, _, F = fused(X, y, theta, "logistic", "true", n_threads=2, fit_intercept=True)
    close(F, ref.curvature(X, y, theta, "logistic", "true", fit_intercept=True))


@pytest.mark.parametrize("p", [3, 9, 25, 260])
def test_fisher_from_scores_matches_reference(kernel, p):
    S = np.random.default_rng(p).normal(size=(333, p))
    close(ngdx.fisher_from_scores(S, n_threads=2), ref.fisher_from_scores(S))


def test_kernels_agree_with_each_other():
    X, y, theta = make_problem("logistic", 500, 61, seed=5, fit_intercept=True)
    results = []
    for name in KERNELS:
        _core.runtime.select_gram_kernel(name)
        try:
            results.append(fused(X, y, theta, "logistic", "true", n_threads=2,
                                 fit_intercept=True)[2])
        finally:
            _core.runtime.select_gram_kernel("auto")
    for F in results[1:]:
        close(F, results[0], rtol=1e-14)

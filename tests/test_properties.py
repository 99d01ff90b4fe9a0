"""Property-based checks (hypothesis) over random shapes and values."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ngdx import _reference as ref
from ngdx._functional import fused

from conftest import ALL_MODELS


@st.composite
def problems(draw):
    model = draw(st.sampled_from(ALL_MODELS))
    n = draw(st.integers(1, 40))
    d = draw(st.integers(1, 5))
    K = draw(st.integers(2, 4)) if model == "multinomial" else 1
    fit_intercept = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([0.1, 1.0, 5.0]))
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=(n, d))
    theta = rng.uniform(-scale, scale, size=(d + fit_intercept) * K)
    if model in ("logistic", "probit"):
        y = rng.integers(0, 2, size=n).astype(float)
    elif model == "poisson":
        y = rng.integers(0, 20, size=n).astype(float)
    elif model == "gaussian":
        y = rng.normal(scale=3, size=n)
    else:
        y = rng.integers(0, K, size=n).astype(float)
    weights = rng.uniform(0.1, 3, size=n) if draw(st.booleans()) else None
    return model, X, y, theta, fit_intercept, weights


@settings(max_examples=150, deadline=None)
@given(problems(), st.sampled_from(["true", "empirical", "hessian", "mc"]), st.booleans())
def test_core_matches_reference_on_random_problems(problem, kind, diagonal):
    model, X, y, theta, fit_intercept, sw = problem
    kw = dict(fit_intercept=fit_intercept, sample_weight=sw)
    loss, grad, curv = fused(X, y, theta, model, kind, diagonal=diagonal, n_mc_samples=2, seed=3,
                             **kw)
    want = ref.curvature(X, y, theta, model, kind, diagonal=diagonal, n_samples=2, seed=3, **kw)
    np.testing.assert_allclose(loss, ref.loss(X, y, theta, model, **kw), rtol=1e-11)
    g_ref = ref.grad(X, y, theta, model, **kw)
    np.testing.assert_allclose(grad, g_ref, rtol=1e-10, atol=1e-12 * np.abs(g_ref).max())
    np.testing.assert_allclose(curv, want, rtol=1e-10, atol=1e-12 * np.abs(want).max())


@settings(max_examples=100, deadline=None)
@given(problems(), st.sampled_from(["true", "empirical", "mc"]))
def test_fisher_is_symmetric_psd_with_nonnegative_diagonal(problem, kind):
    model, X, y, theta, fit_intercept, sw = problem
    _, _, F = fused(X, y, theta, model, kind, fit_intercept=fit_intercept, sample_weight=sw,
                    n_mc_samples=2, seed=1)
    assert np.array_equal(F, F.T)
    assert (np.diag(F) >= 0).all()
    assert np.linalg.eigvalsh(F).min() >= -1e-10 * max(np.abs(F).max(), 1e-300)


@settings(max_examples=100, deadline=None)
@given(problems())
def test_kl_is_nonnegative_and_zero_only_at_the_same_point(problem):
    model, X, _, theta, fit_intercept, sw = problem
    K = theta.size // (X.shape[1] + fit_intercept)
    other = theta[::-1].copy() + 0.5
    from ngdx import _core

    assert _core.glm.mean_kl(model, X, theta, theta, K, fit_intercept, sw, 1) == 0.0
    assert _core.glm.mean_kl(model, X, theta, other, K, fit_intercept, sw, 1) >= 0.0

"""Shared test data: small GLM problems with labels drawn from the model."""

from __future__ import annotations

import numpy as np
import pytest

from ngdx import _reference as ref

ALL_MODELS = ("logistic", "probit", "poisson", "gaussian", "multinomial")


def make_problem(model, n=50, d=3, K=3, seed=0, scale=0.5, fit_intercept=False):
    """(X, y, theta) with theta of the core's flat layout when fit_intercept, else shaped
    like the public API's theta ((d,) or (d, K)); y drawn from the model at theta."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    k = K if model == "multinomial" else 1
    theta = rng.normal(scale=scale, size=(d + fit_intercept, k))
    eta = ref.linear_predictor(X, theta.ravel(), fit_intercept)
    if model in ("logistic", "probit"):
        y = (rng.random(n) < 0.5).astype(float)
    elif model == "poisson":
        y = rng.poisson(np.exp(eta[:, 0])).astype(float)
    elif model == "gaussian":
        y = eta[:, 0] + rng.normal(size=n)
    else:
        y = rng.integers(0, K, size=n).astype(float)
    if fit_intercept:
        return X, y, theta.ravel()
    return X, y, (theta if model == "multinomial" else theta[:, 0])


@pytest.fixture(params=ALL_MODELS)
def model(request):
    return request.param


# CI runs a fixed set of hypothesis examples (no flaky failures from new draws); local
# runs explore fresh ones.
try:
    import os

    from hypothesis import settings as _settings

    _settings.register_profile("ci", derandomize=True, database=None)
    if os.environ.get("CI"):
        _settings.load_profile("ci")
except ImportError:  # pragma: no cover
    pass

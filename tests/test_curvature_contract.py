"""Every curvature representation keeps the protocol's promises (ngdx._curvature).

One table of (representation, how a fit reaches it) and one set of checks that each must
pass against the NumPy reference's curvature, so a new representation is tested by adding
a row: its solve inverts M + damping diag(unit) (K-FAC: its factored damping), ``quad``
is v^T M v, ``scale`` the mean of diag(M) / unit, ``step_kl`` (when given) 1/2 delta^T F
delta with the true Fisher, and the statistics it computes are the reference's.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import ngdx
from ngdx import _curvature, _fit
from ngdx import _reference as ref

#: representation name -> (model, fit arguments that select it)
CASES = {
    "none": ("logistic", dict(method="gd")),
    "diagonal": ("poisson", dict(method="diag", fisher="empirical")),
    "cholesky": ("probit", dict(method="newton", linear_solver="cholesky")),
    "cholesky-multinomial": ("multinomial", dict(method="ngd", linear_solver="cholesky")),
    "woodbury": ("logistic", dict(method="ngd", linear_solver="woodbury")),
    "cg": ("poisson", dict(method="ngd", linear_solver="cg")),
    "kronecker": ("multinomial", dict(method="kfac")),
}


def test_every_representation_is_in_the_table():
    names = {case.split("-")[0] for case in CASES}
    assert names == set(_curvature.REPRESENTATIONS)


def build(case, n=60, d=4, l2=0.3, seed=0):
    """(curvature, objective, theta, X, y, sw, K) at a random point, statistics refreshed."""
    model, kw = CASES[case][0], dict(CASES[case][1])
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    K = 3 if model == "multinomial" else 1
    y = {"logistic": rng.integers(0, 2, n), "probit": rng.integers(0, 2, n),
         "poisson": rng.poisson(1.0, n), "multinomial": np.arange(n) % K}[model].astype(float)
    sw = rng.uniform(0.5, 2.0, n)
    defaults = {k: v.default for k, v in inspect.signature(ngdx.fit).parameters.items()
                if v.default is not inspect.Parameter.empty and k not in ("model", "method")}
    solver, _ = _fit.build(X, y, model, kw.pop("method"),
                           **{**defaults, "l2": l2, "sample_weight": sw, **kw})
    curvature = solver.curvature
    theta = rng.normal(scale=0.3, size=curvature.objective.p)
    ev = curvature.evaluate(theta, True)
    curvature.refresh(theta, ev.stats)
    return curvature, curvature.objective, theta, X, y, sw, K


def reference_matrix(case, obj, theta, X, y, sw):
    """M as the reference defines it: curvature of the mean NLL + l2 on coef."""
    model, kw = CASES[case]
    kind = {"gd": None, "diag": kw.get("fisher"), "newton": "hessian", "ngd": "true",
            "kfac": "true"}[kw["method"]]
    penalty = obj.l2 * np.diag(obj.penalty_mask)
    if kind is None:
        return np.eye(obj.p)
    M = ref.curvature(X, y, theta, model, kind, sample_weight=sw, fit_intercept=True) + penalty
    return np.diag(np.diag(M)) if kw["method"] == "diag" else M


@pytest.mark.parametrize("case", [c for c in CASES if c != "kronecker"])
def test_quad_scale_and_solve_match_the_reference_matrix(case):
    curvature, obj, theta, X, y, sw, K = build(case)
    M = reference_matrix(case, obj, theta, X, y, sw)
    rng = np.random.default_rng(1)
    v = rng.normal(size=obj.p)
    np.testing.assert_allclose(curvature.quad(v), v @ M @ v, rtol=1e-10)
    unit = curvature.unit  # c_j^2: damping acts in the units of standardized features
    np.testing.assert_allclose(curvature.scale(), np.mean(np.diag(M) / unit), rtol=1e-10)
    g = obj.evaluate(theta).grad  # a gradient: orthogonal to a softmax's flat directions
    damping = 0.05 if curvature.needs_statistics else 0.0  # gradient descent ignores it
    step = curvature.solve(g, damping)
    residual = (M + damping * np.diag(unit)) @ step - g
    rtol = 0.1 if case == "cg" else 1e-9  # CG stops at its forcing term, min(0.1, sqrt|g|)
    assert np.linalg.norm(residual) <= rtol * np.linalg.norm(g)


def test_kronecker_solves_its_factored_damping_and_reads_a_kron_g():
    curvature, obj, theta, X, y, sw, K = build("kronecker")
    A = ref.curvature(X, np.zeros(len(y)), np.zeros(X.shape[1] + 1), "gaussian", "true",
                      sample_weight=sw, fit_intercept=True)
    eta = ref.linear_predictor(X, theta, fit_intercept=True)
    mu = np.exp(eta - eta.max(1, keepdims=True))
    mu /= mu.sum(1, keepdims=True)
    G = sum(s * (np.diag(m) - np.outer(m, m)) for s, m in zip(sw, mu)) / sw.sum()
    np.testing.assert_allclose(curvature.stats, G, rtol=1e-12, atol=1e-15)
    v = np.random.default_rng(1).normal(size=obj.p)
    np.testing.assert_allclose(curvature.quad(v), v @ np.kron(A, G) @ v, rtol=1e-10)
    damping = 0.05
    gamma = damping + obj.l2
    a_unit = curvature.unit.reshape(-1, K)[:, 0]  # the squared scale of each input
    np.testing.assert_allclose(a_unit[:-1], sw @ X**2 / sw.sum(), rtol=1e-12)  # weighted RMS^2
    pi = np.sqrt(np.mean(np.diag(A) / a_unit) / (np.trace(G) / K))
    A_d = A + pi * np.sqrt(gamma) * np.diag(a_unit)
    G_d = G + np.sqrt(gamma) / pi * np.eye(K) + np.trace(G) / K / K * np.ones((K, K))
    g = obj.evaluate(theta).grad
    np.testing.assert_allclose(curvature.solve(g, damping),
                               np.linalg.solve(np.kron(A_d, G_d), g), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case", list(CASES))
def test_step_kl_when_given_is_half_the_true_fisher_form(case):
    curvature, obj, theta, X, y, sw, K = build(case)
    model = CASES[case][0]
    delta = np.random.default_rng(2).normal(scale=0.1, size=obj.p)
    F = ref.curvature(X, y, theta, model, "true", sample_weight=sw, fit_intercept=True)
    want = 0.5 * delta @ F @ delta
    kl = curvature.step_kl(delta)
    if kl is None:  # the objective computes it: one Fisher-vector product
        kl = obj.step_kl(theta, delta)
    else:  # read off M: only where M is the true Fisher
        assert curvature.kind == "true"
    np.testing.assert_allclose(kl, want, rtol=1e-10)


@pytest.mark.parametrize("case", list(CASES))
def test_a_factor_serves_until_forgotten_and_a_stale_curvature_is_not_ready(case):
    curvature, obj, theta, X, y, sw, K = build(case)
    g = obj.evaluate(theta).grad
    first = curvature.solve(g, 0.1)
    kept = curvature.solve(g, 10.0)
    if curvature.reusable:  # the factor of M + 0.1 I serves until forgotten (reuse)
        np.testing.assert_array_equal(kept, first)
    curvature.forget_factor()
    if curvature.needs_statistics:
        assert not np.allclose(curvature.solve(g, 10.0), first)
        assert curvature.ready
        curvature.refresh(theta, None)
        assert not curvature.ready
    else:  # gradient descent: M = I, always ready
        np.testing.assert_array_equal(curvature.solve(g, 10.0), g)
        assert curvature.ready

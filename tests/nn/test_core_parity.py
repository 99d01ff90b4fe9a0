"""The compiled network kernels (_core.nn) against the NumPy reference ngdx.nn._reference:
the fused pass (loss, gradient, misclassified rows, K-FAC factors, dense Fisher) for every
activation x output x Fisher kind, float64 and float32 X, with and without sample weights,
on 1 and 2 threads; the Fisher-vector product and the forward pass; determinism; the
binding's argument checks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from ngdx._core import nn as core
from ngdx.nn import _reference as ref

ARCHS = {"no hidden": (3,), "one hidden": (3, 5), "two hidden": (3, 6, 4)}
N = 260  # more than one row block (256 rows at most) of every pass: both threads work
N_MC = 2
SEED = 11


def outputs_of(output):
    """K = 1 and K > 1 for every family (the softmax needs two classes)."""
    return (2, 3) if output == "multinomial" else (1, 2)


def problem(output, sizes, seed=0):
    """(X, y, sample_weight, theta) with labels drawn at random in each family's domain."""
    rng = np.random.default_rng(seed)
    n, K = N, sizes[-1]
    X = rng.normal(size=(n, sizes[0]))
    theta = rng.normal(scale=0.6, size=ref.n_params(sizes))
    if output == "multinomial":
        y = rng.integers(0, K, size=n).astype(float)
    elif output == "logistic":
        y = rng.integers(0, 2, size=(n, K)).astype(float)
    elif output == "gaussian":
        y = rng.normal(size=(n, K))
    else:
        y = rng.poisson(1.5, size=(n, K)).astype(float)
    return X, y, 0.1 + rng.random(n), theta


def factor_buffers(sizes):
    return [np.full((s, s), np.nan) for i, o in ref.shapes(sizes) for s in (i + 1, o)]


def run_pass(X, y, sw, sizes, theta, act, output, curvature, kind, n_threads=2, grad=True):
    """The core's pass: (loss, n_misclassified, grad, factors or fisher or None)."""
    p = ref.n_params(sizes)
    g = np.full(p, np.nan) if grad else None
    factors = factor_buffers(sizes) if curvature == "kfac" else None
    F = np.full((p, p), np.nan) if curvature == "dense" else None
    loss, n_mis = core.fused_pass(X, y, sw, sizes, theta, act, output, curvature, kind, N_MC,
                                  SEED, n_threads, g, factors, F)
    return loss, n_mis, g, factors if curvature == "kfac" else F


def assert_close(actual, expected, rtol=1e-10):
    """rtol relative to the scale of the expected array (near-zero entries are not
    compared relatively)."""
    expected = np.asarray(expected)
    scale = max(float(np.abs(expected).max()), 1e-300)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("output", ref.OUTPUTS)
@pytest.mark.parametrize("act", ref.ACTIVATIONS)
def test_fused_pass_matches_reference(act, output, arch):
    """Loss, gradient, misclassified rows, the K-FAC factors and the dense Fisher of every
    kind ("mc" exactly: the reference draws the core's targets), for float64 and float32 X,
    unit and given weights, 1 and 2 threads."""
    for K in outputs_of(output):
        sizes = ARCHS[arch] + (K,)
        X, y, sw, theta = problem(output, sizes, seed=K)
        # float32 X with weights only: the reader's conversion does not depend on them
        for dtype, weighted in ((np.float64, False), (np.float64, True), (np.float32, True)):
            Xc = np.ascontiguousarray(X, dtype=dtype)
            Xr = Xc.astype(np.float64)  # the reference on the values the core reads
            s = sw if weighted else None
            want_loss = ref.loss(sizes, theta, Xr, y, act, output, s)
            want_grad = ref.grad(sizes, theta, Xr, y, act, output, s)
            want_mis = ref.n_misclassified(sizes, theta, Xr, y, act, output)
            for kind in ("true", "empirical", "mc"):
                args = (sizes, theta, Xr, y, act, output, kind, s, N_MC, SEED)
                As, Gs = ref.kfac_factors(*args)
                want_fisher = ref.fisher(*args)
                for n_threads in (1, 2):
                    loss, n_mis, g, factors = run_pass(Xc, y, s, sizes, theta, act, output,
                                                       "kfac", kind, n_threads)
                    assert loss == pytest.approx(want_loss, rel=1e-12)
                    assert n_mis == want_mis
                    assert_close(g, want_grad)
                    for A, G, Ar, Gr in zip(factors[::2], factors[1::2], As, Gs):
                        assert_close(A, Ar)
                        assert_close(G, Gr)
                    *_, F = run_pass(Xc, y, s, sizes, theta, act, output, "dense", kind,
                                     n_threads, grad=False)
                    assert_close(F, want_fisher)


@pytest.mark.parametrize("output", ref.OUTPUTS)
@pytest.mark.parametrize("act", ref.ACTIVATIONS)
def test_fisher_vector_product_and_forward_match_reference(act, output):
    for arch, K in itertools.product(ARCHS.values(), outputs_of(output)):
        sizes = arch + (K,)
        X, _, sw, theta = problem(output, sizes, seed=3)
        v = np.random.default_rng(4).normal(size=len(theta))
        for dtype, s, n_threads in itertools.product((np.float64, np.float32), (None, sw),
                                                     (1, 2)):
            Xc = np.ascontiguousarray(X, dtype=dtype)
            Xr = Xc.astype(np.float64)
            want = ref.fisher_vector_product(sizes, theta, Xr, v, act, output, s)
            out = np.full(len(theta), np.nan)
            quad = core.fisher_vector_product(Xc, s, sizes, theta, act, output, v, n_threads,
                                              out)
            assert_close(out, want)
            assert quad == pytest.approx(v @ want, rel=1e-10)
            eta = np.full((N, K), np.nan)
            core.forward(Xc, sizes, theta, act, output, False, n_threads, eta)
            assert_close(eta, ref.forward(sizes, theta, Xr, act)[2])
            core.forward(Xc, sizes, theta, act, output, True, n_threads, eta)
            assert_close(eta, ref.predict(sizes, theta, Xr, act, output))


def test_fvp_of_the_dense_fisher():
    """F v from the product equals the dense pass's true Fisher times v."""
    sizes = (3, 6, 4, 3)
    X, y, sw, theta = problem("multinomial", sizes)
    v = np.random.default_rng(1).normal(size=len(theta))
    *_, F = run_pass(X, y, sw, sizes, theta, "tanh", "multinomial", "dense", "true")
    out = np.empty(len(theta))
    core.fisher_vector_product(X, sw, sizes, theta, "tanh", "multinomial", v, 2, out)
    assert_close(out, F @ v)


@pytest.mark.parametrize("output", ["multinomial", "poisson"])
def test_without_labels_the_true_curvature(output):
    """y None: the true Fisher's factors are computed, the loss is NaN, nothing counted."""
    sizes = (3, 5, 2)
    X, _, sw, theta = problem(output, sizes)
    loss, n_mis, _, factors = run_pass(X, None, sw, sizes, theta, "relu", output, "kfac",
                                       "true", grad=False)
    assert np.isnan(loss) and n_mis == 0
    As, Gs = ref.kfac_factors(sizes, theta, X, None, "relu", output, "true", sw)
    for A, G, Ar, Gr in zip(factors[::2], factors[1::2], As, Gs):
        assert_close(A, Ar)
        assert_close(G, Gr)


def test_poisson_mc_with_large_rates():
    """Rates above 12 take the PTRS sampler's rejection loop: still the reference's draws."""
    sizes = (3, 2)
    X, y, sw, theta = problem("poisson", sizes)
    theta[-2:] += 3.0  # biases: rates around e^3
    want = ref.fisher(sizes, theta, X, y, "identity", "poisson", "mc", sw, N_MC, SEED)
    *_, F = run_pass(X, y, sw, sizes, theta, "identity", "poisson", "dense", "mc")
    assert_close(F, want)


def test_mc_depends_on_the_seed():
    sizes = (3, 4, 3)
    X, y, sw, theta = problem("multinomial", sizes)
    p = len(theta)
    F1, F2 = np.empty((p, p)), np.empty((p, p))
    core.fused_pass(X, y, sw, sizes, theta, "tanh", "multinomial", "dense", "mc", 1, 1, 1,
                    None, None, F1)
    core.fused_pass(X, y, sw, sizes, theta, "tanh", "multinomial", "dense", "mc", 1, 2, 1,
                    None, None, F2)
    assert np.abs(F1 - F2).max() > 1e-3 * np.abs(F1).max()


@pytest.mark.parametrize("curvature", ["kfac", "dense"])
def test_threads_agree_and_each_count_is_deterministic(curvature):
    sizes = (5, 16, 8, 4)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3000, 5))
    y = rng.integers(0, 4, size=3000).astype(float)
    theta = rng.normal(scale=0.5, size=ref.n_params(sizes))
    runs = {t: [run_pass(X, y, None, sizes, theta, "tanh", "multinomial", curvature, "true", t)
                for _ in range(2)] for t in (1, 2)}
    for a, b in runs.values():  # bit-identical across calls at a thread count
        assert a[0] == b[0]
        np.testing.assert_array_equal(a[2], b[2])
        for x, z in zip(np.atleast_1d(a[3]) if curvature == "dense" else a[3],
                        np.atleast_1d(b[3]) if curvature == "dense" else b[3]):
            np.testing.assert_array_equal(x, z)
    one, two = runs[1][0], runs[2][0]
    assert two[0] == pytest.approx(one[0], rel=1e-13)
    assert_close(two[2], one[2], rtol=1e-12)
    stats = zip(one[3], two[3]) if curvature == "kfac" else [(one[3], two[3])]
    for x, z in stats:
        assert_close(z, x, rtol=1e-12)


def test_inputs_are_not_modified():
    sizes = (3, 5, 3)
    X, y, sw, theta = problem("multinomial", sizes)
    X32 = X.astype(np.float32)
    copies = [a.copy() for a in (X, X32, y, sw, theta)]
    for Xc in (X, X32):
        run_pass(Xc, y, sw, sizes, theta, "relu", "multinomial", "kfac", "mc")
    for a, c in zip((X, X32, y, sw, theta), copies):
        np.testing.assert_array_equal(a, c)


# --------------------------------------------------------------------------- bad arguments
def call(**changes):
    sizes = (3, 4, 2)
    X, y, sw, theta = problem("multinomial", sizes)
    args = dict(X=X, y=y, sample_weight=sw, layer_sizes=sizes, theta=theta, activation="tanh",
                output="multinomial", curvature="kfac", kind="true", n_mc_samples=1, seed=0,
                n_threads=1, grad_out=np.empty(len(theta)), factors_out=factor_buffers(sizes),
                fisher_out=None)
    args.update(changes)
    return core.fused_pass(*args.values())


@pytest.mark.parametrize("changes, match", [
    (dict(theta=np.zeros(5)), "theta must have shape"),
    (dict(layer_sizes=(3,)), "layer_sizes"),
    (dict(layer_sizes=(3, 0, 2)), "layer_sizes"),
    (dict(X=np.zeros((N, 4))), "X must have layer_sizes"),
    (dict(X=np.zeros((0, 3))), "X must have at least one row"),
    (dict(y=np.zeros(7)), "y must have shape"),
    (dict(y=np.full(N, 2.0)), "y must hold class labels 0..1"),
    (dict(sample_weight=np.ones(3)), "sample_weight must have shape"),
    (dict(activation="softplus"), "unknown activation 'softplus'"),
    (dict(output="probit"), "unknown output 'probit'"),
    (dict(curvature="diag"), "unknown curvature 'diag'"),
    (dict(kind="hessian"), "unknown kind 'hessian'"),
    (dict(y=None, kind="empirical"), "y is needed for kind 'empirical'"),
    (dict(y=None), "grad_out must be None"),
    (dict(grad_out=np.empty(3)), "grad_out must have shape"),
    (dict(factors_out=None), "factors_out is needed"),
    (dict(factors_out=factor_buffers((3, 4, 2))[:3]), "factors_out must be a list of 2 L = 4"),
    (dict(factors_out=[np.empty((4, 4)), np.empty((5, 5)), np.empty((5, 5)), np.empty((2, 2))]),
     r"factors_out\[1\] must have shape \(4, 4\)"),
    (dict(fisher_out=np.empty((26, 26))), "fisher_out must be None unless"),
    (dict(curvature="dense", factors_out=None), "fisher_out is needed"),
    (dict(curvature="dense", factors_out=None, fisher_out=np.empty((3, 3))),
     r"fisher_out must have shape \(26, 26\)"),
    (dict(curvature="none"), "factors_out must be None unless"),
    (dict(kind="mc", n_mc_samples=0), "n_mc_samples must be >= 1"),
])
def test_bad_arguments_raise_value_errors_naming_them(changes, match):
    with pytest.raises(ValueError, match=match):
        call(**changes)


def test_wrong_dtypes_are_type_errors():
    with pytest.raises(TypeError, match="X must be a C-contiguous float64 or float32"):
        call(X=np.zeros((N, 3), dtype=np.int64))
    with pytest.raises(TypeError, match=r"factors_out\[0\] must be a C-contiguous float64"):
        call(factors_out=[np.empty((4, 4), dtype=np.float32)] + factor_buffers((3, 4, 2))[1:])


def test_fvp_and_forward_check_their_buffers():
    sizes = (3, 4, 2)
    X, _, _, theta = problem("multinomial", sizes)
    with pytest.raises(ValueError, match="v must have shape"):
        core.fisher_vector_product(X, None, sizes, theta, "relu", "multinomial", np.zeros(2), 1,
                                   np.empty(len(theta)))
    with pytest.raises(ValueError, match="out must have shape"):
        core.forward(X, sizes, theta, "relu", "multinomial", False, 1, np.empty((N, 3)))

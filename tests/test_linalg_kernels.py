"""The GLM-free kernels of _core.linalg that K-FAC for networks builds on: the weighted
Gram (bit-identical to the fused pass's curvature, and against NumPy) and the damped
Kronecker-factored solve (against the dense Kronecker product), with the shape and
layout checks every binding makes."""

from __future__ import annotations

import numpy as np
import pytest

from ngdx import _core

KERNELS = _core.runtime.gram_kernels()
F32 = np.float32


@pytest.fixture(params=KERNELS)
def kernel(request):
    _core.runtime.select_gram_kernel(request.param)
    yield request.param
    _core.runtime.select_gram_kernel("auto")


def gram(A, w=None, intercept=False, scale=1.0, n_threads=2):
    dp = A.shape[1] + intercept
    out = np.empty((dp, dp))
    _core.linalg.weighted_gram(A, w, intercept, scale, n_threads, out)
    return out


def gaussian_fisher(X, sample_weight, intercept, n_threads):
    """The true Fisher of the fused pass for a gaussian model: every row's weight is 1, so
    it is the Gram of the rows weighted by the sample weights over their sum."""
    n, d = X.shape
    dp = d + intercept
    grad, F = np.empty(dp), np.empty((dp, dp))
    _core.glm.fused_pass("gaussian", X, np.zeros(n), np.zeros(dp), 1, intercept, sample_weight,
                         "true", False, 1, 0, n_threads, grad, F)
    return F


# ------------------------------------------------------------------------ weighted_gram
# Rows per block are 64 up to 256 columns and 128 beyond (gram_block_rows): row counts
# below one block, on it, across it and off it, for both widths.
@pytest.mark.parametrize("d, n", [(d, n) for d in (5, 300)
                                  for n in (1, 40, 64, 128, 129, 257, 1000)])
@pytest.mark.parametrize("intercept", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_weighted_gram_is_bit_identical_to_the_fused_pass_fisher(kernel, d, n, intercept,
                                                                 weighted, n_threads):
    rng = np.random.default_rng(n + d)
    X = rng.normal(size=(n, d))
    s = rng.uniform(0.0, 2.0, size=n) if weighted else None
    # The pass divides by its own sum of the weights, taken row by row from the first.
    total = sum(s.tolist()) if weighted else float(n)
    W = gram(X, s, intercept, 1.0 / total, n_threads)
    assert np.array_equal(W, gaussian_fisher(X, s, intercept, n_threads))


@pytest.mark.parametrize("d", [1, 7, 8, 9, 24, 25, 70])
@pytest.mark.parametrize("intercept", [False, True])
@pytest.mark.parametrize("weights", ["none", "positive", "signed"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_weighted_gram_matches_numpy(kernel, d, intercept, weights, n_threads):
    n = 300
    rng = np.random.default_rng(d)
    A = rng.normal(size=(n, d))
    w = {"none": None, "positive": rng.uniform(0.0, 2.0, size=n),
         "signed": rng.normal(size=n)}[weights]
    At = np.hstack([A, np.ones((n, 1))]) if intercept else A
    expected = (At.T @ At if w is None else (w[:, None] * At).T @ At) * 0.25
    W = gram(A, w, intercept, 0.25, n_threads)
    np.testing.assert_allclose(W, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())
    np.testing.assert_array_equal(W, W.T)


def test_weighted_gram_of_the_intercept_alone_is_the_weight_sum():
    w = np.array([1.0, -2.0, 0.5])
    assert gram(np.zeros((3, 0)), w, True, 2.0)[0, 0] == 2.0 * w.sum()


def test_weighted_gram_does_not_depend_on_the_thread_count_beyond_rounding():
    A = np.random.default_rng(1).normal(size=(1000, 30))
    np.testing.assert_allclose(gram(A, n_threads=1), gram(A, n_threads=2), rtol=1e-13)
    np.testing.assert_array_equal(gram(A, n_threads=2), gram(A, n_threads=2))


def test_weighted_gram_leaves_its_inputs_alone():
    rng = np.random.default_rng(2)
    A, w = rng.normal(size=(100, 4)), rng.normal(size=100)
    A0, w0 = A.copy(), w.copy()
    gram(A, w, True)
    np.testing.assert_array_equal(A, A0)
    np.testing.assert_array_equal(w, w0)


def test_weighted_gram_rejects_bad_shapes_and_layouts():
    A = np.random.default_rng(3).normal(size=(8, 3))
    out = np.empty((4, 4))
    _core.linalg.weighted_gram(A, None, True, 1.0, 2, out)  # baseline
    read_only = np.empty((3, 3))
    read_only.setflags(write=False)
    cases = [
        ((A[0], None, False, 1.0, 2, np.empty((3, 3))), ValueError, r"A must be 2-D"),
        ((A, np.ones(7), False, 1.0, 2, np.empty((3, 3))), ValueError, r"w must have shape \(8,\)"),
        ((A, None, False, 1.0, 2, out), ValueError, r"out must have shape \(3, 3\)"),
        ((A, None, True, 1.0, 2, np.empty((3, 3))), ValueError, r"out must have shape \(4, 4\)"),
        ((A, None, True, 1.0, 2, np.empty(16)), ValueError, r"out must have shape \(4, 4\)"),
        ((np.zeros((0, 3)), None, False, 1.0, 2, np.empty((3, 3))), ValueError, r"one row"),
        ((np.zeros((8, 0)), None, False, 1.0, 2, np.empty((0, 0))), ValueError, r"one column"),
        ((np.asfortranarray(A), None, False, 1.0, 2, np.empty((3, 3))), TypeError,
         r"A must be a C-contiguous float64 or float32 array, got dtype float64, not C-cont"),
        ((A.astype(np.float16), None, False, 1.0, 2, np.empty((3, 3))), TypeError,
         r"got dtype float16"),
        ((A.tolist(), None, False, 1.0, 2, np.empty((3, 3))), TypeError, r"incompatible"),
        ((A, np.ones(16)[::2], False, 1.0, 2, np.empty((3, 3))), TypeError, r"incompatible"),
        ((A, None, False, 1.0, 2, np.empty((3, 3), F32)), TypeError, r"incompatible"),
        ((A, None, False, 1.0, 2, np.empty((3, 6))[:, ::2]), TypeError, r"incompatible"),
        ((A, None, False, 1.0, 2, read_only), ValueError, r"not writeable"),
    ]
    for args, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            _core.linalg.weighted_gram(*args)


# --------------------------------------------------------------------------- kron_solve
def spd(k, seed):
    B = np.random.default_rng(seed).normal(size=(k, k + 2))
    return B @ B.T / (k + 2)


def kron(A, G, V, damping_a, damping_g):
    out = np.empty(V.shape)
    ok = _core.linalg.kron_solve(A, G, V, damping_a, damping_g, out)
    return ok, out


@pytest.mark.parametrize("m, K", [(1, 1), (1, 4), (5, 1), (5, 3), (40, 9)])
@pytest.mark.parametrize("damping_a, damping_g", [(0.0, 0.0), (0.1, 1e-3), (2.0, 0.5)])
def test_kron_solve_matches_the_dense_kronecker_solve(m, K, damping_a, damping_g):
    A, G = spd(m, m), spd(K, K + 100)
    V = np.random.default_rng(m * K).normal(size=(m, K))
    ok, out = kron(A, G, V, damping_a, damping_g)
    assert ok
    A_d, G_d = A + damping_a * np.eye(m), G + damping_g * np.eye(K)
    expected = np.linalg.solve(np.kron(A_d, G_d), V.ravel()).reshape(m, K)
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(A_d @ out @ G_d, V, rtol=1e-9, atol=1e-12)


def test_kron_solve_reads_only_the_lower_triangles_and_leaves_its_inputs_alone():
    A, G = spd(6, 0), spd(4, 1)
    V = np.random.default_rng(2).normal(size=(6, 4))
    _, expected = kron(A, G, V, 0.1, 0.1)
    A_lower, G_lower = np.tril(A) + np.triu(np.full_like(A, 7.0), 1), np.tril(G)
    inputs = [x.copy() for x in (A_lower, G_lower, V)]
    ok, out = kron(A_lower, G_lower, V, 0.1, 0.1)
    assert ok
    np.testing.assert_array_equal(out, expected)
    for before, after in zip(inputs, (A_lower, G_lower, V)):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("which", ["A", "G"])
@pytest.mark.parametrize("bad", ["indefinite", "negative", "singular", "nan"])
def test_kron_solve_returns_false_and_leaves_out_untouched_when_a_factor_is_not_pd(which, bad):
    A, G = spd(4, 0), spd(3, 1)
    V = np.ones((4, 3))
    k = 4 if which == "A" else 3
    broken = {"indefinite": 2.0 * np.ones((k, k)) - np.eye(k),  # unit diagonal, eigenvalue -1
              "negative": -np.eye(k), "singular": np.zeros((k, k)),
              "nan": np.full((k, k), np.nan)}[bad]
    if which == "A":
        A = broken
    else:
        G = broken
    out = np.full((4, 3), 123.0)
    assert not _core.linalg.kron_solve(A, G, V, 0.0, 0.0, out)
    np.testing.assert_array_equal(out, 123.0)


def test_kron_solve_damping_rescues_a_singular_factor():
    ok, out = kron(np.zeros((2, 2)), np.eye(3), np.ones((2, 3)), 0.25, 0.0)
    assert ok
    np.testing.assert_array_equal(out, 4.0)  # (0.25 I)^-1 1 I^-1, with sqrt(0.25) exact


def test_kron_solve_rejects_bad_shapes_and_layouts():
    A, G, V = spd(4, 0), spd(3, 1), np.ones((4, 3))
    out = np.empty((4, 3))
    assert _core.linalg.kron_solve(A, G, V, 0.0, 0.0, out)  # baseline
    read_only = np.empty((4, 3))
    read_only.setflags(write=False)
    cases = [
        ((A[:, :3].copy(), G, V, out), ValueError, r"A must be a square matrix"),
        ((np.ones(4), G, V, out), ValueError, r"A must be a square matrix"),
        ((A, G[:2].copy(), V, out), ValueError, r"G must be a square matrix"),
        ((A, G, V.T.copy(), out), ValueError, r"V must have shape \(4, 3\)"),
        ((A, G, np.ones(12), out), ValueError, r"V must have shape \(4, 3\)"),
        ((A, G, V, np.empty((3, 4))), ValueError, r"out must have shape \(4, 3\)"),
        ((np.zeros((0, 0)), G, np.zeros((0, 3)), np.empty((0, 3))), ValueError, r"non-empty"),
        ((np.asfortranarray(A + np.triu(A, 1)), G, V, out), TypeError, r"incompatible"),
        ((A.astype(F32), G, V, out), TypeError, r"incompatible"),
        ((A, G, np.asfortranarray(V), out), TypeError, r"incompatible"),
        ((A, G, V, np.empty((4, 6))[:, ::2]), TypeError, r"incompatible"),
        ((A, G, V, read_only), ValueError, r"not writeable"),
    ]
    for args, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            _core.linalg.kron_solve(args[0], args[1], args[2], 0.0, 0.0, args[3])


def test_dot_is_numpys_dot_without_blas_threads():
    # _core.linalg.dot replaces np.dot on n-long vectors around the passes (validation, the
    # null-model start): OpenBLAS's threads, once woken by np.dot, spin beside the passes.
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 100_003):
        a, b = rng.normal(size=n), rng.normal(size=n)
        assert _core.linalg.dot(a, b) == pytest.approx(float(np.dot(a, b)), rel=1e-12, abs=1e-12)
    a = rng.normal(size=10)
    with pytest.raises(ValueError, match="b"):
        _core.linalg.dot(a, a[:9])
    with pytest.raises(ValueError, match="1-D"):
        _core.linalg.dot(np.ones((2, 5)), np.ones(10))
    with pytest.raises(TypeError):  # no silent conversion of another dtype or a strided view
        _core.linalg.dot(a[::2], a[::2])

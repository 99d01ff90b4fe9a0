"""Engineering guarantees: any dtype and layout, inputs never modified, no copy of a
well-laid-out X (C-contiguous float64 or float32), one PerformanceWarning for an X copied
for its layout, deterministic threads, the default thread count, the GIL released
during computation, and fresh C-contiguous float64 results.
"""

from __future__ import annotations

import contextlib
import threading
import types
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import ngdx
from ngdx import _core, _validation

MODELS = ("logistic", "probit", "poisson", "gaussian", "multinomial")
K = 3


def make_problem(model, n=40, d=4, seed=0):
    """(X, y, theta, theta_q): X float64 C-contiguous, y float64 in the model's domain."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    shape = (d, K) if model == "multinomial" else (d,)
    theta, theta_q = 0.3 * rng.normal(size=shape), 0.3 * rng.normal(size=shape)
    y = {
        "logistic": lambda: rng.integers(0, 2, n),
        "probit": lambda: rng.integers(0, 2, n),
        "poisson": lambda: rng.poisson(1.5, n),
        "gaussian": lambda: rng.normal(size=n),
        "multinomial": lambda: rng.integers(0, K, n),
    }[model]()
    return X, y.astype(float), theta, theta_q


def evaluate(X, y, theta, theta_q, model, n_threads=1):
    """Every quantity of the public API at one point, by name."""

    def f(kind, **kw):
        return ngdx.fisher(X, y, theta, model, kind, n_threads=n_threads, **kw)

    return {
        "loss": ngdx.loss(X, y, theta, model, n_threads=n_threads),
        "grad": ngdx.grad(X, y, theta, model, n_threads=n_threads),
        "scores": ngdx.scores(X, y, theta, model, n_threads=n_threads),
        "hessian": ngdx.hessian(X, y, theta, model, n_threads=n_threads),
        "fisher_true": f("true"),
        "fisher_empirical": f("empirical"),
        "fisher_mc": f("mc", seed=11, n_mc_samples=3),
        "fisher_true_diag": f("true", diagonal=True),
        "fisher_empirical_diag": f("empirical", diagonal=True),
        "fisher_mc_diag": f("mc", seed=11, diagonal=True),
        "kl": ngdx.kl(X, theta, theta_q, model, n_threads=n_threads),
    }


def assert_close(got, want, rtol=1e-12):
    """Agreement to ``rtol`` relative to the largest entry of ``want``."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    scale = max(float(np.abs(want).max()), 1e-300)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


def assert_all_close(got, want, rtol=1e-12):
    assert got.keys() == want.keys()
    for name in want:
        assert_close(got[name], want[name], rtol)


def assert_all_equal(got, want):
    assert got.keys() == want.keys()
    for name in want:
        assert np.array_equal(got[name], want[name]), name


@pytest.fixture(autouse=True)
def restore_default_threads():
    before = ngdx.get_num_threads()
    yield
    ngdx.set_num_threads(before)


# ----------------------------------------------------------------------- dtypes and layouts
def _unaligned(a):
    """A C-contiguous float64 copy of ``a`` whose data is not 8-byte aligned."""
    buf = np.zeros(a.nbytes + 1, dtype=np.uint8)
    out = np.ndarray(a.shape, dtype=np.float64, buffer=buf, offset=1)
    out[...] = a
    return out


def _read_only(a):
    a = np.array(a)
    a.setflags(write=False)
    return a


def _rows_strided(a):
    big = np.zeros((2 * a.shape[0],) + a.shape[1:])
    big[::2] = a
    return big[::2]


def _cols_strided(a):
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],))
    big[..., ::2] = a
    return big[..., ::2]


def _reversed(a, axis):
    flipped = np.flip(a, axis).copy()
    return np.flip(flipped, axis)  # same values as a, negative stride along axis


# Each maps a C-contiguous float64 array to (variant, the float64 values it holds).
LAYOUTS = {
    "fortran": lambda a: (np.asfortranarray(a), a),
    "rows_strided": lambda a: (_rows_strided(a), a),
    "cols_strided": lambda a: (_cols_strided(a), a),
    "rows_reversed": lambda a: (_reversed(a, 0), a),
    "cols_reversed": lambda a: (_reversed(a, -1), a),
    "read_only": lambda a: (_read_only(a), a),
    "list": lambda a: (a.tolist(), a),
    "big_endian": lambda a: (a.astype(">f8"), a),
    "unaligned": lambda a: (_unaligned(a), a),
    "transposed_view": lambda a: (np.ascontiguousarray(a.T).T, a),
}
#: The layouts of LAYOUTS whose X is copied to C order, with a PerformanceWarning.
COPIED_LAYOUTS = ("fortran", "rows_strided", "cols_strided", "rows_reversed", "cols_reversed",
                  "transposed_view")


def copied_for_layout(layout):
    """pytest.warns(PerformanceWarning) when X of ``layout`` is copied for its layout, else
    a context that lets no warning through (pytest's settings make warnings errors)."""
    if layout in COPIED_LAYOUTS or layout == "float32_fortran":
        return pytest.warns(ngdx.PerformanceWarning, match=r"copying it to C order")
    return contextlib.nullcontext()


X_DTYPES = {
    "float32": lambda a: (a.astype(np.float32), a.astype(np.float32).astype(np.float64)),
    "float16": lambda a: (a.astype(np.float16), a.astype(np.float16).astype(np.float64)),
    "int64": lambda a: ((3 * a).round().astype(np.int64), (3 * a).round()),
    "int32": lambda a: ((3 * a).round().astype(np.int32), (3 * a).round()),
    "int8": lambda a: ((3 * a).round().astype(np.int8), (3 * a).round()),
    "uint8": lambda a: (np.abs(3 * a).round().astype(np.uint8), np.abs(3 * a).round()),
    "bool": lambda a: (a > 0, (a > 0).astype(np.float64)),
    "float32_fortran": lambda a: (np.asfortranarray(a.astype(np.float32)),
                                  a.astype(np.float32).astype(np.float64)),
}


def _y_variants(model, y):
    """(variant, its float64 values) for labels y of ``model``."""
    out = {
        "int64": (y.astype(np.int64), y.round()),
        "int32": (y.astype(np.int32), y.round()),
        "uint8": (y.astype(np.uint8), y),
        "list": (y.tolist(), y),
        "strided": (_rows_strided(y), y),
        "reversed": (_reversed(y, 0), y),
        "read_only": (_read_only(y), y),
        "float32": (y.astype(np.float32), y.astype(np.float32).astype(np.float64)),
    }
    if model in ("logistic", "probit"):
        out["bool"] = (y.astype(bool), y)
    if model == "gaussian":  # real labels: the integer variants hold rounded values
        out = {k: v for k, v in out.items() if k not in ("int64", "int32", "uint8")}
        out["int64"] = (np.round(3 * y).astype(np.int64), np.round(3 * y))
    return out


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_X_layout_does_not_change_results(model, layout):
    X, y, theta, theta_q = make_problem(model)
    variant, values = LAYOUTS[layout](X)
    with copied_for_layout(layout):
        got = evaluate(variant, y, theta, theta_q, model)
    assert_all_close(got, evaluate(np.ascontiguousarray(values), y, theta, theta_q, model))


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dtype", sorted(X_DTYPES))
def test_X_dtype_gives_the_float64_result_of_its_values(model, dtype):
    X, y, theta, theta_q = make_problem(model)
    variant, values = X_DTYPES[dtype](X)
    assert values.dtype == np.float64
    with copied_for_layout(dtype):
        got = evaluate(variant, y, theta, theta_q, model)
    assert_all_close(got, evaluate(np.ascontiguousarray(values), y, theta, theta_q, model))


@pytest.mark.parametrize("model", MODELS)
def test_y_dtype_and_layout_do_not_change_results(model):
    X, y, theta, theta_q = make_problem(model)
    for variant, values in _y_variants(model, y).values():
        want = evaluate(X, np.ascontiguousarray(values, dtype=np.float64), theta, theta_q, model)
        assert_all_close(evaluate(X, variant, theta, theta_q, model), want)


@pytest.mark.parametrize("model", MODELS)
def test_theta_dtype_and_layout_do_not_change_results(model):
    X, y, theta, theta_q = make_problem(model)
    variants = {name: LAYOUTS[name](theta) for name in
                ("fortran", "rows_strided", "cols_strided", "rows_reversed", "cols_reversed",
                 "read_only", "list", "big_endian", "unaligned")}
    variants["float32"] = (theta.astype(np.float32), theta.astype(np.float32).astype(float))
    for name, (variant, values) in variants.items():
        q_variant, q_values = LAYOUTS["rows_reversed"](theta_q)
        want = evaluate(X, y, np.ascontiguousarray(values), q_values, model)
        assert_all_close(evaluate(X, y, variant, q_variant, model), want)
        assert ngdx.grad(X, y, variant, model).shape == np.shape(variant), name


@pytest.mark.parametrize("layout", sorted(LAYOUTS) + ["float32", "int64"])
def test_scores_layout_and_dtype_do_not_change_fisher_from_scores(layout):
    S = np.random.default_rng(2).normal(size=(30, 5))
    if layout == "float32":
        variant, values = S.astype(np.float32), S.astype(np.float32).astype(float)
    elif layout == "int64":
        variant, values = (4 * S).round().astype(np.int64), (4 * S).round()
    else:
        variant, values = LAYOUTS[layout](S)
    values = np.ascontiguousarray(values)
    for diagonal in (False, True):
        assert_close(ngdx.fisher_from_scores(variant, diagonal=diagonal, n_threads=1),
                     ngdx.fisher_from_scores(values, diagonal=diagonal, n_threads=1))


@pytest.mark.parametrize("layout", sorted(LAYOUTS) + ["float32", "int64"])
def test_F_and_g_layout_and_dtype_do_not_change_natural_gradient(layout):
    A = np.random.default_rng(4).normal(size=(6, 4))
    F = (A.T @ A).round(3) + np.eye(4)  # round: its float32 copy stays symmetric
    g = np.arange(1.0, 5.0)
    if layout == "float32":
        conv = lambda a: (a.astype(np.float32), a.astype(np.float32).astype(float))  # noqa: E731
    elif layout == "int64":
        F = F.round()
        conv = lambda a: (a.astype(np.int64), a)  # noqa: E731
    else:
        conv = LAYOUTS[layout]
    (F_variant, F_values), (g_variant, g_values) = conv(F), conv(g)
    want = ngdx.natural_gradient(np.ascontiguousarray(F_values), np.ascontiguousarray(g_values),
                                 damping=0.1)
    assert_close(ngdx.natural_gradient(F_variant, g_variant, damping=0.1), want)


# ----------------------------------------------------------------------- inputs not modified
def _snapshot(*arrays):
    return [(np.array(a, copy=True), a.flags.writeable, a.flags.c_contiguous) for a in arrays]


def _assert_unchanged(arrays, snapshot):
    for a, (copy, writeable, c_contiguous) in zip(arrays, snapshot):
        assert np.array_equal(a, copy)
        assert a.flags.writeable == writeable
        assert a.flags.c_contiguous == c_contiguous


@pytest.mark.parametrize("layout", ["c", "fortran", "float32"])
@pytest.mark.parametrize("model", MODELS)
def test_inputs_are_not_modified(model, layout):
    X, y, theta, theta_q = make_problem(model)
    if layout == "fortran":
        X, theta, theta_q = (np.asfortranarray(a) for a in (X, theta, theta_q))
    elif layout == "float32":
        X, y, theta, theta_q = (a.astype(np.float32) for a in (X, y, theta, theta_q))
    arrays = (X, y, theta, theta_q)
    snapshot = _snapshot(*arrays)
    for n_threads in (1, 2):
        with copied_for_layout(layout):
            evaluate(X, y, theta, theta_q, model, n_threads=n_threads)
            ngdx.fisher(X, None, theta, model, "mc", seed=1, n_threads=n_threads)
            ngdx.fisher(X, None, theta, model, "true", n_threads=n_threads)
    _assert_unchanged(arrays, snapshot)


@pytest.mark.parametrize("diagonal", [False, True])
def test_fisher_from_scores_does_not_modify_S(diagonal):
    S = np.random.default_rng(5).normal(size=(600, 4))  # several row blocks
    snapshot = _snapshot(S)
    out = ngdx.fisher_from_scores(S, diagonal=diagonal)
    _assert_unchanged((S,), snapshot)
    assert not np.shares_memory(out, S)


@pytest.mark.parametrize("damping", [0.0, 0.5])
def test_natural_gradient_does_not_modify_F_or_g(damping):
    A = np.random.default_rng(6).normal(size=(8, 5))
    F, g = A.T @ A / 8, np.arange(1.0, 6.0)
    F = (F + F.T) / 2
    snapshot = _snapshot(F, g)
    x = ngdx.natural_gradient(F, g, damping=damping)
    _assert_unchanged((F, g), snapshot)
    assert not np.shares_memory(x, g) and not np.shares_memory(x, F)
    np.testing.assert_allclose((F + damping * np.eye(5)) @ x, g, rtol=1e-10)


def test_failed_solve_does_not_modify_F_or_g():
    F, g = np.array([[1.0, 2.0], [2.0, 1.0]]), np.ones(2)
    snapshot = _snapshot(F, g)
    with pytest.raises(np.linalg.LinAlgError):
        ngdx.natural_gradient(F, g, damping=0.5)
    _assert_unchanged((F, g), snapshot)


# ----------------------------------------------------------------------- no copy of a good X
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_well_laid_out_arrays_are_not_copied(dtype):
    X = np.random.default_rng(7).normal(size=(20, 3)).astype(dtype)
    assert _validation.as_design(X) is X
    ro = _read_only(X)
    assert _validation.as_design(ro) is ro
    sub = X[5:]  # a C-contiguous view into another array
    assert _validation.as_design(sub) is sub
    column = np.asfortranarray(X[:, :1])  # one column: Fortran and C order at once
    assert _validation.as_design(column) is column
    X64 = X.astype(np.float64)
    assert _validation.as_float_array(X64, "X", 2) is X64
    v = X64[:, 0].copy()
    assert _validation.as_float_array(v, "v", 1) is v


CONVERTED = {  # converted to float64 for their dtype (whatever their layout): no warning
    "int64": lambda X: X.round().astype(np.int64),
    "int64_fortran": lambda X: np.asfortranarray(X.round().astype(np.int64)),
    "float16": lambda X: X.astype(np.float16),
    "bool": lambda X: X > 0,
    "big_endian": lambda X: X.astype(">f8"),
    "big_endian_float32": lambda X: X.astype(">f4"),
    "list": lambda X: X.tolist(),
}
RELAID = {  # float64 or float32 copied to C order for their layout: a PerformanceWarning
    "fortran": lambda X: np.asfortranarray(X),
    "float32_fortran": lambda X: np.asfortranarray(X.astype(np.float32)),
    "rows_strided": _rows_strided,
    "cols_strided": _cols_strided,
    "rows_reversed": lambda X: _reversed(X, 0),
    "float32_cols_reversed": lambda X: _reversed(X.astype(np.float32), -1),
}


def _assert_fresh_c_copy(converted, variant, dtype):
    assert converted is not variant
    assert converted.dtype == dtype and converted.dtype.isnative
    assert converted.flags.c_contiguous
    np.testing.assert_array_equal(converted, np.asarray(variant, dtype=dtype))
    if isinstance(variant, np.ndarray):
        assert not np.shares_memory(converted, variant)


@pytest.mark.parametrize("layout", sorted(CONVERTED))
def test_other_dtypes_are_converted_to_a_new_c_contiguous_float64_array(layout):
    X = np.random.default_rng(7).normal(size=(20, 3))
    variant = CONVERTED[layout](X)
    _assert_fresh_c_copy(_validation.as_design(variant), variant, np.float64)
    _assert_fresh_c_copy(_validation.as_float_array(variant, "X", 2), variant, np.float64)


@pytest.mark.parametrize("layout", sorted(RELAID))
def test_other_layouts_are_copied_to_c_order_once_with_a_warning_saying_the_cost(layout):
    X = np.random.default_rng(7).normal(size=(20, 3))
    variant = RELAID[layout](X)
    with pytest.warns(ngdx.PerformanceWarning) as record:
        converted = _validation.as_design(variant)
    assert len(record) == 1
    message = str(record[0].message)
    assert f"({variant.nbytes:,} bytes)" in message and "np.ascontiguousarray(X)" in message
    assert ("Fortran-ordered" in message) == layout.endswith("fortran")
    assert record[0].filename == __file__  # points at the caller, not at ngdx
    _assert_fresh_c_copy(converted, variant, variant.dtype)
    _assert_fresh_c_copy(_validation.as_float_array(variant, "X", 2), variant, np.float64)


class _Recorder:
    """Stands in for ngdx._core, recording the arrays each kernel receives."""

    def __init__(self, module=_core, seen=None):
        self.module = module
        self.seen = [] if seen is None else seen

    def __getattr__(self, name):
        kernel = getattr(self.module, name)
        if isinstance(kernel, types.ModuleType):  # _core.glm, _core.linalg: record there too
            return _Recorder(kernel, self.seen)

        def record(*args):
            self.seen.append((name, args))
            return kernel(*args)

        return record


@pytest.mark.parametrize("model", MODELS)
def test_public_functions_hand_the_callers_X_to_the_core(model, monkeypatch):
    # End to end: a C-contiguous float64 X reaches the kernels as the very same object.
    from ngdx import _functional, _linalg

    recorder = _Recorder()
    monkeypatch.setattr(_functional, "_core", recorder)
    monkeypatch.setattr(_linalg, "_core", recorder)
    X, y, theta, theta_q = make_problem(model)
    evaluate(X, y, theta, theta_q, model)
    kernels = {name for name, _ in recorder.seen}
    assert {"fused_pass", "scores", "mean_kl"} <= kernels
    for name, args in recorder.seen:
        assert args[1] is X, name
    S = ngdx.scores(X, y, theta, model)
    F = ngdx.fisher_from_scores(S) + np.eye(S.shape[1])
    g = np.ones(S.shape[1])
    ngdx.natural_gradient(F, g)
    by_name = dict(recorder.seen)
    assert by_name["fisher_from_scores"][0] is S
    assert by_name["damped_cholesky_solve"][0] is F
    assert by_name["damped_cholesky_solve"][1] is g


# ----------------------------------------------------------------------- determinism
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("model", MODELS)
def test_repeated_calls_are_bit_identical(model, n_threads):
    X, y, theta, theta_q = make_problem(model, n=700)  # three row blocks
    first = evaluate(X, y, theta, theta_q, model, n_threads)
    for _ in range(2):
        assert_all_equal(evaluate(X, y, theta, theta_q, model, n_threads), first)


@pytest.mark.parametrize("model", MODELS)
def test_one_and_two_threads_agree(model):
    X, y, theta, theta_q = make_problem(model, n=2500, d=5)  # ten row blocks
    assert_all_close(evaluate(X, y, theta, theta_q, model, 2),
                     evaluate(X, y, theta, theta_q, model, 1))
    assert_close(evaluate(X, y, theta, theta_q, model, 3)["fisher_true"],
                 evaluate(X, y, theta, theta_q, model, 1)["fisher_true"])


def test_one_and_two_threads_agree_for_fisher_from_scores():
    S = np.random.default_rng(8).normal(size=(2500, 6))
    for diagonal in (False, True):
        one = ngdx.fisher_from_scores(S, diagonal=diagonal, n_threads=1)
        assert_close(ngdx.fisher_from_scores(S, diagonal=diagonal, n_threads=2), one)
        again = ngdx.fisher_from_scores(S, diagonal=diagonal, n_threads=2)
        assert np.array_equal(again, ngdx.fisher_from_scores(S, diagonal=diagonal, n_threads=2))


@pytest.mark.parametrize("diagonal", [False, True])
@pytest.mark.parametrize("model", MODELS)
def test_mc_fisher_depends_on_the_seed_not_the_threads(model, diagonal):
    X, y, theta, _ = make_problem(model, n=2500, d=5)

    def mc(seed, n_threads):
        return ngdx.fisher(X, None, theta, model, "mc", diagonal=diagonal, n_mc_samples=2,
                           seed=seed, n_threads=n_threads)

    base = mc(123, 1)
    assert np.array_equal(mc(123, 1), base)
    assert np.array_equal(mc(123, 2), mc(123, 2))
    assert_close(mc(123, 2), base)
    other = mc(124, 1)
    assert np.abs(other - base).max() > 1e-6 * np.abs(base).max()
    # seed=None draws fresh entropy: two calls differ.
    fresh = ngdx.fisher(X, None, theta, model, "mc", diagonal=diagonal, n_threads=1)
    assert not np.array_equal(fresh, ngdx.fisher(X, None, theta, model, "mc",
                                                 diagonal=diagonal, n_threads=1))


# ----------------------------------------------------------------------- default threads
def test_set_num_threads_round_trips():
    for n in (1, 2, 3, 1):
        ngdx.set_num_threads(n)
        assert ngdx.get_num_threads() == n
    ngdx.set_num_threads(np.int64(2))
    assert ngdx.get_num_threads() == 2 and type(ngdx.get_num_threads()) is int
    ngdx.set_num_threads(None)
    assert ngdx.get_num_threads() == max(1, _core.runtime.max_threads())
    with pytest.raises(ValueError, match="n_threads"):
        ngdx.set_num_threads(0)
    assert ngdx.get_num_threads() == max(1, _core.runtime.max_threads())


@pytest.mark.parametrize("model", MODELS)
def test_set_num_threads_sets_the_default_of_every_call(model):
    X, y, theta, theta_q = make_problem(model, n=3000, d=5)
    S = np.random.default_rng(9).normal(size=(3000, 5))
    for n in (1, 2):
        explicit = evaluate(X, y, theta, theta_q, model, n_threads=n)
        explicit_S = ngdx.fisher_from_scores(S, n_threads=n)
        ngdx.set_num_threads(n)
        assert_all_equal(evaluate(X, y, theta, theta_q, model, n_threads=None), explicit)
        assert np.array_equal(ngdx.fisher_from_scores(S), explicit_S)


# ----------------------------------------------------------------------- the GIL
def test_concurrent_python_threads_get_correct_results():
    # The core releases the GIL; two Python threads run it at once on shared inputs and
    # each must get exactly the serial answer (no shared state, no corrupted buffers).
    rng = np.random.default_rng(10)
    n, d = 200_000, 50
    X = rng.normal(size=(n, d)) / np.sqrt(d)
    y = (rng.random(n) < 0.5).astype(float)
    jobs = [
        ("logistic", "true", 0.1 * rng.normal(size=d)),
        ("poisson", "mc", 0.1 * rng.normal(size=d)),
    ]

    def run(model, kind, theta):
        return ngdx.fisher(X, y, theta, model, kind, seed=3, n_threads=1)

    serial = [run(*job) for job in jobs]
    barrier = threading.Barrier(len(jobs))

    def concurrent(job):
        barrier.wait()
        return run(*job)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(concurrent, jobs))
    for got, want in zip(results, serial):
        assert np.array_equal(got, want)
    assert not np.allclose(results[0], results[1])  # two different problems really ran


def test_concurrent_calls_of_the_same_problem_agree():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(5000, 8))
    y = rng.integers(0, K, 5000).astype(float)
    theta = 0.2 * rng.normal(size=(8, K))
    serial = ngdx.fisher(X, y, theta, "multinomial", "empirical", n_threads=2)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(
            lambda _: ngdx.fisher(X, y, theta, "multinomial", "empirical", n_threads=2),
            range(8)))
    for got in results:
        assert np.array_equal(got, serial)


# ----------------------------------------------------------------------- returned arrays
def _assert_fresh_array(a, shape, *inputs):
    assert isinstance(a, np.ndarray)
    assert a.shape == shape
    assert a.dtype == np.float64
    assert a.flags.c_contiguous and a.flags.writeable
    for b in inputs:
        assert not np.shares_memory(a, b)


@pytest.mark.parametrize("model", MODELS)
def test_results_are_fresh_c_contiguous_float64_of_documented_shape(model):
    n, d = 40, 4
    X, y, theta, theta_q = make_problem(model, n=n, d=d)
    p = theta.size
    inputs = (X, y, theta, theta_q)
    shapes = {
        "grad": theta.shape, "scores": (n, p), "hessian": (p, p),
        "fisher_true": (p, p), "fisher_empirical": (p, p), "fisher_mc": (p, p),
        "fisher_true_diag": (p,), "fisher_empirical_diag": (p,), "fisher_mc_diag": (p,),
    }
    first = evaluate(X, y, theta, theta_q, model)
    second = evaluate(X, y, theta, theta_q, model)
    for name in ("loss", "kl"):
        assert isinstance(first[name], float) and np.isfinite(first[name])
    for name, shape in shapes.items():
        _assert_fresh_array(first[name], shape, *inputs, second[name])
        # Writing to one result changes neither the other nor later results.
        keep = second[name].copy()
        first[name][...] = -7.0
        assert np.array_equal(second[name], keep)
        assert np.array_equal(evaluate(X, y, theta, theta_q, model)[name], keep)


def test_fisher_from_scores_and_natural_gradient_results_are_fresh():
    S = np.random.default_rng(12).normal(size=(30, 4))
    full = ngdx.fisher_from_scores(S)
    diag = ngdx.fisher_from_scores(S, diagonal=True)
    _assert_fresh_array(full, (4, 4), S)
    _assert_fresh_array(diag, (4,), S, full)
    np.testing.assert_allclose(full, S.T @ S / 30, rtol=1e-12)
    np.testing.assert_allclose(diag, np.diag(full), rtol=1e-12)
    g = np.ones(4)
    x = ngdx.natural_gradient(full, g, damping=0.1)
    _assert_fresh_array(x, (4,), full, g)
    x2 = ngdx.natural_gradient(full, g, damping=0.1)
    assert not np.shares_memory(x, x2)

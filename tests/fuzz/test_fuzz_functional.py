"""Fuzzing the functional API, the linear algebra and the thread setting: each call gets
a valid problem with one argument replaced by a variant (fuzz_inputs), and must keep the
contract (fuzz_contract): the reference's answer, or a ValueError/TypeError naming it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ngdx
from ngdx import _reference as ref
from fuzz_contract import FUZZ, Expect, assert_close, assert_finite, run
from fuzz_inputs import (BOOL_INVALID, N_THREADS, SEED, Param, Variant, array_variant, choice,
                         gate, moderate, posint)

MODELS = ngdx.MODELS


@st.composite
def problem(draw, model=None):
    """A valid (model, X, y, theta): small shapes, n < d included, one row included."""
    model = model or draw(st.sampled_from(MODELS))
    n = draw(st.integers(1, 12))
    d = draw(st.integers(1, 6))
    K = draw(st.integers(2, 4)) if model == "multinomial" else 1
    X = draw(moderate((n, d), integer=draw(st.booleans())))
    if model in ("logistic", "probit"):
        y = draw(moderate((n,), 0, 1, integer=True))
    elif model == "poisson":
        y = draw(moderate((n,), 0, 5, integer=True))
    elif model == "multinomial":
        y = draw(moderate((n,), 0, K - 1, integer=True))
    else:
        y = draw(moderate((n,)))
    theta = draw(moderate((d, K) if model == "multinomial" else (d,), -1, 1))
    return model, X, y, theta


def _vary(draw, args: dict, arrays: dict, params: dict):
    """Replace one argument of a valid call by a variant: (args, canonical args, expect)."""
    names = list(arrays) + list(params) + [None]
    which = draw(st.sampled_from(names))
    canon = dict(args)
    if which is None:
        return args, canon, Expect("ok", (), "valid")
    if which in arrays:
        v = gate(draw, array_variant(draw, args[which], which, **arrays[which]))
    else:
        v = gate(draw, params[which].variant(draw))
    args = dict(args, **{which: v.value})
    canon[which] = v.canonical
    return args, canon, v.expect


def _model_param(model):
    return Param("model", (model,), ("nope", None, 1, "Logistic", ("logistic",)))


PROBLEM_ARRAYS = {"X": dict(peers=("X", "y", "theta"), allow_sparse=True),
                  "y": dict(peers=("X", "y"), labels=True),
                  "theta": dict(peers=("X", "theta"))}


@pytest.mark.parametrize("entry", ["loss", "grad", "scores", "hessian"])
@FUZZ
@given(data=st.data())
def test_value_functions(entry, data):
    draw = data.draw
    model, X, y, theta = draw(problem())
    args = dict(X=X, y=y, theta=theta, model=model, n_threads=None)
    args, c, expect = _vary(draw, args, PROBLEM_ARRAYS,
                            {"model": _model_param(model), "n_threads": N_THREADS})
    fn = getattr(ngdx, entry)
    p = theta.size

    def check(out):
        Xc, yc, tc = c["X"], c["y"], c["theta"].ravel()
        if entry == "loss":
            assert isinstance(out, float)
            assert_close(out, ref.loss(Xc, yc, tc, model), what="loss")
        elif entry == "grad":
            assert_close(out, ref.grad(Xc, yc, tc, model).reshape(theta.shape), what="grad")
        elif entry == "scores":
            assert_close(out, ref.scores(Xc, yc, tc, model), what="scores")
        else:
            assert_close(out, ref.curvature(Xc, yc, tc, model, "hessian"), what="hessian")

    out_bytes = 8 * (p * p + X.shape[0] * p)
    run(fn, args, expect, out_bytes=out_bytes, check=check)


KINDS = ("true", "empirical", "mc")


def _kind_param(kinds):
    """The kind argument: its valid values (None too for value_grad_curvature, where it
    means no curvature) and invalid ones."""
    named = choice("kind", [k for k in kinds if k is not None])
    if None not in kinds:
        return named
    return Param("kind", tuple(kinds), tuple(v for v in named.invalid if v is not None))


@pytest.mark.parametrize("entry", ["fisher", "value_grad_curvature"])
@FUZZ
@given(data=st.data())
def test_curvature_functions(entry, data):
    draw = data.draw
    model, X, y, theta = draw(problem())
    kinds = KINDS if entry == "fisher" else KINDS + ("hessian", None)
    kind = draw(st.sampled_from(kinds))
    args = dict(X=X, y=y, theta=theta, model=model, kind=kind, diagonal=draw(st.booleans()),
                n_mc_samples=draw(st.integers(1, 3)), seed=draw(st.integers(0, 2**32)),
                n_threads=None)
    params = {"model": _model_param(model), "n_threads": N_THREADS, "seed": SEED,
              "n_mc_samples": posint("n_mc_samples", 3),
              "kind": _kind_param(kinds),
              "diagonal": Param("diagonal", (True, False), BOOL_INVALID, gap="diagonal:non-bool")}
    args, c, expect = _vary(draw, args, PROBLEM_ARRAYS, params)
    p = theta.size

    def check(out):
        Xc, yc, tc = c["X"], c["y"], c["theta"].ravel()
        k, diag = c["kind"], bool(c["diagonal"])
        comparable = k not in ("mc",) or c["seed"] is not None
        want = None
        if k is not None and comparable:
            want = ref.curvature(Xc, yc, tc, model, k, diagonal=diag,
                                 n_samples=c["n_mc_samples"], seed=c["seed"] or 0)
        shape = (p,) if diag else (p, p)
        if entry == "fisher":
            assert_finite(out, shape, "fisher")
            if want is not None:
                assert_close(out, want, what="fisher")
            return
        value, g, curv = out
        assert_close(value, ref.loss(Xc, yc, tc, model), what="loss")
        assert_close(g, ref.grad(Xc, yc, tc, model).reshape(theta.shape), what="grad")
        if k is None:
            assert curv is None
        else:
            assert_finite(curv, shape, "curvature")
            if want is not None:
                assert_close(curv, want, what="curvature")

    run(getattr(ngdx, entry), args, expect, out_bytes=8 * p * p, check=check)


@FUZZ
@given(data=st.data())
def test_kl(data):
    draw = data.draw
    model, X, _, theta_p = draw(problem())
    theta_q = draw(moderate(theta_p.shape, -1, 1))
    args = dict(X=X, theta_p=theta_p, theta_q=theta_q, model=model, n_threads=None)
    arrays = {"X": dict(peers=("X", "theta_p", "theta_q"), allow_sparse=True, length=False),
              "theta_p": dict(peers=("X", "theta_p", "theta_q")),
              "theta_q": dict(peers=("X", "theta_p", "theta_q"))}
    args, c, expect = _vary(draw, args, arrays,
                            {"model": _model_param(model), "n_threads": N_THREADS})

    def check(out):
        assert isinstance(out, float) and out >= -1e-12, f"kl = {out!r}"
        assert_close(out, ref.kl(c["X"], c["theta_p"].ravel(), c["theta_q"].ravel(), model),
                     what="kl")

    run(ngdx.kl, args, expect, check=check)


@FUZZ
@given(data=st.data())
def test_fisher_from_scores(data):
    draw = data.draw
    n, p = draw(st.integers(1, 12)), draw(st.integers(1, 8))
    S = draw(moderate((n, p), integer=draw(st.booleans())))
    args = dict(S=S, diagonal=draw(st.booleans()), n_threads=None)
    args, c, expect = _vary(draw, args, {"S": dict(peers=("S",), length=False)},
                            {"diagonal": Param("diagonal", (True, False), BOOL_INVALID,
                                               gap="diagonal:non-bool"),
                             "n_threads": N_THREADS})

    def check(out):
        assert_close(out, ref.fisher_from_scores(c["S"], diagonal=bool(c["diagonal"])),
                     what="fisher_from_scores")

    run(ngdx.fisher_from_scores, args, expect, out_bytes=8 * p * p, check=check)


@FUZZ
@given(data=st.data())
def test_natural_gradient(data):
    draw = data.draw
    p = draw(st.integers(1, 8))
    A = draw(moderate((p, p)))
    F = A @ A.T + np.eye(p)  # symmetric positive definite
    g = draw(moderate((p,)))
    args = dict(F=F, g=g, damping=draw(st.sampled_from([0.0, 1e-3, 1.0])))
    args, c, expect = _vary(draw, args, {"F": dict(peers=("F", "g")), "g": dict(peers=("F", "g"))},
                            {"damping": Param("damping", (0.0, 1e-3, 1.0, 0),
                                              (-1.0, np.nan, np.inf, "1", True, None, [1.0]),
                                              (1e308,))})
    if expect.label.startswith("F:") and expect.outcome == "ok":
        # a variant of F (a cast to a small integer dtype, tiny entries) may leave it
        # indefinite or asymmetric: both are ValueErrors that name F
        expect = Expect("either", expect.names, expect.label)

    def check(out):
        assert_close(out, ref.natural_gradient(c["F"], c["g"], c["damping"]), rtol=1e-8,
                     what="natural_gradient")

    run(ngdx.natural_gradient, args, expect, check=check)


@FUZZ
@given(v=st.data())
def test_set_num_threads(v):
    var: Variant = gate(v.draw, N_THREADS.variant(v.draw))
    before = ngdx.get_num_threads()
    try:
        run(ngdx.set_num_threads, {"n_threads": var.value}, var.expect)
        got = ngdx.get_num_threads()
        if var.expect.outcome == "ok" and var.value is not None:
            assert got == int(var.value)
        elif var.expect.outcome == "reject":
            assert got == before, "a rejected set_num_threads changed the setting"
    finally:
        ngdx.set_num_threads(None)


@pytest.mark.parametrize("model,log_K", [("logistic", np.log(2)), ("probit", np.log(2)),
                                          ("multinomial", np.log(3))])
@pytest.mark.parametrize("eta", [700.0, 745.0, 800.0, 1e20, 1e308])
def test_kl_far_tail(model, log_K, eta):
    """KL(certain class || uniform) = log K however far the certainty: found by the fuzz
    harness, where a class probability underflowing to 0 dropped its q from the sum
    (0.19 instead of log 2 for logistic at eta = 800) and p exp(-delta) overflowed."""
    theta_p = np.array([[eta, 0.0, 0.0]]) if model == "multinomial" else np.array([eta])
    got = ngdx.kl(np.ones((1, 1)), theta_p, np.zeros_like(theta_p), model)
    np.testing.assert_allclose(got, log_K, rtol=1e-12)

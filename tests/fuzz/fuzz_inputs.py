"""Hypothesis strategies for the fuzz harness: arrays of every dtype, layout, shape and
value class, and parameters of every kind, each tagged with what the call must do.

Every generated argument is a ``Variant``: the value passed, its float64 dense twin
(``canonical``, for the parity checks) when the value is one the call must accept, and an
``Expect`` (``ok`` / ``reject`` / ``either``, the argument names a rejection must name, and
the class label, e.g. ``"X:sparse-csr"``). Argument classes that fail today are listed in
``KNOWN_GAPS``: the fast profile leaves them out until their fix lands (enable one with
``NGDX_FUZZ_ENABLE=X:sparse-csr,...`` or all with ``NGDX_FUZZ_ENABLE=all``; remove it from
the set when fixed). The long profile leaves them out too unless enabled the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fuzz_contract import Expect

#: Argument classes that break the contract today, by label: the label of a Variant (or
#: its prefix before ``:``-suffix digits). Empty: every class issue 10 listed passes now; a
#: class the long run finds broken goes here, with a comment, until its fix lands.
KNOWN_GAPS: frozenset[str] = frozenset()
_ENABLE = os.environ.get("NGDX_FUZZ_ENABLE", "")
ENABLED = (frozenset(KNOWN_GAPS) if _ENABLE == "all"
           else frozenset(s.strip() for s in _ENABLE.split(",") if s.strip()))


def active(label: str) -> bool:
    """Whether the argument class ``label`` runs (not a known gap, or enabled)."""
    return label not in KNOWN_GAPS or label in ENABLED


@dataclass
class Variant:
    value: object
    expect: Expect
    canonical: object = None


def gate(draw, variant: Variant) -> Variant:
    """Discard an example of a known-gap class (hypothesis draws another)."""
    assume(active(variant.expect.label))
    return variant


REAL_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
               "uint64", "float16", "float32", "float64")


def moderate(shape, lo=-3.0, hi=3.0, integer=False):
    """float64 arrays of moderate values (integers half the time: every dtype holds them)."""
    if integer:
        return hnp.arrays(np.float64, shape, elements=st.integers(int(lo), int(hi)).map(float))
    return hnp.arrays(np.float64, shape,
                      elements=st.floats(lo, hi, allow_nan=False, width=64))


# --------------------------------------------------------------------------- arrays
def _layout(draw, a: np.ndarray, how: str) -> np.ndarray:
    if how == "fortran":
        return np.asfortranarray(a)
    if how == "strided":  # every other element of a larger buffer
        big = np.zeros(tuple(2 * s for s in a.shape), dtype=a.dtype)
        view = big[tuple(slice(None, None, 2) for _ in a.shape)]
        view[...] = a
        return view
    if how == "reversed":  # negative strides over the same values
        return a[::-1].copy()[::-1]
    if how == "readonly":
        b = a.copy()
        b.flags.writeable = False
        return b
    if how == "unaligned":  # data one byte off an 8-byte boundary
        buf = np.zeros(a.nbytes + 1, dtype=np.uint8)
        out = np.ndarray(a.shape, dtype=a.dtype, buffer=buf, offset=1)
        out[...] = a
        return out
    if how == "list":
        return a.tolist()
    return a


def array_variant(draw, base: np.ndarray, name: str, *, peers=("X",), labels=False,
                  allow_sparse=False, length=True) -> Variant:
    """A variant of the valid float64 array ``base`` passed as argument ``name``.

    ``peers`` are the arguments a shape mismatch may be blamed on; ``labels`` says the
    values have a domain (so value classes are 'either'); ``length`` says whether its
    first dimension must match another argument's.
    """
    names = (name,) + tuple(p for p in peers if p != name)
    kinds = ["same", "dtype", "layout", "nonfinite", "ndim", "bad-dtype", "extreme", "tiny"]
    if length:
        kinds.append("length")
    if allow_sparse:
        kinds.append("sparse")
    kind = draw(st.sampled_from(kinds))
    if kind == "same":
        return Variant(base, Expect("ok", names, f"{name}:valid"), base)
    if kind == "dtype":
        dt = draw(st.sampled_from(REAL_DTYPES))
        src = np.abs(base) if dt.startswith("uint") else base
        if dt == "bool":
            src = (base != 0).astype(float) if not labels else base
        with np.errstate(all="ignore"):
            a = src.astype(dt)
        canon = a.astype(np.float64)
        # a cast that changes a label's value (0.5 -> 0) may leave the domain
        out = "either" if labels and not np.array_equal(canon, base) else "ok"
        return Variant(a, Expect(out, names, f"{name}:dtype-{dt}"), canon)
    if kind == "layout":
        how = draw(st.sampled_from(["fortran", "strided", "reversed", "readonly", "list",
                                    "unaligned"]))
        return Variant(_layout(draw, base, how), Expect("ok", names, f"{name}:layout-{how}"),
                       base)
    if kind == "nonfinite":
        if base.size == 0:
            return Variant(base, Expect("ok", names, f"{name}:valid"), base)
        a = base.copy()
        i = draw(st.integers(0, a.size - 1))
        a.flat[i] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return Variant(a, Expect("reject", names, f"{name}:nonfinite"))
    if kind == "ndim":
        how = draw(st.sampled_from(["0d", "3d", "flat", "column"]))
        a = {"0d": np.float64(1.0) if base.size == 0 else np.asarray(base.flat[0]),
             "3d": base[..., None, None] if base.ndim == 1 else base[None],
             "flat": base.ravel() if base.ndim > 1 else base[None, :],
             "column": base[:, None]}[how]
        if how == "flat" and base.ndim == 2 and base.shape[1] == 1:
            a = base.ravel()
        if a.ndim == base.ndim:
            return Variant(base, Expect("ok", names, f"{name}:valid"), base)
        return Variant(a, Expect("reject", names, f"{name}:ndim-{how}"))
    if kind == "length":
        extra = draw(st.sampled_from([-1, 1]))
        if base.shape[0] + extra < 0:
            extra = 1
        a = np.concatenate([base, base[:1] if base.shape[0] else np.zeros((1,) + base.shape[1:])]) \
            if extra > 0 else base[:-1]
        return Variant(a, Expect("reject", names, f"{name}:length"))
    if kind == "bad-dtype":
        how = draw(st.sampled_from(["complex", "str", "object-str", "object-float", "datetime"]))
        if how == "complex":
            a = base.astype(np.complex128)
        elif how == "str":
            a = base.astype(str)
        elif how == "object-str":
            a = base.astype(str).astype(object)
        elif how == "datetime":
            a = base.astype(np.int64).astype("datetime64[s]")
        else:
            a = base.astype(object)
            return Variant(a, Expect("either", names, f"{name}:dtype-object-float"), base)
        return Variant(a, Expect("reject", names, f"{name}:dtype-{how}"))
    if kind == "extreme":
        if base.size == 0:
            return Variant(base, Expect("ok", names, f"{name}:valid"), base)
        a = base.copy()
        i = draw(st.integers(0, a.size - 1))
        a.flat[i] = draw(st.sampled_from([1e308, -1e308, 1e300, -1e300, 1e20, 2.0**62,
                                          -(2.0**62), 9.2e18]))
        if draw(st.booleans()):  # as huge integers
            a = np.trunc(a).astype(np.int64) if np.abs(a).max() < 9.2e18 else a
        return Variant(a, Expect("either", names, f"{name}:extreme"), a.astype(np.float64))
    if kind == "tiny":
        if base.size == 0 or labels:
            return Variant(base, Expect("ok", names, f"{name}:valid"), base)
        a = base.copy()
        idx = draw(st.lists(st.integers(0, a.size - 1), min_size=1, max_size=3))
        for i in idx:
            a.flat[i] = draw(st.sampled_from([5e-324, -5e-324, 1e-310, -0.0, 2.2e-308]))
        return Variant(a, Expect("ok", names, f"{name}:tiny"), a)
    # sparse
    import scipy.sparse as sp

    fmt = draw(st.sampled_from(["csr", "csc", "coo"]))
    a = {"csr": sp.csr_matrix, "csc": sp.csc_matrix, "coo": sp.coo_matrix}[fmt](base)
    return Variant(a, Expect("ok", names, f"{name}:sparse-{fmt}"), base)


# --------------------------------------------------------------------------- scalars
NOT_A_NUMBER = [True, False, "1", "abc", [1.0], None, object()]


@dataclass(frozen=True)
class Param:
    """A scalar parameter: valid values, values it must reject, values it may reject."""

    name: str
    valid: tuple
    invalid: tuple
    either: tuple = ()
    gap: str = ""  # a KNOWN_GAPS label for the invalid values that pass today

    def variant(self, draw) -> Variant:
        kind = draw(st.sampled_from(["valid", "numpy", "invalid"] + (["either"] if self.either
                                                                   else [])))
        if kind in ("valid", "numpy"):
            v = draw(st.sampled_from(self.valid))
            if kind == "numpy" and isinstance(v, (bool, int, float)) and v is not None:
                v = (np.bool_(v) if isinstance(v, bool)
                     else (np.int64(v) if v < 2**63 else np.uint64(v)) if isinstance(v, int)
                     else np.float64(v))
            return Variant(v, Expect("ok", (self.name,), f"{self.name}:valid"), v)
        if kind == "either":
            v = draw(st.sampled_from(self.either))
            return Variant(v, Expect("either", (self.name,), f"{self.name}:extreme"), v)
        v = draw(st.sampled_from(self.invalid))
        label = self.gap if self.gap else f"{self.name}:invalid"
        return Variant(v, Expect("reject", (self.name,), label))


NAN, INF = float("nan"), float("inf")


def nonneg(name, hi=1.0, either=(1e308,)):
    return Param(name, (0.0, 1e-6, hi / 2, hi, 0), (-1.0, -1e-300, NAN, INF, -INF, "1", True,
                                                    [1.0], None, 1j), either)


def positive(name, hi=1.0, either=(1e308,), optional=False):
    return Param(name, (1e-3, hi / 2, hi) + ((None,) if optional else ()),
                 (0.0, -1.0, NAN, INF, "1", True, [1.0], 1j) + (() if optional else (None,)),
                 either)


def posint(name, hi=5):
    return Param(name, tuple(range(1, hi + 1)), (0, -1, 1.5, 2.0, True, "3", None, [2]))


def choice(name, values, extra_invalid=()):
    return Param(name, tuple(values), ("nope", "", None, 1, True, values[0].upper() + "_",
                                       (values[0],)) + tuple(extra_invalid))


BOOL_INVALID = ("no", "yes", "False", 2, -1, None, 0.5, [True])
SEED = Param("seed", (None, 0, 1, 2**63, 2**64 - 1), (-1, 2**64, 1.5, True, "0", [0]))
N_THREADS = Param("n_threads", (None, 1, 2), (0, -1, 1.5, True, "2", 10**6, [1]))

"""Validation at the door: every public function converts and checks its inputs here,
once, before the compiled core sees them.

Arrays of any real dtype (bool, integers, floats) and any memory layout are accepted and
converted to C-contiguous float64; an array already laid out that way is used as is,
never copied. The design matrix X may also stay float32: the core reads a C-contiguous
float32 X as it is (accumulating in float64), and copies X only to put its rows in
C order, with a [`PerformanceWarning`][ngdx.PerformanceWarning]. User arrays are never
modified.
"""

from __future__ import annotations

import math
import numbers
import re
import sys
import warnings
from typing import Collection, TypeVar

import numpy as np

from . import _core
from ._models.families import check_labels, check_model, get_family

#: The type of a string choice (a Literal alias of ngdx._typing), kept by check_choice.
_Choice = TypeVar("_Choice")


class PerformanceWarning(UserWarning):
    """An input was copied because of its memory layout: the call works, at a cost.

    The compiled core reads X by rows: a Fortran-ordered X, or a view whose rows are not
    contiguous (a column slice, a transpose, a stride), is copied to C order once per
    call, at the cost of memory the size of X and of the time to copy it. Pass
    ``np.ascontiguousarray(X)`` (once, before calls that reuse X) or build X row-major to
    avoid it. Silence it with ``warnings.simplefilter("ignore", ngdx.PerformanceWarning)``.
    """


#: The dtypes the core reads X in without a copy; any other is converted to float64.
DESIGN_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def as_float_array(a, name: str, ndim: int) -> np.ndarray:
    """``a`` as a C-contiguous float64 array of ``ndim`` dimensions with finite values."""
    arr = np.asarray(a)
    check_real_dtype(arr.dtype, name)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    # aligned too: the core reads doubles through references, and an unaligned one is
    # undefined behaviour (UBSan's "reference binding to misaligned address")
    arr = np.require(arr, dtype=np.float64, requirements=["C_CONTIGUOUS", "ALIGNED"])
    check_finite(arr, name)
    return arr


def check_real_dtype(dtype: np.dtype, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``dtype`` holds real numbers: bool,
    signed or unsigned integers, floats (not complex, strings, objects, datetime64 or
    timedelta64, whose integer storage NumPy would otherwise convert as numbers)."""
    if dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers (bool, integer or float dtype), "
                         f"got dtype {dtype}")


def check_finite(arr: np.ndarray, name: str, squares: bool = False) -> None:
    """Raise ``ValueError`` naming ``name`` when ``arr`` holds NaN or inf, or, with
    ``squares``, float64 values so large that the sums of their squares a curvature forms
    overflow (|x| beyond about 1e150)."""
    # One pass decides the common case: a finite sum (of squares) proves every entry finite
    # (and every Gram entry bounded); only an overflowing one needs the elementwise look.
    flat = arr.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):
        if squares and arr.dtype == np.float64:
            total = _core.linalg.dot(flat, flat)  # not np.dot: see _core.linalg.dot
        else:  # float32 squares cannot overflow a float64 accumulator
            total = arr.sum()
        if np.isfinite(total):
            return
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} must be finite; found {arr[tuple(where)]} at index "
            f"{tuple(int(i) for i in where)} ({int(bad.sum())} non-finite values)")
    if squares:
        raise ValueError(
            f"{name} holds values too large for a curvature: max |{name}| = "
            f"{float(np.abs(flat).max()):.3g}, and the sum of the squares of its entries "
            f"overflows float64; keep |{name}| below about 1e150 (rescale it: ngdx's fits do "
            "not depend on the scale of the features)")


def as_design(X) -> np.ndarray:
    """The design matrix X (n, d), n >= 1 and d >= 1, C-contiguous float64 or float32.

    A C-contiguous float64 or float32 X is returned as it is; another layout of those
    dtypes is copied to C order with a ``PerformanceWarning``; any other real dtype
    (float16, integers, bool, non-native byte order) is converted to float64.
    """
    arr = np.asarray(X)
    check_real_dtype(arr.dtype, "X")
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {arr.shape}")
    if arr.dtype not in DESIGN_DTYPES:
        arr = np.ascontiguousarray(arr, dtype=np.float64)
    elif arr.flags.c_contiguous and not arr.flags.aligned:
        # the core reads its values through references: an unaligned one is undefined
        # behaviour (UBSan's "reference binding to misaligned address")
        arr = np.require(arr, requirements=["C_CONTIGUOUS", "ALIGNED"])
    elif not arr.flags.c_contiguous:
        layout = "Fortran-ordered" if arr.flags.f_contiguous else "a strided view"
        warnings.warn(
            f"X ({arr.shape[0]} x {arr.shape[1]} {arr.dtype}) is {layout}: copying it to C "
            f"order ({arr.nbytes:,} bytes). Pass np.ascontiguousarray(X), once, or build X "
            "row-major to avoid the copy.", PerformanceWarning, stacklevel=_caller_level())
        arr = np.ascontiguousarray(arr)
    check_finite(arr, "X", squares=True)
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"X must have at least one row and one column, got shape {arr.shape}")
    return arr


def as_rows_design(X):
    """X for a row source: a checked CSR matrix (scipy.sparse of any format, converted once
    with a ``PerformanceWarning`` that says what was copied) or, as :func:`as_design`, a
    dense array. Returns (X, is_sparse)."""
    from ._data.csr import as_csr, copy_note, is_sparse

    if not is_sparse(X):
        return as_design(X), False
    note = copy_note(X)
    if note is not None:
        warnings.warn(note, PerformanceWarning, stacklevel=_caller_level())
    return as_csr(X), True


def validate_estimator_data(estimator, X, y="no_validation", **kwargs):
    """scikit-learn's ``validate_data`` for X (and y), in the core's dtypes, whose errors
    name the argument: scikit-learn's own wording ("Expected 2D array", "Complex data not
    supported", which ``check_estimator`` matches) is kept after the argument's name.
    Dates and durations are rejected as ``ngdx.fit`` rejects them."""
    from sklearn.utils.validation import check_array, validate_data  # the estimators' extra

    for dtype in _dtypes(X):
        if dtype.kind in "mM":  # validate_data would read dates and durations as numbers
            check_real_dtype(dtype, "X")
    try:
        return validate_data(estimator, X, y, dtype=DESIGN_DTYPES, accept_sparse="csr",
                             **kwargs)
    except ValueError as e:
        message = str(e)
        if re.search(r"(?<![A-Za-z0-9_])(X|y)(?![A-Za-z0-9_])", message):
            raise  # already named ("Input X contains NaN", "y should be a 1d array", ...)
        if "inconsistent numbers of samples" in message:
            culprit = "X and y"
        else:  # X's fault when X alone fails the same check, else y's
            try:
                check_array(X, dtype=DESIGN_DTYPES, accept_sparse="csr", input_name="X")
                culprit = "y"
            except ValueError:
                culprit = "X"
        raise ValueError(f"{culprit}: {message}") from e


def _dtypes(X) -> list:
    """The NumPy dtypes of X's columns: one for an array or a sparse matrix, one per
    column of a DataFrame, none for a list."""
    if hasattr(X, "dtypes") and not hasattr(X, "dtype"):  # a DataFrame
        return [getattr(dt, "numpy_dtype", dt) for dt in X.dtypes
                if isinstance(getattr(dt, "numpy_dtype", dt), np.dtype)]
    dtype = getattr(X, "dtype", None)
    return [dtype] if isinstance(dtype, np.dtype) else []


def _caller_level() -> int:
    """The ``stacklevel`` that makes a warning issued by this function's caller name the
    first frame outside ngdx: the user's call, however deep inside ngdx it is raised."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "ngdx":
        frame, level = frame.f_back, level + 1
    return level


def as_theta(theta, model: str, d: int, name: str = "theta") -> tuple[np.ndarray, int]:
    """``theta`` checked against ``model`` and d features: (theta as float64, n_classes).

    theta is (d,) for one-output models and (d, K), K >= 2, for multinomial.
    """
    ndim = 2 if get_family(model).multi_output else 1
    shape = np.shape(theta)
    if len(shape) != ndim:
        want = "(d, K)" if ndim == 2 else "(d,)"
        raise ValueError(
            f"{name} for model {model!r} must have shape {want} with d = {d}, got shape {shape}"
        )
    theta = as_float_array(theta, name, ndim)
    if theta.shape[0] != d:
        what = "rows" if ndim == 2 else "entries"
        raise ValueError(f"{name} has {theta.shape[0]} {what} but X has {d} columns")
    n_classes = theta.shape[1] if ndim == 2 else 1
    if ndim == 2 and n_classes < 2:
        raise ValueError(f"{name} for model {model!r} needs K >= 2 columns, got {n_classes}")
    return theta, n_classes


def as_labels(y, model: str, n: int, n_classes: int) -> np.ndarray:
    """Labels y (n,) as float64, checked against the model's domain."""
    y = as_float_array(y, "y", 1)
    if y.shape[0] != n:
        raise ValueError(f"y has {y.shape[0]} entries but X has {n} rows")
    check_labels(y, model, n_classes)
    return y


def as_problem(X, y, theta, model, *, y_required: bool = True, dask: bool = True
               ) -> tuple[str, np.ndarray, np.ndarray | None, np.ndarray, int]:
    """Check a whole (X, y, theta, model) call: (model, X, y or None, theta, n_classes).
    A Dask X or y is passed on as it is, its shape checked (its chunks are checked where
    they are, by the pass); ``dask=False`` refuses it (a function whose result has a row
    per row of X)."""
    from ._data.dask import is_dask

    model = check_model(model)
    if is_dask(X) or is_dask(y):
        if not dask:
            raise ValueError("this function returns one row per row of X and takes X and y in "
                             "memory (NumPy or SciPy sparse), not Dask arrays; map it over the "
                             "chunks (X.map_blocks) instead")
        if not is_dask(X):
            X, _ = as_rows_design(X)
        elif X.ndim != 2:
            raise ValueError(f"X must be 2-D, got shape {X.shape}")
        theta, n_classes = as_theta(theta, model, X.shape[1])
        if y is None and y_required:
            raise ValueError(f"y is required here (model {model!r})")
        return model, X, y, theta, n_classes
    X, _ = as_rows_design(X)
    theta, n_classes = as_theta(theta, model, X.shape[1])
    if y is None:
        if y_required:
            raise ValueError(f"y is required here (model {model!r})")
    else:
        y = as_labels(y, model, X.shape[0], n_classes)
    return model, X, y, theta, n_classes


def check_choice(value: _Choice, name: str, choices: Collection[str]) -> _Choice:
    """``value`` if it is one of ``choices``, else ``ValueError`` listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(choices)}")
    return value


def check_bool(value, name: str) -> bool:
    """True or False (a NumPy bool too); anything else is a ValueError: a string such as
    "no" is truthy, and a silent bool() would read it as True."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_nonnegative(value, name: str) -> float:
    """A finite real number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def check_positive_int(value, name: str) -> int:
    """An integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def resolve_seed(seed) -> int:
    """A seed for the core's counter-based generator: an integer in [0, 2**64), or fresh
    entropy when None."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**64:
        raise ValueError(f"seed must be None or an integer in [0, 2**64), got {seed!r}")
    return int(seed)


def check_positive(value, name: str) -> float:
    """A finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_sample_weight(sample_weight, n: int):
    """Sample weights (n,): non-negative with a positive sum, or None."""
    if sample_weight is None:
        return None
    sw = as_float_array(sample_weight, "sample_weight", 1)
    if sw.shape[0] != n:
        raise ValueError(f"sample_weight has {sw.shape[0]} entries but X has {n} rows")
    if (sw < 0).any():
        raise ValueError("sample_weight must be non-negative")
    top = float(sw.max())
    if not top > 0:
        raise ValueError("sample_weight must have a positive sum")
    with np.errstate(over="ignore"):
        total = sw.sum()
    if not np.isfinite(total) or top < 1e-150:
        # Only the weights' ratios matter (fits use sum_i s_i l_i / sum_i s_i): rescaled
        # so that their sum, and the products with them, stay in range.
        sw = sw / top
    return sw


def mc_samples_alias(n_mc_samples, n_samples, stacklevel=3):
    """``n_mc_samples``, or the deprecated ``n_samples`` when that is given."""
    if n_samples is None:
        return n_mc_samples
    warnings.warn("n_samples is deprecated (it means rows elsewhere in NumPy and "
                  "scikit-learn): use n_mc_samples, the Monte Carlo labels drawn per row",
                  DeprecationWarning, stacklevel=stacklevel)  # the public function's caller
    return n_samples


def as_initial_theta(objective, y, sw, coef_init, intercept_init) -> np.ndarray:
    """The flat starting point: coef_init (or zeros) and intercept_init (or the optimum of
    the intercept-only model)."""
    d, K, family = objective.d, objective.n_classes, objective.family
    theta = np.zeros((d + objective.fit_intercept, K))
    if coef_init is not None:
        shape = (d, K) if family.multi_output else (d,)
        coef = as_float_array(coef_init, "coef_init", len(shape))
        if coef.shape != shape:
            raise ValueError(f"coef_init must have shape {shape}, got {coef.shape}")
        theta[:d] = coef.reshape(d, K)
    if objective.fit_intercept:
        if intercept_init is not None:
            if np.ndim(intercept_init) > 1:
                entries = "1 entry" if K == 1 else f"{K} entries"
                raise ValueError(f"intercept_init must be a number or a 1-D array of {entries}, "
                                 f"got shape {np.shape(intercept_init)}")
            b = as_float_array(np.reshape(intercept_init, -1), "intercept_init", 1)
            if b.shape != (K,):
                raise ValueError(f"intercept_init must have {K} entries, got {b.shape[0]}")
            theta[d] = b
        else:
            s = np.ones_like(y) if sw is None else sw
            theta[d] = family.null_intercept(y, s, K)
    elif intercept_init is not None:
        raise ValueError("intercept_init needs fit_intercept=True")
    return np.ascontiguousarray(theta.ravel())

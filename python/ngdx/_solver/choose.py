"""The choices ``ngdx.fit`` makes before the loop: which curvature representation serves a
method, which linear solver "auto" means, and whether a curvature is reused.

``METHODS`` is the method registry: a method is a curvature kind (what is estimated) and
a representation (how it is stored and solved).
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from .._curvature import REPRESENTATIONS
from .schedule import refresh_cost

LINEAR_SOLVERS = ("auto", "cholesky", "woodbury", "cg")
# linear_solver="auto" goes matrix-free (CG) when a p x p matrix would take more than this.
DENSE_MAX_BYTES = 2**31
# ... and, where a multi-output model has fewer rows x classes than parameters (its
# curvature then has rank <= n K), a p x p matrix beyond this and beyond the size of X.
DENSE_SMALL_BYTES = 2**27


class Method(NamedTuple):
    kind: str            # "fisher": the fit's ``fisher`` argument
    representation: str  # a REPRESENTATIONS name, or "solver": chosen by linear_solver
    multi_output_only: bool = False


#: The ``method`` argument of ngdx.fit.
METHODS = {
    "gd": Method("none", "none"),
    "ngd": Method("fisher", "solver"),
    "diag": Method("fisher", "diagonal"),
    "newton": Method("hessian", "solver"),
    "kfac": Method("true", "kronecker", multi_output_only=True),
}


def representation(method, linear_solver, family, fisher, n, p, n_classes, x_bytes=0):
    """The name of the curvature representation a fit runs with (checked).

    "auto" never picks a p x p matrix that does not fit: woodbury for a one-output model
    with n < p, cg where it applies and the dense matrices would take more than
    DENSE_MAX_BYTES or n K < p (a multi-output model's sample space), else cholesky. When
    nothing else applies, a ValueError (before anything is allocated) replaces a dense
    matrix over DENSE_MAX_BYTES, or, for n K < p, over max(DENSE_SMALL_BYTES, the size of
    X) ("auto"), or over the memory budget ("cholesky")."""
    matrix_free = use_matrix_free(linear_solver, family, method, fisher, n, p, n_classes)
    sample_space = (not matrix_free
                    and use_sample_space(linear_solver, family, method, n, p // n_classes))
    spec = METHODS[method]
    if spec.representation != "solver":
        return spec.representation
    if matrix_free:
        return "cg"
    if sample_space:
        return "woodbury"
    need, budget = dense_bytes(p), memory_budget()
    one = 8 * p * p
    too_big = linear_solver == "auto" and (
        one > DENSE_MAX_BYTES or (n * n_classes < p and one > max(DENSE_SMALL_BYTES, x_bytes)))
    if need > budget or too_big:
        raise ValueError(
            f"the dense curvature of this problem (p = {p} parameters, n = {n} rows) needs "
            f"{need / 2**30:,.1f} GiB, "
            + (f"more than the memory budget ({budget / 2**30:.1f} GiB)" if need > budget else
               "more than linear_solver 'auto' allocates for it")
            + "; use linear_solver='cg' (with method 'ngd' and fisher 'true', or 'newton' on "
            "a canonical link)" + (", linear_solver='woodbury'" if not family.multi_output
                                   else "")
            + ", method 'diag'" + (" or 'kfac'" if family.multi_output else "")
            + (", or linear_solver='cholesky' to allocate it anyway" if need <= budget else ""))
    return "cholesky"


def dense_bytes(p):
    """Memory of the dense path: the curvature, a spare buffer and the factor."""
    return 3 * 8 * p * p


def memory_budget():
    """Bytes a fit's matrices may take: a quarter of the machine's physical memory (4 GiB
    where that cannot be read)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 4 * 2**30


def use_sample_space(linear_solver, family, method, n, p):
    """Whether the damped system is solved in sample space (Woodbury)."""
    applies = not family.multi_output and method in ("ngd", "newton")
    if linear_solver == "woodbury" and not applies:
        raise ValueError("linear_solver 'woodbury' is for methods 'ngd' and 'newton' on "
                         f"one-output models, got method {method!r}, model {family.name!r}")
    return linear_solver == "woodbury" or (linear_solver == "auto" and applies and n < p)


def use_matrix_free(linear_solver, family, method, fisher, n, p, n_classes=1):
    """Whether the damped system is solved by conjugate gradient on Fisher-vector
    products: asked for, or "auto" where it applies and either a p x p matrix would take
    more than DENSE_MAX_BYTES with n >= p, or a multi-output model has n K < p (its sample
    space, which only CG reaches)."""
    applies = (method == "ngd" and fisher == "true") or (method == "newton" and family.canonical)
    if linear_solver == "cg" and not applies:
        raise ValueError("linear_solver 'cg' needs Fisher-vector products: method 'ngd' with "
                         "fisher 'true', or 'newton' on a canonical-link model (not probit), "
                         f"got method {method!r}, fisher {fisher!r}, model {family.name!r}")
    if linear_solver == "cg":
        return True
    if linear_solver != "auto" or not applies:
        return False
    too_big = 8 * p * p > DENSE_MAX_BYTES
    if family.multi_output:
        return too_big or n * n_classes < p
    return too_big and n >= p


def use_reuse(reuse_curvature, method, step, name, n, d, n_classes, fit_intercept):
    """Whether one factored curvature serves several steps: True/False as asked (checked),
    or "auto": where it applies and a refresh costs more than a reused step."""
    applies = REPRESENTATIONS[name].reusable and method in ("ngd", "newton") and step != "kl"
    if isinstance(reuse_curvature, str):
        if reuse_curvature != "auto":
            raise ValueError("reuse_curvature must be True, False or 'auto', got "
                             f"{reuse_curvature!r}")
        return applies and refresh_cost(n, d, n_classes, fit_intercept) >= 1.0
    if not isinstance(reuse_curvature, (bool, np.bool_)):
        raise ValueError(f"reuse_curvature must be True, False or 'auto', got {reuse_curvature!r}")
    if reuse_curvature and not applies:
        raise ValueError("reuse_curvature=True is for methods 'ngd' and 'newton' on the "
                         "Cholesky path (not linear_solver 'woodbury' or 'cg', not step "
                         f"'kl'), got method {method!r}, step {step!r}"
                         + (f", a {name} solver" if name in ("woodbury", "cg") else ""))
    return bool(reuse_curvature)

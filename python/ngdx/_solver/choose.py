"""The choices ``ngdx.fit`` makes before the loop: which curvature representation serves a
method, which linear solver "auto" means, and whether a curvature is reused.

``METHODS`` is the method registry: a method is a curvature kind (what is estimated) and
a representation (how it is stored and solved).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._curvature import REPRESENTATIONS
from .._validation import check_choice
from .schedule import refresh_cost

LINEAR_SOLVERS = ("auto", "cholesky", "woodbury", "cg")
# linear_solver="auto" goes matrix-free (CG) when a p x p matrix would take more than this.
DENSE_MAX_BYTES = 2**31


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


def representation(method, linear_solver, family, fisher, n, p, n_classes):
    """The name of the curvature representation a fit runs with (checked)."""
    matrix_free = use_matrix_free(linear_solver, family, method, fisher, n, p)
    sample_space = (not matrix_free
                    and use_sample_space(linear_solver, family, method, n, p // n_classes))
    spec = METHODS[method]
    if spec.representation != "solver":
        return spec.representation
    return "cg" if matrix_free else "woodbury" if sample_space else "cholesky"


def use_sample_space(linear_solver, family, method, n, p):
    """Whether the damped system is solved in sample space (Woodbury)."""
    applies = not family.multi_output and method in ("ngd", "newton")
    if linear_solver == "woodbury" and not applies:
        raise ValueError("linear_solver 'woodbury' is for methods 'ngd' and 'newton' on "
                         f"one-output models, got method {method!r}, model {family.name!r}")
    return linear_solver == "woodbury" or (linear_solver == "auto" and applies and n < p)


def use_matrix_free(linear_solver, family, method, fisher, n, p):
    """Whether the damped system is solved by conjugate gradient on Fisher-vector
    products: asked for, or "auto" with n >= p and a p x p matrix over DENSE_MAX_BYTES."""
    applies = (method == "ngd" and fisher == "true") or (method == "newton" and family.canonical)
    if linear_solver == "cg" and not applies:
        raise ValueError("linear_solver 'cg' needs Fisher-vector products: method 'ngd' with "
                         "fisher 'true', or 'newton' on a canonical-link model (not probit), "
                         f"got method {method!r}, fisher {fisher!r}, model {family.name!r}")
    return linear_solver == "cg" or (linear_solver == "auto" and applies and n >= p
                                     and 8 * p * p > DENSE_MAX_BYTES)


def use_reuse(reuse_curvature, method, step, name, n, d, n_classes, fit_intercept):
    """Whether one factored curvature serves several steps: True/False as asked (checked),
    or "auto": where it applies and a refresh costs more than a reused step."""
    applies = REPRESENTATIONS[name].reusable and method in ("ngd", "newton") and step != "kl"
    if isinstance(reuse_curvature, str):
        check_choice(reuse_curvature, "reuse_curvature", ("auto",))
        return applies and refresh_cost(n, d, n_classes, fit_intercept) >= 1.0
    if not isinstance(reuse_curvature, (bool, np.bool_)):
        raise ValueError(f"reuse_curvature must be True, False or 'auto', got {reuse_curvature!r}")
    if reuse_curvature and not applies:
        raise ValueError("reuse_curvature=True is for methods 'ngd' and 'newton' on the "
                         "Cholesky path (not linear_solver 'woodbury' or 'cg', not step "
                         f"'kl'), got method {method!r}, step {step!r}"
                         + (f", a {name} solver" if name in ("woodbury", "cg") else ""))
    return bool(reuse_curvature)

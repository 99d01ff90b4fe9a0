"""The mutable state of a fit, its per-iterate record and the verbose report."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._result import HISTORY_KEYS


@dataclass
class State:
    """The iterate of a fit and what the loop's policies remember between steps."""

    theta: np.ndarray
    f: float
    grad: np.ndarray
    n_misclassified: int
    damping: float
    lr: float = 1.0
    n_iter: int = 0
    n_cholesky_failures: int = 0  # solves that failed (M + damping not positive definite)
    n_rejected: int = 0           # trial points rejected (damping rule or line search)
    curvature_age: int = 0        # steps taken since the curvature was computed
    refresh_grad: float = math.inf  # max|grad| where the curvature was computed
    reuse_constant: float = math.nan  # a reused step's rate per unit of refresh_grad
    passes_recorded: int = 0      # passes over the data up to the last record
    grad_unit: np.ndarray | float = 1.0  # 1 / each parameter's feature scale
    best_theta: np.ndarray | None = None  # the iterate of lowest objective so far
    best_f: float = math.inf
    best_grad: np.ndarray | None = None
    best_iter: int = 0
    history: dict = field(default_factory=lambda: {k: [] for k in HISTORY_KEYS})

    @property
    def grad_norm(self) -> float:
        """max_j |grad_j| / c_j, c_j the scale of parameter j's feature: the gradient in
        standardized coordinates, what tol is compared with."""
        return scaled_norm(self.grad, self.grad_unit)


def scaled_norm(grad, unit) -> float:
    return float(np.abs(grad * unit).max())


def record(state, *, elapsed, step_norm, kl, damping, curvature, n_passes):
    """Append the current iterate to the history."""
    h = state.history
    h["objective"].append(state.f)
    h["grad_norm"].append(state.grad_norm)
    h["step_norm"].append(step_norm)
    h["kl"].append(kl)
    h["damping"].append(damping)
    h["time"].append(elapsed)
    h["curvature"].append(1.0 if curvature else 0.0)
    h["passes"].append(n_passes - state.passes_recorded)
    state.passes_recorded = n_passes


def print_header(title, p, caller="ngdx.fit"):
    print(f"{caller}: {title}, p={p}")
    print(f"{'iter':>5} {'objective':>22} {'max|grad|':>10} {'|step|':>10} {'KL':>10} "
          f"{'damping':>10} {'time (s)':>9}")


def print_row(state):
    h = state.history
    print(f"{state.n_iter:>5} {h['objective'][-1]:>22.15e} {h['grad_norm'][-1]:>10.3e} "
          f"{h['step_norm'][-1]:>10.3e} {h['kl'][-1]:>10.3e} {h['damping'][-1]:>10.3e} "
          f"{h['time'][-1]:>9.3f}", flush=True)

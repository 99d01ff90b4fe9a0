"""The solver loop: one fixed, readable loop over pluggable objects.

Order of calls (scikit-learn's ``NewtonSolver`` template)::

    setup      start the state: evaluate at theta0, initial lr and damping
    loop:
      stop?    converged (max|scaled grad| <= tol), separable classes, max_iter
      curvature  refresh M at the current point when it is stale
      direction  solve (M + damping I) d = grad; a failed solve raises the damping
      step       the step rule turns d into a trial point (and its KL)
      judge      the damping rule accepts, rejects (retry with more damping) or stops
      accept     move, take the trial's curvature, update damping and reuse
    finish     the FitResult, a ConvergenceWarning when unconverged

What varies is passed in: the objective (what is fitted), the curvature (how M is stored
and solved), the damping rule, the step rule and the curvature schedule.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np

from .._result import History, convergence_warning
from .damping import ACCEPT, REJECT, STOP, resolution
from .state import State, print_header, print_row, record, scaled_norm
from .steps import gradient_descent_lr

MAX_DAMPING_RAISES = 60  # damping increases (failed solves or rejected steps) per iteration
# A fit has diverged when its objective exceeds the best seen by this many times
# max(|best|, 1): orders of magnitude, not the ups and downs of a fixed step.
DIVERGENCE_FACTOR = 100.0
DIVERGED = ("the fit diverged: the objective grew from {best:.6g} to {f:.6g}; returning "
            "the best iterate seen (iteration {at}). Use a smaller lr, damping='adaptive' "
            "(or a larger damping), step='kl' or step='armijo'")


class Solver:
    """A full-batch natural-gradient fit.

    Parameters
    ----------
    objective : GLMObjective
    curvature : Curvature
    damping : FixedDamping or LevenbergMarquardt
    step : FixedStep, KLTrustRegion or Armijo
    schedule : CurvatureSchedule
    tol, max_iter : float, int
    lr : float or None
        The step size; None: 1, or gradient descent's safe 1/L without a curvature.
    verbose, callback : as in :func:`ngdx.fit`
    title : str
        The verbose report's header.
    caller : str
        The public function the fit runs for, as warnings name it.
    """

    def __init__(self, objective, curvature, *, damping, step, schedule, tol, max_iter,
                 lr=None, verbose=False, callback=None, title="", caller="ngdx.fit"):
        self.objective, self.curvature = objective, curvature
        self.damping, self.step, self.schedule = damping, step, schedule
        self.tol, self.max_iter, self.lr = tol, max_iter, lr
        self.verbose, self.callback, self.title = verbose, callback, title
        self.caller = caller
        self._start = None
        self._n_curvatures = 0  # curvature statistics computed, trial points included

    # ------------------------------------------------------------------ the loop
    def run(self, theta) -> FitResult:
        # Overflow is handled where it happens (a non-finite trial point is rejected or
        # ends the fit with the best iterate), never as a NumPy warning.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._run(theta)

    def _run(self, theta):
        state = self._setup(theta)
        if not (math.isfinite(state.f) and np.isfinite(state.grad).all()):
            raise ValueError(
                f"the objective is not finite at the starting point (f = {state.f!r}): the "
                "model overflows at coef_init / intercept_init (pass smaller ones), or at "
                "these X and y")
        while True:
            reason = self._stop_reason(state)
            if reason is not None:
                return self._finish(state, *reason)
            failure = self._iterate(state)
            if failure is not None:
                return self._finish(state, False, failure, warn=True)
            if self.verbose:
                print_row(state)
            if self.callback is not None and self.callback(self._result(state, False, "running")):
                return self._finish(state, False, "stopped by the callback")

    def _setup(self, theta):
        """Sets: the state at theta0 (f, grad, curvature there), lr, the initial damping."""
        self._start = time.perf_counter()
        self._n_curvatures = 0
        self.objective.remove_flat_directions(theta)
        ev = self.evaluate(theta, True)
        self.curvature.refresh(theta, ev.stats)
        state = State(theta=theta, f=ev.f, grad=ev.grad, n_misclassified=ev.n_misclassified,
                      damping=0.0, grad_unit=1.0 / self.objective.param_scale())
        state.refresh_grad = state.grad_norm
        state.best_theta, state.best_f, state.best_grad = theta.copy(), state.f, state.grad
        state.lr = self.lr if self.lr is not None else (
            1.0 if self.curvature.needs_statistics
            else gradient_descent_lr(self.objective, state.theta))
        state.damping = self.damping.initial(self.curvature.scale())
        self._record(state, step_norm=0.0, kl=0.0, damping=state.damping,
                     curvature=ev.stats is not None)
        if self.verbose:
            print_header(self.title, self.objective.p, self.caller)
            print_row(state)
        return state

    def _stop_reason(self, state):
        """(converged, message[, warn]) when the fit must stop before another step."""
        if self.tol > 0 and state.grad_norm <= self.tol:
            return self._unless_unbounded(
                state, (True, f"converged: max|scaled grad| <= tol = {self.tol:g}"))
        if self.objective.separated(state.n_misclassified):
            return (False, "the classes are separable: every training row is classified "
                    "correctly, so the likelihood has no finite maximizer and the "
                    "coefficients grow without bound; use l2 > 0 for a finite optimum", True)
        if state.n_iter >= self.max_iter:
            return self._unless_unbounded(
                state, (False, f"max_iter = {self.max_iter} reached before max|scaled grad| "
                        f"<= tol = {self.tol:g}; increase max_iter", self.tol > 0))
        return None

    def _unless_unbounded(self, state, reason):
        """``reason``, unless the objective has no finite optimum (asked once, at the stop):
        a tolerance met on the way to infinity is not convergence."""
        unbounded = self.objective.no_finite_optimum(state.theta)
        return reason if unbounded is None else (False, unbounded, True)

    def _iterate(self, state):
        """One accepted step; returns None, or the reason the fit must stop."""
        curvature = self.curvature
        with_curvature = curvature.needs_statistics and self.schedule.with_trial(state)
        for _ in range(MAX_DAMPING_RAISES):
            if not curvature.ready:
                self._refresh(state)
            direction = curvature.solve(state.grad, state.damping)
            if direction is None:  # M + damping not positive definite
                state.n_cholesky_failures += 1
                state.damping = self.damping.after_failure(state.damping, curvature.scale())
                curvature.forget_factor()
                continue
            taken = self.step.take(self, state, direction, with_curvature)
            if taken is None:
                return self.step.failure
            delta, kl, trial = taken
            predicted = (-(float(state.grad @ delta) + 0.5 * curvature.quad(delta))
                         if self.damping.uses_prediction else None)
            verdict = self.damping.judge(state.f, trial.f, predicted,
                                         resolution(state.f, self.objective.rows.n_rows),
                                         state.grad_norm, scaled_norm(trial.grad, state.grad_unit))
            if verdict == STOP or (verdict == ACCEPT and self._diverged(state, trial.f)):
                return self._diverged_message(state, trial.f)
            if verdict == REJECT:  # not an iteration: retried with a better curvature model
                self.record_rejection(state)
                if state.curvature_age > 0:  # the reused curvature's model failed
                    curvature.refresh(state.theta, None)
                else:
                    state.damping = self.damping.after_rejection(state.damping,
                                                                  curvature.scale())
                    curvature.forget_factor()
                continue
            assert verdict == ACCEPT
            used_damping = state.damping
            state.damping = self.damping.update(state.damping, state.f, trial.f, predicted)
            before = state.grad_norm
            self._accept(state, delta, trial, kl, used_damping)
            if self.schedule.reuse:
                if self.schedule.should_refresh(state, before, state.grad_norm):
                    curvature.refresh(state.theta, None)
                else:
                    state.curvature_age += 1
            return None
        return ("the damping was raised too often without an acceptable step "
                f"(damping = {state.damping:.3g})")

    def _diverged(self, state, f_new):
        return f_new > state.best_f + DIVERGENCE_FACTOR * max(abs(state.best_f), 1.0)

    def _diverged_message(self, state, f_new):
        """Sets: the state back to the best iterate seen. The reason the fit stops."""
        message = DIVERGED.format(best=state.best_f, f=f_new, at=state.best_iter)
        state.theta, state.f = state.best_theta, state.best_f
        state.grad = state.best_grad
        return message

    # ------------------------------------------------------------------ steps of the loop
    def evaluate(self, theta, with_curvature):
        """The objective (and, when asked, the curvature's statistics) at theta."""
        ev = self.curvature.evaluate(theta, with_curvature and self.curvature.needs_statistics)
        self._n_curvatures += ev.stats is not None
        return ev

    def step_kl(self, state, delta):
        """1/2 delta^T F delta, F the true Fisher at the current point: read off the
        curvature when it holds that Fisher, else one Fisher-vector product."""
        kl = self.curvature.step_kl(delta)
        return kl if kl is not None else self.objective.step_kl(state.theta, delta)

    def record_rejection(self, state):
        """Counts a rejected trial point."""
        state.n_rejected += 1

    def _refresh(self, state):
        """Sets: the curvature at the current point; the reuse bookkeeping."""
        ev = self.evaluate(state.theta, True)
        self.curvature.refresh(state.theta, ev.stats)
        state.curvature_age = 0
        state.refresh_grad = state.grad_norm
        state.history["curvature"][-1] = 1.0

    def _accept(self, state, delta, trial, kl, used_damping):
        """Sets: theta, f, grad and (unless reused) the curvature of the trial point."""
        state.theta = state.theta + delta
        self.objective.remove_flat_directions(state.theta)
        state.f, state.grad, state.n_misclassified = trial.f, trial.grad, trial.n_misclassified
        if not self.schedule.reuse:  # else the kept curvature and its factor serve the next step
            self.curvature.refresh(state.theta, trial.stats)
        state.n_iter += 1
        if state.f < state.best_f:
            state.best_theta, state.best_f, state.best_grad = state.theta, state.f, state.grad
            state.best_iter = state.n_iter
        self._record(state, step_norm=float(np.linalg.norm(delta)), kl=kl, damping=used_damping,
                     curvature=trial.stats is not None)

    # ------------------------------------------------------------------ the result
    def _record(self, state, **kw):
        record(state, elapsed=time.perf_counter() - self._start,
               n_passes=self.objective.rows.n_passes, **kw)

    def _result(self, state, converged, message):
        """The objective's result type (``FitResult`` for a GLM) at the current iterate."""
        history = History({k: np.asarray(v, dtype=float) for k, v in state.history.items()})
        return self.objective.result(
            state.theta, n_iter=state.n_iter, converged=converged, message=message,
            history=history, n_cholesky_failures=state.n_cholesky_failures,
            linear_solver=self.curvature.name, n_rejected=state.n_rejected,
            n_curvatures=self._n_curvatures, n_passes=self.objective.rows.n_passes)

    def _finish(self, state, converged, message, warn=False):
        if warn:
            warnings.warn(f"{self.caller}: {message}", convergence_warning(),
                          stacklevel=4)  # fit's caller
        if self.verbose:
            print(message)
        result = self._result(state, converged, message)
        keep = getattr(self.objective, "keep_data", None)  # a GLM's result keeps its data
        if keep is not None:
            keep(result, self.curvature, state.theta, state.f)
        return result

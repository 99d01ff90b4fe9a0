"""Mini-batch training: K-FAC with moving-average factors, Adam and SGD over epochs.

Where the full-batch loop (``ngdx._solver.Solver``) judges every step on the whole data,
a mini-batch step sees one batch: the K-FAC factors are exponential moving averages of
the batches' statistics (decay min(1 - 1/k, ``FACTOR_DECAY``) at step k, as kfac-jax's
default), their damped inverses are recomputed every ``inverse_period`` steps, and the
step is the exact quadratic model's (on the batch: two Fisher-vector products) in the
span of the K-FAC direction and the previous step. The damping is fixed, or
Levenberg-Marquardt adapted every ``ADAPT_EVERY`` steps from the batch's reduction ratio.
Each epoch visits every row once, in an order drawn from ``seed``; after each epoch the
full-batch objective and gradient are recorded, so the history has the keys of
``ngdx.FitResult.history``, one entry per epoch.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np

from .._result import History, HISTORY_KEYS, convergence_warning
from .._solver.damping import LevenbergMarquardt
from ._objective import MLPObjective, NetworkRows

FACTOR_DECAY = 0.95  # the moving average's weight on the past, once k > 20
ADAPT_EVERY = 5      # steps between two Levenberg-Marquardt updates of the damping


class MiniBatchSolver:
    """Trains ``objective`` (the whole data) by steps on batches of ``batch_size`` rows.

    Parameters
    ----------
    objective : MLPObjective
        The full problem: the history's objective and gradient are its.
    curvature : LayerKronecker, Adam or Identity
        How a batch gradient becomes a direction.
    batch_size, max_epochs : int
    lr : float
        The step size (1 for K-FAC, whose steps come from the quadratic model).
    damping : float or None
        K-FAC's damping; None: Levenberg-Marquardt from 1e-3 times the factors' scale.
    inverse_period : int
        Steps between two recomputations of K-FAC's damped factor inverses.
    max_kl : float
        K-FAC's steps are clipped to 1/2 delta^T F delta <= max_kl on their batch (the
        "KL clipping" of Ba et al. 2017, kfac-jax's norm constraint): a model fitted to
        one batch is not followed further than that.
    tol : float
        Stop after an epoch whose full-batch max |grad| <= tol.
    seed : int
        The batches' order.
    """

    def __init__(self, objective, curvature, *, batch_size, max_epochs, lr, damping,
                 inverse_period, tol, seed, max_kl=0.01, verbose=False, callback=None,
                 caller="ngdx.nn.fit"):
        self.objective, self.curvature = objective, curvature
        self.batch_size, self.max_epochs = int(batch_size), int(max_epochs)
        self.lr, self.fixed_damping = float(lr), damping
        self.inverse_period, self.tol = int(inverse_period), float(tol)
        self.max_kl = float(max_kl)
        self.rng = np.random.default_rng(seed)
        self.verbose, self.callback, self.caller = verbose, callback, caller
        self.kfac = curvature.name == "kfac"

    # ------------------------------------------------------------------ batches
    def _batch_objective(self, idx):
        rows = self.objective.rows
        X, y = rows.X[idx], rows.y[idx]
        sw = None if rows.sample_weight is None else rows.sample_weight[idx]
        batch = NetworkRows(rows.net, X, y, sw, rows.n_threads)
        return MLPObjective(rows.net, batch, l2=self.objective.l2)

    def _batches(self):
        n = self.objective.rows.n_rows
        order = self.rng.permutation(n)
        for start in range(0, n, self.batch_size):
            yield np.sort(order[start:start + self.batch_size])  # sorted: sequential reads

    # ------------------------------------------------------------------ the run
    def run(self, theta):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._run(theta)

    def _run(self, theta):
        start = time.perf_counter()
        obj, curv = self.objective, self.curvature
        history = {k: [] for k in HISTORY_KEYS}
        rows_read = [0]
        ev = obj.evaluate(theta)
        if not (math.isfinite(ev.f) and np.isfinite(ev.grad).all()):
            raise ValueError(f"the objective is not finite at the starting point (f = {ev.f!r})")
        damping = self.fixed_damping
        lm = LevenbergMarquardt() if damping is None else None
        factors, last_step = None, None
        step_count, kls, norms, epoch = 0, [], [], 0
        last_passes = [0.0]

        def record(f, grad, damp):
            n = obj.rows.n_rows
            passes = rows_read[0] / n + obj.rows.n_passes
            history["objective"].append(f)
            history["grad_norm"].append(float(np.abs(grad).max()))
            history["step_norm"].append(float(np.sqrt(sum(norms))) if norms else 0.0)
            history["kl"].append(float(sum(kls)))
            history["damping"].append(0.0 if damp is None else float(damp))
            history["time"].append(time.perf_counter() - start)
            history["curvature"].append(1.0 if self.kfac and step_count else 0.0)
            history["passes"].append(passes - last_passes[0])
            last_passes[0] = passes

        record(ev.f, ev.grad, damping)
        converged, message = False, ""
        while True:
            if self.tol > 0 and history["grad_norm"][-1] <= self.tol:
                converged, message = True, f"converged: max|grad| <= tol = {self.tol:g}"
                break
            if epoch >= self.max_epochs:
                message = (f"max_iter = {self.max_epochs} epochs reached before max|grad| <= "
                           f"tol = {self.tol:g}; increase max_iter")
                break
            kls, norms = [], []
            for idx in self._batches():
                batch = self._batch_objective(idx)
                curv.objective = batch
                if self.kfac:
                    step_count += 1
                    ev_b = batch.evaluate_factors(theta, curv.kind, n_mc_samples=curv.n_mc_samples,
                                                  seed=curv._seed() if curv.kind == "mc" else 0)
                    factors = _moving_average(factors, ev_b.stats, step_count)
                    if damping is None:
                        damping = 1e-3 * _factor_scale(factors, obj.p)
                    curv.take_average(theta, factors, last_step,
                                      refactor=(step_count - 1) % self.inverse_period == 0)
                    direction = curv.solve(ev_b.grad, damping)
                    if direction is None:  # the damped factors are not positive definite
                        damping = max(10 * damping, 1e-8)
                        curv.forget_factor()
                        continue
                    delta = -self.lr * direction
                    kl = curv.step_kl(delta)
                    if kl is None:
                        kl = batch.step_kl(theta, delta)
                    if kl > self.max_kl:  # KL clipping: a batch's model is not trusted further
                        delta *= math.sqrt(self.max_kl / kl)
                        kl = self.max_kl
                    predicted = -(float(ev_b.grad @ delta) + 0.5 * curv.quad(delta))
                    kls.append(kl)
                    if lm is not None and step_count % ADAPT_EVERY == 0:
                        f_new = batch.evaluate(theta + delta).f
                        damping = lm.update(damping, ev_b.f, f_new, predicted)
                        curv.forget_factor()
                    last_step = delta
                else:
                    ev_b = batch.evaluate(theta)
                    delta = -self.lr * curv.solve(ev_b.grad, 0.0)
                theta = theta + delta
                norms.append(float(delta @ delta))
                rows_read[0] += len(idx) * batch.rows.n_passes
            curv.objective = obj
            epoch += 1
            ev = obj.evaluate(theta)
            if not (math.isfinite(ev.f) and np.isfinite(ev.grad).all()):
                message = (f"the fit diverged: the objective is {ev.f!r} after epoch {epoch}; "
                           "use a smaller lr or a larger damping")
                break
            record(ev.f, ev.grad, damping)
            if self.verbose:
                print(f"epoch {epoch:>4} objective {ev.f:.10e} max|grad| "
                      f"{history['grad_norm'][-1]:.3e} time {history['time'][-1]:.3f}")
            result = self._result(theta, epoch, False, "running", history)
            if self.callback is not None and self.callback(result):
                message = "stopped by the callback"
                break
        if not converged and message != "stopped by the callback":
            warnings.warn(f"{self.caller}: {message}", convergence_warning(), stacklevel=4)
        return self._result(theta, epoch, converged, message, history)

    def _result(self, theta, epochs, converged, message, history):
        obj = self.objective
        hist = History({k: np.asarray(v, dtype=float) for k, v in history.items()})
        return obj.result(theta, n_iter=epochs, converged=converged, message=message,
                          history=hist, n_cholesky_failures=0, linear_solver=self.curvature.name,
                          n_rejected=0, n_curvatures=0,
                          n_passes=int(round(float(np.sum(hist["passes"])))))


def _moving_average(old, new, k):
    """The factors' exponential moving average after step k (its first batch: a copy)."""
    if old is None:
        return [(A.copy(), G.copy()) for A, G in new]
    rho = min(1.0 - 1.0 / k, FACTOR_DECAY)
    for (A, G), (A_new, G_new) in zip(old, new):
        A *= rho
        A += (1 - rho) * A_new
        G *= rho
        G += (1 - rho) * G_new
    return old


def _factor_scale(factors, p):
    return max(sum(float(np.trace(A)) * float(np.trace(G)) for A, G in factors) / p, 1e-300)

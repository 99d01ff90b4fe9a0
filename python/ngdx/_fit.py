"""``ngdx.fit``: natural-gradient optimizers for GLMs.

The solver is one readable loop over a frozen problem (:class:`Objective`) and a mutable
state (:class:`_State`): at each iterate it checks for convergence, proposes a direction
from the method's curvature (raising the damping when a Cholesky fails), turns it into a
step by the step rule, evaluates the trial point, and accepts or rejects it.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import _directions
from ._models import check_model
from ._objective import Objective
from ._result import HISTORY_KEYS, FitResult, convergence_warning
from ._validation import (as_design, as_float_array, as_labels, check_choice, check_nonnegative,
                          check_positive_int, resolve_seed)
from ._threads import resolve

METHODS = ("gd", "ngd", "diag", "newton", "kfac")
LINEAR_SOLVERS = ("auto", "cholesky", "woodbury", "cg")
FISHERS = ("true", "empirical", "mc")
STEPS = ("fixed", "kl", "armijo")
CLASSIFIERS = ("logistic", "probit", "multinomial")

ARMIJO_C = 1e-4          # sufficient-decrease constant of the Armijo rule
MAX_BACKTRACKS = 60      # step halvings before a line search gives up
MAX_DAMPING_RAISES = 60  # damping increases (Cholesky failures or rejected steps) per iteration
# linear_solver="auto" goes matrix-free (CG) when a p x p matrix would take more than this.
DENSE_MAX_BYTES = 2**31
CG_MAX_ITER = 500  # conjugate-gradient iterations per step

# Relative costs behind reuse_curvature's choice (measured on a 2-core AVX-512 machine;
# only their ratios matter): seconds per entry of X for a pass of f and its gradient, per
# row and output for the link function, per entry of a p x p matrix read by a step's
# solves and products, and flop rates of the Gram and the Cholesky.
PASS_SECONDS_PER_ENTRY = 5e-10
PASS_SECONDS_PER_OUTPUT = 5e-9
STEP_SECONDS_PER_MATRIX_ENTRY = 7e-9
GRAM_FLOPS = 1e11
CHOLESKY_FLOPS = 2e10


@dataclass
class _State:
    """The mutable iterate of a fit."""

    theta: np.ndarray
    f: float
    grad: np.ndarray
    curvature: object  # (p, p) / (p,) array, K-FAC's G, or None
    n_misclassified: int
    damping: float
    n_iter: int = 0
    n_cholesky_failures: int = 0
    factor: object = None  # the CholeskyFactor of curvature + damping, while it is reused
    curvature_age: int = 0  # steps taken since the curvature was computed
    refresh_grad: float = math.inf  # max|grad| where the curvature was computed
    reuse_constant: float = math.nan  # a reused step's rate per unit of refresh_grad
    history: dict = field(default_factory=lambda: {k: [] for k in HISTORY_KEYS})


def fit(X, y, model="logistic", method="ngd", *, fisher="true", damping="adaptive", lr=None,
        step="fixed", max_kl=0.01, l2=0.0, fit_intercept=True, sample_weight=None,
        max_iter=100, tol=1e-8, coef_init=None, intercept_init=None, n_samples=1, seed=None,
        linear_solver="auto", reuse_curvature="auto", n_threads=None, verbose=False,
        callback=None):
    r"""Fit a GLM by natural gradient descent (or gradient descent, Newton, diagonal or
    Kronecker-factored natural gradient).

    Minimizes the objective

    .. math:: f(\theta) = \frac{\sum_i s_i \, \ell_i(\theta)}{\sum_i s_i}
              + \frac{l_2}{2} \lVert \mathrm{coef} \rVert^2

    (:math:`\ell_i` the negative log-likelihood of row i, :math:`s_i` the sample weights,
    1 by default; the intercept is not penalized) by iterating
    :math:`\theta \leftarrow \theta - \eta\,(M + \lambda I)^{-1} \nabla f(\theta)`
    with the curvature M of ``method`` plus the penalty's :math:`l_2 I` on coef. A row of
    weight 2 counts as the row twice; scikit-learn's ``LogisticRegression(C=C)`` has the
    same optimum at ``l2 = 1 / (C * sum(sample_weight))``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Design matrix (no column of ones: the intercept is separate).
    y : array_like, shape (n,)
        Labels: 0/1 (logistic, probit), counts (poisson), reals (gaussian), integers
        0..K-1 (multinomial, K = max(y) + 1 or the columns of ``coef_init``).
    model : {"logistic", "probit", "poisson", "gaussian", "multinomial"}
    method : {"gd", "ngd", "diag", "newton", "kfac"}
        * ``"gd"``: gradient descent, M = I (uses lr, step, max_kl).
        * ``"ngd"``: natural gradient with the Fisher chosen by ``fisher`` (uses every
          parameter).
        * ``"diag"``: natural gradient with the diagonal of that Fisher.
        * ``"newton"``: the observed Hessian (equal to ``"ngd"`` with the true Fisher for
          canonical links; differs for probit); ignores ``fisher``.
        * ``"kfac"``: multinomial only; the Kronecker-factored Fisher A kron G with
          factored damping (Martens & Grosse 2015); ignores ``fisher``.
    fisher : {"true", "empirical", "mc"}
        Expected Fisher (exact for these models), mean of score outer products, or Monte
        Carlo with ``n_samples`` labels drawn per row (``seed``).
    damping : float >= 0 or "adaptive"
        lambda. ``"adaptive"`` (default) is a Levenberg-Marquardt rule: lambda starts at
        1e-3 times the mean diagonal of the curvature, shrinks by 3 after steps whose
        actual decrease is > 3/4 of the quadratic model's prediction, doubles below 1/4,
        and a step that increases the objective is rejected with lambda raised 4-fold.
        A step whose predicted decrease is below what evaluating f can resolve
        (sqrt(n) 4 eps |f|) is accepted when the gradient shrinks instead. Whatever the
        rule, a failed Cholesky raises lambda (tenfold) and is recorded in
        ``n_cholesky_failures``. Ignored by ``"gd"``.
    lr : float > 0, optional
        Step size. Default 1.0, except for ``"gd"``: 1 / L with L the largest eigenvalue
        of the curvature at the start (Fisher plus penalty, by power iteration).
    step : {"fixed", "kl", "armijo"}
        ``"fixed"``: step lr. ``"kl"``: a trust region: the step is shrunk so that
        1/2 step^T F step (F the true Fisher) does not exceed ``max_kl``. ``"armijo"``:
        backtracking from lr until the objective decreases sufficiently (once the
        predicted decrease is below the rounding error of f, 4 eps |f|, a step is accepted
        when f does not rise beyond that rounding and the slope along it shrinks).
    max_kl : float > 0
        Trust-region radius of ``step="kl"`` (default 0.01).
    l2 : float >= 0
        Ridge penalty on coef.
    fit_intercept : bool
        Fit an intercept (default True), started at the null model's optimum unless
        ``intercept_init`` is given.
    sample_weight : array_like, shape (n,), optional
        Non-negative row weights with a positive sum.
    max_iter : int >= 1
        Maximum number of accepted steps.
    tol : float >= 0
        Converged when max |grad f| <= tol; ``tol=0`` runs exactly ``max_iter`` steps.
    coef_init : array_like, shape (d,) or (d, K), optional
    intercept_init : float or array_like of shape (K,), optional
    n_samples : int
        Labels drawn per row for ``fisher="mc"``.
    seed : int, optional
        Seed of the Monte Carlo Fisher.
    linear_solver : {"auto", "cholesky", "woodbury", "cg"}
        How ``"ngd"`` and ``"newton"`` solve their damped system. ``"cholesky"`` forms the
        p x p curvature and factors it: O(n p^2 + p^3) per iteration. ``"woodbury"``
        works in sample space for one-output models: the curvature is J^T J with J an
        n x p matrix of weighted rows, and (J^T J + lambda I)^-1 g costs one n x n
        Cholesky, O(n^2 p) once (X X^T) and O(n^2 + n p) per iteration; it needs
        l2 + damping > 0. ``"cg"`` never forms a p x p matrix: preconditioned conjugate
        gradient (Jacobi) on Fisher-vector products, two passes over X each, solved to a
        relative residual min(0.1, sqrt(max|grad|)) per step; memory O(p) beyond X, for
        ``"ngd"`` with ``fisher="true"`` and ``"newton"`` on canonical links. ``"auto"``
        (default) picks woodbury when n < p and it applies, cg when n >= p and a p x p
        matrix would take more than 2 GiB (p > 16384), else cholesky.
    reuse_curvature : bool or "auto"
        On the Cholesky path of ``"ngd"`` and ``"newton"``: keep one factored curvature
        for several steps while the gradient stays exact, and recompute it (at the
        current point) when a cost model expects that to reach tol sooner (it compares the
        rate the kept curvature achieves with the rate a fresh one would give), or after
        a rejected step. Each reused step then costs one pass of f and its gradient over X
        instead of a p x p curvature and a p^3 factorization; the fit converges to the
        same optimum (linearly between refreshes, quadratically when every step
        refreshes). History's ``kl`` is then the quadratic form of the curvature the step
        used. ``"auto"`` (default) reuses where it applies (not with ``step="kl"``, whose
        trust region needs the Fisher at each point) and a new curvature costs more than a
        pass of f and gradient by the solver's cost model (large p, or many classes).
    n_threads : int, optional
        Threads of the compiled core (default :func:`ngdx.get_num_threads`).
    verbose : bool or int
        Print one line per iteration.
    callback : callable, optional
        ``callback(result)`` after each iteration with the current :class:`FitResult`;
        returning True stops the fit.

    Returns
    -------
    FitResult
        ``coef``, ``intercept``, ``n_iter``, ``converged``, ``message``, ``history``,
        and ``predict(X)``.

    Raises
    ------
    ValueError
        On invalid data or arguments (unknown names list the valid ones).

    Warns
    -----
    ConvergenceWarning
        When the fit stops unconverged: ``max_iter`` reached, separable classes with
        ``l2=0`` (no finite optimum exists), a failed line search or a non-finite
        objective.

    Notes
    -----
    For multinomial the softmax is invariant to adding a constant to every class: the
    reported intercepts sum to zero (and, with ``l2=0``, so does each row of coef), and
    the solver removes that flat direction from the curvature instead of relying on the
    damping.

    References
    ----------
    Amari (1998), Natural gradient works efficiently in learning. Martens (2020), New
    insights and perspectives on the natural gradient method. Martens & Grosse (2015),
    Optimizing neural networks with Kronecker-factored approximate curvature.

    Examples
    --------
    >>> import numpy as np, ngdx
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3))
    >>> y = (rng.random(500) < 1 / (1 + np.exp(-X @ [1.0, -2.0, 0.5]))).astype(float)
    >>> res = ngdx.fit(X, y, method="ngd")
    >>> res.converged, res.n_iter < 15
    (True, True)
    """
    model = check_model(model)
    method = check_choice(method, "method", METHODS)
    fisher = check_choice(fisher, "fisher", FISHERS)
    step = check_choice(step, "step", STEPS)
    if method == "kfac" and model != "multinomial":
        raise ValueError(f"method 'kfac' is for model 'multinomial', got model {model!r}")
    X = as_design(X)
    n, d = X.shape
    y_arr = as_float_array(y, "y", 1)
    K = _n_classes(model, y_arr, coef_init)
    y_arr = as_labels(y_arr, model, n, K)
    sw = _check_sample_weight(sample_weight, n)
    l2 = check_nonnegative(l2, "l2")
    adaptive = isinstance(damping, str)
    if adaptive:
        check_choice(damping, "damping", ("adaptive",))
    else:
        damping = check_nonnegative(damping, "damping")
    if lr is not None:
        lr = _check_positive(lr, "lr")
    max_kl = _check_positive(max_kl, "max_kl")
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = check_nonnegative(tol, "tol")
    n_samples = check_positive_int(n_samples, "n_samples")
    linear_solver = check_choice(linear_solver, "linear_solver", LINEAR_SOLVERS)
    p = (d + bool(fit_intercept)) * K
    matrix_free = _use_matrix_free(linear_solver, model, method, fisher, n, p)
    sample_space = (not matrix_free
                    and _use_sample_space(linear_solver, model, method, n, p // K))
    reuse = _use_reuse(reuse_curvature, method, step, sample_space or matrix_free)
    n_threads = resolve(n_threads)
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None, got {callback!r}")
    fit_intercept = bool(fit_intercept)

    objective = Objective(X, y_arr, model, K, fit_intercept=fit_intercept, sample_weight=sw,
                          l2=l2, n_threads=n_threads)
    theta = _initial_theta(objective, y_arr, sw, coef_init, intercept_init)
    solver = _Solver(objective, method=method, fisher=fisher, adaptive=adaptive,
                     damping=0.0 if adaptive else damping, lr=lr, step=step, max_kl=max_kl,
                     tol=tol, max_iter=max_iter, n_samples=n_samples,
                     rng=np.random.default_rng(resolve_seed(seed)), verbose=verbose,
                     callback=callback, sample_space=sample_space, reuse=reuse,
                     matrix_free=matrix_free)
    return solver.run(theta)


class _Solver:
    """setup -> [converged? -> direction -> step -> accept] -> finalize."""

    def __init__(self, objective, *, method, fisher, adaptive, damping, lr, step, max_kl, tol,
                 max_iter, n_samples, rng, verbose, callback, sample_space=False, reuse=False,
                 matrix_free=False):
        self.obj = objective
        # Conjugate gradient on Fisher-vector products: the curvature kept is its diagonal
        # (the preconditioner), never a p x p matrix.
        self.matrix_free = matrix_free
        self.sample_space = sample_space  # curvature as per-row weights, Woodbury solve
        self.refresh_cost = self._refresh_cost(objective)
        # One factored curvature over several steps; "auto": where a new one costs more
        # than a pass of f and gradient (else every step's pass also computes it).
        self.reuse = self.refresh_cost >= 1.0 if reuse == "auto" else reuse
        self._factor_buffer = None
        self.method, self.step_rule = method, step
        self.adaptive, self.base_damping = adaptive, damping
        self.max_kl, self.tol, self.max_iter = max_kl, tol, max_iter
        self.n_samples, self.rng = n_samples, rng
        self.verbose, self.callback = verbose, callback
        self.kind = {"gd": "none", "ngd": fisher, "diag": fisher, "newton": "hessian",
                     "kfac": "none"}[method]
        self.diagonal = method == "diag" or matrix_free
        self.lr = lr
        self.K = objective.n_classes
        # Rows of theta along which a multinomial objective is flat (the softmax's shift).
        self.null_rows = None
        if objective.model == "multinomial" and method in ("ngd", "newton"):
            rows = objective.d + objective.fit_intercept
            self.null_rows = (range(rows) if objective.l2 == 0.0
                              else ([objective.d] if objective.fit_intercept else []))

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, theta, with_curvature=True):
        """(f, grad, curvature, n_misclassified) at theta; the curvature only if asked."""
        kind = self.kind if with_curvature else "none"
        seed = int(self.rng.integers(2**63)) if kind == "mc" else 0
        if (kind in ("true", "hessian") and self.obj.model == "multinomial"
                and self.method in ("ngd", "newton") and not self.diagonal
                and not theta[: self.obj.d * self.K].any()):  # e.g. the null-model start
            f, g, _, n_mis = self.obj.evaluate(theta)
            return f, g, self.obj.fisher_at_zero_coef(theta), n_mis
        if self.sample_space and kind != "none":
            f, g, _, n_mis = self.obj.evaluate(theta)
            curv = self.obj.curvature_weights(theta, kind, n_samples=self.n_samples, seed=seed)
            return f, g, curv, n_mis
        f, g, curv, n_mis = self.obj.evaluate(theta, kind, diagonal=self.diagonal,
                                              n_samples=self.n_samples, seed=seed)
        if with_curvature and self.method == "kfac":
            curv = self.obj.output_fisher(theta)
        return f, g, curv, n_mis

    @property
    def needs_curvature(self):
        return self.method != "gd"

    # ------------------------------------------------------------------ the loop
    def run(self, theta):
        self.start = time.perf_counter()
        self._recentre(theta)
        f, g, curv, n_mis = self.evaluate(theta, self.needs_curvature)
        state = _State(theta=theta, f=f, grad=g, curvature=self._keep(curv), n_misclassified=n_mis,
                       damping=self.base_damping, refresh_grad=float(np.abs(g).max()))
        if self.lr is None:
            self.lr = self._default_lr(state) if self.method == "gd" else 1.0
        if self.adaptive and self.method != "gd":
            state.damping = 1e-3 * self._curvature_scale(state)
        self._record(state, step_norm=0.0, kl=0.0)
        if self.verbose:
            self._print_header()
            self._print_row(state)
        if not math.isfinite(f):
            return self._finish(state, False, "the objective is not finite at the starting "
                                "point; pass a smaller coef_init", warn=True)
        while True:
            if self.tol > 0 and self._grad_norm(state) <= self.tol:
                return self._finish(state, True, f"converged: max|grad| <= tol = {self.tol:g}")
            if (self.obj.model in CLASSIFIERS and self.obj.l2 == 0.0
                    and state.n_misclassified == 0):
                return self._finish(
                    state, False,
                    "the classes are separable: every training row is classified correctly, "
                    "so the likelihood has no finite maximizer and the coefficients grow "
                    "without bound; use l2 > 0 for a finite optimum", warn=True)
            if state.n_iter >= self.max_iter:
                return self._finish(state, False,
                                    f"max_iter = {self.max_iter} reached before max|grad| <= "
                                    f"tol = {self.tol:g}; increase max_iter", warn=self.tol > 0)
            outcome = self._iterate(state)
            if outcome is not None:
                return self._finish(state, False, outcome, warn=True)
            if self.verbose:
                self._print_row(state)
            if self.callback is not None and self.callback(self._result(state, False, "running")):
                return self._finish(state, False, "stopped by the callback")

    def _iterate(self, state):
        """One accepted step; returns None, or the reason the fit must stop."""
        with_curvature = (self.needs_curvature and not self.reuse
                          and not self._likely_final(state))
        for _ in range(MAX_DAMPING_RAISES):
            if state.curvature is None and self.needs_curvature:  # at the current point
                state.curvature = self._keep(self.evaluate(state.theta, True)[2])
                state.factor, state.curvature_age = None, 0
                state.refresh_grad = self._grad_norm(state)
            direction, quad = self._direction(state)
            if direction is None:  # M + damping not positive definite
                state.n_cholesky_failures += 1
                state.damping = max(10.0 * state.damping, 1e-10 * self._curvature_scale(state))
                state.factor = None
                continue
            delta = -self.lr * direction
            kl = self._step_kl(state, delta)
            if self.step_rule == "kl" and kl > self.max_kl:
                delta *= math.sqrt(self.max_kl / kl)
                kl = self.max_kl  # the quadratic KL of the shrunk step, by construction
            if self.step_rule == "armijo":
                trial = self._armijo(state, delta, with_curvature)
                if trial is None:
                    return ("the line search found no decrease of the objective (at the limit "
                            "of floating-point precision, or a non-descent direction)")
                delta, kl, trial = trial
            else:
                trial = self.evaluate(state.theta + delta, with_curvature)
            f_new = trial[0]
            if self.adaptive and self.method != "gd":
                # Changes below the rounding noise of f say nothing about the model's fit:
                # such a step leaves the damping alone, and when even the predicted change
                # is below f's resolution a rise within it is allowed if the gradient shrinks.
                noise = 4.0 * np.finfo(float).eps * abs(state.f)
                predicted = -(float(state.grad @ delta) + 0.5 * quad(delta))
                ok = f_new <= state.f + noise
                if not ok and predicted <= self._f_resolution(state):
                    ok = (f_new <= state.f + self._f_resolution(state)
                          and np.abs(trial[1]).max() <= self._grad_norm(state))
                if not (math.isfinite(f_new) and ok):
                    if state.curvature_age > 0:  # the reused curvature's model failed
                        state.curvature = None
                    else:
                        state.damping = max(4.0 * state.damping,
                                            1e-10 * self._curvature_scale(state))
                        state.factor = None
                    continue  # rejected by the damping rule: not an iteration
                used_damping = state.damping
                if abs(state.f - f_new) > noise and predicted > noise:
                    rho = (state.f - f_new) / predicted
                    if rho > 0.75:
                        state.damping /= 3.0
                    elif rho < 0.25:
                        state.damping *= 2.0
            else:
                if not math.isfinite(f_new):
                    return ("the objective became non-finite; returning the last finite "
                            "iterate (reduce lr, use step='armijo' or damping='adaptive')")
                used_damping = state.damping
            before = self._grad_norm(state)
            self._accept(state, delta, trial, kl, used_damping)
            if self.reuse:
                if self._should_refresh(state, before, self._grad_norm(state)):
                    state.curvature = state.factor = None
                else:
                    state.curvature_age += 1
            return None
        return ("the damping was raised too often without an acceptable step "
                f"(damping = {state.damping:.3g})")

    def _armijo(self, state, delta, with_curvature):
        """Backtrack from delta: (delta, kl, trial) with sufficient decrease, or None."""
        slope = float(state.grad @ delta)
        scale = 1.0
        for attempt in range(MAX_BACKTRACKS):
            trial = self.evaluate(state.theta + scale * delta, with_curvature and attempt == 0)
            f_new = trial[0]
            # Below the rounding noise of f the Armijo test cannot be decided from values:
            # there a step that does not raise f and shrinks the slope along delta (which, f
            # being convex, means it did not overshoot the line's minimum) is accepted.
            noise = 4.0 * np.finfo(float).eps * abs(state.f)
            if -scale * slope <= noise:  # the predicted decrease is below f's rounding
                accept = (f_new <= state.f + noise
                          and abs(float(trial[1] @ delta)) <= (1 - ARMIJO_C) * abs(slope))
            else:
                accept = f_new <= state.f + ARMIJO_C * scale * slope
            if math.isfinite(f_new) and accept:
                if attempt > 0 and with_curvature:
                    trial = self.evaluate(state.theta + scale * delta, True)
                kl = self._step_kl(state, scale * delta)
                return scale * delta, kl, trial
            scale *= 0.5
        return None

    def _step_kl(self, state, delta):
        """1/2 delta^T F delta, F the true Fisher at the current point: read off the
        curvature when it is that Fisher (plus the penalty), else one matrix-free pass."""
        if self.kind == "true" and self.sample_space:  # sum_i w_i (x~_i . delta)^2
            d = self.obj.d
            z = self.obj.X @ delta[:d] + (delta[d] if self.obj.fit_intercept else 0.0)
            return 0.5 * float(state.curvature @ (z * z))
        if self.kind == "true" and not self.diagonal:
            coef_part = delta * self.obj.penalty_mask
            return 0.5 * (float(delta @ (state.curvature @ delta))
                          - self.obj.l2 * float(coef_part @ coef_part))
        return self.obj.step_kl(state.theta, delta)

    def _direction(self, state):
        """(direction, quad) solving the damped system of the method, or (None, None)."""
        g, lam = state.grad, state.damping
        if self.method == "gd":
            return _directions.identity(g)
        if self.method == "diag":
            return _directions.diagonal(state.curvature, g, lam)
        if self.method == "kfac":
            return _directions.kfac(self.obj.input_gram(), state.curvature, g, lam,
                                    self.obj.l2, self.K)
        if self.sample_space:
            return _directions.sample_space(self.obj.X, self.obj.row_gram(), state.curvature,
                                            g, self.obj.l2, lam, self.obj.fit_intercept)
        if self.matrix_free:
            return self._cg_direction(state)
        if state.factor is None:  # factored in one buffer, reused for the whole fit
            if self._factor_buffer is None:
                self._factor_buffer = np.empty_like(state.curvature)
            factor = _directions.CholeskyFactor(state.curvature, lam, self.null_rows, self.K,
                                                out=self._factor_buffer)
            if not factor.ok:
                return None, None
            state.factor = factor
        return state.factor.solve(g), state.factor.quad

    def _cg_direction(self, state):
        """Preconditioned CG on (F + l2 P + damping I) step = grad with F v from two passes
        over X, to a relative residual that tightens as the gradient shrinks (inexact
        Newton: min(0.1, sqrt(max|grad|)), the Eisenstat-Walker forcing term)."""
        theta, lam = state.theta, state.damping
        rtol = min(0.1, math.sqrt(self._grad_norm(state)))
        step = _directions.conjugate_gradient(
            lambda v: self._fisher_product(theta, v) + lam * v, state.grad,
            state.curvature + lam, rtol, CG_MAX_ITER)
        if step is None:
            return None, None
        return step, lambda v: float(v @ self._fisher_product(theta, v))

    def _accept(self, state, delta, trial, kl, used_damping):
        state.theta = state.theta + delta
        self._recentre(state.theta)
        state.f, state.grad, curv, state.n_misclassified = trial
        if not self.reuse:  # else the kept curvature and its factor serve the next step
            state.factor = None
            state.curvature = self._keep(curv)
        state.n_iter += 1
        self._record(state, step_norm=float(np.linalg.norm(delta)), kl=kl, damping=used_damping)

    # ------------------------------------------------------------------ helpers
    def _keep(self, curv):
        """The objective's curvature buffer is reused by the next evaluation with a
        curvature: keep a copy. Under reuse only a refresh evaluates one, and it replaces
        the kept curvature anyway: no copy (one p x p matrix less)."""
        if curv is None or self.reuse:
            return curv
        return curv.copy()

    def _recentre(self, theta):
        """Remove the softmax's free shift: zero-sum intercepts (and coef rows when l2 = 0)."""
        if self.obj.model != "multinomial":
            return
        T = theta.reshape(-1, self.K)
        rows = slice(None) if self.obj.l2 == 0.0 else slice(self.obj.d, None)
        if self.obj.l2 == 0.0 or self.obj.fit_intercept:
            T[rows] -= T[rows].mean(axis=1, keepdims=True)

    def _curvature_scale(self, state):
        """Mean diagonal of the method's curvature (1 when there is none)."""
        c = state.curvature
        if c is None:
            return 1.0
        if self.method == "kfac":
            A = self.obj.input_gram()
            scale = np.trace(A) / A.shape[0] * np.trace(c) / self.K
        elif self.sample_space:  # mean diagonal of sum_i w_i x~_i x~_i^T + l2 P
            row_norms = np.diag(self.obj.row_gram()) + self.obj.fit_intercept
            scale = (float(c @ row_norms) + self.obj.l2 * self.obj.d) / self.obj.p
        else:
            scale = float(np.mean(c if c.ndim == 1 else np.diag(c)))
        return scale if scale > 0 and math.isfinite(scale) else 1.0

    def _default_lr(self, state):
        """1 / lambda_max(F + l2 I) at the start, by power iteration with Fisher-vector
        products (gradient descent's classical safe step)."""
        rng = np.random.default_rng(0)
        v = rng.normal(size=self.obj.p)
        v /= np.linalg.norm(v)
        lam = 0.0
        for _ in range(30):
            Fv = self._fisher_product(state.theta, v)
            lam = float(v @ Fv)
            norm = np.linalg.norm(Fv)
            if norm == 0:
                break
            v = Fv / norm
        return 1.0 / lam if lam > 0 else 1.0

    def _fisher_product(self, theta, v):
        from . import _core

        out = np.empty(self.obj.p)
        _core.glm.fisher_vector_product(self.obj.model, self.obj.X, theta, v, self.K,
                                    self.obj.fit_intercept, self.obj.sample_weight,
                                    self.obj.n_threads, out)
        return out + self.obj.l2 * self.obj.penalty_mask * v

    @staticmethod
    def _refresh_cost(obj):
        """A new curvature and its factorization, in units of one reused step (a pass of f
        and gradient, and the solves and products with p x p matrices)."""
        n, K = obj.X.shape[0], obj.n_classes
        dp = obj.d + obj.fit_intercept
        cheap = (n * dp * K * PASS_SECONDS_PER_ENTRY + n * K * PASS_SECONDS_PER_OUTPUT
                 + obj.p**2 * STEP_SECONDS_PER_MATRIX_ENTRY)
        dear = n * dp**2 * K * (K + 1) / 2 / GRAM_FLOPS + obj.p**3 / 3 / CHOLESKY_FLOPS
        return dear / cheap

    def _should_refresh(self, state, before, after):
        """After an accepted step under reuse: recompute the curvature at the new point?

        A reused curvature's steps converge linearly, at a rate that grows with how far
        the iterate has moved since the curvature was computed, i.e. with max|grad| there:
        rate ~ c |g_refresh|, c read off the steps taken. The expected cost to reach tol
        (in reused steps) is compared both ways: keep going at the rate seen (or, after a
        fresh step, expected), or pay refresh_cost now and go on at rate c |g| from here.
        Until a reused step has measured c, one is tried."""
        if before <= 0.0 or after <= 0.0:
            return False
        rate = after / before
        if not rate < 1.0:
            return True
        if state.curvature_age > 0:
            state.reuse_constant = rate / state.refresh_grad
            reuse_rate = rate
        elif math.isnan(state.reuse_constant):
            return False  # try one reused step, which measures c
        else:
            reuse_rate = state.reuse_constant * state.refresh_grad
        remaining = math.log(after / self.tol) if self.tol > 0 else 30.0
        rate_after = state.reuse_constant * after
        if remaining <= 0.0 or not rate_after < 1.0:
            return False
        if not reuse_rate < 1.0:
            return True
        keep = remaining / -math.log(reuse_rate)
        refresh = self.refresh_cost + remaining / -math.log(rate_after)
        return refresh < keep

    def _likely_final(self, state):
        """Whether the next point will probably meet tol, so that computing the curvature
        with it would be wasted (it is computed later if the guess was wrong). Newton-type
        steps converge quadratically near the optimum: |g+| ~ C |g|^2, with C read off the
        last two iterations."""
        norms = state.history["grad_norm"]
        if self.method not in ("ngd", "newton") or self.tol <= 0 or len(norms) < 2:
            return False
        before, now = norms[-2], norms[-1]
        if not 0.0 < now < before:
            return False
        return (now / before**2) * now**2 < 0.1 * self.tol

    def _f_resolution(self, state):
        """The change of f its evaluation can resolve: sums of n rounded terms carry
        errors that grow like sqrt(n) eps |f| (4 eps |f| alone rejected genuine final
        Newton steps of a 1e5-row fit as increases)."""
        n = self.obj.X.shape[0]
        return 4.0 * np.finfo(float).eps * abs(state.f) * math.sqrt(n)

    @staticmethod
    def _grad_norm(state):
        return float(np.abs(state.grad).max())

    def _record(self, state, *, step_norm, kl, damping=None):
        h = state.history
        h["loss"].append(state.f)
        h["grad_norm"].append(self._grad_norm(state))
        h["step_norm"].append(step_norm)
        h["kl"].append(kl)
        h["damping"].append(state.damping if damping is None else damping)
        h["time"].append(time.perf_counter() - self.start)

    def _result(self, state, converged, message):
        obj, K = self.obj, self.K
        T = state.theta.reshape(-1, K)
        coef = T[: obj.d].copy()
        intercept = T[obj.d].copy() if obj.fit_intercept else np.zeros(K)
        if obj.model != "multinomial":
            coef, intercept = coef[:, 0], float(intercept[0])
        history = {k: np.asarray(v, dtype=float) for k, v in state.history.items()}
        return FitResult(coef=coef, intercept=intercept, n_iter=state.n_iter,
                         converged=converged, message=message, history=history,
                         model=obj.model, n_cholesky_failures=state.n_cholesky_failures,
                         linear_solver=self._linear_solver_name())

    def _linear_solver_name(self):
        if self.method in ("ngd", "newton"):
            return ("cg" if self.matrix_free else "woodbury" if self.sample_space
                    else "cholesky")
        return {"gd": "none", "diag": "diagonal", "kfac": "kronecker"}[self.method]

    def _finish(self, state, converged, message, warn=False):
        if warn:
            warnings.warn(f"ngdx.fit: {message}", convergence_warning(),
                          stacklevel=4)  # fit's caller
        if self.verbose:
            print(message)
        return self._result(state, converged, message)

    def _print_header(self):
        print(f"ngdx.fit: model={self.obj.model}, method={self.method}, step={self.step_rule}, "
              f"p={self.obj.p}")
        print(f"{'iter':>5} {'objective':>22} {'max|grad|':>10} {'|step|':>10} {'KL':>10} "
              f"{'damping':>10} {'time (s)':>9}")

    def _print_row(self, state):
        h = state.history
        print(f"{state.n_iter:>5} {h['loss'][-1]:>22.15e} {h['grad_norm'][-1]:>10.3e} "
              f"{h['step_norm'][-1]:>10.3e} {h['kl'][-1]:>10.3e} {h['damping'][-1]:>10.3e} "
              f"{h['time'][-1]:>9.3f}", flush=True)


# ---------------------------------------------------------------------- input helpers
def _use_sample_space(linear_solver, model, method, n, p):
    """Whether the damped system is solved in sample space (Woodbury)."""
    applies = model != "multinomial" and method in ("ngd", "newton")
    if linear_solver == "woodbury" and not applies:
        raise ValueError("linear_solver 'woodbury' is for methods 'ngd' and 'newton' on "
                         f"one-output models, got method {method!r}, model {model!r}")
    return linear_solver == "woodbury" or (linear_solver == "auto" and applies and n < p)


def _use_matrix_free(linear_solver, model, method, fisher, n, p):
    """Whether the damped system is solved by conjugate gradient on Fisher-vector
    products: asked for, or "auto" with n >= p and a p x p matrix over DENSE_MAX_BYTES."""
    canonical = model in ("logistic", "poisson", "gaussian", "multinomial")
    applies = (method == "ngd" and fisher == "true") or (method == "newton" and canonical)
    if linear_solver == "cg" and not applies:
        raise ValueError("linear_solver 'cg' needs Fisher-vector products: method 'ngd' with "
                         "fisher 'true', or 'newton' on a canonical-link model (not probit), "
                         f"got method {method!r}, fisher {fisher!r}, model {model!r}")
    return linear_solver == "cg" or (linear_solver == "auto" and applies and n >= p
                                     and 8 * p * p > DENSE_MAX_BYTES)


def _use_reuse(reuse_curvature, method, step, sample_space):
    applies = method in ("ngd", "newton") and not sample_space and step != "kl"
    if isinstance(reuse_curvature, str):
        check_choice(reuse_curvature, "reuse_curvature", ("auto",))
        return "auto" if applies else False
    if not isinstance(reuse_curvature, (bool, np.bool_)):
        raise ValueError(f"reuse_curvature must be True, False or 'auto', got {reuse_curvature!r}")
    if reuse_curvature and not applies:
        raise ValueError("reuse_curvature=True is for methods 'ngd' and 'newton' on the "
                         "Cholesky path (not linear_solver 'woodbury' or 'cg', not step "
                         f"'kl'), got method {method!r}, step {step!r}"
                         + (", a matrix-free or woodbury solver" if sample_space else ""))
    return bool(reuse_curvature)


def _check_positive(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _n_classes(model, y, coef_init):
    """K: 1, or for multinomial the columns of coef_init, else max(y) + 1 (>= 2)."""
    if model != "multinomial":
        return 1
    if coef_init is not None and np.ndim(coef_init) == 2:
        return int(np.shape(coef_init)[1])
    if not (np.all(y == np.floor(y)) and y.min() >= 0):
        raise ValueError("y for model 'multinomial' must hold integer labels 0..K-1")
    K = int(y.max()) + 1
    if K < 2:
        raise ValueError(f"model 'multinomial' needs at least 2 classes; y has labels 0..{K - 1}")
    return K


def _check_sample_weight(sample_weight, n):
    if sample_weight is None:
        return None
    sw = as_float_array(sample_weight, "sample_weight", 1)
    if sw.shape[0] != n:
        raise ValueError(f"sample_weight has {sw.shape[0]} entries but X has {n} rows")
    if (sw < 0).any():
        raise ValueError("sample_weight must be non-negative")
    if not sw.sum() > 0:
        raise ValueError("sample_weight must have a positive sum")
    return sw


def _initial_theta(obj, y, sw, coef_init, intercept_init):
    """The flat starting point: coef_init (or zeros) and intercept_init (or the optimum of
    the intercept-only model)."""
    d, K = obj.d, obj.n_classes
    theta = np.zeros((d + obj.fit_intercept, K))
    if coef_init is not None:
        shape = (d, K) if obj.model == "multinomial" else (d,)
        coef = as_float_array(coef_init, "coef_init", len(shape))
        if coef.shape != shape:
            raise ValueError(f"coef_init must have shape {shape}, got {coef.shape}")
        theta[:d] = coef.reshape(d, K)
    if obj.fit_intercept:
        if intercept_init is not None:
            b = as_float_array(np.reshape(intercept_init, -1), "intercept_init", 1)
            if b.shape != (K,):
                raise ValueError(f"intercept_init must have {K} entries, got {b.shape[0]}")
            theta[d] = b
        else:
            theta[d] = _null_intercept(obj.model, y, sw, K)
    elif intercept_init is not None:
        raise ValueError("intercept_init needs fit_intercept=True")
    return np.ascontiguousarray(theta.ravel())


def _null_intercept(model, y, sw, K):
    """The intercept-only optimum (clipped), the usual GLM starting point."""
    s = np.ones_like(y) if sw is None else sw
    if model == "multinomial":
        freq = np.bincount(y.astype(int), weights=s, minlength=K) / s.sum()
        logf = np.log(np.clip(freq, 1e-10, None))
        return logf - logf.mean()
    mean = float(s @ y / s.sum())
    if model == "gaussian":
        return mean
    if model == "poisson":
        return math.log(max(mean, 1e-10))
    p = min(max(mean, 1e-10), 1 - 1e-10)
    logit = math.log(p / (1 - p))
    return logit if model == "logistic" else logit / 1.7  # probit ~ logit / 1.7

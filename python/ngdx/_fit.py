"""``ngdx.fit``: validate the arguments, build the objective, the curvature and the policies,
and run the solver loop (``ngdx._solver``)."""

from __future__ import annotations

from typing import Callable, Literal

import numbers

import numpy as np
from numpy.typing import ArrayLike

from ._curvature import REPRESENTATIONS
from ._data import rows_of
from ._models import GLMObjective, get_family
from ._result import FitResult
from ._solver import (STEP_RULES, CurvatureSchedule, FixedDamping, LevenbergMarquardt, Solver,
                      refresh_cost)
from ._solver.choose import LINEAR_SOLVERS, METHODS, representation, use_reuse
from ._config import resolve_threads
from ._typing import FisherKind, LinearSolver, Method, Model, StepRule
from ._validation import (as_initial_theta, check_bool, check_choice, check_nonnegative,
                          check_positive, check_positive_int, mc_samples_alias, resolve_seed)

FISHERS = ("true", "empirical", "mc")
#: The largest lr and fixed damping: the solver forms the squares of the steps they scale
#: (the KL, the damping's quadratic model), which overflow float64 beyond about 1e154.
MAX_SCALE = 1e150
STEPS = tuple(STEP_RULES)


def fit(X: ArrayLike, y: ArrayLike, model: Model = "logistic", method: Method = "ngd", *,
        fisher: FisherKind = "true", damping: float | Literal["adaptive"] = "adaptive",
        lr: float | None = None, step: StepRule = "fixed", max_kl: float = 0.01,
        l2: float = 0.0, fit_intercept: bool = True, sample_weight: ArrayLike | None = None,
        max_iter: int = 100, tol: float = 1e-8, coef_init: ArrayLike | None = None,
        intercept_init: float | ArrayLike | None = None, n_classes: int | None = None,
        n_mc_samples: int = 1,
        seed: int | None = None, linear_solver: LinearSolver = "auto",
        reuse_curvature: bool | Literal["auto"] = "auto", n_threads: int | None = None,
        verbose: bool | int = False, callback: Callable[[FitResult], bool | None] | None = None,
        n_samples: int | None = None) -> FitResult:
    r"""Fit a GLM by natural gradient descent (or gradient descent, Newton, diagonal or
    Kronecker-factored natural gradient).

    Minimizes the objective

    $$
    f(\theta) = \frac{\sum_i s_i \, \ell_i(\theta)}{\sum_i s_i}
    + \frac{l_2}{2} \lVert \mathrm{coef} \rVert^2
    $$

    ($\ell_i$ the negative log-likelihood of row i, $s_i$ the sample weights,
    1 by default; the intercept is not penalized) by iterating
    $\theta \leftarrow \theta - \alpha\,(M + \lambda I)^{-1} \nabla f(\theta)$
    with the curvature M of ``method`` plus the penalty's $l_2 I$ on coef. A row of
    weight 2 counts as the row twice; scikit-learn's ``LogisticRegression(C=C)`` has the
    same optimum at ``l2 = 1 / (C * sum(sample_weight))``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Design matrix (no column of ones: the intercept is separate): a NumPy array, a
        SciPy sparse matrix, or a Dask array chunked by rows (``pip install "ngdx[dask]"``:
        every pass then runs chunk by chunk on Dask's scheduler or cluster, y and
        ``sample_weight`` may be Dask arrays too; see the "Large data" page).
    y : array_like, shape (n,)
        Labels: 0/1 (logistic, probit), counts (poisson), reals (gaussian), integers
        0..K-1 (multinomial: K is ``n_classes``, else the columns of ``coef_init``, else
        max(y) + 1 with every class 0..K-1 present in y).
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
        Carlo with ``n_mc_samples`` labels drawn per row (``seed``).
    damping : float in [0, 1e150] or "adaptive"
        lambda, in the units of standardized features: it adds lambda c_j^2 to the
        curvature's diagonal, c_j as in ``tol`` (Marquardt's scaling; the woodbury solver
        with ``l2 > 0`` adds lambda times the mean c_j^2 to every coef). ``"adaptive"`` (default) is a Levenberg-Marquardt rule: lambda starts
        at 1e-3 times the mean of M_jj / c_j^2, shrinks by 3 after steps whose
        actual decrease is > 3/4 of the quadratic model's prediction, doubles below 1/4,
        and a step that increases the objective is rejected with lambda raised 4-fold.
        A step whose predicted decrease is below what evaluating f can resolve
        (sqrt(n) 4 eps |f|) is accepted when the gradient shrinks instead. Whatever the
        rule, a failed Cholesky raises lambda (tenfold) and is recorded in
        ``n_cholesky_failures``. Ignored by ``"gd"``.
    lr : float in (0, 1e150], optional
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
        Converged when $\max_j |\partial f / \partial \theta_j| / c_j \le$ ``tol``, $c_j$
        the root mean square of parameter j's column of X (1 for the intercept, and for a
        zero column: there the test is absolute). That is the gradient with respect to the
        coefficients of standardized features, so rescaling features does not change
        when a fit stops (a fit on ``X * 1e-9`` stops where the fit on X does); for
        standardized features it is max|grad f|. ``tol=0`` runs exactly ``max_iter``
        steps. ($c_j$ is estimated from at most 65,536 evenly spaced rows.)
    coef_init : array_like, shape (d,) or (d, K), optional
    intercept_init : float or array_like of shape (K,), optional
    n_classes : int >= 2, optional
        K for ``"multinomial"`` when some classes have no rows in y (e.g. to keep the
        classes of a cross-validation fold). Such a class has no finite optimum: its
        intercept decreases without bound as its probability goes to zero.
    n_mc_samples : int
        Monte Carlo labels drawn per row for ``fisher="mc"``.
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
        Threads of the compiled core (default [`ngdx.get_num_threads`][ngdx.get_num_threads]).
    verbose : bool or int
        Print one line per iteration.
    callback : callable, optional
        ``callback(result)`` after each iteration with the current
        [`ngdx.FitResult`][ngdx.FitResult]; returning True stops the fit.
    n_samples : int, optional
        Deprecated alias of ``n_mc_samples`` (``n_samples`` means rows elsewhere in NumPy
        and scikit-learn).

    Returns
    -------
    FitResult
        ``coef``, ``intercept``, ``n_iter``, ``converged``, ``message``, ``history``,
        ``predict(X)``, and the standard errors: ``covariance()``, ``std_errors()`` and
        ``summary()`` (it keeps a reference to X, y and the weights for them, no copy).

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
    solver, theta = build(
        X, y, model, method, fisher=fisher, damping=damping, lr=lr, step=step, max_kl=max_kl,
        l2=l2, fit_intercept=fit_intercept, sample_weight=sample_weight, max_iter=max_iter,
        tol=tol, coef_init=coef_init, intercept_init=intercept_init, n_classes=n_classes,
        n_mc_samples=n_mc_samples, seed=seed, linear_solver=linear_solver,
        reuse_curvature=reuse_curvature, n_threads=n_threads, verbose=verbose,
        callback=callback, n_samples=n_samples)
    return solver.run(theta)


def build(X, y, model, method, *, fisher, damping, lr, step, max_kl, l2, fit_intercept,
          sample_weight, max_iter, tol, coef_init, intercept_init, n_classes, n_mc_samples, seed,
          linear_solver, reuse_curvature, n_threads, verbose, callback, n_samples):
    """Validate fit's arguments and build what it runs: ``(solver, theta0)``.

    The solver's objective, curvature and policies are plain attributes: a test or a new
    driver replaces one (a schedule, a step rule) before ``solver.run(theta0)``.
    """
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None, got {callback!r}")
    family = get_family(model)
    method = check_choice(method, "method", tuple(METHODS))
    fisher = check_choice(fisher, "fisher", FISHERS)
    step = check_choice(step, "step", STEPS)
    if METHODS[method].multi_output_only and not family.multi_output:
        raise ValueError(f"method {method!r} is for model 'multinomial', got model {family.name!r}")
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    n_threads = resolve_threads(n_threads)
    rows, K, y_start, s_start = rows_of(X, y, sample_weight, family, coef_init=coef_init,
                                        n_classes=n_classes, fit_intercept=fit_intercept,
                                        n_threads=n_threads)
    n, d = rows.n_rows, rows.n_features
    l2 = check_nonnegative(l2, "l2")
    if isinstance(damping, str):
        if damping != "adaptive":
            raise ValueError(f"damping must be a number >= 0 or 'adaptive', got {damping!r}")
    else:
        try:
            damping = check_nonnegative(damping, "damping")
        except ValueError:
            raise ValueError("damping must be a finite number >= 0 or 'adaptive', got "
                             f"{damping!r}") from None
        if damping > MAX_SCALE:
            raise ValueError(
                f"damping must be at most {MAX_SCALE:g} (or 'adaptive'), got {damping!r}: in "
                "the units of standardized features, a damping that large takes no step at all")
    if lr is not None:
        try:
            lr = check_positive(lr, "lr")
        except ValueError:
            raise ValueError(f"lr must be a finite number > 0 or None, got {lr!r}") from None
        if lr > MAX_SCALE:
            raise ValueError(f"lr must be at most {MAX_SCALE:g} (or None), got {lr!r}: the "
                             "squares of steps that long overflow float64 (lr = 1 is the "
                             "natural gradient's own step)")
    max_kl = check_positive(max_kl, "max_kl")
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = check_nonnegative(tol, "tol")
    n_mc_samples = check_positive_int(mc_samples_alias(n_mc_samples, n_samples, 4), "n_mc_samples")
    linear_solver = check_choice(linear_solver, "linear_solver", LINEAR_SOLVERS)
    if isinstance(verbose, str) or not isinstance(verbose, (bool, numbers.Integral, np.bool_)):
        raise ValueError(f"verbose must be True, False or an integer, got {verbose!r}")
    p = (d + fit_intercept) * K
    name = representation(method, linear_solver, family, fisher, n, p, K, rows.nbytes)
    reuse = use_reuse(reuse_curvature, method, step, name, n, d, K, fit_intercept)

    objective = GLMObjective(rows, family, K, l2=l2)
    theta = as_initial_theta(objective, y_start, s_start, coef_init, intercept_init)
    kind = fisher if METHODS[method].kind == "fisher" else METHODS[method].kind
    # Damping in the units of standardized features (Marquardt's scaling); the sample-space
    # solve sets its own (a scalar on coef when l2 > 0).
    unit = None if name == "woodbury" else objective.param_scale() ** 2
    curvature = REPRESENTATIONS[name](objective, kind=kind, n_mc_samples=n_mc_samples,
                                      rng=np.random.default_rng(resolve_seed(seed)), unit=unit)
    adaptive = isinstance(damping, str) and curvature.needs_statistics
    solver = Solver(
        objective, curvature,
        damping=LevenbergMarquardt() if adaptive else FixedDamping(
            0.0 if isinstance(damping, str) else damping),
        step=STEP_RULES[step](max_kl) if step == "kl" else STEP_RULES[step](),
        schedule=CurvatureSchedule(exact=curvature.exact, reuse=reuse, tol=tol,
                                   cost=refresh_cost(n, d, K, fit_intercept)),
        tol=tol, max_iter=max_iter, lr=lr, verbose=verbose, callback=callback,
        title=f"model={family.name}, method={method}, step={step}")
    return solver, theta

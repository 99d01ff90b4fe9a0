"""ngdx.bayes.fit: validate, start at the MAP, run the Bayesian learning rule."""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .._config import resolve_threads
from .._models.families import get_family
from .._result import convergence_warning
from .._validation import (as_float_array, as_labels, as_rows_design, check_bool,
                           check_choice, check_nonnegative, check_positive,
                           check_positive_int, check_sample_weight)
from ._posterior import Posterior
from ._problem import Problem
from ._rule import Gaussian, Prior, empirical_bayes, kl, objective, step

METHODS = ("vi", "laplace")
#: Steps whose KL is below this are not compared (``reversing``, ``not_contracting``): the
#: KL's trace
#: and log-determinant terms cancel to p, so its rounding is ~1e-14 to 1e-13.
KL_ROUNDING = 1e-11

def check_arguments(model, prior_precision, method, lr, n_quadrature, max_iter, tol, verbose,
                    callback):
    """The scalar arguments, checked: (family, prior_precision, lr, ...) or ValueError."""
    family = get_family(model)
    if not (isinstance(prior_precision, str) and prior_precision == "auto"):
        value = prior_precision
        if (isinstance(value, (bool, str)) or not isinstance(value, numbers.Real)
                or not math.isfinite(value) or value <= 0):
            raise ValueError("prior_precision must be a finite number > 0 or 'auto', got "
                             f"{prior_precision!r}")
        prior_precision = float(value)
    method = check_choice(method, "method", METHODS)
    lr = check_positive(lr, "lr")
    if lr > 1.0:
        raise ValueError(f"lr must be in (0, 1], got {lr!r}: it is the step rho on the "
                         "natural parameters, and rho = 1 is the full Newton-like step")
    n_quadrature = check_positive_int(n_quadrature, "n_quadrature")
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = check_nonnegative(tol, "tol")
    if isinstance(verbose, str) or not isinstance(verbose, (bool, numbers.Integral, np.bool_)):
        raise ValueError(f"verbose must be True, False or an integer, got {verbose!r}")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None, got {callback!r}")
    return family, prior_precision, method, lr, n_quadrature, max_iter, tol


def build_problem(X, y, family, sample_weight, fit_intercept, n_quadrature, n_threads):
    """The frozen problem from the data arguments, validated as ``ngdx.fit`` does."""
    X, sparse = as_rows_design(X)
    y = as_float_array(y, "y", 1)
    K = family.n_classes(y) if family.multi_output else 1
    y = as_labels(y, family.name, X.shape[0], K)
    sw = check_sample_weight(sample_weight, X.shape[0])
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    return Problem(X, sparse, y, sw, fit_intercept, family.name, n_quadrature,
                   resolve_threads(n_threads), n_classes=K)


#: ngdx.fit's tol for the MAP start (its default is 1e-8)
START_TOL = 1e-5


def map_start(problem: Problem, alpha: float) -> np.ndarray:
    """The MAP by ``ngdx.fit`` (mean NLL + l2/2 ||coef||^2 with l2 = alpha / sum_i s_i:
    the summed NLL + alpha/2 ||coef||^2, divided by sum_i s_i). A start only: the rule
    polishes it, so an unconverged MAP is not reported, and its tolerance is START_TOL:
    the rule's first step moves q farther than Newton's last step would have moved the
    MAP (on (1e5, 50) logistic: a KL of 2e-3 against 2e-5), and that step costs a pass."""
    from .._fit import fit

    total = problem.n if problem.s is None else float(problem.s.sum())
    with warnings.catch_warnings():
        # its ConvergenceWarning, without resolving the class: that imports scikit-learn
        # (seconds, on a first call); X was validated and converted, so no other warning
        warnings.simplefilter("ignore", UserWarning)
        res = fit(problem.X, problem.y, problem.model, method="newton", l2=alpha / total,
                  fit_intercept=problem.fit_intercept, sample_weight=problem.s,
                  tol=START_TOL, n_threads=problem.n_threads)
    K = problem.n_classes
    theta = np.reshape(res.coef, (-1, K))
    if problem.fit_intercept:
        theta = np.vstack([theta, np.reshape(res.intercept, (1, K))])
    return theta.ravel().copy()


def laplace_start(problem: Problem, mean: np.ndarray, alpha: float) -> Gaussian:
    """q = N(mean, H^-1), H the Hessian of the negative log posterior at mean."""
    terms = problem.terms(mean)
    prior = Prior(alpha, problem.prior_mask, problem.null)
    return Gaussian.from_precision(mean, terms.hess + prior.precision())


def kl_to_go(kls, lrs) -> float:
    """The KL from the current q to the fixed point, estimated from the last two steps
    when the rule contracts steadily: with KL_k the last step's and rho the contraction
    sqrt(KL_k / KL_k-1) < 1/2 of the step lengths, the remaining steps sum to
    sqrt(KL_k) rho / (1 - rho) in length, KL_k rho^2 / (1 - rho)^2 in KL. inf otherwise
    (fewer than two steps, a step size changed since them, no clear contraction). Stopping on it
    instead of on KL_k <= tol saves the rule's last pass: on (1e5, 50) logistic the steps'
    KLs fall by ~1e-4 each, so one step earlier is still 1e-3 tol away."""
    if len(kls) < 2 or not lrs[-1] == lrs[-2] == lrs[-3] or not (kls[-2] > 0):
        return math.inf
    ratio = kls[-1] / kls[-2]
    if not ratio < 0.25:
        return math.inf
    rho = math.sqrt(ratio)
    return kls[-1] * (rho / (1 - rho)) ** 2


def reversing(moves, precision) -> bool:
    """Whether the mean's last move went back along the one before it (cosine below
    -1/2 in q's metric): the step overshoots. On nearly separable data a wide q
    raises the curvature of well-classified rows, which narrows q: a negative eigenvalue
    of the fixed-point map, and steps that alternate in sign while they shrink slowly
    (standardized load_breast_cancer: 82 steps at rho = 1, 25 with halving)."""
    if len(moves) < 2:
        return False
    a, b = moves
    ab, aa, bb = float(a @ precision @ b), float(a @ precision @ a), float(b @ precision @ b)
    return ab < -0.5 * math.sqrt(aa * bb)


def not_contracting(kls, lrs, lr) -> bool:
    """Whether the rule's last steps at the current step size stopped shrinking: the last
    step longer (in KL) than the one before it, or no shorter than the one two before it
    (a cycle of two: under ``auto`` the prior precision moves with q, and
    load_breast_cancer splits alternated between two posteriors for 300 steps)."""
    k = len(kls)
    if k < 2 or not lrs[k - 1] == lrs[k - 2] == lr or not kls[-1] > KL_ROUNDING:
        return False
    if kls[-1] > kls[-2] > 0:
        return True
    return k >= 3 and lrs[k - 3] == lr and kls[-1] >= kls[-3] > 0


def run(problem: Problem, q: Gaussian, alpha: float, *, method="vi", auto=False, lr=1.0,
        max_iter=100, tol=1e-12, verbose=False, callback=None) -> Posterior:
    """The loop: [pass at q -> objective -> stop? -> step -> (alpha update)], from q.

    Stops when the last step's KL(q_new || q), divided by rho^2 (the full step's), or the
    KL still to go (``kl_to_go``) is at most tol (and, under ``auto``, the last change of
    log alpha squared too), at max_iter steps, or when a precision is not
    positive definite or the objective not finite. Returns the q of the last pass.

    The step rho starts at ``lr`` and is halved when the mean's steps reverse
    (``reversing``) or stop shrinking (``not_contracting``). Not when the objective falls:
    the rule's fixed point is stationary for the ELBO only up to the quadrature's error
    (Price's theorem is exact for exact expectations), so near it the quadrature ELBO may
    fall by ~1e-7 a step, and halving on that had stopped fits at a tiny step, short of
    the fixed point (load_breast_cancer splits: rho 0.004 after 15 steps)."""
    variational = method == "vi"
    prior = Prior(alpha, problem.prior_mask, problem.null)
    history = {"elbo": [], "kl": [], "prior_precision": [], "lr": []}
    n_iter, last_kl, last_dlog_alpha = 0, math.inf, math.inf
    moves = []  # the mean's last two moves at the current step size
    message = f"max_iter={max_iter} steps reached"
    converged = False

    def result():
        return Posterior(model=problem.model, mean=q.mean.copy(), covariance=q.covariance(),
                         fit_intercept=problem.fit_intercept, prior_precision=alpha,
                         elbo=history["elbo"][-1], history=history, method=method,
                         n_iter=n_iter, converged=converged, message=message,
                         n_passes=problem.n_passes, n_quadrature=problem.n_quadrature,
                         n_classes=problem.n_classes, null=problem.null)

    while True:
        terms = problem.terms(q.mean, q.factor() if variational else None)
        value = objective(q, terms.loss, prior, variational)
        kls = history["kl"]
        if ((reversing(moves, q.precision) and len(kls) >= 2 and kls[-1] > KL_ROUNDING
             and kls[-1] > 0.25 * kls[-2])  # ... and the oscillation decays slowly
                or not_contracting(kls, history["lr"], lr)):
            lr *= 0.5
            moves.clear()  # judge the new step size on its own steps
        history["elbo"].append(value)
        history["lr"].append(lr)
        history["prior_precision"].append(alpha)
        if callback is not None and callback(result()):
            history["kl"].append(math.nan)
            message = "stopped by the callback"
            break
        if not math.isfinite(value):
            history["kl"].append(math.nan)
            message = "the objective is not finite (eta too large for the model?)"
            break
        # a step of rho < 1 is rho times the full step, its KL rho^2 times the full one's:
        # judged at rho = 1, so that a halved step cannot look converged by being short
        full_kl = last_kl / history["lr"][len(history["kl"]) - 1] ** 2 if history["kl"] else math.inf
        to_go = kl_to_go(history["kl"], history["lr"])
        if min(full_kl, to_go) <= tol and (not auto or last_dlog_alpha**2 <= tol):
            history["kl"].append(math.nan)
            converged = True
            message = (f"converged: KL of the last step (at rho = 1) <= tol={tol:g}"
                       if full_kl <= tol else
                       f"converged: KL still to go (last step's {last_kl:.2e} times its "
                       f"contraction) {to_go:.2e} <= tol={tol:g}")
            break
        if n_iter == max_iter:
            history["kl"].append(math.nan)
            break
        try:
            new = step(q, terms, prior, lr)
        except np.linalg.LinAlgError:
            history["kl"].append(math.nan)
            message = "the precision of the step is not positive definite"
            break
        last_kl = kl(new, q)
        history["kl"].append(last_kl)
        moves = (moves + [new.mean - q.mean])[-2:]
        if verbose:
            print(f"iter {n_iter:4d}  {'elbo' if variational else 'log evidence'} "
                  f"{value: .10e}  kl {last_kl:.3e}  prior_precision {alpha:.6g}")
        if auto:
            new_alpha = empirical_bayes(new, prior, variational)
            if not (math.isfinite(new_alpha) and new_alpha > 0):
                message = "the empirical-Bayes prior precision is not finite and positive"
                break
            last_dlog_alpha, alpha = math.log(new_alpha / alpha), new_alpha
            prior = Prior(alpha, problem.prior_mask, problem.null)
        q, n_iter = new, n_iter + 1
    post = result()
    if not converged:
        warnings.warn(f"ngdx.bayes.fit did not converge: {message}", convergence_warning(),
                      stacklevel=3)
    return post

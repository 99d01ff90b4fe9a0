"""``ngdx.nn.fit``: train a network on the solver loop of ``ngdx.fit``."""

from __future__ import annotations

import numbers

import numpy as np

from .._config import resolve_threads
from .._curvature import Identity
from .._curvature.dense import Dense
from .._curvature.matrix_free import MatrixFree
from .._solver import (STEP_RULES, CurvatureSchedule, FixedDamping, LevenbergMarquardt, Solver)
from .._solver.choose import dense_bytes, memory_budget
from .._validation import (check_choice, check_nonnegative, check_positive, check_positive_int,
                          check_sample_weight, resolve_seed)
from ._curvature import Adam, LayerKronecker
from ._network import MLP
from ._objective import MLPObjective, NetworkRows
from ._stochastic import MiniBatchSolver

METHODS = ("kfac", "ngd", "adam", "gd")
FISHERS = ("true", "empirical", "mc")
LINEAR_SOLVERS = ("auto", "cholesky", "cg")
#: Conjugate-gradient iterations a solve is expected to take, in the cost model of "auto".
CG_EXPECTED_ITERATIONS = 30


def fit(net, X, y, method="kfac", *, params_init=None, l2=0.0, fisher="true",
        damping="adaptive", lr=None, step="fixed", max_kl=0.01, sample_weight=None,
        max_iter=200, tol=1e-6, n_mc_samples=1, seed=0, linear_solver="auto",
        batch_size=None, inverse_update_period=5, n_threads=None, verbose=False,
        callback=None):
    r"""Train a network by natural gradient (K-FAC or the exact Fisher), Adam or gradient
    descent.

    Minimizes the mean negative log-likelihood of ``net``'s output family plus
    $\tfrac{l_2}{2}\sum_l \lVert W_l \rVert^2$ (biases unpenalized; scikit-learn's
    ``alpha`` is ``l2 * n``) on the solver loop of [`ngdx.fit`][ngdx.fit]: the same
    damping and step rules, history and diagnostics.

    Parameters
    ----------
    net : MLP
    X : array_like, shape (n, n_inputs)
        float64 or float32 (read as float32), C-ordered.
    y : array_like
        (n,) class labels for output "multinomial"; (n,) or (n, n_outputs) for the others.
    method : {"kfac", "ngd", "adam", "gd"}
        "kfac": Kronecker-factored natural gradient, per layer (A + pi sqrt(lambda) I) kron
        (G + sqrt(lambda) / pi I); "ngd": the exact Fisher (the network's generalized
        Gauss-Newton matrix), dense and factored by Cholesky for small networks,
        conjugate gradient on exact Fisher-vector products otherwise
        (``linear_solver``); "adam" and "gd": the first-order baselines.
    params_init : list of (W, b), optional
        Starting point (default ``net.init(seed)``).
    l2 : float
        Ridge penalty on the weight matrices.
    fisher : {"true", "empirical", "mc"}
        The curvature the natural-gradient methods estimate: the exact expectation over
        the model's outputs, the observed gradients' outer products, or ``n_mc_samples``
        targets per row drawn from the model.
    damping : float or "adaptive"
        lambda; "adaptive" (default) is Levenberg-Marquardt, judged by the exact Fisher's
        quadratic model.
    lr : float, optional
        Step size: 1 for the natural-gradient methods, 1e-3 for Adam, 1/L for "gd".
    step : {"fixed", "kl", "armijo"}
        "kl" caps each step's KL divergence (measured with the exact Fisher) at ``max_kl``.
    max_kl : float
    sample_weight : array_like, optional
    max_iter : int
    tol : float
        Stop when max |gradient of the objective| <= tol.
    n_mc_samples, seed : int
        Monte Carlo targets per row for ``fisher="mc"``, and the seed of those draws and
        of ``net.init`` when ``params_init`` is None.
    linear_solver : {"auto", "cholesky", "cg"}
        How "ngd" solves its damped system ("auto": by a cost model).
    batch_size : int, optional
        None (default): full batch, the regime where second-order methods win. An integer:
        mini-batches of that many rows, each epoch visiting every row once in an order
        drawn from ``seed``; ``max_iter`` then counts epochs and the history has one entry
        per epoch (the full-batch objective). K-FAC's factors are then exponential moving
        averages of the batches' (decay min(1 - 1/k, 0.95) at step k), their damped
        inverses recomputed every ``inverse_update_period`` steps, each step the exact
        quadratic model's on its batch, clipped to a KL of ``max_kl``; methods "kfac",
        "adam" and "gd" (SGD, ``lr`` required), ``step="fixed"``.
    inverse_update_period : int
        Mini-batch K-FAC: steps between recomputations of the factors' damped inverses.
    n_threads : int, optional
    verbose : bool
    callback : callable, optional
        ``callback(result)`` after each iteration; returning True stops the fit.

    Returns
    -------
    MLPFitResult

    Examples
    --------
    >>> import numpy as np, ngdx
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> y = (X[:, 0] * X[:, 1] > 0).astype(float)       # XOR: not linearly separable
    >>> net = ngdx.nn.MLP((2, 8, 2), activation="tanh", output="multinomial")
    >>> res = ngdx.nn.fit(net, X, y, "kfac", l2=1e-3, tol=1e-5, max_iter=500)
    >>> res.converged, res.n_iter < 200
    (True, True)
    >>> bool((res.predict(X).argmax(axis=1) == y).mean() > 0.95)
    True
    """
    solver, theta = build(net, X, y, method, params_init=params_init, l2=l2, fisher=fisher,
                          damping=damping, lr=lr, step=step, max_kl=max_kl,
                          sample_weight=sample_weight, max_iter=max_iter, tol=tol,
                          n_mc_samples=n_mc_samples, seed=seed, linear_solver=linear_solver,
                          batch_size=batch_size, inverse_update_period=inverse_update_period,
                          n_threads=n_threads, verbose=verbose, callback=callback)
    return solver.run(theta)


def build(net, X, y, method, *, params_init, l2, fisher, damping, lr, step, max_kl,
          sample_weight, max_iter, tol, n_mc_samples, seed, linear_solver, batch_size,
          inverse_update_period=5, n_threads, verbose, callback):
    """Validate fit's arguments and build ``(solver, theta0)``."""
    if not isinstance(net, MLP):
        raise ValueError(f"net must be an ngdx.nn.MLP, got {type(net).__name__}")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None, got {callback!r}")
    method = check_choice(method, "method", METHODS)
    fisher = check_choice(fisher, "fisher", FISHERS)
    step = check_choice(step, "step", tuple(STEP_RULES))
    linear_solver = check_choice(linear_solver, "linear_solver", LINEAR_SOLVERS)
    X = net.as_inputs(X)
    Y = net.as_targets(y, X.shape[0])
    sw = check_sample_weight(sample_weight, X.shape[0])
    l2 = check_nonnegative(l2, "l2")
    adaptive = isinstance(damping, str)
    if adaptive and damping != "adaptive":
        raise ValueError(f"damping must be a number >= 0 or 'adaptive', got {damping!r}")
    if not adaptive:
        damping = check_nonnegative(damping, "damping")
    if lr is not None:
        lr = check_positive(lr, "lr")
    max_kl = check_positive(max_kl, "max_kl")
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = check_nonnegative(tol, "tol")
    n_mc_samples = check_positive_int(n_mc_samples, "n_mc_samples")
    seed = resolve_seed(seed)
    if isinstance(verbose, str) or not isinstance(verbose, (bool, numbers.Integral, np.bool_)):
        raise ValueError(f"verbose must be True, False or an integer, got {verbose!r}")
    theta = (net.as_theta(net.init(seed)) if params_init is None
             else net.as_theta(params_init, "params_init"))
    rows = NetworkRows(net, X, Y, sw, resolve_threads(n_threads))
    objective = MLPObjective(net, rows, l2=l2)
    rng = np.random.default_rng(seed)
    name = representation(method, linear_solver, fisher, X.shape[0], net)
    curvature = {"kfac": LayerKronecker, "cholesky": Dense, "cg": MatrixFree, "adam": Adam,
                 "none": Identity}[name](objective, kind=fisher, n_mc_samples=n_mc_samples,
                                         rng=rng)
    if method == "adam" and lr is None:
        lr = 1e-3
    second_order = method in ("kfac", "ngd")
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
        period = check_positive_int(inverse_update_period, "inverse_update_period")
        if method == "ngd" or step != "fixed":
            raise ValueError("mini-batches (batch_size) are for methods 'kfac', 'adam' and "
                             f"'gd' with step='fixed', got method {method!r}, step {step!r}")
        if method == "gd" and lr is None:
            raise ValueError("method 'gd' with mini-batches (SGD) needs a learning rate lr")
        return MiniBatchSolver(
            objective, curvature, batch_size=min(batch_size, X.shape[0]), max_epochs=max_iter,
            lr=1.0 if lr is None else lr, damping=None if adaptive else damping,
            inverse_period=period, tol=tol, seed=seed, max_kl=max_kl, verbose=verbose,
            callback=callback), theta
    solver = Solver(
        objective, curvature,
        damping=LevenbergMarquardt() if adaptive and second_order
        else FixedDamping(0.0 if adaptive else damping),
        step=STEP_RULES[step](max_kl) if step == "kl" else STEP_RULES[step](),
        schedule=CurvatureSchedule(exact=name in ("cholesky", "cg"), reuse=False, tol=tol,
                                   cost=1.0),
        tol=tol, max_iter=max_iter, lr=lr, verbose=verbose, callback=callback,
        title=f"MLP {net.layer_sizes} {net.activation}/{net.output}, method={method}",
        caller="ngdx.nn.fit")
    return solver, theta


def representation(method, linear_solver, fisher, n, net):
    """The curvature representation of a network fit: "kfac", "adam", "none", or for
    "ngd" "cholesky" (the dense exact Fisher) or "cg" (exact Fisher-vector products).

    "auto" factors the dense Fisher when building it (n K p^2 for the Gram of the per-row
    Jacobian vectors) costs less than the CG_EXPECTED_ITERATIONS Fisher-vector products of
    a matrix-free solve (about 6 n p each) and its buffers fit the memory budget."""
    if method != "ngd":
        if linear_solver != "auto":
            raise ValueError(f"linear_solver is for method 'ngd', got {linear_solver!r} with "
                             f"method {method!r}")
        return {"kfac": "kfac", "adam": "adam", "gd": "none"}[method]
    p, K = net.n_params, net.n_outputs
    if linear_solver == "cg":
        if fisher != "true":
            raise ValueError("linear_solver 'cg' needs Fisher-vector products of the true "
                             f"Fisher: fisher='true', got {fisher!r}")
        return "cg"
    fits = dense_bytes(p) <= memory_budget()
    if linear_solver == "cholesky":
        if not fits:
            raise ValueError(f"the dense Fisher of this network (p = {p}) needs "
                             f"{dense_bytes(p) / 2**30:.1f} GiB, more than the memory budget; "
                             "use linear_solver='cg' or method 'kfac'")
        return "cholesky"
    if not fits and fisher != "true":  # CG has products with the true Fisher only
        raise ValueError(f"the dense {fisher} Fisher of this network (p = {p}) needs "
                         f"{dense_bytes(p) / 2**30:.1f} GiB, more than the memory budget, and "
                         "conjugate gradient needs fisher='true'; use fisher='true' or method "
                         "'kfac'")
    cheap = n * K * p * p + p**3 / 3 <= CG_EXPECTED_ITERATIONS * 6 * n * p
    return "cholesky" if (fits and (cheap or fisher != "true")) else "cg"

"""``python -m ngdx demo``: natural gradient at work on an ill-conditioned problem."""

from __future__ import annotations

import os
import time
import warnings

import numpy as np

from ._fit import fit
from ._result import convergence_warning
from .plot import convergence

#: (label, keyword arguments of ngdx.fit) of every method the demo compares.
METHODS = [
    ("gd", dict(method="gd")),
    ("diag", dict(method="diag")),
    ("ngd (empirical Fisher)", dict(method="ngd", fisher="empirical")),
    ("ngd (true Fisher)", dict(method="ngd", fisher="true")),
    ("ngd (KL trust region)", dict(method="ngd", step="kl", max_kl=0.01)),
    ("newton", dict(method="newton")),
]


def make_problem(model, n, d, seed, n_classes=3):
    """Data drawn from ``model`` with strongly correlated features of unequal scales: the
    Fisher's condition number is large, which is where plain gradient descent crawls."""
    rng = np.random.default_rng(seed)
    rho = 0.9  # AR(1) correlation between neighbouring features
    Z = rng.standard_normal((n, d))
    X = np.empty_like(Z)
    X[:, 0] = Z[:, 0]
    for j in range(1, d):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * Z[:, j]
    X *= np.geomspace(0.3, 3.0, d)  # unequal scales
    if model == "multinomial":
        coef = rng.normal(scale=1.0 / np.sqrt(d), size=(d, n_classes))
        eta = X @ coef
        prob = np.exp(eta - eta.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        y = (rng.random((n, 1)) > prob.cumsum(axis=1)).sum(axis=1).astype(float)
        return X, np.minimum(y, n_classes - 1)
    eta = X @ rng.normal(scale=1.0 / np.sqrt(d), size=d) + 0.2
    if model == "logistic":
        return X, (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    if model == "probit":
        return X, (rng.standard_normal(n) < eta).astype(float)
    if model == "poisson":
        return X, rng.poisson(np.exp(0.5 * eta)).astype(float)
    return X, eta + rng.standard_normal(n)


def run(model="logistic", n=20000, d=20, seed=0, out=".", max_iter=1000, verbose=False):
    """Fit every method, print a table, write the convergence plot; return the results."""
    X, y = make_problem(model, n, d, seed)
    print(f"ngdx demo: {model} regression, n={n}, d={d}, correlated features "
          f"(seed {seed}, max_iter {max_iter})\n")
    methods = METHODS + ([("kfac", dict(method="kfac"))] if model == "multinomial" else [])
    results, labels = _table(methods, lambda kwargs: fit(X, y, model=model, max_iter=max_iter,
                                                         verbose=verbose, **kwargs))
    path = _plot(results, labels, out, f"ngdx-demo-{model}.png",
                 f"ngdx demo: {model} regression with correlated features")
    seeds_toy(seed)
    return results, path


#: (label, keyword arguments of ngdx.nn.fit) of every method the network demo compares.
MLP_METHODS = [
    ("kfac", dict(method="kfac")),
    # The dense exact Fisher, factored by Cholesky: p = 451 is small (what "auto" picks
    # once the compiled pass makes the (p, p) Gram cheap).
    ("ngd (exact Fisher)", dict(method="ngd", linear_solver="cholesky")),
    ("adam", dict(method="adam", lr=1e-2)),
    ("gd", dict(method="gd")),
]


def make_mlp_problem(n, d, seed, hidden=32, n_classes=3):
    """A teacher network's classes: X standard normal; a random tanh network of the
    student's architecture (d, hidden, n_classes) whose logits, scaled to standard
    deviation 3, give the probabilities the labels are drawn from."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W1, b1 = rng.normal(scale=1 / np.sqrt(d), size=(d, hidden)), rng.normal(size=hidden)
    eta = np.tanh(X @ W1 + b1) @ rng.normal(size=(hidden, n_classes))
    eta *= 3.0 / eta.std()
    prob = np.exp(eta - eta.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    y = (rng.random((n, 1)) > prob.cumsum(axis=1)).sum(axis=1)
    return X, np.minimum(y, n_classes - 1).astype(float)


def run_mlp(n=1000, d=10, seed=0, out=".", max_iter=100, verbose=False, hidden=32,
            n_classes=3, l2=1e-4):
    """Train one network (d, hidden, n_classes), tanh, with K-FAC, the exact Fisher, Adam
    and gradient descent; print a table, plot the training loss; return the results.

    A synthetic teacher-student problem rather than scikit-learn's digits: it needs no
    scikit-learn, and it runs in seconds while ngdx.nn computes its passes with the NumPy
    reference (the exact Fisher of a 64-64-10 network on the digits takes minutes there)."""
    from . import nn

    X, y = make_mlp_problem(n, d, seed, hidden, n_classes)
    net = nn.MLP((d, hidden, n_classes), activation="tanh", output="multinomial")
    print(f"ngdx demo: a {net.layer_sizes} tanh network (multinomial output) trained on a "
          f"teacher network's labels, n={n}, l2={l2:g} (seed {seed}, max_iter {max_iter})\n")
    results, labels = _table(MLP_METHODS, lambda kwargs: nn.fit(
        net, X, y, l2=l2, max_iter=max_iter, tol=1e-6, seed=seed, verbose=verbose, **kwargs),
        passes=True)
    path = _plot(results, labels, out, "ngdx-demo-mlp.png",
                 f"ngdx demo: a {net.layer_sizes} tanh network", suboptimality=False)
    return results, path


def _table(methods, fit_one, passes=False):
    """Fit every (label, kwargs) of methods by fit_one(kwargs), printing one table row
    each (with the passes over the data when ``passes``); (results, labels)."""
    header = f"{'method':<24} {'iters':>6} {'time (s)':>9} {'final objective':>20} " \
             f"{'max|grad|':>10} {'converged':>9}" + (f" {'passes':>7}" if passes else "")
    print(header)
    print("-" * len(header))
    results, labels = [], []
    for label, kwargs in methods:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", convergence_warning())  # reported in the table
            res = fit_one(kwargs)
        elapsed = time.perf_counter() - start
        results.append(res)
        labels.append(label)
        print(f"{label:<24} {res.n_iter:>6} {elapsed:>9.3f} {res.history['objective'][-1]:>20.14f} "
              f"{res.history['grad_norm'][-1]:>10.2e} {str(res.converged):>9}"
              + (f" {res.n_passes:>7}" if passes else ""))
    return results, labels


def _plot(results, labels, out, filename, title, suboptimality=True):
    plt = _pyplot_or_none()
    if plt is None:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    what = "objective - best" if suboptimality else "training loss"
    for ax, x in zip(axes, ("iteration", "time")):
        convergence(results, labels, x=x, ax=ax, suboptimality=suboptimality)
        if not suboptimality:
            ax.set_yscale("log")
        ax.set_title(f"{what}, by {'iteration' if x == 'iteration' else 'wall time'}")
    return _save_figure(plt, fig, title, out, filename, "convergence plot")


def _pyplot_or_none():
    """matplotlib.pyplot on the Agg backend, or None (saying why) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # the demo writes a file: no window, works without a display
        from .plot import _pyplot

        return _pyplot()
    except ImportError as exc:
        print(f"\nno plot: {exc}")
        return None


def _save_figure(plt, fig, title, out, filename, what):
    """Titles, lays out, writes and closes ``fig`` as out/filename; its absolute path."""
    fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(out, exist_ok=True)
    path = os.path.abspath(os.path.join(out, filename))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"\n{what} written to {path}")
    return path


def seeds_toy(seed=0):
    """The seeds' toy problem, done right: it has no unpenalized optimum."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(200, 2))
    y = (X[:, 0] + X[:, 1] > 1).astype(float)
    print("\nThe seeds' toy problem: X uniform on [0, 1]^2, y = [x1 + x2 > 1].")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        res = fit(X, y, method="ngd", max_iter=200)
    print(f"  l2 = 0:    stopped after {res.n_iter} iterations, converged={res.converged}; "
          f"|coef| = {np.linalg.norm(res.coef):.1f}\n    {res.message}")
    print("  The classes are separated by the line x1 + x2 = 1, so scaling any separating "
          "coefficient\n  vector up always lowers the loss: the maximum-likelihood estimate "
          "is at infinity.")
    res = fit(X, y, method="ngd", l2=1e-3)
    print(f"  l2 = 1e-3: converged={res.converged} in {res.n_iter} iterations, "
          f"coef = {np.round(res.coef, 2)}, intercept = {res.intercept:.2f}\n"
          "  The penalty 1/2 l2 |coef|^2 makes the objective strictly convex with a finite "
          "minimizer,\n  which points along (1, 1): the direction of the true boundary.")

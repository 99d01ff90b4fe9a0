"""The functional API: loss, gradient, scores, curvature and KL of a GLM at a point.

Conventions shared by every function here (see the glossary in ``ngdx``):

* ``X`` is the design matrix (n, d), taken as given: no intercept column is added.
* ``theta`` is (d,), or (d, K) for ``"multinomial"``; p = theta.size and every (p,) or
  (p, p) result indexes parameters in ``theta.ravel()`` (row-major) order.
* The loss is the *mean* negative log-likelihood over rows, all constants included:
  L(theta) = (1/n) sum_i -log p(y_i | x_i, theta).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import _core
from ._models import FISHER_KINDS, get_family
from ._config import resolve_threads
from ._data import rows_of
from ._data.dask import is_dask, mean_kl
from ._typing import CurvatureKind, FisherKind, Model
from ._validation import (as_problem, as_rows_design, as_theta, check_bool, check_choice,
                          check_model, check_positive_int, mc_samples_alias, resolve_seed)

#: The ``kind`` of [`ngdx.value_grad_curvature`][ngdx.value_grad_curvature]: every curvature
#: of the fused pass.
CURVATURE_KINDS = ("true", "empirical", "mc", "hessian", None)


def _kernel(name, X):
    """The core's kernel ``name`` for X and X's leading arguments: (X,) for a dense X, the
    CSR arrays and the column count for a sparse one (``_core.glm.<name>_csr``)."""
    from ._data.csr import _parts, is_sparse

    if is_sparse(X):
        data, indices, indptr, (_, d) = _parts(X)
        return getattr(_core.glm, name + "_csr"), (data, indices, indptr, d)
    return getattr(_core.glm, name), (X,)


def fused(X, y, theta, model="logistic", kind="none", *, diagonal=False, n_mc_samples=1,
          seed=0, n_threads=None, fit_intercept=False, sample_weight=None):
    """One pass of the core over checked inputs (private): X C-contiguous float64 or
    float32 (read as it is), the others C-contiguous float64.

    ``theta`` is the flat parameter vector (p,), p = (d + fit_intercept) * K; returns
    ``(loss, grad (p,), curvature)`` with curvature ``None``, (p,) or (p, p).
    """
    family = get_family(model)
    K = theta.size // (X.shape[1] + bool(fit_intercept)) if family.multi_output else 1
    p = theta.size
    grad = np.empty(p)
    curvature = None
    if kind != "none":
        curvature = np.empty(p) if diagonal else np.empty((p, p))
    if any(is_dask(a) for a in (X, y, sample_weight)):  # the pass runs chunk by chunk
        rows = rows_of(X, y, sample_weight, family, coef_init=None, n_classes=K,
                       fit_intercept=fit_intercept, n_threads=resolve_threads(n_threads))[0]
        loss, _ = rows.fused_pass(model, theta, K, kind, diagonal=bool(diagonal),
                                  n_mc_samples=int(n_mc_samples), seed=int(seed),
                                  grad_out=grad, curvature_out=curvature)
        check_in_range("the loss, gradient or curvature", model, ("theta",), loss, grad,
                       curvature)
        return loss, grad, curvature
    kernel, X_args = _kernel("fused_pass", X)
    loss, _ = kernel(model, *X_args, y, theta, K, bool(fit_intercept), sample_weight, kind,
                     bool(diagonal), int(n_mc_samples), int(seed), resolve_threads(n_threads),
                     grad, curvature)
    check_in_range("the loss, gradient or curvature", model, ("theta",), loss, grad, curvature)
    return loss, grad, curvature


def check_in_range(what, model, params, *values, with_y=True):
    """Raise ``ValueError`` when one of ``values`` (numbers, arrays or None) is not finite:
    ``what`` overflows float64 for ``model`` at this X (and y) and the parameter vectors
    named ``params``, whose linear predictors are then beyond the model's range."""
    if all(v is None or np.isfinite(v).all() for v in values):
        return
    names = ["X"] + (["y"] if with_y else []) + list(params)
    predictors = " or ".join(f"X @ {name}" for name in params) + (" (or y)" if with_y else "")
    raise ValueError(
        f"{what} of model {model!r} overflows float64 at this {', '.join(names[:-1])} and "
        f"{names[-1]}: the linear predictor {predictors} is beyond the model's range; use a "
        f"smaller {' and '.join(params)}, or rescale X{' or y' if with_y else ''}")


def loss(X: ArrayLike, y: ArrayLike, theta: ArrayLike, model: Model = "logistic", *,
         n_threads: int | None = None) -> float:
    r"""Mean negative log-likelihood of a GLM.

    $$
    L(\theta) = \frac{1}{n} \sum_{i=1}^n -\log p(y_i \mid x_i, \theta)
    $$

    with every constant included: $\log y!$ for ``"poisson"`` and
    $\tfrac12 \log 2\pi$ for ``"gaussian"`` (unit variance).

    Parameters
    ----------
    X : array_like, shape (n, d)
        Design matrix, used as given (no intercept column is added).
    y : array_like, shape (n,)
        Labels: 0/1 for ``"logistic"`` and ``"probit"``, counts >= 0 for ``"poisson"``,
        reals for ``"gaussian"``, integers 0..K-1 for ``"multinomial"``.
    theta : array_like, shape (d,) or (d, K)
        Parameters; (d, K) for ``"multinomial"`` with K >= 2 classes.
    model : {"logistic", "probit", "poisson", "gaussian", "multinomial"}
    n_threads : int, optional
        Threads for this call (default: [`ngdx.get_num_threads`][ngdx.get_num_threads]).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        On non-finite values, mismatched shapes, an empty X, labels outside the model's
        domain or an unknown model.

    Examples
    --------
    >>> import numpy as np, ngdx
    >>> X = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> round(ngdx.loss(X, [0, 1], np.zeros(2)), 6)  # log 2
    0.693147
    """
    model, X, y, theta, _ = as_problem(X, y, theta, model)
    return fused(X, y, theta.ravel(), model, n_threads=n_threads)[0]


def grad(X: ArrayLike, y: ArrayLike, theta: ArrayLike, model: Model = "logistic", *,
         n_threads: int | None = None) -> np.ndarray:
    r"""Gradient of the mean negative log-likelihood, $\nabla_\theta L(\theta)$.

    Equal to ``-scores(X, y, theta, model).mean(axis=0)``, reshaped like theta.
    Parameters as in [`ngdx.loss`][ngdx.loss].

    Returns
    -------
    ndarray, same shape as theta

    Examples
    --------
    >>> import numpy as np, ngdx
    >>> X = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> ngdx.grad(X, [0, 1], np.zeros(2))
    array([ 0.  , -0.25])
    """
    model, X, y, theta, _ = as_problem(X, y, theta, model)
    return fused(X, y, theta.ravel(), model, n_threads=n_threads)[1].reshape(theta.shape)


def value_grad_curvature(X: ArrayLike, y: ArrayLike, theta: ArrayLike, model: Model = "logistic",
                         kind: CurvatureKind | None = "true", *, diagonal: bool = False,
                         n_mc_samples: int = 1, seed: int | None = None,
                         n_threads: int | None = None
                         ) -> tuple[float, np.ndarray, np.ndarray | None]:
    r"""Loss, gradient and curvature at theta in one pass over X: the fused kernel.

    Returns what [`ngdx.loss`][ngdx.loss], [`ngdx.grad`][ngdx.grad] and
    [`ngdx.fisher`][ngdx.fisher] (or [`ngdx.hessian`][ngdx.hessian]) return at the same
    point, from one threaded sweep over the rows instead of two or three: for writing your
    own optimizer loop.

    Parameters
    ----------
    X, y, theta, model, n_threads
        As in [`ngdx.loss`][ngdx.loss] (y is required: the loss reads it).
    kind : {"true", "empirical", "mc", "hessian", None}
        The curvature: the expected Fisher, the empirical Fisher, the Monte Carlo Fisher
        (``n_mc_samples`` labels per row from ``seed``), the Hessian of the mean NLL, or
        None for none (loss and gradient only).
    diagonal : bool
        Return only the curvature's diagonal (p,), computed without the (p, p) matrix.
    n_mc_samples : int
        Monte Carlo labels drawn per row for ``"mc"``.
    seed : int, optional
        Seed for ``"mc"`` (fresh entropy when None).

    Returns
    -------
    loss : float
        The mean negative log-likelihood, as [`ngdx.loss`][ngdx.loss].
    grad : ndarray, same shape as theta
        Its gradient, as [`ngdx.grad`][ngdx.grad].
    curvature : ndarray of shape (p, p) or (p,), or None
        As [`ngdx.fisher`][ngdx.fisher] (``kind="true"``, ``"empirical"``, ``"mc"``) or
        [`ngdx.hessian`][ngdx.hessian] (``kind="hessian"``); None when ``kind`` is None.

    Examples
    --------
    >>> import numpy as np, ngdx
    >>> X = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> value, g, F = ngdx.value_grad_curvature(X, [0, 1], np.zeros(2))
    >>> round(value, 6), g, F
    (0.693147, array([ 0.  , -0.25]), array([[0.25 , 0.125],
           [0.125, 0.125]]))
    """
    if kind is not None and (not isinstance(kind, str) or kind not in CURVATURE_KINDS):
        raise ValueError(f"unknown kind {kind!r}; valid: 'true', 'empirical', 'mc', 'hessian' "
                         "or None")
    model, X, y, theta, _ = as_problem(X, y, theta, model)
    diagonal = check_bool(diagonal, "diagonal")
    n_mc_samples = check_positive_int(n_mc_samples, "n_mc_samples")
    seed = resolve_seed(seed) if kind == "mc" or seed is not None else 0
    pass_kind = "none" if kind is None else kind
    value, g, curvature = fused(X, y, theta.ravel(), model, pass_kind, diagonal=bool(diagonal),
                                n_mc_samples=n_mc_samples, seed=seed, n_threads=n_threads)
    return value, g.reshape(theta.shape), curvature


def scores(X: ArrayLike, y: ArrayLike, theta: ArrayLike, model: Model = "logistic", *,
           n_threads: int | None = None) -> np.ndarray:
    r"""Per-sample scores $s_i = \nabla_\theta \log p(y_i \mid x_i, \theta)$.

    For a row with linear predictor $\eta_i$ the score is
    $-x_i \otimes r_i$ with $r_i = \partial(-\log p)/\partial\eta_i$, so
    ``grad == -scores.mean(axis=0)``. Parameters as in [`ngdx.loss`][ngdx.loss].

    Returns
    -------
    ndarray, shape (n, p)
        Row i is the score of row i in ``theta.ravel()`` order.

    Examples
    --------
    >>> import numpy as np, ngdx
    >>> ngdx.scores(np.eye(2), [0, 1], np.zeros(2))
    array([[-0.5, -0. ],
           [ 0. ,  0.5]])
    """
    model, X, y, theta, n_classes = as_problem(X, y, theta, model, dask=False)
    out = np.empty((X.shape[0], theta.size))
    kernel, X_args = _kernel("scores", X)
    kernel(model, *X_args, y, theta.ravel(), n_classes, False, resolve_threads(n_threads), out)
    check_in_range("the score matrix", model, ("theta",), out)
    return out


def fisher(X: ArrayLike, y: ArrayLike | None, theta: ArrayLike, model: Model = "logistic",
           kind: FisherKind = "true", *, diagonal: bool = False, n_mc_samples: int = 1,
           seed: int | None = None, n_threads: int | None = None,
           n_samples: int | None = None) -> np.ndarray:
    r"""Fisher information of the mean log-likelihood, in one of three flavours.

    * ``"true"``: the expected Fisher
      $F = \frac1n \sum_i \mathbb{E}_{y \sim p(\cdot|x_i,\theta)}[s_i s_i^\top]$,
      which equals minus the expected Hessian of the log-likelihood; y is not used.
    * ``"empirical"``: the mean outer product of the scores at the observed labels,
      $\frac1n \sum_i s_i s_i^\top$ (needs y).
    * ``"mc"``: the Monte Carlo Fisher, the empirical Fisher at ``n_mc_samples`` labels
      per row drawn from the model; reproducible for a ``seed`` whatever the thread count.

    For ``"multinomial"`` the matrix is $\frac1n\sum_i x_i x_i^\top \otimes W_i$ with
    $W_i = \mathrm{diag}(\mu_i) - \mu_i\mu_i^\top$ (true Fisher).

    Parameters
    ----------
    X, theta, model, n_threads
        As in [`ngdx.loss`][ngdx.loss].
    y : array_like, shape (n,), or None
        Labels; may be None for ``"true"`` and ``"mc"``.
    kind : {"true", "empirical", "mc"}
    diagonal : bool
        Return only the diagonal (p,), computed without the (p, p) matrix.
    n_mc_samples : int
        Monte Carlo labels drawn per row for ``"mc"``.
    seed : int, optional
        Seed for ``"mc"`` (fresh entropy when None).
    n_samples : int, optional
        Deprecated alias of ``n_mc_samples``.

    Returns
    -------
    ndarray, shape (p, p), or (p,) when ``diagonal``

    Examples
    --------
    >>> import numpy as np, ngdx
    >>> ngdx.fisher(np.eye(2), None, np.zeros(2))
    array([[0.125, 0.   ],
           [0.   , 0.125]])
    """
    kind = check_choice(kind, "kind", FISHER_KINDS)
    model, X, y, theta, n_classes = as_problem(X, y, theta, model, y_required=kind == "empirical")
    n_mc_samples = check_positive_int(mc_samples_alias(n_mc_samples, n_samples), "n_mc_samples")
    seed = resolve_seed(seed) if kind == "mc" or seed is not None else 0
    if y is None:  # true and mc Fishers do not read the labels
        y = np.zeros(X.shape[0]) if not is_dask(X) else X[:, 0] * 0.0
    diagonal = check_bool(diagonal, "diagonal")
    return fused(X, y, theta.ravel(), model, kind, diagonal=diagonal, n_mc_samples=n_mc_samples,
                 seed=seed, n_threads=n_threads)[2]


def hessian(X: ArrayLike, y: ArrayLike, theta: ArrayLike, model: Model = "logistic", *,
            n_threads: int | None = None) -> np.ndarray:
    r"""Hessian of the mean negative log-likelihood, $\nabla^2_\theta L(\theta)$.

    Equals the true Fisher for the canonical links (logistic, poisson, gaussian,
    multinomial); differs from it for probit, where it depends on y and only its
    expectation over y is the Fisher. Parameters as in [`ngdx.loss`][ngdx.loss].

    Returns
    -------
    ndarray, shape (p, p)

    Examples
    --------
    >>> import numpy as np, ngdx
    >>> ngdx.hessian(np.eye(2), [0, 1], np.zeros(2), model="gaussian")
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    model, X, y, theta, _ = as_problem(X, y, theta, model)
    return fused(X, y, theta.ravel(), model, "hessian", n_threads=n_threads)[2]


def kl(X: ArrayLike, theta_p: ArrayLike, theta_q: ArrayLike, model: Model = "logistic", *,
       n_threads: int | None = None) -> float:
    r"""Mean KL divergence between the predictive distributions of two parameter vectors.

    $$
    \frac1n \sum_i \mathrm{KL}\big(p(\cdot \mid x_i, \theta_p)\,\|\,
    p(\cdot \mid x_i, \theta_q)\big)
    $$

    For small steps $\mathrm{KL}(\theta, \theta + \delta) \approx \tfrac12
    \delta^\top F \delta$ with F the true Fisher.

    Parameters
    ----------
    X : array_like, shape (n, d)
    theta_p, theta_q : array_like, shape (d,) or (d, K)
    model, n_threads
        As in [`ngdx.loss`][ngdx.loss].

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np, ngdx
    >>> ngdx.kl(np.eye(2), np.zeros(2), np.ones(2), model="gaussian")
    0.5
    """
    model = check_model(model)
    if is_dask(X):
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D, got shape {X.shape}")
    else:
        X, _ = as_rows_design(X)
    theta_p, n_classes = as_theta(theta_p, model, X.shape[1], "theta_p")
    theta_q, _ = as_theta(theta_q, model, X.shape[1], "theta_q")
    if is_dask(X):
        return mean_kl(X, model, theta_p.ravel(), theta_q.ravel(), n_classes)
    if theta_p.shape != theta_q.shape:
        raise ValueError(f"theta_p and theta_q differ in shape: {theta_p.shape} vs {theta_q.shape}")
    kernel, X_args = _kernel("mean_kl", X)
    value = kernel(model, *X_args, theta_p.ravel(), theta_q.ravel(), n_classes, False, None,
                   resolve_threads(n_threads))
    check_in_range("the KL divergence", model, ("theta_p", "theta_q"), value, with_y=False)
    return value

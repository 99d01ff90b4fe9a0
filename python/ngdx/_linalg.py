"""Curvature from a caller's own scores, and the damped natural-gradient solve."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import _core
from ._config import resolve_threads
from ._validation import as_float_array, check_bool, check_finite, check_nonnegative


def fisher_from_scores(S: ArrayLike, *, diagonal: bool = False,
                       n_threads: int | None = None) -> np.ndarray:
    r"""Empirical Fisher $S^\top S / n$ of a score matrix, for models ngdx does not know.

    Row i of S is the score $\nabla_\theta \log p(y_i \mid x_i, \theta)$ of one
    sample; the result is the mean of their outer products, accumulated block by block
    with threaded symmetric rank-k updates (S is read once; nothing n x p is allocated).

    Parameters
    ----------
    S : array_like, shape (n, p)
        Per-sample scores, n >= 1.
    diagonal : bool
        Return only the diagonal, ``(S ** 2).mean(axis=0)``.
    n_threads : int, optional
        Threads for this call (default: [`ngdx.get_num_threads`][ngdx.get_num_threads]).

    Returns
    -------
    ndarray, shape (p, p), or (p,) when ``diagonal``

    Examples
    --------
    >>> import numpy as np, ngdx
    >>> ngdx.fisher_from_scores(np.array([[1.0, 2.0], [3.0, 0.0]]))
    array([[5., 1.],
           [1., 2.]])
    """
    S = as_float_array(S, "S", 2)
    check_finite(S, "S", squares=True)
    if S.shape[0] == 0 or S.shape[1] == 0:
        raise ValueError(f"S must have at least one row and one column, got shape {S.shape}")
    p = S.shape[1]
    diagonal = check_bool(diagonal, "diagonal")
    out = np.empty(p) if diagonal else np.empty((p, p))
    _core.linalg.fisher_from_scores(S, diagonal, resolve_threads(n_threads), out)
    return out


def natural_gradient(F: ArrayLike, g: ArrayLike, damping: float = 0.0) -> np.ndarray:
    r"""Solve $(F + \lambda I)\,x = g$ by Cholesky: the damped natural gradient.

    Parameters
    ----------
    F : array_like, shape (p, p)
        A symmetric curvature matrix (Fisher, Hessian, ...).
    g : array_like, shape (p,)
        The gradient.
    damping : float
        $\lambda \ge 0$, added to the diagonal; keeps a singular F invertible.

    Returns
    -------
    ndarray, shape (p,)

    Raises
    ------
    numpy.linalg.LinAlgError
        When $F + \lambda I$ is not numerically positive definite (a Cholesky
        pivot $L_{jj}^2 \le p\,\epsilon \max_j (F + \lambda I)_{jj}$).
    ValueError
        On shapes that do not match, non-finite values, an asymmetric F or a negative
        damping, and when the solution overflows (F + damping I nearly singular
        relative to g).

    Examples
    --------
    >>> import numpy as np, ngdx
    >>> ngdx.natural_gradient(np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([1.0, 1.0]))
    array([0.5 , 0.25])
    """
    F = as_float_array(F, "F", 2)
    g = as_float_array(g, "g", 1)
    damping = check_nonnegative(damping, "damping")
    p = F.shape[0]
    if F.shape != (p, p) or p == 0:
        raise ValueError(f"F must be a non-empty square matrix, got shape {F.shape}")
    if g.shape != (p,):
        raise ValueError(f"g must have shape ({p},) to match F, got {g.shape}")
    scale = np.abs(F).max()
    if np.abs(F - F.T).max() > 1e-10 * scale:
        raise ValueError("F must be symmetric (only its lower triangle would be read)")
    x = np.empty(p)
    if not _core.linalg.damped_cholesky_solve(F, g, damping, x):
        raise np.linalg.LinAlgError(
            f"F + damping*I is not positive definite (damping={damping}); "
            "increase damping"
        )
    if not np.isfinite(x).all():  # e.g. F = [[5e-324]]: positive definite, x = g / F overflows
        raise ValueError(
            "the solution of (F + damping*I) x = g overflows: F + damping*I is numerically "
            f"singular relative to g (damping={damping}); increase damping or rescale F and g")
    return x

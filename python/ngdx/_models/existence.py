"""Whether a count model's likelihood has a finite maximizer.

A log-link count model (Poisson) without a penalty has no finite optimum exactly when some
direction v of theta leaves every row with y > 0 unchanged (x~_i^T v = 0) and lowers the
linear predictor of rows with y = 0 (x~_i^T v <= 0, some < 0): along v their mean goes to 0,
their likelihood to its supremum, and the fit's coefficients to infinity while the gradient
vanishes, so a gradient tolerance "converges" at an arbitrary point of the path (Santos Silva
and Tenreyro, 2010, "On the existence of the maximum likelihood estimates in Poisson
regression"). The classifiers' counterpart is separated classes (``GLMObjective.separated``).

The check here is exact up to rank tolerances. v must lie in the null space N of the rows
with y > 0; in that space, Z = X~_0 N (the rows with y = 0), a certificate is a nonzero
u = Z g >= 0 (then v = -N g). Alternating projections between range(Z) and the nonnegative
orthant, started from u = 1, converge to a point of their intersection, which is {0} exactly
when no certificate exists: for any certificate c, ||u_k - t c|| <= ||1 - t c|| for every
t > 0, which a sequence tending to 0 would violate for large t. (This is the rectifier
method of Correia, Guimaraes and Zylkin, 2021, "Verifying the existence of maximum
likelihood estimates for generalized linear models", without its large weights: the
constraint on the rows with y > 0 is imposed exactly through N.)
"""

from __future__ import annotations

import math

import numpy as np

from .. import _core

#: A row with y = 0 whose mean is below e^-SYMPTOM times the mean count (~1.5e-8) is the
#: symptom that triggers the check: a finite optimum rarely fits a row that closely, the
#: path to an infinite one always does. The check costs a pass and a few p x p matrices.
SYMPTOM = 18.0
#: Eigenvalues of a standardized Gram below RANK_TOL times its largest are null directions.
RANK_TOL = 1e-10
#: The largest n x r matrix of reduced rows the check forms (float64 entries, 256 MB).
MAX_ENTRIES = 1 << 25
MAX_PROJECTIONS = 1000
#: Larger problems are not checked (two p x p eigendecompositions: ~10 s at p = 4096).
MAX_PARAMS = 4096
#: Entries of a reduced row below ZERO_TOL times its column's largest are rounding zeros.
ZERO_TOL = 1e-9


def zero_count_separation(objective, theta, symptom=True):
    """The rows with y = 0 that a direction of theta fits with mean -> 0 while every row with
    y > 0 keeps its fit, as a boolean mask (n,), or None when there is no such direction
    (the optimum is finite) or, with ``symptom``, the iterate shows no sign of one, or the
    rows are not in memory (a Dask array: not checked). One-output
    models without a penalty; rows of zero weight are not part of the problem."""
    rows = objective.rows
    if not rows.in_memory:
        return None  # undecided: the check's projections hold rows on the client
    y, s = rows.y, rows.sample_weight
    w = np.ones(rows.n_rows) if s is None else s
    zero = (y == 0) & (w > 0)
    positive = (y > 0) & (w > 0)
    if not zero.any():
        return None
    if not positive.any():  # every count is zero: the intercept alone goes to -inf
        return zero
    w = w / w.max()  # weights up to 1e308: their sum and Grams must not overflow
    if symptom:
        eta = objective.linear_predictor(theta)[:, 0]
        mean_count = max(_core.linalg.dot(w[positive], y[positive]) / float(w.sum()),
                         np.finfo(float).tiny)
        if not (eta[zero] < math.log(mean_count) - SYMPTOM).any():
            return None
    # Whether a certificate exists depends on which rows count, not on their weights:
    # the Grams and projections below weigh every row of positive weight 1.
    w = (w > 0).astype(float)
    if objective.p > MAX_PARAMS:
        return None  # undecided: p x p eigendecompositions would cost more than the fit
    inv_scale = 1.0 / objective.param_scale()  # standardized coordinates: scale-free ranks
    null = _null_space(rows.gram(np.where(positive, w, 0.0)), inv_scale)
    if null.shape[1] == 0:
        return None
    # A basis of range(X~_0 N), without the directions in which X is flat altogether.
    G0 = _standardized(rows.gram(np.where(zero, w, 0.0)), inv_scale)
    lam, Q = np.linalg.eigh(null.T @ G0 @ null)
    keep = lam > RANK_TOL * max(float(np.trace(G0)), np.finfo(float).tiny)
    if not keep.any():
        return None
    directions = inv_scale[:, None] * (null @ Q[:, keep])  # theta space
    if rows.n_rows * directions.shape[1] > MAX_ENTRIES:
        return None  # inconclusive: too many null directions to hold their rows
    Z = _rows_times(objective, directions)[zero]
    # Entries at rounding level of their column are zeros (X~_0 times a null direction).
    Z[np.abs(Z) <= ZERO_TOL * np.abs(Z).max(axis=0)] = 0.0
    reference = float(np.einsum("i,ij,ij->", w[zero], Z, Z)) / float(w[zero].sum())
    # Every separated row: a certificate's rows are fitted at 0, the rest is the same
    # question (a certificate of the rest plus a large multiple of this one is one of the
    # whole), until no certificate is left. The union is the largest set, which one run
    # of projections does not always reach.
    remaining = np.arange(Z.shape[0])
    separated = np.zeros(Z.shape[0], dtype=bool)
    while remaining.size:
        found = _certificate(Z[remaining], w[zero][remaining] / w[zero].sum(), reference)
        if found is None:
            break
        separated[remaining[found]] = True
        remaining = remaining[~found]
    if not separated.any():
        return None
    mask = np.zeros(rows.n_rows, dtype=bool)
    mask[np.flatnonzero(zero)[separated]] = True
    return mask


def _certificate(Z, w, reference):
    """The support (a mask over Z's rows) of a nonzero u = Z g >= 0, or None when there is
    none (or none was found within MAX_PROJECTIONS): alternating projections from u = 1
    between range(Z), in the w-weighted inner product, and the nonnegative orthant.
    ``reference``: the trace of the whole problem's Gram, the scale of the rank test."""
    lam, V = np.linalg.eigh(Z.T @ (w[:, None] * Z))
    keep = lam > RANK_TOL * max(reference, np.finfo(float).tiny)
    if not keep.any():
        return None
    basis = Z @ (V[:, keep] / np.sqrt(lam[keep]))  # orthonormal columns
    u = np.ones(Z.shape[0])
    for _ in range(MAX_PROJECTIONS):
        u_hat = basis @ (basis.T @ (w * u))
        top = float(u_hat.max())
        if not top > 1e-7:  # the projections tend to 0: no certificate
            return None
        if u_hat.min() >= -1e-7 * top:  # a certificate: u_hat >= 0 in range(Z)
            return u_hat > 1e-6 * top
        u = np.maximum(u_hat, 0.0)
    return None  # undecided within the budget: say nothing


def _standardized(G, inv_scale):
    return G * inv_scale[:, None] * inv_scale[None, :]


def _null_space(G, inv_scale):
    """Columns spanning the null space of the standardized Gram G (p x r)."""
    lam, V = np.linalg.eigh(_standardized(G, inv_scale))
    return V[:, lam <= RANK_TOL * max(float(lam.max()), np.finfo(float).tiny)]


def _rows_times(objective, B):
    """X~ B (n, r): X times B's coef rows plus its intercept row."""
    d = objective.d
    out = objective.rows.matmul(np.ascontiguousarray(B[:d]))
    if objective.fit_intercept:
        out += B[d]
    return out

"""Rows in a Dask array: the row source whose passes run on the workers, chunk by chunk.

X is chunked by rows (one chunk across the columns), y and the sample weights follow its
row chunks. Every pass maps the core's kernel over the chunks where they live (the core
releases the GIL, so the threaded scheduler runs them in parallel too; on a cluster one
task per worker thread takes the chunks its worker holds: ``dask_tasks.py``) and adds
the partial sums (loss, gradient, p x p curvature) per chunk, in chunk order: on the
client when they are small together, else in a binary tree on the workers. The traffic
is O(chunks x p^2) whatever n, and the result is the same for a given chunking whichever
worker ran what.
The solver loop on the client is the in-memory one: it only sees this object's methods
(see ``ndarray.py``).

Where the rows stay is decided by the door (``dask_door.py``): an X already persisted in
the core's dtype is read in place (and checked by the first pass that reads it: the
fused pass sums its squares as it goes); else, when X, y and the weights fit in half the
memory of the workers (of this machine for the local schedulers), they are persisted
once, checked and converted there; otherwise every pass streams them from their source
(a Zarr store, files), chunk by chunk, so that memory is bounded by the chunk size times
the tasks running at once.

Checks run where the data are, with the in-memory messages: a non-finite X or y, labels
outside the model's domain or negative weights raise the same ``ValueError`` from the
worker (indices are global row numbers). Dask is an optional dependency (``ngdx[dask]``),
imported when a Dask array is passed.
"""

from __future__ import annotations

import sys

import numpy as np

from .. import _core
from .._validation import DESIGN_DTYPES, check_finite, check_real_dtype
from .base import RowSource, scores_by_group
from .dask_tasks import _dask, chunk_results

#: The partial sums of a pass are added on the client when together they take at most
#: this many bytes, else in a tree on the workers.
GATHER_BYTES = 2**24


def is_dask(a) -> bool:
    """Whether ``a`` is a Dask array (without importing Dask when it is not loaded)."""
    mod = sys.modules.get("dask.array")
    return mod is not None and isinstance(a, mod.Array)


# ---------------------------------------------------------------- per-chunk work (workers)
def _check_design_chunk(X, row0):
    """A chunk of X as the core reads it (C-contiguous float64 or float32), checked finite
    with the in-memory message, its index global."""
    check_real_dtype(X.dtype, "X")
    if X.dtype not in DESIGN_DTYPES:
        X = np.ascontiguousarray(X, dtype=np.float64)
    else:
        X = np.require(X, requirements=["C_CONTIGUOUS", "ALIGNED"])
    try:
        check_finite(X, "X", squares=True)
    except ValueError as e:
        bad = np.argwhere(~np.isfinite(X))
        if bad.size:
            i, j = (int(v) for v in bad[0])
            raise ValueError(f"X must be finite; found {X[i, j]} at index ({row0 + i}, {j}) "
                             f"(in the Dask chunk of rows {row0}..{row0 + X.shape[0] - 1})"
                             ) from None
        raise e from None
    return X


def _as_core(a):
    """A chunk of y or the weights as the core reads it (a no-op when it already is)."""
    return None if a is None else np.require(a, dtype=np.float64,
                                              requirements=["C_CONTIGUOUS", "ALIGNED"])


def _core_X(X):
    """A chunk of X (float64 or float32) in the layout the core reads (a no-op when it
    already is: an X read in place may be a strided view)."""
    return np.require(X, requirements=["C_CONTIGUOUS", "ALIGNED"])


def _check_vector_chunk(a, row0, name):
    check_real_dtype(a.dtype, name)
    a = np.require(a, dtype=np.float64, requirements=["C_CONTIGUOUS", "ALIGNED"])
    bad = ~np.isfinite(a)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must be finite; found {a[i]} at index {row0 + i} "
                         f"({int(bad.sum())} non-finite values in the Dask chunk of rows "
                         f"{row0}..{row0 + a.size - 1})")
    return a


def _weight_sum(s, n):
    return float(n) if s is None else float(np.cumsum(s)[-1]) if s.size else 0.0


def _check_X_chunk(X, row0):
    """The check of a chunk of X alone: nothing comes back (the chunk stays where it is)."""
    _check_design_chunk(X, row0)


def _fused(X, y, s, theta, model, n_classes, fit_intercept, kind, diagonal, n_mc, seed,
           n_threads, curvature_shape, check_row0=None):
    """(sum of s_i l_i, misclassified, sum of s_i grad_i, sum of the curvature, sum s).
    With ``check_row0`` (the chunk's first row) X is checked as the door would: the pass
    sums its squares, and only a non-finite sum looks for the entry to name."""
    X, y, s = _core_X(X), _as_core(y), _as_core(s)
    W = _weight_sum(s, X.shape[0])
    g = np.zeros(theta.size)
    C = None if curvature_shape is None else np.zeros(curvature_shape)
    if W == 0.0:
        if check_row0 is not None:
            _check_design_chunk(X, check_row0)
        return 0.0, 0, g, C, 0.0
    squares = None if check_row0 is None else np.zeros(1)
    loss, mis = _core.glm.fused_pass(model, X, y, theta, n_classes, fit_intercept, s, kind,
                                     diagonal, n_mc, seed, n_threads, g, C, squares)
    if squares is not None and not np.isfinite(squares[0]):
        _check_design_chunk(X, check_row0)  # raises the in-memory message
    g *= W
    if C is not None:
        C *= W
    return loss * W, mis, g, C, W


def _fvp(X, s, theta, v, model, n_classes, fit_intercept, n_threads):
    X, s = _core_X(X), _as_core(s)
    W = _weight_sum(s, X.shape[0])
    out = np.zeros(theta.size)
    if W == 0.0:
        return 0.0, out, 0.0
    q = _core.glm.fisher_vector_product(model, X, theta, v, n_classes, fit_intercept, s,
                                        n_threads, out)
    out *= W
    return q * W, out, W


def _gram(X, w, fit_intercept, n_threads):
    X, w = _core_X(X), _as_core(w)
    dp = X.shape[1] + fit_intercept
    A = np.zeros((dp, dp))
    W = _weight_sum(w, X.shape[0])
    if W > 0.0:
        _core.linalg.weighted_gram(X, w, fit_intercept, 1.0, n_threads, A)
    return A, W


def _scores(X, y, s, codes, theta, model, n_classes, fit_intercept, n_groups):
    """(G, p): the chunk's weighted scores summed by group, block by block as in memory
    (``scores_by_group``: a chunk's n_chunk x p is never allocated)."""
    X, y, s = _core_X(X), _as_core(y), _as_core(s)
    return scores_by_group(
        X.shape[0], theta.size,
        lambda start, stop, S: _core.glm.scores(model, X[start:stop], y[start:stop], theta,
                                                n_classes, fit_intercept, 1, S),
        s, codes, n_groups)


def _add(a, b):
    """The sum of two partial results (tuples of numbers and arrays, None for absent)."""
    if isinstance(a, tuple):
        return tuple(_add(x, y) for x, y in zip(a, b))
    return None if a is None else a + b


# ---------------------------------------------------------------- the row source (client)
class DaskRows(RowSource):
    """X (n, d), y (n,) and optional sample weights (n,) as Dask arrays with the same row
    chunks; see the module docstring. Build it with :func:`dask_rows`."""

    in_memory = False

    def __init__(self, X, y, sample_weight, weight_sum, *, fit_intercept, n_threads, persisted,
                 column_scale=None, x_checked=True):
        self.X = X
        self.n_rows, self.n_features = (int(v) for v in X.shape)
        super().__init__(y, sample_weight, fit_intercept, n_threads)
        self._weight_sum = float(weight_sum)
        self.persisted = persisted
        # An X read in place is checked by the first pass that reads it (the fused pass
        # sums its squares as it goes; the other passes check it first): no pass of its own
        self._x_checked = x_checked
        self._column_scale = column_scale
        self.row_starts = np.concatenate([[0], np.cumsum(X.chunks[0])])
        self._blocks = list(zip(X.to_delayed().ravel(), y.to_delayed().ravel(),
                                [None] * len(X.chunks[0]) if sample_weight is None
                                else sample_weight.to_delayed().ravel()))
        # The core's threads per chunk task: the scheduler runs chunks side by side.
        self._chunk_threads = 1 if len(self._blocks) > 1 else self.n_threads

    @property
    def weight_sum(self) -> float:
        return self._weight_sum

    def compute(self, value):
        dask, _ = _dask()
        return np.asarray(dask.compute(value)[0])

    def _check_X(self):
        """Check X (finite, squares summable) before a pass that does not check it."""
        if not self._x_checked:
            chunk_results(_check_X_chunk, self.X, [
                (X, int(r0)) for (X, _, _), r0 in zip(self._blocks, self.row_starts)],
                held=self.persisted)
            self._x_checked = True

    def _sum(self, fn, chunk_args, nbytes):
        """The sum of the partial results ``fn(*chunk_args[k])`` (``nbytes`` each) over the
        chunks k, in chunk order, so that the total is the same for a chunking whoever
        computed what: on the client when all of them together are small (one round
        trip; the chunks grouped by worker, :func:`chunk_results`), else in a binary tree
        on the workers (pairs in chunk order; only the total reaches the client)."""
        dask, _ = _dask()
        if len(chunk_args) * nbytes <= GATHER_BYTES:
            out = chunk_results(fn, self.X, chunk_args, held=self.persisted)
            total = out[0]
            for part in out[1:]:
                total = _add(total, part)
            return total
        task = dask.delayed(fn, pure=True)
        parts = [task(*args) for args in chunk_args]
        add = dask.delayed(_add, pure=True)
        while len(parts) > 1:
            parts = [add(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
                     for i in range(0, len(parts), 2)]
        return dask.compute(parts[0])[0]

    def fused_pass(self, model, theta, n_classes, kind="none", *, diagonal=False,
                   n_mc_samples=1, seed=0, grad_out, curvature_out=None):
        self.n_passes += 1
        th = np.array(theta)
        shape = None if curvature_out is None else curvature_out.shape
        check = not self._x_checked
        args = [(X, y, s, th, model, n_classes, self.fit_intercept, kind, bool(diagonal),
                 int(n_mc_samples), int(seed) + k, self._chunk_threads, shape,
                 int(self.row_starts[k]) if check else None)
                for k, (X, y, s) in enumerate(self._blocks)]
        loss, mis, g, C, W = self._sum(_fused, args, 8 * (theta.size + (
            0 if shape is None else int(np.prod(shape)))))
        self._x_checked = True
        grad_out[...] = g / W
        if curvature_out is not None:
            curvature_out[...] = C / W
        return loss / W, int(mis)

    def fisher_vector_product(self, model, theta, v, n_classes, out):
        self._check_X()
        self.n_passes += 1
        th, vv = np.array(theta), np.array(v)
        args = [(X, s, th, vv, model, n_classes, self.fit_intercept, self._chunk_threads)
                for X, _, s in self._blocks]
        q, Fv, W = self._sum(_fvp, args, 8 * theta.size)
        out[...] = Fv / W
        return q / W

    def gram(self, weights=None):
        _, da = _dask()
        self._check_X()
        self.n_passes += 1
        if weights is None:
            ws = [s for _, _, s in self._blocks]
        else:
            w = weights if is_dask(weights) else da.from_array(np.asarray(weights, float),
                                                                chunks=(self.X.chunks[0],))
            ws = list(w.rechunk((self.X.chunks[0],)).to_delayed().ravel())
        args = [(X, w, self.fit_intercept, self._chunk_threads)
                for (X, _, _), w in zip(self._blocks, ws)]
        dp = self.n_features + self.fit_intercept
        A, W = self._sum(_gram, args, 8 * dp * dp)
        return A / W

    def column_scale(self):
        """As ``ArrayRows.column_scale``: the root mean square of each column over the
        same evenly spaced rows (summed on the workers by the door's pass); over all rows
        (a pass) where those rows have no weight."""
        if self._column_scale is None:
            self._check_X()
            self.n_passes += 1
            X = self.X.astype(np.float64)
            sq = (X * X * self.sample_weight[:, None]).sum(axis=0)
            self._column_scale = np.sqrt(self.compute(sq) / self.weight_sum)
        return self._column_scale

    def group_scores(self, model, theta, n_classes, codes, n_groups):
        self._check_X()
        self.n_passes += 1
        th = np.array(theta)
        args = [(X, y, s, codes[a:b], th, model, n_classes, self.fit_intercept, n_groups)
                for (X, y, s), a, b in zip(self._blocks, self.row_starts[:-1],
                                           self.row_starts[1:])]
        return self._sum(_scores, args, 8 * n_groups * theta.size)

    def matmul(self, B):
        """X @ B as a Dask array (lazy: computed where it is reduced)."""
        self._check_X()
        self.n_passes += 1
        return self.X.astype(np.float64) @ B

    def curvature_weights(self, *args, **kwargs):
        raise ValueError("per-row curvature weights (the sample-space solve, "
                         "linear_solver='woodbury') need the rows in memory, not a Dask array")

    row_gram = rmatmul = curvature_weights


# ---------------------------------------------------------------- predictions
def _predict_chunk(X, row0, model, theta, K, mean):
    X = _check_design_chunk(X, row0)
    out = np.empty((X.shape[0], K))
    if mean:
        _core.glm.predict_mean(model, X, theta, K, True, 1, out)
    else:
        T = theta.reshape(-1, K)
        out[...] = X @ T[:-1] + T[-1]
    return out


def predict(X, model, theta, K, mean=True):
    """The model's mean (or, ``mean=False``, eta) at the rows of a Dask array X, as a lazy
    Dask array (n, K), chunk by chunk where X's chunks are."""
    _, da = _dask()
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}")
    check_real_dtype(X.dtype, "X")
    d = theta.size // K - 1
    if X.shape[1] != d:
        raise ValueError(f"X has {X.shape[1]} columns but the fit had {d}")
    X = X.rechunk({1: -1})
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])])

    def block(x, block_info=None):
        row0 = int(starts[block_info[0]["chunk-location"][0]])
        return _predict_chunk(x, row0, model, theta, K, mean)

    return X.map_blocks(block, dtype=np.float64, chunks=(X.chunks[0], (K,)))


def _kl_chunk(X, row0, model, theta_p, theta_q, K):
    X = _check_design_chunk(X, row0)
    return _core.glm.mean_kl(model, X, theta_p, theta_q, K, False, None, 1) * X.shape[0]


def mean_kl(X, model, theta_p, theta_q, K):
    """The mean KL over the rows of a Dask X (``ngdx.kl``), chunk by chunk."""
    dask, _ = _dask()
    X = X.rechunk({1: -1})
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])])
    task = dask.delayed(_kl_chunk, pure=True)
    parts = [task(b, int(r0), model, theta_p, theta_q, K)
             for b, r0 in zip(X.to_delayed().ravel(), starts[:-1])]
    return float(sum(dask.compute(*parts))) / X.shape[0]

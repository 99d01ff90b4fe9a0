"""The door of Dask inputs: check X, y and the sample weights where their chunks are, with
the in-memory messages, summarize the labels for the null-model start, decide where the
chunks stay (read in place, persisted once, or streamed at every pass) and build the
``DaskRows`` source (see ``dask.py``). One pass does all of it (a task per chunk, or
per worker thread on a cluster: ``chunk_results``)."""

from __future__ import annotations

import math
import os

import numpy as np

from .. import _core
from .._validation import DESIGN_DTYPES, check_real_dtype
from .dask import DaskRows, _check_design_chunk, _check_vector_chunk, is_dask
from .dask_tasks import _client, _dask, chunk_results

#: The rows the column scale is estimated from, at most (as ArrayRows.column_scale).
COLUMN_SCALE_ROWS = 65536
#: A persisted copy may take at most this share of the workers' (or machine's) memory.
PERSIST_SHARE = 0.5


#: Class labels up to this many times a chunk's rows are counted by bincount, larger ones
#: (which leave classes without rows anyway) by a sort.
_BINCOUNT_SPAN = 4


def _summarize_chunk(X, y, s, row0, family, step):
    """One chunk's part of the door: the checks of y and the weights, the summary of the
    labels (the distinct labels with their weight sums for a classifier, else
    (sum s y, sum s)), the largest weight, and the sums of s_i x_ij^2 and of s_i over the
    chunk's rows whose global index is a multiple of ``step`` (the column scale's
    sample; X itself is checked where it is read, see ``dask_rows``)."""
    y = _check_vector_chunk(y, row0, "y")
    if s is not None:
        s = _check_vector_chunk(s, row0, "sample_weight")
        if (s < 0).any():
            raise ValueError("sample_weight must be non-negative")
    if family.multi_output:  # the classes are counted on the client, from every chunk's
        family.check_integer_labels(y)
    else:
        family.check_labels(y, 1)
    w = np.ones_like(y) if s is None else s
    top = float(w.max()) if w.size else 0.0
    if not family.classifier:
        labels, sums = np.array([_core.linalg.dot(w, y)]), np.array([float(w.sum())])
    elif not family.multi_output:  # 0 or 1 (checked above): a count and a dot, no bincount
        ones, weight, n_ones = _core.linalg.dot(w, y), float(w.sum()), np.count_nonzero(y)
        present = np.array([n_ones < y.size, n_ones > 0])
        labels, sums = np.array([0.0, 1.0])[present], np.array([weight - ones, ones])[present]
    elif y.size and y.max() < _BINCOUNT_SPAN * y.size + 2:  # integers >= 0: checked above
        codes = y.astype(np.intp)
        labels = np.flatnonzero(np.bincount(codes)).astype(np.float64)
        sums = np.bincount(codes, weights=w)[labels.astype(np.intp)]
    else:
        labels, inverse = np.unique(y, return_inverse=True)
        sums = np.bincount(inverse, weights=w, minlength=labels.size)
    first = (-row0) % step
    Xs = np.asarray(X[first::step], dtype=np.float64)
    ws = np.ones(Xs.shape[0]) if s is None else s[first::step]
    return labels, sums, top, np.einsum("i,ij,ij->j", ws, Xs, Xs), float(ws.sum())


def _memory_for_persist():
    """Bytes a persisted copy may take: PERSIST_SHARE of the workers' memory limits under a
    distributed client, of the machine's memory otherwise."""
    client = _client()
    if client is not None:
        limits = [w.get("memory_limit") or 0 for w in
                  client.scheduler_info()["workers"].values()]
        if limits and all(limits):
            return PERSIST_SHARE * sum(limits)
    try:
        return PERSIST_SHARE * os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return PERSIST_SHARE * 4 * 2**30


def _in_place(a, dask):
    """Whether a Dask array's chunks are already where the passes run: computed values
    (persisted), futures under a distributed client (arrays in the graph would be shipped
    to the workers at every pass)."""
    graph = dict(a.__dask_graph__())
    if len(graph) != a.npartitions:
        return False
    values = graph.values()
    if _client() is not None:
        from distributed import Future

        return all(isinstance(v, Future) for v in values)
    return all(isinstance(v, np.ndarray) for v in values)


def _rows_like(a, X, name, da):
    """A 1-D array as a Dask array with X's row chunks."""
    if not is_dask(a):
        arr = np.asarray(a)
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
        if arr.shape[0] != X.shape[0]:
            raise ValueError(f"{name} has {arr.shape[0]} entries but X has {X.shape[0]} rows")
        a = da.from_array(arr, chunks=(X.chunks[0],))
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if math.isnan(a.shape[0]):
        raise ValueError(f"{name} has unknown chunk sizes: call {name}.compute_chunk_sizes() "
                         "first")
    if a.shape[0] != X.shape[0]:
        raise ValueError(f"{name} has {a.shape[0]} entries but X has {X.shape[0]} rows")
    return a.rechunk((X.chunks[0],))


def _with_row0(fn, a, *args, dtype, **kw):
    """a.map_blocks(fn) with each block's first global row passed to fn."""
    starts = np.concatenate([[0], np.cumsum(a.chunks[0])])

    def block(x, block_info=None):
        return fn(x, int(starts[block_info[0]["chunk-location"][0]]), *args, **kw)

    return a.map_blocks(block, dtype=dtype)


def dask_rows(X, y, sample_weight, family, *, coef_init, n_classes, fit_intercept, n_threads):
    """Check Dask inputs and build their row source: ``(rows, K, labels, weights)`` where
    ``labels`` and ``weights`` summarize y for the null-model start (the distinct labels
    and their weight sums for a classifier, one pseudo-row of the weighted mean else)."""
    dask, da = _dask()
    if not is_dask(X):
        X = da.from_array(np.asarray(X))
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}")
    check_real_dtype(X.dtype, "X")
    if any(math.isnan(c) for c in X.shape):
        raise ValueError("X has unknown chunk sizes: call X.compute_chunk_sizes() first")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must have at least one row and one column, got shape {X.shape}")
    if X.numblocks[1] != 1:
        raise ValueError(
            f"X is chunked across its columns ({X.numblocks[1]} column chunks of "
            f"{X.chunks[1]}): ngdx's passes read whole rows; rechunk it by rows only, "
            "X = X.rechunk({1: -1}) (or chunks=(rows_per_chunk, -1) where it is created)")
    y = _rows_like(y, X, "y", da)
    sw = None if sample_weight is None else _rows_like(sample_weight, X, "sample_weight", da)
    # X already where the passes run, in the core's dtype: read as it is, and checked by
    # the first pass that reads it (DaskRows: a fused pass sums its squares as it goes).
    # Else checked (and converted) as it is read: once into the persisted
    # copy when X, y and the weights fit in half the memory, at every pass when streamed.
    ready = _in_place(X, dask) and X.dtype in DESIGN_DTYPES
    persisted = ready or (X.nbytes + y.nbytes + (0 if sw is None else sw.nbytes)
                          <= _memory_for_persist())
    if not ready:
        dtype = X.dtype if X.dtype in DESIGN_DTYPES else np.dtype(np.float64)
        X = _with_row0(_check_design_chunk, X, dtype=dtype)
        if persisted:
            X, y, sw = dask.persist(X, y, sw)

    # one pass: the checks of y and the weights, the labels' summary, the column scale's sample (the rows ArrayRows.column_scale reads)
    n = X.shape[0]
    step = max(1, -(-n // COLUMN_SCALE_ROWS))
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])])
    ws = [None] * len(X.chunks[0]) if sw is None else list(sw.to_delayed().ravel())
    parts = chunk_results(_summarize_chunk, X, [
        (xb, yb, wb, int(r0), family, step) for xb, yb, wb, r0 in
        zip(X.to_delayed().ravel(), y.to_delayed().ravel(), ws, starts[:-1])], held=persisted)
    top = max(p[2] for p in parts)
    if sw is not None and not top > 0:
        raise ValueError("sample_weight must have a positive sum")
    if family.classifier:
        labels = np.unique(np.concatenate([p[0] for p in parts]))
        weights = np.zeros(labels.size)
        for p in parts:
            weights[np.searchsorted(labels, p[0])] += p[1]
    else:
        total = sum(p[1][0] for p in parts)
        labels = np.array([sum(p[0][0] for p in parts) / total]) if total > 0 else np.zeros(1)
        weights = np.array([total])
    K = (family.n_classes(labels, coef_init, n_classes, distinct=True) if family.multi_output
         else 1)
    if family.multi_output:
        family.check_labels(labels, K)
    W = float(weights.sum())
    if sw is not None and (not np.isfinite(W) or top < 1e-150):
        sw, weights, W = sw / top, weights / top, W / top  # only their ratios matter
    sampled = sum(p[4] for p in parts)
    scale = (np.sqrt(sum(p[3] for p in parts) / sampled) if sampled > 0 else None)
    rows = DaskRows(X, y, sw, W, fit_intercept=fit_intercept, n_threads=n_threads,
                    persisted=persisted, column_scale=scale, x_checked=not ready)
    return rows, K, labels, weights
